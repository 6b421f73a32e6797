// prun under bad input: every row is a command line a hostile or careless user may type, the
// status it must end with (2: usage error of one command; 255: any own error of a pool; 1: a
// failure), and what its one line on stderr must say. Every message reads
// `prun: cannot <verb> <object>: <reason>`, on one line.
#include "prun_support.hpp"

#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <vector>

namespace prockit::test {
namespace {

struct Row {
    std::vector<std::string> args;
    int code;
    std::string message;  // a regex the message (after "prun: ") must match from its start
};

TEST(PrunBadInput, EveryBadInputIsRefusedWithItsStatusAndOneHouseFormLine) {
    TempDir dir;
    const std::string rules = dir / "rules";
    spit(rules, "default allow\nfrobnicate read\n");
    const std::vector<Row> rows = {
        // A numeric ID that would wrap to another user (root, uid 1000) or mean "unchanged".
        {{"--user", "4294967296", "--", "id", "-u"}, 2, R"(cannot use --user "4294967296": user ID out of range)"},
        {{"--user", "4294967295:0", "--", "id", "-u"}, 2, R"(cannot use --user "4294967295:0": user ID out of range)"},
        {{"--user", "4294968296", "--", "id", "-u"}, 2, R"(cannot use --user "4294968296": user ID out of range)"},
        {{"--user", "4294967295", "--", "id", "-u"}, 2, R"(cannot use --user "4294967295": user ID out of range)"},
        {{"--user", "0:4294967295", "--", "id", "-u"}, 2, R"(cannot use --user "0:4294967295": group ID out of range)"},
        {{"--user", "prockit-no-such-user", "--", "true"}, 2, R"(cannot use --user "prockit-no-such-user": no such user)"},
        {{"-j1", "--user", "4294967296", "id", ":::", "a"}, 255, R"(cannot use --user "4294967296": user ID out of range)"},
        // Empty values are refused, naming the option, not taken as "not given".
        {{"--timeout", "", "--", "true"}, 2, R"(cannot parse --timeout "": empty value)"},
        {{"--kill-after", "", "--", "true"}, 2, R"(cannot parse --kill-after "": empty value)"},
        {{"--term-seq", "", "--", "true"}, 2, R"(cannot parse --term-seq "": empty value)"},
        {{"--cpus", "", "--", "true"}, 2, R"(cannot parse --cpus "": empty value)"},
        {{"--retries", "", "--", "true"}, 2, R"(cannot parse --retries "": empty value)"},
        {{"--delay", "", "-j1", "echo", ":::", "a"}, 255, R"(cannot parse --delay "": empty value)"},
        {{"-j", "", "echo", ":::", "a"}, 255, R"(cannot parse -j "": empty value)"},
        {{"--block", "", "--pipe", "cat"}, 255, R"(cannot parse --block "": empty value)"},
        {{"--halt", "", "-j1", "echo", ":::", "a"}, 255, R"(cannot parse --halt "": empty value)"},
        // --halt thresholds that could never fire.
        {{"-j1", "--halt", "now,fail=nan", "echo", ":::", "a"}, 255, R"(cannot parse --halt "now,fail=nan": expected)"},
        {{"-j1", "--halt", "now,fail=inf", "echo", ":::", "a"}, 255, R"(cannot parse --halt "now,fail=inf": expected)"},
        {{"-j1", "--halt", "soon,fail=-1", "echo", ":::", "a"}, 255, R"(cannot parse --halt "soon,fail=-1": expected)"},
        {{"-j1", "--halt", "now,fail=101%", "echo", ":::", "a"}, 255, R"(cannot parse --halt "now,fail=101%": expected)"},
        {{"-j1", "--halt", "now,fail=nan%", "echo", ":::", "a"}, 255, R"(cannot parse --halt "now,fail=nan%": expected)"},
        // Seccomp rules: missing, unbounded, malformed; an unknown profile.
        {{"--seccomp", "/nonexistent/rules", "--", "true"}, 2,
         R"(cannot read seccomp rules "/nonexistent/rules": no such file or directory)"},
        {{"--seccomp", "/dev/zero", "--", "true"}, 2, R"(cannot read seccomp rules "/dev/zero": larger than 16 MiB)"},
        {{"--seccomp", rules, "--", "true"}, 2, R"(cannot read seccomp rules .*line 2)"},
        {{"--seccomp", "no-such-profile", "--", "true"}, 2, R"(cannot use seccomp profile "no-such-profile": expected)"},
        // Unbounded reads end in an error, not in the OOM killer.
        {{"-a", "/dev/zero", "echo"}, 255, R"(cannot read "input file /dev/zero": record 1 is longer than 1 MiB)"},
        {{"echo", "::::", "/dev/zero"}, 255, R"(cannot read "input file /dev/zero": record 1 is longer than 1 MiB)"},
        {{"-j1", "--joblog", "/dev/zero", "--resume", "echo", ":::", "a"}, 255,
         R"(cannot read joblog "/dev/zero": line 1 is longer than 1 MiB)"},
        // CLI11's own findings, in the house form.
        {{"--bogus", "--", "true"}, 2, R"(cannot parse the command line: the following argument was not expected: --bogus)"},
        {{"--nice", "99", "--", "true"}, 2, R"(cannot parse --nice: value 99 not in range -20 to 19)"},
        {{"--retries", "x", "--", "true"}, 2, R"(cannot parse --retries "x": expected a number)"},
        {{"--restart", "sometimes", "--", "true"}, 2, R"(cannot parse --restart: sometimes not in)"},
        {{"--timeout"}, 2, R"(cannot parse --timeout: )"},
        {{"-j1", "--joblog-format", "xml", "echo", ":::", "a"}, 255, R"(cannot parse --joblog-format: xml not in)"},
        // prun's own checks.
        {{"--timeout", "5x", "--", "true"}, 2, R"(cannot parse --timeout "5x": unknown unit)"},
        {{"--term-seq", "FOO", "--", "true"}, 2, R"(cannot parse --term-seq "FOO": unknown signal)"},
        {{"--rlimit", "bogus=1", "--", "true"}, 2, R"(cannot parse --rlimit "bogus=1": )"},
        {{"--env", "=V", "--", "true"}, 2, R"(cannot parse --env "=V": expected K=V or a name)"},
        {{"-j", "x", "echo", ":::", "a"}, 255, R"(cannot parse -j "x": expected)"},
        {{"--block", "1x", "--pipe", "cat"}, 255, R"(cannot parse --block "1x": unknown unit)"},
        {{"--drop-caps", "bogus", "--", "true"}, 2, R"(cannot parse --drop-caps "bogus": )"},
        {{"-k", "--", "true"}, 2, R"(cannot use --keep-order with one command: it is for a pool)"},
        {{"--group", "--ungroup", "-j1", "echo", ":::", "a"}, 255, R"(cannot use --group, --line-buffer and --ungroup together)"},
        {{"--resume", "-j1", "echo", ":::", "a"}, 255, R"(cannot use --resume without --joblog)"},
        {{"--block", "1M", "-j1", "echo", ":::", "a"}, 255, R"(cannot use --block without --pipe)"},
        {{"--pidfile", "/tmp/x", "--", "true"}, 2, R"(cannot use --pidfile without --daemon)"},
        {{"--restart", "always", "-j1", "echo", ":::", "a"}, 255, R"(cannot use --restart with a pool)"},
        {{}, 2, R"(cannot run a command: none given)"},
        {{"echo", ":::"}, 255, R"(cannot use input source 1 \(:::\): it is empty)"},
        {{"--pipe", "cat", ":::", "a"}, 255, R"(cannot use input sources \(:::, ::::, -a\) with --pipe)"},
        {{"echo", "::::", "/nonexistent/list"}, 255, R"(cannot read input file /nonexistent/list: )"},
    };
    ASSERT_GE(rows.size(), 30u);
    const std::regex form(R"(prun: cannot [a-z][^\n]*\n)");
    for (const auto& row : rows) {
        std::string shown;
        for (const auto& a : row.args) shown += " '" + a + "'";
        auto r = prun(row.args, {}, std::chrono::seconds(30));
        EXPECT_EQ(r.code, row.code) << "prun" << shown << ": " << r.err;
        EXPECT_TRUE(std::regex_match(r.err, form)) << "prun" << shown << ": not one house-form line: " << r.err;
        EXPECT_TRUE(std::regex_search(r.err, std::regex("^prun: " + row.message)))
            << "prun" << shown << ": expected /" << row.message << "/, got: " << r.err;
        EXPECT_EQ(r.out, "") << "prun" << shown << ": something ran";
    }
}

}  // namespace
}  // namespace prockit::test
