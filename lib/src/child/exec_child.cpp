// lib/src/child/exec_child.cpp — the code a spawned child runs between clone() and execve().
//
// This runs in a CLONE_VM | CLONE_VFORK child: it shares the parent's memory while the parent is
// suspended. So it allocates nothing, takes no locks, throws nothing, prints nothing, touches no
// global state but its own plan, and leaves only through execve() or _exit(). Credential changes
// use raw syscalls: glibc's setuid() family would try to broadcast to the parent's threads.
// Sanitizer instrumentation is off here: the sanitizers' runtimes do not know this stack.
#include "child/plan.hpp"

#include "prockit/process/command.hpp"

#include <cerrno>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

// no_sanitize is understood by both g++ and clang; it keeps ASan/UBSan hooks out of the child, and
// TSan's: its function entry/exit hooks would push frames the child never pops onto the spawning
// thread's shadow stack, which the child shares.
#define PROCKIT_CHILD_CODE __attribute__((no_sanitize("address", "undefined", "thread")))

namespace prockit::detail {
namespace {

[[noreturn]] PROCKIT_CHILD_CODE void fail(ChildPlan& p, SpawnStage stage, int err) {
    p.failed_stage = static_cast<int>(stage);
    p.failed_errno = err;
    _exit(127);
}

// The kernel's struct sigaction: only the handler (its first member on every architecture) is
// read, and a zero-filled one means SIG_DFL with no flags. Raw syscalls rather than glibc's
// sigaction(): sanitizer runtimes intercept that and record handlers in tables that this child
// shares with its parent (CLONE_VM).
struct KernelSigaction {
    unsigned long handler;
    unsigned long rest[3];
};
constexpr unsigned long kKernelSigsetSize = 8;  // the kernel's sigset_t: 64 signals

PROCKIT_CHILD_CODE void reset_signals(ChildPlan& p) {
    const KernelSigaction dfl{};
    for (int sig = 1; sig <= 64; ++sig) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        KernelSigaction old{};
        if (syscall(SYS_rt_sigaction, sig, nullptr, &old, kKernelSigsetSize) != 0) continue;
        auto handler = reinterpret_cast<__sighandler_t>(old.handler);
        if (handler == SIG_DFL) continue;
        if (handler == SIG_IGN && p.keep_ignored_signals) continue;
        syscall(SYS_rt_sigaction, sig, &dfl, nullptr, kKernelSigsetSize);
    }
}

PROCKIT_CHILD_CODE bool write_text(int fd, const char* s) {
    std::size_t n = 0;
    while (s[n]) ++n;
    ssize_t w;
    do {
        w = write(fd, s, n);
    } while (w < 0 && errno == EINTR);
    return w == static_cast<ssize_t>(n);
}

PROCKIT_CHILD_CODE void arrange_fds(ChildPlan& p) {
    // Move every source above all targets first, so no dup2 overwrites a source still needed.
    for (std::size_t i = 0; i < p.n_fd_moves; ++i) {
        int hi = fcntl(p.fd_moves[i].src, F_DUPFD_CLOEXEC, p.fd_floor);
        if (hi < 0) fail(p, SpawnStage::fds, errno);
        p.fd_moves[i].src = hi;
    }
    for (std::size_t i = 0; i < p.n_fd_moves; ++i)
        if (dup2(p.fd_moves[i].src, p.fd_moves[i].dst) < 0) fail(p, SpawnStage::fds, errno);  // clears CLOEXEC
    for (std::size_t i = 0; i < p.n_close_ranges; ++i) {
        const FdRange& r = p.close_ranges[i];
        if (syscall(SYS_close_range, r.first, r.last, 0) == 0) continue;
        if (errno != ENOSYS) fail(p, SpawnStage::fds, errno);
        // Kernels before 5.9: close one by one, bounded by the descriptor limit.
        struct rlimit lim {};
        getrlimit(RLIMIT_NOFILE, &lim);
        unsigned last = r.last;
        if (lim.rlim_cur != RLIM_INFINITY && last >= lim.rlim_cur) last = static_cast<unsigned>(lim.rlim_cur) - 1;
        for (unsigned fd = r.first; fd <= last && fd >= r.first; ++fd) close(static_cast<int>(fd));
    }
}

}  // namespace

PROCKIT_CHILD_CODE int child_exec_main(void* arg) {
    ChildPlan& p = *static_cast<ChildPlan*>(arg);

    reset_signals(p);

    if (p.session == 1 && setsid() < 0) fail(p, SpawnStage::session, errno);
    if (p.session == 2 && setpgid(0, 0) < 0) fail(p, SpawnStage::session, errno);
    if (p.session == 3 && setpgid(0, p.pgid) < 0) fail(p, SpawnStage::session, errno);
    if (p.foreground_tty >= 0) {
        // Every signal is still blocked (the parent blocked them around the clone), so a caller in
        // the terminal's background gets no SIGTTOU: the kernel lets a blocked one through.
        pid_t pg = getpgrp();
        if (ioctl(p.foreground_tty, TIOCSPGRP, &pg) != 0) fail(p, SpawnStage::terminal, errno);
    }

    if (p.pdeathsig) {
        if (prctl(PR_SET_PDEATHSIG, p.pdeathsig, 0, 0, 0) != 0) fail(p, SpawnStage::parent_death_signal, errno);
        if (getppid() != p.parent_pid) fail(p, SpawnStage::parent_death_signal, ESRCH);
    }
    if (p.cgroup_procs_fd >= 0 && !write_text(p.cgroup_procs_fd, "0")) fail(p, SpawnStage::cgroup, errno);

    // The limits come before the nice value (a raised RLIMIT_NICE is what lets it go negative) and
    // before the credentials change (raising a hard limit needs the privilege the new user may
    // lack); RLIMIT_NOFILE alone waits until the descriptors are arranged (a small one would
    // refuse the moves above the targets).
    for (std::size_t i = 0; i < p.n_rlimits; ++i)
        if (p.rlimit_resources[i] != RLIMIT_NOFILE &&
            setrlimit(static_cast<__rlimit_resource>(p.rlimit_resources[i]), &p.rlimit_values[i]) != 0)
            fail(p, SpawnStage::rlimit, errno);
    if (p.set_nice && setpriority(PRIO_PROCESS, 0, p.nice) != 0) fail(p, SpawnStage::nice, errno);
    if (p.affinity && syscall(SYS_sched_setaffinity, 0, p.affinity_size, p.affinity) != 0)
        fail(p, SpawnStage::affinity, errno);
    if (p.oom_score_adj) {
        int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
        if (fd < 0) fail(p, SpawnStage::oom_score_adj, errno);
        if (!write_text(fd, p.oom_score_adj)) fail(p, SpawnStage::oom_score_adj, errno);
        close(fd);
    }
    if (p.cwd && chdir(p.cwd) != 0) fail(p, SpawnStage::chdir, errno);

    arrange_fds(p);
    for (std::size_t i = 0; i < p.n_rlimits; ++i)
        if (p.rlimit_resources[i] == RLIMIT_NOFILE &&
            setrlimit(static_cast<__rlimit_resource>(p.rlimit_resources[i]), &p.rlimit_values[i]) != 0)
            fail(p, SpawnStage::rlimit, errno);
    if (p.ctty_fd >= 0 && ioctl(p.ctty_fd, TIOCSCTTY, p.ctty_steal) != 0) fail(p, SpawnStage::terminal, errno);

    if (p.set_umask) ::umask(p.umask);
    if (p.set_groups && syscall(SYS_setgroups, p.n_groups, p.groups) != 0) fail(p, SpawnStage::groups, errno);
    if (p.set_gid && syscall(SYS_setresgid, p.gid, p.gid, p.gid) != 0) fail(p, SpawnStage::gid, errno);
    if (p.set_caps) {
        for (std::size_t i = 0; i < p.n_capbset_drop; ++i)
            if (prctl(PR_CAPBSET_DROP, p.capbset_drop[i], 0, 0, 0) != 0) fail(p, SpawnStage::capabilities, errno);
        if (p.set_uid && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) fail(p, SpawnStage::capabilities, errno);
    }
    if (p.set_uid && syscall(SYS_setresuid, p.uid, p.uid, p.uid) != 0) fail(p, SpawnStage::uid, errno);
    if (p.set_caps) {
        if (syscall(SYS_capset, p.cap_header, p.cap_data) != 0) fail(p, SpawnStage::capabilities, errno);
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
            fail(p, SpawnStage::capabilities, errno);
        for (std::size_t i = 0; i < p.n_ambient_raise; ++i)
            if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, p.ambient_raise[i], 0, 0) != 0)
                fail(p, SpawnStage::capabilities, errno);
        if (p.set_uid && prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) fail(p, SpawnStage::capabilities, errno);
    }
    if (p.no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail(p, SpawnStage::no_new_privs, errno);

    // The mask before the filter: a rules file that denies rt_sigprocmask must not break spawning.
    if (syscall(SYS_rt_sigprocmask, SIG_SETMASK, &p.sigmask, nullptr, kKernelSigsetSize) != 0)
        fail(p, SpawnStage::signals, errno);
    if (p.seccomp_fprog && prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, p.seccomp_fprog, 0, 0) != 0)
        fail(p, SpawnStage::seccomp, errno);

    // Try each candidate as execvp(3) does: a missing one is skipped; one that exists but cannot
    // be run is remembered, so "not executable" wins over "not found".
    int err = ENOENT;
    std::size_t which = 0;
    for (std::size_t i = 0; i < p.n_candidates; ++i) {
        execve(p.candidates[i], p.argv, p.envp);
        int e = errno;
        if (e == ENOENT || e == ENOTDIR || e == ELOOP || e == ENAMETOOLONG) continue;
        if (e == EACCES || e == EPERM) {
            if (err == ENOENT) {
                err = e;
                which = i;
            }
            continue;
        }
        err = e;  // ENOEXEC, E2BIG, ENOMEM, ETXTBSY, ...: a real answer, stop here
        which = i;
        break;
    }
    p.failed_candidate = which;
    fail(p, SpawnStage::exec, err);
}

}  // namespace prockit::detail
