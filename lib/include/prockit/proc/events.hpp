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

/// The messages that reach the socket. The rest (those not asked for, and the connector's
/// uid, gid, sid, ptrace, comm and coredump messages) are dropped in the kernel by a classic
/// BPF socket filter: they never wake the reader nor take room in the socket's buffer.
struct ProcEventKinds {
    bool fork = true;
    bool exec = true;
    bool exit = true;
    /// false: a thread's creation and exit (pid != tgid) are dropped too; only processes' pass.
    bool threads = true;
};

class ProcEvents {
public:
    using Kinds = ProcEventKinds;

    /// Opens a non-blocking NETLINK_CONNECTOR socket, filtered to `kinds`, and subscribes to
    /// process events. EPERM without the privilege; EPROTONOSUPPORT without the connector.
    static Result<ProcEvents> open(Kinds kinds = {});

    /// The socket, for poll(2).
    int fd() const { return fd_.get(); }
    /// Reads every event queued now (none when nothing is pending), many datagrams per system
    /// call. Events of other kinds (none pass the filter) are skipped.
    Result<std::vector<ProcEvent>> read();
    /// Like read(), appending to `out` (a caller's reused vector: no allocation per wake-up).
    Status read_into(std::vector<ProcEvent>& out);

private:
    unique_fd fd_;
};

}  // namespace prockit::proc
