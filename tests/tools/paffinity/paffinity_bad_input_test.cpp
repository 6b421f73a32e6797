// paffinity's bad-input matrix: every option that takes a value, with empty, negative,
// overflowing, trailing-garbage and non-UTF-8 values; unknown, zombie and foreign PIDs;
// directories, devices and missing files where a path is expected; unknown options and
// subcommands; options that do not go together. Each row: the exit status of paffinity(1) EXIT
// STATUS and one line `paffinity: cannot <verb> <object>: <reason>` (see bad_input_matrix.hpp
// for what else every row checks).
#include "tools/common/bad_input_matrix.hpp"

#include <prockit/sched/affinity.hpp>

#include <gtest/gtest.h>

#include <sys/stat.h>

namespace prockit::test {
namespace {

using matrix::Row;

std::string paffinity_path() {
    const char* b = std::getenv("PROCKIT_BUILD_DIR");
    return std::string(b ? b : ".") + "/tools/paffinity/paffinity";
}

TEST(PaffinityBadInput, EveryBadInputIsRefusedWithItsStatusAndOneHouseFormLine) {
    auto sleeper = Command("sleep").args({"1000"}).spawn().value();
    const std::string P = std::to_string(sleeper.pid());
    const auto before = get_affinity(sleeper.pid()).value();
    matrix::Zombie zombie;
    const std::string Z = zombie.str();
    const std::string U = matrix::unused_pid();
    TempDir dir;
    chmod(dir.path.c_str(), 0755);
    const std::string secret = dir / "secret";  // a program only root may run
    spit(secret, "#!/bin/sh\nexit 0\n");
    chmod(secret.c_str(), 0700);
    const std::string bad = "\xff\xfe";
    const std::string T = R"(; try 'paffinity --help')";
    const std::vector<Row> rows = {
        // -p/--pid and PID arguments.
        {{"--pid", ""}, 2, R"(cannot parse --pid "": expected a number from 1 to \d+)" + T},
        {{"--pid", "0"}, 2, R"(cannot parse --pid "0": expected a number from 1)"},
        {{"--pid", "-5"}, 2, R"(cannot parse --pid "-5": expected a number)"},
        {{"--pid", "abc"}, 2, R"(cannot parse --pid "abc": expected a number)"},
        {{"--pid", "3x"}, 2, R"(cannot parse --pid "3x": expected a number)"},
        {{"--pid", "1,"}, 2, R"(cannot parse --pid "1,": expected a number)"},
        {{"--pid", "2147483648"}, 2, R"(cannot parse --pid "2147483648": expected a number)"},
        {{"--pid", "9223372036854775808"}, 2, R"(cannot parse --pid "9223372036854775808": expected a number)"},
        {{"--pid", "18446744073709551616"}, 2, R"(cannot parse --pid "18446744073709551616": expected a number)"},
        {{"--pid", "1e999"}, 2, R"(cannot parse --pid "1e999": expected a number)"},
        {{"--pid", bad}, 2, R"(cannot parse --pid "[^"]+": expected a number)"},
        {{"--pid", U}, 1, "cannot find process " + U + ": No such process$"},
        {{""}, 2, R"(cannot parse PID "": expected a number)"},
        {{"notapid"}, 2, R"(cannot parse PID "notapid": expected a number)"},
        {{"1x"}, 2, R"(cannot parse PID "1x": expected a number)"},
        {{"-1"}, 2, R"(cannot parse PID "-1": expected a number from 1 to \d+)" + T},
        {{"18446744073709551616"}, 2, R"(cannot parse PID "18446744073709551616": expected a number)"},
        {{U}, 1, "cannot find process " + U + ": No such process$"},
        // The other selections.
        {{"--name", ""}, 2, R"(cannot parse --name "": empty name)" + T},
        {{"--name", "no-such-proc-xyz"}, 1, R"(cannot find a process matching the selection: not found$)"},
        {{"--name", bad}, 1, R"(cannot find a process matching the selection: not found$)"},
        {{"--match", ""}, 2, R"(cannot parse --match "": empty pattern \(it would match every process\))" + T},
        {{"--match", "(unclosed"}, 2, R"(cannot parse --match "\(unclosed": unmatched \( or \\\()" + T},
        {{"--match", "a\\"}, 2, R"(cannot parse --match "a\\": trailing backslash)" + T},
        {{"--exe", ""}, 2, R"(cannot parse --exe "": empty path)" + T},
        {{"--exe", "/nonexistent/prockit"}, 1, R"(cannot find a process matching the selection: not found$)"},
        {{"--exe", "/tmp"}, 1, R"(cannot find a process matching the selection: not found$)"},
        {{"--exe", "/dev/zero"}, 1, R"(cannot find a process matching the selection: not found$)"},
        {{"--cgroup", ""}, 2, R"(cannot parse --cgroup "": empty path)" + T},
        {{"--cgroup", "/nonexistent/prockit"}, 1, R"(cannot find a process matching the selection: not found$)"},
        {{"--user", ""}, 2, R"(cannot parse --user "": empty user)" + T},
        {{"--user", "no-such-user-prockit"}, 2, R"(cannot use --user "no-such-user-prockit": not found)" + T},
        {{"--user", "4294967296"}, 2, R"(cannot use --user "4294967296": )"},
        {{"--user", "-1"}, 2, R"(cannot use --user "-1": )"},
        {{"--user", bad}, 2, R"(cannot use --user "[^"]+": )"},
        // -s/--set: CPU lists, masks, and the processes they go to.
        {{"--set", "", P}, 2, R"(cannot parse --set "": empty CPU list)" + T},
        {{"--set", "0-x", P}, 2, R"(cannot parse --set "0-x": expected a CPU number at character 3)" + T},
        {{"--set", "0,,1", P}, 2, R"(cannot parse --set "0,,1": .*character 3)" + T},
        {{"--set", "0x", P}, 2, R"(cannot parse --set "0x": )"},
        {{"--set", "0x0", P}, 2, R"(cannot use --set "0x0": it names no CPU)" + T},
        {{"--set", "1,", P}, 2, R"(cannot parse --set "1,": list ends with ',' at character 3)"},
        {{"--set", "0-", P}, 2, R"(cannot parse --set "0-": expected a CPU number at character 3)"},
        {{"--set", "-1", P}, 2, R"(cannot parse --set "-1": expected a CPU number at character 1)"},
        {{"--set", "2147483648", P}, 2, R"(cannot parse --set "2147483648": CPU number is not below the limit 65536)"},
        {{"--set", "9223372036854775808", P}, 2, R"(cannot parse --set "9223372036854775808": CPU number is not below)"},
        {{"--set", "18446744073709551616", P}, 2, R"(cannot parse --set "18446744073709551616": CPU number is not below)"},
        {{"--set", "1e999", P}, 2, R"(cannot parse --set "1e999": unexpected 'e' at character 2)"},
        {{"--set", bad, P}, 2, R"(cannot parse --set "[^"]+": expected a CPU number at character 1)"},
        {{"--set", "5000", P}, 1, R"(cannot use CPU 5000: this machine has CPUs [0-9,-]+$)"},
        {{"--set", "0", U}, 1, "cannot find process " + U + ": No such process$"},
        {{"--set", "0", Z}, 1, "cannot set affinity of pid " + Z + R"( \(.*\) \(it exited\): No such process$)"},
        {{"--set", "0", P}, 1, "cannot set affinity of pid " + P + R"( \(sleep\): Operation not permitted$)", {}, true},
        // -c/--cpus: launch mode.
        {{"--cpus", "", "--", "true"}, 2, R"(cannot parse --cpus "": empty CPU list)" + T},
        {{"--cpus", "1,", "--", "true"}, 2, R"(cannot parse --cpus "1,": list ends with ',')"},
        {{"--cpus", "0x0", "--", "true"}, 2, R"(cannot use --cpus "0x0": it names no CPU)"},
        {{"--cpus", "0"}, 2, R"(cannot use --cpus: it needs a command after '--')" + T},
        {{"--cpus", "0", "--", "/nonexistent/prockit-cmd"}, 127, R"(cannot execute /nonexistent/prockit-cmd: No such file or directory$)"},
        {{"--cpus", "0", "--", ""}, 2, R"(cannot run a command: its name is empty)" + T},
        {{"--cpus", "0", "--", "/tmp"}, 126, R"(cannot execute /tmp: Permission denied$)"},
        {{"--cpus", "0", "--", "/etc/passwd"}, 126, R"(cannot execute /etc/passwd: Permission denied$)"},
        {{"--cpus", "0", "--", secret}, 126, "cannot execute " + secret + ": Permission denied$", {}, true},
        {{"--cpus", "0", "--set", "0", "--", "true"}, 2, R"(cannot use --set with a command: )"},
        {{"--cpus", "0", "--pid", "1", "--", "true"}, 2, R"(cannot use a selection with a command: )"},
        {{"--cpus", "0", "-a", "--", "true"}, 2, R"(cannot use --check, --follow, --spread or -a with a command: )"},
        {{"--", "true"}, 2, R"(cannot run a command: it needs --cpus LIST)"},
        // --cores, --node, --poll-interval.
        {{"--cores", "", "--pid", P}, 2, R"(cannot parse --cores "": expected a number from 1 to \d+)" + T},
        {{"--cores", "0", "--pid", P}, 2, R"(cannot parse --cores "0": expected a number from 1)"},
        {{"--cores", "-1", "--pid", P}, 2, R"(cannot parse --cores "-1": expected a number)"},
        {{"--cores", "3x", "--pid", P}, 2, R"(cannot parse --cores "3x": expected a number)"},
        {{"--cores", "2147483648", "--pid", P}, 2, R"(cannot parse --cores "2147483648": expected a number)"},
        {{"--cores", "18446744073709551616", "--pid", P}, 2, R"(cannot parse --cores "18446744073709551616": expected)"},
        {{"--cores", "1e999", "--pid", P}, 2, R"(cannot parse --cores "1e999": expected a number)"},
        {{"--node", "", "--set", "0", P}, 2, R"(cannot parse --node "": empty node list)" + T},
        {{"--node", "x", "--set", "0", P}, 2, R"(cannot parse --node "x": expected a CPU number at character 1)"},
        {{"--node", ",", "--set", "0", P}, 2, R"(cannot parse --node ",": .*character 1)"},
        {{"--node", "0-", "--set", "0", P}, 2, R"(cannot parse --node "0-": expected a CPU number at character 3)"},
        {{"--node", "2147483648", "--set", "0", P}, 2, R"(cannot parse --node "2147483648": )"},
        {{"--node", "4000", "--set", "0", P}, 1, R"(cannot find NUMA node 4000: not found$)"},
        {{"--poll-interval", "", "--follow", "--set", "0", P}, 2, R"(cannot parse --poll-interval "": expected a number from 1 to 60000)"},
        {{"--poll-interval", "0", "--follow", "--set", "0", P}, 2, R"(cannot parse --poll-interval "0": expected a number)"},
        {{"--poll-interval", "60001", "--follow", "--set", "0", P}, 2, R"(cannot parse --poll-interval "60001": expected a number)"},
        {{"--poll-interval", "-1", "--follow", "--set", "0", P}, 2, R"(cannot parse --poll-interval "-1": expected a number)"},
        {{"--poll-interval", "1e999", "--follow", "--set", "0", P}, 2, R"(cannot parse --poll-interval "1e999": expected a number)"},
        {{"--poll-interval", "3x", "--follow", "--set", "0", P}, 2, R"(cannot parse --poll-interval "3x": expected a number)"},
        // --check[=LIST], --taskset-format[=FORMAT].
        {{"--check=", P}, 2, R"(cannot parse --check "": empty value)" + T},
        {{"--check=x", P}, 2, R"(cannot parse --check "x": expected a CPU number at character 1)" + T},
        {{"--check=0-", P}, 2, R"(cannot parse --check "0-": expected a CPU number at character 3)"},
        {{"--check=1,", P}, 2, R"(cannot parse --check "1,": list ends with ',')"},
        {{"--taskset-format=", P}, 2, R"(cannot parse --taskset-format "": empty value)" + T},
        {{"--taskset-format=hex", P}, 2, R"(cannot parse --taskset-format "hex": expected mask or list)" + T},
        // Options that do not go together, or need another.
        {{"--check", "--set", "0", P}, 2, R"(cannot use --check with --set: they exclude each other)" + T},
        {{"--taskset-format", "--json", P}, 2, R"(cannot use --taskset-format with --json: they exclude each other)" + T},
        {{"--taskset-format", "--dry-run", "--set", "0", P}, 2, R"(cannot use --taskset-format with --dry-run: )"},
        {{"--set", "0", "--spread", P}, 2, R"(cannot use --spread: it needs -a/--all-tasks)" + T},
        {{"--set", "0"}, 2, R"(cannot use --set: it needs a selection \(PID, )"},
        {{"--check", "--spread", P}, 2, R"(cannot use --follow or --spread: they need --set)" + T},
        {{"--follow", P}, 2, R"(cannot use --follow, --spread, --strict or --dry-run: they need --set)" + T},
        {{"--dry-run", P}, 2, R"(cannot use --follow, --spread, --strict or --dry-run: they need --set)" + T},
        {{"--poll", P}, 2, R"(cannot use --poll: it needs --follow)" + T},
        {{"--check"}, 2, R"(cannot use --check: it needs a selection)" + T},
        // Unknown options and subcommands.
        {{"--bogus"}, 2, R"(cannot parse the command line: the following argument was not expected: --bogus)" + T},
        {{"topology", "--bogus"}, 2, R"(cannot parse the command line: the following argument was not expected: --bogus)" + T},
        {{"topology", "1"}, 2, R"(cannot parse the command line: the following argument was not expected: 1)" + T},
        {{"topology", "-J", "extra"}, 2, R"(cannot parse the command line: the following argument was not expected: extra)" + T},
        {{"bogus-subcommand"}, 2, R"(cannot parse PID "bogus-subcommand": expected a number from 1 to \d+)" + T},
    };
    ASSERT_GE(rows.size(), 60u);
    matrix::run_table({"paffinity", paffinity_path()}, rows);
    // Nothing was changed by any of them.
    EXPECT_EQ(get_affinity(sleeper.pid()).value(), before);
}

}  // namespace
}  // namespace prockit::test
