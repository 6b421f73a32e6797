#include <prockit/process/tree_guard.hpp>

#include "process/cgroup.hpp"

#include <prockit/sys/syscall.hpp>

#include <csignal>
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <utility>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace prockit {
namespace {

// Removes the empty sub-groups under the directory `dirfd` (depth first; the owner may have nested
// groups, e.g. Command::own_cgroup(guard.cgroup())). Allocation-free: getdents64 into a stack buffer.
void remove_subgroups(int dirfd, int depth) {
    if (depth > 16) return;
    alignas(8) char buf[4096];
    for (;;) {
        long n = syscall(SYS_getdents64, dirfd, buf, sizeof buf);
        if (n <= 0) return;
        for (long off = 0; off < n;) {
            struct Entry {
                unsigned long long ino;
                long long off;
                unsigned short reclen;
                unsigned char type;
                char name[1];
            };
            const auto* e = reinterpret_cast<const Entry*>(buf + off);
            off += e->reclen;
            if (e->type != DT_DIR || (e->name[0] == '.' && (e->name[1] == 0 || (e->name[1] == '.' && e->name[2] == 0))))
                continue;
            int sub = openat(dirfd, e->name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (sub >= 0) {
                remove_subgroups(sub, depth + 1);
                close(sub);
            }
            unlinkat(dirfd, e->name, AT_REMOVEDIR);
        }
    }
}

// Runs in the forked watchdog: waits for EOF, then empties and removes the group.
[[noreturn]] void watchdog(int read_fd, const char* kill_path, const char* events_path, const char* dir) {
    setsid();
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP, SIGTTIN, SIGTTOU, SIGPIPE}) signal(sig, SIG_IGN);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    prctl(PR_SET_NAME, "prockit-guard", 0, 0, 0);
    if (read_fd != 3) {
        dup2(read_fd, 3);
        read_fd = 3;
    }
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull >= 0) {
        dup2(devnull, 0);
        dup2(devnull, 1);
        dup2(devnull, 2);
    }
    syscall(SYS_close_range, 4U, ~0U, 0U);
    char buf[64];
    for (;;) {
        ssize_t n = read(read_fd, buf, sizeof buf);
        if (n == 0 || (n < 0 && errno != EINTR)) break;
    }
    // Kill the whole group (recursive), then wait until it is empty (cgroup.events changes raise
    // POLLPRI), bounded so a stuck process cannot keep us forever.
    int ev = open(events_path, O_RDONLY | O_CLOEXEC);
    for (int round = 0; round < 50; ++round) {
        int k = open(kill_path, O_WRONLY | O_CLOEXEC);
        if (k >= 0) {
            ssize_t w = write(k, "1", 1);
            (void)w;
            close(k);
        }
        if (ev < 0) break;
        char text[256];
        ssize_t n = pread(ev, text, sizeof text - 1, 0);
        if (n <= 0) break;
        text[n] = 0;
        bool populated = false;
        for (ssize_t i = 0; i + 11 < n; ++i)
            if (text[i] == 'p' && __builtin_memcmp(text + i, "populated 1", 11) == 0) populated = true;
        if (!populated) break;
        pollfd p{ev, POLLPRI, 0};
        poll(&p, 1, 100);
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        remove_subgroups(dfd, 0);
        close(dfd);
    }
    rmdir(dir);
    _exit(0);
}

}  // namespace

Result<TreeGuard> TreeGuard::start(const std::string& parent_cgroup) {
    auto dir = detail::make_child_cgroup(parent_cgroup);
    if (!dir) return fail(dir.error());
    std::string kill_path = *dir + "/cgroup.kill";
    std::string events_path = *dir + "/cgroup.events";
    if (access(kill_path.c_str(), W_OK) != 0) {
        Error e = last_error("use " + kill_path);
        detail::remove_cgroup(*dir);
        return fail(e);
    }
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) {
        Error e = last_error("create a pipe");
        detail::remove_cgroup(*dir);
        return fail(e);
    }
    unique_fd r(p[0]), w(p[1]);
    int pidfd = -1;
    pid_t pid = static_cast<pid_t>(syscall(SYS_clone, CLONE_PIDFD | SIGCHLD, nullptr, &pidfd, nullptr, nullptr));
    if (pid < 0) {
        Error e = last_error("start the process-tree guard");
        detail::remove_cgroup(*dir);
        return fail(e);
    }
    if (pid == 0) watchdog(r.get(), kill_path.c_str(), events_path.c_str(), dir->c_str());
    TreeGuard g;
    g.cgroup_ = std::move(*dir);
    g.pipe_ = std::move(w);
    g.pidfd_ = unique_fd(pidfd);
    g.pid_ = pid;
    return g;
}

TreeGuard::TreeGuard(TreeGuard&& o) noexcept
    : cgroup_(std::move(o.cgroup_)), pipe_(std::move(o.pipe_)), pidfd_(std::move(o.pidfd_)), pid_(std::exchange(o.pid_, -1)) {}

TreeGuard& TreeGuard::operator=(TreeGuard&& o) noexcept {
    if (this != &o) {
        finish();
        cgroup_ = std::move(o.cgroup_);
        pipe_ = std::move(o.pipe_);
        pidfd_ = std::move(o.pidfd_);
        pid_ = std::exchange(o.pid_, -1);
    }
    return *this;
}

TreeGuard::~TreeGuard() { finish(); }

void TreeGuard::release() noexcept {
    pipe_.reset();
    pidfd_.reset();
    pid_ = -1;
}

void TreeGuard::finish() noexcept {
    if (!pipe_) return;
    pipe_.reset();
    if (pidfd_) {
        siginfo_t info{};
        (void)retry_eintr([&] { return waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd_.get()), &info, WEXITED); });
        pidfd_.reset();
    }
    pid_ = -1;
}

}  // namespace prockit
