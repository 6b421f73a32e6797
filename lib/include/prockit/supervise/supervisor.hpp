// prockit/supervise/supervisor.hpp — runs commands as jobs on an EventLoop: watches their
// pidfds, reaps them (status + resource usage), enforces per-job deadlines by ending the job's
// whole tree with a TERM→KILL sequence, and reaps adopted orphans on request without taking the
// statuses of its own jobs. What to start, when to retry or restart and when to halt stay with
// the client (see restart_policy.hpp, halt_policy.hpp): the supervisor reports, the client decides.
#pragma once

#include <prockit/process/child.hpp>
#include <prockit/process/command.hpp>
#include <prockit/supervise/event_loop.hpp>
#include <prockit/supervise/term_sequence.hpp>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace prockit {

class Supervisor {
public:
    using Clock = EventLoop::Clock;
    using JobId = std::uint64_t;

    struct JobOptions {
        /// Ended (term sequence) this long after the start; timed_out is then reported.
        std::optional<std::chrono::nanoseconds> timeout;
        /// The job's tree is this cgroup directory (signalled through it, even after the job
        /// was reaped) instead of the Child's own tree scope.
        std::string tree_cgroup;
    };

    /// A job ended and was reaped.
    struct Exit {
        JobId id;
        ExitStatus status;  ///< with usage() (CPU time, peak RSS)
        bool timed_out;
        bool stopped;       ///< stop()/stop_all() had begun to end it
        Clock::time_point started, ended;
        Child child;        ///< reaped; pipes the client did not take are still here
    };

    struct Handlers {
        std::function<void(Exit&)> on_exit;
        std::function<void(JobId)> on_timeout;  ///< before the term sequence begins
    };

    /// `term` is how jobs are ended (deadline, stop()); it must end with a KILL or a wait long
    /// enough for the client. The loop must outlive the supervisor.
    Supervisor(EventLoop& loop, TermSequence term, Handlers h);
    Supervisor(const Supervisor&) = delete;
    Supervisor& operator=(const Supervisor&) = delete;
    /// Jobs still running are killed with their trees and reaped (DestroyPolicy::kill_tree).
    ~Supervisor();

    /// Spawns `cmd` and watches it. The Child's pipes can be taken with child(id) at once.
    Result<JobId, SpawnFailure> start(const Command& cmd, const JobOptions& opts = {});

    /// The running job's process (nullptr once it ended).
    Child* child(JobId id);
    std::size_t running() const noexcept { return jobs_.size(); }
    bool is_running(JobId id) const { return jobs_.count(id) != 0; }

    /// Begins the term sequence for the job (now: KILL its tree at once). Idempotent.
    void stop(JobId id, bool now = false);
    void stop_all(bool now = false);
    /// Sends `sig` to the job's whole tree now.
    Status signal(JobId id, int sig);

    /// To call when SIGCHLD arrives in a subreaper: reaps every ended child of this process that
    /// is not one of the jobs (orphans re-parented to us) and reports it to `cb` (may be empty).
    /// An ended job met on the way is finished through on_exit as usual. Returns how many
    /// orphans were reaped.
    std::size_t reap_orphans(const std::function<void(pid_t, ExitStatus)>& cb = {});

private:
    struct Job {
        Child child;
        JobOptions opts;
        Clock::time_point started;
        EventLoop::Id watch = 0;
        EventLoop::Id timer = 0;  // the deadline or the next term step
        bool terminating = false;
        bool timed_out = false;
        std::size_t step = 0;
        /// Descendants that left the job's process group (setsid), held by pidfd from the
        /// first step of its end, so that they are signalled even once orphaned away.
        std::vector<std::pair<pid_t, unique_fd>> strays;
    };
    void finish(JobId id);
    void advance(JobId id);
    void signal_tree(Job& j, int sig);

    EventLoop& loop_;
    TermSequence term_;
    Handlers h_;
    JobId next_ = 1;
    std::map<JobId, Job> jobs_;
};

}  // namespace prockit
