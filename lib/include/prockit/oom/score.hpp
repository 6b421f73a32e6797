// prockit/oom/score.hpp — a process's OOM-killer standing: reading oom_score and oom_score_adj,
// setting oom_score_adj on a pinned process (a recycled PID is never written to), and the
// descendants of a process (for applying a different value to children).
//
//   auto sel = prockit::proc::select_processes(selector).value();
//   for (auto& p : sel.processes) prockit::oom::set_oom_score_adj(p, -500).value();
#pragma once

#include <prockit/proc/select.hpp>
#include <prockit/sys/fsroot.hpp>
#include <prockit/sys/result.hpp>

#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace prockit::oom {

inline constexpr int adj_min = -1000;  ///< OOM_SCORE_ADJ_MIN: never killed
inline constexpr int adj_max = 1000;   ///< OOM_SCORE_ADJ_MAX: killed first

/// Parses an oom_score_adj value ("-1000" to "1000", an optional sign). Errc::parse_error for text
/// that is not a number, Errc::out_of_range outside -1000..1000; the context names the text.
Result<int> parse_adj(std::string_view text);

/// /proc/PID/oom_score (0..2000 on current kernels). ENOENT/ESRCH when the process is gone.
Result<int> read_oom_score(pid_t pid, const FsRoot& fs = FsRoot::system());
/// /proc/PID/oom_score_adj.
Result<int> read_oom_score_adj(pid_t pid, const FsRoot& fs = FsRoot::system());

/// Sets /proc/PID/oom_score_adj of `ref` to `adj`. The process is pinned first (pidfd and start
/// time, proc::PinnedProcess), its /proc directory opened, and the pidfd checked again before the
/// file is opened through that directory: when the process exited in between, nothing is written
/// and the error is ESRCH. Errors:
///  * Errc::out_of_range for `adj` outside -1000..1000 (nothing is touched);
///  * ESRCH when the process is gone or the PID now names another process;
///  * EACCES when the file cannot be opened (another user's process);
///  * EACCES on the write: the kernel refused a value below the process's minimum (the lowest value
///    a privileged writer set, 0 for most processes) because the caller lacks CAP_SYS_RESOURCE.
/// The last two carry the explanation in the context after ": " ("set oom_score_adj of pid 42 to
/// -500: lowering it below its minimum needs CAP_SYS_RESOURCE (run as root, ...)"), so a tool
/// prints "cannot " + context; the code stays the errno for callers that test it.
Result<void> set_oom_score_adj(const proc::ProcessRef& ref, int adj, const FsRoot& fs = FsRoot::system());

/// Sets the calling process's own oom_score_adj (what `choom -n ADJ -- CMD` does before exec).
/// The same errors as set_oom_score_adj().
Result<void> set_own_oom_score_adj(int adj, const FsRoot& fs = FsRoot::system());

/// Whether the calling process has CAP_SYS_RESOURCE in its effective set (libcap).
bool has_cap_sys_resource();

/// The fix for a refused lowering, as set_oom_score_adj() words it after the context.
std::string cap_sys_resource_hint();

/// The live descendants of `pid` (children, grandchildren, ...), found from the parent PIDs in one
/// /proc scan, breadth first (children before grandchildren), each with its start time so that it
/// can be pinned. An empty list when the process has none or is gone.
Result<std::vector<proc::ProcessRef>> descendants_of(pid_t pid, const FsRoot& fs = FsRoot::system());
/// The live descendants of any of `roots`, in one /proc scan; a root that descends from another
/// root is listed as that root's descendant, the roots themselves are not listed otherwise.
Result<std::vector<proc::ProcessRef>> descendants_of(const std::vector<pid_t>& roots,
                                                     const FsRoot& fs = FsRoot::system());
/// Only the direct children.
Result<std::vector<proc::ProcessRef>> children_of(pid_t pid, const FsRoot& fs = FsRoot::system());

}  // namespace prockit::oom
