// The ipc/pool/prefork examples run and print what their comments promise.
#include "support.hpp"

#include <cstdlib>
#include <regex>

using namespace prockit;
using namespace prockit::test;

namespace {
std::string example(const std::string& name) {
    const char* dir = std::getenv("PROCKIT_BUILD_DIR");
    return std::string(dir ? dir : ".") + "/examples/" + name;
}
}  // namespace

TEST(IpcExamples, ProducerConsumer) {
    Ran r = run(Command(example("ipc_producer_consumer")));
    EXPECT_TRUE(r.status.success()) << r.out;
    EXPECT_NE(r.out.find("consumer: got 100 items, sum 4950"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("producer exited with 0, consumer exited with 0"), std::string::npos) << r.out;
}

TEST(IpcExamples, SharedCounterWithAndWithoutLock) {
    Ran r = run(Command(example("ipc_shared_counter")));
    EXPECT_TRUE(r.status.success()) << r.out;
    std::smatch m1, m2;
    ASSERT_TRUE(std::regex_search(r.out, m1, std::regex("with lock: (\\d+) \\(expected 400000\\)"))) << r.out;
    ASSERT_TRUE(std::regex_search(r.out, m2, std::regex("without lock: (\\d+) \\(expected 400000"))) << r.out;
    long with = std::stol(m1[1]), without = std::stol(m2[1]);
    EXPECT_EQ(with, 400000);
    EXPECT_LE(without, with);  // lost updates (how many is up to the scheduler)
    EXPECT_GT(without, 0);
}

TEST(PoolExamples, MapSquares) {
    Ran r = run(Command(example("pool_map_squares")));
    EXPECT_TRUE(r.status.success()) << r.out;
    EXPECT_EQ(r.out, "squares: 0 1 4 9 16 25 36 49 64 81\n");
}

TEST(PoolExamples, ApplyAsyncWithCallback) {
    Ran r = run(Command(example("pool_apply_async")));
    EXPECT_TRUE(r.status.success()) << r.out;
    auto cb = r.out.find("callback: cube(7) = 343");
    auto get = r.out.find("get: 343");
    ASSERT_NE(cb, std::string::npos) << r.out;
    ASSERT_NE(get, std::string::npos) << r.out;
    EXPECT_LT(cb, get) << "the callback runs before get() returns";
    EXPECT_NE(r.out.find("error callback: "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("std::invalid_argument: negative input"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("get threw: "), std::string::npos) << r.out;
}

TEST(PoolExamples, PreforkWorkers) {
    Ran r = run(Command(example("prefork_workers")));
    EXPECT_TRUE(r.status.success()) << r.out;
    EXPECT_NE(r.out.find("worker 0 ready (generation 0)"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("worker 1 ready (generation 0)"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("master: killed worker 0\nworker 0 ready (generation 1)"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("master: restarts=1, stopping\nmaster: all workers stopped\n"), std::string::npos) << r.out;
}
