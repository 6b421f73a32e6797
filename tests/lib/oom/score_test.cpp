// oom/score: parsing, reading and setting oom_score_adj (real processes and a fixture tree), the
// identity re-check before a write, the CAP_SYS_RESOURCE message, and descendants.
#include "lib/oom/oom_fixture.hpp"
#include "support.hpp"

#include <prockit/oom/score.hpp>
#include <prockit/process/command.hpp>
#include <prockit/proc/procfs.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <thread>

using namespace prockit;
using namespace std::chrono_literals;

namespace {

bool eventually(const std::function<bool()>& cond, std::chrono::milliseconds deadline = 30s) {
    auto end = std::chrono::steady_clock::now() + deadline;
    while (!cond()) {
        if (std::chrono::steady_clock::now() >= end) return false;
        std::this_thread::sleep_for(5ms);
    }
    return true;
}

proc::ProcessRef ref_of(pid_t pid) {
    proc::ProcReader r;
    auto st = r.stat(pid);
    if (!st) throw std::runtime_error("no stat for " + std::to_string(pid));
    return {pid, st->start_time, st->comm, st->num_threads, false};
}

Child spawn_sleeper() {
    return Command("sleep").arg("1000").in(Stdio::null()).on_destroy(DestroyPolicy::kill_tree, 0s).spawn().value();
}

}  // namespace

TEST(OomParseAdj, AcceptsTheRangeAndNamesWhatIsWrong) {
    EXPECT_EQ(oom::parse_adj("0").value(), 0);
    EXPECT_EQ(oom::parse_adj("-1000").value(), -1000);
    EXPECT_EQ(oom::parse_adj("1000").value(), 1000);
    EXPECT_EQ(oom::parse_adj("+5").value(), 5);
    struct Bad {
        const char* text;
        Errc code;
    };
    for (Bad b : {Bad{"1001", Errc::out_of_range}, Bad{"-1001", Errc::out_of_range},
                  Bad{"99999999999999", Errc::out_of_range}, Bad{"", Errc::parse_error}, Bad{"abc", Errc::parse_error},
                  Bad{"5x", Errc::parse_error}, Bad{"1.5", Errc::parse_error}, Bad{"- 5", Errc::parse_error}}) {
        auto r = oom::parse_adj(b.text);
        ASSERT_FALSE(r) << b.text;
        EXPECT_EQ(r.error().code(), make_error_code(b.code)) << b.text;
        EXPECT_NE(r.error().context().find(std::string("\"") + b.text + "\""), std::string::npos) << r.error().context();
    }
}

TEST(OomScore, ReadsItsOwnScoreAndAdj) {
    auto score = oom::read_oom_score(getpid());
    ASSERT_TRUE(score) << score.error().message();
    EXPECT_GE(*score, 0);
    EXPECT_LE(*score, 2000);
    auto adj = oom::read_oom_score_adj(getpid());
    ASSERT_TRUE(adj) << adj.error().message();
    EXPECT_EQ(*adj, std::stoi(test::read_text("/proc/self/oom_score_adj")));
}

TEST(OomScore, AGoneProcessIsEsrch) {
    auto r = oom::read_oom_score_adj(1073741000);  // past PID_MAX_LIMIT: never a process
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().errno_value(), ESRCH);
}

TEST(OomScore, SetsAChildsAdjAndReadsItBack) {
    Child c = spawn_sleeper();
    proc::ProcessRef ref = ref_of(c.pid());
    for (int v : {500, 1000, 300}) {
        auto st = oom::set_oom_score_adj(ref, v);
        ASSERT_TRUE(st) << st.error().message();
        EXPECT_EQ(oom::read_oom_score_adj(c.pid()).value(), v);
    }
    // Raising a score also raises what the kernel reports.
    EXPECT_GE(oom::read_oom_score(c.pid()).value(), 300);
}

TEST(OomScore, OutOfRangeTouchesNothing) {
    Child c = spawn_sleeper();
    proc::ProcessRef ref = ref_of(c.pid());
    ASSERT_TRUE(oom::set_oom_score_adj(ref, 200));
    for (int v : {1001, -1001, 5000}) {
        auto st = oom::set_oom_score_adj(ref, v);
        ASSERT_FALSE(st);
        EXPECT_EQ(st.error().code(), make_error_code(Errc::out_of_range));
    }
    EXPECT_EQ(oom::read_oom_score_adj(c.pid()).value(), 200);
}

TEST(OomScore, ARecycledPidIsNeverWritten) {
    Child c = spawn_sleeper();
    proc::ProcessRef ref = ref_of(c.pid());
    ASSERT_TRUE(oom::set_oom_score_adj(ref, 100));
    // Another process behind the same PID looks like a different start time.
    proc::ProcessRef other = ref;
    other.start_time += 1;
    auto st = oom::set_oom_score_adj(other, 700);
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().errno_value(), ESRCH);
    EXPECT_EQ(oom::read_oom_score_adj(c.pid()).value(), 100);
}

TEST(OomScore, AnExitedProcessIsEsrch) {
    Child c = spawn_sleeper();
    proc::ProcessRef ref = ref_of(c.pid());
    ASSERT_TRUE(c.kill());
    ASSERT_TRUE(c.wait());
    auto st = oom::set_oom_score_adj(ref, 100);
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().errno_value(), ESRCH);
    EXPECT_NE(st.error().message().find("exited"), std::string::npos) << st.error().message();
}

TEST(OomScore, LoweringBelowTheMinimumWithoutTheCapabilitySaysHowToFixIt) {
    if (oom::has_cap_sys_resource())
        GTEST_SKIP() << "this process has CAP_SYS_RESOURCE: a negative value is allowed (tested below)";
    Child c = spawn_sleeper();
    proc::ProcessRef ref = ref_of(c.pid());
    auto st = oom::set_oom_score_adj(ref, -500);
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().errno_value(), EACCES);
    const std::string& ctx = st.error().context();
    EXPECT_NE(ctx.find("set oom_score_adj of pid " + std::to_string(c.pid()) + " (sleep) to -500"), std::string::npos) << ctx;
    EXPECT_NE(ctx.find("CAP_SYS_RESOURCE"), std::string::npos) << ctx;
    EXPECT_NE(ctx.find("setcap cap_sys_resource+ep"), std::string::npos) << ctx;
    EXPECT_NE(ctx.find("OOMScoreAdjust="), std::string::npos) << ctx;
    EXPECT_EQ(oom::read_oom_score_adj(c.pid()).value(), 0);
}

TEST(OomScore, NegativeValuesWithTheCapability) {
    if (!oom::has_cap_sys_resource()) GTEST_SKIP() << "needs CAP_SYS_RESOURCE, which this process lacks";
    Child c = spawn_sleeper();
    proc::ProcessRef ref = ref_of(c.pid());
    ASSERT_TRUE(oom::set_oom_score_adj(ref, -1000));
    EXPECT_EQ(oom::read_oom_score_adj(c.pid()).value(), -1000);
    EXPECT_EQ(oom::read_oom_score(c.pid()).value(), 0);
}

TEST(OomScore, SetsItsOwnValue) {
    // Raised, then back where it was (never below the minimum, so always allowed).
    int before = oom::read_oom_score_adj(getpid()).value();
    int target = before >= 990 ? before : before + 10;
    ASSERT_TRUE(oom::set_own_oom_score_adj(target));
    EXPECT_EQ(oom::read_oom_score_adj(getpid()).value(), target);
    ASSERT_TRUE(oom::set_own_oom_score_adj(before));
}

TEST(OomScore, DescendantsOfARealTree) {
    // sh → (sleep, sh → sleep): three descendants, two of them children.
    Child c = Command("/bin/sh")
                  .args({"-c", "sleep 1000 & /bin/sh -c 'sleep 1000 & wait' & wait"})
                  .in(Stdio::null())
                  .new_process_group()
                  .on_destroy(DestroyPolicy::kill_tree, 0s)
                  .spawn()
                  .value();
    ASSERT_TRUE(eventually([&] { return oom::descendants_of(c.pid()).value().size() == 3; }));
    auto kids = oom::children_of(c.pid()).value();
    EXPECT_EQ(kids.size(), 2u);
    auto all = oom::descendants_of(c.pid()).value();
    // Children come before grandchildren.
    EXPECT_EQ(all[0].pid, kids[0].pid);
    EXPECT_EQ(all[1].pid, kids[1].pid);
    for (const auto& d : all) EXPECT_GT(d.start_time, 0u);
    EXPECT_TRUE(oom::descendants_of(1073741000).value().empty());
}

TEST(OomScoreFixture, ReadsAndWritesThroughTheFsRoot) {
    test::OomFixture fx;
    auto db = test::fake(10, "db");
    db.oom_score = 100;
    fx.add(db);
    FsRoot fs(fx.root());
    EXPECT_EQ(oom::read_oom_score(10, fs).value(), 100);
    EXPECT_EQ(oom::read_oom_score_adj(10, fs).value(), 0);
    ASSERT_TRUE(oom::set_oom_score_adj({10, 1000, "db", 1, false}, 250, fs));
    EXPECT_EQ(fx.read("/proc/10/oom_score_adj"), "250");
    // A start time that differs is another process: not written.
    auto st = oom::set_oom_score_adj({10, 999, "db", 1, false}, 400, fs);
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().errno_value(), ESRCH);
    EXPECT_EQ(fx.read("/proc/10/oom_score_adj"), "250");
    fx.put("/proc/10/oom_score", "garbage\n");
    EXPECT_EQ(oom::read_oom_score(10, fs).error().code(), make_error_code(Errc::parse_error));
}

TEST(OomScoreFixture, DescendantsOfSeveralRoots) {
    test::OomFixture fx;
    // 10 → 11 → 13, 10 → 12; 20 → 21; 30 alone; 11 is also given as a root.
    fx.add(test::fake(10, "postgres"));
    fx.add(test::fake(11, "postgres", 10));
    fx.add(test::fake(12, "postgres", 10));
    fx.add(test::fake(13, "worker", 11));
    fx.add(test::fake(20, "redis"));
    fx.add(test::fake(21, "redis-bg", 20));
    fx.add(test::fake(30, "lonely"));
    FsRoot fs(fx.root());
    auto d = oom::descendants_of(std::vector<pid_t>{10, 11, 20, 30}, fs).value();
    std::vector<pid_t> pids;
    for (const auto& p : d) pids.push_back(p.pid);
    EXPECT_EQ(pids, (std::vector<pid_t>{11, 12, 13, 21}));
    auto kids = oom::children_of(10, fs).value();
    ASSERT_EQ(kids.size(), 2u);
    EXPECT_EQ(kids[0].comm, "postgres");
    EXPECT_EQ(kids[1].pid, 12);
}
