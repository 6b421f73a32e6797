#include "rules_files.hpp"

#include "common/cli.hpp"

namespace prockit::poomguard {

LoadedRules load_rules_files(const std::vector<std::string>& files, const FsRoot& fs) {
    LoadedRules l;
    l.files = files.empty() ? oom::default_rule_files(fs) : files;
    if (l.files.empty()) {
        l.diagnostics.push_back(oom::Diagnostic{fs.root() + "/etc/poomguard.conf", 0, 0,
                                                "cannot read: no rules files (nor " + fs.root() +
                                                    "/etc/poomguard.d/*.conf)"});
        return l;
    }
    l.rules.load(l.files, l.diagnostics);
    return l;
}

void warn_diagnostics(const std::vector<oom::Diagnostic>& diags) {
    for (const oom::Diagnostic& d : diags) tools::print_warning(d.text());
}

}  // namespace prockit::poomguard
