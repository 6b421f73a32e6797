// Load (issue 18): prun through thousands of jobs with bounded memory and descriptors, a pjobs
// server with 1,000 clients at once, and poomguard watch while a fork loop holds a pids cgroup at
// its limit. The cases assert bounds and correctness, never times; the figures (jobs/s, answers/s,
// watch's latency and CPU) are printed for bench/ and measured at full size by
// bench/load_bench.sh.
#include "fault/load_support.hpp"
#include "tools/pjobs/pjobs_support.hpp"
#include "tools/poomguard/watch_support.hpp"

#include <prockit/proc/events.hpp>
#include <prockit/process/command.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <iostream>
#include <map>
#include <optional>
#include <fstream>
#include <cstring>
#include <sys/stat.h>
#include <poll.h>
#include <set>
#include <string>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <vector>

using namespace prockit;
using namespace prockit::test;
using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

/// Makes the test process a child subreaper while it lives: what a tool leaves behind (a
/// daemon, a job's holder, a storm's orphan) is reparented here and found.
struct Subreaper {
    Subreaper() { ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); }
    ~Subreaper() { ::prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0); }
};

// --- 1. prun ---

struct PrunRun {
    load::Peaks peaks;
    int code = -1;
    std::vector<std::string> out, joblog;
    std::string err;
    double seconds = 0;
};

/// `prun -j 4 --joblog LOG echo {}` over N inputs read from standard input, sampled from /proc
/// while it runs (the top process and the pool below it), in a process group of its own.
PrunRun run_prun_jobs(int n) {
    TempDir io;
    {
        std::string input;
        for (int i = 1; i <= n; ++i) input += std::to_string(i) + "\n";
        spit(io / "in", input);
    }
    PrunRun r;
    const std::string exe = prun_path();
    char resolved[4096];
    const std::string real_exe = ::realpath(exe.c_str(), resolved) ? resolved : exe;
    Command c(exe);
    c.args({"-j", "4", "--joblog", io / "joblog", "echo", "{}"})
        .in(Stdio::file(io / "in"))
        .out(Stdio::write_file(io / "out"))
        .err(Stdio::write_file(io / "err"));
    c.new_process_group().on_destroy(DestroyPolicy::kill_tree, std::chrono::seconds(0));
    auto start = Clock::now();
    auto child = c.spawn();
    if (!child) {
        ADD_FAILURE() << child.error().message();
        return r;
    }
    const pid_t pgid = child->pid();
    auto deadline = Clock::now() + 300s;
    for (;;) {
        load::sample_tool(r.peaks, child->pid(), real_exe);
        auto st = child->wait_for(20ms);
        if (st && *st) {
            r.code = (*st)->shell_code();
            break;
        }
        if (Clock::now() > deadline) {
            ADD_FAILURE() << "prun with " << n << " jobs did not finish within 300s";
            (void)child->terminate_tree(std::chrono::seconds(0));
            break;
        }
    }
    r.seconds = seconds_since(start);
    r.out = lines(slurp(io / "out"));
    r.joblog = lines(slurp(io / "joblog"));
    r.err = slurp(io / "err");
    EXPECT_TRUE(eventually([&] { return ::kill(-pgid, 0) == -1 && errno == ESRCH; }, 10s))
        << "prun's process group still has members after " << n << " jobs";
    return r;
}

/// Every input 1..n came out once (output lines), and the joblog has one row per job, each with
/// exit value 0 and a distinct sequence number.
void expect_every_job_ran(const PrunRun& r, int n) {
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.err, "");
    ASSERT_EQ(r.out.size(), static_cast<std::size_t>(n)) << "output lines of " << n << " jobs";
    std::vector<char> seen(static_cast<std::size_t>(n) + 1, 0);
    for (const auto& l : r.out) {
        long v = std::atol(l.c_str());
        ASSERT_TRUE(v >= 1 && v <= n && !seen[static_cast<std::size_t>(v)]) << "unexpected or repeated line: " << l;
        seen[static_cast<std::size_t>(v)] = 1;
    }
    ASSERT_EQ(r.joblog.size(), static_cast<std::size_t>(n) + 1) << "joblog rows (and header) of " << n << " jobs";
    std::set<long> seqs;
    for (std::size_t i = 1; i < r.joblog.size(); ++i) {
        auto col = columns(r.joblog[i]);
        ASSERT_GE(col.size(), 9u) << r.joblog[i];
        EXPECT_EQ(col[6], "0") << r.joblog[i];
        seqs.insert(std::atol(col[0].c_str()));
    }
    EXPECT_EQ(seqs.size(), static_cast<std::size_t>(n));
    EXPECT_EQ(*seqs.begin(), 1);
    EXPECT_EQ(*seqs.rbegin(), n);
}

}  // namespace

// Boundedness is shown by growth: 4x the jobs may not add to the peak RSS or descriptors. The
// slack, 512 KiB, is above the run-to-run noise seen under load (up to ~210 KiB: output waiting
// for a slow reader); a retention of 350 bytes a job (a job's record, its command line) exceeds
// it, and one descriptor a job exceeds the descriptors' slack 750 times over.
// The 10,000 vs 100,000 figures come from bench/load_bench.sh (too long for CI under ASan).
TEST(PrunLoad, MemoryAndDescriptorsDoNotGrowWithTheJobCount) {
    Subreaper subreaper;
    constexpr int small = 500, large = 2000;
    PrunRun a = run_prun_jobs(small);
    expect_every_job_ran(a, small);
    PrunRun b = run_prun_jobs(large);
    expect_every_job_ran(b, large);
    std::cout << "prun -j 4 --joblog, echo {}: " << small << " jobs: peak RSS " << a.peaks.hwm_kb << " KiB, fds " << a.peaks.fds
              << ", " << static_cast<long>(small / a.seconds) << " jobs/s; " << large << " jobs: peak RSS " << b.peaks.hwm_kb
              << " KiB, fds " << b.peaks.fds << ", " << static_cast<long>(large / b.seconds) << " jobs/s (" << b.peaks.samples
              << " samples)\n";
    EXPECT_GT(a.peaks.samples, 2);
    EXPECT_GT(b.peaks.fds, 0);
    EXPECT_LE(b.peaks.fds, a.peaks.fds + 2) << "descriptors grew with the job count";
    EXPECT_LE(b.peaks.fds, 64) << "descriptors for -j 4";
    if (load::rss_meaningful()) {
        EXPECT_LE(b.peaks.hwm_kb, a.peaks.hwm_kb + 512) << "peak RSS grew with the job count";
    }
    auto left = load::reap_children(10s);
    EXPECT_TRUE(left.empty()) << left.size() << " processes left behind, the first " << left.front();
}

// --- 2. pjobs ---

namespace {

long server_rss(pid_t pid) { return load::status_kb(pid, "VmRSS").value_or(-1); }

nlohmann::json state_file_jobs(const Pjobs& pj) {
    // The table: a header line, then one JSON object a line; every line must parse.
    nlohmann::json out = nlohmann::json::array();
    std::ifstream f(pj.statedir() + "/pjobs-jobs.jsonl");
    std::string line;
    while (std::getline(f, line)) {
        auto j = nlohmann::json::parse(line, nullptr, false);
        EXPECT_FALSE(j.is_discarded()) << "a corrupt line in the state file: " << line;
        if (!j.is_discarded() && j.contains("id")) out.push_back(j);
    }
    return out;
}

}  // namespace

TEST(PjobsLoad, AThousandClientsAtOnceAreAllAnswered) {
    // 1,040 sockets here and as many in the server (which inherits this limit): the soft limit is
    // raised within the hard one (a CI runner's soft limit may be 1,024).
    rlimit nofile{};
    ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &nofile), 0);
    if (nofile.rlim_max != RLIM_INFINITY && nofile.rlim_max < 2200)
        GTEST_SKIP() << "RLIMIT_NOFILE's hard limit is " << nofile.rlim_max << ", below the 2,200 this needs";
    const rlimit saved = nofile;
    nofile.rlim_cur = std::max<rlim_t>(nofile.rlim_cur, 4096);
    if (nofile.rlim_max != RLIM_INFINITY) nofile.rlim_cur = std::min(nofile.rlim_cur, nofile.rlim_max);
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &nofile), 0);
    struct Restore {
        rlimit r;
        ~Restore() { ::setrlimit(RLIMIT_NOFILE, &r); }
    } restore{saved};
    Subreaper subreaper;
    std::optional<Pjobs> pjobs_dir(std::in_place);
    const Pjobs& pj = *pjobs_dir;
    // A first job starts the server; its log is what the `logs` clients read.
    auto first = pj({"run", "--no-tty", "--", "sh", "-c", "echo hello"});
    ASSERT_EQ(first.code, 0) << first.err;
    ASSERT_TRUE(eventually([&] { return pj.state_of(1) == "done"; }, 30s)) << pj.state_of(1);
    // A job that runs until released: the `wait` clients wait for it.
    const std::string release = pj.file("release");
    std::vector<std::string> hold_cmd{"run", "--no-tty", "--"};
    for (auto& a : wait_for_file(release, 3)) hold_cmd.push_back(a);
    auto hold = pj(hold_cmd);
    ASSERT_EQ(hold.code, 0) << hold.err;
    ASSERT_TRUE(eventually([&] { return pj.state_of(2) == "running"; }, 30s));

    const pid_t server = pj.server_pid();
    ASSERT_GT(server, 0);
    ASSERT_EQ(pj({"list"}).code, 0);
    const int base_fds = load::fd_count(server).value_or(-1);
    const long base_rss = server_rss(server);
    ASSERT_GT(base_fds, 0);
    const std::string sock = pj.rundir() + "/pjobs.sock";
    {
        struct stat st {};
        ASSERT_EQ(::stat(sock.c_str(), &st), 0) << "no server socket at " << sock;
    }

    // 1,000 connections, all open at once, each with one request of a mix.
    constexpr int clients = 1000;
    enum class Kind { list, status, logs, wait, run };
    auto kind_of = [](int i) { return i % 50 == 4 ? Kind::run : static_cast<Kind>(i % 4); };
    std::vector<load::RawClient> conns(clients);
    auto start = Clock::now();
    std::string cwd = pj.dir.path;
    for (int i = 0; i < clients; ++i) {
        ASSERT_TRUE(conns[static_cast<std::size_t>(i)].connect(sock)) << "connection " << i << ": " << std::strerror(errno);
    }
    int runs = 0;
    for (int i = 0; i < clients; ++i) {
        nlohmann::json req;
        switch (kind_of(i)) {
        case Kind::list: req = {{"op", "list"}, {"text", i % 8 == 0}}; break;
        case Kind::status: req = {{"op", "status"}}; break;
        case Kind::logs: req = {{"op", "resolve"}, {"spec", "%1"}, {"verb", "show the log of"}}; break;
        case Kind::wait: req = {{"op", "wait"}, {"specs", {"%2"}}}; break;
        case Kind::run:
            req = {{"op", "run"}, {"argv", {"/bin/echo", "job", std::to_string(i)}}, {"tty", false},
                   {"env", {"PATH=/usr/bin:/bin"}}, {"cwd", cwd}};
            ++runs;
            break;
        }
        ASSERT_TRUE(conns[static_cast<std::size_t>(i)].send(req)) << "request " << i;
    }
    // The server stays responsive while all of them are open: the CLI's list answers.
    auto during = pj({"list"});
    EXPECT_EQ(during.code, 0) << during.err;
    EXPECT_NE(during.out.find("Running"), std::string::npos) << during.out;
    // Real client processes at the same time, one of each kind.
    std::vector<PrunResult> cli;
    for (auto args : std::vector<std::vector<std::string>>{{"server", "status"}, {"logs", "%1"}, {"list", "-J"}, {"run", "--no-tty", "--", "true"}})
        cli.push_back(pj(args));
    for (const auto& r : cli) EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(cli[1].out, "hello\n");

    // Every non-wait request is answered while the wait requests stay pending.
    auto answered = [&](bool waits) {
        int n = 0;
        for (int i = 0; i < clients; ++i) {
            auto& c = conns[static_cast<std::size_t>(i)];
            if ((kind_of(i) == Kind::wait) != waits) continue;
            if (c.poll_answer()) ++n;
        }
        return n;
    };
    int n_wait = 0;
    for (int i = 0; i < clients; ++i) n_wait += kind_of(i) == Kind::wait;
    ASSERT_TRUE(eventually([&] { return answered(false) == clients - n_wait; }, 60s))
        << answered(false) << " of " << clients - n_wait << " answered";
    const double answer_s = seconds_since(start);
    EXPECT_EQ(answered(true), 0) << "a wait was answered before its job ended";
    touch(release);
    ASSERT_TRUE(eventually([&] { return answered(true) == n_wait; }, 60s)) << answered(true) << " of " << n_wait << " waits answered";
    for (int i = 0; i < clients; ++i) {
        const auto& c = conns[static_cast<std::size_t>(i)];
        ASSERT_FALSE(c.closed()) << "connection " << i << " closed without an answer";
        ASSERT_EQ(c.type(), 'j');
        const auto& a = c.answer();
        ASSERT_TRUE(a.is_object() && a.value("ok", false)) << "request " << i << ": " << a.dump();
        if (kind_of(i) == Kind::wait) {
            EXPECT_EQ(a.value("status", -1), 3) << a.dump();
        }
        if (kind_of(i) == Kind::logs) {
            EXPECT_EQ(slurp(a.value("log", "")), "hello\n");
        }
        if (kind_of(i) == Kind::run) {
            EXPECT_EQ(a["job"]["argv"][2], std::to_string(i));
        }
    }
    // A connection beyond FD_SETSIZE in the server, with an answer larger than the socket buffer
    // (the job's record echoes its 384 KiB of arguments): the server waits for the socket to
    // drain, and the answer arrives whole.
    std::vector<load::RawClient> more(40);
    for (auto& c : more) ASSERT_TRUE(c.connect(sock)) << std::strerror(errno);
    {
        std::vector<std::string> argv{"/bin/true"};
        for (char k : {'A', 'B', 'C'}) argv.push_back(std::string(128 * 1024 - 16, k));
        ASSERT_TRUE(more.back().send({{"op", "run"}, {"argv", argv}, {"tty", false}, {"env", {"PATH=/usr/bin:/bin"}}, {"cwd", cwd}}));
        ASSERT_TRUE(eventually([&] { return more.back().poll_answer(); }, 60s)) << "no answer to the large request";
        ASSERT_FALSE(more.back().closed());
        EXPECT_TRUE(more.back().answer().value("ok", false)) << more.back().answer().dump().substr(0, 300);
        const auto job = more.back().answer().value("job", nlohmann::json::object());
        EXPECT_EQ(job.value("argv", nlohmann::json::array()), argv);
        // Forgotten once done (every list would carry its 384 KiB otherwise).
        const long id = job.value("id", 0L);
        ASSERT_TRUE(eventually([&] { return pj.state_of(id) == "done"; }, 30s)) << pj.state_of(id);
        auto rm = pj({"rm", "%" + std::to_string(id)});
        EXPECT_EQ(rm.code, 0) << rm.err;
    }
    EXPECT_GE(load::fd_count(server).value_or(0), 1024) << "the server's last connection was meant to be above FD_SETSIZE";
    more.clear();
    std::cout << "pjobs: " << clients << " raw clients + " << cli.size() << " processes answered (waits aside) in " << answer_s
              << " s: " << static_cast<long>((clients - n_wait) / answer_s) << " answers/s; server RSS " << base_rss << " KiB before\n";
    conns.clear();

    // No job lost: the first two, every run, the CLI's run; all end done; the table parses.
    const std::size_t expected_jobs = 2 + static_cast<std::size_t>(runs) + 1;
    ASSERT_TRUE(eventually(
        [&] {
            auto l = pj.list();
            return l.size() == expected_jobs &&
                   std::all_of(l.begin(), l.end(), [](const nlohmann::json& j) { return j.value("state", "") == "done"; });
        },
        60s))
        << pj.list().dump();
    EXPECT_EQ(state_file_jobs(pj).size(), expected_jobs);
    // Its descriptors return to the baseline (less the subscription to job 2's holder, since
    // ended), its RSS near it.
    EXPECT_TRUE(eventually([&] { return load::fd_count(server) <= base_fds; }, 30s))
        << "server fds " << load::fd_count(server).value_or(-1) << ", " << base_fds << " before";
    const long after_rss = server_rss(server);
    // What malloc kept after the storm is reused: a second storm of 1,000 clients (lists, status,
    // log look-ups) does not add to it, so nothing is retained per client.
    {
        std::vector<load::RawClient> again(clients);
        for (auto& c : again) ASSERT_TRUE(c.connect(sock)) << std::strerror(errno);
        for (std::size_t i = 0; i < again.size(); ++i) {
            nlohmann::json req = i % 3 == 0   ? nlohmann::json{{"op", "list"}, {"text", true}}
                                 : i % 3 == 1 ? nlohmann::json{{"op", "status"}}
                                              : nlohmann::json{{"op", "resolve"}, {"spec", "%1"}};
            ASSERT_TRUE(again[i].send(req));
        }
        ASSERT_TRUE(eventually(
            [&] { return std::all_of(again.begin(), again.end(), [](load::RawClient& c) { return c.poll_answer(); }); }, 60s));
        for (const auto& c : again) EXPECT_TRUE(!c.closed() && c.answer().value("ok", false)) << c.answer().dump();
    }
    EXPECT_TRUE(eventually([&] { return load::fd_count(server) <= base_fds; }, 30s));
    const long again_rss = server_rss(server);
    std::cout << "pjobs server RSS " << base_rss << " KiB before, " << after_rss << " KiB after, " << again_rss
              << " KiB after a second storm, peak " << load::status_kb(server, "VmHWM").value_or(-1) << " KiB\n";
    if (load::rss_meaningful()) {
        EXPECT_LE(after_rss, base_rss + 16 * 1024) << "server RSS after the storm";
        EXPECT_LE(again_rss, after_rss + 1024) << "server RSS grew with a second storm";
        // While they were all connected: a few KiB a client, not a 256 KiB buffer each.
        EXPECT_LE(load::status_kb(server, "VmHWM").value_or(0), base_rss + 32 * 1024) << "server peak RSS with 1,000 clients";
    }

    // Nothing left behind: with the server stopped, every process it and its holders were is
    // gone (they were reparented to us, the subreaper).
    EXPECT_EQ(pj({"server", "stop"}).code, 0);
    EXPECT_TRUE(eventually([&] { return !process_alive(server); }, 30s)) << "the server did not stop";
    pjobs_dir.reset();  // its clean-up asks a server again, and stops it
    auto left = load::reap_children(30s);
    EXPECT_TRUE(left.empty()) << left.size() << " processes left behind, the first " << left.front();
}

// --- 3. poomguard watch ---

TEST(PoomguardLoad, WatchKeepsAdjustingDuringAForkStorm) {
    if (!proc::ProcEvents::open()) GTEST_SKIP() << "no proc connector here (needs root): watch would only rescan";
    load::PidsGroup group(16);
    if (group.path().empty()) GTEST_SKIP() << "cannot make a cgroup v1 pids group under /sys/fs/cgroup/pids";
    Subreaper subreaper;
    Scratch d;
    const std::string prog = d.copy_program("/bin/sleep", "pgl-sleep");
    write_file(d / "rules.conf", "[load]\nmatch.exe = " + prog + "\nleader = 600\n");
    Background w(d, {"watch", "--config", d / "rules.conf"});
    ASSERT_TRUE(w.ready()) << w.err();
    const pid_t wpid = w.child().pid();
    const long base_hwm = load::status_kb(wpid, "VmHWM").value_or(0);

    load::SharedCounter forks;
    pid_t storm = load::start_fork_storm(group, forks.get());
    ASSERT_GT(storm, 0);
    KillAtExit kill_storm{storm};
    ASSERT_TRUE(eventually([&] { return group.current() >= 16 && group.refused() > 0; }, 30s))
        << "the fork loop did not reach the limit: " << group.current() << " processes, " << group.refused() << " refused";

    // A matching process started outside the storm gets its value within a deadline.
    std::vector<Child> started;
    auto start_matching = [&] {
        Command c(prog);
        c.args({"60"}).in(Stdio::null()).on_destroy(DestroyPolicy::kill_tree, std::chrono::seconds(0));
        auto ch = c.spawn();
        EXPECT_TRUE(ch) << (ch ? "" : ch.error().message());
        if (!ch) return pid_t{0};
        started.push_back(std::move(*ch));
        return started.back().pid();
    };
    std::vector<double> latencies;
    const long cpu0 = load::cpu_ticks(wpid);
    const long forks0 = forks.value();
    const auto storm_start = Clock::now();
    for (int i = 0; i < 10; ++i) {
        // Each one after the storm has been refused 20 more forks: spread over a sustained storm.
        const long refused_before = group.refused();
        ASSERT_TRUE(eventually([&] { return group.refused() >= refused_before + 20; }, 30s)) << "the storm stalled";
        auto t = Clock::now();
        pid_t p = start_matching();
        ASSERT_TRUE(eventually([&] { return adj_of(p) == 600; }, 20s)) << "process " << i << " at " << adj_of(p).value_or(-9999) << "\n" << w.err();
        latencies.push_back(seconds_since(t) * 1000);
    }
    const double storm_s = seconds_since(storm_start);
    const long cpu1 = load::cpu_ticks(wpid);
    const long storm_forks = forks.value() - forks0;

    // The connector's overrun: stopped, watch's socket overflows (the kernel counts the drops);
    // a process started meanwhile gets its value after it resumes, from the /proc rescan.
    const long drops0 = load::connector_drops(wpid).value_or(-1);
    ASSERT_GE(drops0, 0) << "watch holds no connector socket";
    ASSERT_EQ(::kill(wpid, SIGSTOP), 0);
    pid_t missed = start_matching();
    bool overflowed = eventually([&] { return load::connector_drops(wpid).value_or(0) > drops0; }, 30s);
    ASSERT_EQ(::kill(wpid, SIGCONT), 0);
    ASSERT_TRUE(overflowed) << "the storm did not overflow watch's socket while it was stopped";
    EXPECT_TRUE(eventually([&] { return adj_of(missed) == 600; }, 20s)) << "at " << adj_of(missed).value_or(-9999) << "\n" << w.err();
    // It has not fallen behind for good: new processes during the storm are still adjusted.
    for (int i = 0; i < 5; ++i) {
        pid_t p = start_matching();
        ASSERT_TRUE(eventually([&] { return adj_of(p) == 600; }, 20s)) << "after the overrun, process " << i << "\n" << w.err();
    }
    const long hwm = load::status_kb(wpid, "VmHWM").value_or(0);
    const long refused = group.refused();
    std::sort(latencies.begin(), latencies.end());
    std::cout << "watch in a fork storm (" << static_cast<long>(static_cast<double>(storm_forks) / storm_s) << " forks/s, "
              << refused << " forks refused at pids.max 16): latency p50 "
              << latencies[latencies.size() / 2] << " ms, max " << latencies.back() << " ms; CPU "
              << 100.0 * static_cast<double>(cpu1 - cpu0) / static_cast<double>(sysconf(_SC_CLK_TCK)) / storm_s
              << " % of a core; peak RSS " << base_hwm << " -> " << hwm << " KiB\n";
    if (load::rss_meaningful()) {
        EXPECT_LE(hwm, base_hwm + 4096) << "watch's peak RSS grew in the storm";
    }

    // It ends cleanly, and the storm leaves nothing.
    ::kill(storm, SIGKILL);
    ::waitpid(storm, nullptr, 0);
    kill_storm.pid = 0;
    EXPECT_TRUE(group.empty_and_remove()) << "the pids group did not empty";
    EXPECT_EQ(w.stop(SIGTERM), 0) << w.err();
    EXPECT_EQ(w.err().find("poomguard: cannot"), std::string::npos) << w.err();
    started.clear();
    auto left = load::reap_children(20s);
    EXPECT_TRUE(left.empty()) << left.size() << " processes left behind, the first " << left.front();
}
