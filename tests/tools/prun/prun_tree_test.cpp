// Nothing outlives prun: jobs whose children daemonize (double fork + setsid) are all gone after
// prun is SIGKILLed, as root and as an unprivileged user, after the OOM killer took prun, and
// after SIGKILLs of either of prun's two processes at random moments. Survivors are counted by a
// marker in their command lines (/proc/*/cmdline); every wait has a deadline.
#include "prun_support.hpp"

#include <prockit/sys/syscall.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <random>
#include <string>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace prockit::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Living processes whose command line holds `marker` (zombies have none). With `jobs_only`, prun's
// own two processes (whose command line holds the template, MARKER-{}) are not counted.
int count_marked(const std::string& marker, bool jobs_only = false) {
    int n = 0;
    DIR* d = opendir("/proc");
    if (!d) return -1;
    while (dirent* e = readdir(d)) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
        std::string cmd = read_file(std::string("/proc/") + e->d_name + "/cmdline").value_or("");
        for (char& c : cmd)
            if (c == '\0') c = ' ';
        if (cmd.find(marker) != std::string::npos && !(jobs_only && cmd.find(marker + "-{}") != std::string::npos)) ++n;
    }
    closedir(d);
    return n;
}

// Waits until `pred` holds, at most `limit`; true if it did. The 5 ms pauses only pace the polling
// of /proc: the outcome is decided by the predicate and the deadline.
template <class P>
bool eventually(P pred, std::chrono::milliseconds limit) {
    auto end = Clock::now() + limit;
    for (;;) {
        if (pred()) return true;
        if (Clock::now() >= end) return false;
        std::this_thread::sleep_for(5ms);
    }
}

std::string unique_marker(const char* what) {
    static int n = 0;
    return std::string("prockit-tree-") + what + "-" + std::to_string(getpid()) + "-" + std::to_string(++n);
}

// The supervisor: the guardian's child, once it exists.
pid_t supervisor_of(pid_t guardian) {
    pid_t sup = -1;
    eventually(
        [&] {
            std::string kids = read_file("/proc/" + std::to_string(guardian) + "/task/" + std::to_string(guardian) + "/children").value_or("");
            sup = static_cast<pid_t>(std::atol(kids.c_str()));
            return sup > 0;
        },
        10s);
    return sup;
}

// prun -j2 HELPER spawn-tree pause -- MARKER-{} ::: a b — each job leaves a background child and a
// setsid()'d grandchild: 6 marked processes when all run.
std::vector<std::string> tree_args(const std::string& marker, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> a = extra;
    for (const char* w : {"-j2"}) a.push_back(w);
    for (std::string w : {helper(), std::string("spawn-tree"), std::string("pause"), std::string("--"), marker + "-{}",
                          std::string(":::"), std::string("a"), std::string("b")})
        a.push_back(w);
    return a;
}

auto start_prun(const std::vector<std::string>& pre, const std::vector<std::string>& args) {
    Command c(pre.empty() ? prun_path() : pre[0]);
    for (std::size_t i = 1; i < pre.size(); ++i) c.arg(pre[i]);
    if (!pre.empty()) c.arg(prun_path());
    c.args(args).in(Stdio::null()).out(Stdio::null()).err(Stdio::null());
    c.new_process_group().on_destroy(DestroyPolicy::kill_tree, 0s);
    return c.spawn();
}

// The unprivileged test user (created when absent): uid, gid.
std::optional<std::pair<uid_t, gid_t>> test_user() {
    const char* name = "prockit-test-u";
    if (!getpwnam(name)) {
        std::string cmd = std::string("useradd --system --no-create-home --shell /usr/sbin/nologin ") + name + " >/dev/null 2>&1";
        if (std::system(cmd.c_str()) != 0) return std::nullopt;
    }
    passwd* pw = getpwnam(name);
    if (!pw) return std::nullopt;
    return std::make_pair(pw->pw_uid, pw->pw_gid);
}

TEST(PrunTree, SigkillOfPrunAsAnUnprivilegedUserLeavesNoSurvivor) {
    if (geteuid() != 0 || access("/usr/bin/setpriv", X_OK) != 0) GTEST_SKIP() << "needs root and setpriv to run prun as another user";
    auto user = test_user();
    if (!user) GTEST_SKIP() << "cannot create the test user prockit-test-u (useradd)";
    // The user must reach both binaries.
    if (access(prun_path().c_str(), R_OK | X_OK) != 0) GTEST_SKIP() << "prun is not executable";
    std::string marker = unique_marker("user");
    auto prun = start_prun({"/usr/bin/setpriv", "--reuid=" + std::to_string(user->first), "--regid=" + std::to_string(user->second),
                            "--clear-groups"},
                           tree_args(marker));
    ASSERT_TRUE(prun) << prun.error().message();
    ASSERT_TRUE(eventually([&] { return count_marked(marker, true) == 6; }, 20s)) << count_marked(marker, true) << " of 6 started";
    // It runs as the user, split in two (guardian = the PID we started, supervisor = its child).
    struct stat st {};
    ASSERT_EQ(stat(("/proc/" + std::to_string(prun->pid())).c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, user->first);
    EXPECT_GT(supervisor_of(prun->pid()), 0);
    ASSERT_TRUE(prun->kill());
    (void)prun->wait_for(10s);
    EXPECT_TRUE(eventually([&] { return count_marked(marker) == 0; }, 10s)) << count_marked(marker) << " processes survived prun";
}

TEST(PrunTree, SigkillOfPrunAsRootLeavesNoSurvivor) {
    std::string marker = unique_marker("root");
    auto prun = start_prun({}, tree_args(marker));
    ASSERT_TRUE(prun) << prun.error().message();
    ASSERT_TRUE(eventually([&] { return count_marked(marker, true) == 6; }, 20s)) << count_marked(marker, true) << " of 6 started";
    ASSERT_TRUE(prun->kill());
    (void)prun->wait_for(10s);
    EXPECT_TRUE(eventually([&] { return count_marked(marker) == 0; }, 10s)) << count_marked(marker) << " processes survived prun";
}

// 20 trials each: SIGKILL of the guardian (the PID the user knows) or of the supervisor, after a
// random delay (0-150 ms: before, during and after the jobs start).
void random_kills(bool supervisor) {
    std::mt19937 rng(std::random_device{}());
    std::uniform_int_distribution<int> delay_ms(0, 150);
    int seen_running = 0;
    for (int trial = 0; trial < 20; ++trial) {
        std::string marker = unique_marker(supervisor ? "sup" : "guard");
        auto prun = start_prun({}, tree_args(marker));
        ASSERT_TRUE(prun) << prun.error().message();
        pid_t victim = prun->pid();
        if (supervisor) victim = supervisor_of(prun->pid());
        ASSERT_GT(victim, 0);
        std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(rng)));  // a random moment, not a synchronisation
        if (count_marked(marker, true) > 0) ++seen_running;
        ASSERT_EQ(kill(victim, SIGKILL), 0);
        auto st = prun->wait_for(10s);
        ASSERT_TRUE(st && *st) << "trial " << trial << ": prun did not end";
        EXPECT_TRUE(eventually([&] { return count_marked(marker) == 0; }, 10s))
            << "trial " << trial << ": " << count_marked(marker) << " processes survived";
        if (supervisor && (*st)->code()) {
            // The guardian passes the supervisor's death on as 128+9 (or the jobs' status when
            // the kill came after the run had ended).
            EXPECT_TRUE(*(*st)->code() == 128 + SIGKILL || *(*st)->code() == 0) << *(*st)->code();
        }
    }
    EXPECT_GT(seen_running, 0) << "no trial killed prun while its jobs ran";
}

TEST(PrunTree, SigkillOfTheGuardianAtRandomMoments) { random_kills(false); }
TEST(PrunTree, SigkillOfTheSupervisorAtRandomMoments) { random_kills(true); }

// The OOM killer takes prun (oom_score_adj 1000, its jobs 0, each job allocating 150 MiB in a
// 96 MiB memory cgroup): nothing of the run survives it.
TEST(PrunTree, OomKillOfPrunLeavesNoSurvivor) {
    std::string root = "/sys/fs/cgroup/memory";
    if (access((root + "/memory.limit_in_bytes").c_str(), W_OK) != 0) GTEST_SKIP() << "no writable cgroup v1 memory controller";
    std::string dir = root + "/prockit-test-oom-" + std::to_string(getpid());
    ASSERT_EQ(mkdir(dir.c_str(), 0755), 0) << dir;
    struct Cleanup {
        std::string dir;
        ~Cleanup() {
            for (int i = 0; i < 1000 && rmdir(dir.c_str()) != 0 && errno == EBUSY; ++i) std::this_thread::sleep_for(10ms);
        }
    } cleanup{dir};
    ASSERT_TRUE(write_file(dir + "/memory.limit_in_bytes", "96M"));
    (void)write_file(dir + "/memory.swappiness", "0");  // no swap to escape into, where allowed
    (void)write_file(dir + "/memory.memsw.limit_in_bytes", "96M");
    auto oom_kills = [&] {
        std::string c = read_file(dir + "/memory.oom_control").value_or("");
        auto at = c.find("oom_kill ");
        return at == std::string::npos ? -1L : std::atol(c.c_str() + at + 9);
    };
    ASSERT_EQ(oom_kills(), 0) << "memory.oom_control has no oom_kill count";
    std::string marker = unique_marker("oom");
    TempDir io;
    std::string script = "echo $$ > " + dir + "/cgroup.procs && echo 1000 > /proc/self/oom_score_adj && exec \"$0\" \"$@\"";
    Command c("/bin/sh");
    c.args({"-c", script, prun_path(), "--oom-score-adj", "0", "-j2", helper(), "spawn-tree", "alloc", "150", "pause", "--",
            marker + "-{}", ":::", "a", "b"});
    c.in(Stdio::null()).out(Stdio::null()).err(Stdio::write_file(io / "err"));
    c.new_process_group().on_destroy(DestroyPolicy::kill_tree, 0s);
    auto prun = c.spawn();
    ASSERT_TRUE(prun) << prun.error().message();
    auto st = prun->wait_for(60s);
    ASSERT_TRUE(st && *st) << "prun did not end";
    EXPECT_GE(oom_kills(), 1) << "the OOM killer did not fire";
    EXPECT_TRUE(eventually([&] { return count_marked(marker) == 0; }, 10s)) << count_marked(marker) << " processes survived the OOM kill";
    std::string err = slurp(io / "err");
    EXPECT_EQ((*st)->code(), std::optional<int>(128 + SIGKILL)) << err;
    EXPECT_NE(err.find("prun: cannot finish the run: the supervising process was killed by SIGKILL; ended "), std::string::npos) << err;
    EXPECT_TRUE(eventually([&] { return read_file(dir + "/cgroup.procs").value_or("x").empty(); }, 10s));
}

// Orphans the supervisor adopts are reaped as they exit, not left as zombies until prun ends.
TEST(PrunTree, AdoptedOrphansAreReapedDuringTheRun) {
    std::string marker = unique_marker("reap");
    std::string script = "for i in 1 2 3; do (/bin/true &); done; exec \"$0\" pause -- " + marker;
    auto prun = start_prun({}, {"--", "/bin/sh", "-c", script, helper()});
    ASSERT_TRUE(prun) << prun.error().message();
    pid_t sup = supervisor_of(prun->pid());
    ASSERT_GT(sup, 0);
    auto children = [&] {
        return read_file("/proc/" + std::to_string(sup) + "/task/" + std::to_string(sup) + "/children").value_or("");
    };
    // Once the job has exec'd the helper (the orphans were made before), the job is the only child
    // left: the three orphans were reaped.
    auto only_the_job = [&] {
        std::string c = children();
        if (c.empty() || c.find(' ') != c.size() - 1) return false;
        std::string cmd = read_file("/proc/" + std::to_string(std::atol(c.c_str())) + "/cmdline").value_or("");
        return cmd.rfind(helper() + std::string("\0pause", 6), 0) == 0;
    };
    EXPECT_TRUE(eventually(only_the_job, 10s)) << "children of the supervisor: " << children();
    ASSERT_EQ(kill(prun->pid(), SIGTERM), 0);
    auto st = prun->wait_for(30s);
    ASSERT_TRUE(st && *st);
    EXPECT_TRUE(eventually([&] { return count_marked(marker) == 0; }, 10s));
}

// prun returns only when its tree is gone: right after it has been reaped, nothing the command
// left in the background is alive (before the guard, such processes lived on for up to 42 ms).
// No wait: the count is taken at once, 20 times.
TEST(PrunTree, ReturnsOnlyWhenItsTreeIsGone) {
    for (int i = 0; i < 20; ++i) {
        std::string marker = unique_marker("return");
        std::string script = "\"$0\" pause -- " + marker + " & (setsid \"$0\" pause -- " + marker + " &); exit 0";
        auto prun = start_prun({}, {"--", "/bin/sh", "-c", script, helper()});
        ASSERT_TRUE(prun) << prun.error().message();
        auto st = prun->wait_for(30s);
        ASSERT_TRUE(st && *st) << "prun did not return";
        EXPECT_EQ((*st)->shell_code(), 0);
        EXPECT_EQ(count_marked(marker), 0) << "trial " << i << ": processes of the run outlived prun's return";
    }
}

// --strict-tree: where the guard cannot be had (here: fork fails under a seccomp filter, while
// prun's vfork-style spawns still work) prun refuses to run; without it, it says so once and runs.
TEST(PrunTree, StrictTreeRefusesToRunUnguarded) {
    auto strict = run_program(helper(), {"exec-no-fork", prun_path(), "--strict-tree", "--", helper(), "exit", "7"});
    EXPECT_EQ(strict.code, 1) << strict.err;
    EXPECT_EQ(strict.err, "prun: cannot fork the tree guard: Resource temporarily unavailable\n");
    auto lax = run_program(helper(), {"exec-no-fork", prun_path(), "--", helper(), "exit", "7"});
    EXPECT_EQ(lax.code, 7) << lax.err;
    EXPECT_EQ(lax.err,
              "prun: warning: cannot fork the tree guard: Resource temporarily unavailable; running without the "
              "process-tree guard\n");
    auto guarded = run_program(prun_path(), {"--strict-tree", "--", helper(), "exit", "7"});
    EXPECT_EQ(guarded.code, 7) << guarded.err;
    EXPECT_EQ(guarded.err, "");
}

// /proc/PID/status fields.
std::string status_field(pid_t pid, const std::string& key) {
    std::string st = read_file("/proc/" + std::to_string(pid) + "/status").value_or("");
    auto at = st.find("\n" + key + ":\t");
    if (at == std::string::npos) return {};
    at += key.size() + 3;
    return st.substr(at, st.find('\n', at) - at);
}
bool has_pending(pid_t pid, int sig) {
    unsigned long long bit = 1ULL << (sig - 1);
    return ((std::strtoull(status_field(pid, "ShdPnd").c_str(), nullptr, 16) |
             std::strtoull(status_field(pid, "SigPnd").c_str(), nullptr, 16)) & bit) != 0;
}
// Blocked in a wait with nothing of `sig` left unread: it has dealt with every `sig` sent so far.
bool idle_without(pid_t pid, int sig) { return status_field(pid, "State").rfind("S", 0) == 0 && !has_pending(pid, sig); }

pid_t marked_job(const std::string& marker) {
    pid_t found = -1;
    eventually(
        [&] {
            DIR* d = opendir("/proc");
            while (dirent* e = d ? readdir(d) : nullptr) {
                std::string cmd = read_file(std::string("/proc/") + e->d_name + "/cmdline").value_or("");
                for (char& c : cmd)
                    if (c == '\0') c = ' ';
                if (cmd.find(marker + "-a") != std::string::npos) found = static_cast<pid_t>(std::atol(e->d_name));
            }
            if (d) closedir(d);
            return found > 0;
        },
        10s);
    return found;
}

// `kill -TERM -PGID` reaches guardian and supervisor: the supervisor acts on the guardian's copy
// only, so it counts as the first signal (jobs get the --term-seq) and not also as the second
// (everything killed at once).
TEST(PrunTree, AGroupWideSignalIsActedOnOnce) {
    std::string marker = unique_marker("sig");
    auto prun = start_prun({}, {"--term-seq", "TERM,600000,KILL", "-j1", helper(), "block", "TERM", "pause", "--", marker + "-{}",
                                ":::", "a"});
    ASSERT_TRUE(prun) << prun.error().message();
    pid_t guardian = prun->pid(), supervisor = supervisor_of(guardian);
    pid_t job = marked_job(marker);
    ASSERT_GT(job, 0);
    auto blocks_term = [&] { return (std::strtoull(status_field(job, "SigBlk").c_str(), nullptr, 16) & (1ULL << (SIGTERM - 1))) != 0; };
    ASSERT_TRUE(eventually(blocks_term, 10s)) << "the job did not block SIGTERM";
    ASSERT_EQ(kill(-guardian, SIGTERM), 0);  // prun's process group (the pool's job has its own)
    // The supervisor acted: the job holds the TERM of --term-seq's first step.
    ASSERT_TRUE(eventually([&] { return has_pending(job, SIGTERM); }, 10s));
    // Both copies dealt with: the guardian forwarded its own, then the supervisor read both.
    ASSERT_TRUE(eventually([&] { return idle_without(guardian, SIGTERM) && idle_without(supervisor, SIGTERM); }, 10s));
    // Counted once: the job waits out the 600 s step instead of being killed.
    EXPECT_FALSE(has_pending(job, SIGKILL));
    EXPECT_EQ(status_field(job, "State").substr(0, 1), "S");
    // A second signal to prun (to the PID the user knows) ends everything at once.
    ASSERT_EQ(kill(guardian, SIGTERM), 0);
    auto st = prun->wait_for(30s);
    ASSERT_TRUE(st && *st);
    EXPECT_EQ((*st)->code(), std::optional<int>(128 + SIGTERM));
    EXPECT_TRUE(eventually([&] { return count_marked(marker) == 0; }, 10s));
}

}  // namespace
}  // namespace prockit::test
