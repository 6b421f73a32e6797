// The library and tools/common pieces prun is built on: PidFile, Command::cgroup, parse_duration.
// (TreeGuard: tests/lib/process/tree_guard_test.cpp and tests/tools/prun/prun_tree_test.cpp.)
#include "common/duration.hpp"

#include <prockit/process/command.hpp>
#include <prockit/process/daemon.hpp>
#include <prockit/sys/syscall.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <thread>
#include <vector>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace prockit {
namespace {

std::string scratch(const char* name) {
    return std::string("/tmp/prun-unit-") + std::to_string(getpid()) + "-" + name;
}

TEST(PidFile, WrittenLockedAndRemoved) {
    std::string path = scratch("pid");
    {
        auto a = PidFile::acquire(path);
        ASSERT_TRUE(a) << a.error().message();
        EXPECT_EQ(PidFile::read_pid(path), std::optional<pid_t>(getpid()));
        auto b = PidFile::acquire(path);
        ASSERT_FALSE(b);
        EXPECT_EQ(b.error().errno_value(), EWOULDBLOCK);
        EXPECT_NE(b.error().context().find("held by process " + std::to_string(getpid())), std::string::npos)
            << b.error().context();
    }
    EXPECT_NE(access(path.c_str(), F_OK), 0) << "removed when released";
    // A stale file (no lock holder) is taken over.
    {
        std::FILE* f = std::fopen(path.c_str(), "w");
        ASSERT_NE(f, nullptr);
        std::fputs("999999\n", f);
        std::fclose(f);
    }
    auto c = PidFile::acquire(path, 4242);
    ASSERT_TRUE(c);
    EXPECT_EQ(PidFile::read_pid(path), std::optional<pid_t>(4242));
}

// Command::cgroup(dir, fd): a group the caller made and holds open (prun's per-job scopes use it).
TEST(CommandCgroup, BorrowedDirectoryPlacesTheChildInTheGroup) {
    std::string own = read_file("/proc/self/cgroup").value_or("");
    auto at = own.find("0::");
    std::string base;
    for (const char* mnt : {"/sys/fs/cgroup/unified", "/sys/fs/cgroup"}) {
        std::string t = std::string(mnt) + "/cgroup.controllers";  // a cgroup v2 mount
        if (at != std::string::npos && access(t.c_str(), F_OK) == 0) {
            base = mnt + own.substr(at + 3, own.find('\n', at) - at - 3);
            break;
        }
    }
    std::string dir = base + "/prun-unit-" + std::to_string(getpid());
    if (base.empty() || mkdir(dir.c_str(), 0755) != 0) GTEST_SKIP() << "no writable cgroup v2 group";
    unique_fd dirfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(dirfd);
    auto child = Command("/bin/sleep").arg("600").cgroup(dir, dirfd.get()).spawn();
    ASSERT_TRUE(child) << child.error().message();
    std::string procs = read_file(dir + "/cgroup.procs").value_or("");
    EXPECT_NE(procs.find(std::to_string(child->pid()) + "\n"), std::string::npos) << procs;
    ASSERT_TRUE(child->kill());
    auto st = child->wait_for(std::chrono::seconds(30));
    ASSERT_TRUE(st && *st);
    EXPECT_EQ((*st)->signal(), std::optional<int>(SIGKILL));
    dirfd.reset();
    EXPECT_EQ(rmdir(dir.c_str()), 0);
}

TEST(Duration, Parse) {
    using namespace std::chrono;
    EXPECT_EQ(tools::parse_duration("1.5s").value(), milliseconds(1500));
    EXPECT_EQ(tools::parse_duration("250ms").value(), milliseconds(250));
    EXPECT_EQ(tools::parse_duration("2").value(), seconds(2));
    EXPECT_EQ(tools::parse_duration("1m30s").value(), seconds(90));
    EXPECT_EQ(tools::parse_duration("1h").value(), hours(1));
    EXPECT_EQ(tools::parse_duration("2.5ns").value(), nanoseconds(3));  // rounded half up
    EXPECT_EQ(tools::parse_duration("2.4ns").value(), nanoseconds(2));
    EXPECT_EQ(tools::parse_duration("0.1s").value(), milliseconds(100));
    for (const char* bad : {"", "x", "5x", "-1s", "1s2", "s"}) EXPECT_FALSE(tools::parse_duration(bad)) << bad;
    EXPECT_EQ(tools::format_duration(milliseconds(1500)), "1500ms");
    EXPECT_EQ(tools::format_duration(minutes(2)), "2m");
    // Values %g would write with an exponent are written exactly, and read back (found by
    // fuzzing: tests/fuzz/duration_size).
    EXPECT_EQ(tools::format_duration(nanoseconds(1)), "1ns");
    EXPECT_EQ(tools::format_duration(microseconds(3)), "3us");
    EXPECT_EQ(tools::format_duration(nanoseconds(1234567890123457)), "1234567890123457ns");
    for (auto d : {nanoseconds(1), nanoseconds(999), nanoseconds(1234567890123457), nanoseconds(1500)})
        EXPECT_EQ(tools::parse_duration(tools::format_duration(d)).value(), d) << tools::format_duration(d);
}

}  // namespace
}  // namespace prockit
