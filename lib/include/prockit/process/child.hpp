// prockit/process/child.hpp — a handle to a running child process: its PID and a pidfd.
//
// Every operation goes through the pidfd, so a PID the kernel recycled after the child was reaped
// is never signalled. Waiting polls the pidfd (ppoll with the remaining time) and reaps with
// waitid(P_PIDFD) — the raw system call, which also returns the resource usage: no waitpid(-1), no SIGCHLD handler, no sleeps, no threads, no change to
// process-wide signal state. A Child is not thread-safe (like std::thread): use it from one thread
// at a time.
//
// Destroying a Child whose process still runs follows its DestroyPolicy (default: terminate the
// whole tree — TERM, then KILL after the grace period — and reap). detach() lets it run on.
#pragma once

#include <prockit/process/exit_status.hpp>
#include <prockit/sys/result.hpp>
#include <prockit/sys/unique_fd.hpp>

#include <chrono>
#include <optional>
#include <vector>
#include <string>

#include <sys/types.h>

namespace prockit {

using Duration = std::chrono::nanoseconds;

/// What the destructor of a Child (or of a Process) does with a process that is still running.
enum class DestroyPolicy {
    terminate_tree,  ///< TERM the tree, KILL it after the grace period, reap (the default)
    kill_tree,       ///< KILL the tree at once and reap
    wait,            ///< wait for it to end by itself
    detach,          ///< let it run on; it is no longer ours to reap
};

/// How a child's tree of descendants can be found, decided when it was spawned.
enum class TreeScope {
    descendants,    ///< walk /proc for the child's descendants (the fallback)
    process_group,  ///< the child leads its own process group (or session)
    cgroup,         ///< the child was placed in its own cgroup v2 group (cgroup.kill)
};

class Child {
public:
    Child() = default;
    /// Adopts a process by PID: opens a pidfd for it. The process must be our child to be waited for.
    static Result<Child> adopt(pid_t pid);

    Child(Child&&) noexcept;
    Child& operator=(Child&&) noexcept;
    ~Child();

    pid_t pid() const noexcept { return pid_; }
    int pidfd() const noexcept { return pidfd_.get(); }
    bool valid() const noexcept { return static_cast<bool>(pidfd_); }
    /// The status once reaped (with its resource usage: ExitStatus::usage()).
    const std::optional<ExitStatus>& status() const noexcept { return status_; }
    /// The CPU time and peak RSS of the process (and of the descendants it reaped), once reaped.
    std::optional<ResourceUsage> usage() const {
        return status_ ? status_->usage() : std::nullopt;
    }

    /// Waits for the process to end and reaps it. Idempotent: later calls return the same status.
    Result<ExitStatus> wait();
    /// Waits at most `timeout`; an empty optional means it is still running.
    Result<std::optional<ExitStatus>> wait_for(Duration timeout);
    /// Reaps the process if it has ended, without blocking.
    Result<std::optional<ExitStatus>> try_wait();
    /// Waits for any state change — end, stop or continue — as a job-control shell does
    /// (WSTOPPED | WCONTINUED); an end is reaped. A pidfd becomes readable only when its process
    /// ends, so there is no timed form: stops are seen by this call or by try_wait_state().
    Result<ExitStatus> wait_state();
    /// Reports a pending state change (end, stop, continue) without blocking.
    Result<std::optional<ExitStatus>> try_wait_state();

    /// Sends `sig` through the pidfd. Succeeds silently once the process has been reaped.
    Status send_signal(int sig);
    Status terminate() { return send_signal(SIGTERM); }
    Status kill() { return send_signal(SIGKILL); }

    /// Ends the child and every descendant: SIGTERM to all, SIGKILL to whatever is left after
    /// `grace`, then reaps the child. Uses cgroup.kill when the child has its own cgroup, the
    /// process group when it leads one, and a /proc walk of its descendants otherwise.
    Result<ExitStatus> terminate_tree(Duration grace = std::chrono::seconds(5));

    /// Sends `sig` to the child and every descendant now, without waiting (what terminate_tree()
    /// does first): by cgroup (cgroup.kill for SIGKILL), by process group, or to each descendant
    /// held by pidfd. After the child was reaped only a cgroup scope can still be reached.
    Status signal_tree(int sig);

    /// Stops managing the process: it runs on, and this handle becomes empty.
    void detach() noexcept;

    // Pipes the parent holds when stdin/stdout/stderr were Stdio::pipe() (empty otherwise).
    unique_fd& stdin_pipe() noexcept { return stdin_; }
    unique_fd& stdout_pipe() noexcept { return stdout_; }
    unique_fd& stderr_pipe() noexcept { return stderr_; }

    TreeScope tree_scope() const noexcept { return scope_; }
    /// The cgroup directory the child was placed in (empty unless tree_scope() is cgroup).
    const std::string& cgroup() const noexcept { return cgroup_; }

    void set_destroy_policy(DestroyPolicy p, Duration grace = std::chrono::seconds(5)) noexcept {
        policy_ = p;
        grace_ = grace;
    }

private:
    friend class Command;
    friend class Process;
    Child(pid_t pid, unique_fd pidfd) : pid_(pid), pidfd_(std::move(pidfd)) {}
    Result<std::optional<ExitStatus>> reap(int options);
    Result<ExitStatus> end_tree(Duration grace, bool term_first);
    std::vector<pid_t> tree_members() const;
    void cleanup_cgroup() noexcept;
    void on_destroy() noexcept;

    pid_t pid_ = -1;
    unique_fd pidfd_;
    std::optional<ExitStatus> status_;
    unique_fd stdin_, stdout_, stderr_;
    TreeScope scope_ = TreeScope::descendants;
    std::string cgroup_;
    bool own_cgroup_ = false;  // created by spawn: removed once the tree is gone
    DestroyPolicy policy_ = DestroyPolicy::terminate_tree;
    Duration grace_ = std::chrono::seconds(5);
};

/// Makes the calling process a child subreaper (PR_SET_CHILD_SUBREAPER): orphaned descendants are
/// re-parented to it instead of to init, so descendants that double-fork can still be found and
/// reaped. Process-wide state: prockit only changes it when asked, here.
Status set_child_subreaper(bool on = true);

/// Sends `sig` to every process in the cgroup directory `dir`: cgroup.kill for SIGKILL where the
/// kernel has it, otherwise each member through a pidfd.
Status signal_cgroup(const std::string& dir, int sig);

/// The PIDs of `pid`'s living descendants, found by walking /proc (children first-level first).
std::vector<pid_t> descendants_of(pid_t pid);

}  // namespace prockit
