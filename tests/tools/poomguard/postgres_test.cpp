// The real component: a throw-away PostgreSQL cluster (initdb into a temporary directory, started
// with pg_ctl as user postgres on a Unix socket in that directory) under `poomguard watch` with a
// rule for it. Every process of the cluster must get its value: the postmaster the leader value,
// backends and auxiliary processes the children value; after a restart the new postmaster gets its
// value again. The exec-to-adjusted latency of the new postmaster is measured (proc connector in
// the test, pidfd-free polling of its oom_score_adj) and printed, not asserted (timing is bench/'s).
#include "watch_support.hpp"

#include <prockit/oom/score.hpp>
#include <prockit/proc/events.hpp>

#include <gtest/gtest.h>

#include <glob.h>
#include <poll.h>
#include <pwd.h>
#include <unistd.h>

#include <chrono>
#include <thread>

using namespace prockit;
using namespace prockit::test;

namespace {

std::string pg_bindir() {
    glob_t g{};
    std::string dir;
    if (::glob("/usr/lib/postgresql/*/bin/postgres", 0, nullptr, &g) == 0 && g.gl_pathc > 0) {
        dir = g.gl_pathv[g.gl_pathc - 1];
        dir.resize(dir.size() - std::string("/postgres").size());
    }
    ::globfree(&g);
    return dir;
}

// Runs a command as user postgres to its end; the shell-style status.
int as_postgres(const std::vector<std::string>& argv, const std::string& log) {
    Command c("/usr/sbin/runuser");
    std::vector<std::string> args = {"-u", "postgres", "--"};
    args.insert(args.end(), argv.begin(), argv.end());
    c.args(args).in(Stdio::null()).out(Stdio::append_file(log)).err(Stdio::append_file(log));
    auto ch = c.spawn();
    if (!ch) return -1;
    auto st = ch->wait_for(std::chrono::seconds(120));
    if (!st || !*st) {
        (void)ch->terminate_tree(std::chrono::seconds(0));
        return -1;
    }
    return (*st)->shell_code();
}

pid_t postmaster_pid(const std::string& data) {
    std::string s = slurp_file(data + "/postmaster.pid");
    return s.empty() ? 0 : static_cast<pid_t>(std::atol(s.c_str()));
}

std::string cmdline_of(pid_t pid) {
    std::string s = slurp_file("/proc/" + std::to_string(pid) + "/cmdline");
    for (char& c : s)
        if (c == '\0') c = ' ';
    return s;
}

struct Cluster {
    std::string bindir, dir, data, log;
    bool started = false;
    ~Cluster() {
        if (started) as_postgres({bindir + "/pg_ctl", "stop", "-D", data, "-m", "immediate", "-w"}, log);
    }
    int pg_ctl(const std::string& what) {
        int rc = as_postgres({bindir + "/pg_ctl", what, "-D", data, "-w", "-t", "60", "-l", log + ".server", "-m", "fast",
                              "-o", "-k " + dir + " -c listen_addresses=''"},
                             log);
        if (rc == 0) started = true;
        return rc;
    }
};

}  // namespace

TEST(PoomguardPostgres, ProtectsPostmasterResetsBackendsAcrossRestart) {
    Cluster pg;
    pg.bindir = pg_bindir();
    if (pg.bindir.empty()) GTEST_SKIP() << "PostgreSQL is not installed (/usr/lib/postgresql/*/bin/postgres)";
    if (::geteuid() != 0 || ::getpwnam("postgres") == nullptr)
        GTEST_SKIP() << "needs root and the postgres user (installed with the postgresql package)";
    if (!proc::ProcEvents::open()) GTEST_SKIP() << "needs the proc connector (root)";
    Scratch d;
    pg.dir = d.path;
    pg.data = d / "data";
    pg.log = d / "pg.log";
    ASSERT_EQ(std::system(("chown postgres: '" + d.path + "' && chmod 700 '" + d.path + "'").c_str()), 0);
    ASSERT_EQ(as_postgres({pg.bindir + "/initdb", "-D", pg.data, "-A", "trust", "-U", "postgres", "--no-sync"}, pg.log), 0)
        << slurp_file(pg.log);

    // Negative values where the capability allows it, positive ones here (see design.md, section 4).
    const bool cap = oom::has_cap_sys_resource();
    const int leader = cap ? -900 : 500;
    const int children = 0;
    write_file(d / "pg.conf", "[postgresql]\nmatch.exe = " + pg.bindir + "/postgres\nleader = " + std::to_string(leader) +
                                  "\nchildren = reset\n");
    Background w(d, {"watch", "--config", d / "pg.conf"});
    ASSERT_TRUE(w.ready()) << w.err();

    ASSERT_EQ(pg.pg_ctl("start"), 0) << slurp_file(pg.log) << slurp_file(pg.log + ".server");
    pid_t pm = postmaster_pid(pg.data);
    ASSERT_GT(pm, 0);
    EXPECT_TRUE(eventually([&] { return adj_of(pm) == leader; }, std::chrono::seconds(20)))
        << "postmaster at " << adj_of(pm).value_or(-9999) << "\n" << w.out() << w.err();

    // Client connections: each forks a backend.
    std::vector<Child> clients;
    for (int i = 0; i < 3; ++i) {
        Command c("/usr/sbin/runuser");
        c.args({"-u", "postgres", "--", "psql", "-X", "-q", "-h", pg.dir, "-U", "postgres", "-d", "postgres", "-c",
                "select pg_sleep(60)"})
            .in(Stdio::null()).out(Stdio::null()).err(Stdio::append_file(pg.log));
        c.on_destroy(DestroyPolicy::kill_tree, std::chrono::seconds(0));
        clients.push_back(c.spawn().value());
    }
    auto backends = [&] {
        int n = 0;
        for (pid_t c : children_of_pid(pm))
            if (cmdline_of(c).find("[local]") != std::string::npos) ++n;
        return n;
    };
    ASSERT_TRUE(eventually([&] { return backends() == 3; }, std::chrono::seconds(30))) << slurp_file(pg.log);
    std::vector<pid_t> kids = children_of_pid(pm);
    EXPECT_GE(kids.size(), 5u);  // 3 backends + checkpointer, background writer, walwriter, ...
    for (pid_t c : kids) {
        EXPECT_TRUE(eventually([&] { return !adj_of(c) || adj_of(c) == children; }, std::chrono::seconds(20)))
            << "pid " << c << " (" << cmdline_of(c) << ") at " << adj_of(c).value_or(-9999);
    }
    for (Child& c : clients) (void)c.terminate_tree(std::chrono::seconds(0));
    clients.clear();

    // Restart: the test follows exec events itself to time the new postmaster's protection.
    auto events = proc::ProcEvents::open();
    ASSERT_TRUE(events);
    Command restart("/usr/sbin/runuser");
    restart.args({"-u", "postgres", "--", pg.bindir + "/pg_ctl", "restart", "-D", pg.data, "-w", "-t", "60", "-m", "fast",
                  "-l", pg.log + ".server", "-o", "-k " + pg.dir + " -c listen_addresses=''"})
        .in(Stdio::null()).out(Stdio::append_file(pg.log)).err(Stdio::append_file(pg.log));
    Child rs = restart.spawn().value();
    std::map<pid_t, std::chrono::steady_clock::time_point> exec_at;
    std::map<pid_t, std::chrono::steady_clock::duration> latency;
    const std::string exe = pg.bindir + "/postgres";
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
    while (!rs.try_wait().value() && std::chrono::steady_clock::now() < deadline) {
        pollfd p{events->fd(), POLLIN, 0};
        ::poll(&p, 1, 10);
        auto batch = events->read();
        if (!batch) continue;
        for (const proc::ProcEvent& e : *batch) {
            if (e.kind != proc::ProcEvent::Kind::exec) continue;
            auto t0 = std::chrono::steady_clock::now();
            char link[512];
            ssize_t n = ::readlink(("/proc/" + std::to_string(e.tgid) + "/exe").c_str(), link, sizeof link - 1);
            if (n <= 0 || std::string(link, static_cast<std::size_t>(n)) != exe) continue;
            exec_at[e.tgid] = t0;
            // Watch this one until it has the leader value (or 2 s pass: then it was not a leader).
            while (std::chrono::steady_clock::now() - t0 < std::chrono::seconds(2)) {
                auto v = adj_of(e.tgid);
                if (!v) break;
                if (*v == leader) {
                    latency[e.tgid] = std::chrono::steady_clock::now() - t0;
                    break;
                }
                std::this_thread::sleep_for(std::chrono::microseconds(200));
            }
        }
    }
    ASSERT_TRUE(rs.status() && rs.status()->success()) << slurp_file(pg.log) << slurp_file(pg.log + ".server");
    pid_t pm2 = postmaster_pid(pg.data);
    ASSERT_GT(pm2, 0);
    EXPECT_NE(pm2, pm);
    EXPECT_TRUE(eventually([&] { return adj_of(pm2) == leader; }, std::chrono::seconds(20)))
        << "new postmaster at " << adj_of(pm2).value_or(-9999) << "\n" << w.out();
    for (pid_t c : children_of_pid(pm2))
        EXPECT_TRUE(eventually([&] { return !adj_of(c) || adj_of(c) == children; }, std::chrono::seconds(20)))
            << "pid " << c << " (" << cmdline_of(c) << ")";
    if (latency.count(pm2)) {
        double ms = std::chrono::duration<double, std::milli>(latency[pm2]).count();
        std::printf("new postmaster protected %.2f ms after its exec was seen\n", ms);
        RecordProperty("postmaster_latency_us", static_cast<int>(ms * 1000));
    } else {
        std::printf("new postmaster's exec was not seen by the test (value checked above)\n");
    }
    EXPECT_EQ(w.stop(SIGTERM), 0);
}
