// paffinity end to end: the built binary against helper processes on this machine, and against
// the sysfs/procfs fixture trees through PROCKIT_FSROOT.
#include <prockit/proc/cgroup.hpp>
#include <prockit/sched/affinity.hpp>
#include <prockit/sched/cpuset.hpp>
#include <prockit/sys/syscall.hpp>

#include "run_tool.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <dirent.h>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <sys/stat.h>

using namespace prockit;
using namespace paff_test;

namespace {

std::string source_dir() { return env_or("PROCKIT_SOURCE_DIR", PROCKIT_SOURCE_DIR_FALLBACK); }
std::string fixture_env(const char* name) { return "PROCKIT_FSROOT=" + source_dir() + "/tests/fixtures/" + name; }

CpuSet allowed() { return get_affinity(0).value(); }
std::string s(pid_t p) { return std::to_string(p); }
std::size_t lines(const std::string& t) { return static_cast<std::size_t>(std::count(t.begin(), t.end(), '\n')); }

// The affinity of every thread of pid, by TID.
std::map<pid_t, CpuSet> thread_masks(pid_t pid) {
    std::map<pid_t, CpuSet> m;
    auto tasks = get_affinity_all_threads(pid);
    if (!tasks) return m;
    for (const TaskAffinity& t : *tasks) m[t.tid] = t.cpus;
    return m;
}

bool all_threads_on(pid_t pid, const CpuSet& cpus) {
    for (const auto& [tid, m] : thread_masks(pid))
        if (m != cpus) return false;
    return true;
}

// A helper process with `n` extra sleeping threads (or churning ones).
struct Helper {
    Child child;
    explicit Helper(const char* mode = "threads", int n = 3) : child({PAFF_THREADS_HELPER, mode, std::to_string(n)}) {
        auto ready = child.read_line();
        if (ready != "ready") throw std::runtime_error("helper did not start");
    }
    pid_t pid() const { return child.pid(); }
};

#define REQUIRE_TWO_CPUS()                                                                         \
    if (allowed().count() < 2) GTEST_SKIP() << "needs two allowed CPUs to tell masks apart"

}  // namespace

// --- usage, help, bad input ---------------------------------------------------------------------------

TEST(PaffinityCli, HelpDocumentsExitStatus) {
    auto r = paffinity({"--help"});
    EXPECT_EQ(r.status, 0);
    EXPECT_NE(r.out.find("Exit status"), std::string::npos);
    EXPECT_NE(r.out.find("--check[=VALUE]"), std::string::npos);
    EXPECT_EQ(r.err, "");
}

TEST(PaffinityCli, VersionNamesTheToolAndThePackage) {
    auto r = paffinity({"--version"});
    EXPECT_EQ(r.status, 0);
    EXPECT_EQ(r.out.rfind("paffinity (prockit) ", 0), 0u) << r.out;
}

// util-linux's short options: -V for the version, -J for JSON (--json and --version stay).
TEST(PaffinityCli, ShortOptionsFollowUtilLinux) {
    auto v = paffinity({"-V"});
    EXPECT_EQ(v.status, 0);
    EXPECT_EQ(v.out, paffinity({"--version"}).out);
    Helper h;
    auto j = paffinity({"-J", s(h.pid())});
    ASSERT_EQ(j.status, 0) << j.err;
    EXPECT_EQ(j.out, paffinity({"--json", s(h.pid())}).out);
    EXPECT_EQ(j.out.rfind("{\"processes\":[{\"pid\":" + s(h.pid()) + ",", 0), 0u) << j.out;
    auto t = paffinity({"topology", "-J"});
    ASSERT_EQ(t.status, 0) << t.err;
    EXPECT_EQ(t.out.rfind("{\"possible\":", 0), 0u) << t.out;
    auto old = paffinity({"-j", s(h.pid())});
    EXPECT_EQ(old.status, 2) << "-j is not an option any more";
}

TEST(PaffinityCli, UsageErrorsExitTwoWithOneLine) {
    Helper h;
    const std::vector<std::vector<std::string>> cases = {
        {},
        {"--bogus"},
        {"--set", "0-x", s(h.pid())},
        {"--set", "0,,1", s(h.pid())},
        {"--set", "0x", s(h.pid())},
        {"--cpus", "0"},
        {"--set", "0"},
        {"--set", "0", "--spread", s(h.pid())},
        {"--match", "(unclosed"},
        {"--pid", "abc"},
        {"notapid"},
        {"--check", "--set", "0", s(h.pid())},
        {"--taskset-format=hex", s(h.pid())},
        {"--taskset-format", "--json", s(h.pid())},
        {"--taskset-format", "--dry-run", "--set", "0", s(h.pid())},
        {"--user", "no-such-user-prockit", "--set", "0"},
        {"--cpus", "0", "--pid", "1", "--", "true"},
        {"--poll", s(h.pid())},
    };
    for (const auto& args : cases) {
        auto r = paffinity(args);
        std::string joined;
        for (const auto& a : args) joined += a + " ";
        EXPECT_EQ(r.status, 2) << joined << "\n" << r.err;
        EXPECT_EQ(lines(r.err), 1u) << joined << "\n" << r.err;
        EXPECT_EQ(r.err.rfind("paffinity: ", 0), 0u) << r.err;
        EXPECT_EQ(r.out, "") << joined;
    }
    auto pos = paffinity({"--set", "0-x", s(h.pid())});
    EXPECT_NE(pos.err.find("at character 3"), std::string::npos) << pos.err;
}

// The bad-input table is paffinity_bad_input_test.cpp (PaffinityBadInput).

TEST(PaffinityCli, CpusBeyondTheMachine) {
    Helper h;
    auto r = paffinity({"--set", "0-1,4096", s(h.pid())});
    EXPECT_EQ(r.status, 1) << r.err;
    EXPECT_NE(r.err.find("cannot use CPU 4096: this machine has CPUs"), std::string::npos) << r.err;
    EXPECT_EQ(lines(r.err), 1u);
}

TEST(PaffinityCli, EmptySelectionIsAnErrorUnlessAllowed) {
    auto r = paffinity({"--name", "no-such-proc-xyz"});
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.err.find("paffinity: cannot find a process matching the selection"), std::string::npos) << r.err;
    auto ok = paffinity({"--name", "no-such-proc-xyz", "--allow-none", "--set", "0"});
    EXPECT_EQ(ok.status, 0) << ok.err;
    pid_t gone;
    {
        Child c({"/bin/true"});
        gone = c.pid();
        c.wait();
    }
    auto missing = paffinity({s(gone)});
    EXPECT_EQ(missing.status, 1);
    EXPECT_NE(missing.err.find("cannot find process " + s(gone) + ": No such process"), std::string::npos)
        << missing.err;
}

TEST(PaffinityCli, OutputThatCannotBeWrittenFailsTheRun) {
    // A full disk must not look like success: "cannot write output", exit status 1.
    for (std::vector<std::string> args : {std::vector<std::string>{s(getpid())}, std::vector<std::string>{"topology", "--json"}}) {
        std::vector<std::string> argv{"/bin/sh", "-c", "exec \"$0\" \"$@\" > /dev/full", paffinity_path()};
        argv.insert(argv.end(), args.begin(), args.end());
        auto r = run(argv);
        EXPECT_EQ(r.status, 1) << ::testing::PrintToString(args) << r.err;
        EXPECT_EQ(r.err, "paffinity: cannot write output: No space left on device\n") << ::testing::PrintToString(args);
        EXPECT_EQ(paffinity(args).status, 0) << "the same with room to write";
    }
}

TEST(PaffinityCli, KernelThreadsThatRefuseAreReported) {
    auto r = paffinity({"--set", s(allowed().first()), "--name", "ksoftirqd/0"});
    if (r.err.find("cannot find a process") != std::string::npos) GTEST_SKIP() << "no ksoftirqd/0 here";
    EXPECT_EQ(r.status, 1) << r.out << r.err;
    EXPECT_NE(r.err.find("kernel thread that refuses affinity changes"), std::string::npos) << r.err;
}

TEST(PaffinityCli, NoPermissionIsReportedPerProcess) {
    if (geteuid() != 0 || access("/usr/bin/setpriv", X_OK) != 0)
        GTEST_SKIP() << "needs root and setpriv to run paffinity as another user";
    Helper h("threads", 1);  // owned by root
    auto r = run({"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", paffinity_path(), "--set",
                  s(allowed().first()), "-a", s(h.pid())});
    EXPECT_EQ(r.status, 1) << r.out << r.err;
    EXPECT_NE(r.err.find("Operation not permitted"), std::string::npos) << r.err;
    // The main thread is set first, so one refusal is one line for the process, not one per thread.
    EXPECT_EQ(r.err, "paffinity: cannot set affinity of pid " + s(h.pid()) + " (paffinity-test-): Operation not permitted\n");
    EXPECT_TRUE(all_threads_on(h.pid(), allowed()));  // nothing changed
}

// --- show ---------------------------------------------------------------------------------------------------

TEST(PaffinityShow, TableJsonAndPerThread) {
    Helper h("threads", 3);
    auto r = paffinity({s(h.pid())});
    ASSERT_EQ(r.status, 0) << r.err;
    ASSERT_EQ(lines(r.out), 2u) << r.out;
    EXPECT_NE(r.out.find("PID"), std::string::npos);
    std::string row = r.out.substr(r.out.find('\n') + 1);
    EXPECT_NE(row.find(s(h.pid())), std::string::npos);
    EXPECT_NE(row.find(" 4 "), std::string::npos) << row;
    EXPECT_NE(row.find("paffinity-test-"), std::string::npos);
    EXPECT_NE(row.find(allowed().to_list()), std::string::npos);

    auto all = paffinity({"-a", "--pid", s(h.pid())});
    ASSERT_EQ(all.status, 0);
    EXPECT_EQ(lines(all.out), 5u) << all.out;

    auto j = paffinity({"--json", "-a", s(h.pid())});
    ASSERT_EQ(j.status, 0) << j.err;
    EXPECT_EQ(lines(j.out), 1u);
    EXPECT_EQ(j.out.rfind("{\"processes\":[{\"pid\":" + s(h.pid()) + ",", 0), 0u) << j.out;
    EXPECT_NE(j.out.find("\"threads\":4"), std::string::npos);
    EXPECT_NE(j.out.find("\"tasks\":[{\"tid\":"), std::string::npos);
    EXPECT_NE(j.out.find("\"ok\":true}"), std::string::npos);
}

TEST(PaffinityShow, TasksetWordingMatchesTaskset) {
    if (access("/usr/bin/taskset", X_OK) != 0) GTEST_SKIP() << "taskset (util-linux) is not installed";
    Helper h("threads", 2);
    for (const auto& [ours, theirs] : std::vector<std::pair<std::vector<std::string>, std::vector<std::string>>>{
             {{"--taskset-format", s(h.pid())}, {"-p", s(h.pid())}},
             {{"--taskset-format=list", s(h.pid())}, {"-cp", s(h.pid())}},
             {{"-a", "--taskset-format", s(h.pid())}, {"-ap", s(h.pid())}},
             {{"-a", "--taskset-format=list", s(h.pid())}, {"-acp", s(h.pid())}},
         }) {
        auto a = paffinity(ours);
        std::vector<std::string> argv{"/usr/bin/taskset"};
        argv.insert(argv.end(), theirs.begin(), theirs.end());
        auto b = run(argv);
        ASSERT_EQ(b.status, 0) << b.err;
        EXPECT_EQ(a.status, 0) << a.err;
        EXPECT_EQ(a.out, b.out);
    }
}

// --- set -------------------------------------------------------------------------------------------------------

TEST(PaffinitySet, AllThreadsWhileTheProcessKeepsCreatingThreads) {
    Helper h("churn", 10);
    std::vector<unsigned> cpus = allowed().cpus();
    for (int round = 0; round < 4; ++round) {
        CpuSet target{cpus[static_cast<std::size_t>(round) % cpus.size()]};
        auto r = paffinity({"--set", target.to_list(), "-a", "--pid", s(h.pid())});
        ASSERT_EQ(r.status, 0) << r.err;
        EXPECT_NE(r.out.find("threads set to " + target.to_list()), std::string::npos) << r.out;
        EXPECT_TRUE(all_threads_on(h.pid(), target)) << "round " << round;
    }
}

TEST(PaffinitySet, WithoutAllTasksOnlyTheMainThread) {
    REQUIRE_TWO_CPUS();
    Helper h("threads", 2);
    CpuSet last{allowed().cpus().back()};
    auto r = paffinity({"--set", last.to_list(), s(h.pid())});
    ASSERT_EQ(r.status, 0) << r.err;
    for (const auto& [tid, m] : thread_masks(h.pid())) EXPECT_EQ(m, tid == h.pid() ? last : allowed()) << tid;
}

TEST(PaffinitySet, SelectionByMatchAndExclusionSyntax) {
    REQUIRE_TWO_CPUS();
    Helper h("threads", 1);
    CpuSet first{allowed().first()};
    // "all,^N..." over the online CPUs, intersected with what is allowed.
    std::string exclude = "all";
    for (unsigned c : (allowed() - first).cpus()) exclude += ",^" + std::to_string(c);
    auto r = paffinity({"--set", exclude, "-a", "--match", "paffinity-test-threads threads 1$", "--exe",
                        PAFF_THREADS_HELPER});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_TRUE(all_threads_on(h.pid(), first));
}

TEST(PaffinitySet, SpreadGivesEachThreadItsOwnCpu) {
    Helper h("threads", 5);
    auto r = paffinity({"--set", allowed().to_list(), "-a", "--spread", s(h.pid())});
    ASSERT_EQ(r.status, 0) << r.err;
    std::map<unsigned, int> per_cpu;
    for (const auto& [tid, m] : thread_masks(h.pid())) {
        ASSERT_EQ(m.count(), 1u) << tid;
        ++per_cpu[m.first()];
    }
    EXPECT_EQ(per_cpu.size(), std::min<std::size_t>(6, allowed().count()));
    int lo = 1 << 30, hi = 0;
    for (auto& [c, n] : per_cpu) lo = std::min(lo, n), hi = std::max(hi, n);
    EXPECT_LE(hi - lo, 1);
}

TEST(PaffinitySet, JsonReport) {
    Helper h("threads", 1);
    CpuSet first{allowed().first()};
    auto r = paffinity({"--json", "-a", "--set", first.to_list(), s(h.pid())});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("\"pid\":" + s(h.pid())), std::string::npos);
    EXPECT_NE(r.out.find("\"cpus\":\"" + first.to_list() + "\""), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("\"threads_changed\":2"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("\"failures\":[]"), std::string::npos);
    EXPECT_NE(r.out.find("\"error\":null"), std::string::npos);
}

TEST(PaffinitySet, SameMasksAsTaskset) {
    if (access("/usr/bin/taskset", X_OK) != 0) GTEST_SKIP() << "taskset (util-linux) is not installed";
    CpuSet all = allowed();
    // (paffinity LIST, taskset arguments before the PID) pairs naming the same CPUs.
    std::vector<std::pair<std::string, std::vector<std::string>>> cases;
    for (unsigned c : all.cpus()) {
        cases.push_back({std::to_string(c), {"-cp", std::to_string(c)}});
        cases.push_back({"0x" + CpuSet{c}.to_mask(), {"-p", CpuSet{c}.to_mask()}});
    }
    cases.push_back({all.to_list(), {"-cp", all.to_list()}});
    cases.push_back({"0x" + all.to_mask(), {"-p", all.to_mask()}});
    cases.push_back({all.first() == 0 && all.count() >= 2 ? "0-1:1" : all.to_list(),
                     {"-cp", all.first() == 0 && all.count() >= 2 ? "0-1:1" : all.to_list()}});
    for (bool every_thread : {false, true}) {
        for (const auto& [ours, theirs] : cases) {
            Helper a("threads", 2), b("threads", 2);
            std::vector<std::string> argv{"/usr/bin/taskset"};
            if (every_thread) argv.push_back("-a");
            argv.insert(argv.end(), theirs.begin(), theirs.end());
            argv.push_back(s(a.pid()));
            auto t = run(argv);
            ASSERT_EQ(t.status, 0) << t.err;
            std::vector<std::string> args{"--set", ours, s(b.pid())};
            if (every_thread) args.push_back("-a");
            auto p = paffinity(args);
            ASSERT_EQ(p.status, 0) << ours << ": " << p.err;
            auto ma = thread_masks(a.pid()), mb = thread_masks(b.pid());
            ASSERT_EQ(ma.size(), mb.size());
            for (auto ia = ma.begin(), ib = mb.begin(); ia != ma.end(); ++ia, ++ib)
                EXPECT_EQ(ia->second, ib->second) << ours << (every_thread ? " -a" : "");
        }
    }
}

// --- check ----------------------------------------------------------------------------------------------------

TEST(PaffinityCheck, FindsDrift) {
    REQUIRE_TWO_CPUS();
    Helper h("threads", 2);
    auto clean = paffinity({"--check", s(h.pid())});
    EXPECT_EQ(clean.status, 0) << clean.out << clean.err;
    EXPECT_NE(clean.out.find("no drift"), std::string::npos);
    auto masks = thread_masks(h.pid());
    pid_t worker = std::prev(masks.end())->first;
    ASSERT_NE(worker, h.pid());
    CpuSet first{allowed().first()};
    ASSERT_TRUE(set_affinity(worker, first));
    auto drift = paffinity({"--check", s(h.pid())});
    EXPECT_EQ(drift.status, 1);
    EXPECT_EQ(lines(drift.out), 1u) << drift.out;
    EXPECT_NE(drift.out.find("thread " + s(worker)), std::string::npos) << drift.out;
    // Against an explicit list, every other thread drifts instead.
    auto against = paffinity({"--check=" + first.to_list(), s(h.pid())});
    EXPECT_EQ(against.status, 1);
    EXPECT_EQ(lines(against.out), 2u) << against.out;
    EXPECT_EQ(against.out.find("thread " + s(worker) + " "), std::string::npos);
    auto j = paffinity({"--check", "--json", s(h.pid())});
    EXPECT_EQ(j.status, 1);
    EXPECT_NE(j.out.find("\"drifted_threads\":1"), std::string::npos) << j.out;
    ASSERT_EQ(paffinity({"--set", allowed().to_list(), "-a", s(h.pid())}).status, 0);
    EXPECT_EQ(paffinity({"--check", s(h.pid())}).status, 0);
}

// --- follow ---------------------------------------------------------------------------------------------------

namespace {

void follow_catches_threads_and_children(const std::vector<std::string>& extra, int stop_signal) {
    CpuSet last{allowed().cpus().back()};
    Helper h("threads", 1);
    std::vector<std::string> argv{paffinity_path(), "--follow", "--set", last.to_list(), "--pid", s(h.pid())};
    argv.insert(argv.end(), extra.begin(), extra.end());
    Child follower(argv);
    // Ready once it says it is following (after subscribing and the initial change).
    std::optional<std::string> line;
    while ((line = follower.read_err_line()) && line->find("following") == std::string::npos) {
    }
    ASSERT_TRUE(line) << "no 'following' line; stderr: " << follower.all_stderr_so_far();
    EXPECT_TRUE(all_threads_on(h.pid(), last));

    // A thread made with the mask the helper started with (see thread_helper.cpp): only --follow
    // can fix it. The same for a child below.
    h.child.write_line("spawn");
    auto tid_text = h.child.read_until("tid=");
    ASSERT_TRUE(tid_text);
    pid_t tid = std::stoi(*tid_text);
    EXPECT_TRUE(wait_until([&] {
        auto m = get_affinity(tid);
        return m && *m == last;
    })) << "thread " << tid << " was not set";

    h.child.write_line("fork");
    auto child_text = h.child.read_until("child=");
    ASSERT_TRUE(child_text);
    pid_t child = std::stoi(*child_text);
    KillOnExit kill_child(child);
    EXPECT_TRUE(wait_until([&] {
        auto m = get_affinity(child);
        return m && *m == last;
    })) << "child " << child << " was not set";

    // Both are reported too. Wait for the lines before stopping the follower: events still queued
    // when it is stopped are never reported.
    std::string out = "\n";  // every line read so far, each with a newline before and after
    auto reported = [&](const std::string& expected) {
        while (out.find("\n" + expected + "\n") == std::string::npos) {
            auto l = follower.read_line();
            if (!l) return false;
            out += *l + "\n";
        }
        return true;
    };
    EXPECT_TRUE(reported("pid " + s(h.pid()) + " thread " + s(tid) + ": set to " + last.to_list())) << out;
    EXPECT_TRUE(reported("pid " + s(child) + " (new child process): set to " + last.to_list())) << out;

    int st = follower.stop(stop_signal);
    EXPECT_TRUE(WIFEXITED(st)) << "status " << st;
    EXPECT_EQ(WEXITSTATUS(st), 0);
}

}  // namespace

TEST(PaffinityFollow, NetlinkEventsCatchNewThreadsAndChildren) {
    REQUIRE_TWO_CPUS();
    if (geteuid() != 0) GTEST_SKIP() << "the proc connector needs root";
    follow_catches_threads_and_children({}, SIGTERM);
}

TEST(PaffinityFollow, PollingCatchesNewThreadsAndChildren) {
    REQUIRE_TWO_CPUS();
    follow_catches_threads_and_children({"--poll", "--poll-interval", "20"}, SIGINT);
}

TEST(PaffinityFollow, ThreadsWithAReusedTidAreSetToo) {
    // Threads come and go in one process until the kernel has handed 300 of their TIDs out
    // again; every new thread must get the mask, including those whose TID an earlier thread had.
    REQUIRE_TWO_CPUS();
    if (geteuid() != 0) GTEST_SKIP() << "the proc connector needs root";
    long pid_max = 0;
    std::ifstream("/proc/sys/kernel/pid_max") >> pid_max;
    if (pid_max <= 0 || pid_max > 65536)
        GTEST_SKIP() << "pid_max is " << pid_max << ": TIDs are not reused within a test's time";
    CpuSet last{allowed().cpus().back()};
    Helper h("threads", 0);
    Child follower({paffinity_path(), "--follow", "-q", "--set", last.to_list(), "--pid", s(h.pid())});
    std::optional<std::string> line;
    while ((line = follower.read_err_line()) && line->find("following") == std::string::npos) {
    }
    ASSERT_TRUE(line) << "no 'following' line; stderr: " << follower.all_stderr_so_far();
    h.child.write_line("reuse 300");
    auto result = h.child.read_until("threads=", std::chrono::minutes(5));
    ASSERT_TRUE(result) << "the helper did not finish";
    long threads = 0, reused = 0, missed = 0, missed_tid = 0;
    ASSERT_EQ(std::sscanf(result->c_str(), "%ld reused=%ld missed=%ld missed_tid=%ld", &threads, &reused, &missed,
                          &missed_tid),
              4)
        << *result;
    EXPECT_GE(reused, 300) << "threads=" << *result;
    EXPECT_EQ(missed, 0) << "threads=" << *result << "; the first thread left unset had TID " << missed_tid;
    int st = follower.stop(SIGTERM);
    EXPECT_TRUE(WIFEXITED(st)) << "status " << st;
    EXPECT_EQ(WEXITSTATUS(st), 0) << follower.all_stderr_so_far();
}

TEST(PaffinityFollow, EndsWhenEveryFollowedProcessExits) {
    auto h = std::make_unique<Helper>("threads", 0);
    Child follower({paffinity_path(), "--follow", "--poll", "--set", allowed().to_list(), s(h->pid())});
    std::optional<std::string> line;
    while ((line = follower.read_err_line()) && line->find("following") == std::string::npos) {
    }
    ASSERT_TRUE(line);
    h.reset();  // kills and reaps the helper
    int st = follower.wait();
    EXPECT_TRUE(WIFEXITED(st));
    EXPECT_EQ(WEXITSTATUS(st), 0);
}

// --- launch ---------------------------------------------------------------------------------------------------

TEST(PaffinityLaunch, SetsItselfAndExecs) {
    CpuSet first{allowed().first()};
    std::string helper = env_or("PROCKIT_TEST_HELPER", "");
    if (helper.empty()) GTEST_SKIP() << "PROCKIT_TEST_HELPER is not set";
    Child c({paffinity_path(), "--cpus", first.to_list(), "--", helper, "ids", "affinity"});
    c.close_stdin();
    EXPECT_EQ(c.read_line(), "pid=" + s(c.pid()));  // the same process: exec, no fork
    EXPECT_EQ(c.read_until("cpus="), first.to_list());
    int st = c.wait();
    EXPECT_EQ(WEXITSTATUS(st), 0);
    auto code = paffinity({"--cpus", first.to_list(), "--", "/bin/sh", "-c", "exit 7"});
    EXPECT_EQ(code.status, 7);
}

TEST(PaffinityLaunch, NotFoundAndNotExecutable) {
    auto nf = paffinity({"--cpus", "0", "--", "/nonexistent/prockit-cmd"});
    EXPECT_EQ(nf.status, 127);
    EXPECT_NE(nf.err.find("paffinity: cannot execute /nonexistent/prockit-cmd: No such file or directory"),
              std::string::npos)
        << nf.err;
    auto path = paffinity({"--cpus", "0", "--", "no-such-command-prockit"});
    EXPECT_EQ(path.status, 127);
    std::string plain = testing::TempDir() + "/paffinity-not-executable";
    { std::ofstream(plain) << "x"; }
    chmod(plain.c_str(), 0644);
    auto ne = paffinity({"--cpus", "0", "--", plain});
    EXPECT_EQ(ne.status, 126) << ne.err;
    EXPECT_EQ(lines(ne.err), 1u);
}

// --- fixture machines (PROCKIT_FSROOT) ------------------------------------------------------------------

TEST(PaffinityFixture, TopologyOfATwoSocketSmtMachine) {
    auto r = paffinity({"topology", "--json"}, {fixture_env("two-socket-smt")});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("\"online\":\"0-127\""), std::string::npos) << r.out.substr(0, 300);
    EXPECT_NE(r.out.find("\"threads_per_core\":2"), std::string::npos);
    EXPECT_NE(r.out.find("{\"id\":1,\"cpus\":\"32-63,96-127\""), std::string::npos);
    EXPECT_NE(r.out.find("\"cgroup_cpuset\":{\"version\":1,\"cgroup\":\"/batch\",\"cpus\":\"0-15,64-79\""),
              std::string::npos);
    auto text = paffinity({"topology"}, {fixture_env("two-socket-smt")});
    ASSERT_EQ(text.status, 0);
    EXPECT_NE(text.out.find("Cores:            64 (2 threads per core)"), std::string::npos) << text.out;
    EXPECT_NE(text.out.find("    core 5: 5,69"), std::string::npos);
}

// --- processes that exit while they are read --------------------------------------------------------

namespace {

// A /proc tree (PROCKIT_FSROOT) listing two processes named "vanishing": this test process, and
// one whose PID is past the kernel's PID_MAX_LIMIT, so that the selection finds it and the
// affinity system calls, which go to the real kernel, find it gone (ESRCH) — what a process that
// exits between the selection and the reading looks like, every time.
constexpr pid_t gone_pid = 1073741000;

class VanishingTree {
public:
    VanishingTree() {
        char tmpl[] = "/tmp/paffinity-vanish-XXXXXX";
        if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp");
        root_ = tmpl;
        add(getpid());
        add(gone_pid);
    }
    ~VanishingTree() { std::system(("rm -rf '" + root_ + "'").c_str()); }
    std::string env() const { return "PROCKIT_FSROOT=" + root_; }

private:
    void put(const std::string& path, const std::string& text) {
        std::ofstream(root_ + path) << text;
    }
    void add(pid_t pid) {
        std::string d = "/proc/" + s(pid);
        for (const std::string& dir : {std::string("/proc"), d, d + "/task", d + "/task/" + s(pid)})
            mkdir((root_ + dir).c_str(), 0755);
        std::string stat = s(pid) + " (vanishing) S 1 " + s(pid) + " " + s(pid) +
                           " 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 2000 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 "
                           "0 0 0 0 0 0 0 0 0\n";
        put(d + "/stat", stat);
        put(d + "/task/" + s(pid) + "/stat", stat);
        put(d + "/comm", "vanishing\n");
        put(d + "/cmdline", std::string("vanishing\0", 10));
        put(d + "/cgroup", "0::/\n");
    }
    std::string root_;
};

}  // namespace

TEST(PaffinityShow, AProcessThatExitedMeanwhileIsNotListed) {
    VanishingTree tree;
    std::string me = s(getpid());
    for (const std::vector<std::string>& extra :
         {std::vector<std::string>{}, {"-a"}, {"--allow-none"}, {"-a", "--allow-none"}, {"--json"}}) {
        std::vector<std::string> args{"--name", "vanishing"};
        args.insert(args.end(), extra.begin(), extra.end());
        auto r = paffinity(args, {tree.env()});
        EXPECT_EQ(r.status, 0) << testing::PrintToString(extra) << ": " << r.err;
        EXPECT_EQ(r.err, "") << testing::PrintToString(extra);
        EXPECT_NE(r.out.find(me), std::string::npos) << r.out;
        EXPECT_EQ(r.out.find(s(gone_pid)), std::string::npos) << r.out;
    }
    // --check skips it too.
    auto c = paffinity({"--check", "--name", "vanishing"}, {tree.env()});
    EXPECT_EQ(c.status, 0) << c.err;
    EXPECT_EQ(c.out, "no drift: 1 process, 1 thread\n");
    // Only a PID given by the user is reported, as a PID that is not there is.
    auto p = paffinity({s(gone_pid), me}, {tree.env()});
    EXPECT_EQ(p.status, 1);
    EXPECT_EQ(p.err, "paffinity: cannot find process " + s(gone_pid) + ": No such process\n");
    EXPECT_NE(p.out.find(me), std::string::npos) << p.out;
    auto q = paffinity({s(gone_pid), "--allow-none"}, {tree.env()});
    EXPECT_EQ(q.status, 0) << q.err;
    EXPECT_EQ(q.err, "");
    // Nothing left of the selection is an empty selection.
    auto n = paffinity({"--pid", s(gone_pid), "--name", "vanishing"}, {tree.env()});
    EXPECT_EQ(n.status, 1);
}

// --- a real cgroup cpuset ------------------------------------------------------------------------

namespace {

// A cpuset cgroup that holds one CPU, made for one test and removed at its end: in the v1 cpuset
// hierarchy, or in cgroup v2 when the root already hands the cpuset controller to its children
// (the test never changes that). make() says why it cannot, for the skip.
class CpusetGroup {
public:
    static constexpr const char* prefix = "prockit-paffinity-test-";

    CpusetGroup() = default;
    CpusetGroup(const CpusetGroup&) = delete;
    CpusetGroup& operator=(const CpusetGroup&) = delete;
    ~CpusetGroup() {
        if (dir_.empty()) return;
        // Anything the test left inside goes back to the parent; the kernel may take a moment to
        // let go of processes that were just reaped.
        if (auto procs = read_file(dir_ + "/cgroup.procs")) {
            std::istringstream in(*procs);
            for (std::string pid; std::getline(in, pid);) (void)write_file(parent_ + "/cgroup.procs", pid);
        }
        int err = 0;
        bool removed = wait_until(
            [&] {
                if (::rmdir(dir_.c_str()) == 0 || errno == ENOENT) return true;
                err = errno;
                return false;
            },
            std::chrono::seconds(10));
        if (!removed) ADD_FAILURE() << "cannot remove " << dir_ << ": " << std::strerror(err);
    }

    std::string make(unsigned cpu) {
        if (geteuid() != 0) return "needs root to create a cpuset cgroup";
        auto mounts = proc::read_cgroup_mounts();
        if (!mounts) return "cannot read the cgroup mounts: " + mounts.error().message();
        std::string name = "/" + std::string(prefix) + std::to_string(getpid());
        for (const proc::CgroupMount& m : *mounts) {
            if (m.root != "/") continue;
            if (m.version == 1 && m.has("cpuset")) {
                if (!create(m.mountpoint, name)) return "cannot create " + m.mountpoint + name + ": " + std::strerror(errno);
                auto mems = read_file(m.mountpoint + "/cpuset.mems");  // v1 needs memory nodes too
                if (!mems || !write_file(dir_ + "/cpuset.mems", *mems)) return "cannot set cpuset.mems in " + dir_;
                version_ = 1;
            } else if (m.version == 2) {
                auto sub = read_file(m.mountpoint + "/cgroup.subtree_control");
                if (!sub || sub->find("cpuset") == std::string::npos) continue;
                if (!create(m.mountpoint, name)) return "cannot create " + m.mountpoint + name + ": " + std::strerror(errno);
                version_ = 2;
            } else {
                continue;
            }
            if (!write_file(dir_ + "/cpuset.cpus", std::to_string(cpu))) return "cannot set cpuset.cpus in " + dir_;
            path_ = name;
            return "";
        }
        return "no cgroup v1 cpuset hierarchy, nor a cgroup v2 root that delegates cpuset";
    }
    bool add(pid_t pid) { return bool(write_file(dir_ + "/cgroup.procs", std::to_string(pid))); }
    const std::string& dir() const { return dir_; }
    /// "v1 /prockit-paffinity-test-N", as paffinity names it.
    std::string name() const { return "v" + std::to_string(version_) + " " + path_; }

private:
    bool create(const std::string& mountpoint, const std::string& name) {
        remove_stale(mountpoint);
        if (::mkdir((mountpoint + name).c_str(), 0755) != 0) return false;
        parent_ = mountpoint;
        dir_ = mountpoint + name;
        return true;
    }
    // Groups left by test processes that were killed: named after a PID that no longer exists (a
    // test running at the same time keeps its own), and empty (rmdir refuses the others).
    static void remove_stale(const std::string& mountpoint) {
        DIR* d = ::opendir(mountpoint.c_str());
        if (!d) return;
        std::size_t n = std::strlen(prefix);
        while (dirent* e = ::readdir(d)) {
            if (std::strncmp(e->d_name, prefix, n) != 0) continue;
            pid_t owner = static_cast<pid_t>(std::atol(e->d_name + n));
            if (owner > 0 && ::kill(owner, 0) != 0 && errno == ESRCH) ::rmdir((mountpoint + "/" + e->d_name).c_str());
        }
        ::closedir(d);
    }
    std::string parent_, dir_, path_;
    int version_ = 0;
};

}  // namespace

TEST(PaffinityCpuset, WhatTheKernelDropsIsReportedAndNoUsableCpuIsOneError) {
    REQUIRE_TWO_CPUS();
    CpuSet all = allowed();
    unsigned keep = all.cpus().back();
    CpuSet outside = all - CpuSet{keep};
    CpusetGroup group;  // declared before the helper: removed after the helper is gone
    if (std::string why = group.make(keep); !why.empty()) GTEST_SKIP() << why;
    Helper h("threads", 3);
    ASSERT_TRUE(group.add(h.pid()));
    std::string who = "pid " + s(h.pid()) + " (paffinity-test-)";
    std::string cpuset = "cgroup cpuset (" + group.name() + ": " + std::to_string(keep) + ")";
    std::string dropped = "paffinity: warning: CPUs " + outside.to_list() + " dropped for " + who + ": " +
                          outside.to_list() + " outside the " + cpuset + "\n";

    // The kernel keeps only the cpuset's CPU; the change succeeds and says what was dropped.
    auto r = paffinity({"-a", "--set", all.to_list(), s(h.pid())});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.err, dropped);
    EXPECT_EQ(r.out, who + ": 4 threads set to " + std::to_string(keep) + "\n");
    EXPECT_TRUE(all_threads_on(h.pid(), CpuSet{keep}));
    // --dry-run reads the cpuset first and predicts the same, in the same words.
    auto d = paffinity({"--dry-run", "-a", "--set", all.to_list(), s(h.pid())});
    EXPECT_EQ(d.status, 0) << d.err;
    EXPECT_EQ(d.err, dropped);
    EXPECT_EQ(d.out, who + ": would set to " + std::to_string(keep) + "\n");
    // --strict refuses before changing anything.
    auto strict = paffinity({"--strict", "-a", "--set", all.to_list(), s(h.pid())});
    EXPECT_EQ(strict.status, 1);
    EXPECT_NE(strict.err.find("(--strict): " + outside.to_list() + " outside the " + cpuset), std::string::npos)
        << strict.err;

    // --json says what was set and what was dropped.
    auto j = paffinity({"--json", "-a", "--set", all.to_list(), s(h.pid())});
    EXPECT_EQ(j.status, 0) << j.err;
    EXPECT_NE(j.out.find("\"cpus\":\"" + std::to_string(keep) + "\""), std::string::npos) << j.out;
    EXPECT_NE(j.out.find("\"dropped\":\"" + outside.to_list() + "\""), std::string::npos) << j.out;
    EXPECT_NE(j.out.find("\"threads_changed\":4"), std::string::npos) << j.out;

    // --follow gives new threads what the kernel kept, and says so.
    {
        Child follower({paffinity_path(), "--follow", "--poll", "--poll-interval", "20", "--set", all.to_list(),
                        "--pid", s(h.pid())});
        std::optional<std::string> line;
        while ((line = follower.read_err_line()) && line->find("following") == std::string::npos) {
        }
        ASSERT_TRUE(line) << follower.all_stderr_so_far();
        h.child.write_line("spawn");
        auto tid_text = h.child.read_until("tid=");
        ASSERT_TRUE(tid_text);
        std::string report = "pid " + s(h.pid()) + " thread " + *tid_text + ": set to " + std::to_string(keep);
        std::optional<std::string> out;
        while ((out = follower.read_line()) && *out != report) {
        }
        EXPECT_TRUE(out) << "no line '" << report << "'";
        int st = follower.stop(SIGTERM);
        EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "status " << st;
    }

    // None of the requested CPUs in the cpuset: one error for the process, nothing changed.
    std::string none = "none of CPUs " + outside.to_list() + " is usable (online ";
    auto bad = paffinity({"-a", "--set", outside.to_list(), s(h.pid())});
    EXPECT_EQ(bad.status, 1);
    EXPECT_EQ(lines(bad.err), 1u) << bad.err;
    EXPECT_NE(bad.err.find(none), std::string::npos) << bad.err;
    EXPECT_NE(bad.err.find("; " + cpuset + ")"), std::string::npos) << bad.err;
    EXPECT_TRUE(all_threads_on(h.pid(), CpuSet{keep}));
    auto bad_json = paffinity({"--json", "-a", "--set", outside.to_list(), s(h.pid())});
    EXPECT_EQ(bad_json.status, 1);
    EXPECT_NE(bad_json.out.find("\"threads_changed\":0"), std::string::npos) << bad_json.out;
    EXPECT_NE(bad_json.out.find("\"error\":\"cannot set affinity of " + who + ": " + none), std::string::npos)
        << bad_json.out;
    EXPECT_NE(bad_json.out.find("\"ok\":false"), std::string::npos) << bad_json.out;
    // The same when the cpuset is read first (--no-smt picks among the allowed CPUs): the process
    // is listed with the error and no CPUs.
    auto planned_json = paffinity({"--json", "--no-smt", "-a", "--set", outside.to_list(), s(h.pid())});
    EXPECT_EQ(planned_json.status, 1);
    EXPECT_NE(planned_json.out.find("\"cpus\":\"\""), std::string::npos) << planned_json.out;
    EXPECT_NE(planned_json.out.find("\"error\":\"cannot set affinity of " + who + ": " + none), std::string::npos)
        << planned_json.out;

    // Launch mode, from inside the cpuset: the command runs on what the kernel allows.
    std::string script = "echo $$ > " + group.dir() + "/cgroup.procs && exec " + paffinity_path() + " --cpus " +
                         all.to_list() + " -- grep ^Cpus_allowed_list: /proc/self/status";
    auto launch = run({"/bin/sh", "-c", script});
    EXPECT_EQ(launch.status, 0) << launch.err;
    EXPECT_EQ(launch.out, "Cpus_allowed_list:\t" + std::to_string(keep) + "\n");
    EXPECT_EQ(launch.err, "paffinity: warning: CPUs " + outside.to_list() + " dropped: " + outside.to_list() +
                              " outside the " + cpuset + "\n");
    auto launch_none = run({"/bin/sh", "-c",
                            "echo $$ > " + group.dir() + "/cgroup.procs && exec " + paffinity_path() + " --cpus " +
                                outside.to_list() + " -- true"});
    EXPECT_EQ(launch_none.status, 1);
    EXPECT_NE(launch_none.err.find(none), std::string::npos) << launch_none.err;
}

TEST(PaffinityCpuset, EveryThreadIsAskedForTheWholeRequest) {
    REQUIRE_TWO_CPUS();
    CpuSet all = allowed();
    unsigned keep = all.cpus().back();
    CpusetGroup group;
    if (std::string why = group.make(keep); !why.empty()) GTEST_SKIP() << why;
    Helper h("threads", 3);
    Helper control("threads", 3);
    ASSERT_TRUE(group.add(h.pid()));
    ASSERT_TRUE(group.add(control.pid()));

    auto r = paffinity({"-q", "-a", "--set", all.to_list(), s(h.pid())});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_TRUE(all_threads_on(h.pid(), CpuSet{keep}));
    // The same request made directly, as taskset would.
    auto direct = set_affinity_all_threads(control.pid(), all);
    ASSERT_TRUE(direct && direct->ok());

    // Kernels that remember a thread's requested mask (Linux 6.2 and later) give it back when the
    // cpuset grows; paffinity's threads must then widen exactly like the directly set ones.
    ASSERT_TRUE(write_file(group.dir() + "/cpuset.cpus", all.to_list()));
    if (!wait_until([&] { return all_threads_on(control.pid(), all); }, std::chrono::seconds(5)))
        GTEST_SKIP() << "this kernel does not restore requested masks when a cpuset grows";
    EXPECT_TRUE(wait_until([&] { return all_threads_on(h.pid(), all); })) << "paffinity's threads stayed narrowed";
}

TEST(PaffinityFixture, IsolatedCpusAndRestrictedCpuset) {
    std::vector<std::string> env{fixture_env("isolated-cpuset")};
    auto t = paffinity({"topology", "--json"}, env);
    ASSERT_EQ(t.status, 0) << t.err;
    EXPECT_NE(t.out.find("\"isolated\":\"6,7\""), std::string::npos);
    EXPECT_NE(t.out.find("\"nohz_full\":\"6,7\""), std::string::npos);
    EXPECT_NE(t.out.find("\"offline\":\"5\""), std::string::npos);

    // What is dropped is reported: a warning, or an error with --strict.
    auto r = paffinity({"--dry-run", "--cpus", "0-7", "--", "true"}, env);
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "would run 'true' on CPUs 2,3\n");
    EXPECT_EQ(r.err,
              "paffinity: warning: CPUs 0,1,4-7 dropped: 5 offline, 0,1,4,6,7 outside the cgroup cpuset "
              "(v2 /app.slice/worker.service: 2,3)\n");
    auto strict = paffinity({"--dry-run", "--strict", "--cpus", "0-7", "--", "true"}, env);
    EXPECT_EQ(strict.status, 1);
    EXPECT_EQ(strict.out, "");
    auto none = paffinity({"--dry-run", "--cpus", "5-7", "--", "true"}, env);
    EXPECT_EQ(none.status, 1);
    EXPECT_NE(none.err.find("none of CPUs 5-7 is usable (online 0-4,6,7; cgroup cpuset (v2"), std::string::npos)
        << none.err;
    auto beyond = paffinity({"--dry-run", "--cpus", "8", "--", "true"}, env);
    EXPECT_EQ(beyond.status, 1);
    EXPECT_NE(beyond.err.find("this machine has CPUs 0-7"), std::string::npos) << beyond.err;
    // Another process, whose cgroup inherits app.slice's cpuset.
    auto other = paffinity({"--dry-run", "--set", "all", "--pid", "4343"}, env);
    EXPECT_EQ(other.status, 0) << other.err;
    EXPECT_EQ(other.out, "pid 4343 (other): would set to 2-4\n");
    auto by_cgroup = paffinity({"--dry-run", "--set", "2", "--cgroup", "/app.slice/other.service"}, env);
    EXPECT_EQ(by_cgroup.out, "pid 4343 (other): would set to 2\n");
}

TEST(PaffinityFixture, ShorthandsOnTheSmtMachine) {
    std::vector<std::string> env{fixture_env("two-socket-smt")};  // this process: cpuset 0-15,64-79
    auto cores = paffinity({"--dry-run", "--cores", "4", "--", "true"}, env);
    EXPECT_EQ(cores.out, "would run 'true' on CPUs 0-3\n") << cores.err;
    EXPECT_EQ(cores.err, "");
    auto nosmt = paffinity({"--dry-run", "--no-smt", "--node", "0", "--", "true"}, env);
    EXPECT_EQ(nosmt.out, "would run 'true' on CPUs 0-15\n") << nosmt.err;
    auto too_many = paffinity({"--dry-run", "--cores", "17", "--", "true"}, env);
    EXPECT_EQ(too_many.status, 1);
    EXPECT_NE(too_many.err.find("only 16 cores are available"), std::string::npos) << too_many.err;
    auto node1 = paffinity({"--dry-run", "--node", "1", "--", "true"}, env);
    EXPECT_EQ(node1.status, 1);
    EXPECT_NE(node1.err.find("none of CPUs 32-63,96-127 is usable"), std::string::npos) << node1.err;
    auto no_node = paffinity({"--dry-run", "--node", "4", "--", "true"}, env);
    EXPECT_EQ(no_node.status, 1);
    EXPECT_NE(no_node.err.find("cannot find NUMA node 4"), std::string::npos);
    auto web = paffinity({"--dry-run", "--set", "60-70", "--name", "web"}, env);  // web is unrestricted
    EXPECT_EQ(web.out, "pid 4300 (web): would set to 60-70\n") << web.err;
    auto db = paffinity({"--dry-run", "--no-smt", "--match", "db --worker", "--set", "10-20,70-80"}, env);
    EXPECT_EQ(db.out, "pid 4242 (db-worker): would set to 10-15,70-73\n") << db.err;  // cores 6-9 by their siblings
    EXPECT_NE(db.err.find("warning: CPUs 16-20,80 dropped for pid 4242 (db-worker): 16-20,80 outside the cgroup "
                          "cpuset (v1 /batch: 0-15,64-79)"),
              std::string::npos)
        << db.err;
}
