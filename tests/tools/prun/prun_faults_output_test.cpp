// prun's output path under faults: a reader that stops, a small descriptor limit, a full $TMPDIR.
// Output never blocks the event loop, waiting outputs are bounded, every job runs, and every lost
// byte is reported.
#include "prun_support.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

using namespace prockit;
using namespace prockit::test;

namespace {

/// `prun args...` under `ulimit -n <limit>` (soft and hard, or soft alone).
PrunResult prun_with_nofile(const std::string& limit, const std::vector<std::string>& args, const std::string& input,
                            bool soft_only = false) {
    std::vector<std::string> sh{"-c", std::string("ulimit ") + (soft_only ? "-Sn " : "-n ") + limit + " && exec \"$0\" \"$@\"",
                                prun_path()};
    sh.insert(sh.end(), args.begin(), args.end());
    return run_program("/bin/sh", sh, input, std::chrono::seconds(120));
}

std::string numbers(int first, int count, const std::string& each = {}) {
    std::string s;
    for (int i = first; i < first + count; ++i) s += (each.empty() ? std::to_string(i) : each) + "\n";
    return s;
}

}  // namespace

// ---------------------------------------------------------------- a reader that stops

// prun's stdout is a pipe nobody reads: job timeouts still fire, and SIGTERM ends prun.
TEST(PrunFaultsOutput, StalledReaderKeepsTimeoutsAndSignals) {
    struct Case {
        const char* what;
        std::vector<std::string> args;
    };
    for (const Case& k : {Case{"--line-buffer", {"--line-buffer", "--timeout", "1", "-j1", "yes", ":::", "a"}},
                          Case{"--tag", {"--tag", "--timeout", "1", "-j1", "sh", "-c",
                                          "if [ {} = 1 ]; then head -c 300000 /dev/zero; else sleep 600; fi", ":::", "1",
                                          "2"}}}) {
        SCOPED_TRACE(k.what);
        TempDir d;
        int p[2];
        ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
        unique_fd rd(p[0]), wr(p[1]);  // rd stays open and is never read
        auto c = Command(prun_path())
                     .args(k.args)
                     .in(Stdio::null())
                     .out(Stdio::fd(wr.get()))
                     .err(Stdio::write_file(d / "err"))
                     .on_destroy(DestroyPolicy::kill_tree, std::chrono::seconds(0))
                     .spawn();
        ASSERT_TRUE(c) << c.error().message();
        wr.reset();
        EXPECT_TRUE(eventually([&] { return slurp(d / "err").find("timed out") != std::string::npos; },
                               std::chrono::seconds(30)))
            << "no job timed out while prun's stdout was full: " << slurp(d / "err");
        EXPECT_FALSE(c->try_wait().value_or(std::nullopt)) << "prun ended with its output unwritten";
        ASSERT_TRUE(c->terminate());
        auto st = c->wait_for(std::chrono::seconds(30));
        ASSERT_TRUE(st && *st) << "prun did not end on SIGTERM with its stdout full";
        EXPECT_EQ((*st)->shell_code(), 128 + SIGTERM);
        EXPECT_NE(slurp(d / "err").find("prun: cannot write the rest of the output: prun was stopped"), std::string::npos)
            << slurp(d / "err");
    }
}

// A reader that is slow but reads everything gets every byte, with the jobs held back meanwhile.
TEST(PrunFaultsOutput, SlowReaderGetsEverything) {
    auto r = run_program("/bin/sh",
                         {"-c", "\"$0\" -j2 --tag sh -c 'head -c 200000 /dev/zero | tr \"\\0\" x; echo' ::: 1 2 3 4 | "
                                "(sleep 1; wc -c)",
                          prun_path()},
                         {}, std::chrono::seconds(120));
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, std::to_string(4 * (200001 + 2)) + "\n");
}

// ---------------------------------------------------------------- descriptors

// Default --group output: a slow first job writes straight through while many quick ones finish;
// their outputs wait in bounded space, so every job runs under a small descriptor limit.
TEST(PrunFaultsOutput, WaitingOutputsFitTheDescriptorLimit) {
    std::string input = "2\n" + numbers(0, 300, "0");
    auto r = prun_with_nofile("64", {"-j4", "-a", "-", "sh", "-c", "sleep {}; echo {}"}, input);
    EXPECT_EQ(r.code, 0) << r.err.substr(0, 2000);
    EXPECT_EQ(r.err, "");
    auto l = lines(r.out);
    ASSERT_EQ(l.size(), 301u);
    EXPECT_EQ(l[0], "2");  // the job writing straight through first, the waiting ones after it
    EXPECT_EQ(std::count(l.begin(), l.end(), "0"), 300);
}

// -j0 (and a -j above the limit) fit the descriptor budget: no job fails for want of prun's own
// descriptors, in every output mode.
TEST(PrunFaultsOutput, ManyJobsFitTheDescriptorLimit) {
    std::string input = numbers(1, 100);
    for (std::vector<std::string> mode : {std::vector<std::string>{}, {"-k"}, {"--line-buffer"}, {"--tag"}, {"-u"}}) {
        SCOPED_TRACE(::testing::PrintToString(mode));
        std::vector<std::string> args{"-j0"};
        args.insert(args.end(), mode.begin(), mode.end());
        args.insert(args.end(), {"-a", "-", "sh", "-c", "sleep 0.1; echo {}"});
        auto r = prun_with_nofile("64", args, input);
        EXPECT_EQ(r.code, 0) << r.err.substr(0, 2000);
        EXPECT_EQ(r.err, "");  // -j0 means "as many as fit": no warning
        auto l = lines(r.out);
        ASSERT_EQ(l.size(), 100u);
        if (mode == std::vector<std::string>{"-k"}) {
            EXPECT_EQ(r.out, input);
        }
    }
    auto r = prun_with_nofile("64", {"-j100", "-a", "-", "sh", "-c", "sleep 0.1; echo {}"}, input);
    EXPECT_EQ(r.code, 0) << r.err.substr(0, 2000);
    EXPECT_EQ(lines(r.out).size(), 100u);
    EXPECT_NE(r.err.find("prun: warning: running "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(" at once, not 100: the descriptor limit (ulimit -n 64) holds no more"), std::string::npos)
        << r.err;
}

// prun raises its own soft limit to the hard one; the jobs get the original soft limit back,
// unless --rlimit nofile says otherwise.
TEST(PrunFaultsOutput, JobsKeepTheSoftDescriptorLimit) {
    auto r = prun_with_nofile("100", {"-j2", "sh", "-c", "ulimit -Sn", ":::", "a"}, {}, true);
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, "100\n");
    r = prun_with_nofile("100", {"-j2", "--rlimit", "nofile=90", "sh", "-c", "ulimit -Sn", ":::", "a"}, {}, true);
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, "90\n");
}

// ---------------------------------------------------------------- a full $TMPDIR

// Buffered output that does not fit in $TMPDIR is reported, job by job, and fails the run — even
// when the jobs ignore their write errors and succeed.
TEST(PrunFaultsOutput, AFullTmpdirIsReported) {
    SmallTmpfs t;
    if (t.path.empty()) GTEST_SKIP() << "cannot mount a small tmpfs here: " << t.why;
    for (std::vector<std::string> mode : {std::vector<std::string>{"--tag"}, {"-k"}, {"--group"}}) {
        SCOPED_TRACE(::testing::PrintToString(mode));
        std::vector<std::string> args{"-j3"};
        args.insert(args.end(), mode.begin(), mode.end());
        args.insert(args.end(), {"sh", "-c", "head -c 100000 /dev/zero 2>/dev/null; true", ":::", "1", "2", "3"});
        auto r = run_program(prun_path(), args, {}, std::chrono::seconds(60), [&](Command& c) { c.env("TMPDIR", t.path); });
        EXPECT_LT(r.out.size(), 300000u);
        EXPECT_EQ(r.code, 255) << r.err;
        EXPECT_NE(r.err.find("prun: cannot keep the output of job "), std::string::npos) << r.err;
        EXPECT_NE(r.err.find(" in " + t.path + ": No space left on device\n"), std::string::npos) << r.err;
        // Output that fits is no false alarm.
        args = {"-j3"};
        args.insert(args.end(), mode.begin(), mode.end());
        args.insert(args.end(), {"sh", "-c", "head -c 5000 /dev/zero", ":::", "1", "2", "3"});
        r = run_program(prun_path(), args, {}, std::chrono::seconds(60), [&](Command& c) { c.env("TMPDIR", t.path); });
        EXPECT_EQ(r.code, 0) << r.err;
        EXPECT_EQ(r.err, "");
    }
}

// Outputs waiting behind a job that writes straight through go to a spill file in $TMPDIR: when
// it fills, the jobs whose output was cut are named and the run fails.
TEST(PrunFaultsOutput, AFullSpillFileIsReported) {
    SmallTmpfs t;
    if (t.path.empty()) GTEST_SKIP() << "cannot mount a small tmpfs here: " << t.why;
    std::string input = "2\n" + numbers(0, 20, "0");
    auto r = run_program(prun_path(), {"-j2", "-a", "-", "sh", "-c", "if [ {} = 2 ]; then sleep 2; else head -c 10000 /dev/zero; fi"},
                         input, std::chrono::seconds(60), [&](Command& c) { c.env("TMPDIR", t.path); });
    EXPECT_EQ(r.code, 255) << r.err;
    EXPECT_NE(r.err.find("prun: cannot keep the output of job "), std::string::npos) << r.err;
    EXPECT_LT(r.out.size(), 20u * 10000u);
}
