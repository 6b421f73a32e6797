#include <prockit/process/tree_guard.hpp>

#include "child/tree_guard_child.hpp"
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
    if (pid == 0) detail::tree_guard_watchdog(r.get(), kill_path.c_str(), events_path.c_str(), dir->c_str());
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
