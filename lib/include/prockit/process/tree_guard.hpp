// prockit/process/tree_guard.hpp — make sure nothing a program started outlives it, even when the
// program itself is killed with SIGKILL.
//
//   auto guard = prockit::TreeGuard::start().value();     // a fresh cgroup v2 group + a watchdog
//   prockit::Command("make").own_cgroup(guard.cgroup()).spawn();   // or .cgroup(guard.cgroup())
//
// start() creates a cgroup v2 group (under the caller's own v2 group unless told otherwise) and
// starts a small watchdog process in a session of its own, with every signal blocked (only SIGKILL
// ends it early). The watchdog shares the owner's address space (clone with CLONE_VM, on its own
// stack, calling no library code), so starting it costs about what starting a thread does.
// The watchdog holds the read end of a pipe whose write end only the owner holds (close-on-exec,
// so no child inherits it). When the owner ends — normally, or by SIGKILL — the pipe reads EOF and
// the watchdog writes cgroup.kill for the group (the kernel kills every process in it and in its
// sub-groups, however deeply they forked or daemonized), waits for the group to empty, removes it
// and exits. Destroying the TreeGuard does the same and waits for the watchdog.
//
// Needs a writable cgroup v2 hierarchy with cgroup.kill (Linux 5.14+); start() reports an error
// otherwise, and callers fall back to weaker means (PR_SET_PDEATHSIG on direct children).
// start() may be called from any thread.
#pragma once

#include <prockit/sys/result.hpp>
#include <prockit/sys/unique_fd.hpp>

#include <cstddef>
#include <string>
#include <sys/types.h>

namespace prockit {

class TreeGuard {
public:
    TreeGuard() = default;
    static Result<TreeGuard> start(const std::string& parent_cgroup = {});
    TreeGuard(TreeGuard&&) noexcept;
    TreeGuard& operator=(TreeGuard&&) noexcept;
    ~TreeGuard();

    bool active() const noexcept { return static_cast<bool>(pipe_); }
    /// The guarded group's directory.
    const std::string& cgroup() const noexcept { return cgroup_; }
    /// The group's directory, open (O_DIRECTORY): for Command::cgroup(guard.cgroup(), guard.cgroup_fd()).
    int cgroup_fd() const noexcept { return dirfd_.get(); }
    pid_t watchdog_pid() const noexcept { return pid_; }

    /// Kills everything in the group now, removes it and stops the watchdog (what the destructor
    /// does).
    void finish() noexcept;
    /// Lets the watchdog do the same on its own, without waiting for it: for an owner about to
    /// exit (the watchdog then outlives it by the moment the cleanup takes).
    void release() noexcept;

private:
    std::string cgroup_;
    unique_fd dirfd_;
    unique_fd pipe_;   // write end: EOF tells the watchdog to act
    unique_fd pidfd_;  // the watchdog
    pid_t pid_ = -1;
    void* memory_ = nullptr;  // the watchdog's stack and arguments (it shares our address space)
    std::size_t memory_size_ = 0;
};

}  // namespace prockit
