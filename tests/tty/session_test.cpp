// Spawning and controlling terminals, driven through a pseudo-terminal: a child in a session that
// owns a pty sees it as its controlling terminal; new_session() takes that away.
#include "support.hpp"

#include <prockit/process/command.hpp>
#include <prockit/process/process.hpp>
#include <prockit/sys/syscall.hpp>

#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <termios.h>

using namespace prockit;
using namespace prockit::test;

namespace {
// Runs `cmd` with stdout on a pipe and returns what it printed (in the child process, so no gtest).
std::string output_of(Command cmd) {
    cmd.out(Stdio::pipe());
    auto c = cmd.spawn();
    if (!c) return "spawn failed: " + c.error().message();
    std::string out = read_all(c->stdout_pipe().get());
    (void)c->wait();
    return out;
}
}  // namespace

TEST(Tty, NewSessionDropsTheControllingTerminal) {
    int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0) GTEST_SKIP() << "no pseudo-terminals here (posix_openpt: " << std::strerror(errno) << ")";
    unique_fd m(master);
    ASSERT_EQ(grantpt(master), 0);
    ASSERT_EQ(unlockpt(master), 0);
    std::string slave = ptsname(master);

    int p[2];
    ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
    unique_fd r(p[0]), w(p[1]);
    // A session leader that owns the pty, as a login shell would; it reports what its children see.
    Process leader([&] {
        if (setsid() < 0) return 10;
        int s = ::open(slave.c_str(), O_RDWR | O_CLOEXEC);
        if (s < 0 || ioctl(s, TIOCSCTTY, 0) != 0) return 11;
        std::string report = "inherit:" + output_of(Command(helper()).args({"tty"})) +
                             "session:" + output_of(Command(helper()).args({"tty"}).new_session()) +
                             "group:" + output_of(Command(helper()).args({"ids"}).new_process_group());
        pid_t fg = tcgetpgrp(s);
        report += "foreground=" + std::to_string(fg) + "\nleader=" + std::to_string(getpid()) + "\n";
        (void)write_all(w.get(), report);
        return 0;
    });
    leader.start();
    leader.join();
    w.reset();
    ASSERT_EQ(leader.exitcode(), 0);
    std::string report = read_all(r.get());
    EXPECT_NE(report.find("inherit:tty=yes\n"), std::string::npos) << report;
    EXPECT_NE(report.find("session:tty=no\n"), std::string::npos) << report;
    // The new group is a background group of the terminal: the foreground is still the leader's.
    auto at = [&](const std::string& key) {
        auto i = report.find(key + "=");
        return i == std::string::npos ? std::string() : report.substr(i + key.size() + 1, report.find('\n', i) - i - key.size() - 1);
    };
    EXPECT_EQ(at("foreground"), at("leader")) << report;
    EXPECT_NE(at("pgid"), at("foreground")) << report;
    EXPECT_EQ(at("pgid"), at("pid")) << report;
}
