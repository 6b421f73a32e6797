// EventLoop: descriptors with callbacks, timers, signals through a signalfd.
#include "support.hpp"

#include <prockit/supervise/event_loop.hpp>
#include <prockit/sys/syscall.hpp>

#include <fcntl.h>

using namespace prockit;
using namespace prockit::test;
using namespace std::chrono_literals;

namespace {

/// Runs rounds until `done` or a generous deadline; false on the deadline.
template <class F>
bool run_until(EventLoop& loop, F done, std::chrono::seconds limit = 30s) {
    auto deadline = EventLoop::Clock::now() + limit;
    while (!done()) {
        if (EventLoop::Clock::now() > deadline) return false;
        EXPECT_TRUE(loop.run_once(deadline));
    }
    return true;
}

struct Fds {
    int r = -1, w = -1;
    Fds() {
        int p[2];
        EXPECT_EQ(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
        r = p[0];
        w = p[1];
    }
    ~Fds() {
        if (r >= 0) ::close(r);
        if (w >= 0) ::close(w);
    }
};

}  // namespace

class EventLoopTest : public NoLeaks {};

TEST_F(EventLoopTest, ExtraFdCallbackGetsDataAndEof) {
    EventLoop loop;
    Fds p;
    std::string got;
    bool eof = false;
    EventLoop::Id id = loop.watch(p.r, POLLIN, [&](short) {
        char buf[64];
        ssize_t n = ::read(p.r, buf, sizeof buf);
        if (n > 0) got.append(buf, static_cast<std::size_t>(n));
        if (n == 0) {
            eof = true;
            loop.unwatch(id);  // from inside its own callback
        }
    });
    ASSERT_TRUE(write_all(p.w, "hello"));
    ASSERT_TRUE(run_until(loop, [&] { return got == "hello"; }));
    ::close(p.w);
    p.w = -1;
    ASSERT_TRUE(run_until(loop, [&] { return eof; })) << "EOF (the guardian-lost case) reaches the callback";
    EXPECT_EQ(loop.watched(), 0U);
}

TEST_F(EventLoopTest, TimersRunInOrderAndCanBeCancelled) {
    EventLoop loop;
    std::vector<int> order;
    auto now = EventLoop::Clock::now();
    loop.at(now + 20ms, [&] { order.push_back(2); });
    loop.at(now + 10ms, [&] { order.push_back(1); });
    auto gone = loop.at(now + 15ms, [&] { order.push_back(99); });
    loop.cancel(gone);
    ASSERT_TRUE(run_until(loop, [&] { return order.size() == 2; }));
    EXPECT_EQ(order, (std::vector<int>{1, 2}));
    EXPECT_EQ(loop.timers(), 0U);
}

TEST_F(EventLoopTest, ATimerAddedByATimerRunsLater) {
    EventLoop loop;
    int fired = 0;
    loop.after(0ms, [&] {
        ++fired;
        loop.after(0ms, [&] { ++fired; });
    });
    ASSERT_TRUE(loop.run_once());
    EXPECT_EQ(fired, 1);
    ASSERT_TRUE(run_until(loop, [&] { return fired == 2; }));
}

TEST_F(EventLoopTest, SignalsArriveWithTheirSenderAndTheMaskIsRestored) {
    sigset_t before;
    ASSERT_EQ(sigprocmask(SIG_BLOCK, nullptr, &before), 0);
    ASSERT_FALSE(sigismember(&before, SIGUSR1));
    {
        EventLoop loop;
        std::vector<signalfd_siginfo> seen;
        ASSERT_TRUE(loop.watch_signals({SIGUSR1, SIGUSR2}, [&](const signalfd_siginfo& si) { seen.push_back(si); }));
        EXPECT_GE(loop.signal_fd(), 0);
        ASSERT_EQ(::kill(getpid(), SIGUSR1), 0);
        ASSERT_TRUE(run_until(loop, [&] { return !seen.empty(); }));
        EXPECT_EQ(seen[0].ssi_signo, static_cast<unsigned>(SIGUSR1));
        EXPECT_EQ(seen[0].ssi_pid, static_cast<unsigned>(getpid())) << "the sender, for filtering";
        EXPECT_EQ(seen[0].ssi_code, SI_USER);
        // A signal from a child: its PID comes with it.
        auto c = helper_cmd({"exit", "0"}).spawn().value();
        ASSERT_TRUE(c.wait());
        Command kill_cmd("/bin/sh");
        kill_cmd.args({"-c", "kill -USR2 " + std::to_string(getpid()) + "; echo $$"}).out(Stdio::pipe());
        auto k = kill_cmd.spawn().value();
        std::string pid = read_line(k.stdout_pipe().get());
        ASSERT_TRUE(k.wait());
        ASSERT_TRUE(run_until(loop, [&] { return seen.size() == 2; }));
        EXPECT_EQ(seen[1].ssi_signo, static_cast<unsigned>(SIGUSR2));
        EXPECT_EQ(std::to_string(seen[1].ssi_pid), pid);
    }
    sigset_t after;
    ASSERT_EQ(sigprocmask(SIG_BLOCK, nullptr, &after), 0);
    EXPECT_FALSE(sigismember(&after, SIGUSR1)) << "the loop's destructor restores the mask";
    EXPECT_FALSE(sigismember(&after, SIGUSR2));
}

TEST_F(EventLoopTest, TheMaskCanBeKeptForAProgramOnItsWayOut) {
    sigset_t before;
    ASSERT_EQ(sigprocmask(SIG_BLOCK, nullptr, &before), 0);
    ASSERT_FALSE(sigismember(&before, SIGUSR2));
    {
        EventLoop loop;
        ASSERT_TRUE(loop.watch_signals({SIGUSR2}, [](const signalfd_siginfo&) {}, EventLoop::MaskOnExit::keep));
    }
    sigset_t after;
    ASSERT_EQ(sigprocmask(SIG_BLOCK, nullptr, &after), 0);
    EXPECT_TRUE(sigismember(&after, SIGUSR2)) << "still blocked";
    ASSERT_EQ(sigprocmask(SIG_SETMASK, &before, nullptr), 0);
}
