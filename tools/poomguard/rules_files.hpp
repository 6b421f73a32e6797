// tools/poomguard/rules_files.hpp — reading the rules files for watch, audit and check-config:
// the files given (--config / FILE...) or the default ones, and their diagnostics.
#pragma once

#include <prockit/oom/rules.hpp>
#include <prockit/sys/fsroot.hpp>

#include <string>
#include <vector>

namespace prockit::poomguard {

struct LoadedRules {
    oom::RuleSet rules;
    std::vector<std::string> files;  ///< what was read
    std::vector<oom::Diagnostic> diagnostics;
};

/// Reads `files`, or the default files when none is given; no default file at all is one
/// diagnostic ("/etc/poomguard.conf: cannot read: no rules files (... )").
LoadedRules load_rules_files(const std::vector<std::string>& files, const FsRoot& fs);

/// Prints diagnostics on stderr as warnings ("poomguard: FILE:LINE:COL: MESSAGE").
void warn_diagnostics(const std::vector<oom::Diagnostic>& diags);

}  // namespace prockit::poomguard
