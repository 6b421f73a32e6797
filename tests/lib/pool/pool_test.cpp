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
#include <iterator>
#include <ranges>
#include <sstream>
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
int fails_on_0(int x) {
    if (x == 0) throw std::runtime_error("zero");
    return x;
}
struct Derived : std::runtime_error {
    using std::runtime_error::runtime_error;
};
// Throws the exception type numbered `k`.
int throws_kind(int k) {
    switch (k) {
        case 0: throw std::out_of_range("index 7");
        case 1: throw std::invalid_argument("bad arg");
        case 2: throw std::logic_error("logic");
        case 3: throw std::runtime_error("runtime");
        case 4: throw std::range_error("range");
        case 5: throw std::overflow_error("overflow");
        case 6: throw std::system_error(std::make_error_code(std::errc::no_such_file_or_directory), "open /nowhere");
        case 7: throw std::system_error(EACCES, std::system_category());
        case 8: throw std::bad_alloc();
        case 9: throw Derived("derived");
        case 10: throw 42;
        case 11: throw std::underflow_error("underflow");
        case 12: throw std::domain_error("domain");
        case 13: throw std::length_error("length");
        default: return k;
    }
}
std::string reversed(const std::string& s) { return std::string(s.rbegin(), s.rend()); }
}  // namespace

static_assert(detail::Sendable<decltype(&square)>);
static_assert(detail::Sendable<decltype([](int x) { return x; })>);
inline auto g_capturing = [n = 1](int x) { return x + n; };
static_assert(detail::Sendable<decltype(g_capturing)>, "closures of trivially copyable captures are sent by value");
inline auto g_capturing_string = [s = std::string("x")](int x) { return x + static_cast<int>(s.size()); };
static_assert(!detail::Sendable<decltype(g_capturing_string)>, "closures that own memory are rejected at compile time");
static_assert(!detail::Sendable<std::function<int(int)>>);

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
    } catch (const std::runtime_error& e) {
        EXPECT_EQ(typeid(e), typeid(std::runtime_error));  // the standard type itself, see StandardExceptionsKeepTheirType
        EXPECT_STREQ(e.what(), "three is bad");
    }
    EXPECT_THROW(pool.map(fails_on_3, std::vector<int>{1, 2, 3, 4}, 1), std::runtime_error);
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
    EXPECT_THROW(failing.next(30s), std::runtime_error);
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

namespace {
// A range that can be read only once, with const begin()/end(): counting it consumes it.
struct Countdown {
    int* left;
    struct Iter {
        using difference_type = std::ptrdiff_t;
        using value_type = int;
        int* left;
        int operator*() const { return *left; }
        Iter& operator++() {
            --*left;
            return *this;
        }
        void operator++(int) { ++*this; }
        bool operator==(std::default_sentinel_t) const { return *left == 0; }
    };
    Iter begin() const { return Iter{left}; }
    std::default_sentinel_t end() const { return {}; }
};
static_assert(std::ranges::input_range<Countdown> && !std::ranges::forward_range<Countdown>);
struct Numbers {  // the numbers in a stream
    std::istream* in;
    std::istream_iterator<int> begin() const { return std::istream_iterator<int>(*in); }
    std::istream_iterator<int> end() const { return {}; }
};
struct Pairs {  // the same, of argument tuples
    int* left;
    struct Iter {
        using difference_type = std::ptrdiff_t;
        using value_type = std::tuple<std::string, int>;
        int* left;
        value_type operator*() const { return {"x", *left}; }
        Iter& operator++() {
            --*left;
            return *this;
        }
        void operator++(int) { ++*this; }
        bool operator==(std::default_sentinel_t) const { return *left == 0; }
    };
    Iter begin() const { return Iter{left}; }
    std::default_sentinel_t end() const { return {}; }
};
}  // namespace

// A single-pass range was counted (consumed) and then never sent: map waited for ever. Bounded
// here by get(timeout). (This one also compiles against the old API, which took only ranges whose
// begin and end have one type.)
TEST_F(PoolTest, SinglePassStreamIsNotConsumedByCounting) {
    Pool pool({.processes = 2});
    std::istringstream in("1 2 3 4");
    EXPECT_EQ(pool.map_async(square, Numbers{&in}, 1).get(30s), (std::vector<int>{1, 4, 9, 16}));
    std::istringstream in2("5 6 7");
    EXPECT_EQ(pool.map_async(square, Numbers{&in2}).get(30s), (std::vector<int>{25, 36, 49}));
}

TEST_F(PoolTest, SinglePassRangesWork) {
    Pool pool({.processes = 2});
    int left = 5;
    EXPECT_EQ(pool.map_async(square, Countdown{&left}).get(30s), (std::vector<int>{25, 16, 9, 4, 1}));
    left = 3;
    EXPECT_EQ(pool.starmap_async(shout, Pairs{&left}).get(30s), (std::vector<std::string>{"!!!x", "!!x", "!x"}));
    left = 4;
    auto it = pool.imap(square, Countdown{&left});
    std::vector<int> got;
    while (auto v = it.next(30s)) got.push_back(*v);
    EXPECT_EQ(got, (std::vector<int>{16, 9, 4, 1}));
#if !defined(__clang__) || __clang_major__ >= 15  // clang 14 cannot compile libstdc++ 12's views
    std::istringstream in2("5 6");
    EXPECT_EQ(pool.map_async(square, std::views::istream<int>(in2)).get(30s), (std::vector<int>{25, 36}));
    std::vector<int> v{1, 2, 3, 4, 5, 6};
    auto even = v | std::views::filter([](int x) { return x % 2 == 0; });  // not const-iterable
    EXPECT_EQ(pool.map_async(square, even).get(30s), (std::vector<int>{4, 16, 36}));
#endif
}

namespace {
struct Affine {
    int a, b;
    int operator()(int x) const { return a * x + b; }
};
struct Scale {
    double by;
};
int g_counted = 0;
}  // namespace

TEST_F(PoolTest, CapturingLambdasFunctionObjectsAndVoidFunctions) {
    Pool pool({.processes = 2});
    int k = 10;
    Scale sc{2.5};
    EXPECT_EQ(pool.map([k](int x) { return x + k; }, std::vector<int>{1, 2}), (std::vector<int>{11, 12}));
    EXPECT_EQ(pool.apply([sc, k](int x) { return sc.by * x + k; }, 2), 15.0);
    EXPECT_EQ(pool.map(Affine{3, 1}, std::vector<int>{1, 2, 3}), (std::vector<int>{4, 7, 10}));
    // No single signature (generic lambda): the arguments travel as the types given.
    EXPECT_EQ(pool.map([k](const auto& s) { return s.size() + static_cast<std::size_t>(k); }, std::vector<std::string>{"ab", "c"}),
              (std::vector<std::size_t>{12, 11}));
    EXPECT_EQ(pool.starmap([](auto a, auto b) { return a * b; }, std::vector<std::tuple<int, long>>{{2, 3L}, {4, 5L}}),
              (std::vector<long>{6, 20}));
    // A void function: map runs it on every item and gives their number.
    std::size_t n = pool.map(nothing, std::vector<int>{1, 2, 3}, 1);
    EXPECT_EQ(n, 3u);
    std::atomic<std::size_t> called{0};
    auto r = pool.map_async([](int) { ++g_counted; }, std::vector<int>(7, 0), 2, {.callback = [&](const std::size_t& c) { called = c; }});
    EXPECT_EQ(r.get(30s), 7u);
    EXPECT_EQ(called.load(), 7u);
    EXPECT_EQ(pool.map(nothing, std::vector<int>{}), 0u);
    pool.apply_async([k](int) { (void)k; }, std::tuple{1}).get(30s);
}

TEST_F(PoolTest, InitializerWithArguments) {
    Pool pool({.processes = 2}, [](int v, const std::string& s) { g_init_value = v + static_cast<int>(s.size()); }, 40, std::string("ab"));
    EXPECT_EQ(pool.map(read_init, std::vector<int>{0, 0, 0}, 1), (std::vector<int>{42, 42, 42}));
    std::string owned = "closures are fine here";  // the workers are forked: nothing is sent
    Pool p2({.processes = 1, .initializer = [owned] { g_init_value = static_cast<int>(owned.size()); }});
    EXPECT_EQ(p2.apply(read_init, 0), static_cast<int>(owned.size()));
}

// The caller catches a task's standard exception as itself, with the same what(); other types
// (also classes derived from the standard ones) come as TaskError naming the type.
TEST_F(PoolTest, StandardExceptionsKeepTheirType) {
    Pool pool({.processes = 2});
    auto expect = [&]<class E>(int k, const char* what) {
        try {
            pool.apply(throws_kind, k);
            ADD_FAILURE() << "no exception for " << k;
        } catch (const E& e) {
            EXPECT_EQ(typeid(e), typeid(E)) << k;
            if (what) {
                EXPECT_STREQ(e.what(), what) << k;
            }
        } catch (const std::exception& e) {
            ADD_FAILURE() << k << ": caught " << typeid(e).name() << ": " << e.what();
        }
    };
    expect.operator()<std::out_of_range>(0, "index 7");
    expect.operator()<std::invalid_argument>(1, "bad arg");
    expect.operator()<std::logic_error>(2, "logic");
    expect.operator()<std::runtime_error>(3, "runtime");
    expect.operator()<std::range_error>(4, "range");
    expect.operator()<std::overflow_error>(5, "overflow");
    expect.operator()<std::underflow_error>(11, "underflow");
    expect.operator()<std::domain_error>(12, "domain");
    expect.operator()<std::length_error>(13, "length");
    expect.operator()<std::bad_alloc>(8, nullptr);
    try {
        pool.apply(throws_kind, 6);
        ADD_FAILURE();
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code(), std::make_error_code(std::errc::no_such_file_or_directory));
        EXPECT_EQ(std::string(e.what()), std::system_error(std::make_error_code(std::errc::no_such_file_or_directory), "open /nowhere").what());
    }
    try {
        pool.apply(throws_kind, 7);
        ADD_FAILURE();
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code(), std::error_code(EACCES, std::system_category()));
    }
    try {
        pool.apply(throws_kind, 9);
        ADD_FAILURE();
    } catch (const TaskError& e) {
        EXPECT_EQ(e.code(), make_error_code(IpcErrc::task_failed));
        EXPECT_NE(std::string(e.what()).find("Derived: derived"), std::string::npos) << e.what();
    }
    try {
        pool.apply(throws_kind, 10);
        ADD_FAILURE();
    } catch (const TaskError& e) {
        EXPECT_NE(std::string(e.what()).find("int"), std::string::npos) << e.what();
    }
    EXPECT_THROW(pool.map(throws_kind, std::vector<int>{20, 1, 21}, 1), std::invalid_argument);
    auto it = pool.imap(throws_kind, std::vector<int>{0});
    EXPECT_THROW(it.next(30s), std::out_of_range);
    // error_callback still gets a TaskError that names the type.
    std::string msg;
    auto r = pool.apply_async(throws_kind, std::tuple{1}, {.callback = {}, .error_callback = [&](const TaskError& e) { msg = e.what(); }});
    EXPECT_TRUE(r.wait(30s));
    EXPECT_NE(msg.find("std::invalid_argument: bad arg"), std::string::npos) << msg;
}

// A failed item is raised by the iteration step that reaches it, not by imap() or begin().
TEST_F(PoolTest, ImapRaisesAFailedItemWhereTheIterationReachesIt) {
    Pool pool({.processes = 2});
    auto it = pool.imap(fails_on_0, std::vector<int>{0, 1, 2});
    auto b = it.begin();  // reaches nothing yet
    EXPECT_FALSE(b == it.end());
    EXPECT_THROW((void)*b, std::runtime_error);
    ++b;
    EXPECT_EQ(*b, 1);
    ++b;
    EXPECT_EQ(*b, 2);
    ++b;
    EXPECT_TRUE(b == it.end());

    std::vector<int> seen;
    try {
        for (int v : pool.imap(fails_on_3, std::vector<int>{1, 2, 3, 4})) seen.push_back(v);
        ADD_FAILURE() << "no exception";
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "three is bad");
    }
    EXPECT_EQ(seen, (std::vector<int>{1, 2}));
}
