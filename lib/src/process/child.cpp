#include <prockit/process/child.hpp>

#include "process/cgroup.hpp"
#include "process/proctree.hpp"

#include <prockit/sys/syscall.hpp>

#include <cerrno>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3  // <linux/wait.h>; glibc 2.36's <sys/wait.h> may not expose it
#endif

namespace prockit {
namespace {

long long to_ns(Duration d) { return d.count() < 0 ? 0 : static_cast<long long>(d.count()); }

/// Polls a pidfd until it is readable (the process ended) or `timeout` passes. true = ended.
Result<bool> poll_pidfd(int pidfd, Duration timeout) {
    using clock = std::chrono::steady_clock;
    auto deadline = clock::now() + timeout;
    for (;;) {
        pollfd p{pidfd, POLLIN, 0};
        auto left = to_ns(std::chrono::duration_cast<Duration>(deadline - clock::now()));
        timespec ts{static_cast<time_t>(left / 1000000000), static_cast<long>(left % 1000000000)};
        int r = ppoll(&p, 1, &ts, nullptr);
        if (r > 0) return true;
        if (r == 0) return false;
        if (errno != EINTR) return fail(last_error("poll a pidfd"));
    }
}

}  // namespace

Result<Child> Child::adopt(pid_t pid) {
    int fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
    if (fd < 0) return fail(last_error("open a pidfd for process " + std::to_string(pid)));
    Child c(pid, unique_fd(fd));
    c.policy_ = DestroyPolicy::detach;  // adopted, not spawned: leave it be unless told otherwise
    return c;
}

Child::Child(Child&& o) noexcept
    : pid_(std::exchange(o.pid_, -1)),
      pidfd_(std::move(o.pidfd_)),
      status_(std::exchange(o.status_, std::nullopt)),
      stdin_(std::move(o.stdin_)),
      stdout_(std::move(o.stdout_)),
      stderr_(std::move(o.stderr_)),
      scope_(o.scope_),
      cgroup_(std::move(o.cgroup_)),
      own_cgroup_(std::exchange(o.own_cgroup_, false)),
      policy_(o.policy_),
      grace_(o.grace_) {}

Child& Child::operator=(Child&& o) noexcept {
    if (this != &o) {
        on_destroy();
        pid_ = std::exchange(o.pid_, -1);
        pidfd_ = std::move(o.pidfd_);
        status_ = std::exchange(o.status_, std::nullopt);
        stdin_ = std::move(o.stdin_);
        stdout_ = std::move(o.stdout_);
        stderr_ = std::move(o.stderr_);
        scope_ = o.scope_;
        cgroup_ = std::move(o.cgroup_);
        own_cgroup_ = std::exchange(o.own_cgroup_, false);
        policy_ = o.policy_;
        grace_ = o.grace_;
    }
    return *this;
}

Child::~Child() { on_destroy(); }

void Child::on_destroy() noexcept {
    if (!pidfd_) return;
    // Our pipe ends go first: a child blocked on a pipe nobody will serve gets EOF or EPIPE.
    stdin_.reset();
    stdout_.reset();
    stderr_.reset();
    if (!status_) {
        switch (policy_) {
            case DestroyPolicy::terminate_tree: (void)end_tree(grace_, true); break;
            case DestroyPolicy::kill_tree: (void)end_tree(Duration::zero(), false); break;
            case DestroyPolicy::wait: (void)wait(); break;
            case DestroyPolicy::detach: break;
        }
    }
    if (policy_ != DestroyPolicy::detach) cleanup_cgroup();
    pidfd_.reset();
}

void Child::detach() noexcept {
    own_cgroup_ = false;
    pidfd_.reset();
    stdin_.reset();
    stdout_.reset();
    stderr_.reset();
    pid_ = -1;
}

Result<std::optional<ExitStatus>> Child::reap(int options) {
    if (!pidfd_) return fail(Error::from_errno(EBADF, "wait for a process (empty handle)"));
    siginfo_t info{};
    struct rusage ru {};
    // The system call, not glibc's waitid(): only the former takes a struct rusage*.
    long r = retry_eintr([&] { return syscall(SYS_waitid, P_PIDFD, pidfd_.get(), &info, options, &ru); });
    if (r < 0) return fail(last_error("wait for process " + std::to_string(pid_)));
    if (info.si_pid == 0) return std::optional<ExitStatus>();  // WNOHANG: nothing yet
    ExitStatus st = ExitStatus::from_siginfo(info);
    if (st.ended()) {
        st = st.with_usage(ResourceUsage::from_rusage(ru));
        status_ = st;
    }
    return std::optional<ExitStatus>(st);
}

Result<ExitStatus> Child::wait() {
    if (status_) return *status_;
    auto r = reap(WEXITED);
    if (!r) return fail(r.error());
    return **r;
}

Result<std::optional<ExitStatus>> Child::try_wait() {
    if (status_) return status_;
    return reap(WEXITED | WNOHANG);
}

Result<std::optional<ExitStatus>> Child::wait_for(Duration timeout) {
    if (status_) return status_;
    if (!pidfd_) return fail(Error::from_errno(EBADF, "wait for a process (empty handle)"));
    auto ended = poll_pidfd(pidfd_.get(), timeout);
    if (!ended) return fail(ended.error());
    if (!*ended) return std::optional<ExitStatus>();
    return reap(WEXITED | WNOHANG);
}

Result<ExitStatus> Child::wait_state() {
    if (status_) return *status_;
    auto r = reap(WEXITED | WSTOPPED | WCONTINUED);
    if (!r) return fail(r.error());
    return **r;
}

Result<std::optional<ExitStatus>> Child::try_wait_state() {
    if (status_) return status_;
    return reap(WEXITED | WSTOPPED | WCONTINUED | WNOHANG);
}

Status Child::send_signal(int sig) {
    if (status_) return {};  // reaped: the PID may belong to someone else now; the pidfd knows
    if (!pidfd_) return fail(Error::from_errno(EBADF, "signal a process (empty handle)"));
    if (syscall(SYS_pidfd_send_signal, pidfd_.get(), sig, nullptr, 0) == 0 || errno == ESRCH) return {};
    return fail(last_error("send signal " + std::to_string(sig) + " to process " + std::to_string(pid_)));
}

Result<ExitStatus> Child::terminate_tree(Duration grace) { return end_tree(grace, true); }

// The child itself is never reaped before its tree has been signalled: while it is an unreaped
// zombie its PID — and so its process-group ID — cannot be given to anyone else.
Result<ExitStatus> Child::end_tree(Duration grace, bool term_first) {
    if (!pidfd_) return fail(Error::from_errno(EBADF, "terminate a process tree (empty handle)"));
    if (status_ && scope_ != TreeScope::cgroup) return *status_;

    // Phase 1: TERM to everyone we can find, then wait for all of them (pidfds, no PID races).
    std::vector<detail::HeldProcess> held = detail::hold(tree_members());
    if (term_first && grace > Duration::zero()) {
        // Each process gets one TERM: the group signal also reaches members not seen yet.
        if (scope_ == TreeScope::process_group)
            ::kill(-pid_, SIGTERM);
        else
            detail::signal_all(held, SIGTERM);
        detail::wait_all_exited(held, to_ns(grace));
    }

    // Phase 2: KILL whatever is left, including processes that appeared meanwhile.
    if (scope_ == TreeScope::cgroup) {
        if (!detail::cgroup_kill(cgroup_)) detail::signal_all(detail::hold(tree_members()), SIGKILL);  // pre-5.14 kernels
    } else if (scope_ == TreeScope::process_group) {
        ::kill(-pid_, SIGKILL);
    } else {
        detail::signal_all(detail::hold(tree_members()), SIGKILL);
    }
    detail::signal_all(held, SIGKILL);  // those that were orphaned and moved away from the tree
    if (!status_) (void)send_signal(SIGKILL);
    detail::wait_all_exited(held, 2'000'000'000LL);
    auto st = wait();
    cleanup_cgroup();
    return st;
}

std::vector<pid_t> Child::tree_members() const {
    if (scope_ == TreeScope::cgroup) return detail::cgroup_pids(cgroup_).value_or(std::vector<pid_t>{});
    auto all = detail::scan_processes();
    auto pids = scope_ == TreeScope::process_group ? detail::group_members(all, pid_) : detail::descendants(all, pid_);
    if (scope_ == TreeScope::descendants) pids.push_back(pid_);
    return pids;
}

Status Child::signal_tree(int sig) {
    if (!pidfd_) return fail(Error::from_errno(EBADF, "signal a process tree (empty handle)"));
    if (scope_ == TreeScope::cgroup) return signal_cgroup(cgroup_, sig);
    if (status_) return {};  // reaped: its group ID may be someone else's now, its descendants are lost
    if (scope_ == TreeScope::process_group) {
        // Safe by number: the leader is unreaped, so its process-group ID is still its own.
        if (::kill(-pid_, sig) != 0 && errno != ESRCH)
            return fail(last_error("signal process group " + std::to_string(pid_)));
        return {};
    }
    detail::signal_all(detail::hold(tree_members()), sig);
    return {};
}

Status signal_cgroup(const std::string& dir, int sig) {
    if (sig == SIGKILL && detail::cgroup_kill(dir)) return {};
    auto pids = detail::cgroup_pids(dir);
    if (!pids) return fail(pids.error());
    detail::signal_all(detail::hold(*pids), sig);
    return {};
}

void Child::cleanup_cgroup() noexcept {
    if (!own_cgroup_) return;
    // The child is gone; anything still in its group is a descendant that must not outlive it.
    if (detail::cgroup_populated(cgroup_).value_or(false)) {
        auto left = detail::hold(detail::cgroup_pids(cgroup_).value_or(std::vector<pid_t>{}));
        if (!detail::cgroup_kill(cgroup_)) detail::signal_all(left, SIGKILL);
        detail::wait_all_exited(left, 2'000'000'000LL);
    }
    detail::remove_cgroup(cgroup_);
    own_cgroup_ = false;
}

Status set_child_subreaper(bool on) {
    if (prctl(PR_SET_CHILD_SUBREAPER, on ? 1 : 0, 0, 0, 0) != 0) return fail(last_error("set child subreaper"));
    return {};
}

std::vector<pid_t> descendants_of(pid_t pid) { return detail::descendants(detail::scan_processes(), pid); }

}  // namespace prockit
