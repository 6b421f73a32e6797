#include <prockit/proc/procfs.hpp>
#include <prockit/sched/affinity.hpp>

#include "sched/affinity_test_hook.hpp"  // lib/src
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
        EXPECT_FALSE(r->overlapped) << "too few threads to pay for a helper thread";
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
    EXPECT_FALSE(r->overlapped) << "a mask per thread is set in one thread, in TID order";
    for (const auto& [tid, cpu] : given) {
        auto now = get_affinity(tid);
        ASSERT_TRUE(now);
        EXPECT_EQ(*now, cpu) << tid;
    }
}


// 600 threads: past the point where listing and setting overlap when allowed (a helper thread
// sets the threads already listed while the caller lists the rest; see affinity.cpp).
const AllThreadsOptions with_helper{.helper_thread = true};

namespace {

// Sets every thread of a 600-thread process four times, as paffinity does (a helper thread when
// there is a second CPU): every thread exactly once each time, and no helper left after.
void set_600_threads_four_times() {
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
        auto r = set_affinity_all_threads(helper.pid(), target, FsRoot::system(), with_helper);
        ASSERT_TRUE(r) << r.error().message();
        EXPECT_TRUE(r->ok()) << r->failed.front().error.message();
        EXPECT_EQ(r->changed.size(), tasks);
        EXPECT_EQ(r->exited, 0u);
        EXPECT_EQ(r->overlapped, allowed->count() >= 2) << "a helper thread works alongside when there are two CPUs";
        EXPECT_TRUE(std::is_sorted(r->changed.begin(), r->changed.end()));
        EXPECT_EQ(std::adjacent_find(r->changed.begin(), r->changed.end()), r->changed.end()) << "a thread twice";
        EXPECT_EQ(threads_not_on(helper.pid(), target), "") << "round " << round;
    }
    EXPECT_TRUE(eventually([&] { return task_count(getpid()) <= before; }))
        << task_count(getpid()) << " threads, " << before << " before";
}

}  // namespace

TEST(Affinity, AllThreadsOfAManyThreadedProcess) { set_600_threads_four_times(); }

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
        auto r = set_affinity_all_threads(helper.pid(), target, FsRoot::system(), with_helper);
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
    for (int round = 0; round < 5; ++round) {
        for (bool helped : {true, false}) {
            Child helper({PAFF_THREADS_HELPER, "interleave", "600"});
            ASSERT_EQ(helper.read_line(), "ready");
            CpuSet target{cpus[static_cast<std::size_t>(round) % cpus.size()]};
            helper.write_line("release");  // the waiting threads end from now on, during the call
            auto r = set_affinity_all_threads(helper.pid(), target, FsRoot::system(), {.helper_thread = helped});
            ASSERT_TRUE(r) << r.error().message();
            EXPECT_TRUE(r->ok()) << r->failed.front().error.message();
            EXPECT_EQ(helper.read_line(), "released");
            EXPECT_EQ(threads_not_on(helper.pid(), target), "") << "round " << round << (helped ? ", helped" : "");
        }
    }
}

// With only one CPU to run on there is no second CPU for the helper: the caller lists, then sets
// every thread itself.
TEST(Affinity, AllThreadsOfAManyThreadedProcessFromOneCpu) {
    auto allowed = get_affinity(0);
    ASSERT_TRUE(allowed);
    Child helper({PAFF_THREADS_HELPER, "threads", "600"});
    ASSERT_EQ(helper.read_line(), "ready");
    const std::size_t tasks = task_count(helper.pid());
    CpuSet target{allowed->cpus().back()};
    std::string outcome = on_thread([&] {
        if (auto st = set_affinity(0, CpuSet{allowed->first()}); !st) return st.error().message();
        auto r = set_affinity_all_threads(helper.pid(), target, FsRoot::system(), with_helper);
        if (!r) return r.error().message();
        if (!r->ok()) return r->failed.front().error.message();
        return std::to_string(r->changed.size()) + " changed" + (r->overlapped ? ", overlapped" : "");
    });
    EXPECT_EQ(outcome, std::to_string(tasks) + " changed");
    EXPECT_EQ(threads_not_on(helper.pid(), target), "");
}

// The helper thread does not outlive the call by more than its own exit, and the call never
// leaves this process with more threads than it started with.
TEST(Affinity, NoHelperThreadOutlivesTheCall) {
    auto allowed = get_affinity(0);
    ASSERT_TRUE(allowed);
    Child helper({PAFF_THREADS_HELPER, "threads", "600"});
    ASSERT_EQ(helper.read_line(), "ready");
    const std::size_t tasks = task_count(helper.pid());
    std::size_t before = task_count(getpid());
    for (int round = 0; round < 5; ++round) {
        auto r = set_affinity_all_threads(helper.pid(), *allowed, FsRoot::system(), with_helper);
        ASSERT_TRUE(r) << r.error().message();
        EXPECT_EQ(r->changed.size(), tasks);
    }
    EXPECT_TRUE(eventually([&] { return task_count(getpid()) <= before; }))
        << task_count(getpid()) << " threads, " << before << " before";
}

namespace {

// set_600_threads_four_times() with the listing helper made late or stalled (a test hook), and
// how often the caller then took the listing back and left a helper behind.
void with_helper_fault(detail::ListingHelperFault fault, unsigned taken_back, unsigned left_behind) {
    const detail::ListingHelperFallbacks start = detail::listing_helper_fallbacks();
    detail::set_listing_helper_fault(fault);
    struct Restore {
        ~Restore() { detail::set_listing_helper_fault(detail::ListingHelperFault::none); }
    } restore;
    set_600_threads_four_times();
    const detail::ListingHelperFallbacks now = detail::listing_helper_fallbacks();
    EXPECT_EQ(now.taken_back - start.taken_back, taken_back);
    EXPECT_EQ(now.left_behind - start.left_behind, left_behind);
}

}  // namespace

// A helper that has not claimed the listing 0.2 ms after the first chunk loses it: the caller
// lists on by itself.
TEST(Affinity, AHelperThatComesLateLosesTheListing) {
    if (get_affinity(0)->count() < 2) GTEST_SKIP() << "needs a second CPU for the helper thread";
    with_helper_fault(detail::ListingHelperFault::never_claims, 4, 0);
}

// A helper that stops listing after its first chunk is left behind 0.3 ms later: the caller lists
// everything in one read, sets what it had not, and returns while the helper still holds the
// shared state (freed by whichever lets go last).
TEST(Affinity, AHelperThatStallsIsLeftBehind) {
    if (get_affinity(0)->count() < 2) GTEST_SKIP() << "needs a second CPU for the helper thread";
    with_helper_fault(detail::ListingHelperFault::stalls, 0, 4);
}

// Without being asked, the library starts no thread: the same threads are set by the caller.
TEST(Affinity, NoHelperThreadUnlessAsked) {
    auto allowed = get_affinity(0);
    ASSERT_TRUE(allowed);
    Child helper({PAFF_THREADS_HELPER, "threads", "600"});
    ASSERT_EQ(helper.read_line(), "ready");
    const std::size_t tasks = task_count(helper.pid());
    CpuSet target{allowed->cpus().back()};
    auto r = set_affinity_all_threads(helper.pid(), target);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_TRUE(r->ok());
    EXPECT_FALSE(r->overlapped);
    EXPECT_EQ(r->changed.size(), tasks);
    EXPECT_EQ(threads_not_on(helper.pid(), target), "");
    ASSERT_TRUE(set_affinity_all_threads(helper.pid(), *allowed));
}

// A thread of this very process (not its main thread) names this process too: no helper thread,
// which would be one of the threads listed.
TEST(Affinity, NoHelperThreadForThisProcess) {
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
        auto r = set_affinity_all_threads(tid.load(), *allowed, FsRoot::system(), with_helper);
        if (!r) return r.error().message();
        return std::string(r->overlapped ? "overlapped" : "not overlapped") + (r->ok() ? "" : ", failures");
    });
    stop = true;
    for (std::thread& t : threads) t.join();
    EXPECT_EQ(outcome, "not overlapped");
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
