// poomguard's bad-input matrix: every subcommand and every option that takes a value, with empty,
// negative, overflowing, trailing-garbage and non-UTF-8 values; unknown, zombie and foreign PIDs;
// /dev/zero, a directory, a missing and an unreadable file as a pidfile or rules file; unknown
// options and subcommands; options that do not go together. Each row: the exit status of
// poomguard(1) EXIT STATUS and one line `poomguard: cannot <verb> <object>: <reason>` — except
// the rules files' diagnostics, which keep their compiler-style `FILE[:LINE:COL]: message`
// (check-config prints them as its result; watch and audit as warnings).
#include "tools/common/bad_input_matrix.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sys/stat.h>

namespace prockit::test {
namespace {

using matrix::Row;

std::string poomguard_path() {
    const char* b = std::getenv("PROCKIT_BUILD_DIR");
    return std::string(b ? b : ".") + "/tools/poomguard/poomguard";
}

int adj_of(pid_t pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/oom_score_adj");
    int v = -9999;
    f >> v;
    return v;
}

TEST(PoomguardBadInput, EveryBadInputIsRefusedWithItsStatusAndOneHouseFormLine) {
    auto sleeper = Command("sleep").args({"1000"}).spawn().value();
    const std::string P = std::to_string(sleeper.pid());
    matrix::Zombie zombie;
    const std::string Z = zombie.str();
    const std::string U = matrix::unused_pid();
    TempDir dir;
    chmod(dir.path.c_str(), 0755);
    const std::string gone = dir / "gone.pid", garbage = dir / "garbage.pid", empty = dir / "empty",
                      secret = dir / "secret.pid", rules = dir / "bad.conf", huge = dir / "huge.pid";
    spit(gone, U + "\n");
    spit(garbage, "12abc\n");
    spit(empty, "");
    spit(secret, P + "\n");
    chmod(secret.c_str(), 0600);
    spit(rules, "x\n");
    spit(huge, std::string(1 << 20, '7'));  // one line of a million digits
    const std::string bad = "\xff\xfe";
    const std::string T = R"(; try 'poomguard --help')";
    const std::string adj = R"(expected a number from -1000 to 1000)" + T;
    const std::string warning = "poomguard: warning: [^\n]+\n";
    const std::string diagnostic = "[^\n:]+(:[0-9]+:[0-9]+)?: [^\n]+\n";
    const std::vector<Row> rows = {
        // No subcommand, an unknown one, unknown options.
        {{}, 2, R"(cannot run without a subcommand: give one of show, top, set, run, watch, audit, check-config)" + T},
        {{"frobnicate"}, 2, R"(cannot parse the command line: the following argument was not expected: frobnicate)" + T},
        {{"--bogus"}, 2, R"(cannot parse the command line: the following argument was not expected: --bogus)" + T},
        {{"show", "-J", "--bogus"}, 2, R"(cannot parse the command line: the following argument was not expected: --bogus)" + T},
        {{"show", "--", "x"}, 2, R"(cannot use a command after '--': only 'run' takes one)" + T},
        {{"set"}, 2, R"(cannot parse the command line: adj is required)" + T},
        // set ADJ: empty, out of range, overflow, garbage, non-UTF-8.
        {{"set", "", P}, 2, R"(cannot parse ADJ "": )" + adj},
        {{"set", "1001", P}, 2, R"(cannot parse ADJ "1001": )" + adj},
        {{"set", "-1001", P}, 2, R"(cannot parse ADJ "-1001": )" + adj},
        {{"set", "abc", P}, 2, R"(cannot parse ADJ "abc": )" + adj},
        {{"set", "3x", P}, 2, R"(cannot parse ADJ "3x": )" + adj},
        {{"set", "1,", P}, 2, R"(cannot parse ADJ "1,": )" + adj},
        {{"set", "0-", P}, 2, R"(cannot parse ADJ "0-": )" + adj},
        {{"set", "2147483648", P}, 2, R"(cannot parse ADJ "2147483648": )" + adj},
        {{"set", "9223372036854775808", P}, 2, R"(cannot parse ADJ "9223372036854775808": )" + adj},
        {{"set", "18446744073709551616", P}, 2, R"(cannot parse ADJ "18446744073709551616": )" + adj},
        {{"set", "1e999", P}, 2, R"(cannot parse ADJ "1e999": )" + adj},
        {{"set", bad, P}, 2, R"(cannot parse ADJ "[^"]+": )" + adj},
        // set's selection: PIDs, options, pidfiles, units.
        {{"set", "5"}, 2, R"(cannot use set: it needs a selection \(PID, --pid, )"},
        {{"set", "5", ""}, 2, R"(cannot parse PID "": expected a number from 1 to \d+)" + T},
        {{"set", "5", "3x"}, 2, R"(cannot parse PID "3x": expected a number)"},
        {{"set", "5", "2147483648"}, 2, R"(cannot parse PID "2147483648": expected a number)"},
        {{"set", "5", "18446744073709551616"}, 2, R"(cannot parse PID "18446744073709551616": expected a number)"},
        {{"set", "5", U}, 1, "cannot find process " + U + ": No such process$"},
        {{"set", "5", Z}, 1, "cannot set oom_score_adj of pid " + Z + R"( \(.*\) to 5: the process exited$)"},
        {{"set", "5", P}, 1, "cannot set oom_score_adj of pid " + P + R"( \(sleep\) to 5: permission denied)", {}, true},
        {{"set", "5", "--pid", ""}, 2, R"(cannot parse --pid "": expected a number from 1[^;]*)" + T},
        {{"set", "5", "--pid", "0"}, 2, R"(cannot parse --pid "0": expected a number from 1[^;]*)" + T},
        {{"set", "5", "--pid", "-1"}, 2, R"(cannot parse --pid "-1": expected a number from 1[^;]*)" + T},
        {{"set", "5", "--pid", "9223372036854775808"}, 2, R"(cannot parse --pid "9223372036854775808": expected a number)"},
        {{"set", "5", "--name", ""}, 2, R"(cannot parse --name "": empty name)" + T},
        {{"set", "5", "--name", "no-such-process-x"}, 1, R"(cannot find a process matching the selection: not found$)"},
        {{"set", "5", "--name", bad}, 1, R"(cannot find a process matching the selection: not found$)"},
        {{"set", "5", "--match", ""}, 2, R"(cannot parse --match "": empty pattern)"},
        {{"set", "5", "--match", "("}, 2, R"(cannot parse --match "\(": )"},
        {{"set", "5", "--exe", ""}, 2, R"(cannot parse --exe "": empty path)" + T},
        {{"set", "5", "--exe", "/tmp"}, 1, R"(cannot find a process matching the selection: not found$)"},
        {{"set", "5", "--user", ""}, 2, R"(cannot parse --user "": empty user)" + T},
        {{"set", "5", "--user", "no-such-user-x"}, 2, R"(cannot use --user "no-such-user-x": not found)" + T},
        {{"set", "5", "--user", "4294967296"}, 2, R"(cannot use --user "4294967296": )"},
        {{"set", "5", "--cgroup", ""}, 2, R"(cannot parse --cgroup "": empty path)" + T},
        {{"set", "5", "--pidfile", ""}, 2, R"(cannot parse --pidfile "": empty path)" + T},
        {{"set", "5", "--pidfile", "/dev/zero"}, 1, R"(cannot parse pidfile "/dev/zero": expected a PID on its first line$)"},
        {{"set", "5", "--pidfile", huge}, 1, R"(cannot parse pidfile ".*": expected a PID on its first line$)"},
        {{"set", "5", "--pidfile", "/nonexistent/x.pid"}, 1, R"(cannot read pidfile /nonexistent/x.pid: No such file or directory$)"},
        {{"set", "5", "--pidfile", dir.path}, 1, R"(cannot read pidfile .*: Is a directory$)"},
        {{"set", "5", "--pidfile", gone}, 1, "cannot find process " + U + ": No such process$"},
        {{"set", "5", "--pidfile", garbage}, 1, R"(cannot parse pidfile ".*": expected a PID on its first line$)"},
        {{"set", "5", "--pidfile", empty}, 1, R"(cannot parse pidfile ".*": expected a PID on its first line$)"},
        {{"set", "5", "--pidfile", secret}, 1, R"(cannot read pidfile .*: Permission denied$)", {}, true},
        {{"set", "5", "--unit", ""}, 2, R"(cannot parse --unit "": empty unit name)" + T},
        {{"set", "5", "--unit", "no-such-unit-x"}, 1, R"(cannot find unit "no-such-unit-x.service": )"},
        // set's other options.
        {{"set", "5", P, "--children", ""}, 2, R"(cannot parse --children "": empty value)"},
        {{"set", "5", P, "--children", "bogus"}, 2, R"(cannot parse --children "bogus": )" + adj},
        {{"set", "5", P, "--children", "1001"}, 2, R"(cannot parse --children "1001": )" + adj},
        {{"set", "5", P, "--children", "3x"}, 2, R"(cannot parse --children "3x": )" + adj},
        {{"set", "5", P, "--json", "--quiet"}, 2, R"(cannot use --json with --quiet: they exclude each other)" + T},
        {{"set", "5", P, "--json", "--follow"}, 2, R"(cannot use --follow with --json: they exclude each other)" + T},
        // run ADJ -- COMMAND.
        {{"run"}, 2, R"(cannot parse the command line: adj is required)" + T},
        {{"run", "5"}, 2, R"(cannot use run: it needs a command after '--')" + T},
        {{"run", "5", "--"}, 2, R"(cannot use run: it needs a command after '--')" + T},
        {{"run", "", "--", "true"}, 2, R"(cannot parse ADJ "": )" + adj},
        {{"run", "2000", "--", "true"}, 2, R"(cannot parse ADJ "2000": )" + adj},
        {{"run", "5", "--", "/nonexistent/prockit-cmd"}, 127, R"(cannot execute /nonexistent/prockit-cmd: No such file or directory$)"},
        {{"run", "5", "--", ""}, 2, R"(cannot run a command: its name is empty)" + T},
        {{"run", "5", "--", "/tmp"}, 126, R"(cannot execute /tmp: Permission denied$)"},
        {{"run", "-100", "--", "true"}, 1, R"(cannot set oom_score_adj of the calling process to -100: .*CAP_SYS_RESOURCE)", {}, true},
        // show, top.
        {{"show", ""}, 2, R"(cannot parse PID "": expected a number from 1[^;]*)" + T},
        {{"show", "3x"}, 2, R"(cannot parse PID "3x": expected a number from 1[^;]*)" + T},
        {{"show", "--pid", "2147483648"}, 2, R"(cannot parse --pid "2147483648": expected a number from 1[^;]*)" + T},
        {{"show", U}, 1, "cannot find process " + U + ": No such process$"},
        {{"show", "--pidfile", "/dev/zero"}, 1, R"(cannot parse pidfile "/dev/zero": expected a PID on its first line$)"},
        {{"top", "extra"}, 2, R"(cannot parse the command line: the following argument was not expected: extra)" + T},
        {{"top", "-n", ""}, 2, R"(cannot parse --count "": expected a number from 0 to 1000000)" + T},
        {{"top", "-n", "-1"}, 2, R"(cannot parse --count "-1": expected a number[^;]*)" + T},
        {{"top", "-n", "3x"}, 2, R"(cannot parse --count "3x": expected a number[^;]*)" + T},
        {{"top", "-n", "2147483648"}, 2, R"(cannot parse --count "2147483648": expected a number[^;]*)" + T},
        {{"top", "-n", "18446744073709551616"}, 2, R"(cannot parse --count "18446744073709551616": expected a number[^;]*)" + T},
        {{"top", "--interval", ""}, 2, R"(cannot parse --interval "": empty duration)" + T},
        {{"top", "--interval", "0"}, 2, R"(cannot use --interval "0": expected 100ms to 24h)" + T},
        {{"top", "--interval", "-1s"}, 2, R"(cannot parse --interval "-1s": expected a number[^;]*)" + T},
        {{"top", "--interval", "1e999"}, 2, R"(cannot parse --interval "1e999": unknown unit)"},
        {{"top", "--interval", "soon"}, 2, R"(cannot parse --interval "soon": )"},
        // watch, audit, check-config: rules files and intervals.
        {{"watch", "--config", ""}, 2, R"(cannot parse --config "": empty file name)" + T},
        {{"watch", "--once", "--config", empty, "--interval", ""}, 2, R"(cannot parse --interval "": empty duration)" + T},
        {{"watch", "--once", "--config", empty, "--interval", "0"}, 2, R"(cannot parse --interval "0": must be at least 1ms)" + T},
        {{"watch", "--once", "--config", empty, "--interval", "1e999"}, 2, R"(cannot parse --interval "1e999": unknown unit)"},
        {{"watch", "--once", "--config", "/dev/zero"}, 1, R"(poomguard: warning: /dev/zero: cannot read: larger than 1 MiB$)", {}, false, warning},
        {{"watch", "--once", "--config", "/nonexistent/p.conf"}, 1, R"(poomguard: warning: /nonexistent/p.conf: cannot read: No such file)", {}, false, warning},
        {{"watch", "--once", "--config", dir.path}, 1, R"(poomguard: warning: .*: cannot read: Is a directory$)", {}, false, warning},
        {{"watch", "--once", "--config", rules}, 1, R"(poomguard: warning: .*bad.conf:1:1: expected \[rule\] or key = value$)", {}, false, warning},
        {{"audit", "--config", ""}, 2, R"(cannot parse --config "": empty file name)" + T},
        {{"audit", "--config", "/dev/zero"}, 1, R"(poomguard: warning: /dev/zero: cannot read: larger than 1 MiB$)", {}, false, warning},
        {{"audit", "--config", "/nonexistent/p.conf"}, 1, R"(poomguard: warning: /nonexistent/p.conf: cannot read: No such file)", {}, false, warning},
        {{"audit", "--config", dir.path}, 1, R"(poomguard: warning: .*: cannot read: Is a directory$)", {}, false, warning},
        {{"check-config", ""}, 2, R"(cannot parse FILE "": empty file name)" + T},
        {{"check-config", "/dev/zero"}, 1, R"(/dev/zero: cannot read: larger than 1 MiB$)", {}, false, diagnostic},
        {{"check-config", "/nonexistent/p.conf"}, 1, R"(/nonexistent/p.conf: cannot read: No such file or directory$)", {}, false, diagnostic},
        {{"check-config", dir.path}, 1, R"(.*: cannot read: Is a directory$)", {}, false, diagnostic},
        {{"check-config", rules}, 1, R"(.*bad.conf:1:1: expected \[rule\] or key = value$)", {}, false, diagnostic},
        {{"check-config", bad}, 1, R"(.*: cannot read: No such file or directory$)", {}, false, diagnostic},
        {{"check-config", secret}, 1, R"(.*secret.pid: cannot read: Permission denied$)", {}, true, diagnostic},
    };
    ASSERT_GE(rows.size(), 60u);
    matrix::run_table({"poomguard", poomguard_path()}, rows);
    EXPECT_EQ(adj_of(sleeper.pid()), 0);  // nothing above touched it
}

}  // namespace
}  // namespace prockit::test
