// Supervisor: jobs on an EventLoop — exits with usage, deadlines with a term sequence, stopping,
// restart with backoff and a limit, a halt policy over a pool, and reaping adopted orphans.
#include "support.hpp"

#include <prockit/sys/syscall.hpp>

#include <sstream>
#include <thread>

#include <prockit/supervise/halt_policy.hpp>
#include <prockit/supervise/restart_policy.hpp>
#include <prockit/supervise/supervisor.hpp>

using namespace prockit;
using namespace prockit::test;
using namespace std::chrono_literals;

namespace {

template <class F>
bool run_until(EventLoop& loop, F done, std::chrono::seconds limit = 60s) {
    auto deadline = EventLoop::Clock::now() + limit;
    while (!done()) {
        if (EventLoop::Clock::now() > deadline) return false;
        EXPECT_TRUE(loop.run_once(deadline));
    }
    return true;
}

struct Ended {
    Supervisor::JobId id;
    ExitStatus status;
    bool timed_out, stopped;
};

}  // namespace

class SupervisorTest : public NoLeaks {};

TEST_F(SupervisorTest, ReportsExitWithStatusAndUsage) {
    EventLoop loop;
    std::vector<Ended> ended;
    Supervisor sup(loop, term_then_kill(1s), {[&](Supervisor::Exit& e) {
                       ended.push_back({e.id, e.status, e.timed_out, e.stopped});
                       EXPECT_TRUE(e.status.usage());
                       EXPECT_GE(e.ended, e.started);
                   },
                                              {}});
    auto a = sup.start(helper_cmd({"exit", "7"})).value();
    auto b = sup.start(helper_cmd({"exit", "0"})).value();
    EXPECT_NE(a, b);
    EXPECT_EQ(sup.running(), 2U);
    ASSERT_TRUE(run_until(loop, [&] { return ended.size() == 2; }));
    EXPECT_EQ(sup.running(), 0U);
    EXPECT_EQ(loop.watched(), 0U);
    for (const auto& e : ended) {
        EXPECT_FALSE(e.timed_out);
        EXPECT_EQ(e.status.code(), e.id == a ? 7 : 0);
    }
}

TEST_F(SupervisorTest, SpawnFailureIsReturned) {
    EventLoop loop;
    Supervisor sup(loop, term_then_kill(1s), {});
    auto r = sup.start(Command("/nonexistent/prockit-no-such-program"));
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().not_found());
    EXPECT_EQ(sup.running(), 0U);
}

TEST_F(SupervisorTest, TimeoutRunsTheTermSequenceOnTheWholeTree) {
    EventLoop loop;
    std::vector<Ended> ended;
    std::vector<Supervisor::JobId> timeouts;
    // TERM is ignored by the job and by its grandchild: the KILL step ends both.
    Supervisor sup(loop, {{SIGTERM, 100ms}, {SIGKILL, 0ms}},
                   {[&](Supervisor::Exit& e) { ended.push_back({e.id, e.status, e.timed_out, e.stopped}); },
                    [&](Supervisor::JobId id) { timeouts.push_back(id); }});
    Command cmd = helper_cmd({"ignore", "TERM", "fork-sleeper", "ready", "pause"});
    cmd.new_process_group().out(Stdio::pipe());
    Supervisor::JobOptions o;
    o.timeout = 50ms;
    auto id = sup.start(cmd, o).value();
    int out = sup.child(id)->stdout_pipe().get();
    std::string gc = read_line(out);
    ASSERT_EQ(gc.rfind("grandchild=", 0), 0U) << gc;
    pid_t grandchild = std::stoi(gc.substr(11));
    int gfd = static_cast<int>(syscall(SYS_pidfd_open, grandchild, 0));
    ASSERT_GE(gfd, 0);
    ASSERT_EQ(read_line(out), "ready");
    ASSERT_TRUE(run_until(loop, [&] { return !ended.empty(); }));
    EXPECT_EQ(timeouts, std::vector<Supervisor::JobId>{id});
    EXPECT_TRUE(ended[0].timed_out);
    EXPECT_TRUE(ended[0].stopped);
    EXPECT_EQ(ended[0].status, ExitStatus::killed(SIGKILL)) << ended[0].status.to_string();
    pollfd p{gfd, POLLIN, 0};
    EXPECT_EQ(::poll(&p, 1, 30000), 1) << "the grandchild was killed with the tree";
    ::close(gfd);
}

TEST_F(SupervisorTest, StopReachesDescendantsThatLeftTheProcessGroup) {
    EventLoop loop;
    std::vector<Ended> ended;
    Supervisor sup(loop, {{SIGTERM, 30s}, {SIGKILL, 0ms}},
                   {[&](Supervisor::Exit& e) { ended.push_back({e.id, e.status, e.timed_out, e.stopped}); }, {}});
    // The grandchild calls setsid: the job's process-group signal does not reach it.
    Command cmd("sh");
    cmd.args({"-c", "setsid sleep 300 & echo $!; wait"}).new_process_group().out(Stdio::pipe());
    auto id = sup.start(cmd).value();
    pid_t grandchild = std::stoi(read_line(sup.child(id)->stdout_pipe().get()));
    int gfd = static_cast<int>(syscall(SYS_pidfd_open, grandchild, 0));
    ASSERT_GE(gfd, 0);
    // Stop only once it has its own session (before that the group's TERM would reach it).
    auto own_session = [&] {
        std::string all = read_file("/proc/" + std::to_string(grandchild) + "/stat").value_or("");
        auto close = all.rfind(')');
        if (close == std::string::npos) return false;
        std::istringstream rest(all.substr(close + 2));
        std::string state;
        long ppid = 0, pgrp = 0, session = 0;
        rest >> state >> ppid >> pgrp >> session;
        return session == grandchild;
    };
    auto until = std::chrono::steady_clock::now() + 20s;
    while (!own_session() && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(5ms);
    ASSERT_TRUE(own_session());
    sup.stop(id);
    ASSERT_TRUE(run_until(loop, [&] { return !ended.empty(); }));
    pollfd p{gfd, POLLIN, 0};
    bool gone = ::poll(&p, 1, 10000) == 1;
    if (!gone) ::kill(grandchild, SIGKILL);
    EXPECT_TRUE(gone) << "the setsid'd grandchild outlived its job's end";
    ::close(gfd);
}

TEST_F(SupervisorTest, ATermThatEndsTheJobEndsTheSequence) {
    EventLoop loop;
    std::vector<Ended> ended;
    Supervisor sup(loop, {{SIGTERM, 30s}, {SIGKILL, 0ms}},
                   {[&](Supervisor::Exit& e) { ended.push_back({e.id, e.status, e.timed_out, e.stopped}); }, {}});
    Command cmd = helper_cmd({"ready", "pause"});
    cmd.out(Stdio::pipe());
    auto id = sup.start(cmd).value();
    ASSERT_EQ(read_line(sup.child(id)->stdout_pipe().get()), "ready");
    sup.stop(id);
    sup.stop(id);  // idempotent
    ASSERT_TRUE(run_until(loop, [&] { return !ended.empty(); }));
    EXPECT_EQ(ended[0].status, ExitStatus::killed(SIGTERM));
    EXPECT_FALSE(ended[0].timed_out);
    EXPECT_TRUE(ended[0].stopped);
    EXPECT_EQ(loop.timers(), 0U) << "the KILL step was cancelled";
}

TEST_F(SupervisorTest, StopAllNowKills) {
    EventLoop loop;
    std::vector<Ended> ended;
    Supervisor sup(loop, {{SIGTERM, 30s}, {SIGKILL, 0ms}},
                   {[&](Supervisor::Exit& e) { ended.push_back({e.id, e.status, e.timed_out, e.stopped}); }, {}});
    for (int i = 0; i < 3; ++i) sup.start(helper_cmd({"ignore", "TERM", "pause"})).value();
    sup.stop_all(true);
    ASSERT_TRUE(run_until(loop, [&] { return ended.size() == 3; }));
    for (const auto& e : ended) EXPECT_EQ(e.status, ExitStatus::killed(SIGKILL));
}

TEST_F(SupervisorTest, RestartWithBackoffUntilTheLimit) {
    EventLoop loop;
    RestartTracker restarts({RestartPolicy::Mode::on_failure, 5ms, 20ms, 10s, 3, 60s});
    int runs = 0;
    bool limit = false;
    std::vector<std::chrono::nanoseconds> delays;
    Command cmd = helper_cmd({"exit", "1"});
    std::function<void()> launch;
    Supervisor sup(loop, term_then_kill(1s), {[&](Supervisor::Exit& e) {
                       ++runs;
                       auto d = restarts.on_end(e.status.success(), e.ended - e.started, e.ended);
                       if (d.verdict == RestartTracker::Verdict::limit_reached) limit = true;
                       if (d.verdict != RestartTracker::Verdict::restart) return;
                       delays.push_back(d.delay);
                       loop.after(d.delay, launch);
                   },
                                              {}});
    launch = [&] { sup.start(cmd).value(); };
    launch();
    ASSERT_TRUE(run_until(loop, [&] { return limit; }));
    EXPECT_EQ(runs, 4) << "the first run and three restarts";
    EXPECT_EQ(delays, (std::vector<std::chrono::nanoseconds>{5ms, 10ms, 20ms}));
    EXPECT_EQ(loop.timers(), 0U);
}

TEST_F(SupervisorTest, HaltNowFailEndsThePool) {
    EventLoop loop;
    HaltTracker halt({HaltPolicy::When::now, HaltPolicy::Why::fail, 1, false});
    std::optional<HaltTracker::Decision> decision;
    std::vector<Ended> ended;
    Supervisor* sp = nullptr;
    Supervisor sup(loop, term_then_kill(10s), {[&](Supervisor::Exit& e) {
                       ended.push_back({e.id, e.status, e.timed_out, e.stopped});
                       auto d = halt.record(e.status.success() && !e.timed_out, e.status.shell_code());
                       if (d) {
                           decision = d;
                           sp->stop_all(false);  // now: TERM sequence for the others
                       }
                   },
                                              {}});
    sp = &sup;
    for (int i = 0; i < 2; ++i) sup.start(helper_cmd({"pause"})).value();
    sup.start(helper_cmd({"exit", "3"})).value();
    ASSERT_TRUE(run_until(loop, [&] { return ended.size() == 3; }));
    ASSERT_TRUE(decision);
    EXPECT_TRUE(decision->now);
    EXPECT_EQ(decision->exit_code, 3);
    EXPECT_EQ(ended[0].status.code(), 3);
    EXPECT_EQ(ended[1].status, ExitStatus::killed(SIGTERM));
    EXPECT_EQ(ended[2].status, ExitStatus::killed(SIGTERM));
    EXPECT_EQ(halt.done(), 3U);
}

TEST_F(SupervisorTest, ReapsAdoptedOrphansButNotItsOwnJobs) {
    ASSERT_TRUE(set_child_subreaper(true));
    {
        EventLoop loop;
        std::vector<Ended> ended;
        std::vector<std::pair<pid_t, ExitStatus>> orphans;
        Supervisor sup(loop, term_then_kill(1s),
                       {[&](Supervisor::Exit& e) { ended.push_back({e.id, e.status, e.timed_out, e.stopped}); }, {}});
        ASSERT_TRUE(loop.watch_signals({SIGCHLD}, [&](const signalfd_siginfo&) {
            sup.reap_orphans([&](pid_t pid, ExitStatus st) { orphans.emplace_back(pid, st); });
        }));
        // The first job leaves a grandchild (its own session) and exits: the grandchild is ours now.
        Command leaver = helper_cmd({"daemon-sleeper", "exit", "5"});
        leaver.out(Stdio::pipe());
        auto a = sup.start(leaver).value();
        std::string gc = read_line(sup.child(a)->stdout_pipe().get());
        ASSERT_EQ(gc.rfind("grandchild=", 0), 0U) << gc;
        pid_t grandchild = std::stoi(gc.substr(11));
        Command stay = helper_cmd({"ready", "pause"});
        stay.out(Stdio::pipe());
        auto b = sup.start(stay).value();
        ASSERT_EQ(read_line(sup.child(b)->stdout_pipe().get()), "ready");
        ASSERT_TRUE(run_until(loop, [&] { return ended.size() == 1; }));
        EXPECT_EQ(ended[0].id, a);
        EXPECT_EQ(ended[0].status.code(), 5) << "the job's own status, not taken by the orphan reaper";
        ASSERT_EQ(::kill(grandchild, SIGKILL), 0);
        ASSERT_TRUE(run_until(loop, [&] { return !orphans.empty(); }));
        EXPECT_EQ(orphans[0].first, grandchild);
        EXPECT_EQ(orphans[0].second, ExitStatus::killed(SIGKILL));
        EXPECT_TRUE(sup.is_running(b)) << "the other job was left alone";
        sup.stop(b, true);
        ASSERT_TRUE(run_until(loop, [&] { return ended.size() == 2; }));
        EXPECT_EQ(ended[1].status, ExitStatus::killed(SIGKILL));
    }
    ASSERT_TRUE(set_child_subreaper(false));
}
