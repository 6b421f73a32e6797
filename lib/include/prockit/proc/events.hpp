// prockit/proc/events.hpp — process events (fork, exec, exit) from the kernel's netlink proc
// connector. Needs CAP_NET_ADMIN (root) in the initial network namespace; callers fall back to
// polling /proc when open() fails.
#pragma once

#include <prockit/sys/result.hpp>
#include <prockit/sys/unique_fd.hpp>

#include <sys/types.h>
#include <vector>

namespace prockit::proc {

struct ProcEvent {
    enum class Kind {
        fork,     ///< a new task: a thread (pid != tgid) or a process (pid == tgid)
        exec,     ///< pid/tgid called execve
        exit,     ///< pid/tgid exited (a thread when pid != tgid)
        overrun,  ///< the socket lost events (ENOBUFS): rescan what you track
    };
    Kind kind = Kind::fork;
    pid_t pid = 0;          ///< the task (fork: the child task)
    pid_t tgid = 0;         ///< its process (fork: the child's process)
    pid_t parent_pid = 0;   ///< fork only: the parent task (for a new thread, its process's parent!)
    pid_t parent_tgid = 0;  ///< fork only: the parent process (likewise)
};

class ProcEvents {
public:
    /// Opens a non-blocking NETLINK_CONNECTOR socket and subscribes to process events.
    /// EPERM without the privilege; EPROTONOSUPPORT without the connector.
    static Result<ProcEvents> open();

    /// The socket, for poll(2).
    int fd() const { return fd_.get(); }
    /// Reads every event queued now (none when nothing is pending); other event kinds are skipped.
    Result<std::vector<ProcEvent>> read();

private:
    unique_fd fd_;
};

}  // namespace prockit::proc
