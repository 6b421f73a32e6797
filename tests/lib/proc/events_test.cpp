#include <prockit/proc/events.hpp>

#include "tools/paffinity/run_tool.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <functional>
#include <linux/cn_proc.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace prockit;
using namespace prockit::proc;

TEST(ProcEvents, SeesForkAndExit) {
    auto ev = ProcEvents::open();
    if (!ev) GTEST_SKIP() << "proc connector unavailable: " << ev.error().message();
    pid_t child;
    {
        paff_test::Child c({"/bin/true"});
        child = c.pid();
        c.wait();
    }
    bool fork_seen = false, exit_seen = false;
    bool done = paff_test::wait_until([&] {
        pollfd p{ev->fd(), POLLIN, 0};
        if (poll(&p, 1, 50) > 0) {
            auto events = ev->read();
            if (!events) return true;
            for (const ProcEvent& e : *events) {
                if (e.kind == ProcEvent::Kind::fork && e.tgid == child && e.parent_tgid == getpid()) fork_seen = true;
                if (e.kind == ProcEvent::Kind::exit && e.pid == child) exit_seen = true;
            }
        }
        return fork_seen && exit_seen;
    });
    EXPECT_TRUE(done);
    EXPECT_TRUE(fork_seen);
    EXPECT_TRUE(exit_seen);
}

// --- the kernel-side filter ----------------------------------------------------------------------
// These read the socket raw (not through read(), which skips unknown kinds itself), so a message
// the filter let through is seen whatever its kind.

namespace {

struct RawEvent {
    std::uint32_t what = 0;
    pid_t pid = 0;   // fork: the child task; exec, exit, comm, sid: the task
    pid_t tgid = 0;  // likewise, its process
};

// Every datagram queued now.
std::vector<RawEvent> drain_raw(int fd) {
    std::vector<RawEvent> out;
    alignas(nlmsghdr) char buf[1024];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n < 0) {
            if (errno == EINTR || errno == ENOBUFS) continue;
            break;  // EAGAIN: empty
        }
        constexpr std::size_t at = NLMSG_HDRLEN + 20;  // nlmsghdr, then the connector's header
        if (static_cast<std::size_t>(n) < at + sizeof(proc_event)) {
            ADD_FAILURE() << "short connector message: " << n << " bytes";
            continue;
        }
        proc_event pe;
        std::memcpy(&pe, buf + at, sizeof pe);
        RawEvent e;
        e.what = pe.what;
        switch (pe.what) {
            case proc_event::PROC_EVENT_FORK:
                e.pid = pe.event_data.fork.child_pid;
                e.tgid = pe.event_data.fork.child_tgid;
                break;
            case proc_event::PROC_EVENT_EXEC:
                e.pid = pe.event_data.exec.process_pid;
                e.tgid = pe.event_data.exec.process_tgid;
                break;
            case proc_event::PROC_EVENT_EXIT:
                e.pid = pe.event_data.exit.process_pid;
                e.tgid = pe.event_data.exit.process_tgid;
                break;
            case proc_event::PROC_EVENT_COMM:
                e.pid = pe.event_data.comm.process_pid;
                e.tgid = pe.event_data.comm.process_tgid;
                break;
            case proc_event::PROC_EVENT_SID:
                e.pid = pe.event_data.sid.process_pid;
                e.tgid = pe.event_data.sid.process_tgid;
                break;
            default: break;
        }
        out.push_back(e);
    }
    return out;
}

// A child that renames itself (a comm message), starts a session (a sid message), then execs
// /bin/true (exec and comm messages) and exits. Returns its PID once reaped.
pid_t run_renaming_child() {
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_NAME, "pev-renamed", 0, 0, 0);
        setsid();
        execl("/bin/true", "true", static_cast<char*>(nullptr));
        _exit(127);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    return pid;
}

// Collects raw events until `done(all so far)` or the deadline.
bool collect(int fd, std::vector<RawEvent>& all, const std::function<bool(const std::vector<RawEvent>&)>& done) {
    // A loaded machine's other processes must not overrun the socket before the test reads it.
    int big = 8 << 20;
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);
    return paff_test::wait_until([&] {
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, 50) > 0) {
            auto got = drain_raw(fd);
            all.insert(all.end(), got.begin(), got.end());
        }
        return done(all);
    });
}

bool has(const std::vector<RawEvent>& v, std::uint32_t what, pid_t tgid) {
    return std::any_of(v.begin(), v.end(), [&](const RawEvent& e) { return e.what == what && e.tgid == tgid; });
}

}  // namespace

TEST(ProcEvents, FilterPassesForkExecExitButNoRenameOrSession) {
    auto ev = ProcEvents::open();
    if (!ev) GTEST_SKIP() << "proc connector unavailable: " << ev.error().message();
    pid_t child = run_renaming_child();
    std::vector<RawEvent> all;
    // The exit is the child's last message: once it is read, its comm and sid messages (queued
    // before it, had the filter passed them) would have been read too.
    ASSERT_TRUE(collect(ev->fd(), all, [&](const std::vector<RawEvent>& v) {
        return has(v, proc_event::PROC_EVENT_EXIT, child);
    }));
    EXPECT_TRUE(has(all, proc_event::PROC_EVENT_FORK, child));
    EXPECT_TRUE(has(all, proc_event::PROC_EVENT_EXEC, child));
    for (const RawEvent& e : all)
        EXPECT_TRUE(e.what == proc_event::PROC_EVENT_FORK || e.what == proc_event::PROC_EVENT_EXEC ||
                    e.what == proc_event::PROC_EVENT_EXIT)
            << "a message of kind 0x" << std::hex << e.what << " passed (pid " << std::dec << e.pid << ")";
}

TEST(ProcEvents, FilterPassesOnlyExecWhenOnlyExecIsAsked) {
    auto ev = ProcEvents::open({.fork = false, .exec = true, .exit = false, .threads = true});
    if (!ev) GTEST_SKIP() << "proc connector unavailable: " << ev.error().message();
    pid_t first = run_renaming_child();
    // A second child's exec comes after every message of the first: once it is read, nothing
    // the first child caused can still be on its way.
    pid_t marker = run_renaming_child();
    std::vector<RawEvent> all;
    ASSERT_TRUE(collect(ev->fd(), all, [&](const std::vector<RawEvent>& v) {
        return has(v, proc_event::PROC_EVENT_EXEC, marker);
    }));
    EXPECT_TRUE(has(all, proc_event::PROC_EVENT_EXEC, first));
    for (const RawEvent& e : all)
        EXPECT_EQ(e.what, static_cast<std::uint32_t>(proc_event::PROC_EVENT_EXEC))
            << "a message of another kind passed (pid " << e.pid << ")";
    // read() agrees: nothing but exec events.
    pid_t third = run_renaming_child();
    bool third_seen = false;
    ASSERT_TRUE(paff_test::wait_until([&] {
        pollfd p{ev->fd(), POLLIN, 0};
        if (poll(&p, 1, 50) > 0) {
            auto events = ev->read();
            EXPECT_TRUE(events);
            if (!events) return true;
            for (const ProcEvent& e : *events) {
                EXPECT_EQ(e.kind, ProcEvent::Kind::exec);
                if (e.tgid == third) third_seen = true;
            }
        }
        return third_seen;
    }));
}

TEST(ProcEvents, FilterDropsThreadsWhenOnlyProcessesAreAsked) {
    auto ev = ProcEvents::open({.fork = true, .exec = false, .exit = true, .threads = false});
    if (!ev) GTEST_SKIP() << "proc connector unavailable: " << ev.error().message();
    pid_t thread_id = 0;
    std::thread t([&] { thread_id = static_cast<pid_t>(syscall(SYS_gettid)); });
    t.join();
    pid_t marker = run_renaming_child();  // after the thread's fork and exit
    std::vector<RawEvent> all;
    ASSERT_TRUE(collect(ev->fd(), all, [&](const std::vector<RawEvent>& v) {
        return has(v, proc_event::PROC_EVENT_EXIT, marker);
    }));
    ASSERT_NE(thread_id, 0);
    EXPECT_TRUE(has(all, proc_event::PROC_EVENT_FORK, marker));
    for (const RawEvent& e : all) {
        EXPECT_TRUE(e.what == proc_event::PROC_EVENT_FORK || e.what == proc_event::PROC_EVENT_EXIT)
            << "a message of kind 0x" << std::hex << e.what << " passed";
        EXPECT_EQ(e.pid, e.tgid) << "a thread's message passed (kind 0x" << std::hex << e.what << ")";
        EXPECT_NE(e.pid, thread_id);
    }
}

TEST(ProcEvents, ThreadsPassByDefault) {
    auto ev = ProcEvents::open();
    if (!ev) GTEST_SKIP() << "proc connector unavailable: " << ev.error().message();
    pid_t thread_id = 0;
    std::thread t([&] { thread_id = static_cast<pid_t>(syscall(SYS_gettid)); });
    t.join();
    std::vector<RawEvent> all;
    ASSERT_TRUE(collect(ev->fd(), all, [&](const std::vector<RawEvent>& v) {
        return std::any_of(v.begin(), v.end(), [&](const RawEvent& e) {
            return e.what == proc_event::PROC_EVENT_EXIT && e.pid == thread_id && e.tgid == getpid();
        });
    }));
    EXPECT_TRUE(std::any_of(all.begin(), all.end(), [&](const RawEvent& e) {
        return e.what == proc_event::PROC_EVENT_FORK && e.pid == thread_id && e.tgid == getpid();
    }));
}
