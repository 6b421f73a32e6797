// prockit/process/tree_guard.hpp — make sure nothing a program started outlives it, even when the
// program itself is SIGKILLed or chosen by the OOM killer, with no privilege and no cgroup.
//
//   int main(int argc, char** argv) {
//       auto guard = prockit::TreeGuard::enter({.name = "mytool"});   // early, single-threaded
//       if (!guard) report(guard.error());                             // runs unguarded
//       ... spawn, supervise; poll guard->guardian_fd() ...
//       prockit::TreeGuard::end_descendants({});                       // before returning
//   }
//
// enter() splits the calling process in two with fork(). The PARENT keeps the PID the shell (or a
// pidfile) knows and becomes the guardian: a small loop in this library that never returns to the
// caller. The CHILD returns from enter() and runs the program: the supervisor. Both are child
// subreapers (PR_SET_CHILD_SUBREAPER), so they cover each other:
//
//  * The supervisor adopts every orphan of the processes it started (however they daemonized or
//    setsid()), so everything the program starts stays its descendant.
//  * When the supervisor ends — normally, by SIGKILL, by the OOM killer — its orphans go to the
//    guardian, which SIGKILLs every child it has and reaps until it has none, then exits with the
//    supervisor's status (128+N when it was killed by signal N). With options.name set, it prints
//    one line on stderr whenever the supervisor was killed by a signal ("NAME: cannot finish the
//    run: the supervising process was killed by SIGKILL", and "; ended N processes it left" when
//    it had to end some).
//  * When the guardian ends (SIGKILLed), guardian_fd() reads EOF: the supervisor then ends
//    every descendant with end_descendants() (prun does this and exits 1).
//
// The guardian is a separate process with its own memory (it does not die with the supervisor's
// address space), keeps only stdin/stdout/stderr of the caller's descriptors, and sends signals
// to nothing but its own children. It forwards the signals processes send it (kill(2),
// sigqueue(3): SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM) to the supervisor;
// signals the kernel generates (a terminal's ^C, ^\, hang-up) are not forwarded, since the
// supervisor is in the same process group and gets them itself; SIGTSTP/SIGCONT keep their
// default actions. It forwards them as the same signal (Forward::signal: what a program with
// default dispositions or plain handlers needs), or as one byte each on guardian_fd()
// (Forward::through_fd: for an event loop that must act once per signal — `kill -TERM -PGID`
// reaches both processes, and a signal copy still pending makes the kernel drop the next one of
// the same number, so with signals the supervisor may get one copy or two).
//
// Known limit: a signal that kills guardian and supervisor in the same instant (`kill -9 -PGID`,
// `pkill -9 NAME`) leaves the descendants that setsid()'d to PID 1 (or the next subreaper up).
//
// The supervisor must reap the orphans it adopts (zombies pile up otherwise): reap_adopted() does,
// leaving alone the children it spawned itself (whose status its own bookkeeping waits for).
#pragma once

#include <prockit/sys/result.hpp>
#include <prockit/sys/unique_fd.hpp>

#include <cstddef>
#include <csignal>
#include <span>
#include <string>
#include <sys/signalfd.h>
#include <sys/types.h>
#include <vector>

namespace prockit {

struct TreeGuardOptions {
    /// The prefix of the guardian's one line on stderr ("prun"); empty: the guardian prints nothing.
    std::string name;
    /// How the guardian passes on the signals processes send it.
    enum class Forward {
        signal,      ///< the same signal, sent to the supervisor
        through_fd,  ///< the signal's number, one byte on guardian_fd() (read_guardian())
    } forward = Forward::signal;
};

class TreeGuard {
public:
    /// An inactive guard (no guardian).
    TreeGuard() = default;

    /// Splits the calling process into guardian (parent, never returns) and supervisor (child,
    /// returns the active guard). Must be called while the process has one thread. Errors (more
    /// than one thread, PR_SET_CHILD_SUBREAPER or fork failing) leave the process as it was:
    /// one process, unguarded.
    static Result<TreeGuard> enter(const TreeGuardOptions& options = {});

    TreeGuard(TreeGuard&&) noexcept = default;
    TreeGuard& operator=(TreeGuard&&) noexcept = default;
    ~TreeGuard() = default;

    bool active() const noexcept { return static_cast<bool>(lost_); }
    /// The guardian's PID (the caller's PID before enter()); -1 when inactive.
    pid_t guardian_pid() const noexcept { return guardian_; }
    /// Readable (POLLIN) when forwarded signals wait (Forward::through_fd) or when the guardian
    /// has ended (EOF). Non-blocking. -1 when inactive.
    int guardian_fd() const noexcept { return lost_.get(); }
    /// Reads guardian_fd(): appends the forwarded signals waiting there to `signals` (in the order
    /// sent) and returns false once the guardian has ended, true while it runs.
    bool read_guardian(std::vector<int>& signals) const;
    /// True once the guardian has ended (a poll of guardian_fd() that does not wait; with
    /// Forward::through_fd, forwarded signals still unread make it false).
    bool guardian_lost() const noexcept;

    /// For a supervisor that reads its signals (a signalfd): true for one it should act on —
    /// generated by the kernel (a terminal; si_code > 0), or forwarded as a signal by the guardian
    /// (Forward::signal). False for a signal another process sent the supervisor directly: with
    /// Forward::through_fd, a group-wide signal's copy comes through guardian_fd(). Without an
    /// active guard, every signal counts.
    bool should_act_on(const signalfd_siginfo& si) const noexcept;

    /// Reaps every exited child of this process whose PID is not in `keep` (WNOHANG; children
    /// still running are left alone). Returns the number reaped. The children in `keep` are never
    /// waited for, so their statuses stay for the caller's own waitid(P_PIDFD)/waitpid.
    static std::size_t reap_adopted(std::span<const pid_t> keep);

    /// Ends every descendant: SIGKILLs every child of this process (those in `keep` too) and
    /// reaps the others, again and again as orphans of the killed ones are adopted, until the
    /// only children left are the ones in `keep`, exited and not reaped. With an empty `keep` it
    /// returns when waitid(2) reports that no child is left (ECHILD). Needs this process to be a
    /// child subreaper to reach processes that setsid()'d (enter() makes it one). Returns the
    /// number of processes not in `keep` that were running when they were killed.
    static std::size_t end_descendants(std::span<const pid_t> keep);

private:
    TreeGuard(pid_t guardian, unique_fd lost, bool through_fd) : guardian_(guardian), lost_(std::move(lost)), through_fd_(through_fd) {}
    pid_t guardian_ = -1;
    unique_fd lost_;  // read end of a pipe whose write end only the guardian holds
    bool through_fd_ = false;
};

}  // namespace prockit
