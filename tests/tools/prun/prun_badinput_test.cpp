// prun under bad input: every row is a command line a hostile or careless user may type, the
// status it must end with (2: usage error of one command; 255: any own error of a pool; 1: a
// failure), and what its one line on stderr must say. Every message reads
// `prun: cannot <verb> <object>: <reason>`, on one line. The rows run through the bad-input
// matrix (tests/tools/common/bad_input_matrix.hpp): a fresh process each, with a deadline, a
// bounded peak RSS, and nothing left behind.
#include "prun_support.hpp"
#include "tools/common/bad_input_matrix.hpp"

#include <gtest/gtest.h>

#include <string>
#include <sys/stat.h>
#include <vector>

namespace prockit::test {
namespace {

using matrix::Row;

TEST(PrunBadInput, EveryBadInputIsRefusedWithItsStatusAndOneHouseFormLine) {
    TempDir dir;
    const std::string rules = dir / "rules";
    spit(rules, "default allow\nfrobnicate read\n");
    chmod(dir.path.c_str(), 0755);
    const std::string secret = dir / "secret";  // readable by root only
    spit(secret, "a\nb\n");
    chmod(secret.c_str(), 0600);
    const std::string bad = "\xff\xfe";
    const std::string T = R"(; try 'prun --help')";
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
        {{"--nice", "99", "--", "true"}, 2, R"(cannot parse --nice "99": expected a number from -20 to 19)" + T},
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
        // Numbers: empty, negative, overflow, trailing garbage, non-UTF-8.
        {{"--nice", "", "--", "true"}, 2, R"(cannot parse --nice "": expected a number from -20 to 19)" + T},
        {{"--nice", "3x", "--", "true"}, 2, R"(cannot parse --nice "3x": expected a number from -20 to 19)" + T},
        {{"--nice", "2147483648", "--", "true"}, 2, R"(cannot parse --nice "2147483648": expected a number)"},
        {{"--oom-score-adj", "", "--", "true"}, 2, R"(cannot parse --oom-score-adj "": expected a number from -1000 to 1000)" + T},
        {{"--oom-score-adj", "1001", "--", "true"}, 2, R"(cannot parse --oom-score-adj "1001": expected a number)"},
        {{"--oom-score-adj", "9223372036854775808", "--", "true"}, 2, R"(cannot parse --oom-score-adj "9223372036854775808": )"},
        {{"--retries", "-1", "--", "true"}, 2, R"(cannot parse --retries "-1": expected a number)" + T},
        {{"--retries", "18446744073709551616", "--", "true"}, 2, R"(cannot parse --retries "18446744073709551616": expected a number)" + T},
        {{"--timeout", "-1", "--", "true"}, 2, R"(cannot parse --timeout "-1": expected a number)" + T},
        {{"--timeout", "1e999", "--", "true"}, 2, R"(cannot parse --timeout "1e999": unknown unit)"},
        {{"--timeout", "1,", "--", "true"}, 2, R"(cannot parse --timeout "1,": )"},
        {{"--kill-after", "18446744073709551616s", "--", "true"}, 2, R"(cannot parse --kill-after "18446744073709551616s": too long)" + T},
        {{"--term-seq", "TERM,", "--", "true"}, 2, R"(cannot parse --term-seq "TERM,": bad wait "")"},
        {{"--term-seq", "TERM,1e999", "--", "true"}, 2, R"(cannot parse --term-seq "TERM,1e999": bad wait "1e999")"},
        {{"--term-seq", "TERM,-1", "--", "true"}, 2, R"(cannot parse --term-seq "TERM,-1": bad wait "-1")"},
        {{"--cpus", "1,", "--", "true"}, 2, R"(cannot parse --cpus "1,": list ends with ',' at character 3)" + T},
        {{"--cpus", "0-", "--", "true"}, 2, R"(cannot parse --cpus "0-": expected a CPU number at character 3)" + T},
        {{"--cpus", "2147483648", "--", "true"}, 2, R"(cannot parse --cpus "2147483648": CPU number is not below the limit)"},
        {{"--cpus", bad, "--", "true"}, 2, R"(cannot parse --cpus "[^"]+": expected a CPU number at character 1)" + T},
        {{"--rlimit", "", "--", "true"}, 2, R"(cannot parse --rlimit "": expected RESOURCE=SOFT\[:HARD\])" + T},
        {{"--rlimit", "nofile=18446744073709551616", "--", "true"}, 2, R"(cannot parse --rlimit "nofile=18446744073709551616": expected a number)"},
        {{"--rlimit", "nofile=3x", "--", "true"}, 2, R"(cannot parse --rlimit "nofile=3x": expected a number)"},
        {{"--restart-limit", "", "--restart", "always", "--", "true"}, 2, R"(cannot parse --restart-limit "": empty value)" + T},
        {{"--restart-limit", "3x", "--restart", "always", "--", "true"}, 2, R"(cannot parse --restart-limit "3x": expected N\[/DUR\])" + T},
        {{"--restart-delay", "1e999", "--restart", "always", "--", "true"}, 2, R"(cannot parse --restart-delay "1e999": unknown unit)"},
        {{"-j", "18446744073709551616", "echo", ":::", "a"}, 255, R"(cannot parse -j "18446744073709551616": expected N, N%, \+N, -N or a file holding one)" + T},
        {{"-j", "-1x", "echo", ":::", "a"}, 255, R"(cannot parse -j "-1x": expected N)"},
        {{"-n", "0", "-j1", "echo", ":::", "a"}, 255, R"(cannot parse --max-args "0": expected a number from 1 to 1000000)" + T},
        {{"-n", "", "-j1", "echo", ":::", "a"}, 255, R"(cannot parse --max-args "": expected a number from 1)"},
        {{"-n", "18446744073709551616", "-j1", "echo", ":::", "a"}, 255, R"(cannot parse --max-args "18446744073709551616": expected a number)"},
        {{"-s", "", "-j1", "echo", ":::", "a"}, 255, R"(cannot parse --max-chars "": expected a number from 1)"},
        {{"--block", "-1", "--pipe", "cat"}, 255, R"(cannot parse --block "-1": expected a size)"},
        {{"--block", "0", "--pipe", "cat"}, 255, R"(cannot parse --block "0": expected a size)"},
        {{"--block", "18446744073709551616", "--pipe", "cat"}, 255, R"(cannot parse --block "18446744073709551616": a block holds at most 2 GiB)"},
        {{"--block", "1e999", "--pipe", "cat"}, 255, R"(cannot parse --block "1e999": a block holds at most 2 GiB)"},
        {{"--delay", "-1", "-j1", "echo", ":::", "a"}, 255, R"(cannot parse --delay "-1": expected a number)" + T},
        {{"--delay", "1e999", "-j1", "echo", ":::", "a"}, 255, R"(cannot parse --delay "1e999": unknown unit)"},
        {{"--halt", "now,fail=1,", "-j1", "echo", ":::", "a"}, 255, R"(cannot parse --halt "now,fail=1,": expected)"},
        {{"-d", "ab", "-j1", "echo", ":::", "a"}, 255, R"(cannot parse -d "ab": expected one character)"},
        // Empty values of the options that take text.
        {{"--cwd", "", "--", "true"}, 2, R"(cannot parse --cwd "": empty value)" + T},
        {{"--argv0", "", "--", "true"}, 2, R"(cannot parse --argv0 "": empty value)" + T},
        {{"--name", "", "--", "true"}, 2, R"(cannot parse --name "": empty value)" + T},
        {{"--user", "", "--", "true"}, 2, R"(cannot parse --user "": empty value)" + T},
        {{"--user", bad, "--", "true"}, 2, R"(cannot use --user "[^"]+": no such user)" + T},
        {{"--env", "", "--", "true"}, 2, R"(cannot parse --env "": expected K=V or a name)" + T},
        {{"--unset-env", "", "--", "true"}, 2, R"(cannot parse --unset-env "": expected a name)" + T},
        {{"--keep-caps", "", "--", "true"}, 2, R"(cannot parse --keep-caps "": empty value)" + T},
        {{"--drop-caps", "", "--", "true"}, 2, R"(cannot parse --drop-caps "": empty value)" + T},
        {{"--seccomp", "", "--", "true"}, 2, R"(cannot parse --seccomp "": empty value)" + T},
        {{"-d", "", "-j1", "echo", ":::", "a"}, 255, R"(cannot parse -d "": empty value)" + T},
        {{"-I", "", "-j1", "echo", ":::", "a"}, 255, R"(cannot parse -I "": empty value)" + T},
        {{"--tagstring", "", "-j1", "echo", ":::", "a"}, 255, R"(cannot parse --tagstring "": empty value)" + T},
        {{"--joblog", "", "-j1", "echo", ":::", "a"}, 255, R"(cannot parse --joblog "": empty value)" + T},
        {{"-a", "", "echo"}, 255, R"(cannot parse -a "": empty value)" + T},
        {{"--", ""}, 2, R"(cannot run a command: its name is empty)" + T},
        // Directories, missing files and files without permission where a file is expected.
        {{"--seccomp", "/tmp", "--", "true"}, 2, R"(cannot read seccomp rules "/tmp": is a directory)" + T},
        // One that is there but cannot be read is a failure, not a usage error (prun(1)).
        {{"--seccomp", secret, "--", "true"}, 1, R"(cannot read seccomp rules ".*": Permission denied$)", {}, true},
        {{"-a", "/tmp", "echo"}, 255, R"(cannot read input file /tmp: Is a directory$)"},
        {{"-a", secret, "echo"}, 255, R"(cannot read input file .*: Permission denied$)", {}, true},
        {{"-j1", "echo", "::::", "/tmp"}, 255, R"(cannot read input file /tmp: Is a directory$)"},
        {{"--joblog", "/tmp", "-j1", "echo", ":::", "a"}, 255, R"(cannot open joblog /tmp: Is a directory$)"},
        {{"--joblog", "/nonexistent/d/j", "-j1", "echo", ":::", "a"}, 255, R"(cannot open joblog /nonexistent/d/j: No such file or directory$)"},
        {{"--joblog", secret, "-j1", "echo", ":::", "a"}, 255, R"(cannot open joblog .*: Permission denied$)", {}, true},
        {{"--cwd", "/nonexistent/d", "--", "true"}, 1, R"(cannot change directory to /nonexistent/d: No such file or directory$)"},
        {{"--cwd", "/dev/zero", "--", "true"}, 1, R"(cannot change directory to /dev/zero: Not a directory$)"},
        {{"--daemon", "--pidfile", "/tmp", "--", "true"}, 1, R"(cannot open pidfile /tmp: Is a directory$)"},
        {{"--daemon", "--pidfile", "/nonexistent/d/p", "--", "true"}, 1, R"(cannot write pidfile /nonexistent/d/p )"},
        // Standard input: an unbounded record on stdin ends in an error, too.
        {{"-a", "-", "echo"}, 255, R"(cannot read "standard input": record 1 is longer than 1 MiB$)", std::string(3 << 20, 'x')},
        {{"-j1", "echo", "{9}", ":::", "a"}, 255, R"(cannot parse the command template: .*names input source 9 but there is 1)" + T},
    };
    ASSERT_GE(rows.size(), 60u);
    matrix::run_table({"prun", prun_path()}, rows);
}

}  // namespace
}  // namespace prockit::test
