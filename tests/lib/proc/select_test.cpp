#include <prockit/proc/select.hpp>

#include "lib/sched/golden.hpp"
#include "tools/paffinity/run_tool.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

using namespace prockit;
using namespace prockit::proc;
using paff_test::Child;

namespace {
std::vector<pid_t> pids_of(const Result<Selection>& s) {
    std::vector<pid_t> out;
    if (s)
        for (const ProcessRef& p : s->processes) out.push_back(p.pid);
    return out;
}
FsRoot smt() { return FsRoot(golden::source_dir() + "/tests/fixtures/two-socket-smt"); }
}  // namespace

TEST(Select, EmptySelectorSelectsNothing) {
    auto s = select_processes(Selector{});
    ASSERT_TRUE(s);
    EXPECT_TRUE(s->processes.empty());
}

TEST(Select, FixtureCriteria) {
    FsRoot fs = smt();
    Selector by_name;
    by_name.names = {"db-worker"};
    EXPECT_EQ(pids_of(select_processes(by_name, fs)), std::vector<pid_t>{4242});
    Selector by_regex;
    by_regex.patterns = {"--worker [0-9]+$"};
    EXPECT_EQ(pids_of(select_processes(by_regex, fs)), std::vector<pid_t>{4242});
    Selector alternatives;
    alternatives.patterns = {"^/usr/bin/web", "nomatch"};
    EXPECT_EQ(pids_of(select_processes(alternatives, fs)), std::vector<pid_t>{4300});
    Selector both_kinds;  // AND across kinds
    both_kinds.names = {"web"};
    both_kinds.patterns = {"db"};
    EXPECT_TRUE(pids_of(select_processes(both_kinds, fs)).empty());
    Selector by_cgroup;
    by_cgroup.cgroups = {"/batch"};
    EXPECT_EQ(pids_of(select_processes(by_cgroup, fs)), std::vector<pid_t>{4242});
    Selector by_dir;  // a cgroup directory of the v1 cpuset hierarchy
    by_dir.cgroups = {"/sys/fs/cgroup/cpuset/batch"};
    EXPECT_EQ(pids_of(select_processes(by_dir, fs)), std::vector<pid_t>{4242});
    Selector root;
    root.cgroups = {"/"};
    EXPECT_EQ(pids_of(select_processes(root, fs)), (std::vector<pid_t>{4242, 4300}));
    Selector missing;
    missing.pids = {4300, 5555};
    auto m = select_processes(missing, fs);
    ASSERT_TRUE(m);
    EXPECT_EQ(pids_of(m), std::vector<pid_t>{4300});
    EXPECT_EQ(m->missing, std::vector<pid_t>{5555});
}

TEST(Select, BadRegexIsAParseError) {
    Selector s;
    s.patterns = {"(unclosed"};
    auto r = select_processes(s);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), make_error_code(Errc::parse_error));
    EXPECT_NE(r.error().message().find("(unclosed"), std::string::npos);
}

TEST(Select, RealProcessByEveryCriterion) {
    Child helper({PAFF_THREADS_HELPER, "threads", "1", "select-me-" + std::to_string(getpid())});
    ASSERT_EQ(helper.read_line(), "ready");
    Selector s;
    s.patterns = {"select-me-" + std::to_string(getpid()) + "$"};
    EXPECT_EQ(pids_of(select_processes(s)), std::vector<pid_t>{helper.pid()});
    s.names = {"paffinity-test-threads"};  // 22 characters: compared with the 15 of comm
    s.exes = {PAFF_THREADS_HELPER};
    s.users = {geteuid()};
    auto cg = select_processes(s);
    EXPECT_EQ(pids_of(cg), std::vector<pid_t>{helper.pid()});
    ASSERT_TRUE(cg && !cg->processes.empty());
    EXPECT_EQ(cg->processes[0].threads, 2);
    s.users = {geteuid() + 1};
    EXPECT_TRUE(pids_of(select_processes(s)).empty());
}

TEST(Select, NeverSelectsItselfUnlessAsked) {
    Selector s;
    s.pids = {getpid()};
    EXPECT_TRUE(pids_of(select_processes(s)).empty());
    s.include_self = true;
    EXPECT_EQ(pids_of(select_processes(s)), std::vector<pid_t>{getpid()});
}

TEST(Select, UserNames) {
    EXPECT_EQ(resolve_user("root").value(), 0u);
    EXPECT_EQ(resolve_user("1234").value(), 1234u);
    auto bad = resolve_user("no-such-user-prockit");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code(), make_error_code(Errc::not_found));
}

TEST(PinnedProcess, RecycledPidIsRefused) {
    Child helper({PAFF_THREADS_HELPER, "threads", "0"});
    ASSERT_EQ(helper.read_line(), "ready");
    Selector s;
    s.pids = {helper.pid()};
    auto sel = select_processes(s);
    ASSERT_TRUE(sel);
    ASSERT_EQ(sel->processes.size(), 1u);
    ProcessRef ref = sel->processes[0];
    auto pinned = PinnedProcess::pin(ref);
    ASSERT_TRUE(pinned) << pinned.error().message();
    EXPECT_TRUE(pinned->alive());
    // The same PID with another start time is "another process": refused.
    ProcessRef stale = ref;
    stale.start_time += 1;
    auto refused = PinnedProcess::pin(stale);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().errno_value(), ESRCH);
    helper.stop(SIGKILL);
    EXPECT_FALSE(pinned->alive());
    EXPECT_FALSE(PinnedProcess::pin(ref));
}

TEST(Select, ThreadedScanGivesTheSameResult) {
    Selector s;
    s.patterns = {"."};  // everything with a command line (or a comm)
    auto m = Matcher::compile(s);
    ASSERT_TRUE(m);
    auto one = m->select(1);
    auto four = m->select(4);
    ASSERT_TRUE(one && four);
    // Processes may come and go between the scans; most must agree, in PID order.
    std::vector<pid_t> a = pids_of(one), b = pids_of(four);
    EXPECT_TRUE(std::is_sorted(b.begin(), b.end()));
    std::vector<pid_t> common;
    std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(common));
    EXPECT_GE(common.size() + 10, a.size());
}
