// poomguard: set and run side by side with choom, show and top against a /proc fixture tree
// (PROCKIT_FSROOT) and real processes, --children on a real tree, --unit and --pidfile, top
// --watch without a terminal, and the bad-input table (exit codes and one-line messages), with
// the permission paths run for real as the unprivileged test user.
#include "lib/oom/oom_fixture.hpp"
#include "tools/paffinity/run_tool.hpp"

#include <prockit/oom/score.hpp>

#include <gtest/gtest.h>

#include <csignal>
#include <poll.h>
#include <pty.h>
#include <fstream>
#include <optional>
#include <pwd.h>
#include <string>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

using namespace std::chrono_literals;
using paff_test::Child;
using paff_test::run;
using paff_test::ToolResult;
using paff_test::wait_until;

namespace {

std::string s(long v) { return std::to_string(v); }

std::string poomguard_path() { return paff_test::env_or("PROCKIT_BUILD_DIR", ".") + "/tools/poomguard/poomguard"; }

ToolResult poomguard(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
    std::vector<std::string> argv{poomguard_path()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, env);
}

int adj_of(pid_t pid) {
    std::ifstream f("/proc/" + s(pid) + "/oom_score_adj");
    int v = -9999;
    f >> v;
    return v;
}

bool have_choom() { return access("/usr/bin/choom", X_OK) == 0; }

/// A sleeping child (killed and reaped by the destructor).
struct Sleeper {
    Child c{{"/bin/sleep", "1000"}};
    pid_t pid() const { return c.pid(); }
};

std::size_t count_lines(const std::string& text) { return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')); }

std::vector<pid_t> children_of(pid_t pid) {
    std::vector<pid_t> out;
    auto desc = prockit::oom::descendants_of(pid).value();
    for (const auto& r : desc) out.push_back(r.pid);
    return out;
}

}  // namespace

// --- choom side by side ----------------------------------------------------------------------------

TEST(PoomguardSet, GivesTheSameValueAsChoom) {
    if (!have_choom()) GTEST_SKIP() << "choom (util-linux) is not installed";
    Sleeper a, b;
    for (int v : {345, 1000, 0, 17}) {
        auto ours = poomguard({"set", s(v), s(a.pid())});
        ASSERT_EQ(ours.status, 0) << ours.err;
        auto theirs = run({"/usr/bin/choom", "-p", s(b.pid()), "-n", s(v)});
        ASSERT_EQ(theirs.status, 0) << theirs.err;
        EXPECT_EQ(adj_of(a.pid()), v);
        EXPECT_EQ(adj_of(a.pid()), adj_of(b.pid()));
        // choom reads back what poomguard wrote.
        auto shown = run({"/usr/bin/choom", "-p", s(a.pid())});
        EXPECT_NE(shown.out.find("adjust value: " + s(v)), std::string::npos) << shown.out;
    }
}

TEST(PoomguardSet, ReportsEachChange) {
    Sleeper a;
    auto r = poomguard({"set", "250", s(a.pid())});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "pid " + s(a.pid()) + " (sleep): oom_score_adj 0 -> 250\n");
    auto q = poomguard({"set", "260", "-q", "--pid", s(a.pid())});
    EXPECT_EQ(q.status, 0);
    EXPECT_EQ(q.out, "");
    auto dry = poomguard({"set", "900", s(a.pid()), "--dry-run"});
    EXPECT_EQ(dry.status, 0);
    EXPECT_EQ(dry.out, "would set pid " + s(a.pid()) + " (sleep): oom_score_adj 260 -> 900\n");
    EXPECT_EQ(adj_of(a.pid()), 260);
    auto j = poomguard({"set", "270", s(a.pid()), "-J"});
    EXPECT_EQ(j.status, 0);
    EXPECT_EQ(j.out, "{\"dry_run\":false,\"processes\":[{\"pid\":" + s(a.pid()) +
                         ",\"name\":\"sleep\",\"role\":\"leader\",\"from\":260,\"to\":270}]}\n");
}

TEST(PoomguardRun, GivesTheCommandTheSameValueAsChoom) {
    if (!have_choom()) GTEST_SKIP() << "choom (util-linux) is not installed";
    for (const char* v : {"0", "123", "1000"}) {
        auto ours = poomguard({"run", v, "--", "cat", "/proc/self/oom_score_adj"});
        auto theirs = run({"/usr/bin/choom", "-n", v, "--", "cat", "/proc/self/oom_score_adj"});
        EXPECT_EQ(ours.status, 0) << ours.err;
        EXPECT_EQ(ours.out, std::string(v) + "\n");
        EXPECT_EQ(ours.out, theirs.out);
    }
}

TEST(PoomguardRun, PassesTheStatusOnAndUses126And127) {
    EXPECT_EQ(poomguard({"run", "5", "--", "sh", "-c", "exit 3"}).status, 3);
    auto nf = poomguard({"run", "5", "--", "/nonexistent/prog"});
    EXPECT_EQ(nf.status, 127);
    EXPECT_EQ(nf.err, "poomguard: cannot execute /nonexistent/prog: No such file or directory\n");
    char tmpl[] = "/tmp/poomguard-noexec-XXXXXX";
    int fd = mkstemp(tmpl);  // mode 0600: not executable
    ASSERT_GE(fd, 0);
    close(fd);
    auto ne = poomguard({"run", "5", "--", tmpl});
    unlink(tmpl);
    EXPECT_EQ(ne.status, 126) << ne.err;
}

// --- --children ------------------------------------------------------------------------------------

TEST(PoomguardSet, ChildrenResetInheritAndValueOnARealTree) {
    // sh → (sleep, sh → sleep): a leader with three descendants.
    Child tree({"/bin/sh", "-c", "sleep 1000 & /bin/sh -c 'sleep 1000 & wait' & wait"});
    pid_t leader = tree.pid();
    ASSERT_TRUE(wait_until([&] { return children_of(leader).size() == 3; }));
    auto desc = children_of(leader);
    struct KillAll {  // the descendants outlive the shell that Child kills
        std::vector<pid_t> pids;
        ~KillAll() {
            for (pid_t p : pids) kill(p, SIGKILL);
        }
    } kill_all{desc};
    auto r = poomguard({"set", "300", s(leader), "--children", "inherit"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(count_lines(r.out), 4u) << r.out;
    EXPECT_EQ(adj_of(leader), 300);
    for (pid_t d : desc) EXPECT_EQ(adj_of(d), 300);

    r = poomguard({"set", "500", s(leader), "--children", "reset"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(adj_of(leader), 500);
    for (pid_t d : desc) EXPECT_EQ(adj_of(d), 0);
    EXPECT_NE(r.out.find("[child]: oom_score_adj 300 -> 0"), std::string::npos) << r.out;

    r = poomguard({"set", "600", s(leader), "--children", "700"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(adj_of(leader), 600);
    for (pid_t d : desc) EXPECT_EQ(adj_of(d), 700);

    // Without --children only the leader changes.
    r = poomguard({"set", "100", s(leader)});
    EXPECT_EQ(adj_of(leader), 100);
    for (pid_t d : desc) EXPECT_EQ(adj_of(d), 700);
}

TEST(PoomguardSet, ASelectedProcessBelowAnotherIsAChild) {
    // PostgreSQL's backends have the postmaster's name: --name selects them all, --children sorts.
    prockit::test::OomFixture fx;
    fx.add(prockit::test::fake(10, "postgres"));
    fx.add(prockit::test::fake(11, "postgres", 10));
    fx.add(prockit::test::fake(12, "postgres", 11));
    fx.add(prockit::test::fake(20, "other"));
    auto r = poomguard({"set", "500", "--name", "postgres", "--children", "reset"}, {fx.env()});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(fx.read("/proc/10/oom_score_adj"), "500");
    // (A fixture file is overwritten from its start, not truncated: "0" over "0\n".)
    EXPECT_EQ(fx.read("/proc/11/oom_score_adj"), "0\n");
    EXPECT_EQ(fx.read("/proc/12/oom_score_adj"), "0\n");
    EXPECT_EQ(fx.read("/proc/20/oom_score_adj"), "0\n");  // untouched
    EXPECT_EQ(r.out,
              "pid 10 (postgres): oom_score_adj 0 -> 500\n"
              "pid 11 (postgres) [child]: oom_score_adj 0 -> 0\n"
              "pid 12 (postgres) [child]: oom_score_adj 0 -> 0\n");
}

// --- selection: --pidfile, --unit --------------------------------------------------------------------

TEST(PoomguardSet, SelectsByPidfile) {
    Sleeper a;
    char tmpl[] = "/tmp/poomguard-pidfile-XXXXXX";
    int fd = mkstemp(tmpl);
    ASSERT_GE(fd, 0);
    close(fd);
    std::string path = tmpl;
    std::ofstream(path) << a.pid() << "\n";
    auto r = poomguard({"set", "150", "--pidfile", path});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(adj_of(a.pid()), 150);
    std::ofstream(path) << "not a pid\n";
    r = poomguard({"set", "150", "--pidfile", path});
    EXPECT_EQ(r.status, 1);
    EXPECT_EQ(r.err, "poomguard: cannot parse pidfile \"" + path + "\": expected a PID on its first line\n");
    unlink(path.c_str());
    r = poomguard({"set", "150", "--pidfile", path});
    EXPECT_EQ(r.status, 1);
    EXPECT_EQ(r.err, "poomguard: cannot read pidfile " + path + ": No such file or directory\n");
}

TEST(PoomguardShow, SelectsBySystemdUnitThroughItsCgroup) {
    prockit::test::OomFixture fx;
    fx.dirs("/sys/fs/cgroup/system.slice/system-postgresql.slice/postgresql@15-main.service");
    fx.dirs("/sys/fs/cgroup/system.slice/redis-server.service");
    fx.dirs("/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/app.slice/worker.service");
    auto pg = prockit::test::fake(10, "postgres");
    pg.cgroup = "0::/system.slice/system-postgresql.slice/postgresql@15-main.service\n";
    auto redis = prockit::test::fake(20, "redis-server");
    redis.cgroup = "0::/system.slice/redis-server.service\n";
    auto worker = prockit::test::fake(30, "worker");
    worker.cgroup = "0::/user.slice/user-1000.slice/user@1000.service/app.slice/worker.service\n";
    fx.add(pg);
    fx.add(redis);
    fx.add(worker);
    auto show_pids = [&](const std::string& unit) {
        auto r = poomguard({"show", "--unit", unit, "-J"}, {fx.env()});
        return std::make_pair(r.status, r.out);
    };
    auto [st1, out1] = show_pids("postgresql@15-main");
    EXPECT_EQ(st1, 0);
    EXPECT_NE(out1.find("\"pid\":10,"), std::string::npos) << out1;
    EXPECT_EQ(out1.find("\"pid\":20,"), std::string::npos) << out1;
    auto [st2, out2] = show_pids("redis-server.service");
    EXPECT_EQ(st2, 0);
    EXPECT_NE(out2.find("\"pid\":20,"), std::string::npos) << out2;
    auto [st3, out3] = show_pids("worker");
    EXPECT_EQ(st3, 0);
    EXPECT_NE(out3.find("\"pid\":30,"), std::string::npos) << out3;
    auto unknown = poomguard({"show", "--unit", "nope"}, {fx.env()});
    EXPECT_EQ(unknown.status, 1);
    EXPECT_EQ(unknown.err, "poomguard: cannot find unit \"nope.service\": no cgroup of that name in any cgroup hierarchy\n");
    EXPECT_EQ(unknown.out, "");
}

// --- show and top against a fixture tree -------------------------------------------------------------

namespace {

void fill(prockit::test::OomFixture& fx) {
    auto add = [&](pid_t pid, const char* comm, int score, int adj, long long rss, long long swap, std::string cmd) {
        auto p = prockit::test::fake(pid, comm);
        p.oom_score = score;
        p.oom_score_adj = adj;
        p.rss_kib = rss;
        p.swap_kib = swap;
        p.cmdline = std::move(cmd);
        fx.add(p);
    };
    add(1, "init", 0, 0, 9000, 0, std::string("/sbin/init\0", 11));
    add(100, "postgres", 0, -1000, 200000, 0, std::string("/usr/lib/postgresql/15/bin/postgres\0-D\0/var/lib/pg\0", 52));
    add(200, "java", 900, 300, 4000000, 1024, std::string("java\0-jar\0app.jar\0", 18));
    add(300, "batch", 1500, 1000, 50000, 0, std::string("batch\0", 6));
    auto kt = prockit::test::fake(2, "kthreadd");
    kt.kernel_thread = true;
    kt.rss_kib = -1;
    kt.cmdline = "";
    kt.oom_score = 0;
    fx.add(kt);
    fx.pressure("some avg10=1.25 avg60=0.50 avg300=0.10 total=42\nfull avg10=0.25 avg60=0.00 avg300=0.00 total=7\n");
    fx.vmstat("pgfault 1\noom_kill 3\n");
}

}  // namespace

TEST(PoomguardShow, ListsEveryUserProcessFromAFixture) {
    prockit::test::OomFixture fx;
    fill(fx);
    auto r = poomguard({"show"}, {fx.env()});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out,
              "     PID  NAME            SCORE   ADJ     RSS    SWAP  COMMAND\n"
              "       1  init                0     0   9000K      0K  /sbin/init\n"
              "     100  postgres            0 -1000    195M      0K  /usr/lib/postgresql/15/bin/postgres -D /var/lib/pg\n"
              "     200  java              900   300   3906M   1024K  java -jar app.jar\n"
              "     300  batch            1500  1000     48M      0K  batch\n");
}

TEST(PoomguardShow, JsonAndASelection) {
    prockit::test::OomFixture fx;
    fill(fx);
    auto r = poomguard({"show", "--name", "java", "-J"}, {fx.env()});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out,
              "{\"processes\":[{\"pid\":200,\"name\":\"java\",\"oom_score\":900,\"oom_score_adj\":300,"
              "\"rss_kib\":4000000,\"swap_kib\":1024,\"command\":\"java -jar app.jar\"}]}\n");
    // A kernel thread is listed when selected, without sizes.
    r = poomguard({"show", "2", "-J"}, {fx.env()});
    EXPECT_EQ(r.out,
              "{\"processes\":[{\"pid\":2,\"name\":\"kthreadd\",\"oom_score\":0,\"oom_score_adj\":0,"
              "\"rss_kib\":null,\"swap_kib\":null,\"command\":\"[kthreadd]\"}]}\n");
}

TEST(PoomguardShow, AProcessThatVanishedIsNotListed) {
    prockit::test::OomFixture fx;
    fill(fx);
    ::unlink((fx.root() + "/proc/200/oom_score").c_str());  // as if it exited between the scan and the read
    auto r = poomguard({"show"}, {fx.env()});
    EXPECT_EQ(r.status, 0);
    EXPECT_EQ(r.out.find("java"), std::string::npos) << r.out;
    // Selected alone, its disappearance is the empty selection.
    r = poomguard({"show", "--name", "java"}, {fx.env()});
    EXPECT_EQ(r.status, 1);
    EXPECT_EQ(r.err, "poomguard: cannot find a process matching the selection: not found\n");
    EXPECT_EQ(poomguard({"show", "--name", "java", "--allow-none"}, {fx.env()}).status, 0);
}

TEST(PoomguardTop, RanksByScoreUnderAPressureHeader) {
    prockit::test::OomFixture fx;
    fill(fx);
    auto r = poomguard({"top", "-n", "2"}, {fx.env()});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out,
              "memory pressure (avg10 avg60 avg300): some 1.25 0.50 0.10, full 0.25 0.00 0.00\n"
              "OOM kills since boot: 3; processes: 4\n"
              "     PID  NAME            SCORE   ADJ     RSS    SWAP  COMMAND\n"
              "     300  batch            1500  1000     48M      0K  batch\n"
              "     200  java              900   300   3906M   1024K  java -jar app.jar\n");
    auto j = poomguard({"top", "-n", "1", "-J"}, {fx.env()});
    ASSERT_EQ(j.status, 0) << j.err;
    EXPECT_EQ(j.out,
              "{\"memory_pressure\":{\"some\":{\"avg10\":1.25,\"avg60\":0.5,\"avg300\":0.1,\"total_us\":42},"
              "\"full\":{\"avg10\":0.25,\"avg60\":0,\"avg300\":0,\"total_us\":7}},\"oom_kills\":3,\"process_count\":4,"
              "\"processes\":[{\"pid\":300,\"name\":\"batch\",\"oom_score\":1500,\"oom_score_adj\":1000,"
              "\"rss_kib\":50000,\"swap_kib\":0,\"command\":\"batch\"}]}\n");
}

// Without swap space every VmSwap is 0: name and RSS come from stat, and status is not read.
TEST(PoomguardShow, WithoutSwapSpaceStatusIsNotRead) {
    prockit::test::OomFixture fx;
    fill(fx);
    fx.meminfo(0);
    for (const char* pid : {"1", "2", "100", "200", "300"}) ::unlink((fx.root() + "/proc/" + pid + "/status").c_str());
    auto r = poomguard({"show"}, {fx.env()});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out,
              "     PID  NAME            SCORE   ADJ     RSS    SWAP  COMMAND\n"
              "       1  init                0     0   9000K      0K  /sbin/init\n"
              "     100  postgres            0 -1000    195M      0K  /usr/lib/postgresql/15/bin/postgres -D /var/lib/pg\n"
              "     200  java              900   300   3906M      0K  java -jar app.jar\n"
              "     300  batch            1500  1000     48M      0K  batch\n");
    // With swap space, status is what has the swap column: here it is gone, so nothing is listed.
    fx.meminfo(1024);
    r = poomguard({"show"}, {fx.env()});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "");
}

// top reads every oom_score, the RSS of those tied at the cut, and the rest only for the ranked.
TEST(PoomguardTop, ReadsTheRestOnlyForTheRankedAndBreaksTiesAtTheCutByRss) {
    prockit::test::OomFixture fx;
    auto add = [&](pid_t pid, const char* comm, int score, long long rss) {
        auto p = prockit::test::fake(pid, comm);
        p.oom_score = score;
        p.rss_kib = rss;
        p.swap_kib = 0;
        p.cmdline = std::string(comm) + std::string("\0", 1);
        fx.add(p);
        fx.statm(p);
        return p;
    };
    add(10, "big", 800, 1000);
    add(11, "small", 500, 10000);
    add(12, "middle", 500, 20000);
    add(13, "largest", 500, 30000);
    add(14, "low", 100, 90000);
    auto kt = prockit::test::fake(2, "kthreadd");
    kt.kernel_thread = true;
    kt.rss_kib = -1;
    kt.cmdline = "";
    kt.oom_score = 0;
    fx.add(kt);
    fx.statm(kt);
    // Not ranked: only their oom_score (and, tied at the cut, statm) may be read.
    for (const char* pid : {"11", "12", "14"})
        for (const char* file : {"status", "stat", "cmdline", "oom_score_adj"})
            ::unlink((fx.root() + "/proc/" + pid + "/" + file).c_str());
    auto r = poomguard({"top", "-n", "2"}, {fx.env()});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out,
              "memory pressure (avg10 avg60 avg300): unavailable\n"
              "OOM kills since boot: unknown; processes: 5\n"
              "     PID  NAME            SCORE   ADJ     RSS    SWAP  COMMAND\n"
              "      10  big               800     0   1000K      0K  big\n"
              "      13  largest           500     0     29M      0K  largest\n");
}

TEST(PoomguardTop, WithoutPsiTheHeaderSaysSo) {
    prockit::test::OomFixture fx;
    fx.add(prockit::test::fake(5, "x"));
    auto r = poomguard({"top", "-n", "0"}, {fx.env()});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out.substr(0, r.out.find('\n', r.out.find('\n') + 1) + 1),
              "memory pressure (avg10 avg60 avg300): unavailable\nOOM kills since boot: unknown; processes: 1\n");
}

TEST(PoomguardTop, WatchWithoutATerminalPrintsEachIntervalAndEndsOnSigint) {
    prockit::test::OomFixture fx;
    fill(fx);
    Child c({poomguard_path(), "top", "--watch", "--interval", "100ms", "-n", "1"}, {fx.env()});
    for (int round = 0; round < 3; ++round)
        ASSERT_TRUE(c.read_until("memory pressure (avg10 avg60 avg300): some 1.25")) << "round " << round;
    int st = c.stop(SIGINT);
    ASSERT_TRUE(WIFEXITED(st)) << st;
    EXPECT_EQ(WEXITSTATUS(st), 0);
}

TEST(PoomguardTop, WatchOnATerminalRedrawsAndEndsOnQ) {
    prockit::test::OomFixture fx;
    fill(fx);
    std::string path = poomguard_path();
    std::string env = fx.env();
    int master = -1;
    pid_t pid = forkpty(&master, nullptr, nullptr, nullptr);
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        putenv(env.data());
        execl(path.c_str(), "poomguard", "top", "--watch", "--interval", "100ms", static_cast<char*>(nullptr));
        _exit(127);
    }
    struct Reap {
        pid_t pid;
        int fd;
        ~Reap() {
            if (pid > 0) {
                kill(pid, SIGKILL);
                waitpid(pid, nullptr, 0);
            }
            close(fd);
        }
    } reap{pid, master};
    std::string screen;
    auto count = [&](const std::string& what) {
        std::size_t n = 0;
        for (std::size_t at = screen.find(what); at != std::string::npos; at = screen.find(what, at + 1)) ++n;
        return n;
    };
    auto read_some = [&] {
        pollfd pfd{master, POLLIN, 0};
        if (poll(&pfd, 1, 50) == 1) {
            char buf[4096];
            ssize_t n = read(master, buf, sizeof buf);
            if (n > 0) screen.append(buf, static_cast<std::size_t>(n));
        }
    };
    // Two redraws: clear + home, the title, the header, the ranking.
    ASSERT_TRUE(wait_until([&] {
        read_some();
        return count("\033[H\033[2J") >= 2;
    })) << screen;
    EXPECT_NE(screen.find("q to quit"), std::string::npos) << screen;
    EXPECT_NE(screen.find("OOM kills since boot: 3"), std::string::npos) << screen;
    EXPECT_NE(screen.find("     300  batch"), std::string::npos) << screen;
    ASSERT_EQ(write(master, "q", 1), 1);
    int st = 0;
    ASSERT_TRUE(wait_until([&] {
        read_some();
        return waitpid(pid, &st, WNOHANG) == pid;
    }));
    reap.pid = 0;  // reaped: nothing to kill
    ASSERT_TRUE(WIFEXITED(st)) << st;
    EXPECT_EQ(WEXITSTATUS(st), 0);
}

TEST(PoomguardTop, RealMachineRanksThisHighScoreChildFirst) {
    Sleeper a;
    ASSERT_EQ(poomguard({"set", "1000", s(a.pid())}).status, 0);
    auto r = poomguard({"top", "-n", "50", "-J"});
    ASSERT_EQ(r.status, 0) << r.err;
    // Processes with adj 1000 come first; ours is among them, ahead of this test process.
    auto at_child = r.out.find("\"pid\":" + s(a.pid()) + ",");
    ASSERT_NE(at_child, std::string::npos) << r.out;
    auto at_self = r.out.find("\"pid\":" + s(getpid()) + ",");
    if (at_self != std::string::npos) {
        EXPECT_LT(at_child, at_self);
    }
}

// --- bad input ----------------------------------------------------------------------------------------

TEST(PoomguardBadInput, ExitCodesAndOneLineMessages) {
    Sleeper a;
    std::string p = s(a.pid());
    struct Case {
        std::vector<std::string> args;
        int status;
        std::string err;  ///< the whole of stderr
    };
    const std::string help = "; try 'poomguard --help'\n";
    std::vector<Case> cases = {
        {{"set", "1001", p}, 2, "poomguard: cannot parse ADJ \"1001\": expected a number from -1000 to 1000" + help},
        {{"set", "-1001", p}, 2, "poomguard: cannot parse ADJ \"-1001\": expected a number from -1000 to 1000" + help},
        {{"set", "abc", p}, 2, "poomguard: cannot parse ADJ \"abc\": expected a number from -1000 to 1000" + help},
        {{"set", "5"}, 2,
         "poomguard: cannot use set: it needs a selection (PID, --pid, --name, --match, --exe, --user, --cgroup, --pidfile, --unit)" + help},
        {{"set", "5", p, "--children", "bogus"}, 2,
         "poomguard: cannot parse --children \"bogus\": expected a number from -1000 to 1000" + help},
        {{"set", "5", "--name", "no-such-process-x"}, 1, "poomguard: cannot find a process matching the selection: not found\n"},
        {{"set", "5", "1073741000"}, 1, "poomguard: cannot find process 1073741000: No such process\n"},
        {{"set", "5", "--user", "no-such-user-x"}, 2, "poomguard: cannot use --user \"no-such-user-x\": not found" + help},
        {{"set", "5", "--match", "("}, 2, ""},
        {{"run", "5"}, 2, "poomguard: cannot use run: it needs a command after '--'" + help},
        {{"run", "2000", "--", "true"}, 2, "poomguard: cannot parse ADJ \"2000\": expected a number from -1000 to 1000" + help},
        {{"top", "--interval", "0"}, 2, "poomguard: cannot use --interval \"0\": expected 100ms to 24h" + help},
        {{"top", "--interval", "soon"}, 2, ""},
        {{"show", "--", "x"}, 2, "poomguard: cannot use a command after '--': only 'run' takes one" + help},
        {{}, 2, "poomguard: cannot run without a subcommand: give one of show, top, set, run, watch, audit, check-config" + help},
        {{"frobnicate"}, 2, ""},
    };
    for (const Case& c : cases) {
        auto r = poomguard(c.args);
        std::string what;
        for (const auto& arg : c.args) what += arg + " ";
        EXPECT_EQ(r.status, c.status) << what << r.err;
        if (!c.err.empty()) {
            EXPECT_EQ(r.err, c.err) << what;
        }
        EXPECT_EQ(count_lines(r.err), 1u) << what << r.err;
        EXPECT_EQ(r.err.rfind("poomguard: ", 0), 0u) << what << r.err;
    }
    // --allow-none makes an empty selection a success.
    EXPECT_EQ(poomguard({"set", "5", "--name", "no-such-process-x", "--allow-none"}).status, 0);
    EXPECT_EQ(adj_of(a.pid()), 0);  // nothing above touched it
}

TEST(PoomguardBadInput, AVanishedPidIsNotFound) {
    pid_t gone;
    {
        Sleeper a;
        gone = a.pid();
    }  // killed and reaped
    ASSERT_TRUE(wait_until([&] { return access(("/proc/" + s(gone)).c_str(), F_OK) != 0; }));
    auto r = poomguard({"set", "5", s(gone)});
    EXPECT_EQ(r.status, 1);
    EXPECT_EQ(r.err, "poomguard: cannot find process " + s(gone) + ": No such process\n");
}

TEST(PoomguardBadInput, NegativeWithoutCapSysResourceSaysHowToFixIt) {
    if (prockit::oom::has_cap_sys_resource())
        GTEST_SKIP() << "this machine grants CAP_SYS_RESOURCE: negative values succeed (NegativeWithTheCapability)";
    Sleeper a;
    auto r = poomguard({"set", "-500", s(a.pid())});
    EXPECT_EQ(r.status, 1);
    EXPECT_EQ(r.err, "poomguard: cannot set oom_score_adj of pid " + s(a.pid()) + " (sleep) to -500: " +
                         prockit::oom::cap_sys_resource_hint() + "\n");
    EXPECT_EQ(adj_of(a.pid()), 0);
    auto run_r = poomguard({"run", "-1", "--", "true"});
    EXPECT_EQ(run_r.status, 1);
    EXPECT_NE(run_r.err.find("CAP_SYS_RESOURCE"), std::string::npos) << run_r.err;
}

TEST(PoomguardSet, NegativeWithTheCapability) {
    if (!prockit::oom::has_cap_sys_resource())
        GTEST_SKIP() << "needs CAP_SYS_RESOURCE to set a negative oom_score_adj; this machine lacks it";
    if (!have_choom()) GTEST_SKIP() << "choom (util-linux) is not installed";
    Sleeper a, b;
    ASSERT_EQ(poomguard({"set", "-1000", s(a.pid())}).status, 0);
    ASSERT_EQ(run({"/usr/bin/choom", "-p", s(b.pid()), "-n", "-1000"}).status, 0);
    EXPECT_EQ(adj_of(a.pid()), -1000);
    EXPECT_EQ(adj_of(a.pid()), adj_of(b.pid()));
}

namespace {

// The unprivileged test user (created when absent): uid, gid.
std::optional<std::pair<uid_t, gid_t>> test_user() {
    const char* name = "prockit-test-u";
    if (!getpwnam(name)) {
        std::string cmd = std::string("useradd --system --no-create-home --shell /usr/sbin/nologin ") + name + " >/dev/null 2>&1";
        if (std::system(cmd.c_str()) != 0) return std::nullopt;
    }
    passwd* pw = getpwnam(name);
    if (!pw) return std::nullopt;
    return std::make_pair(pw->pw_uid, pw->pw_gid);
}

std::vector<std::string> as_test_user(const std::pair<uid_t, gid_t>& u, std::vector<std::string> args) {
    std::vector<std::string> argv{"/usr/bin/setpriv", "--reuid=" + s(u.first), "--regid=" + s(u.second), "--clear-groups",
                                  "--inh-caps=-all", "--bounding-set=-all", poomguard_path()};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
}

}  // namespace

TEST(PoomguardBadInput, AsAnUnprivilegedUser) {
    if (geteuid() != 0 || access("/usr/bin/setpriv", X_OK) != 0) GTEST_SKIP() << "needs root and setpriv to run as another user";
    auto user = test_user();
    if (!user) GTEST_SKIP() << "cannot create the test user prockit-test-u (useradd)";
    // The user must reach the binary.
    auto probe = run(as_test_user(*user, {"--version"}));
    if (probe.status != 0) GTEST_SKIP() << "the test user cannot run " << poomguard_path() << ": " << probe.err;
    Sleeper root_owned;
    // Another user's process: the file cannot be opened.
    auto r = run(as_test_user(*user, {"set", "100", s(root_owned.pid())}));
    EXPECT_EQ(r.status, 1);
    EXPECT_EQ(r.err, "poomguard: cannot set oom_score_adj of pid " + s(root_owned.pid()) +
                         " (sleep) to 100: permission denied (the process belongs to another user; run as that user or "
                         "as root)\n");
    EXPECT_EQ(adj_of(root_owned.pid()), 0);
    // Its own process, lowered below its minimum: the capability is missing.
    r = run(as_test_user(*user, {"run", "-100", "--", "true"}));
    EXPECT_EQ(r.status, 1);
    EXPECT_EQ(r.err, "poomguard: cannot set oom_score_adj of the calling process to -100: " +
                         prockit::oom::cap_sys_resource_hint() + "\n");
    // Raising its own is allowed.
    r = run(as_test_user(*user, {"run", "100", "--", "cat", "/proc/self/oom_score_adj"}));
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "100\n");
}
