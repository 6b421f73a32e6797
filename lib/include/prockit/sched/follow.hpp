// prockit/sched/follow.hpp — keep applying an affinity to the new threads and child processes of
// a set of processes as they appear: from netlink proc-connector events when the caller may
// subscribe (root), by polling /proc otherwise.
#pragma once

#include <prockit/proc/select.hpp>
#include <prockit/sched/cpuset.hpp>
#include <prockit/sys/fsroot.hpp>
#include <prockit/sys/result.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <sys/types.h>
#include <vector>

namespace prockit {

struct FollowOptions {
    enum class Method { automatic, netlink, poll };
    Method method = Method::automatic;              ///< automatic: netlink, else poll
    std::chrono::milliseconds poll_interval{100};   ///< poll: how often /proc is rescanned
    bool children = true;                           ///< also follow new child processes
};

/// What the follower did, reported as it happens.
struct FollowEvent {
    enum class Kind {
        thread,   ///< a new thread of a followed process was set
        child,    ///< a new child process was set and is now followed
        failed,   ///< a thread or child could not be set (error says why)
        exited,   ///< a followed process exited and is no longer followed
    };
    Kind kind = Kind::thread;
    pid_t pid = 0;   ///< the process
    pid_t tid = 0;   ///< the thread (thread, failed)
    CpuSet cpus;     ///< the mask the thread has after the change (thread, child): the kernel
                     ///< keeps only the CPUs of the requested mask that its cgroup cpuset allows
    Error error;     ///< failed
};

class AffinityFollower {
public:
    /// The mask for thread `tid`; `pid` is the followed process given to add() that the thread's
    /// process is (or descends from), so a child process gets its ancestor's mask.
    using MaskFor = std::function<CpuSet(pid_t pid, pid_t tid)>;
    using Report = std::function<void(const FollowEvent&)>;

    AffinityFollower(MaskFor mask_for, Report report, FollowOptions opts = {}, const FsRoot& fs = FsRoot::system());
    ~AffinityFollower();
    AffinityFollower(const AffinityFollower&) = delete;
    AffinityFollower& operator=(const AffinityFollower&) = delete;

    /// Chooses the method and, for netlink, subscribes. Call before setting the initial masks so
    /// that no thread created in between is missed. Fails only when netlink was demanded.
    Status start();
    /// "netlink" or "poll" (after start()).
    const char* method() const;

    /// Follows a process whose threads `handled` were already set (they are not set again).
    void add(const proc::ProcessRef& ref, std::vector<pid_t> handled);
    /// Number of processes followed.
    std::size_t size() const;

    /// Runs until `stop_fd` becomes readable (e.g. a signalfd for SIGINT/SIGTERM) or no followed
    /// process is left. Starts with a rescan of every followed process. The library installs no
    /// signal handler; the caller provides the stop fd (-1: none).
    Status run(int stop_fd);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace prockit
