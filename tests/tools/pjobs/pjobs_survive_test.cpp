// The server is only the table: SIGKILL it and the jobs run on, a new server finds them and wait
// gets their status. SIGKILL a job's holder: the job is reported lost and nothing hangs.
#include "pjobs_support.hpp"

#include <gtest/gtest.h>

using namespace prockit;
using namespace prockit::test;
using namespace std::chrono_literals;

TEST(PjobsSurvive, JobsOutliveASigkilledServer) {
    Pjobs pj;
    std::string go = pj.file("go");
    ASSERT_EQ(pj({"run", "--", "sh", "-c", "echo started; while [ ! -e " + go + " ]; do sleep 0.02; done; exit 4"}).code, 0);
    ASSERT_EQ(pj({"run", "--no-tty", "--", "sleep", "60"}).code, 0);
    long job1 = pj.pid_of(1), job2 = pj.pid_of(2);
    pid_t server = pj.server_pid();
    ASSERT_GT(server, 0);
    ASSERT_EQ(kill(server, SIGKILL), 0);
    ASSERT_TRUE(eventually([&] { return !process_alive(server); }));
    EXPECT_TRUE(process_alive(job1));
    EXPECT_TRUE(process_alive(job2));
    // A new server (started by this list) finds both.
    auto l = pj.list();
    ASSERT_EQ(l.size(), 2u);
    EXPECT_EQ(l[0].value("state", ""), "running");
    EXPECT_EQ(l[1].value("state", ""), "running");
    EXPECT_NE(pj.server_pid(), server);
    touch(go);
    EXPECT_EQ(pj({"wait", "%1"}).code, 4);
    EXPECT_EQ(pj({"logs", "%1"}).out, "started\r\n");
}

TEST(PjobsSurvive, AWaitOutlivesTheServerItAskedAndAJobEndingMeanwhileIsSeen) {
    Pjobs pj;
    std::string go = pj.file("go");
    ASSERT_EQ(pj({"run", "--no-tty", "--"}).code, 2);  // (no command: a usage error)
    std::vector<std::string> args = {"run", "--no-tty", "--"};
    for (auto& a : wait_for_file(go, 6)) args.push_back(a);
    ASSERT_EQ(pj(args).code, 0);
    TempDir io;
    Command c(pjobs_path());
    c.args({"wait", "%1"}).env("XDG_RUNTIME_DIR", pj.runtime()).env("XDG_STATE_HOME", pj.state());
    c.out(Stdio::write_file(io / "out")).err(Stdio::write_file(io / "err")).on_destroy(prockit::DestroyPolicy::kill_tree, 0s);
    auto waiter = c.spawn();
    ASSERT_TRUE(waiter);
    // Kill the server while the job runs and the wait waits; the job ends while no server runs.
    pid_t server = pj.server_pid();
    ASSERT_EQ(kill(server, SIGKILL), 0);
    ASSERT_TRUE(eventually([&] { return !process_alive(server); }));
    touch(go);
    auto st = waiter->wait_for(30s);
    ASSERT_TRUE(st && *st) << "wait hangs";
    EXPECT_EQ((*st)->shell_code(), 6) << slurp(io / "err");
    EXPECT_EQ(pj.job(1).value("status_text", ""), "Exit 6");
}

TEST(PjobsSurvive, ASigkilledHolderMakesItsJobLostAndNothingHangs) {
    Pjobs pj;
    ASSERT_EQ(pj({"run", "--", "sleep", "60"}).code, 0);
    ASSERT_EQ(pj({"run", "--no-tty", "--", "sleep", "61"}).code, 0);
    for (long id : {1L, 2L}) {
        long job = pj.pid_of(id);
        long holder = parent_of(job);
        ASSERT_GT(holder, 1);
        ASSERT_EQ(kill(static_cast<pid_t>(holder), SIGKILL), 0);
        EXPECT_TRUE(eventually([&] { return pj.state_of(id) == "lost"; }));
        auto w = pj({"wait", "%" + std::to_string(id)}, 30s);
        EXPECT_EQ(w.code, 1);
        EXPECT_NE(w.err.find("was lost"), std::string::npos) << w.err;
        // The job's terminal (or parent) hung up: it does not outlive its owner.
        EXPECT_TRUE(eventually([&] { return !process_alive(job); })) << "job " << id << " survived its holder";
    }
    EXPECT_EQ(pj.job(1).value("status_text", ""), "Lost");
    auto k = pj({"kill", "%1"});
    EXPECT_EQ(k.code, 1);
    EXPECT_EQ(k.err, "pjobs: cannot signal job 1: it has finished (Lost)\n");
}

TEST(PjobsSurvive, AfterAReboothRunningJobsAreLostAndFinishedOnesKeepTheirLogs) {
    Pjobs pj;
    ASSERT_EQ(pj({"run", "--no-tty", "--", "echo", "kept"}).code, 0);
    ASSERT_EQ(pj({"wait", "%1"}).code, 0);
    ASSERT_EQ(pj({"run", "--", "sleep", "60"}).code, 0);
    // A "reboot": the server and every holder and job gone at once, the state directory kept.
    long job = pj.pid_of(2), holder = parent_of(job);
    pid_t server = pj.server_pid();
    kill(server, SIGKILL);
    kill(static_cast<pid_t>(holder), SIGKILL);
    kill(static_cast<pid_t>(job), SIGKILL);
    ASSERT_TRUE(eventually([&] { return !process_alive(server) && !process_alive(job); }));
    EXPECT_EQ(pj.state_of(2), "lost");
    EXPECT_EQ(pj.state_of(1), "done");
    EXPECT_EQ(pj({"logs", "%1"}).out, "kept\n");
}
