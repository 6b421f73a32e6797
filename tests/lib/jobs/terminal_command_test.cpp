// Command's terminal additions: a child in a new session with a pty slave as its controlling
// terminal, and a child made the terminal's foreground group at birth — also by a caller that is
// in the terminal's background (no SIGTTOU stops it).
#include "support.hpp"

#include <prockit/jobs/pty.hpp>
#include <prockit/process/command.hpp>
#include <prockit/process/process.hpp>
#include <prockit/sys/signals.hpp>
#include <prockit/sys/syscall.hpp>

#include <sys/ioctl.h>
#include <termios.h>

using namespace prockit;
using namespace prockit::test;

namespace {

Command on_pty(Command c, int slave) {
    c.new_session().in(Stdio::fd(slave)).out(Stdio::fd(slave)).err(Stdio::fd(slave)).controlling_terminal(0);
    return c;
}

std::string value_of(const std::string& text, const std::string& key) {
    auto i = text.find(key + "=");
    if (i == std::string::npos) return {};
    i += key.size() + 1;
    auto e = text.find_first_of("\r\n", i);
    return text.substr(i, e - i);
}

std::string read_pty_until_eof(int master) {
    std::string got;
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(master, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return got;  // EIO once the child's copies of the slave are closed
        got.append(buf, static_cast<size_t>(n));
    }
}

}  // namespace

TEST(TerminalCommand, NewSessionWithTheSlaveAsControllingTerminal) {
    auto pty = open_pty();
    ASSERT_TRUE(pty) << pty.error().message();
    auto child = on_pty(helper_cmd({"tty", "ids"}), pty->slave.get()).spawn();
    ASSERT_TRUE(child) << child.error().message();
    pty->slave.reset();
    std::string out = read_pty_until_eof(pty->master.get());
    EXPECT_TRUE(child->wait().value().success());
    EXPECT_NE(out.find("tty=yes"), std::string::npos) << out;
    std::string pid = std::to_string(child->pid());
    EXPECT_EQ(value_of(out, "pid"), pid) << out;
    EXPECT_EQ(value_of(out, "sid"), pid) << out;
    EXPECT_EQ(value_of(out, "pgid"), pid) << out;
}

TEST(TerminalCommand, ControllingTerminalNeedsANewSession) {
    auto pty = open_pty();
    ASSERT_TRUE(pty);
    auto child = helper_cmd({"ids"}).in(Stdio::fd(pty->slave.get())).controlling_terminal(0).spawn();
    ASSERT_FALSE(child);
    EXPECT_EQ(child.error().stage(), SpawnStage::prepare);
    EXPECT_EQ(child.error().errno_value(), EINVAL);
}

TEST(TerminalCommand, ATerminalOfAnotherSessionIsRefusedAtTheTerminalStage) {
    auto pty = open_pty();
    ASSERT_TRUE(pty);
    auto first = on_pty(helper_cmd({"sleep", "60"}), pty->slave.get()).spawn();
    ASSERT_TRUE(first) << first.error().message();
    auto second = on_pty(helper_cmd({"ids"}), pty->slave.get()).spawn();
    ASSERT_FALSE(second);
    EXPECT_EQ(second.error().stage(), SpawnStage::terminal);
    EXPECT_EQ(second.error().errno_value(), EPERM);
    EXPECT_NE(second.error().message().find("controlling terminal"), std::string::npos) << second.error().message();
    (void)first->kill();
    (void)first->wait();
}

// In a session of its own that owns a pty (a login shell's position), the test process starts a
// child in the foreground, then — now in the background itself — another one, then takes the
// terminal back. Failures are reported as exit codes of the forked process.
TEST(TerminalCommand, ForegroundAtBirthEvenFromTheBackground) {
    auto pty = open_pty();
    ASSERT_TRUE(pty);
    std::string slave_path = pty->slave_path;
    Process shell([&] {
        if (::setsid() < 0) return 10;
        auto tty = open_fd(slave_path, O_RDWR);
        if (!tty || ::ioctl(tty->get(), TIOCSCTTY, 0) != 0) return 11;
        int t = tty->get();
        auto a = helper_cmd({"sleep", "60"}).new_process_group().foreground(t).spawn();
        if (!a) return 12;
        if (::tcgetpgrp(t) != a->pid()) return 13;
        // Now in the background: a plain tcsetpgrp here would stop us; the child's does not.
        auto b = helper_cmd({"sleep", "60"}).new_process_group().foreground(t).spawn();
        if (!b) return 14;
        if (::tcgetpgrp(t) != b->pid()) return 15;
        if (::getpgid(b->pid()) != b->pid()) return 16;  // the group, from the parent's view too
        {
            SignalMaskGuard no_ttou{SIGTTOU};
            if (::tcsetpgrp(t, ::getpgrp()) != 0) return 17;
        }
        if (::tcgetpgrp(t) != ::getpgrp()) return 18;
        (void)a->kill();
        (void)b->kill();
        (void)a->wait();
        (void)b->wait();
        return 0;
    });
    shell.start();
    shell.join();
    EXPECT_EQ(shell.exitcode(), 0);
}

TEST(TerminalCommand, JoinedGroupMembersShareTheLeadersGroup) {
    auto leader = helper_cmd({"sleep", "60"}).new_process_group().spawn();
    ASSERT_TRUE(leader);
    Ran r = run(helper_cmd({"ids"}).join_process_group(leader->pid()));
    EXPECT_EQ(r.kv["pgid"], std::to_string(leader->pid()));
    (void)leader->kill();
    (void)leader->wait();
}
