// The Child handle: waiting, signalling, ending whole trees, and destruction policies.
#include "support.hpp"

#include <prockit/process/command.hpp>

#include <prockit/sys/syscall.hpp>

#include <sys/stat.h>

using namespace prockit;
using namespace prockit::test;
using namespace std::chrono_literals;

class ChildHandle : public NoLeaks {};

TEST_F(ChildHandle, WaitForTimesOutThenReaps) {
    auto c = helper_cmd({"ready", "pause"}).out(Stdio::pipe()).spawn().value();
    ASSERT_EQ(read_line(c.stdout_pipe().get()), "ready");
    auto none = c.wait_for(10ms);
    ASSERT_TRUE(none);
    EXPECT_FALSE(none->has_value());
    EXPECT_FALSE(c.try_wait()->has_value());
    ASSERT_TRUE(c.terminate());
    auto st = c.wait_for(30s);
    ASSERT_TRUE(st && st->has_value());
    EXPECT_EQ((*st)->signal(), SIGTERM);
    EXPECT_EQ(c.status(), ExitStatus::killed(SIGTERM));
    EXPECT_EQ(c.wait().value(), ExitStatus::killed(SIGTERM)) << "wait() after reaping returns the same status";
}

TEST_F(ChildHandle, ExitCodesAndSignals) {
    EXPECT_EQ(helper_cmd({"exit", "42"}).status()->code(), 42);
    auto segv = helper_cmd({"raise", "SEGV"}).rlimit(RLIMIT_CORE, 0, 0).status();
    ASSERT_TRUE(segv);
    EXPECT_EQ(segv->signal(), SIGSEGV);
    EXPECT_EQ(segv->python_exitcode(), -SIGSEGV);
    EXPECT_EQ(segv->shell_code(), 128 + SIGSEGV);
}

TEST_F(ChildHandle, SignalAfterReapIsHarmlessAndNeverHitsARecycledPid) {
    auto c = helper_cmd({"exit", "0"}).spawn().value();
    ASSERT_TRUE(c.wait());
    pid_t old = c.pid();
    // Make the kernel hand the same PID to a new process: as root, ns_last_pid chooses the next
    // PID (other processes forking at the same moment can take it: retry a few times).
    std::optional<Child> reused;
    for (int attempt = 0; attempt < 20 && !reused; ++attempt) {
        if (!write_file("/proc/sys/kernel/ns_last_pid", std::to_string(old - 1)))
            GTEST_SKIP() << "cannot choose the next PID (writing /proc/sys/kernel/ns_last_pid needs CAP_SYS_ADMIN)";
        auto o = helper_cmd({"ready", "pause"}).out(Stdio::pipe()).spawn().value();
        if (o.pid() == old) {
            reused.emplace(std::move(o));
        } else {
            (void)o.kill();
            (void)o.wait();
        }
    }
    if (!reused) GTEST_SKIP() << "the kernel did not reuse PID " << old << " in 20 attempts";
    ASSERT_EQ(read_line(reused->stdout_pipe().get()), "ready");
    EXPECT_TRUE(c.kill());  // a no-op: the process this handle named is gone
    EXPECT_TRUE(c.terminate());
    EXPECT_FALSE(reused->wait_for(50ms)->has_value()) << "the process that reused the PID was signalled";
    (void)reused->kill();
    (void)reused->wait();
}

TEST_F(ChildHandle, StopAndContinueAreReported) {
    auto c = helper_cmd({"ready", "pause"}).out(Stdio::pipe()).spawn().value();
    ASSERT_EQ(read_line(c.stdout_pipe().get()), "ready");
    ASSERT_TRUE(c.send_signal(SIGSTOP));
    EXPECT_EQ(c.wait_state().value(), ExitStatus::stopped(SIGSTOP));
    ASSERT_TRUE(c.send_signal(SIGCONT));
    EXPECT_EQ(c.wait_state().value(), ExitStatus::continued());
    EXPECT_FALSE(c.try_wait_state()->has_value());
    ASSERT_TRUE(c.kill());
    EXPECT_EQ(c.wait_state().value(), ExitStatus::killed(SIGKILL));
}

namespace {
// Spawns the helper so that it forks a grandchild which ignores SIGTERM; returns the grandchild.
pid_t start_tree(Command cmd, Child& out) {
    out = cmd.out(Stdio::pipe()).spawn().value();
    std::string line = read_line(out.stdout_pipe().get());
    EXPECT_EQ(line.rfind("grandchild=", 0), 0u) << line;
    EXPECT_EQ(read_line(out.stdout_pipe().get()), "ready");
    return static_cast<pid_t>(std::atoi(line.substr(11).c_str()));
}
}  // namespace

TEST_F(ChildHandle, TerminateTreeByProcessGroupKillsAGrandchildThatIgnoresTerm) {
    Child c;
    pid_t gc = start_tree(helper_cmd({"fork-sleeper", "ready", "pause"}).new_process_group(), c);
    KillAtExit guard{gc};
    EXPECT_EQ(c.tree_scope(), TreeScope::process_group);
    auto st = c.terminate_tree(200ms);
    ASSERT_TRUE(st) << st.error().message();
    EXPECT_EQ(st->signal(), SIGTERM);
    EXPECT_TRUE(eventually([&] { return !alive(gc); })) << "grandchild " << gc << " survived";
}

TEST_F(ChildHandle, TerminateTreeByDescendantsWalk) {
    Child c;
    pid_t gc = start_tree(helper_cmd({"fork-sleeper", "ignore", "TERM", "ready", "pause"}), c);
    KillAtExit guard{gc};
    EXPECT_EQ(c.tree_scope(), TreeScope::descendants);
    auto st = c.terminate_tree(100ms);
    ASSERT_TRUE(st) << st.error().message();
    EXPECT_EQ(st->signal(), SIGKILL) << "the child ignores TERM, so the grace period ends in KILL";
    EXPECT_TRUE(eventually([&] { return !alive(gc); })) << "grandchild " << gc << " survived";
}

namespace {
bool cgroup_v2_writable() {
    auto probe = helper_cmd({"exit", "0"}).own_cgroup().spawn();
    if (!probe) return false;
    (void)probe->wait();
    return true;
}
}  // namespace

TEST_F(ChildHandle, TerminateTreeByCgroupCatchesADaemonizedGrandchild) {
    if (!cgroup_v2_writable()) GTEST_SKIP() << "no writable cgroup v2 hierarchy here";
    Child c;
    // The grandchild leaves the process group (setsid): only the cgroup still holds it.
    pid_t gc = start_tree(helper_cmd({"daemon-sleeper", "ready", "pause"}).own_cgroup(), c);
    KillAtExit guard{gc};
    EXPECT_EQ(c.tree_scope(), TreeScope::cgroup);
    std::string dir = c.cgroup();
    struct stat sb {};
    EXPECT_EQ(stat(dir.c_str(), &sb), 0);
    auto st = c.terminate_tree(100ms);
    ASSERT_TRUE(st) << st.error().message();
    EXPECT_TRUE(eventually([&] { return !alive(gc); })) << "grandchild " << gc << " survived";
    EXPECT_NE(stat(dir.c_str(), &sb), 0) << "the cgroup " << dir << " was not removed";
}

TEST_F(ChildHandle, SignalTreeReachesEveryMemberAtOnce) {
    Child c;
    pid_t gc = start_tree(helper_cmd({"fork-sleeper", "ignore", "TERM", "ready", "pause"}).new_process_group(), c);
    KillAtExit guard{gc};
    ASSERT_TRUE(c.signal_tree(SIGSTOP));
    EXPECT_EQ(c.wait_state().value(), ExitStatus::stopped(SIGSTOP));
    ASSERT_TRUE(c.signal_tree(SIGKILL));
    EXPECT_EQ(c.wait().value(), ExitStatus::killed(SIGKILL));
    EXPECT_TRUE(eventually([&] { return !alive(gc); })) << "grandchild " << gc << " survived";
    EXPECT_TRUE(c.signal_tree(SIGKILL)) << "after the reap it is a no-op";
}

TEST_F(ChildHandle, SignalCgroup) {
    if (!cgroup_v2_writable()) GTEST_SKIP() << "no writable cgroup v2 hierarchy here";
    Child c;
    pid_t gc = start_tree(helper_cmd({"daemon-sleeper", "ignore", "TERM", "ready", "pause"}).own_cgroup(), c);
    KillAtExit guard{gc};
    ASSERT_TRUE(signal_cgroup(c.cgroup(), SIGKILL));
    EXPECT_EQ(c.wait().value(), ExitStatus::killed(SIGKILL));
    EXPECT_TRUE(eventually([&] { return !alive(gc); })) << "grandchild " << gc << " survived";
    auto missing = signal_cgroup("/nonexistent/cgroup", SIGTERM);
    ASSERT_FALSE(missing);
    EXPECT_NE(missing.error().message().find("/nonexistent/cgroup"), std::string::npos);
}

TEST_F(ChildHandle, DestroyPolicies) {
    pid_t pid;
    {
        auto c = helper_cmd({"ignore", "TERM", "ready", "pause"}).out(Stdio::pipe()).on_destroy(DestroyPolicy::terminate_tree, 50ms).spawn().value();
        ASSERT_EQ(read_line(c.stdout_pipe().get()), "ready");
        pid = c.pid();
    }
    EXPECT_FALSE(alive(pid));
    {
        auto c = helper_cmd({"pause"}).on_destroy(DestroyPolicy::kill_tree).spawn().value();
        pid = c.pid();
    }
    EXPECT_FALSE(alive(pid));
    {
        // wait: our stdin pipe end is closed first, so `cat` sees EOF and ends by itself.
        auto c = helper_cmd({"cat"}).in(Stdio::pipe()).on_destroy(DestroyPolicy::wait).spawn().value();
        pid = c.pid();
    }
    EXPECT_FALSE(alive(pid));
}

TEST_F(ChildHandle, DetachLetsItRun) {
    auto c = helper_cmd({"pause"}).spawn().value();
    pid_t pid = c.pid();
    auto adopted = Child::adopt(pid);
    ASSERT_TRUE(adopted);
    c.detach();
    EXPECT_FALSE(c.valid());
    EXPECT_TRUE(alive(pid));
    // Still our child: reap it through the adopted handle.
    ASSERT_TRUE(adopted->kill());
    EXPECT_EQ(adopted->wait()->signal(), SIGKILL);
}

TEST_F(ChildHandle, AdoptUnknownPid) {
    auto r = Child::adopt(999999);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().errno_value(), ESRCH);
    EXPECT_NE(r.error().message().find("999999"), std::string::npos);
}

TEST_F(ChildHandle, DescendantsOf) {
    Child c;
    pid_t gc = start_tree(helper_cmd({"fork-sleeper", "ready", "pause"}), c);
    KillAtExit guard{gc};
    auto d = descendants_of(c.pid());
    EXPECT_NE(std::find(d.begin(), d.end(), gc), d.end());
    (void)c.terminate_tree(50ms);
}

TEST_F(ChildHandle, ReportsCpuTimeAndPeakRssOfAReapedChild) {
    // A shell that counts in a loop (user CPU) and holds a 16 MiB string (resident memory).
    Command cmd("/bin/sh");
    cmd.args({"-c", "x=$(head -c 16777216 /dev/zero | tr '\\0' a); i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; "
                    "echo ${#x}"});
    cmd.out(Stdio::pipe());
    auto c = cmd.spawn().value();
    EXPECT_FALSE(c.usage()) << "no usage before the child is reaped";
    EXPECT_EQ(read_all(c.stdout_pipe().get()), "16777216\n");
    auto st = c.wait().value();
    EXPECT_TRUE(st.success());
    ASSERT_TRUE(st.usage());
    ASSERT_TRUE(c.usage());
    EXPECT_EQ(*c.usage(), *st.usage());
    EXPECT_GT(st.usage()->user_cpu.count(), 0);
    EXPECT_GE(st.usage()->system_cpu.count(), 0);
    EXPECT_GT(st.usage()->max_rss_kb, 16 * 1024) << "the shell held the 16 MiB string";
    EXPECT_EQ(st, ExitStatus::exited(0)) << "usage is not part of the comparison";
}

TEST_F(ChildHandle, UsageComesWithTryWaitAndWaitForToo) {
    auto c = helper_cmd({"exit", "3"}).spawn().value();
    auto st = c.wait_for(30s).value();
    ASSERT_TRUE(st);
    EXPECT_EQ(st->code(), 3);
    ASSERT_TRUE(st->usage());
    EXPECT_GT(st->usage()->max_rss_kb, 0);
    EXPECT_FALSE(ExitStatus::exited(0).usage());
}
