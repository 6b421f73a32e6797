#include <prockit/sched/topology.hpp>

#include "golden.hpp"

#include <gtest/gtest.h>

using namespace prockit;

namespace {
FsRoot fixture(const char* name) { return FsRoot(golden::source_dir() + "/tests/fixtures/" + name); }
}  // namespace

TEST(Topology, TwoSocketSmtMachine) {
    FsRoot fs = fixture("two-socket-smt");
    auto t = Topology::read(fs);
    ASSERT_TRUE(t) << t.error().message();
    EXPECT_EQ(t->online.to_list(), "0-127");
    EXPECT_TRUE(t->offline.empty());
    EXPECT_TRUE(t->isolated.empty());
    EXPECT_TRUE(t->nohz_full.empty());
    ASSERT_EQ(t->cores.size(), 64u);
    EXPECT_EQ(t->threads_per_core(), 2u);
    EXPECT_EQ(t->cores[0].threads.to_list(), "0,64");
    EXPECT_EQ(t->cores[33].threads.to_list(), "33,97");
    EXPECT_EQ(t->cores[33].package, 1);
    ASSERT_EQ(t->packages.size(), 2u);
    EXPECT_EQ(t->packages[1].cpus.to_list(), "32-63,96-127");
    ASSERT_EQ(t->nodes.size(), 2u);
    EXPECT_TRUE(t->numa_known);
    EXPECT_EQ(t->node_cpus(0).value().to_list(), "0-31,64-95");
    EXPECT_FALSE(t->node_cpus(7));
    EXPECT_EQ(t->core_of(100)->threads.to_list(), "36,100");

    // --no-smt and --cores.
    EXPECT_EQ(t->one_thread_per_core(t->online).to_list(), "0-63");
    EXPECT_EQ(t->one_thread_per_core(CpuSet::parse_list("64-66,1").value()).to_list(), "1,64,66");
    EXPECT_EQ(t->first_cores(4, t->online).value().to_list(), "0-3");
    EXPECT_EQ(t->first_cores(2, t->node_cpus(1).value()).value().to_list(), "32,33");
    auto too_many = t->first_cores(65, t->online);
    ASSERT_FALSE(too_many);
    EXPECT_EQ(too_many.error().code(), make_error_code(Errc::out_of_range));
}

TEST(Topology, IsolatedCpusAndNoNuma) {
    FsRoot fs = fixture("isolated-cpuset");
    auto t = Topology::read(fs);
    ASSERT_TRUE(t) << t.error().message();
    EXPECT_EQ(t->possible.to_list(), "0-7");
    EXPECT_EQ(t->online.to_list(), "0-4,6,7");
    EXPECT_EQ(t->offline.to_list(), "5");
    EXPECT_EQ(t->isolated.to_list(), "6,7");
    EXPECT_EQ(t->nohz_full.to_list(), "6,7");
    EXPECT_EQ(t->cores.size(), 7u);
    EXPECT_EQ(t->threads_per_core(), 1u);
    EXPECT_FALSE(t->numa_known);
    ASSERT_EQ(t->nodes.size(), 1u);
    EXPECT_EQ(t->nodes[0].cpus, t->online);
}

TEST(Topology, ThisMachine) {
    auto t = Topology::read();
    ASSERT_TRUE(t) << t.error().message();
    EXPECT_FALSE(t->online.empty());
    EXPECT_TRUE(t->online.subset_of(t->possible));
    std::size_t in_cores = 0;
    for (const CpuCore& c : t->cores) in_cores += c.threads.count();
    EXPECT_EQ(in_cores, t->online.count());
}

TEST(Topology, MissingRootIsAnError) {
    auto t = Topology::read(FsRoot("/nonexistent/prockit-fixture"));
    ASSERT_FALSE(t);
    EXPECT_EQ(t.error().errno_value(), ENOENT);
}
