// lib/src/child/tree_guard_child.cpp — the TreeGuard watchdog: what the process forked by
// TreeGuard::start() runs until it _exit()s. It is forked from a possibly multi-threaded owner, so
// it allocates nothing, takes no locks and uses only async-signal-safe calls.
#include "child/tree_guard_child.hpp"

#include <cerrno>
#include <csignal>
#include <dirent.h>
#include <fcntl.h>
#include <initializer_list>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace prockit::detail {
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

}  // namespace

void tree_guard_watchdog(int read_fd, const char* kill_path, const char* events_path, const char* dir) noexcept {
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

}  // namespace prockit::detail
