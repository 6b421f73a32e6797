// prockit/sched/cgroup_cpuset.hpp — the CPUs a process's cgroup cpuset lets it use, for cgroup v1
// (the cpuset controller's hierarchy, cpuset.effective_cpus) and v2 (cpuset.cpus.effective of the
// nearest cgroup on the path to the root that has it).
#pragma once

#include <prockit/sched/cpuset.hpp>
#include <prockit/sys/fsroot.hpp>
#include <prockit/sys/result.hpp>

#include <string>
#include <sys/types.h>

namespace prockit {

struct CgroupCpuset {
    int version = 0;       ///< 1 or 2; 0 when no cpuset controller applies (unrestricted)
    std::string cgroup;    ///< the process's cgroup path in that hierarchy
    std::string file;      ///< the file the effective CPUs were read from ("" when version 0)
    CpuSet effective;      ///< the effective CPUs (meaningless when version 0)

    bool restricted() const { return version != 0; }
};

/// The cgroup cpuset of process `pid` (0 = the calling process). A v1 cpuset hierarchy wins over
/// v2 when both are mounted (the controller can only be bound to one of them).
Result<CgroupCpuset> cgroup_cpuset(pid_t pid, const FsRoot& fs = FsRoot::system());

}  // namespace prockit
