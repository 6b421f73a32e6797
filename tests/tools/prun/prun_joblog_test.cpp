// prun's joblog end to end: every job's stdout bytes are counted whatever the output mode, and
// --resume reads the log with a real parser and rejects a malformed one.
#include "prun_support.hpp"

namespace prockit::test {
namespace {

/// The Receive column of each job, by Seq.
std::map<std::string, std::string> received(const std::string& log) {
    std::map<std::string, std::string> m;
    auto l = lines(log);
    for (std::size_t i = 1; i < l.size(); ++i) {
        auto c = columns(l[i]);
        if (c.size() == 9) m[c[0]] = c[5];
    }
    return m;
}

TEST(PrunJoblog, ReceiveCountsStdoutInEveryOutputMode) {
    // Job N prints N*3 bytes on stdout and some on stderr (not counted, as GNU parallel).
    std::string script = "printf '%0*d' $(($0 * 3)) 0; echo err >&2";
    for (std::vector<std::string> mode : {std::vector<std::string>{"--ungroup"}, {"--group"}, {"--line-buffer"}, {"-k"},
                                          {"--group", "-j1"}, {"--ungroup", "-j1"}}) {
        TempDir d;
        std::vector<std::string> args = mode;
        args.insert(args.end(), {"--joblog", d / "log", "sh", "-c", script, ":::", "1", "2", "5"});
        auto r = prun(args);
        EXPECT_EQ(r.code, 0) << mode[0] << ": " << r.err;
        EXPECT_EQ(r.out.size(), 24u) << mode[0] << ": the output still reaches stdout";
        EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 3) << mode[0];
        auto got = received(slurp(d / "log"));
        EXPECT_EQ(got, (std::map<std::string, std::string>{{"1", "3"}, {"2", "6"}, {"3", "15"}})) << mode[0];
    }
}

TEST(PrunJoblog, ReceiveOfASingleCommand) {
    TempDir d;
    auto r = prun({"--joblog", d / "log", "--joblog-format", "jsonl", "--", "sh", "-c", "printf hello; printf x >&2"});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, "hello");
    EXPECT_EQ(r.err, "x");
    auto l = lines(slurp(d / "log"));
    ASSERT_EQ(l.size(), 1u);
    EXPECT_NE(l[0].find("\"receive\":5,"), std::string::npos) << l[0];
}

TEST(PrunJoblog, ResumeFromAJsonlLog) {
    TempDir d;
    std::string ran = d / "ran";
    std::string script = "echo $0 >> " + ran + "; exit $0";
    auto r = prun({"-j1", "--joblog", d / "log", "--joblog-format", "jsonl", "sh", "-c", script, ":::", "0", "3"});
    EXPECT_EQ(r.code, 1);
    r = prun({"-j1", "--resume-failed", "--joblog", d / "log", "--joblog-format", "jsonl", "sh", "-c", script, ":::", "0",
              "3", "0"});
    EXPECT_EQ(r.code, 1);
    EXPECT_EQ(slurp(ran), "0\n3\n3\n0\n") << "job 2 failed and job 3 is new: both run";
    EXPECT_EQ(lines(slurp(d / "log")).size(), 4u) << "the log is appended to";
}

TEST(PrunJoblog, ResumeRejectsAMalformedLogNamingTheLine) {
    TempDir d;
    std::string ran = d / "ran";
    spit(d / "log", "{\"seq\":1,\"exitval\":0,\"signal\":0}\n{\"seq\":2,\"exitval\":0,\"signal\":0}\n{\"seq\":3,\"exitv\n");
    auto r = prun({"--resume", "--joblog", d / "log", "--joblog-format", "jsonl", "sh", "-c", "echo $0 >> " + ran, ":::",
                   "a", "b", "c", "d"});
    EXPECT_EQ(r.code, 255) << "a pool's own error";
    std::string want = "prun: cannot read joblog " + (d / "log") + ": line 3: invalid JSON at column ";
    EXPECT_EQ(r.err.rfind(want, 0), 0u) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
    EXPECT_EQ(slurp(ran), "") << "nothing ran";

    spit(d / "log", "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n1\t:\t0\t0\n");
    r = prun({"--resume", "--joblog", d / "log", "true", ":::", "a"});
    EXPECT_EQ(r.code, 255) << "a pool's own error";
    EXPECT_EQ(r.err, "prun: cannot read joblog " + (d / "log") + ": line 2: expected 9 tab-separated columns\n");
}

}  // namespace
}  // namespace prockit::test
