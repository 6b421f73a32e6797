// Pool: map/apply/imap/starmap, callbacks, exceptions, dead workers, close/join/terminate.
#include "support.hpp"

#include <prockit/ipc/event.hpp>
#include <prockit/ipc/value.hpp>
#include <prockit/pool/pool.hpp>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <numeric>
#include <set>
#include <stdexcept>
#include <thread>

using namespace prockit;
using namespace prockit::test;
using namespace std::chrono_literals;

class PoolTest : public NoLeaks {};

namespace {
int square(int x) { return x * x; }
std::string shout(const std::string& s, int n) { return std::string(static_cast<std::size_t>(n), '!') + s; }
int fails_on_3(int x) {
    if (x == 3) throw std::runtime_error("three is bad");
    return x;
}
int my_pid(int) { return static_cast<int>(::getpid()); }
int g_init_value = 0;
void init_worker() { g_init_value = 42; }
void failing_init() { throw std::runtime_error("no database"); }
int read_init(int) { return g_init_value; }
Value<int>* g_hang_pid = nullptr;  // set before the pool forks
int hang(int) {
    g_hang_pid->store(static_cast<int>(::getpid()));
    ::pause();
    return 0;
}
int hang_on_0(int x) { return x == 0 ? hang(x) : x; }
int slow(int x) {
    ::usleep(1000);
    return x;
}
void nothing(int) {}
std::string reversed(const std::string& s) { return std::string(s.rbegin(), s.rend()); }
}  // namespace

static_assert(detail::Shippable<decltype(&square)>);
static_assert(detail::Shippable<decltype([](int x) { return x; })>);
inline auto g_capturing = [n = 1](int x) { return x + n; };
static_assert(!detail::Shippable<decltype(g_capturing)>, "closures are rejected at compile time");

TEST_F(PoolTest, MapApplyStarmap) {
    Pool pool({.processes = 2});
    EXPECT_EQ(pool.processes(), 2u);
    std::vector<int> in(1000);
    std::iota(in.begin(), in.end(), 0);
    std::vector<int> want(in.size());
    std::transform(in.begin(), in.end(), want.begin(), square);
    EXPECT_EQ(pool.map(square, in), want);
    EXPECT_EQ(pool.map(square, in, 1), want);
    EXPECT_EQ(pool.map(square, in, 333), want);
    EXPECT_EQ(pool.map(square, std::vector<int>{}), std::vector<int>{});
    EXPECT_EQ(pool.map([](int x) { return x + 1; }, std::vector<int>{1, 2}), (std::vector<int>{2, 3}));
    EXPECT_EQ(pool.apply(square, 12), 144);
    EXPECT_EQ(pool.apply(shout, std::string("hi"), 3), "!!!hi");
    std::vector<std::tuple<std::string, int>> args{{"a", 1}, {"b", 2}};
    EXPECT_EQ(pool.starmap(shout, args), (std::vector<std::string>{"!a", "!!b"}));
    pool.apply_async(nothing, std::tuple{1}).get(30s);
    pool.close();
    EXPECT_TRUE(pool.join(60s));
}

// Tasks and results far bigger than the rings (64 KiB here) travel in chunks.
TEST_F(PoolTest, LargeArgumentsAndResultsTravelInChunks) {
    Pool pool({.processes = 2, .buffer_bytes = 64 * 1024});
    std::vector<std::string> in;
    for (int i = 0; i < 200; ++i) in.push_back(std::string(10000, static_cast<char>('a' + i % 26)) + std::to_string(i));
    std::vector<std::string> want;
    for (auto& s : in) want.push_back(reversed(s));
    EXPECT_EQ(pool.map(reversed, in), want);
    EXPECT_EQ(pool.map(reversed, in, 200), want);  // one 2 MB task
    pool.close();
    EXPECT_TRUE(pool.join(60s));
}

TEST_F(PoolTest, ApplyAsyncCallbacksRunBeforeTheResultIsReady) {
    Pool pool({.processes = 2});
    std::atomic<int> got{0};
    std::atomic<int> errors{0};
    std::string err_msg;
    auto r = pool.apply_async(square, std::tuple{9}, {.callback = [&](const int& v) { got = v; }});
    EXPECT_EQ(r.get(30s), 81);
    EXPECT_TRUE(r.ready());
    EXPECT_TRUE(r.successful());
    EXPECT_EQ(got.load(), 81);
    auto bad = pool.apply_async(fails_on_3, std::tuple{3},
                                {.callback = {}, .error_callback = [&](const TaskError& e) {
                                     err_msg = e.what();
                                     ++errors;
                                 }});
    EXPECT_TRUE(bad.wait(30s));
    EXPECT_FALSE(bad.successful());
    EXPECT_EQ(errors.load(), 1);
    EXPECT_NE(err_msg.find("three is bad"), std::string::npos);
    auto m = pool.map_async(square, std::vector<int>{1, 2, 3}, 0, {.callback = [&](const std::vector<int>& v) { got = v[2]; }});
    EXPECT_EQ(m.get(30s), (std::vector<int>{1, 4, 9}));
    EXPECT_EQ(got.load(), 9);
}

TEST_F(PoolTest, TaskExceptionsReachGet) {
    Pool pool({.processes = 2});
    try {
        pool.apply(fails_on_3, 3);
        FAIL() << "no exception";
    } catch (const TaskError& e) {
        EXPECT_EQ(e.code(), make_error_code(IpcErrc::task_failed));
        std::string w = e.what();
        EXPECT_NE(w.find("std::runtime_error"), std::string::npos) << w;
        EXPECT_NE(w.find("three is bad"), std::string::npos) << w;
    }
    EXPECT_THROW(pool.map(fails_on_3, std::vector<int>{1, 2, 3, 4}, 1), TaskError);
    EXPECT_EQ(pool.apply(fails_on_3, 4), 4);  // the worker survived its task's exception
    auto never = pool.apply_async(slow, std::tuple{1});
    EXPECT_TRUE(never.wait(30s));
}

TEST_F(PoolTest, GetTimesOut) {
    Pool pool({.processes = 1});
    Value<int> pid(0);
    g_hang_pid = &pid;
    Pool hanging({.processes = 1});
    auto r = hanging.apply_async(hang, std::tuple{0});
    EXPECT_THROW(r.get(20ms), TimeoutError);
    EXPECT_FALSE(r.ready());
    EXPECT_THROW((void)r.successful(), std::logic_error);
    hanging.terminate();
    EXPECT_TRUE(hanging.join(60s));
    try {
        r.get(30s);
        FAIL();
    } catch (const TaskError& e) {
        EXPECT_EQ(e.code(), make_error_code(IpcErrc::closed));
    }
}

TEST_F(PoolTest, ImapInOrderAndUnordered) {
    Pool pool({.processes = 2});
    std::vector<int> in(200);
    std::iota(in.begin(), in.end(), 0);
    std::vector<int> got;
    for (int v : pool.imap(square, in)) got.push_back(v);
    std::vector<int> want(in.size());
    std::transform(in.begin(), in.end(), want.begin(), square);
    EXPECT_EQ(got, want);
    got.clear();
    auto it = pool.imap_unordered(square, in, 7);
    while (auto v = it.next(30s)) got.push_back(*v);
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, want);
    auto failing = pool.imap(fails_on_3, std::vector<int>{1, 2, 3, 4});
    EXPECT_EQ(failing.next(30s), 1);
    EXPECT_EQ(failing.next(30s), 2);
    EXPECT_THROW(failing.next(30s), TaskError);
    EXPECT_EQ(failing.next(30s), 4);
    EXPECT_EQ(failing.next(30s), std::nullopt);
}

TEST_F(PoolTest, InitializerAndMaxTasksPerChild) {
    Pool pool({.processes = 1, .initializer = init_worker, .maxtasksperchild = 1});
    EXPECT_EQ(pool.apply(read_init, 0), 42);
    std::set<int> pids;
    for (int i = 0; i < 3; ++i) pids.insert(pool.apply(my_pid, 0));
    EXPECT_EQ(pids.size(), 3u) << "each task ran in a new worker";
    pool.close();
    EXPECT_TRUE(pool.join(60s));
}

// Python replaces workers whose initializer fails for ever, and the tasks never run. Here the pool
// gives up after a few failures in a row: its tasks fail, nothing hangs.
TEST_F(PoolTest, InitializerThatKeepsFailingBreaksThePool) {
    Pool pool({.processes = 2, .initializer = failing_init});
    auto r = pool.apply_async(square, std::tuple{2});
    try {
        r.get(60s);
        FAIL() << "no exception";
    } catch (const TaskError& e) {
        EXPECT_NE(std::string(e.what()).find("initializer failed"), std::string::npos) << e.what();
    }
    EXPECT_THROW(pool.apply(square, 1), ClosedError);
    EXPECT_TRUE(pool.join(60s));
    // More tasks than the ring holds, and no worker will ever read them: an error, not a hang.
    Pool small({.processes = 1, .initializer = failing_init, .maxtasksperchild = 0, .buffer_bytes = 64 * 1024});
    EXPECT_THROW(small.map(square, std::vector<int>(100000, 1), 1), IpcError);
}

TEST_F(PoolTest, WorkerKilledMidTaskFailsThatTaskAndIsReplaced) {
    Value<int> pid(0);
    g_hang_pid = &pid;
    Pool pool({.processes = 2});
    auto before = pool.pids();
    auto r = pool.apply_async(hang, std::tuple{0});
    ASSERT_TRUE(eventually([&] { return pid.load() != 0; }));
    ::kill(pid.load(), SIGKILL);
    try {
        r.get(60s);
        FAIL() << "no exception";
    } catch (const TaskError& e) {
        EXPECT_EQ(e.code(), make_error_code(IpcErrc::worker_lost));
        EXPECT_NE(std::string(e.what()).find("signal 9"), std::string::npos) << e.what();
    }
    EXPECT_EQ(pool.map(square, std::vector<int>{1, 2, 3}, 1), (std::vector<int>{1, 4, 9}));
    ASSERT_TRUE(eventually([&] {
        auto now = pool.pids();
        return std::find(now.begin(), now.end(), pid.load()) == now.end() && now.size() == 2 && now[0] > 0 && now[1] > 0;
    }));
    pool.close();
    EXPECT_TRUE(pool.join(60s));
}

TEST_F(PoolTest, ImapItemWhoseWorkerDiesFailsAndTheRestArrive) {
    Value<int> pid(0);
    g_hang_pid = &pid;
    Pool pool({.processes = 2});
    auto it = pool.imap(hang_on_0, std::vector<int>{1, 0, 2});
    EXPECT_EQ(it.next(60s), 1);
    ASSERT_TRUE(eventually([&] { return pid.load() != 0; }));
    ::kill(pid.load(), SIGKILL);
    try {
        (void)it.next(60s);
        FAIL() << "no exception";
    } catch (const TaskError& e) {
        EXPECT_EQ(e.code(), make_error_code(IpcErrc::worker_lost));
    }
    EXPECT_EQ(it.next(60s), 2);
    EXPECT_EQ(it.next(60s), std::nullopt);
}

TEST_F(PoolTest, IdleWorkerKilledIsReplaced) {
    Pool pool({.processes = 2});
    auto before = pool.pids();
    ::kill(before[0], SIGKILL);
    ASSERT_TRUE(eventually([&] { return pool.pids()[0] != before[0]; }));
    std::vector<int> in(100, 3);
    EXPECT_EQ(pool.map(square, in, 1), std::vector<int>(100, 9));
}

TEST_F(PoolTest, CloseJoinTerminateAndDestruction) {
    {
        Pool pool({.processes = 2});
        auto r = pool.map_async(slow, std::vector<int>(50, 1), 1);
        pool.close();
        EXPECT_THROW(pool.apply(square, 1), ClosedError);
        EXPECT_TRUE(pool.join(60s));
        EXPECT_EQ(r.get(0s), std::vector<int>(50, 1));  // close lets queued work finish
        for (pid_t p : pool.pids()) EXPECT_FALSE(alive(p));
    }
    {
        Pool pool({.processes = 2});
        EXPECT_THROW(pool.join(0s), std::logic_error);
        auto r = pool.map_async(slow, std::vector<int>(100000, 1), 1);
        pool.terminate();
        EXPECT_TRUE(pool.join(60s));
        EXPECT_THROW(r.get(30s), TaskError);
    }
    {
        Pool pool({.processes = 2});
        auto r = pool.map_async(slow, std::vector<int>(100000, 1), 1);
        (void)r;
    }  // destruction terminates; NoLeaks checks that no child is left
}
