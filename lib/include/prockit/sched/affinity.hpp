// prockit/sched/affinity.hpp — get and set the CPU affinity of a thread, a process, or every thread
// of a process, racing correctly with thread creation.
#pragma once

#include <prockit/sched/cpuset.hpp>
#include <prockit/sys/fsroot.hpp>
#include <prockit/sys/result.hpp>

#include <functional>
#include <sys/types.h>
#include <vector>

namespace prockit {

/// The affinity of thread `tid` (0 = the calling thread; a PID names the process's main thread).
/// Works for any CPU count: the buffer grows until the kernel accepts it.
Result<CpuSet> get_affinity(pid_t tid);
/// Sets the affinity of thread `tid` (0 = the calling thread). EINVAL when the set holds no
/// usable CPU or the thread refuses changes (PF_NO_SETAFFINITY kernel threads).
Status set_affinity(pid_t tid, const CpuSet& cpus);

/// One thread that could not be changed.
struct TaskFailure {
    pid_t tid = 0;
    Error error;
};

/// The outcome of changing every thread of a process.
struct ThreadsResult {
    std::vector<pid_t> changed;        ///< threads set, ascending
    std::vector<TaskFailure> failed;   ///< threads that refused (never silently dropped), ascending
    std::size_t exited = 0;            ///< threads that exited before they could be set
    unsigned passes = 0;               ///< listings of /proc/PID/task it took
    bool ok() const { return failed.empty(); }
};

/// The mask to give one thread: called once per thread, in ascending TID order within a pass.
using MaskForThread = std::function<CpuSet(pid_t tid)>;

/// Sets every thread of process `pid`. Lists /proc/PID/task, sets each thread not yet set, and
/// looks again until a pass finds no new thread: a thread created after its creator was set
/// inherits the new mask, and one created before shows up in the next pass. The confirming passes
/// are cheap on a quiet machine: TIDs are allocated in increasing order, so when the namespace's
/// last allocated PID (/proc/sys/kernel/ns_last_pid) moved by at most 64 since the previous pass
/// began, only those TIDs are probed; otherwise the threads are listed again. (Like any userspace
/// walk, a thread still inside clone() for longer than a whole pass could be missed; --follow
/// closes that gap.) ESRCH when the process is gone (before or during the change); per-thread
/// failures are in the result.
///
/// The kernel's listing of /proc/PID/task is not reliable while threads exit: a listing read in
/// several chunks resumes by position when the thread it stopped at has exited, and a thread that
/// exits as it is listed ends the listing early, so other threads can be missed. So each listing
/// is checked: if the thread count grew by exactly the number of PIDs handed out meanwhile, no
/// thread exited. A listing that fails the check is followed by another, read at once (up to three
/// more). The check can be fooled only by a thread inside clone() (its PID taken before the check
/// began) joining as another exits; and after three failed checks, a listing that finds nothing
/// new ends the walk. Both are the same gap as above, and --follow closes it.
///
/// With one mask for every thread, the first listing is read in chunks and each chunk is set as
/// it comes; the check above tells whether it was whole.
Result<ThreadsResult> set_affinity_all_threads(pid_t pid, const CpuSet& cpus, const FsRoot& fs = FsRoot::system());
Result<ThreadsResult> set_affinity_all_threads(pid_t pid, const MaskForThread& mask_for,
                                               const FsRoot& fs = FsRoot::system());

/// One thread's affinity.
struct TaskAffinity {
    pid_t tid = 0;
    CpuSet cpus;
};

/// The affinity of every thread of process `pid` (threads that exit while listed are skipped).
Result<std::vector<TaskAffinity>> get_affinity_all_threads(pid_t pid, const FsRoot& fs = FsRoot::system());

}  // namespace prockit
