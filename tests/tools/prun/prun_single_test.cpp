// prun, one command: exit status pass-through, timeouts, and every per-child control, observed
// from inside the child with prockit-test-helper.
#include "prun_support.hpp"

#include <sys/stat.h>

namespace prockit::test {
namespace {

TEST(PrunSingle, PassesExitStatusOn) {
    EXPECT_EQ(prun({"--", "/bin/true"}).code, 0);
    EXPECT_EQ(prun({"--", helper(), "exit", "3"}).code, 3);
    EXPECT_EQ(prun({helper(), "exit", "7"}).code, 7);  // "--" is optional
    EXPECT_EQ(prun({"--", helper(), "raise", "KILL"}).code, 137);
    EXPECT_EQ(prun({"--", helper(), "raise", "TERM"}).code, 143);
}

TEST(PrunSingle, NotFoundAndNotExecutable) {
    auto r = prun({"--", "prun-no-such-command"});
    EXPECT_EQ(r.code, 127);
    EXPECT_NE(r.err.find("prun: cannot find 'prun-no-such-command' in PATH"), std::string::npos) << r.err;
    TempDir d;
    spit(d / "script", "#!/bin/sh\necho hi\n");
    chmod((d / "script").c_str(), 0644);
    r = prun({"--", d / "script"});
    EXPECT_EQ(r.code, 126);
    EXPECT_NE(r.err.find("prun: cannot execute"), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

TEST(PrunSingle, TimeoutGives124) {
    auto r = prun({"--timeout", "200ms", "--", helper(), "pause"});
    EXPECT_EQ(r.code, 124);
}

TEST(PrunSingle, KillAfterEndsATermIgnoringChild) {
    auto r = prun({"--timeout", "100ms", "--kill-after", "100ms", "--", helper(), "ignore", "TERM", "pause"});
    EXPECT_EQ(r.code, 124);
}

TEST(PrunSingle, TermSeq) {
    auto r = prun({"--timeout", "100ms", "--term-seq", "INT,100,KILL,25", "--", helper(), "ignore", "INT", "pause"});
    EXPECT_EQ(r.code, 124);
    EXPECT_EQ(prun({"--term-seq", "FROB,100", "--", "true"}).code, 2);
}

TEST(PrunSingle, TimeoutKillsTheWholeTree) {
    TempDir d;
    auto r = run_program(prun_path(), {"--timeout", "300ms", "--kill-after", "100ms", "--", helper(), "fork-sleeper", "pause"});
    EXPECT_EQ(r.code, 124);
    auto m = kv(r.out);
    ASSERT_TRUE(m.count("grandchild")) << r.out;
    pid_t g = std::stoi(m["grandchild"]);
    EXPECT_TRUE(eventually([&] { return !alive(g); })) << "grandchild " << g << " survived";
}

TEST(PrunSingle, Argv0AndName) {
    auto r = prun({"--argv0", "shown-name", "--", helper(), "argv"});
    EXPECT_EQ(kv(r.out)["argv[0]"], "shown-name");
    r = prun({"--name", "web", "--tag", "--", helper(), "echo", "hello", "echo-err", "oops"});
    EXPECT_EQ(r.out, "web\thello\n");
    EXPECT_EQ(r.err, "web\toops\n");
}

TEST(PrunSingle, Cpus) {
    auto r = prun({"--cpus", "0", "--", helper(), "affinity"});
    EXPECT_EQ(kv(r.out)["cpus"], "0");
    r = prun({"--cpus", "4000", "--", "true"});
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.err.find("outside the allowed set"), std::string::npos) << r.err;
    EXPECT_EQ(prun({"--cpus", "0-x", "--", "true"}).code, 2);
}

TEST(PrunSingle, NiceAndOomScoreAdj) {
    auto r = prun({"--nice", "7", "--oom-score-adj", "500", "--", helper(), "nice", "oom"});
    EXPECT_EQ(kv(r.out)["nice"], "7");
    EXPECT_EQ(kv(r.out)["oom_score_adj"], "500");
    EXPECT_EQ(prun({"--nice", "40", "--", "true"}).code, 2);
    EXPECT_EQ(prun({"--oom-score-adj", "5000", "--", "true"}).code, 2);
}

TEST(PrunSingle, Rlimits) {
    auto r = prun({"--rlimit", "nofile=100:200", "--rlimit", "core=0", "--", helper(), "rlimit", "nofile", "rlimit", "core"});
    EXPECT_EQ(kv(r.out)["rlimit.nofile"], "100:200");
    EXPECT_EQ(kv(r.out)["rlimit.core"].substr(0, 2), "0:");
    r = prun({"--rlimit", "frob=1", "--", "true"});
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.err.find("unknown resource \"frob\""), std::string::npos) << r.err;
    EXPECT_EQ(prun({"--rlimit", "nofile=20:10", "--", "true"}).code, 2);
}

TEST(PrunSingle, CwdAndEnvironment) {
    auto r = prun({"--cwd", "/tmp", "--", helper(), "cwd"});
    EXPECT_EQ(kv(r.out)["cwd"], "/tmp");
    r = prun({"--cwd", "/nonexistent-dir", "--", helper(), "cwd"});
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("change directory to /nonexistent-dir"), std::string::npos) << r.err;

    r = prun({"--env", "PRUN_A=1", "--env", "PRUN_B=x=y", "--unset-env", "HOME", "--", helper(), "env"});
    auto m = kv(r.out);
    EXPECT_EQ(m["env:PRUN_A"], "1");
    EXPECT_EQ(m["env:PRUN_B"], "x=y");
    EXPECT_FALSE(m.count("env:HOME"));
    EXPECT_TRUE(m.count("env:PATH"));
    r = prun({"--clear-env", "--env", "ONLY=1", "--", helper(), "env"});
    EXPECT_EQ(r.out, "env:ONLY=1\n");
    EXPECT_EQ(prun({"--env", "=V", "--", "true"}).code, 2);
    // A bare name (GNU parallel's --env VAR) passes prun's own value on; an unset one, nothing.
    r = prun({"--clear-env", "--env", "PATH", "--env", "PRUN_SURELY_UNSET", "--", helper(), "env"});
    EXPECT_EQ(r.out, "env:PATH=" + std::string(std::getenv("PATH")) + "\n");
}

TEST(PrunSingle, UserAndNewSession) {
    if (geteuid() != 0) GTEST_SKIP() << "needs root to change user";
    auto r = prun({"--user", "nobody", "--", helper(), "ids"});
    EXPECT_EQ(kv(r.out)["uid"], "65534");
    EXPECT_EQ(prun({"--user", "no-such-user-xyz", "--", "true"}).code, 2);
    r = prun({"--new-session", "--", helper(), "ids"});
    auto m = kv(r.out);
    EXPECT_EQ(m["sid"], m["pid"]);
}

TEST(PrunSingle, NoNewPrivs) {
    auto r = prun({"--no-new-privs", "--", helper(), "status", "NoNewPrivs"});
    EXPECT_EQ(kv(r.out)["NoNewPrivs"], "1");
}

TEST(PrunSingle, DryRunRunsNothing) {
    TempDir d;
    auto r = prun({"--dry-run", "--", "touch", d / "made"});
    EXPECT_EQ(r.code, 0);
    EXPECT_EQ(r.out, "touch " + d.path + "/made\n");
    EXPECT_NE(access((d / "made").c_str(), F_OK), 0);
}

TEST(PrunSingle, RestartOnFailureUntilSuccess) {
    TempDir d;
    std::string script = "n=$(cat " + (d / "n") + " 2>/dev/null || echo 0); n=$((n+1)); echo $n > " + (d / "n") +
                         "; [ $n -ge 3 ]";
    auto r = prun({"--restart", "on-failure", "--restart-delay", "10ms", "--", "sh", "-c", script});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(slurp(d / "n"), "3\n");
}

TEST(PrunSingle, RestartLimit) {
    auto r = prun({"--restart", "always", "--restart-delay", "5ms", "--restart-limit", "2/60s", "--", "sh", "-c", "exit 4"});
    EXPECT_EQ(r.code, 4);
    EXPECT_NE(r.err.find("restart limit reached"), std::string::npos) << r.err;
}

TEST(PrunSingle, UsageErrors) {
    for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
             {"--frobnicate", "--", "true"}, {"--timeout", "5x", "--", "true"}, {},
             {"--group", "--ungroup", "--", "true"}, {"--log", "/tmp/x", "--", "true"},
             {"--restart", "sometimes", "--", "true"}, {"--drop-caps", "all", "--keep-caps", "chown", "--", "true"}}) {
        auto r = prun(args);
        EXPECT_EQ(r.code, 2) << ::testing::PrintToString(args);
        EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
        EXPECT_EQ(r.err.rfind("prun: ", 0), 0u) << r.err;
    }
}

TEST(PrunSingle, VersionNamesTheToolAndThePackage) {
    auto r = prun({"--version"});
    EXPECT_EQ(r.code, 0);
    EXPECT_EQ(r.out.rfind("prun (prockit) ", 0), 0u) << r.out;
    // After the command starts, --version is the command's argument.
    auto c = prun({"--", "/bin/echo", "x", "--version"});
    EXPECT_EQ(c.out, "x --version\n");
}

TEST(PrunSingle, HelpListsEveryOption) {
    auto r = prun({"--help"});
    EXPECT_EQ(r.code, 0);
    for (const char* opt : {"--name", "--argv0", "--cpus", "--nice", "--oom-score-adj", "--rlimit", "--timeout",
                            "--kill-after", "--term-seq", "--cwd", "--env", "--unset-env", "--clear-env", "--user",
                            "--new-session", "--no-new-privs", "--drop-caps", "--keep-caps", "--seccomp", "--daemon",
                            "--log", "--pidfile", "--restart", "--jobs", "--arg-file", "--null", "--shell", "--group",
                            "--line-buffer", "--ungroup", "--tag", "--keep-order", "--halt", "--retries", "--delay",
                            "--joblog", "--joblog-format", "--resume", "--resume-failed", "--pin-spread", "--bar",
                            "--eta", "--dry-run"})
        EXPECT_NE(r.out.find(opt), std::string::npos) << opt;
}

}  // namespace
}  // namespace prockit::test
