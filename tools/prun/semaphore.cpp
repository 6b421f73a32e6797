#include "semaphore.hpp"

#include <prockit/sys/syscall.hpp>

#include <cerrno>
#include <cstdlib>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace prockit::prun {

std::string semaphore_base() {
    const char* rt = std::getenv("XDG_RUNTIME_DIR");
    if (rt && *rt == '/') return std::string(rt) + "/prun-semaphores";
    return "/tmp/prun-semaphores-" + std::to_string(::getuid());
}

namespace {

// A directory of the user's own, not a link: another user must not be able to hand us one.
Status own_dir(const std::string& path) {
    if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) return fail(last_error("create directory " + path));
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) return fail(last_error("use directory " + path));
    if (!S_ISDIR(st.st_mode)) return fail(Error::from_errno(ENOTDIR, "use directory " + path));
    if (st.st_uid != ::getuid()) return fail(Error::from_errno(EPERM, "use directory " + path + " (another user owns it)"));
    return {};
}

struct flock whole_file(short type) {
    struct flock l {};
    l.l_type = type;
    l.l_whence = SEEK_SET;
    l.l_start = 0;
    l.l_len = 0;
    return l;
}

}  // namespace

Result<SlotSemaphore> SlotSemaphore::open(const std::string& name, unsigned slots) {
    if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos || name.find('\0') != std::string::npos)
        return fail(Error::from_errno(EINVAL, "use semaphore name \"" + name + "\" (it must be a file name: no '/')"));
    std::string base = semaphore_base();
    if (auto st = own_dir(base); !st) return fail(st.error());
    SlotSemaphore s;
    s.dir_ = base + "/" + name;
    if (auto st = own_dir(s.dir_); !st) return fail(st.error());
    s.slots_ = slots == 0 ? 1 : slots;
    return s;
}

Result<unique_fd> SlotSemaphore::open_slot(unsigned k) const {
    std::string path = dir_ + "/slot-" + std::to_string(k);
    auto fd = open_fd(path, O_RDWR | O_CREAT | O_NOFOLLOW, 0600);
    if (!fd) return fail(Error(fd.error().code(), "open semaphore slot " + path));
    return fd;
}

Result<pid_t> SlotSemaphore::holder(int fd) const {
    struct flock l = whole_file(F_WRLCK);
    if (::fcntl(fd, F_GETLK, &l) != 0) return fail(last_error("read the lock of a semaphore slot in " + dir_));
    return l.l_type == F_UNLCK ? pid_t{0} : l.l_pid;
}

Status SlotSemaphore::wait_any(const std::vector<pid_t>& pids) {
    std::vector<unique_fd> held;
    std::vector<pollfd> fds;
    for (pid_t p : pids) {
        int fd = static_cast<int>(::syscall(SYS_pidfd_open, p, 0));
        if (fd < 0) {
            if (errno == ESRCH) return {};  // ended already: look again
            return fail(last_error("watch process " + std::to_string(p) + " holding a semaphore slot"));
        }
        held.emplace_back(fd);
        fds.push_back({fd, POLLIN, 0});
    }
    if (retry_eintr([&] { return ::poll(fds.data(), fds.size(), -1); }) < 0) return fail(last_error("wait for a semaphore slot"));
    return {};
}

Status SlotSemaphore::acquire() {
    for (;;) {
        std::vector<pid_t> holders;
        for (unsigned k = 0; k < slots_; ++k) {
            auto fd = open_slot(k);
            if (!fd) return fail(fd.error());
            struct flock l = whole_file(F_WRLCK);
            if (::fcntl(fd->get(), F_SETLK, &l) == 0) {
                slot_fd_ = std::move(*fd);
                held_ = static_cast<int>(k);
                return {};
            }
            if (errno != EAGAIN && errno != EACCES) return fail(last_error("lock a semaphore slot in " + dir_));
            auto who = holder(fd->get());
            if (!who) return fail(who.error());
            if (*who == 0) {  // freed meanwhile: try it again at once
                holders.clear();
                break;
            }
            holders.push_back(*who);
        }
        if (!holders.empty())
            if (auto st = wait_any(holders); !st) return st;
    }
}

Status SlotSemaphore::wait_all() {
    for (;;) {
        std::vector<pid_t> holders;
        for (unsigned k = 0; k < slots_; ++k) {
            auto fd = open_slot(k);
            if (!fd) return fail(fd.error());
            auto who = holder(fd->get());
            if (!who) return fail(who.error());
            if (*who) holders.push_back(*who);
        }
        if (holders.empty()) return {};
        if (auto st = wait_any(holders); !st) return st;
    }
}

}  // namespace prockit::prun
