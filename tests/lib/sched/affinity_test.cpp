#include <prockit/proc/procfs.hpp>
#include <prockit/sched/affinity.hpp>

#include "tools/paffinity/run_tool.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
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

namespace {

std::size_t task_count(pid_t pid) {
    auto tasks = proc::list_tasks(pid);
    return tasks ? tasks->size() : 0;
}

// Waits (up to 20 s) until `pred()` holds.
template <class Pred>
bool eventually(Pred pred) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!pred()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return true;
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
    EXPECT_EQ(r->changed.size(), task_count(helper.pid()));  // 6, or more under a sanitizer
    for (const auto& [tid, cpu] : given) {
        auto now = get_affinity(tid);
        ASSERT_TRUE(now);
        EXPECT_EQ(*now, cpu) << tid;
    }
}

// 600 threads, listed in several chunks (~128 TIDs each) and set as each chunk comes, four times:
// every thread exactly once each time, and no thread of this process started for it.
TEST(Affinity, AllThreadsOfAManyThreadedProcess) {
    auto allowed = get_affinity(0);
    ASSERT_TRUE(allowed);
    Child helper({PAFF_THREADS_HELPER, "threads", "600"});
    ASSERT_EQ(helper.read_line(), "ready");
    const std::size_t tasks = task_count(helper.pid());  // 601, or more under a sanitizer
    ASSERT_GE(tasks, 601u);
    const std::size_t before = task_count(getpid());
    std::vector<unsigned> cpus = allowed->cpus();
    for (int round = 0; round < 4; ++round) {
        CpuSet target = round % 2 == 1 ? *allowed : CpuSet{cpus[static_cast<std::size_t>(round / 2) % cpus.size()]};
        auto r = set_affinity_all_threads(helper.pid(), target);
        ASSERT_TRUE(r) << r.error().message();
        EXPECT_TRUE(r->ok()) << r->failed.front().error.message();
        EXPECT_EQ(r->changed.size(), tasks);
        EXPECT_EQ(r->exited, 0u);
        EXPECT_TRUE(std::is_sorted(r->changed.begin(), r->changed.end()));
        EXPECT_EQ(std::adjacent_find(r->changed.begin(), r->changed.end()), r->changed.end()) << "a thread twice";
        EXPECT_EQ(threads_not_on(helper.pid(), target), "") << "round " << round;
    }
    EXPECT_EQ(task_count(getpid()), before);
}

// The same while threads keep appearing and short-lived ones end during the listing.
TEST(Affinity, AllThreadsOfAManyThreadedProcessThatKeepsCreatingThreads) {
    auto allowed = get_affinity(0);
    ASSERT_TRUE(allowed);
    Child helper({PAFF_THREADS_HELPER, "churn", "150"});  // grows to 600 sleepers, plus brief ones
    ASSERT_EQ(helper.read_line(), "ready");
    ASSERT_TRUE(eventually([&] { return task_count(helper.pid()) >= 550; }));
    std::vector<unsigned> cpus = allowed->cpus();
    for (int round = 0; round < 6; ++round) {
        CpuSet target{cpus[static_cast<std::size_t>(round) % cpus.size()]};
        auto r = set_affinity_all_threads(helper.pid(), target);
        ASSERT_TRUE(r) << r.error().message();
        EXPECT_TRUE(r->ok()) << r->failed.front().error.message();
        EXPECT_GE(r->changed.size(), 500u);
        EXPECT_EQ(threads_not_on(helper.pid(), target), "") << "round " << round;
    }
}

// Threads that end while the listing runs, every other one in listing order: the kernel resumes a
// chunked listing by position when the thread it stopped at has ended, which skips live threads.
// Every thread that is left must have the mask all the same.
TEST(Affinity, AllThreadsWhileEveryOtherThreadEnds) {
    auto allowed = get_affinity(0);
    ASSERT_TRUE(allowed);
    std::vector<unsigned> cpus = allowed->cpus();
    for (int round = 0; round < 8; ++round) {
        Child helper({PAFF_THREADS_HELPER, "interleave", "600"});
        ASSERT_EQ(helper.read_line(), "ready");
        CpuSet target{cpus[static_cast<std::size_t>(round) % cpus.size()]};
        helper.write_line("release");  // the waiting threads end from now on, during the call
        auto r = set_affinity_all_threads(helper.pid(), target);
        ASSERT_TRUE(r) << r.error().message();
        EXPECT_TRUE(r->ok()) << r->failed.front().error.message();
        EXPECT_EQ(helper.read_line(), "released");
        EXPECT_EQ(threads_not_on(helper.pid(), target), "") << "round " << round;
    }
}

// A thread of this very process (not its main thread) names this process too: all of its threads,
// the caller's among them, are set.
TEST(Affinity, AllThreadsOfThisProcess) {
    auto allowed = get_affinity(0);
    ASSERT_TRUE(allowed);
    std::atomic<bool> stop{false};
    std::atomic<pid_t> tid{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 600; ++i)
        threads.emplace_back([&, i] {
            if (i == 0) tid = static_cast<pid_t>(::gettid());
            while (!stop) std::this_thread::sleep_for(std::chrono::milliseconds(5));
        });
    ASSERT_TRUE(eventually([&] { return tid.load() != 0; }));
    std::string outcome = on_thread([&] {
        auto r = set_affinity_all_threads(tid.load(), *allowed);
        if (!r) return r.error().message();
        if (!r->ok()) return r->failed.front().error.message();
        return std::string(r->changed.size() >= 602 ? "all set" : std::to_string(r->changed.size()) + " set");
    });
    stop = true;
    for (std::thread& t : threads) t.join();
    EXPECT_EQ(outcome, "all set");
}

// A thread made while the walk is setting threads, with the old mask (see thread_helper.cpp), has
// a TID above the listing's: the confirming probe must look past the listing, up to the PIDs
// handed out by then. The callback makes one as the first thread is set.
TEST(Affinity, AThreadMadeWhileSettingIsSetToo) {
    auto allowed = get_affinity(0);
    ASSERT_TRUE(allowed);
    CpuSet target{allowed->cpus().back()};
    for (int round = 0; round < 3; ++round) {
        Child helper({PAFF_THREADS_HELPER, "threads", "5"});
        ASSERT_EQ(helper.read_line(), "ready");
        std::string made;
        auto r = set_affinity_all_threads(helper.pid(), [&](pid_t) {
            if (made.empty()) {
                helper.write_line("spawn");  // a thread with the old mask, made now
                made = helper.read_line().value_or("(no answer)");
            }
            return target;
        });
        ASSERT_TRUE(r) << r.error().message();
        EXPECT_TRUE(r->ok());
        ASSERT_EQ(made.rfind("tid=", 0), 0u) << made;
        EXPECT_EQ(threads_not_on(helper.pid(), target), "") << "round " << round << ", " << made;
    }
}
