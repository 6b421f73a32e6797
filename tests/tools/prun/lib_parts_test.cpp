// The library and tools/common pieces prun is built on: PidFile, TreeGuard, parse_duration.
#include "common/duration.hpp"

#include <prockit/process/command.hpp>
#include <prockit/process/daemon.hpp>
#include <prockit/process/tree_guard.hpp>
#include <prockit/sys/syscall.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <thread>
#include <vector>
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

// Puts a shell with a background grandchild into the guard's group, then finish()es the guard:
// the tree must be killed and the group removed. `dirfd` -1: by path only.
void expect_finish_kills_the_tree(TreeGuard& g, int dirfd) {
    std::string dir = g.cgroup();
    auto child = Command("/bin/sh")
                     .args({"-c", "sleep 600 & exec sleep 600"})
                     .cgroup(dir, dirfd)
                     .on_destroy(DestroyPolicy::detach)
                     .spawn();
    ASSERT_TRUE(child) << child.error().message();
    g.finish();
    auto st = child->wait_for(std::chrono::seconds(30));
    ASSERT_TRUE(st && *st);
    EXPECT_EQ((*st)->signal(), std::optional<int>(SIGKILL));
    EXPECT_NE(access(dir.c_str(), F_OK), 0) << "group removed";
}

TEST(TreeGuard, FinishKillsEverythingInTheGroup) {
    auto g = TreeGuard::start();
    if (!g) GTEST_SKIP() << "no writable cgroup v2 hierarchy: " << g.error().message();
    expect_finish_kills_the_tree(*g, -1);
}

TEST(TreeGuard, NestedGroupsAreRemovedWhenTheOwnerIsKilled) {
    // The owner (a forked copy of this test) makes a guard, puts a process into a nested group and
    // is killed with SIGKILL: the watchdog must kill the process and remove both groups.
    int p[2];
    ASSERT_EQ(pipe(p), 0);
    pid_t owner = fork();
    ASSERT_GE(owner, 0);
    if (owner == 0) {
        close(p[0]);
        auto g = TreeGuard::start();
        std::string msg = g ? g->cgroup() : std::string("-");
        if (g) {
            auto c = Command("/bin/sleep").arg("600").own_cgroup(g->cgroup()).on_destroy(DestroyPolicy::detach).spawn();
            msg += c ? " " + std::to_string(c->pid()) + " " + c->cgroup() : std::string(" -");
            if (c) c->detach();
        }
        msg += "\n";
        (void)!write(p[1], msg.data(), msg.size());
        pause();
        _exit(0);
    }
    close(p[1]);
    char buf[512] = {};
    ssize_t n = read(p[0], buf, sizeof buf - 1);
    close(p[0]);
    kill(owner, SIGKILL);
    waitpid(owner, nullptr, 0);
    ASSERT_GT(n, 0);
    std::string dir, sub;
    long pid = 0;
    {
        std::string line(buf, static_cast<std::size_t>(n));
        if (line.rfind("-", 0) == 0) GTEST_SKIP() << "no writable cgroup v2 hierarchy";
        char d[256] = {}, s2[256] = {};
        ASSERT_EQ(std::sscanf(line.c_str(), "%255s %ld %255s", d, &pid, s2), 3) << line;
        dir = d;
        sub = s2;
    }
    auto gone = [&] { return access(dir.c_str(), F_OK) != 0; };
    for (int i = 0; i < 2000 && !gone(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_TRUE(gone()) << dir << " still exists";
    EXPECT_NE(access(sub.c_str(), F_OK), 0);
    std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat").value_or("");
    bool alive = !stat.empty() && stat.find(") Z") == std::string::npos && stat.find(") X") == std::string::npos;
    EXPECT_FALSE(alive)
        << "process " << pid << " survived";
}

TEST(TreeGuard, BorrowedDirectoryPlacesTheChildInTheGroup) {
    auto g = TreeGuard::start();
    if (!g) GTEST_SKIP() << "no writable cgroup v2 hierarchy: " << g.error().message();
    ASSERT_GE(g->cgroup_fd(), 0);
    auto child = Command("/bin/sleep").arg("600").cgroup(g->cgroup(), g->cgroup_fd()).spawn();
    ASSERT_TRUE(child) << child.error().message();
    std::string procs = read_file(g->cgroup() + "/cgroup.procs").value_or("");
    EXPECT_NE(procs.find(std::to_string(child->pid()) + "\n"), std::string::npos) << procs;
    g->finish();
    auto st = child->wait_for(std::chrono::seconds(30));
    ASSERT_TRUE(st && *st);
    EXPECT_EQ((*st)->signal(), std::optional<int>(SIGKILL));
}

TEST(TreeGuard, WatchdogBlocksEverySignalInASessionOfItsOwn) {
    auto g = TreeGuard::start();
    if (!g) GTEST_SKIP() << "no writable cgroup v2 hierarchy: " << g.error().message();
    std::string proc = "/proc/" + std::to_string(g->watchdog_pid());
    // It names itself and leaves our session once it runs: wait for that, with a deadline.
    std::string status;
    for (int i = 0; i < 3000; ++i) {
        status = read_file(proc + "/status").value_or("");
        if (status.find("Name:\tprockit-guard") != std::string::npos) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ASSERT_NE(status.find("Name:\tprockit-guard"), std::string::npos) << status;
    // Every signal is blocked but SIGKILL and SIGSTOP (which cannot be) and glibc's two internal
    // ones (32, 33: never sent to another process).
    std::size_t at = status.find("SigBlk:\t");
    ASSERT_NE(at, std::string::npos);
    unsigned long long blocked = std::strtoull(status.c_str() + at + 8, nullptr, 16);
    auto bit = [](int sig) { return 1ULL << (sig - 1); };
    unsigned long long expected = ~(bit(SIGKILL) | bit(SIGSTOP) | bit(32) | bit(33));
    EXPECT_EQ(blocked & expected, expected) << std::hex << blocked;
    // A terminal's signals do not end it: they stay pending (ShdPnd, the process-wide set).
    ASSERT_EQ(kill(g->watchdog_pid(), SIGTERM), 0);
    ASSERT_EQ(kill(g->watchdog_pid(), SIGINT), 0);
    status = read_file(proc + "/status").value_or("");
    at = status.find("ShdPnd:\t");
    ASSERT_NE(at, std::string::npos);
    unsigned long long pending = std::strtoull(status.c_str() + at + 8, nullptr, 16);
    EXPECT_EQ(pending & (bit(SIGTERM) | bit(SIGINT)), bit(SIGTERM) | bit(SIGINT)) << std::hex << pending;
    // A session of its own: field 6 (session) equals its PID.
    pid_t sid = getsid(g->watchdog_pid());
    EXPECT_EQ(sid, g->watchdog_pid());
    std::string dir = g->cgroup();
    g->finish();  // still does its job afterwards
    EXPECT_NE(access(dir.c_str(), F_OK), 0) << "group removed";
}

TEST(TreeGuard, StartedFromAThreadThatHasEnded) {
    // The watchdog shares our memory: it must not depend on the starting thread (its TLS, its
    // stack) still being there.
    std::optional<TreeGuard> g;
    std::string err;
    std::thread t([&] {
        auto r = TreeGuard::start();
        if (r) g = std::move(*r);
        else err = r.error().message();
    });
    t.join();
    if (!g) GTEST_SKIP() << "no writable cgroup v2 hierarchy: " << err;
    std::thread churn([] {  // reuse what the ended thread left behind
        std::vector<std::string> v(1000, std::string(100, 'x'));
    });
    churn.join();
    expect_finish_kills_the_tree(*g, g->cgroup_fd());
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
}

}  // namespace
}  // namespace prockit
