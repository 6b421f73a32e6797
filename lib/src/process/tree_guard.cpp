#include <prockit/process/tree_guard.hpp>

#include "process/proctree.hpp"

#include <prockit/proc/procfs.hpp>
#include <prockit/sys/signals.hpp>
#include <prockit/sys/syscall.hpp>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <string>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace prockit {

namespace {

// The signals the guardian takes from users and passes on to the supervisor.
constexpr int kForwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM};

// A signal a process sent (kill, sigqueue, tgkill, ...) has si_code <= 0; the kernel's own
// (a terminal's ^C, a hang-up, SIGCHLD) have si_code > 0.
bool sent_by_a_process(const signalfd_siginfo& si) { return si.ssi_code <= 0; }

bool kept(std::span<const pid_t> keep, pid_t pid) { return std::find(keep.begin(), keep.end(), pid) != keep.end(); }

// The children of this process, of all its threads: /proc/self/task/*/children (each read in one
// call), or a scan of every process's parent where the kernel lacks that file
// (CONFIG_PROC_CHILDREN). Orphans are adopted by any thread of a subreaper, hence every task.
// A listing taken while children come and go may miss one; the callers list again until the
// kernel's own answer (waitid) agrees, the second time by the scan.
std::vector<pid_t> list_children(bool scan = false) {
    std::vector<pid_t> out;
    bool have_file = false;
    if (DIR* d = scan ? nullptr : ::opendir("/proc/self/task")) {
        char buf[16384];
        while (dirent* e = ::readdir(d)) {
            if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
            std::string path = std::string("/proc/self/task/") + e->d_name + "/children";
            int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
            if (fd < 0) continue;  // the thread has gone, or no such file
            have_file = true;
            std::string text;
            for (;;) {
                ssize_t n = retry_eintr([&] { return ::read(fd, buf, sizeof buf); });
                if (n <= 0) break;
                text.append(buf, static_cast<std::size_t>(n));
            }
            ::close(fd);
            long v = 0;
            bool in = false;
            for (char c : text) {
                if (c >= '0' && c <= '9') {
                    v = v * 10 + (c - '0');
                    in = true;
                } else if (in) {
                    out.push_back(static_cast<pid_t>(v));
                    v = 0;
                    in = false;
                }
            }
            if (in) out.push_back(static_cast<pid_t>(v));
        }
        ::closedir(d);
    }
    if (!have_file) {
        pid_t self = ::getpid();
        for (const auto& p : detail::scan_processes())
            if (p.ppid == self) out.push_back(p.pid);
    }
    return out;
}

// Has this (unreaped) child of ours exited? Its status is left in place.
bool has_exited(pid_t pid) {
    siginfo_t info{};
    int rc = retry_eintr([&] { return ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT); });
    return rc != 0 || info.si_pid == pid;  // an error (ECHILD): not ours to wait for any more
}

// Reaps `pid` if it has exited. True when it is gone (reaped now, or not our child any more).
bool reap_if_exited(pid_t pid) {
    siginfo_t info{};
    int rc = retry_eintr([&] { return ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG); });
    return rc != 0 || info.si_pid == pid;
}

// Waits until one of `pids` (our children, killed) exits, or 100 ms pass. The timeout only bounds
// the time a child missed by a listing goes unseen; the wait itself is on pidfds.
void wait_for_one(const std::vector<pid_t>& pids) {
    std::vector<unique_fd> held;
    std::vector<pollfd> fds;
    for (pid_t p : pids) {
        int fd = static_cast<int>(::syscall(SYS_pidfd_open, p, 0));
        if (fd < 0) {
            if (!fds.empty()) break;  // out of descriptors: wait for those held
            // Not even one: wait for this one (SIGKILLed, so it ends), leaving its status in place.
            siginfo_t info{};
            (void)retry_eintr([&] { return ::waitid(P_PID, static_cast<id_t>(p), &info, WEXITED | WNOWAIT); });
            return;
        }
        held.emplace_back(fd);
        fds.push_back({fd, POLLIN, 0});
    }
    (void)retry_eintr([&] { return ::poll(fds.data(), fds.size(), 100); });
}

// Closes every descriptor but 0, 1, 2 and `keep` (sorted ascending).
void close_all_but(std::vector<int> keep) {
    std::sort(keep.begin(), keep.end());
    unsigned from = 3;
    for (int fd : keep) {
        if (fd < 3) continue;
        if (static_cast<unsigned>(fd) > from) ::syscall(SYS_close_range, from, static_cast<unsigned>(fd) - 1, 0);
        from = static_cast<unsigned>(fd) + 1;
    }
    ::syscall(SYS_close_range, from, ~0U, 0);
}

// The guardian: what the parent of enter()'s fork runs until it exits. It is an ordinary
// single-threaded process with memory of its own, so it may allocate and call the library.
[[noreturn]] void guardian(pid_t supervisor, int sigfd, int lost_w, const TreeGuardOptions& options) {
    const std::string& name = options.name;
    bool through_fd = options.forward == TreeGuardOptions::Forward::through_fd;
    close_all_but({sigfd, lost_w});
    // It may write its one line to a closed pipe or a terminal it is in the background of: neither
    // may stop or end it before its work is done.
    ::signal(SIGPIPE, SIG_IGN);
    ::signal(SIGTTOU, SIG_IGN);
    // Nor may the OOM killer take it before the processes it must end: a caller that made itself
    // the first choice (oom_score_adj > 0) means the supervisor, which keeps that score. The guardian
    // is small, so at 0 it comes after any job that fills memory. (Lowering to 0 needs no privilege
    // unless a privileged writer raised the floor; then it keeps the caller's score.)
    if (auto adj = read_file("/proc/self/oom_score_adj"); adj && std::atoi(adj->c_str()) > 0)
        (void)write_file("/proc/self/oom_score_adj", "0");

    int status = 0, code = 0;  // waitid's si_code and si_status for the supervisor
    for (bool done = false; !done;) {
        signalfd_siginfo si{};
        ssize_t n = ::read(sigfd, &si, sizeof si);  // blocking: SIGCHLD comes when it ends
        if (n < 0 && errno == EINTR) continue;
        if (n != static_cast<ssize_t>(sizeof si)) break;  // cannot happen; end the run rather than hang
        int sig = static_cast<int>(si.ssi_signo);
        if (sig == SIGCHLD) {
            siginfo_t info{};
            if (retry_eintr([&] { return ::waitid(P_PID, static_cast<id_t>(supervisor), &info, WEXITED | WNOHANG); }) != 0) {
                code = CLD_KILLED, status = SIGKILL;  // not ours any more: cannot happen
                break;
            }
            if (info.si_pid == supervisor) {
                code = info.si_code;
                status = info.si_status;
                done = true;
            }
        } else if (sent_by_a_process(si) && static_cast<pid_t>(si.ssi_pid) != supervisor) {
            if (through_fd) {
                // A byte per signal: none is merged with a copy the supervisor got itself. The
                // pipe is non-blocking; a supervisor 64 KiB of signals behind loses the newest.
                char b = static_cast<char>(sig);
                (void)retry_eintr([&] { return ::write(lost_w, &b, 1); });
            } else {
                ::kill(supervisor, sig);  // our own unreaped child: its PID is no other process's
            }
        }
    }
    std::size_t ended = TreeGuard::end_descendants({});
    bool killed = code == CLD_KILLED || code == CLD_DUMPED;
    if (killed && !name.empty()) {
        // Always a line when the supervisor was killed: its jobs often died with it (their parent
        // death signal), leaving nothing to end, and a bare 137 did not say what had happened.
        std::string sn = signal_name(status);
        std::string line = name + ": cannot finish the run: the supervising process was killed by " +
                           (sn.empty() ? std::to_string(status) : "SIG" + sn);
        if (ended > 0) line += "; ended " + std::to_string(ended) + (ended == 1 ? " process" : " processes") + " it left";
        (void)write_all(2, line + "\n");
    }
    ::_exit(killed ? 128 + status : status);
}

}  // namespace

bool TreeGuard::guardian_lost() const noexcept {
    if (!lost_) return false;
    pollfd p{lost_.get(), POLLIN, 0};
    return retry_eintr([&] { return ::poll(&p, 1, 0); }) > 0;
}

bool TreeGuard::should_act_on(const signalfd_siginfo& si) const noexcept {
    if (!lost_ || !sent_by_a_process(si)) return true;
    return !through_fd_ && static_cast<pid_t>(si.ssi_pid) == guardian_;
}

bool TreeGuard::read_guardian(std::vector<int>& signals) const {
    if (!lost_) return false;
    char buf[256];
    for (;;) {
        ssize_t n = retry_eintr([&] { return ::read(lost_.get(), buf, sizeof buf); });
        if (n == 0) return false;  // EOF: the guardian has gone
        if (n < 0) return true;    // EAGAIN: nothing more for now
        for (ssize_t i = 0; i < n; ++i) signals.push_back(static_cast<unsigned char>(buf[i]));
    }
}

Result<TreeGuard> TreeGuard::enter(const TreeGuardOptions& options) {
    {
        proc::ProcReader reader;
        auto st = reader.stat(::getpid());
        if (!st) return fail(st.error());
        if (st->num_threads != 1)
            return fail(Error::from_errno(EINVAL, "split the process for its tree guard (it has " +
                                                      std::to_string(st->num_threads) + " threads, enter() needs one)"));
    }
    int was_subreaper = 0;
    (void)::prctl(PR_GET_CHILD_SUBREAPER, &was_subreaper);
    if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) return fail(last_error("become a child subreaper"));
    auto undo = [&] { (void)::prctl(PR_SET_CHILD_SUBREAPER, was_subreaper); };

    int p[2];
    if (::pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) {
        Error e = last_error("create the tree guard's pipe");
        undo();
        return fail(e);
    }
    unique_fd lost_r(p[0]), lost_w(p[1]);

    // The signals the guardian reads are blocked before the fork, so none sent to its PID between
    // the fork and its first read is lost; the supervisor gets the caller's mask back.
    sigset_t set;
    sigemptyset(&set);
    for (int s : kForwarded) sigaddset(&set, s);
    sigaddset(&set, SIGCHLD);
    SignalMaskGuard block(set);
    unique_fd sigfd(::signalfd(-1, &set, SFD_CLOEXEC));
    if (!sigfd) {
        Error e = last_error("create the tree guard's signalfd");
        undo();
        return fail(e);
    }
    pid_t guardian_pid = ::getpid();
    pid_t pid = ::fork();
    if (pid < 0) {
        Error e = last_error("fork the tree guard");
        undo();
        return fail(e);
    }
    if (pid > 0) guardian(pid, sigfd.get(), lost_w.get(), options);

    // The supervisor. Its copy of the write end goes at once, so the pipe reads EOF exactly when
    // the guardian has gone — also if it went before this line.
    lost_w.reset();
    sigfd.reset();
    if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
        // Without it the orphans still reach the guardian, which ends them when we exit; a caller
        // that runs on anyway keeps that much.
        return fail(last_error("become a child subreaper"));
    }
    return TreeGuard(guardian_pid, std::move(lost_r), options.forward == TreeGuardOptions::Forward::through_fd);
}

std::size_t TreeGuard::reap_adopted(std::span<const pid_t> keep) {
    std::size_t n = 0;
    // The kernel names one exited child (left in place): none, the usual case once the caller has
    // reaped its own, costs one system call; one not kept is reaped at once. Only a kept one in
    // the way needs the listing.
    for (;;) {
        siginfo_t info{};
        if (retry_eintr([&] { return ::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT); }) != 0 || info.si_pid == 0)
            return n;
        if (kept(keep, info.si_pid)) break;
        if (reap_if_exited(info.si_pid)) ++n;
    }
    for (pid_t pid : list_children()) {
        if (kept(keep, pid)) continue;
        siginfo_t info{};
        if (retry_eintr([&] { return ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG); }) == 0 &&
            info.si_pid == pid)
            ++n;
    }
    return n;
}

std::size_t TreeGuard::end_descendants(std::span<const pid_t> keep) {
    std::vector<pid_t> signalled;  // each counted once
    std::size_t ended = 0;
    if (keep.empty()) {
        // The usual end of a run: the kernel says at once that no child is left (or reaps the
        // exited ones until it does), and nothing needs listing.
        for (;;) {
            siginfo_t info{};
            if (retry_eintr([&] { return ::waitid(P_ALL, 0, &info, WEXITED | WNOHANG); }) != 0) return 0;
            if (info.si_pid == 0) break;  // one still runs
        }
    }
    bool scan = false;  // list by a scan of /proc's parents (after the children files missed one)
    for (;;) {
        std::vector<pid_t> running;
        for (pid_t pid : list_children(scan)) {
            bool ours = kept(keep, pid);
            if (!ours && reap_if_exited(pid)) continue;
            if (ours && has_exited(pid)) continue;
            // Our unreaped child: the PID is this process's and no other's.
            if (std::find(signalled.begin(), signalled.end(), pid) == signalled.end()) {
                ::kill(pid, SIGKILL);
                signalled.push_back(pid);
                if (!ours) ++ended;
            }
            running.push_back(pid);
        }
        if (!running.empty()) {
            wait_for_one(running);
            scan = false;
            continue;
        }
        // The listing shows nothing left to end. With nothing to keep, the kernel has the last
        // word: reap what a listing missed; ECHILD means done, a running child means list again.
        if (!keep.empty()) return ended;
        for (;;) {
            siginfo_t info{};
            int rc = retry_eintr([&] { return ::waitid(P_ALL, 0, &info, WEXITED | WNOHANG); });
            if (rc != 0) return ended;    // ECHILD: no child left
            if (info.si_pid == 0) break;  // one still runs that the listing did not show
        }
        scan = true;
    }
}

}  // namespace prockit
