#include <prockit/sys/fsroot.hpp>
#include <prockit/sys/syscall.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

using namespace prockit;

TEST(FsRoot, RealMachinePaths) {
    FsRoot r;
    EXPECT_TRUE(r.is_real());
    EXPECT_EQ(r.proc("self/stat"), "/proc/self/stat");
    EXPECT_EQ(r.proc_pid(42, "status"), "/proc/42/status");
    EXPECT_EQ(r.sys("devices/system/cpu/online"), "/sys/devices/system/cpu/online");
    EXPECT_TRUE(FsRoot("/").is_real());
    auto online = r.read_sys("devices/system/cpu/online");
    ASSERT_TRUE(online) << online.error().message();
}

TEST(FsRoot, FixtureTree) {
    namespace fs = std::filesystem;
    fs::path dir = fs::temp_directory_path() / ("prockit-fsroot-" + std::to_string(getpid()));
    fs::create_directories(dir / "sys/devices/system/cpu");
    std::ofstream(dir / "sys/devices/system/cpu/online") << "0-63\n";
    FsRoot r(dir.string() + "/");
    EXPECT_FALSE(r.is_real());
    EXPECT_EQ(r.sys("devices/system/cpu/online"), dir.string() + "/sys/devices/system/cpu/online");
    auto v = r.read_sys("devices/system/cpu/online");
    ASSERT_TRUE(v) << v.error().message();
    EXPECT_EQ(*v, "0-63\n");
    auto missing = r.read_proc("1/stat");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().errno_value(), ENOENT);
    fs::remove_all(dir);
}
