#include <prockit/proc/procfs.hpp>
#include <prockit/sched/affinity.hpp>

#include "tools/paffinity/run_tool.hpp"

#include <gtest/gtest.h>

#include <thread>

using namespace prockit;
using paff_test::Child;

namespace {

// Runs a function on a fresh thread and returns its result (so this test's main thread keeps
// its mask whatever the function does).
template <class F>
auto on_thread(F f) {
    decltype(f()) r;
    std::thread t([&] { r = f(); });
    t.join();
    return r;
}

// Every thread of pid has exactly `cpus`; returns the offenders' description.
std::string threads_not_on(pid_t pid, const CpuSet& cpus) {
    std::string bad;
    auto tasks = get_affinity_all_threads(pid);
    if (!tasks) return tasks.error().message();
    for (const TaskAffinity& t : *tasks)
        if (t.cpus != cpus) bad += std::to_string(t.tid) + "=" + t.cpus.to_list() + " ";
    return bad;
}

}  // namespace

TEST(Affinity, GetAndSetThisThread) {
    auto allowed = get_affinity(0);
    ASSERT_TRUE(allowed) << allowed.error().message();
    ASSERT_FALSE(allowed->empty());
    CpuSet one{allowed->first()};
    auto got = on_thread([&] {
        auto st = set_affinity(0, one);
        if (!st) return std::string("set: ") + st.error().message();
        auto now = get_affinity(0);
        return now ? now->to_list() : now.error().message();
    });
    EXPECT_EQ(got, one.to_list());
}

TEST(Affinity, EmptyOrImpossibleSetIsEinval) {
    auto r = on_thread([] {
        auto st = set_affinity(0, CpuSet{});
        return st ? 0 : st.error().errno_value();
    });
    EXPECT_EQ(r, EINVAL);
    auto r2 = on_thread([] {
        auto st = set_affinity(0, CpuSet{8000});
        return st ? 0 : st.error().errno_value();
    });
    EXPECT_EQ(r2, EINVAL);
}

TEST(Affinity, VanishedProcess) {
    auto r = set_affinity_all_threads(999999999, CpuSet{0});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().errno_value(), ESRCH);
    auto g = get_affinity(999999999);
    ASSERT_FALSE(g);
    EXPECT_EQ(g.error().errno_value(), ESRCH);
}

TEST(Affinity, AllThreadsOfAProcessThatKeepsCreatingThreads) {
    auto allowed = get_affinity(0);
    ASSERT_TRUE(allowed);
    Child helper({PAFF_THREADS_HELPER, "churn", "20"});
    ASSERT_EQ(helper.read_line(), "ready");
    // Alternate between single CPUs of the allowed set (or the one CPU there is), several rounds.
    std::vector<unsigned> cpus = allowed->cpus();
    for (int round = 0; round < 6; ++round) {
        CpuSet target{cpus[static_cast<std::size_t>(round) % cpus.size()]};
        auto r = set_affinity_all_threads(helper.pid(), target);
        ASSERT_TRUE(r) << r.error().message();
        EXPECT_TRUE(r->ok()) << r->failed.front().error.message();
        EXPECT_GE(r->changed.size(), 21u);
        EXPECT_GE(r->passes, 2u);
        // Threads created from now on inherit the mask from a creator that was set.
        EXPECT_EQ(threads_not_on(helper.pid(), target), "") << "round " << round;
    }
    auto r = set_affinity_all_threads(helper.pid(), *allowed);
    ASSERT_TRUE(r);
}

TEST(Affinity, MaskPerThreadCallback) {
    auto allowed = get_affinity(0);
    ASSERT_TRUE(allowed);
    Child helper({PAFF_THREADS_HELPER, "threads", "5"});
    ASSERT_EQ(helper.read_line(), "ready");
    std::vector<unsigned> cpus = allowed->cpus();
    std::size_t i = 0;
    std::map<pid_t, CpuSet> given;
    auto r = set_affinity_all_threads(helper.pid(), [&](pid_t tid) {
        CpuSet one{cpus[i++ % cpus.size()]};
        given[tid] = one;
        return one;
    });
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->changed.size(), 6u);
    for (const auto& [tid, cpu] : given) {
        auto now = get_affinity(tid);
        ASSERT_TRUE(now);
        EXPECT_EQ(*now, cpu) << tid;
    }
}
