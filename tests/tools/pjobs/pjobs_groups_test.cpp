// Groups with a number of slots, and --after.
#include "pjobs_support.hpp"

#include <gtest/gtest.h>

using namespace prockit;
using namespace prockit::test;
using namespace std::chrono_literals;

namespace {
std::vector<std::string> run_args(std::vector<std::string> opts, const std::vector<std::string>& cmd) {
    std::vector<std::string> a{"run"};
    a.insert(a.end(), opts.begin(), opts.end());
    a.push_back("--");
    a.insert(a.end(), cmd.begin(), cmd.end());
    return a;
}
}  // namespace

TEST(PjobsGroups, QueuedJobsStartAsSlotsFree) {
    Pjobs pj;
    auto g = pj({"group", "build", "--parallel", "2"});
    EXPECT_EQ(g.code, 0) << g.err;
    EXPECT_EQ(g.out, "group build: parallel 2, 0 running, 0 queued\n");
    for (int i = 1; i <= 3; ++i) ASSERT_EQ(pj(run_args({"--no-tty", "--group", "build"}, wait_for_file(pj.file("go" + std::to_string(i)), i))).code, 0);
    EXPECT_EQ(pj.state_of(1), "running");
    EXPECT_EQ(pj.state_of(2), "running");
    EXPECT_EQ(pj.state_of(3), "queued");
    EXPECT_NE(pj({"list"}).out.find("[3]+ -       Queued"), std::string::npos) << pj({"list"}).out;
    touch(pj.file("go1"));
    EXPECT_EQ(pj({"wait", "%1"}).code, 1);
    EXPECT_TRUE(eventually([&] { return pj.state_of(3) == "running"; }));
    touch(pj.file("go2"));
    touch(pj.file("go3"));
    EXPECT_EQ(pj({"wait", "%2", "%3"}).code, 3);
}

TEST(PjobsGroups, AGroupRunsOneAtATimeByDefault) {
    Pjobs pj;
    ASSERT_EQ(pj(run_args({"--no-tty", "--group", "q"}, wait_for_file(pj.file("a")))).code, 0);
    auto r = pj(run_args({"--no-tty", "--group", "q"}, {"true"}));
    EXPECT_EQ(r.out, "[2] queued\n");
    EXPECT_EQ(pj.state_of(2), "queued");
    touch(pj.file("a"));
    EXPECT_EQ(pj({"wait", "%1", "%2"}).code, 0);
}

TEST(PjobsGroups, AfterStartsWhenTheJobSucceededAndIsCancelledWhenItFailed) {
    Pjobs pj;
    ASSERT_EQ(pj(run_args({"--no-tty"}, wait_for_file(pj.file("ok"), 0))).code, 0);
    ASSERT_EQ(pj(run_args({"--no-tty"}, wait_for_file(pj.file("bad"), 2))).code, 0);
    ASSERT_EQ(pj(run_args({"--no-tty", "--after", "%1"}, {"echo", "after one"})).code, 0);
    ASSERT_EQ(pj(run_args({"--no-tty", "--after", "%2"}, {"echo", "after two"})).code, 0);
    EXPECT_EQ(pj.state_of(3), "queued");
    touch(pj.file("ok"));
    EXPECT_EQ(pj({"wait", "%3"}).code, 0);
    EXPECT_EQ(pj({"logs", "%3"}).out, "after one\n");
    touch(pj.file("bad"));
    auto w = pj({"wait", "%4"});
    EXPECT_EQ(w.code, 1);
    EXPECT_NE(w.err.find("job 4 was cancelled: job 2 did not succeed"), std::string::npos) << w.err;
    EXPECT_EQ(pj.state_of(4), "cancelled");
}
