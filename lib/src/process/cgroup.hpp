// lib/src/process/cgroup.hpp — the few cgroup v2 operations the process core needs to end a tree.
#pragma once

#include <prockit/sys/result.hpp>

#include <string>
#include <sys/types.h>
#include <vector>

namespace prockit::detail {

/// The directory of the calling process's cgroup in the v2 hierarchy ("" when there is none):
/// the cgroup2 mount point (from /proc/self/mountinfo) joined with the "0::" line of
/// /proc/self/cgroup. Works for /sys/fs/cgroup (unified) and /sys/fs/cgroup/unified (hybrid).
Result<std::string> own_cgroup_v2_dir();
/// Creates a new, uniquely named cgroup under `parent` (default: own_cgroup_v2_dir()).
Result<std::string> make_child_cgroup(const std::string& parent);
/// Removes a cgroup directory (must be empty of processes); errors are ignored.
void remove_cgroup(const std::string& dir) noexcept;
/// The PIDs listed in <dir>/cgroup.procs.
Result<std::vector<pid_t>> cgroup_pids(const std::string& dir);
/// Writes "1" to <dir>/cgroup.kill (kernel 5.14+).
Status cgroup_kill(const std::string& dir);
/// Whether <dir>/cgroup.events says "populated 1".
Result<bool> cgroup_populated(const std::string& dir);

}  // namespace prockit::detail
