// prun --daemon: detached properly, pidfile held under a lock, log reopened on SIGHUP, restart
// policy, exec failures reported to the caller.
#include "prun_support.hpp"

#include <prockit/sys/unique_fd.hpp>

#include <cstring>
#include <fstream>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>

namespace prockit::test {
namespace {

/// Fields of /proc/PID/stat after the command name: state is [0], ppid [1], pgrp [2], session [3],
/// tty_nr [4].
std::vector<std::string> stat_fields(pid_t pid) {
    std::string s = slurp("/proc/" + std::to_string(pid) + "/stat");
    auto rp = s.rfind(')');
    std::vector<std::string> f;
    if (rp == std::string::npos) return f;
    std::istringstream in(s.substr(rp + 2));
    std::string x;
    while (in >> x) f.push_back(x);
    return f;
}

/// Kills a daemon found through its pidfile when the test ends, whatever happened.
struct DaemonReaper {
    std::string pidfile;
    ~DaemonReaper() {
        auto text = slurp(pidfile);
        if (!text.empty()) {
            pid_t pid = std::atoi(text.c_str());
            if (pid > 1) {
                ::kill(pid, SIGTERM);
                eventually([&] { return !alive(pid); }, std::chrono::seconds(10));
                if (alive(pid)) ::kill(pid, SIGKILL);
            }
        }
    }
};

pid_t wait_pidfile(const std::string& path) {
    pid_t pid = 0;
    eventually([&] {
        pid = std::atoi(slurp(path).c_str());
        return pid > 0;
    });
    return pid;
}

TEST(PrunDaemon, DetachesProperly) {
    TempDir d;
    DaemonReaper reaper{d / "pid"};
    auto r = prun({"--daemon", "--pidfile", d / "pid", "--log", d / "log", "--", helper(), "ids", "tty", "cwd", "pause"});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, "");
    pid_t daemon = wait_pidfile(d / "pid");
    ASSERT_GT(daemon, 0);
    ASSERT_TRUE(eventually([&] { return slurp(d / "log").find("cwd=") != std::string::npos; })) << slurp(d / "log");
    auto m = kv(slurp(d / "log"));
    EXPECT_EQ(m["tty"], "no");
    EXPECT_EQ(m["cwd"], "/");
    auto f = stat_fields(daemon);
    ASSERT_GE(f.size(), 5u);
    EXPECT_NE(f[3], std::to_string(daemon)) << "the daemon must not lead its session";
    EXPECT_EQ(f[4], "0") << "no controlling terminal";
    EXPECT_NE(f[1], std::to_string(getpid()));
    EXPECT_EQ(m["sid"], f[3]) << "the command runs in the daemon's new session";
    EXPECT_NE(m["sid"], std::to_string(getsid(0)));

    ASSERT_EQ(::kill(daemon, SIGTERM), 0);
    EXPECT_TRUE(eventually([&] { return !alive(daemon); }));
    pid_t cmd = std::atoi(m["pid"].c_str());
    EXPECT_TRUE(eventually([&] { return !alive(cmd); }));
    EXPECT_TRUE(eventually([&] { return access((d / "pid").c_str(), F_OK) != 0; })) << "pidfile removed at exit";
}

TEST(PrunDaemon, PidfileIsLocked) {
    TempDir d;
    DaemonReaper reaper{d / "pid"};
    ASSERT_EQ(prun({"--daemon", "--pidfile", d / "pid", "--", helper(), "pause"}).code, 0);
    pid_t daemon = wait_pidfile(d / "pid");
    auto r = prun({"--daemon", "--pidfile", d / "pid", "--", helper(), "pause"});
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("prun: cannot lock pidfile " + d.path + "/pid (held by process " + std::to_string(daemon) + ")"),
              std::string::npos)
        << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1);
    EXPECT_EQ(std::atoi(slurp(d / "pid").c_str()), daemon) << "the holder's pidfile is untouched";
}

TEST(PrunDaemon, LogReopenedOnSighup) {
    TempDir d;
    DaemonReaper reaper{d / "pid"};
    ASSERT_EQ(prun({"--daemon", "--pidfile", d / "pid", "--log", d / "log", "--", "sh", "-c",
                    "while :; do echo tick; sleep 0.05; done"})
                  .code,
              0);
    pid_t daemon = wait_pidfile(d / "pid");
    ASSERT_TRUE(eventually([&] { return slurp(d / "log").find("tick") != std::string::npos; }));
    ASSERT_EQ(::rename((d / "log").c_str(), (d / "log.1").c_str()), 0);
    ASSERT_EQ(::kill(daemon, SIGHUP), 0);
    EXPECT_TRUE(eventually([&] { return slurp(d / "log").find("tick") != std::string::npos; }))
        << "no output in the new log";
    EXPECT_TRUE(alive(daemon)) << "SIGHUP must not stop the daemon";
}

TEST(PrunDaemon, RestartPolicyThenGiveUp) {
    TempDir d;
    DaemonReaper reaper{d / "pid"};
    ASSERT_EQ(prun({"--daemon", "--pidfile", d / "pid", "--log", d / "log", "--restart", "on-failure", "--restart-delay",
                    "10ms", "--restart-limit", "3/60s", "--", "sh", "-c", "echo run >> " + (d / "runs") + "; exit 1"})
                  .code,
              0);
    EXPECT_TRUE(eventually([&] { return access((d / "pid").c_str(), F_OK) != 0; })) << "gave up and removed the pidfile";
    EXPECT_EQ(slurp(d / "runs"), "run\nrun\nrun\nrun\n");
    EXPECT_NE(slurp(d / "log").find("restart limit reached"), std::string::npos) << slurp(d / "log");
}

TEST(PrunDaemon, ExecFailureReportedToCaller) {
    TempDir d;
    auto r = prun({"--daemon", "--pidfile", d / "pid", "--", "/nonexistent/daemon"});
    EXPECT_EQ(r.code, 127);
    EXPECT_NE(r.err.find("prun: cannot execute /nonexistent/daemon"), std::string::npos) << r.err;
    EXPECT_TRUE(eventually([&] { return access((d / "pid").c_str(), F_OK) != 0; }));
    EXPECT_EQ(prun({"--daemon", "-j2", "echo", ":::", "a"}).code, 255);  // a usage error in a pool
}

TEST(PrunDaemon, TellsSystemdItIsReadyNamingTheGuardian) {
    // A Type=notify service: systemd's NOTIFY_SOCKET is a datagram socket bound here.
    TempDir d;
    DaemonReaper reaper{d / "pid"};
    unique_fd sock(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    ASSERT_TRUE(sock);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    const std::string path = d / "notify";
    ASSERT_LT(path.size(), sizeof a.sun_path);
    std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
    ASSERT_EQ(::bind(sock.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0) << std::strerror(errno);
    auto r = run_program(prun_path(), {"--daemon", "--pidfile", d / "pid", "--", helper(), "pause"}, {},
                         std::chrono::seconds(60), [&](Command& c) { c.env("NOTIFY_SOCKET", path); });
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.err, "");
    pollfd p{sock.get(), POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 20000), 1) << "no datagram on NOTIFY_SOCKET";
    char buf[512];
    auto n = ::recv(sock.get(), buf, sizeof buf, 0);
    ASSERT_GT(n, 0);
    pid_t daemon = wait_pidfile(d / "pid");
    EXPECT_EQ(std::string(buf, static_cast<size_t>(n)), "READY=1\nMAINPID=" + std::to_string(daemon))
        << "the PID systemd should watch is the one the pidfile names";
    EXPECT_TRUE(alive(daemon));
}

TEST(PrunDaemon, NoReadinessWhenTheCommandCannotStart) {
    TempDir d;
    unique_fd sock(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    ASSERT_TRUE(sock);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    const std::string path = d / "notify";
    std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
    ASSERT_EQ(::bind(sock.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    auto r = run_program(prun_path(), {"--daemon", "--", "/nonexistent/daemon"}, {}, std::chrono::seconds(60),
                         [&](Command& c) { c.env("NOTIFY_SOCKET", path); });
    EXPECT_EQ(r.code, 127) << r.err;
    // The verdict reached the caller, so a READY=1 (sent before it) would be queued by now.
    char buf[64];
    EXPECT_LT(::recv(sock.get(), buf, sizeof buf, 0), 0) << "READY=1 for a command that never ran";
}

}  // namespace
}  // namespace prockit::test
