// prun's command line keeps its word: the exit-status contract of one command and of a pool,
// pool mode only on an explicit pool input, util-linux conventions (-V, readable --help, one
// reason per error), and a script whose #! interpreter is missing.
#include "prun_support.hpp"

#include <sys/stat.h>

namespace prockit::test {
namespace {

int lines_in(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

TEST(PrunCli, PoolStatusCountsFailedJobsAndOwnErrorsAre255) {
    auto r = prun({"-j2", "sh", "-c", "exit {}", ":::", "0", "1", "2"});
    EXPECT_EQ(r.code, 2) << "two jobs failed: " << r.err;
    r = prun({"-j2", "sh", "-c", "exit {}", ":::", "0", "0"});
    EXPECT_EQ(r.code, 0);
    // prun's own errors in a pool: a usage error CLI11 finds, one prun finds, a failure.
    r = prun({"-j2", "--bogus", "echo", ":::", "a"});
    EXPECT_EQ(r.code, 255) << r.err;
    EXPECT_EQ(r.err, "prun: cannot parse the command line: the following argument was not expected: --bogus; try 'prun --help'\n");
    r = prun({"--timeout", "5x", "echo", ":::", "a"});
    EXPECT_EQ(r.code, 255) << r.err;
    r = prun({"echo", "::::", "/nonexistent/list"});
    EXPECT_EQ(r.code, 255) << r.err;
    r = prun({"-a", "/nonexistent/list", "echo"});
    EXPECT_EQ(r.code, 255) << r.err;
    // One command keeps the tools' contract: 2 usage error, the command's own status otherwise.
    r = prun({"--bogus"});
    EXPECT_EQ(r.code, 2) << r.err;
    r = prun({"--timeout", "5x", "--", "true"});
    EXPECT_EQ(r.code, 2) << r.err;
    r = prun({"--", "sh", "-c", "exit 7"});
    EXPECT_EQ(r.code, 7);
}

TEST(PrunCli, MoreThanAHundredFailedJobsIs101) {
    std::vector<std::string> args{"-j4", "false", ":::"};
    for (int i = 0; i < 100; ++i) args.push_back(std::to_string(i));
    EXPECT_EQ(prun(args, {}, std::chrono::seconds(120)).code, 100);
    args.push_back("100");
    EXPECT_EQ(prun(args, {}, std::chrono::seconds(120)).code, 101);
}

TEST(PrunCli, PoolOnlyOnAnExplicitPoolInput) {
    // --retries with one command retries that command; with --single stdin is its stdin, not a
    // list of inputs.
    auto r = prun({"--single", "--retries", "3", "--", "sh", "-c", "echo try; cat; exit 3"}, "from-stdin\n");
    EXPECT_EQ(r.code, 3) << r.err;
    EXPECT_EQ(r.out, "try\nfrom-stdin\ntry\ntry\n");
    r = prun({"--retries", "3", "--", "sh", "-c", "exit 0"});
    EXPECT_EQ(r.code, 0);
    // -j, -a and --pipe are pool inputs; stdin becomes the inputs.
    r = prun({"-j1", "echo", "got"}, "a\nb\n");
    EXPECT_EQ(r.out, "got a\ngot b\n");
    r = prun({"-k", "-a", "-", "echo", "got"}, "a\nb\n");
    EXPECT_EQ(r.out, "got a\ngot b\n");
    // What only a pool can use is an error with one command: stdin holding nothing, or --single.
    for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
             {"-k", "--", "true"}, {"--halt", "now,fail=1", "--", "true"}, {"--shell", "--", "true"},
             {"-0", "--", "true"}, {"--delay", "1s", "--", "true"}, {"--link", "--", "true"}}) {
        for (bool single : {false, true}) {
            auto a = args;
            if (single) a.insert(a.begin(), "--single");
            r = prun(a, single ? "x\n" : "");
            EXPECT_EQ(r.code, 2) << ::testing::PrintToString(a);
            EXPECT_NE(r.err.find("is for a pool"), std::string::npos) << r.err;
            EXPECT_EQ(lines_in(r.err), 1) << r.err;
        }
    }
}

TEST(PrunCli, VersionAndReadableHelp) {
    for (const char* flag : {"-V", "--version"}) {
        auto r = prun({flag});
        EXPECT_EQ(r.code, 0);
        EXPECT_EQ(r.out.rfind("prun (prockit) ", 0), 0u) << r.out;
    }
    auto help = prun({"--help"}).out;
    for (const char* raw : {"TEXT", "UINT", "INT:", " in [", "{default}", "VALUE"})
        EXPECT_EQ(help.find(raw), std::string::npos) << "raw placeholder " << raw << " in --help:\n" << help;
    for (const char* shown : {"-V,--version", "--timeout DURATION", "--cpus CPUS", "-j,-P,--jobs N", "--user USER[:GROUP]",
                              "--restart WHEN", "-a,--arg-file FILE ...", "--rlimit RES=SOFT[:HARD] ..."})
        EXPECT_NE(help.find(shown), std::string::npos) << shown << " not in --help:\n" << help;
    EXPECT_NE(help.find("255 prun's own error"), std::string::npos);
}

TEST(PrunCli, ErrorsGiveOneReason) {
    struct Case {
        std::vector<std::string> args;
        std::string err;
    };
    const Case cases[] = {
        {{"--timeout", "5x", "--", "true"},
         "prun: cannot parse --timeout \"5x\": unknown unit (use ns, us, ms, s, m, h or d); try 'prun --help'\n"},
        {{"--user", "prockit-no-such-user", "--", "true"},
         "prun: cannot use --user \"prockit-no-such-user\": no such user; try 'prun --help'\n"},
        {{"--drop-caps", "frob", "--", "true"},
         "prun: cannot parse --drop-caps \"frob\": unknown capability \"frob\" (a name from capabilities(7), such as "
         "net_raw or cap_net_raw, or all); try 'prun --help'\n"},
        {{"--cpus", "0-x", "--", "true"},
         "prun: cannot parse --cpus \"0-x\": expected a CPU number at character 3; try 'prun --help'\n"},
        {{"--rlimit", "nofile=20:10", "--", "true"},
         "prun: cannot parse --rlimit \"nofile=20:10\": the soft limit is above the hard limit; try 'prun --help'\n"},
    };
    for (const auto& c : cases) {
        auto r = prun(c.args);
        EXPECT_EQ(r.code, 2) << ::testing::PrintToString(c.args);
        EXPECT_EQ(r.err, c.err);
    }
    // Plurals: one CPU "is", several "are".
    auto r = prun({"--cpus", "4096", "--", "true"});
    EXPECT_NE(r.err.find("CPU 4096 is outside the allowed set"), std::string::npos) << r.err;
    r = prun({"--cpus", "4096-4097", "--", "true"});
    EXPECT_NE(r.err.find("CPUs 4096,4097 are outside the allowed set"), std::string::npos) << r.err;
    r = prun({"--seccomp", "no-such-profile", "--", "true"});
    EXPECT_EQ(r.err.find("malformed input"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find(": not found"), std::string::npos) << r.err;
}

TEST(PrunCli, AMissingInterpreterIsToldApartFromAMissingProgram) {
    TempDir d;
    std::string script = d / "script.sh";
    spit(script, "#!/nonexistent/prockit-interp -e\necho hi\n");
    chmod(script.c_str(), 0755);
    auto r = prun({"--", script});
    EXPECT_EQ(r.code, 126);
    EXPECT_EQ(r.err, "prun: cannot execute " + script + ": its #! interpreter /nonexistent/prockit-interp does not exist\n");
    r = prun({script, ":::", "a"});
    EXPECT_EQ(r.code, 255);
    EXPECT_NE(r.err.find("its #! interpreter /nonexistent/prockit-interp does not exist"), std::string::npos) << r.err;
    r = prun({"--", d / "absent.sh"});
    EXPECT_EQ(r.code, 127);
    EXPECT_NE(r.err.find("prun: cannot execute " + d / "absent.sh"), std::string::npos) << r.err;
    // A script whose interpreter is there runs.
    spit(script, "#!/bin/sh\necho hi\n");
    r = prun({"--", script});
    EXPECT_EQ(r.code, 0);
    EXPECT_EQ(r.out, "hi\n");
}

}  // namespace
}  // namespace prockit::test
