// lib/src/child/tree_guard_child.cpp — the TreeGuard watchdog: what the process started by
// TreeGuard::start() runs until it exits. That process shares its owner's memory (CLONE_VM, see
// tree_guard.cpp) while the owner keeps running, so this file calls no library function at all:
// system calls go through raw_syscall() (no errno, no TLS), it allocates nothing, takes no lock, and
// it is compiled without the stack protector and sanitizers (both read the owner thread's TLS; see
// lib/CMakeLists.txt).
#include "child/tree_guard_child.hpp"

#include "child/raw_syscall.hpp"

#include <fcntl.h>
#include <dirent.h>
#include <poll.h>
#include <sys/prctl.h>
#include <time.h>

#ifndef SYS_close_range
#define SYS_close_range 436
#endif

namespace prockit::detail {
namespace {

long sys(long n, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0) noexcept {
    return raw_syscall(n, a, b, c, d, e);
}
template <typename T>
long arg(T* p) noexcept {
    return reinterpret_cast<long>(p);
}

int open_at(int dirfd, const char* path, int flags) noexcept {
    return static_cast<int>(sys(SYS_openat, dirfd, arg(path), flags | O_CLOEXEC));
}

bool same(const char* a, const char* b, int n) noexcept {
    for (int i = 0; i < n; ++i)
        if (a[i] != b[i]) return false;
    return true;
}

// Removes the empty sub-groups under the directory `dirfd` (depth first; the owner may have nested
// groups, e.g. Command::own_cgroup(guard.cgroup())). getdents64 into a small stack buffer: the
// watchdog's stack is 64 KiB and this recurses at most 16 deep.
void remove_subgroups(int dirfd, int depth) noexcept {
    if (depth > 16) return;
    alignas(8) char buf[1024];
    for (;;) {
        long n = sys(SYS_getdents64, dirfd, arg(buf), sizeof buf);
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
            int sub = open_at(dirfd, e->name, O_RDONLY | O_DIRECTORY);
            if (sub >= 0) {
                remove_subgroups(sub, depth + 1);
                sys(SYS_close, sub);
            }
            sys(SYS_unlinkat, dirfd, arg(e->name), AT_REMOVEDIR);
        }
    }
}

}  // namespace

void tree_guard_watchdog(const TreeGuardArgs& a) noexcept {
    // Every signal is blocked already (TreeGuard::start() clones with all blocked) and stays so:
    // the owner's handlers must never run here, and terminal signals must not end the watchdog.
    int read_fd = a.read_fd;
    sys(SYS_setsid);
    sys(SYS_prctl, PR_SET_NAME, arg("prockit-guard"));
    if (read_fd != 3) {
        sys(SYS_dup3, read_fd, 3, O_CLOEXEC);
        read_fd = 3;
    }
    int devnull = open_at(AT_FDCWD, "/dev/null", O_RDWR);
    if (devnull >= 0)
        for (int fd = 0; fd <= 2; ++fd)
            if (fd != devnull) sys(SYS_dup3, devnull, fd, 0);
    sys(SYS_close_range, 4, ~0U, 0);  // devnull too, unless it filled a closed 0..2
    char buf[64];
    for (;;) {
        long n = sys(SYS_read, read_fd, arg(buf), sizeof buf);
        if (n == 0 || (n < 0 && n != -EINTR)) break;
    }
    // Kill the whole group (recursive), then wait until it is empty (cgroup.events changes raise
    // POLLPRI), bounded so a stuck process cannot keep us forever.
    int ev = open_at(AT_FDCWD, a.events_path, O_RDONLY);
    for (int round = 0; round < 50; ++round) {
        int k = open_at(AT_FDCWD, a.kill_path, O_WRONLY);
        if (k >= 0) {
            sys(SYS_write, k, arg("1"), 1);
            sys(SYS_close, k);
        }
        if (ev < 0) break;
        char text[256];
        long n = sys(SYS_pread64, ev, arg(text), sizeof text - 1, 0);
        if (n <= 0) break;
        bool populated = false;
        for (long i = 0; i + 11 <= n; ++i)
            if (text[i] == 'p' && same(text + i, "populated 1", 11)) populated = true;
        if (!populated) break;
        pollfd p{};
        p.fd = ev;
        p.events = POLLPRI;
        struct timespec wait {};
        wait.tv_nsec = 100 * 1000 * 1000;
        sys(SYS_ppoll, arg(&p), 1, arg(&wait), 0, 8);
    }
    int dfd = open_at(AT_FDCWD, a.dir, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        remove_subgroups(dfd, 0);
        sys(SYS_close, dfd);
    }
    sys(SYS_unlinkat, AT_FDCWD, arg(a.dir), AT_REMOVEDIR);
    for (;;) sys(SYS_exit_group, 0);
}

int tree_guard_entry(void* args) noexcept { tree_guard_watchdog(*static_cast<const TreeGuardArgs*>(args)); }

}  // namespace prockit::detail
