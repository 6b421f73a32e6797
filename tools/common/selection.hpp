// tools/common/selection.hpp — a process selection as paffinity and poomguard run it: compiled,
// scanned, and what it did not find reported the same way by both tools.
#pragma once

#include <prockit/proc/select.hpp>
#include <prockit/sys/fsroot.hpp>

#include <vector>

namespace prockit::tools {

/// The processes `s` selects, in PID order. Unless `allow_none`, each requested PID that does not
/// exist and an empty selection are reported on stderr and set `failed`. A malformed --match
/// regex throws UsageError (`cannot parse --match "PAT": reason`); other errors SystemError.
std::vector<proc::ProcessRef> select_processes(const proc::Selector& s, bool allow_none, const FsRoot& fs,
                                               bool& failed);

}  // namespace prockit::tools
