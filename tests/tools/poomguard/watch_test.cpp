// poomguard watch: catches a matching exec and the forks of a covered process (waiting with
// deadlines), --dry-run changes nothing, SIGHUP reloads, a bad rule is reported while the good ones
// work, --once applies and exits; check-config and audit on real processes.
#include "watch_support.hpp"

#include <prockit/proc/events.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

using namespace prockit;
using namespace prockit::test;

namespace {

// A leader (a copy of bash with a path of its own) that starts two sleeping children.
struct Family {
    Child leader;
    explicit Family(const std::string& shell) {
        Command c(shell);
        c.args({"-c", "sleep 60 & sleep 60 & wait"}).in(Stdio::null());
        c.on_destroy(DestroyPolicy::kill_tree, std::chrono::seconds(0));
        auto ch = c.spawn();
        EXPECT_TRUE(ch) << (ch ? "" : ch.error().message());
        if (ch) leader = std::move(*ch);
    }
    std::vector<pid_t> children() const { return children_of_pid(leader.pid()); }
};

bool adj_is(pid_t pid, int v) { return adj_of(pid) == v; }

std::string rule_text(const std::string& exe, const std::string& values) {
    return "[family]\nmatch.exe = " + exe + "\n" + values;
}

bool have_events() { return static_cast<bool>(proc::ProcEvents::open()); }

}  // namespace

TEST(PoomguardWatch, CatchesExecAndForks) {
    Scratch d;
    std::string shell = d.copy_program("/bin/bash", "pgw-lead");
    write_file(d / "rules.conf", rule_text(shell, "leader = 600\nchildren = 300\n"));
    Background w(d, {"watch", "--config", d / "rules.conf"});
    ASSERT_TRUE(w.ready()) << w.err();
    if (have_events()) {
        EXPECT_NE(w.err().find("with process events"), std::string::npos) << w.err();
    }

    Family f(shell);  // exec of a matching program: a leader
    ASSERT_TRUE(eventually([&] { return adj_is(f.leader.pid(), 600); }, std::chrono::seconds(20)))
        << "leader at " << adj_of(f.leader.pid()).value_or(-9999) << "\n" << w.err();
    ASSERT_TRUE(eventually([&] { return f.children().size() == 2; }, std::chrono::seconds(20)));
    for (pid_t c : f.children())  // forks of the leader: its children (then exec'd into sleep)
        EXPECT_TRUE(eventually([&] { return adj_is(c, 300); }, std::chrono::seconds(20)))
            << "child " << c << " at " << adj_of(c).value_or(-9999);
    std::string log = w.out();
    EXPECT_NE(log.find("pid " + std::to_string(f.leader.pid()) + " (pgw-lead): oom_score_adj 0 -> 600 (rule family, leader)"),
              std::string::npos)
        << log;
    EXPECT_NE(log.find("-> 300 (rule family, child)"), std::string::npos) << log;
    EXPECT_EQ(w.stop(SIGTERM), 0);
}

// Without the proc connector (an unprivileged user cannot subscribe to it), watch rescans /proc
// every --interval: the user's own processes still get their values, those started after the
// first scan too, and the children of a leader theirs; another user's process is left alone.
TEST(PoomguardWatch, ScansProcWhenTheConnectorIsRefused) {
    if (access("/usr/bin/setpriv", X_OK) != 0) GTEST_SKIP() << "needs setpriv to run as another user";
    auto user = unprivileged_user();
    if (!user) GTEST_SKIP() << "needs root to create and become the test user prockit-test-u";
    Scratch d;
    ASSERT_EQ(chmod(d.path.c_str(), 0755), 0);  // the user reads the rules and runs the program
    std::string shell = d.copy_program("/bin/bash", "pgw-scan");
    write_file(d / "rules.conf", rule_text(shell, "leader = 600\nchildren = 700\n"));
    ASSERT_EQ(chmod((d / "rules.conf").c_str(), 0644), 0);
    auto start = [&](std::vector<std::string> argv) {
        Command c(argv.front());
        c.args(std::vector<std::string>(argv.begin() + 1, argv.end())).in(Stdio::null()).out(Stdio::null());
        c.on_destroy(DestroyPolicy::kill_tree, std::chrono::seconds(0));
        auto ch = c.spawn();
        EXPECT_TRUE(ch) << (ch ? "" : ch.error().message());
        return ch ? std::move(*ch) : Child();
    };
    const std::vector<std::string> family{shell, "-c", "sleep 60 & sleep 60 & wait"};
    Child before = start(as_user(*user, family));  // there at the first scan
    Child root_owned = start(family);                // the same program, another user's

    Background w(d, {"watch", "--config", d / "rules.conf", "--interval", "100ms"}, "watch", {}, as_user(*user, {}));
    ASSERT_TRUE(w.ready()) << w.err();
    EXPECT_NE(w.err().find("watching 1 rule with a /proc scan every 100ms ("), std::string::npos) << w.err();
    EXPECT_TRUE(eventually([&] { return adj_is(before.pid(), 600); }, std::chrono::seconds(20)))
        << "leader at " << adj_of(before.pid()).value_or(-9999) << "\n" << w.err();

    // Started after the first scan: only a later scan can find it.
    Child after = start(as_user(*user, family));
    EXPECT_TRUE(eventually([&] { return adj_is(after.pid(), 600); }, std::chrono::seconds(20)))
        << "leader at " << adj_of(after.pid()).value_or(-9999) << "\n" << w.err();
    ASSERT_TRUE(eventually([&] { return children_of_pid(after.pid()).size() == 2; }, std::chrono::seconds(20)));
    for (pid_t c : children_of_pid(after.pid()))
        EXPECT_TRUE(eventually([&] { return adj_is(c, 700); }, std::chrono::seconds(20)))
            << "child " << c << " at " << adj_of(c).value_or(-9999);
    EXPECT_NE(w.out().find("pid " + std::to_string(after.pid()) + " (pgw-scan): oom_score_adj 0 -> 600 (rule family, leader)"),
              std::string::npos)
        << w.out();

    EXPECT_EQ(adj_of(root_owned.pid()), 0);  // not its to change, and watch goes on
    EXPECT_TRUE(w.child().valid());
    EXPECT_EQ(w.stop(SIGTERM), 0) << w.err();
}

// A Type=notify service: READY=1 once the first full scan is done, RELOADING=1 then READY=1 around
// a SIGHUP reload, STOPPING=1 at the end (systemd's NOTIFY_SOCKET, a datagram socket bound here).
TEST(PoomguardWatch, TellsSystemdWhenReadyReloadingAndStopping) {
    Scratch d;
    unique_fd sock(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    ASSERT_TRUE(sock);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    const std::string path = d / "notify";
    ASSERT_LT(path.size(), sizeof a.sun_path);
    std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
    ASSERT_EQ(::bind(sock.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0) << std::strerror(errno);
    auto next = [&]() -> std::string {
        pollfd p{sock.get(), POLLIN, 0};
        if (::poll(&p, 1, 30000) != 1) return "(no datagram within 30 s)";
        char buf[512];
        auto n = ::recv(sock.get(), buf, sizeof buf, 0);
        return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "(recv failed)";
    };
    std::string shell = d.copy_program("/bin/bash", "pgw-notify");
    write_file(d / "rules.conf", rule_text(shell, "leader = 600\n"));
    Background w(d, {"watch", "--config", d / "rules.conf"}, "watch", {{"NOTIFY_SOCKET", path}});
    std::string status = next();
    EXPECT_EQ(status.rfind("STATUS=watching 1 rule with ", 0), 0u) << status;
    EXPECT_EQ(next(), "READY=1");
    ASSERT_TRUE(w.ready()) << w.err();
    ASSERT_TRUE(w.child().send_signal(SIGHUP));
    std::string reloading = next();
    EXPECT_EQ(reloading.rfind("RELOADING=1", 0), 0u) << reloading;
    EXPECT_EQ(next(), "READY=1");
    EXPECT_EQ(w.stop(SIGTERM), 0);
    EXPECT_EQ(next(), "STOPPING=1");
}

TEST(PoomguardWatch, DryRunChangesNothing) {
    Scratch d;
    std::string shell = d.copy_program("/bin/bash", "pgw-dry");
    write_file(d / "rules.conf", rule_text(shell, "leader = 600\nchildren = 300\n"));
    Background w(d, {"watch", "--dry-run", "--config", d / "rules.conf"});
    ASSERT_TRUE(w.ready()) << w.err();
    Family f(shell);
    std::string want = "would set pid " + std::to_string(f.leader.pid()) + " (pgw-dry): oom_score_adj 0 -> 600";
    ASSERT_TRUE(eventually([&] { return w.out().find(want) != std::string::npos; }, std::chrono::seconds(20)))
        << w.out() << w.err();
    ASSERT_TRUE(eventually([&] { return f.children().size() == 2; }, std::chrono::seconds(20)));
    ASSERT_TRUE(eventually([&] {
                    std::string o = w.out();
                    return std::count(o.begin(), o.end(), '\n') >= 3;
                },
                           std::chrono::seconds(20)))
        << w.out();
    EXPECT_EQ(adj_of(f.leader.pid()), 0);
    for (pid_t c : f.children()) EXPECT_EQ(adj_of(c), 0);
    EXPECT_EQ(w.stop(SIGINT), 0);
}

TEST(PoomguardWatch, SighupReloads) {
    Scratch d;
    std::string shell = d.copy_program("/bin/bash", "pgw-hup");
    write_file(d / "rules.conf", rule_text(shell, "leader = 600\nchildren = 300\n"));
    Background w(d, {"watch", "--config", d / "rules.conf"});
    ASSERT_TRUE(w.ready()) << w.err();
    Family f(shell);
    ASSERT_TRUE(eventually([&] { return adj_is(f.leader.pid(), 600); }, std::chrono::seconds(20))) << w.err();
    write_file(d / "rules.conf", rule_text(shell, "leader = 700\nchildren = 100\n"));
    ASSERT_TRUE(w.child().send_signal(SIGHUP));
    EXPECT_TRUE(eventually([&] { return adj_is(f.leader.pid(), 700); }, std::chrono::seconds(20))) << w.err();
    ASSERT_TRUE(eventually([&] { return f.children().size() == 2; }, std::chrono::seconds(20)));
    for (pid_t c : f.children()) EXPECT_TRUE(eventually([&] { return adj_is(c, 100); }, std::chrono::seconds(20)));
    EXPECT_NE(w.err().find("reloaded 1 rules"), std::string::npos) << w.err();
    // A reload into a broken file keeps watch alive and reports the problem with its place.
    write_file(d / "rules.conf", "[family]\nmatch.exe = " + shell + "\nleader = lots\n");
    ASSERT_TRUE(w.child().send_signal(SIGHUP));
    EXPECT_TRUE(eventually([&] { return w.err().find("rules.conf:3:10: expected a number") != std::string::npos; },
                           std::chrono::seconds(20)))
        << w.err();
    EXPECT_EQ(w.stop(SIGTERM), 0);
}

TEST(PoomguardWatch, BadRuleReportedGoodOnesWork) {
    Scratch d;
    std::string shell = d.copy_program("/bin/bash", "pgw-bad");
    write_file(d / "rules.conf", "[broken]\nmatch.comm = x\nadj = 4000\n\n" + rule_text(shell, "leader = 600\nchildren = 300\n"));
    Background w(d, {"watch", "--config", d / "rules.conf"});
    ASSERT_TRUE(w.ready()) << w.err();
    EXPECT_NE(w.err().find("poomguard: warning: " + (d / "rules.conf") + ":3:7: value 4000 out of range"),
              std::string::npos)
        << w.err();
    EXPECT_NE(w.err().find("watching 1 rule with"), std::string::npos) << w.err();
    Family f(shell);
    EXPECT_TRUE(eventually([&] { return adj_is(f.leader.pid(), 600); }, std::chrono::seconds(20))) << w.err();
    EXPECT_EQ(w.stop(SIGTERM), 0);
}

TEST(PoomguardWatch, ARacingProcessDoesNotStopIt) {
    // Many short-lived matching processes: most are gone before watch reads or writes them.
    Scratch d;
    std::string shell = d.copy_program("/bin/bash", "pgw-race");
    write_file(d / "rules.conf", rule_text(shell, "leader = 600\nchildren = 300\n"));
    Background w(d, {"watch", "--config", d / "rules.conf"});
    ASSERT_TRUE(w.ready()) << w.err();
    Command burst(shell);
    burst.args({"-c", "for i in $(seq 200); do /bin/true & done; wait"}).in(Stdio::null());
    auto st = burst.spawn().value().wait().value();
    EXPECT_TRUE(st.success());
    Family f(shell);  // still working afterwards
    EXPECT_TRUE(eventually([&] { return adj_is(f.leader.pid(), 600); }, std::chrono::seconds(20))) << w.err();
    EXPECT_EQ(w.err().find("poomguard: cannot"), std::string::npos) << w.err();
    EXPECT_EQ(w.stop(SIGTERM), 0);
}

TEST(PoomguardWatch, OnceAppliesAndExits) {
    Scratch d;
    std::string shell = d.copy_program("/bin/bash", "pgw-once");
    write_file(d / "rules.conf", rule_text(shell, "leader = 600\nchildren = 300\n"));
    Family f(shell);
    ASSERT_TRUE(eventually([&] { return f.children().size() == 2; }, std::chrono::seconds(20)));
    ToolRun r = poomguard(d, {"watch", "--once", "--config", d / "rules.conf"});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(adj_of(f.leader.pid()), 600);
    for (pid_t c : f.children()) EXPECT_EQ(adj_of(c), 300);
    EXPECT_NE(r.out.find("(pgw-once): oom_score_adj 0 -> 600 (rule family, leader)"), std::string::npos) << r.out;
    // Again: nothing left to change, nothing logged.
    ToolRun again = poomguard(d, {"watch", "--once", "--config", d / "rules.conf"});
    EXPECT_EQ(again.code, 0) << again.err;
    EXPECT_EQ(again.out, "");
    // A bad rule makes --once fail (after applying the good ones).
    write_file(d / "bad.conf", "[x]\nmatch.comm = x\n");
    ToolRun bad = poomguard(d, {"watch", "--once", "--config", d / "rules.conf", "--config", d / "bad.conf"});
    EXPECT_EQ(bad.code, 1);
    EXPECT_NE(bad.err.find("bad.conf:1:1: rule [x] sets no value"), std::string::npos) << bad.err;
}

TEST(PoomguardCheckConfig, ReportsLineAndColumn) {
    Scratch d;
    write_file(d / "good.conf", "[a]\nmatch.comm = a\nadj = 5\n[b]\nmatch.user = root\nleader = 1\nchildren = reset\n");
    write_file(d / "bad.conf", "[a2]\nmatch.comm = a\n  adj = x\nbogus = 1\n");
    ToolRun ok = poomguard(d, {"check-config", d / "good.conf"});
    EXPECT_EQ(ok.code, 0) << ok.err;
    EXPECT_EQ(ok.out, "2 rules in 1 file: ok\n");
    ToolRun bad = poomguard(d, {"check-config", d / "good.conf", d / "bad.conf"});
    EXPECT_EQ(bad.code, 1);
    EXPECT_EQ(bad.out, "");
    EXPECT_EQ(bad.err, d / "bad.conf" + ":3:9: expected a number from -1000 to 1000, not \"x\"\n" + d / "bad.conf" +
                           ":4:1: unknown key \"bogus\" (match.*, adj, leader, children)\n");
    ToolRun missing = poomguard(d, {"check-config", d / "nope.conf"});
    EXPECT_EQ(missing.code, 1);
    EXPECT_EQ(missing.err, d / "nope.conf" + ": cannot read: No such file or directory\n");
}

TEST(PoomguardCheckConfig, ShippedExamplesPass) {
    Scratch d;
    std::string dir = std::string(PROCKIT_SOURCE_DIR_PATH) + "/packaging/poomguard/examples/";
    for (const char* name : {"postgresql.conf", "mysql.conf", "redis.conf", "mongodb.conf"}) {
        ToolRun r = poomguard(d, {"check-config", dir + name});
        EXPECT_EQ(r.code, 0) << name << ": " << r.err;
        EXPECT_EQ(r.err, "") << name;
    }
}

TEST(PoomguardAudit, FindsUncoveredAndInheritedProtection) {
    // Protection here is a positive value's opposite... audit looks at negative values, which this
    // machine may not be able to set: skip then.
    Scratch d;
    std::string shell = d.copy_program("/bin/bash", "pgw-audit");
    Command c(shell);
    c.args({"-c", "echo -5 > /proc/self/oom_score_adj || exit 9; sleep 60 & wait"}).in(Stdio::null());
    c.on_destroy(DestroyPolicy::kill_tree, std::chrono::seconds(0));
    Child leader = c.spawn().value();
    bool settled = eventually([&] {
        return leader.try_wait().value().has_value() || children_of_pid(leader.pid()).size() == 1;
    }, std::chrono::seconds(20));
    ASSERT_TRUE(settled);
    if (leader.status()) GTEST_SKIP() << "cannot set a negative oom_score_adj here (no CAP_SYS_RESOURCE)";
    pid_t child = children_of_pid(leader.pid()).at(0);
    ASSERT_TRUE(eventually([&] { return adj_is(child, -5); }));
    write_file(d / "none.conf", "# no rules\n");
    ToolRun r = poomguard(d, {"audit", "--config", d / "none.conf"});
    EXPECT_EQ(r.code, 1) << r.err;
    EXPECT_NE(r.out.find("pid " + std::to_string(leader.pid()) + " (pgw-audit): oom_score_adj -5 and no rule covers it"),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("pid " + std::to_string(child) + " (sleep): oom_score_adj -5 kept from its parent pid " +
                         std::to_string(leader.pid()) + " (pgw-audit)"),
              std::string::npos)
        << r.out;
    // A rule that protects the leader and resets its children: the leader is fine, the child is not.
    write_file(d / "rule.conf", rule_text(shell, "leader = -5\nchildren = reset\n"));
    ToolRun r2 = poomguard(d, {"audit", "--config", d / "rule.conf"});
    EXPECT_EQ(r2.out.find("pid " + std::to_string(leader.pid()) + " "), std::string::npos) << r2.out;
    EXPECT_NE(r2.out.find("pid " + std::to_string(child) + " (sleep): oom_score_adj -5 kept from its parent"),
              std::string::npos)
        << r2.out;
    EXPECT_NE(r2.out.find("(rule family says 0)"), std::string::npos) << r2.out;
}

namespace {

// A /proc fixture: each process a stat line and an oom_score_adj.
struct FakeProc {
    pid_t pid, ppid;
    const char* comm;
    int adj;
};
void make_fixture(const Scratch& d, const std::vector<FakeProc>& procs) {
    for (const FakeProc& p : procs) {
        std::string dir = d / ("root/proc/" + std::to_string(p.pid));
        std::string cmd = "mkdir -p '" + dir + "'";
        ASSERT_EQ(std::system(cmd.c_str()), 0);
        write_file(dir + "/stat", std::to_string(p.pid) + " (" + p.comm + ") S " + std::to_string(p.ppid) + " " +
                                      std::to_string(p.pid) + " " + std::to_string(p.pid) +
                                      " 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 " + std::to_string(p.pid * 7) + " 0 0\n");
        write_file(dir + "/oom_score_adj", std::to_string(p.adj) + "\n");
    }
}

ToolRun poomguard_on_fixture(const Scratch& d, const std::vector<std::string>& args) {
    ToolRun r;
    Command c(poomguard_path());
    c.args(args).env("PROCKIT_FSROOT", d / "root").in(Stdio::null());
    c.out(Stdio::write_file(d / "fx.out")).err(Stdio::write_file(d / "fx.err"));
    auto ch = c.spawn();
    if (!ch) {
        ADD_FAILURE() << ch.error().message();
        return r;
    }
    auto st = ch->wait_for(std::chrono::seconds(60));
    if (st && *st) r.code = (*st)->shell_code();
    r.out = slurp_file(d / "fx.out");
    r.err = slurp_file(d / "fx.err");
    return r;
}

}  // namespace

TEST(PoomguardAudit, FixtureTree) {
    Scratch d;
    make_fixture(d, {
                        {1, 0, "init", 0},
                        {100, 1, "postgres", -900},  // covered leader at its value: fine
                        {101, 100, "postgres", 0},   // reset child: fine
                        {102, 100, "postgres", -900},  // a child that kept the protection
                        {200, 1, "sshd", -1000},       // protected, no rule
                        {201, 200, "sshd", -1000},     // ... and its child kept it
                        {300, 1, "redis-server", -500},  // covered with inherit children
                        {301, 300, "redis-rdb-bgsave", -500},
                        {400, 1, "cron", 0},
                    });
    write_file(d / "rules.conf", "[postgres]\nmatch.comm = postgres\nleader = -900\nchildren = reset\n"
                                 "[redis]\nmatch.comm = redis-server\nleader = -500\n");
    ToolRun r = poomguard_on_fixture(d, {"audit", "--config", d / "rules.conf"});
    EXPECT_EQ(r.code, 1) << r.err;
    EXPECT_EQ(r.out,
              "pid 102 (postgres): oom_score_adj -900 kept from its parent pid 100 (postgres) (rule postgres says 0)\n"
              "pid 200 (sshd): oom_score_adj -1000 and no rule covers it\n"
              "pid 201 (sshd): oom_score_adj -1000 kept from its parent pid 200 (sshd)\n");
    ToolRun j = poomguard_on_fixture(d, {"audit", "-J", "--config", d / "rules.conf"});
    EXPECT_EQ(j.code, 1);
    EXPECT_NE(j.out.find("\"pid\":200"), std::string::npos) << j.out;
    // All covered: status 0, nothing printed.
    write_file(d / "all.conf", "[postgres]\nmatch.comm = postgres\nadj = -900\n[sshd]\nmatch.comm = sshd\nadj = -1000\n"
                               "[redis]\nmatch.comm = redis-server\nleader = -500\n");
    ToolRun ok = poomguard_on_fixture(d, {"audit", "--config", d / "all.conf"});
    EXPECT_EQ(ok.code, 0) << ok.out << ok.err;
    EXPECT_EQ(ok.out, "");
}

TEST(PoomguardSetFollow, FutureChildrenGetTheChildrenValueUntilTheLeaderExits) {
    Scratch d;
    Command c("/bin/bash");
    c.args({"-c", "read x; sleep 60 & wait"}).in(Stdio::pipe());
    c.on_destroy(DestroyPolicy::kill_tree, std::chrono::seconds(0));
    Child leader = c.spawn().value();
    Background f(d, {"set", "600", "--pid", std::to_string(leader.pid()), "--children", "300", "--follow"}, "follow");
    ASSERT_TRUE(eventually([&] { return adj_of(leader.pid()) == 600; }, std::chrono::seconds(20))) << f.err();
    ASSERT_EQ(::write(leader.stdin_pipe().get(), "go\n", 3), 3);  // now the leader forks
    ASSERT_TRUE(eventually([&] { return children_of_pid(leader.pid()).size() == 1; }, std::chrono::seconds(20)));
    pid_t kid = children_of_pid(leader.pid()).at(0);
    EXPECT_TRUE(eventually([&] { return adj_of(kid) == 300; }, std::chrono::seconds(20)))
        << "child at " << adj_of(kid).value_or(-9999) << "\n" << f.out() << f.err();
    EXPECT_TRUE(eventually([&] { return f.out().find("[child]: oom_score_adj 600 -> 300") != std::string::npos; },
                           std::chrono::seconds(20)))
        << f.out();
    // The leader's end ends the follow, with status 0.
    (void)leader.terminate_tree(std::chrono::seconds(0));
    auto st = f.child().wait_for(std::chrono::seconds(30));
    ASSERT_TRUE(st && *st) << "set --follow did not end with its leader";
    EXPECT_EQ((*st)->shell_code(), 0) << f.err();
}
