#include <prockit/sched/affinity.hpp>
#include <prockit/sched/cpu_plan.hpp>

#include <gtest/gtest.h>

#include <thread>

using namespace prockit;

namespace {

CgroupCpuset cpuset(int version, const char* cgroup, CpuSet effective) {
    CgroupCpuset c;
    c.version = version;
    c.cgroup = cgroup;
    c.effective = std::move(effective);
    return c;
}

const CpuSet online{0, 1, 2, 3, 4, 5, 6, 7};

}  // namespace

TEST(CpuPlan, WithinEverythingNothingIsDropped) {
    auto p = plan_cpus({1, 2, 3}, true, online, CgroupCpuset{}, "pid 42 (x)");
    ASSERT_TRUE(p) << p.error().message();
    EXPECT_EQ(p->mask, (CpuSet{1, 2, 3}));
    EXPECT_TRUE(p->dropped.empty());
    EXPECT_EQ(p->why, "");
}

TEST(CpuPlan, OfflineCpusAreDroppedAndSaidSo) {
    auto p = plan_cpus({2, 3, 8, 9}, true, online, CgroupCpuset{}, "pid 42 (x)");
    ASSERT_TRUE(p);
    EXPECT_EQ(p->mask, (CpuSet{2, 3}));
    EXPECT_EQ(p->dropped, (CpuSet{8, 9}));
    EXPECT_EQ(p->why, "8,9 offline");
}

TEST(CpuPlan, TheCpusetClipsAndIsNamed) {
    auto p = plan_cpus({0, 1, 2, 3}, true, online, cpuset(1, "/batch", {0, 1}), "pid 42 (x)");
    ASSERT_TRUE(p);
    EXPECT_EQ(p->mask, (CpuSet{0, 1}));
    EXPECT_EQ(p->dropped, (CpuSet{2, 3}));
    EXPECT_EQ(p->why, "2,3 outside the cgroup cpuset (v1 /batch: 0,1)");
}

TEST(CpuPlan, OfflineFirstThenOutsideTheCpuset) {
    auto p = plan_cpus({0, 1, 2, 3, 4, 5, 9}, true, online, cpuset(2, "/a/b", {0, 1, 2, 3}), "pid 42 (x)");
    ASSERT_TRUE(p);
    EXPECT_EQ(p->mask, (CpuSet{0, 1, 2, 3}));
    EXPECT_EQ(p->why, "9 offline, 4,5 outside the cgroup cpuset (v2 /a/b: 0-3)");
}

TEST(CpuPlan, AnImplicitRequestDropsSilently) {
    auto p = plan_cpus(online, false, online, cpuset(1, "/batch", {6, 7}), "pid 42 (x)");
    ASSERT_TRUE(p);
    EXPECT_EQ(p->mask, (CpuSet{6, 7}));
    EXPECT_TRUE(p->dropped.empty());
    EXPECT_EQ(p->why, "");
}

TEST(CpuPlan, NothingLeftIsOutOfRangeAndNamesBoth) {
    auto p = plan_cpus({4, 5}, true, CpuSet{0, 1, 2, 3, 4, 5}, cpuset(2, "/x", {0, 1}), "pid 42 (x)");
    ASSERT_FALSE(p);
    EXPECT_EQ(p.error().code(), Errc::out_of_range);
    EXPECT_EQ(p.error().context(),
              "set affinity of pid 42 (x): none of CPUs 4,5 is usable (online 0-5; cgroup cpuset (v2 /x: 0,1))");
    auto q = plan_cpus({9}, true, CpuSet{0, 1}, CgroupCpuset{}, "'cmd'");
    ASSERT_FALSE(q);
    EXPECT_EQ(q.error().context(), "set affinity of 'cmd': none of CPUs 9 is usable (online 0,1; cgroup cpuset)");
}

TEST(CpuPlan, Describe) {
    EXPECT_EQ(describe(CgroupCpuset{}), "cgroup cpuset");
    EXPECT_EQ(describe(cpuset(1, "/batch", {})), "cgroup cpuset (v1 /batch: none)");
}

TEST(CpuPlan, ExplainKept) {
    const CpuSet asked{0, 1, 2, 3};
    auto all = explain_kept(asked, CpuSet{0, 1, 2, 3, 4}, CgroupCpuset{});
    EXPECT_EQ(all.kept, asked);
    EXPECT_TRUE(all.dropped.empty());
    EXPECT_EQ(all.why, "");
    auto clipped = explain_kept(asked, CpuSet{0, 1}, cpuset(1, "/batch", {0, 1}));
    EXPECT_EQ(clipped.kept, (CpuSet{0, 1}));
    EXPECT_EQ(clipped.dropped, (CpuSet{2, 3}));
    EXPECT_EQ(clipped.why, "2,3 outside the cgroup cpuset (v1 /batch: 0,1)");
    // The cpuset holds a dropped CPU: something else (a CPU going offline, another change) did it.
    auto other = explain_kept(asked, CpuSet{0, 1}, cpuset(1, "/batch", {0, 1, 2}));
    EXPECT_EQ(other.why, "2,3 not kept by the kernel (the mask is now 0,1)");
    // None of the asked CPUs left: changed by someone else meanwhile, nothing to say.
    auto changed = explain_kept(asked, CpuSet{6}, CgroupCpuset{});
    EXPECT_EQ(changed.kept, asked);
    EXPECT_TRUE(changed.dropped.empty());
}

TEST(CpuPlan, ReadKeptOfThisThread) {
    auto allowed = get_affinity(0);
    ASSERT_TRUE(allowed);
    KeptCpus k;
    std::thread t([&] {
        if (set_affinity(0, *allowed)) k = read_kept(0, *allowed);
    });
    t.join();
    EXPECT_EQ(k.kept, *allowed);
    EXPECT_TRUE(k.dropped.empty());
    EXPECT_EQ(k.why, "");
}
