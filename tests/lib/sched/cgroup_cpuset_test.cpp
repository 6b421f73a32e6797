#include <prockit/proc/cgroup.hpp>
#include <prockit/sched/affinity.hpp>
#include <prockit/sched/cgroup_cpuset.hpp>

#include "golden.hpp"

#include <gtest/gtest.h>

using namespace prockit;

namespace {
FsRoot fixture(const char* name) { return FsRoot(golden::source_dir() + "/tests/fixtures/" + name); }
}  // namespace

TEST(CgroupCpuset, V1Hierarchy) {
    FsRoot fs = fixture("two-socket-smt");
    auto self = cgroup_cpuset(0, fs);
    ASSERT_TRUE(self) << self.error().message();
    EXPECT_EQ(self->version, 1);
    EXPECT_EQ(self->cgroup, "/batch");
    EXPECT_EQ(self->effective.to_list(), "0-15,64-79");
    auto web = cgroup_cpuset(4300, fs);
    ASSERT_TRUE(web);
    EXPECT_EQ(web->effective.to_list(), "0-127");
}

TEST(CgroupCpuset, V2WalksUpToTheNearestCpuset) {
    FsRoot fs = fixture("isolated-cpuset");
    auto self = cgroup_cpuset(0, fs);
    ASSERT_TRUE(self) << self.error().message();
    EXPECT_EQ(self->version, 2);
    EXPECT_EQ(self->cgroup, "/app.slice/worker.service");
    EXPECT_EQ(self->effective.to_list(), "2,3");
    auto other = cgroup_cpuset(4343, fs);
    ASSERT_TRUE(other) << other.error().message();
    EXPECT_EQ(other->version, 2);
    EXPECT_EQ(other->effective.to_list(), "2-4");
    EXPECT_NE(other->file.find("app.slice/cpuset.cpus.effective"), std::string::npos);
}

TEST(CgroupCpuset, VanishedProcess) {
    FsRoot fs = fixture("isolated-cpuset");
    auto gone = cgroup_cpuset(999999, fs);
    ASSERT_FALSE(gone);
    EXPECT_EQ(gone.error().errno_value(), ENOENT);
}

TEST(CgroupCpuset, ThisMachineContainsOurAffinity) {
    auto cg = cgroup_cpuset(0);
    ASSERT_TRUE(cg) << cg.error().message();
    if (!cg->restricted()) GTEST_SKIP() << "no cpuset controller on this machine";
    auto mine = get_affinity(0);
    ASSERT_TRUE(mine);
    EXPECT_TRUE(mine->subset_of(cg->effective)) << mine->to_list() << " vs " << cg->effective.to_list();
}

TEST(CgroupParse, ProcCgroupAndMountinfo) {
    auto e = proc::parse_cgroups("12:cpuset:/a\n4:cpu,cpuacct:/b/c\n1:name=systemd:/x\n0::/user.slice\n");
    ASSERT_EQ(e.size(), 4u);
    EXPECT_TRUE(e[0].has("cpuset"));
    EXPECT_TRUE(e[1].has("cpuacct"));
    EXPECT_EQ(e[1].path, "/b/c");
    EXPECT_TRUE(e[3].is_v2());
    auto m = proc::parse_cgroup_mounts(
        "34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime shared:9 - cgroup cgroup rw,cpuset\n"
        "41 31 0:38 /sub /mnt/my\\040cg rw - cgroup2 cgroup2 rw\n"
        "22 1 0:5 / /proc rw - proc proc rw\n");
    ASSERT_EQ(m.size(), 2u);
    EXPECT_TRUE(m[0].has("cpuset"));
    EXPECT_EQ(m[1].version, 2);
    EXPECT_EQ(m[1].mountpoint, "/mnt/my cg");
    FsRoot real;
    EXPECT_EQ(proc::cgroup_dir(m[1], "/sub/x", real), "/mnt/my cg/x");
    EXPECT_EQ(proc::cgroup_dir(m[1], "/other", real), "");
    EXPECT_EQ(proc::cgroup_dir(m[0], "/", real), "/sys/fs/cgroup/cpuset");
}
