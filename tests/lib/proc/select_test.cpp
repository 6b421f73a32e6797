#include <prockit/proc/select.hpp>

#include "lib/sched/golden.hpp"
#include "tools/paffinity/run_tool.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <thread>
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

// A scan of /proc among 300 helpers with the same command line: every one is found exactly once,
// in PID order.
TEST(Select, ScanAmongManyProcessesFindsEachOnce) {
    const std::string marker = "prockit-select-test-" + std::to_string(getpid());
    // Helpers that wait on one pipe: closing its write end (or this process dying) ends them.
    int gate[2];
    ASSERT_EQ(pipe2(gate, O_CLOEXEC), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, gate[0], 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    std::vector<std::string> args{PAFF_THREADS_HELPER, "threads", "0", marker};
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<pid_t> helpers;
    for (int i = 0; i < 300; ++i) {
        pid_t pid;
        if (posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ) != 0) break;
        helpers.push_back(pid);
    }
    posix_spawn_file_actions_destroy(&fa);
    close(gate[0]);
    struct Reap {
        int gate;
        const std::vector<pid_t>& pids;
        ~Reap() {
            close(gate);
            for (pid_t p : pids) waitpid(p, nullptr, 0);
        }
    } reap{gate[1], helpers};
    ASSERT_EQ(helpers.size(), 300u);
    std::sort(helpers.begin(), helpers.end());

    Selector s;
    s.patterns = {marker + "$"};  // not another run's helpers, whose marker may begin with ours
    auto m = Matcher::compile(s);
    ASSERT_TRUE(m);
    // Each shows the marker once it has exec'd.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (pids_of(m->select()).size() < helpers.size() && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    for (int round = 0; round < 3; ++round) {
        auto r = m->select();
        ASSERT_TRUE(r) << r.error().message();
        EXPECT_EQ(pids_of(r), helpers) << "round " << round;
        EXPECT_TRUE(r->missing.empty());
    }
}
