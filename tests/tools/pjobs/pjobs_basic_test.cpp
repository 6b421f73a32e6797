// pjobs with plain commands: run, list, wait, kill, stop, bg, logs, rm, clean.
#include "pjobs_support.hpp"

#include <gtest/gtest.h>

using namespace prockit;
using namespace prockit::test;
using namespace std::chrono_literals;

TEST(PjobsBasic, RunPrintsJobAndPidAndListShowsIt) {
    Pjobs pj;
    auto r = pj({"run", "--", "sleep", "60"});
    ASSERT_EQ(r.code, 0) << r.err;
    long pid = 0;
    ASSERT_EQ(std::sscanf(r.out.c_str(), "[1] %ld", &pid), 1) << r.out;
    EXPECT_TRUE(process_alive(pid));
    auto l = pj({"list"});
    EXPECT_EQ(l.code, 0) << l.err;
    EXPECT_NE(l.out.find("[1]+ " + std::to_string(pid)), std::string::npos) << l.out;
    EXPECT_NE(l.out.find("Running"), std::string::npos) << l.out;
    EXPECT_NE(l.out.find("sleep 60"), std::string::npos) << l.out;
    // No mode is the same as list.
    EXPECT_EQ(pj({}).out, l.out);
    EXPECT_EQ(pj.pid_of(1), pid);
}

TEST(PjobsBasic, WaitReturnsTheJobsStatusAsAShellDoes) {
    Pjobs pj;
    ASSERT_EQ(pj({"run", "--", "sh", "-c", "exit 3"}).code, 0);
    ASSERT_EQ(pj({"run", "--no-tty", "--", "sh", "-c", "kill -TERM $$"}).code, 0);
    EXPECT_EQ(pj({"wait", "%1"}).code, 3);
    EXPECT_EQ(pj({"wait", "%2"}).code, 128 + SIGTERM);
    EXPECT_EQ(pj({"wait", "%2", "%1"}).code, 3);  // the last one's
    EXPECT_EQ(pj({"wait"}).code, 0);              // all: 0
    auto l = pj({"list"}).out;
    EXPECT_NE(l.find("Exit 3"), std::string::npos) << l;
    EXPECT_NE(l.find("Killed (SIGTERM)"), std::string::npos) << l;
}

TEST(PjobsBasic, KillStopAndBg) {
    Pjobs pj;
    ASSERT_EQ(pj({"run", "--", "sleep", "60"}).code, 0);
    ASSERT_EQ(pj({"run", "--no-tty", "--", "sleep", "60"}).code, 0);
    ASSERT_EQ(pj({"stop", "%1", "%2"}).code, 0);
    EXPECT_TRUE(eventually([&] { return pj.state_of(1) == "stopped" && pj.state_of(2) == "stopped"; }));
    EXPECT_NE(pj({"list"}).out.find("Stopped"), std::string::npos);
    auto bg = pj({"bg", "%1"});
    EXPECT_EQ(bg.code, 0) << bg.err;
    EXPECT_EQ(bg.out, "[1]+ sleep 60 &\n");
    EXPECT_TRUE(eventually([&] { return pj.state_of(1) == "running"; }));
    // kill of a stopped job continues it so that it sees the signal (as a shell's kill)
    EXPECT_EQ(pj({"kill", "%2"}).code, 0);
    EXPECT_EQ(pj({"wait", "%2"}).code, 128 + SIGTERM);
    EXPECT_EQ(pj({"kill", "-s", "KILL", "%1"}).code, 0);
    EXPECT_EQ(pj({"wait", "%1"}).code, 128 + SIGKILL);
    EXPECT_EQ(pj.job(1).value("status_text", ""), "Killed (SIGKILL)");
}

TEST(PjobsBasic, KillTreeReachesDescendantsOutsideTheGroup) {
    Pjobs pj;
    std::string pidfile = pj.file("grandchild");
    // The grandchild leaves the job's process group (setsid): only --tree reaches it.
    ASSERT_EQ(pj({"run", "--no-tty", "--", "sh", "-c", "setsid sh -c 'echo $$ > " + pidfile + "; exec sleep 60' & wait"}).code, 0);
    ASSERT_TRUE(eventually([&] { return slurp(pidfile).size() > 1; }));
    long gc = std::stol(slurp(pidfile));
    EXPECT_EQ(pj({"kill", "--tree", "-s", "KILL", "%1"}).code, 0);
    EXPECT_EQ(pj({"wait", "%1"}).code, 128 + SIGKILL);
    EXPECT_TRUE(eventually([&] { return !process_alive(gc); }));
}

TEST(PjobsBasic, LogsOfRunningAndFinishedJobsWithTail) {
    Pjobs pj;
    ASSERT_EQ(pj({"run", "--no-tty", "--", "sh", "-c", "for i in 1 2 3 4 5; do echo line$i; done"}).code, 0);
    ASSERT_EQ(pj({"wait", "%1"}).code, 0);
    EXPECT_EQ(pj({"logs", "%1"}).out, "line1\nline2\nline3\nline4\nline5\n");
    EXPECT_EQ(pj({"logs", "--tail", "2", "%1"}).out, "line4\nline5\n");
    // A tty job's log holds what the terminal showed.
    ASSERT_EQ(pj({"run", "--name", "greeter", "--", "echo", "hi there"}).code, 0);
    ASSERT_EQ(pj({"wait", "%greeter"}).code, 0);
    EXPECT_EQ(pj({"logs", "%greeter"}).out, "hi there\r\n");
}

TEST(PjobsBasic, LogsFollowUntilTheJobEnds) {
    Pjobs pj;
    std::string go = pj.file("go");
    ASSERT_EQ(pj({"run", "--no-tty", "--", "sh", "-c", "echo first; while [ ! -e " + go + " ]; do sleep 0.02; done; echo second"}).code, 0);
    ASSERT_TRUE(eventually([&] { return pj({"logs", "%1"}).out == "first\n"; }));
    TempDir io;
    Command c(pjobs_path());
    c.args({"logs", "-f", "%1"}).env("XDG_RUNTIME_DIR", pj.runtime()).env("XDG_STATE_HOME", pj.state());
    c.out(Stdio::write_file(io / "out")).on_destroy(prockit::DestroyPolicy::kill_tree, 0s);
    auto follower = c.spawn();
    ASSERT_TRUE(follower);
    ASSERT_TRUE(eventually([&] { return slurp(io / "out") == "first\n"; }));
    touch(go);
    auto st = follower->wait_for(30s);
    ASSERT_TRUE(st && *st);
    EXPECT_EQ((*st)->shell_code(), 0);
    EXPECT_EQ(slurp(io / "out"), "first\nsecond\n");
}

TEST(PjobsBasic, RmAndCleanForgetFinishedJobsOnly) {
    Pjobs pj;
    ASSERT_EQ(pj({"run", "--", "true"}).code, 0);
    ASSERT_EQ(pj({"run", "--", "false"}).code, 0);
    ASSERT_EQ(pj({"run", "--", "sleep", "60"}).code, 0);
    ASSERT_EQ(pj({"wait", "%1", "%2"}).code, 1);
    std::string log1 = pj.statedir() + "/pjobs-logs/1.log";
    EXPECT_EQ(access(log1.c_str(), F_OK), 0);
    auto busy = pj({"rm", "%3"});
    EXPECT_EQ(busy.code, 1);
    EXPECT_EQ(busy.err, "pjobs: cannot remove job 3: it is running\n");
    EXPECT_EQ(pj({"rm", "%1"}).code, 0);
    EXPECT_NE(access(log1.c_str(), F_OK), 0);
    EXPECT_EQ(pj.list().size(), 2u);
    EXPECT_EQ(pj({"clean"}).code, 0);
    auto l = pj.list();
    ASSERT_EQ(l.size(), 1u);
    EXPECT_EQ(l[0].value("id", 0), 3);
}

TEST(PjobsBasic, JobSpecsAsInAShell) {
    Pjobs pj;
    ASSERT_EQ(pj({"run", "--name", "alpha", "--", "sleep", "61"}).code, 0);
    ASSERT_EQ(pj({"run", "--", "sleep", "62"}).code, 0);
    ASSERT_EQ(pj({"run", "--", "sh", "-c", "sleep 63"}).code, 0);
    auto l = pj.list();
    ASSERT_EQ(l.size(), 3u);
    EXPECT_EQ(l[2].value("current", ""), "+");
    EXPECT_EQ(l[1].value("current", ""), "-");
    EXPECT_EQ(pj({"kill", "%alpha"}).code, 0);
    EXPECT_EQ(pj({"wait", "%1"}).code, 128 + SIGTERM);
    EXPECT_EQ(pj({"kill", "%?62"}).code, 0);
    EXPECT_EQ(pj({"wait", "%2"}).code, 128 + SIGTERM);
    EXPECT_EQ(pj({"kill", std::to_string(pj.pid_of(3))}).code, 0);  // a PID
    EXPECT_EQ(pj({"wait", "%%"}).code, 128 + SIGTERM);
    ASSERT_EQ(pj({"run", "--", "sleep", "64"}).code, 0);
    ASSERT_EQ(pj({"run", "--", "sleep", "65"}).code, 0);
    EXPECT_EQ(pj({"kill", "%-"}).code, 0);
    EXPECT_EQ(pj({"wait", "%4"}).code, 128 + SIGTERM);
    EXPECT_EQ(pj.state_of(5), "running");
}

TEST(PjobsBasic, RunOptionsReachTheJob) {
    Pjobs pj;
    mkdir(pj.file("sub").c_str(), 0755);
    ASSERT_EQ(pj({"run", "--no-tty", "--cwd", "sub", "--env", "GREETING=hello", "--nice", "7", "--", "sh", "-c",
                  "pwd; echo $GREETING; cut -d' ' -f19 /proc/self/stat"}).code,
              0);
    ASSERT_EQ(pj({"wait", "%1"}).code, 0);
    EXPECT_EQ(pj({"logs", "%1"}).out, pj.file("sub") + "\nhello\n7\n");
}

TEST(PjobsBasic, ServerStatusAndStopLeaveJobsRunning) {
    Pjobs pj;
    ASSERT_EQ(pj({"run", "--", "sleep", "60"}).code, 0);
    auto st = pj({"server", "status"});
    EXPECT_EQ(st.code, 0) << st.err;
    EXPECT_NE(st.out.find("jobs 1 (1 unfinished)"), std::string::npos) << st.out;
    long pid = pj.pid_of(1);
    EXPECT_EQ(pj({"server", "stop"}).code, 0);
    auto down = pj({"server", "status"});
    EXPECT_EQ(down.code, 1);
    EXPECT_EQ(down.err, "pjobs: cannot reach the server: it is not running\n");
    EXPECT_TRUE(process_alive(pid));
    EXPECT_EQ(pj.state_of(1), "running");  // a new server, started on demand, finds the job
}
