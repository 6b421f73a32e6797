// oom/pressure: PSI and the OOM-kill counters, parsed and read through fixture trees.
#include "lib/oom/oom_fixture.hpp"

#include <prockit/oom/pressure.hpp>

#include <gtest/gtest.h>

using namespace prockit;

TEST(OomPressure, ParsesBothLines) {
    auto p = oom::parse_pressure(
        "some avg10=1.50 avg60=0.25 avg300=0.00 total=123456\nfull avg10=0.75 avg60=0.10 avg300=0.01 total=6543\n");
    ASSERT_TRUE(p) << p.error().message();
    EXPECT_DOUBLE_EQ(p->some.avg10, 1.5);
    EXPECT_DOUBLE_EQ(p->some.avg60, 0.25);
    EXPECT_DOUBLE_EQ(p->some.avg300, 0.0);
    EXPECT_EQ(p->some.total_us, 123456u);
    ASSERT_TRUE(p->has_full);
    EXPECT_DOUBLE_EQ(p->full.avg10, 0.75);
    EXPECT_EQ(p->full.total_us, 6543u);
}

TEST(OomPressure, ASomeLineAloneAndUnknownKeys) {
    auto p = oom::parse_pressure("some avg10=0.00 avg60=0.00 avg300=0.00 total=0 future=7\n");
    ASSERT_TRUE(p);
    EXPECT_FALSE(p->has_full);
}

TEST(OomPressure, RejectsMalformedText) {
    for (const char* bad : {"", "full avg10=0 avg60=0 avg300=0 total=0\n", "some avg10=x avg60=0 avg300=0 total=0\n",
                            "some avg10 avg60=0\n", "other avg10=0\n", "some total=-1\n"}) {
        auto p = oom::parse_pressure(bad);
        ASSERT_FALSE(p) << bad;
        EXPECT_EQ(p.error().code(), make_error_code(Errc::parse_error)) << bad;
    }
}

TEST(OomPressure, ReadsTheMachineAndACgroupFromAFixture) {
    test::OomFixture fx;
    fx.pressure("some avg10=2.00 avg60=1.00 avg300=0.50 total=99\nfull avg10=1.00 avg60=0.50 avg300=0.25 total=9\n");
    fx.dirs("/sys/fs/cgroup/system.slice/db.service");
    fx.put("/sys/fs/cgroup/system.slice/db.service/memory.pressure",
           "some avg10=9.00 avg60=8.00 avg300=7.00 total=5\nfull avg10=6.00 avg60=5.00 avg300=4.00 total=3\n");
    fx.put("/sys/fs/cgroup/system.slice/db.service/memory.events",
           "low 0\nhigh 4\nmax 3\noom 2\noom_kill 1\noom_group_kill 0\n");
    FsRoot fs(fx.root());
    EXPECT_DOUBLE_EQ(oom::read_memory_pressure(fs).value().some.avg10, 2.0);
    auto cg = oom::read_cgroup_memory_pressure("/system.slice/db.service", fs);
    ASSERT_TRUE(cg) << cg.error().message();
    EXPECT_DOUBLE_EQ(cg->full.avg300, 4.0);
    auto ev = oom::read_cgroup_memory_events("/system.slice/db.service", fs);
    ASSERT_TRUE(ev) << ev.error().message();
    EXPECT_EQ(ev->high, 4u);
    EXPECT_EQ(ev->max, 3u);
    EXPECT_EQ(ev->oom, 2u);
    EXPECT_EQ(ev->oom_kill, 1u);
    auto missing = oom::read_cgroup_memory_events("/system.slice/none.service", fs);
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().errno_value(), ENOENT);
}

TEST(OomPressure, AHybridSystemsUnifiedHierarchy) {
    test::OomFixture fx;
    ::unlink((fx.root() + "/sys/fs/cgroup/cgroup.controllers").c_str());
    fx.dirs("/sys/fs/cgroup/unified/a");
    fx.put("/sys/fs/cgroup/unified/cgroup.controllers", "\n");
    fx.put("/sys/fs/cgroup/unified/a/memory.events", "oom_kill 5\n");
    EXPECT_EQ(oom::read_cgroup_memory_events("/a", FsRoot(fx.root())).value().oom_kill, 5u);
}

TEST(OomPressure, NoPsiIsAnError) {
    test::OomFixture fx;
    auto p = oom::read_memory_pressure(FsRoot(fx.root()));
    ASSERT_FALSE(p);
    EXPECT_EQ(p.error().errno_value(), ENOENT);
}

TEST(OomKills, ReadsTheVmstatCounter) {
    test::OomFixture fx;
    fx.vmstat("nr_free_pages 100\noom_kill 7\nnr_foo 1\n");
    FsRoot fs(fx.root());
    EXPECT_EQ(oom::read_oom_kill_count(fs).value(), 7u);
    fx.vmstat("nr_free_pages 100\n");
    EXPECT_EQ(oom::read_oom_kill_count(fs).error().code(), make_error_code(Errc::not_found));
    fx.vmstat("oom_kill x\n");
    EXPECT_EQ(oom::read_oom_kill_count(fs).error().code(), make_error_code(Errc::parse_error));
}

TEST(OomKills, TheRealMachineCountsOrSaysItDoesNot) {
    auto k = oom::read_oom_kill_count();
    if (!k) {
        EXPECT_EQ(k.error().code(), make_error_code(Errc::not_found)) << k.error().message();
    }
}

TEST(OomMemoryEvents, RejectsMalformedLines) {
    EXPECT_FALSE(oom::parse_memory_events("oom\n"));
    EXPECT_FALSE(oom::parse_memory_events("oom x\n"));
    EXPECT_EQ(oom::parse_memory_events("future 3\noom 1\n").value().oom, 1u);
}
