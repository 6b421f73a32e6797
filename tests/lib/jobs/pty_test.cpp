// The pty pieces: a pair that works, raw mode that is restored, window sizes, the scrollback ring,
// and the relay step (non-blocking, short writes, EOF/EIO, back-pressure).
#include "support.hpp"

#include <prockit/jobs/pty.hpp>
#include <prockit/process/command.hpp>
#include <prockit/sys/syscall.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <termios.h>

using namespace prockit;
using namespace prockit::test;

namespace {

/// Reads `fd` until `want` has appeared in what was read, or 30 s pass.
std::string read_until(int fd, const std::string& want, std::chrono::seconds limit = std::chrono::seconds(30)) {
    std::string got;
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (got.find(want) == std::string::npos) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) break;
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
        char buf[4096];
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n <= 0) break;
        got.append(buf, static_cast<size_t>(n));
    }
    return got;
}

/// Reads what `fd` (O_NONBLOCK) has now.
std::string read_all_nonblocking(int fd) {
    std::string got;
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return got;
        got.append(buf, static_cast<size_t>(n));
    }
}

}  // namespace

TEST(Pty, PairPassesBytesBothWays) {
    auto pty = open_pty();
    ASSERT_TRUE(pty) << pty.error().message();
    EXPECT_EQ(pty->slave_path.rfind("/dev/pts/", 0), 0u) << pty->slave_path;
    EXPECT_TRUE(::fcntl(pty->master.get(), F_GETFD) & FD_CLOEXEC);
    EXPECT_TRUE(::fcntl(pty->slave.get(), F_GETFD) & FD_CLOEXEC);
    EXPECT_TRUE(::isatty(pty->slave.get()));
    ASSERT_TRUE(write_all(pty->master.get(), "hello\n"));  // canonical mode: a line reaches the slave
    EXPECT_EQ(read_line(pty->slave.get()), "hello");
    ASSERT_TRUE(write_all(pty->slave.get(), "back\n"));
    EXPECT_NE(read_until(pty->master.get(), "back").find("back"), std::string::npos);
}

TEST(Pty, SizeAndModesAreSetBeforeUse) {
    struct termios t {};
    {
        auto probe = open_pty();
        ASSERT_TRUE(probe);
        ASSERT_EQ(::tcgetattr(probe->slave.get(), &t), 0);
    }
    t.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    auto pty = open_pty(WindowSize{40, 132, 0, 0}, &t);
    ASSERT_TRUE(pty) << pty.error().message();
    auto ws = window_size(pty->slave.get());
    ASSERT_TRUE(ws) << ws.error().message();
    EXPECT_EQ(*ws, (WindowSize{40, 132, 0, 0}));
    struct termios now {};
    ASSERT_EQ(::tcgetattr(pty->slave.get(), &now), 0);
    EXPECT_FALSE(now.c_lflag & ECHO);

    ASSERT_TRUE(set_window_size(pty->master.get(), WindowSize{50, 100, 0, 0}));
    EXPECT_EQ(window_size(pty->slave.get()).value(), (WindowSize{50, 100, 0, 0}));
}

TEST(Pty, WindowSizeOfANonTerminalIsENOTTY) {
    int p[2];
    ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
    unique_fd r(p[0]), w(p[1]);
    auto ws = window_size(r.get());
    ASSERT_FALSE(ws);
    EXPECT_EQ(ws.error().errno_value(), ENOTTY);
    auto raw = RawMode::enter(r.get());
    ASSERT_FALSE(raw);
    EXPECT_EQ(raw.error().errno_value(), ENOTTY);
}

TEST(Pty, RawModeIsRestoredOnDestructionAndOnce) {
    auto pty = open_pty();
    ASSERT_TRUE(pty);
    int s = pty->slave.get();
    struct termios before {};
    ASSERT_EQ(::tcgetattr(s, &before), 0);
    ASSERT_TRUE(before.c_lflag & ICANON);
    {
        auto raw = RawMode::enter(s);
        ASSERT_TRUE(raw) << raw.error().message();
        struct termios during {};
        ASSERT_EQ(::tcgetattr(s, &during), 0);
        EXPECT_FALSE(during.c_lflag & (ICANON | ECHO | ISIG));
        EXPECT_FALSE(during.c_oflag & OPOST);
        RawMode moved = std::move(*raw);  // the moved-from one must not restore
        EXPECT_FALSE(raw->active());
        EXPECT_TRUE(moved.active());
        ASSERT_EQ(::tcgetattr(s, &during), 0);
        EXPECT_FALSE(during.c_lflag & ICANON);
        // An early restore (an error path) wins; a later change is not undone by the destructor.
        ASSERT_TRUE(moved.restore());
        struct termios after {};
        ASSERT_EQ(::tcgetattr(s, &after), 0);
        EXPECT_TRUE(after.c_lflag & ICANON);
        after.c_lflag &= ~static_cast<tcflag_t>(ECHO);
        ASSERT_EQ(::tcsetattr(s, TCSANOW, &after), 0);
    }
    struct termios end {};
    ASSERT_EQ(::tcgetattr(s, &end), 0);
    EXPECT_TRUE(end.c_lflag & ICANON);
    EXPECT_FALSE(end.c_lflag & ECHO);  // the destructor did not restore a second time
    {
        auto raw = RawMode::enter(s);
        ASSERT_TRUE(raw);
    }
    ASSERT_EQ(::tcgetattr(s, &end), 0);
    EXPECT_TRUE(end.c_lflag & ICANON);
}

TEST(Scrollback, KeepsTheLastBytesInOrder) {
    Scrollback sb(8);
    EXPECT_EQ(sb.contents(), "");
    EXPECT_FALSE(sb.truncated());
    sb.append("abc");
    EXPECT_EQ(sb.contents(), "abc");
    sb.append("defgh");
    EXPECT_EQ(sb.contents(), "abcdefgh");
    EXPECT_FALSE(sb.truncated());
    sb.append("ij");  // wraps
    EXPECT_EQ(sb.contents(), "cdefghij");
    EXPECT_TRUE(sb.truncated());
    EXPECT_EQ(sb.total_written(), 10u);
    sb.append("klmnopqrstuvwxyz");  // longer than the capacity: only its tail
    EXPECT_EQ(sb.contents(), "stuvwxyz");
    sb.append("0");
    EXPECT_EQ(sb.contents(), "tuvwxyz0");
    EXPECT_EQ(sb.size(), 8u);
    sb.clear();
    EXPECT_EQ(sb.contents(), "");
}

TEST(Scrollback, MatchesTheTailOfEverythingForManySplits) {
    std::string all;
    Scrollback sb(37);
    unsigned x = 12345;
    for (int i = 0; i < 2000; ++i) {
        x = x * 1103515245u + 12345u;
        std::string chunk((x >> 16) % 50, static_cast<char>('a' + i % 26));
        sb.append(chunk);
        all += chunk;
        ASSERT_EQ(sb.contents(), all.substr(all.size() > 37 ? all.size() - 37 : 0)) << "after chunk " << i;
    }
}

TEST(Relay, CopiesAJobsOutputAndSeesTheEnd) {
    auto pty = open_pty();
    ASSERT_TRUE(pty);
    ASSERT_TRUE(set_nonblocking(pty->master.get()));
    int p[2];
    ASSERT_EQ(::pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
    unique_fd r(p[0]), w(p[1]);
    auto child = Command("sh").args({"-c", "echo one; echo two"}).new_session()
                     .in(Stdio::fd(pty->slave.get())).out(Stdio::fd(pty->slave.get()))
                     .err(Stdio::fd(pty->slave.get())).controlling_terminal(0).spawn();
    ASSERT_TRUE(child) << child.error().message();
    pty->slave.reset();
    Scrollback sb(4);
    RelayChannel out(pty->master.get(), w.get());
    out.tap(&sb);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!(out.source_closed() && out.drained()) && std::chrono::steady_clock::now() < deadline) {
        pollfd pf{pty->master.get(), POLLIN, 0};
        ::poll(&pf, 1, 1000);
        auto st = out.step();
        ASSERT_TRUE(st) << st.error().message();
    }
    EXPECT_TRUE(out.source_closed());  // EIO from the master once the slave is closed everywhere
    std::string got = read_all_nonblocking(r.get());
    EXPECT_EQ(got, "one\r\ntwo\r\n");
    EXPECT_EQ(sb.contents(), "wo\r\n");
    EXPECT_EQ(sb.total_written(), got.size());
    EXPECT_TRUE(child->wait().value().success());
}

TEST(Relay, ShortWritesAndBackPressureLoseNothing) {
    int a[2], b[2];
    ASSERT_EQ(::pipe2(a, O_CLOEXEC | O_NONBLOCK), 0);
    ASSERT_EQ(::pipe2(b, O_CLOEXEC | O_NONBLOCK), 0);
    unique_fd src_r(a[0]), src_w(a[1]), sink_r(b[0]), sink_w(b[1]);
    ASSERT_GE(::fcntl(sink_w.get(), F_SETPIPE_SZ, 4096), 0);
    std::string data;
    for (int i = 0; data.size() < 40000; ++i) data += std::to_string(i) + ",";
    RelayChannel ch(src_r.get(), sink_w.get(), 1000);
    std::string got;
    std::size_t sent = 0;
    while (got.size() < data.size()) {
        if (sent < data.size()) {  // the producer writes what the source pipe takes
            ssize_t n = ::write(src_w.get(), data.data() + sent, data.size() - sent);
            if (n > 0) sent += static_cast<std::size_t>(n);
            if (sent == data.size()) src_w.reset();
        }
        auto st = ch.step();
        ASSERT_TRUE(st) << st.error().message();
        EXPECT_LE(ch.pending(), 1000u);
        if (ch.pending() == 1000u) {
            EXPECT_FALSE(ch.want_read());  // full: stop reading
        }
        got += read_all_nonblocking(sink_r.get());  // the consumer reads at its own pace
    }
    EXPECT_EQ(got, data);
    auto st = ch.step();
    ASSERT_TRUE(st);
    EXPECT_TRUE(ch.source_closed());
    EXPECT_TRUE(ch.drained());
}

TEST(Relay, WithoutASinkOutputIsTappedAndDropped) {
    int a[2];
    ASSERT_EQ(::pipe2(a, O_CLOEXEC | O_NONBLOCK), 0);
    unique_fd r(a[0]), w(a[1]);
    Scrollback sb(100);
    RelayChannel ch(r.get(), -1, 16);
    ch.tap(&sb);
    std::string data(1000, 'x');
    data += "end";
    ASSERT_TRUE(write_all(w.get(), data));
    auto st = ch.step();
    ASSERT_TRUE(st);
    EXPECT_EQ(st->read, data.size());
    EXPECT_FALSE(ch.want_write());
    EXPECT_EQ(sb.total_written(), data.size());
    EXPECT_EQ(sb.contents(), data.substr(data.size() - 100));
    // Attach: from now on bytes reach the new sink.
    int b[2];
    ASSERT_EQ(::pipe2(b, O_CLOEXEC | O_NONBLOCK), 0);
    unique_fd sr(b[0]), sw(b[1]);
    ch.set_sink(sw.get());
    ASSERT_TRUE(write_all(w.get(), "live"));
    ASSERT_TRUE(ch.step());
    EXPECT_EQ(read_all_nonblocking(sr.get()), "live");
}

TEST(Relay, ReopenedTerminalIsNonBlockingAlone) {
    auto pty = open_pty();
    ASSERT_TRUE(pty);
    auto fd = reopen_nonblocking(pty->slave.get());
    ASSERT_TRUE(fd) << fd.error().message();
    EXPECT_TRUE(::fcntl(fd->get(), F_GETFL) & O_NONBLOCK);
    EXPECT_FALSE(::fcntl(pty->slave.get(), F_GETFL) & O_NONBLOCK);  // the original is untouched
    EXPECT_TRUE(::fcntl(fd->get(), F_GETFD) & FD_CLOEXEC);
    char c;
    EXPECT_EQ(::read(fd->get(), &c, 1), -1);
    EXPECT_EQ(errno, EAGAIN);
}

TEST(Pty, ResizingTheMasterTellsTheForegroundJob) {
    auto pty = open_pty(WindowSize{24, 80, 0, 0});
    ASSERT_TRUE(pty);
    auto child = Command("sh").args({"-c", "trap 'stty size; exit 0' WINCH; echo ready; while :; do sleep 1; done"})
                     .new_session().in(Stdio::fd(pty->slave.get())).out(Stdio::fd(pty->slave.get()))
                     .err(Stdio::fd(pty->slave.get())).controlling_terminal(0).spawn();
    ASSERT_TRUE(child) << child.error().message();
    pty->slave.reset();
    std::string seen = read_until(pty->master.get(), "ready");
    ASSERT_NE(seen.find("ready"), std::string::npos) << seen;
    ASSERT_TRUE(set_window_size(pty->master.get(), WindowSize{33, 77, 0, 0}));
    seen = read_until(pty->master.get(), "33 77");
    EXPECT_NE(seen.find("33 77"), std::string::npos) << seen;
    EXPECT_TRUE(child->wait().value().success());
}
