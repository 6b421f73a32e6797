// prockit/proc/cgroup.hpp — which cgroups a process is in (/proc/PID/cgroup) and where the cgroup
// hierarchies are mounted (/proc/self/mountinfo), for cgroup v1 and v2 alike, through FsRoot.
#pragma once

#include <prockit/sys/fsroot.hpp>
#include <prockit/sys/result.hpp>

#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace prockit::proc {

/// One line of /proc/PID/cgroup: "hierarchy-id:controllers:path".
struct CgroupEntry {
    int hierarchy = 0;                    ///< 0 for the v2 unified hierarchy
    std::vector<std::string> controllers; ///< v1: "cpuset", "name=systemd", ...; v2: empty
    std::string path;                     ///< "/", "/system.slice/foo.service"
    bool is_v2() const { return hierarchy == 0 && controllers.empty(); }
    bool has(std::string_view controller) const;
};

/// One mounted cgroup hierarchy (from mountinfo).
struct CgroupMount {
    int version = 1;                      ///< 1 (fstype cgroup) or 2 (cgroup2)
    std::vector<std::string> controllers; ///< v1: from the super options; v2: empty
    std::string root;                     ///< the mount's root within the hierarchy ("/")
    std::string mountpoint;               ///< "/sys/fs/cgroup/cpuset" (as the kernel shows it)
    bool has(std::string_view controller) const;
};

/// Parses /proc/PID/cgroup (pid 0 = self).
Result<std::vector<CgroupEntry>> read_cgroups(pid_t pid, const FsRoot& fs = FsRoot::system());
/// Parses the text of a /proc/PID/cgroup file.
std::vector<CgroupEntry> parse_cgroups(std::string_view text);
/// The cgroup mounts of this process's mount namespace (/proc/self/mountinfo).
Result<std::vector<CgroupMount>> read_cgroup_mounts(const FsRoot& fs = FsRoot::system());
/// Parses the text of a mountinfo file, keeping cgroup and cgroup2 mounts.
std::vector<CgroupMount> parse_cgroup_mounts(std::string_view text);

/// The directory (under the FsRoot) of cgroup `path` in `mount`, or "" when the mount does not
/// show that cgroup (its root is not an ancestor of `path`).
std::string cgroup_dir(const CgroupMount& mount, const std::string& path, const FsRoot& fs = FsRoot::system());

}  // namespace prockit::proc
