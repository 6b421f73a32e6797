#include <prockit/proc/procfs.hpp>

#include "lib/sched/golden.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <unistd.h>

using namespace prockit;
using namespace prockit::proc;

TEST(ProcStat, ParsesTrickyComm) {
    std::string line = "123 (a) b) (c) R 7 120 110 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 9 0 424242 100 200";
    auto st = parse_stat(line);
    ASSERT_TRUE(st) << st.error().message();
    EXPECT_EQ(st->pid, 123);
    EXPECT_EQ(st->comm, "a) b) (c");
    EXPECT_EQ(st->state, 'R');
    EXPECT_EQ(st->ppid, 7);
    EXPECT_EQ(st->pgrp, 120);
    EXPECT_EQ(st->session, 110);
    EXPECT_EQ(st->flags, 4194560u);
    EXPECT_EQ(st->num_threads, 9);
    EXPECT_EQ(st->start_time, 424242u);
    EXPECT_FALSE(st->kernel_thread());
}

TEST(ProcStat, RejectsGarbage) {
    EXPECT_FALSE(parse_stat(""));
    EXPECT_FALSE(parse_stat("12 (x"));
    EXPECT_FALSE(parse_stat("12 (x) S"));
    EXPECT_FALSE(parse_stat("x (y) S 1 2 3"));
}

TEST(ProcReader, ReadsThisProcess) {
    ProcReader r;
    auto st = r.stat(getpid());
    ASSERT_TRUE(st) << st.error().message();
    EXPECT_EQ(st->pid, getpid());
    EXPECT_EQ(st->ppid, getppid());
    EXPECT_GT(st->start_time, 0u);
    auto cmd = r.cmdline(getpid());
    ASSERT_TRUE(cmd);
    EXPECT_NE(cmd->find("test_proc"), std::string::npos) << *cmd;
    EXPECT_EQ(cmd->data()[cmd->size()], '\0');
    auto exe = r.exe(getpid());
    ASSERT_TRUE(exe);
    EXPECT_NE(exe->find("test_proc"), std::string::npos);
    auto owner = r.owner(getpid());
    ASSERT_TRUE(owner);
    EXPECT_EQ(*owner, geteuid());
    auto gone = r.stat(999999999);
    ASSERT_FALSE(gone);
    EXPECT_EQ(gone.error().errno_value(), ENOENT);
}

TEST(ProcReader, LeaderStatHasTheProcessFields) {
    // stat(pid, pid) reads the leader thread's file instead of the process's: every field of Stat
    // must be the same, with a second thread running (num_threads counts the whole group).
    std::atomic<bool> stop{false};
    std::thread t([&] {
        while (!stop) std::this_thread::yield();
    });
    ProcReader r;
    auto whole = r.stat(getpid());
    ASSERT_TRUE(whole) << whole.error().message();
    Stat a = *whole;
    auto leader = r.stat(getpid(), getpid());
    stop = true;
    t.join();
    ASSERT_TRUE(leader) << leader.error().message();
    EXPECT_EQ(leader->pid, a.pid);
    EXPECT_EQ(leader->comm, a.comm);
    EXPECT_EQ(leader->ppid, a.ppid);
    EXPECT_EQ(leader->pgrp, a.pgrp);
    EXPECT_EQ(leader->session, a.session);
    EXPECT_EQ(leader->flags, a.flags);
    EXPECT_EQ(leader->num_threads, a.num_threads);
    EXPECT_GE(a.num_threads, 2);
    EXPECT_EQ(leader->start_time, a.start_time);
}

TEST(ProcReader, ListsPidsAndTasks) {
    auto pids = list_pids();
    ASSERT_TRUE(pids);
    EXPECT_TRUE(std::binary_search(pids->begin(), pids->end(), getpid()));
    std::thread t([] {
        auto tasks = list_tasks(getpid());
        ASSERT_TRUE(tasks);
        EXPECT_GE(tasks->size(), 2u);
    });
    t.join();
    auto none = list_tasks(999999999);
    ASSERT_FALSE(none);
    EXPECT_EQ(none.error().errno_value(), ESRCH);
}

TEST(ProcReader, FixtureTree) {
    FsRoot fs(golden::source_dir() + "/tests/fixtures/two-socket-smt");
    ProcReader r(fs);
    auto st = r.stat(4242);
    ASSERT_TRUE(st) << st.error().message();
    EXPECT_EQ(st->comm, "db-worker");
    EXPECT_EQ(st->num_threads, 3);
    EXPECT_EQ(st->start_time, 1000u);
    auto cmd = r.cmdline(4242);
    ASSERT_TRUE(cmd);
    EXPECT_EQ(*cmd, "/usr/bin/db --worker 7");
    auto tasks = list_tasks(4242, fs);
    ASSERT_TRUE(tasks);
    EXPECT_EQ(*tasks, (std::vector<pid_t>{4242, 4243, 4244}));
    auto pids = list_pids(fs);
    ASSERT_TRUE(pids);
    EXPECT_EQ(*pids, (std::vector<pid_t>{4242, 4300}));
}
