// WorkerGroup: start, restart on death, restart-rate limit, stop, pinning, master death.
#include "support.hpp"

#include <prockit/ipc/queue.hpp>
#include <prockit/pool/worker_group.hpp>
#include <prockit/process/process.hpp>
#include <prockit/sched/affinity.hpp>

#include <csignal>
#include <thread>

using namespace prockit;
using namespace prockit::test;
using namespace std::chrono_literals;

class WorkerGroupTest : public NoLeaks {};

namespace {
struct Report {
    unsigned index;
    unsigned generation;
    int pid;
    int cpu;  // -1 when not pinned; else the single CPU of its affinity (-2 if not a single CPU)
};
int pinned_cpu() {
    auto a = get_affinity(0);
    if (!a || a->count() != 1) return -2;
    return static_cast<int>(a->first());
}
}  // namespace

TEST_F(WorkerGroupTest, StartsRestartsAndStops) {
    Queue reports;
    WorkerGroup g({.workers = 3, .pin = false}, [&](const WorkerInfo& w) {
        reports.put(Report{w.index, w.generation, static_cast<int>(::getpid()), -1});
        ::pause();
        return 0;
    });
    EXPECT_EQ(g.size(), 3u);
    g.start();
    std::set<unsigned> seen;
    for (int i = 0; i < 3; ++i) seen.insert(reports.get<Report>(30s).index);
    EXPECT_EQ(seen, (std::set<unsigned>{0, 1, 2}));
    EXPECT_EQ(g.running(), 3u);
    pid_t victim = g.pids()[1];
    ::kill(victim, SIGKILL);
    // supervise() notices the death and restarts slot 1.
    auto deadline = std::chrono::steady_clock::now() + 60s;
    while (g.restarts() == 0 && std::chrono::steady_clock::now() < deadline) EXPECT_EQ(g.supervise(100ms), SuperviseResult::timeout);
    EXPECT_EQ(g.restarts(), 1u);
    Report r = reports.get<Report>(30s);
    EXPECT_EQ(r.index, 1u);
    EXPECT_EQ(r.generation, 1u);
    EXPECT_NE(r.pid, victim);
    g.stop(5s);
    EXPECT_EQ(g.running(), 0u);
    EXPECT_FALSE(alive(r.pid));
}

TEST_F(WorkerGroupTest, RestartRateLimitStopsACrashLoop) {
    WorkerGroup g({.workers = 2, .pin = false, .max_restarts = 3, .restart_window = 3600s}, [](const WorkerInfo&) { return 1; });
    g.start();
    SuperviseResult r = SuperviseResult::timeout;
    auto deadline = std::chrono::steady_clock::now() + 60s;
    while (r == SuperviseResult::timeout && std::chrono::steady_clock::now() < deadline) r = g.supervise(1s);
    EXPECT_EQ(r, SuperviseResult::restart_limit);
    EXPECT_EQ(g.restarts(), 3u);
    while (g.running() > 0 && std::chrono::steady_clock::now() < deadline) (void)g.supervise(1s);
    EXPECT_EQ(g.supervise(0s), SuperviseResult::all_exited);
}

// Workers that finish their work (exit code 0) are not restarted by default: the group ends.
TEST_F(WorkerGroupTest, WorkersThatFinishAreNotRestartedByDefault) {
    WorkerGroup g({.workers = 2, .pin = false}, [](const WorkerInfo&) { return 0; });
    g.start();
    SuperviseResult r = SuperviseResult::timeout;
    auto deadline = std::chrono::steady_clock::now() + 60s;
    while (r == SuperviseResult::timeout && std::chrono::steady_clock::now() < deadline) r = g.supervise(1s);
    EXPECT_EQ(r, SuperviseResult::all_exited);
    EXPECT_EQ(g.restarts(), 0u);
    EXPECT_EQ(g.running(), 0u);
}

// on_failure still restarts a failed worker; always restarts a finished one; never restarts none.
TEST_F(WorkerGroupTest, RestartPolicyIsSelectable) {
    auto run_until_end = [](WorkerGroup& g) {
        SuperviseResult r = SuperviseResult::timeout;
        auto deadline = std::chrono::steady_clock::now() + 60s;
        while (r == SuperviseResult::timeout && std::chrono::steady_clock::now() < deadline) r = g.supervise(1s);
        return r;
    };
    // Generation 0 fails, generation 1 finishes.
    auto fail_once = [](const WorkerInfo& w) { return w.generation == 0 ? 3 : 0; };
    WorkerGroup on_failure({.workers = 2, .pin = false}, fail_once);
    on_failure.start();
    EXPECT_EQ(run_until_end(on_failure), SuperviseResult::all_exited);
    EXPECT_EQ(on_failure.restarts(), 2u);

    WorkerGroup never({.workers = 2, .pin = false, .restart = WorkerRestart::never}, fail_once);
    never.start();
    EXPECT_EQ(run_until_end(never), SuperviseResult::all_exited);
    EXPECT_EQ(never.restarts(), 0u);

    WorkerGroup always({.workers = 1, .pin = false, .restart = WorkerRestart::always, .max_restarts = 2, .restart_window = 3600s},
                       [](const WorkerInfo&) { return 0; });
    always.start();
    EXPECT_EQ(run_until_end(always), SuperviseResult::restart_limit);
    EXPECT_EQ(always.restarts(), 2u);
}

TEST_F(WorkerGroupTest, RequestStopWakesSupervise) {
    WorkerGroup g({.workers = 1}, [](const WorkerInfo&) {
        ::pause();
        return 0;
    });
    g.start();
    std::thread t([&] { g.request_stop(); });
    EXPECT_EQ(g.supervise(60s), SuperviseResult::stop_requested);
    t.join();
    EXPECT_EQ(g.supervise(10ms), SuperviseResult::timeout);
}

TEST_F(WorkerGroupTest, PinsEachWorkerToItsOwnCpu) {
    auto order = WorkerGroup::pinning_order();
    ASSERT_FALSE(order.empty());
    std::set<unsigned> distinct(order.begin(), order.end());
    EXPECT_EQ(distinct.size(), order.size());
    Queue reports;
    unsigned n = static_cast<unsigned>(order.size());
    WorkerGroup g({.workers = n, .pin = true}, [&](const WorkerInfo& w) {
        reports.put(Report{w.index, w.generation, static_cast<int>(::getpid()), pinned_cpu()});
        return 0;
    });
    auto cpus = g.cpus();
    g.start();
    for (unsigned i = 0; i < n; ++i) {
        Report r = reports.get<Report>(30s);
        ASSERT_TRUE(cpus[r.index].has_value());
        EXPECT_EQ(r.cpu, static_cast<int>(*cpus[r.index]));
    }
    g.stop();
}

TEST_F(WorkerGroupTest, WorkersEndWhenTheMasterDies) {
    ASSERT_TRUE(set_child_subreaper(true));  // the orphaned workers come back to us to be reaped
    Queue pids;
    Process master([&] {
        WorkerGroup g({.workers = 2, .parent_death_signal = SIGTERM}, [&](const WorkerInfo&) {
            pids.put(static_cast<int>(::getpid()));
            ::pause();
            return 0;
        });
        g.start();
        for (;;) (void)g.supervise(std::nullopt);
    });
    master.start();
    int w1 = pids.get<int>(30s), w2 = pids.get<int>(30s);
    master.kill();
    master.join();
    for (int w : {w1, w2}) {
        EXPECT_TRUE(eventually([&] { return !alive(w); }, 30s)) << "worker " << w << " outlived its master";
        siginfo_t info{};
        (void)::waitid(P_PID, static_cast<id_t>(w), &info, WEXITED);
    }
    ASSERT_TRUE(set_child_subreaper(false));
}
