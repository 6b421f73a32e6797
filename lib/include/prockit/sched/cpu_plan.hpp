// prockit/sched/cpu_plan.hpp — a requested CPU set checked against what a process may use (the
// online CPUs and its cgroup cpuset), with the reason for every CPU left out; and, after a mask
// was set, what the kernel kept of it.
#pragma once

#include <prockit/sched/cgroup_cpuset.hpp>
#include <prockit/sched/cpuset.hpp>
#include <prockit/sys/fsroot.hpp>
#include <prockit/sys/result.hpp>

#include <string>
#include <sys/types.h>

namespace prockit {

/// What a request comes to for one process.
struct CpuPlan {
    CpuSet mask;       ///< the CPUs to set: requested, online, and in the cpuset when it restricts
    CpuSet dropped;    ///< the requested CPUs left out (empty for an implicit request)
    std::string why;   ///< "4 offline, 6-7 outside the cgroup cpuset (v1 /batch: 0-3)", or ""
};

/// Clips `requested` to the `online` CPUs and, when it restricts, to `cgroup`'s effective CPUs.
/// An explicit request (CPUs the user named) reports what it drops and why; an implicit one
/// (every CPU) drops silently. Errc::out_of_range when no CPU is left, with the context
/// "set affinity of <target>: none of CPUs <requested> is usable (online <online>; <cpuset>)".
Result<CpuPlan> plan_cpus(const CpuSet& requested, bool explicit_request, const CpuSet& online,
                          const CgroupCpuset& cgroup, const std::string& target);

/// "cgroup cpuset (v1 /batch: 0-3)", or "cgroup cpuset" when it does not restrict.
std::string describe(const CgroupCpuset& cgroup);

/// What the kernel kept of a mask asked for a thread.
struct KeptCpus {
    CpuSet kept;       ///< the asked CPUs the thread's mask holds now
    CpuSet dropped;    ///< the asked CPUs it does not hold
    std::string why;   ///< "6-7 outside the cgroup cpuset (...)", or why else; "" when none dropped
};

/// Explains `now`, a thread's mask read after it was set to `asked`. When nothing of `asked` is
/// left, the mask was changed by someone else meanwhile (or the thread exited): nothing is said
/// (kept = asked). Dropped CPUs are put down to the cpuset when `cgroup` restricts and holds none of
/// them, else to the kernel ("not kept by the kernel (the mask is now 0-1)").
KeptCpus explain_kept(const CpuSet& asked, const CpuSet& now, const CgroupCpuset& cgroup);

/// Reads the mask of thread `tid` (0 = the calling thread) after it was set to `asked`, and
/// explains it with explain_kept(). The cgroup files are read only when the kernel dropped
/// something (they cost more than the rest of a change together); a thread that is gone keeps
/// everything, as far as this can tell.
KeptCpus read_kept(pid_t tid, const CpuSet& asked, const FsRoot& fs = FsRoot::system());

}  // namespace prockit
