// prun speaks GNU parallel: the behaviours a GNU parallel user relies on (lines on stdin make a pool,
// input lines as commands, command strings with shell syntax, exported bash functions, -r, -d, -E,
// -0, --retries, --halt), each run side by side with GNU parallel when it is installed. Where prun
// differs on purpose the test says so and checks prun's own rule.
#include "side_by_side.hpp"

#include <sys/stat.h>

#include <algorithm>

namespace prockit::test {
namespace {

// ---------------------------------------------------------------- stdin makes a pool

TEST(PrunParallel, LinesOnStdinMakeAPool) {
    auto r = prun({"-k", "echo"}, "1\n2\n3\n");
    EXPECT_EQ(r.out, "1\n2\n3\n") << r.err;
    EXPECT_EQ(r.code, 0);
    // Without -k too: the pool runs all three, in some order.
    r = prun({"echo", "got"}, "a\nb\nc\n");
    auto l = lines(r.out);
    std::sort(l.begin(), l.end());
    EXPECT_EQ(l, (std::vector<std::string>{"got a", "got b", "got c"})) << r.err;
    SKIP_WITHOUT_GNU_PARALLEL();
    expect_same({"-k", "echo"}, "1\n2\n3\n");
    expect_same({"-k", "echo", "x{}y"}, "a b\nc\n");
}

TEST(PrunParallel, StdinCountsOnlyWhenItHoldsInput) {
    // An empty file (as /dev/null or a terminal) on stdin: one command, as before.
    auto r = prun({"echo", "once"}, "");
    EXPECT_EQ(r.out, "once\n");
    EXPECT_EQ(r.code, 0);
    // A one-command exit status, not a pool's count.
    r = prun({"sh", "-c", "exit 3"}, "");
    EXPECT_EQ(r.code, 3);
    // --single: stdin is the command's, even when it holds data; the one-command exit contract.
    r = prun({"--single", "sh", "-c", "cat; exit 4"}, "for the command\n");
    EXPECT_EQ(r.out, "for the command\n");
    EXPECT_EQ(r.code, 4);
    // --daemon and --restart are one command's: stdin does not make them a pool.
    r = prun({"--restart", "no", "--single", "cat"}, "x\n");
    EXPECT_EQ(r.out, "x\n");
    // --single with an explicit pool input is a contradiction: a pool's usage error.
    r = prun({"--single", "echo", ":::", "a"});
    EXPECT_EQ(r.code, 255);
    EXPECT_NE(r.err.find("cannot use --single with a pool input"), std::string::npos) << r.err;
    // ::: wins over stdin: stdin is then left to the jobs, as GNU parallel leaves it.
    r = prun({"-k", "echo", ":::", "a"}, "not an input\n");
    EXPECT_EQ(r.out, "a\n");
}

TEST(PrunParallel, EmptyStdinPipeIsAnEmptyPool) {
    // An empty *pipe* is still a pool input (it cannot be told from a slow one without reading):
    // prun's rule for an empty pool applies (255 unless -r; GNU parallel runs nothing, 0).
    auto r = run_program("/bin/sh", {"-c", "true | '" + prun_path() + "' echo x; echo rc=$?"});
    EXPECT_NE(r.out.find("rc=255"), std::string::npos) << r.out << r.err;
    EXPECT_NE(r.err.find("the input is empty"), std::string::npos) << r.err;
    r = run_program("/bin/sh", {"-c", "true | '" + prun_path() + "' -r echo x; echo rc=$?"});
    EXPECT_EQ(r.out, "rc=0\n") << r.err;
    r = run_program("/bin/sh", {"-c", "echo data | '" + prun_path() + "' --single cat; echo rc=$?"});
    EXPECT_EQ(r.out, "data\nrc=0\n") << r.err;
}

// ---------------------------------------------------------------- --dry-run and the joblog

TEST(PrunParallel, DryRunLeavesTheJoblogAlone) {
    TempDir d;
    std::string log = d / "log";
    spit(log, "kept as it was\n");
    auto r = prun({"--dry-run", "--joblog", log, "-k", "echo", ":::", "a", "b"});
    EXPECT_EQ(r.out, "echo a\necho b\n");
    EXPECT_EQ(r.code, 0);
    EXPECT_EQ(slurp(log), "kept as it was\n");
    std::string none = d / "none";
    r = prun({"--dry-run", "--joblog", none, "echo"}, "1\n2\n");
    EXPECT_EQ(r.code, 0) << r.err;
    struct stat st {};
    EXPECT_NE(stat(none.c_str(), &st), 0) << "a dry run created the joblog";
    SKIP_WITHOUT_GNU_PARALLEL();
    expect_same({"--dry-run", "-k", "echo"}, "1\n2\n3\n");
}

// ---------------------------------------------------------------- no command, shell syntax

TEST(PrunParallel, WithoutACommandEachInputIsACommandLine) {
    auto r = prun({"-k"}, "echo a\necho b | tr b c\n");
    EXPECT_EQ(r.out, "a\nc\n") << r.err;
    r = prun({"-k", ":::", "echo one", "echo two; echo three"});
    EXPECT_EQ(r.out, "one\ntwo\nthree\n") << r.err;
    SKIP_WITHOUT_GNU_PARALLEL();
    expect_same({"-k"}, "echo a\necho b | tr b c\n");
    expect_same({"-k", ":::", "echo one", "echo two; echo three", "exit 3"});
}

TEST(PrunParallel, OneWordWithShellSyntaxRunsThroughTheShellWithValuesQuoted) {
    TempDir d;
    std::string marker = d / "marker";
    // The value is quoted: $(...) in an input is text, not a command.
    auto r = prun({"-k", "echo {} && echo x{}x", ":::", "a  b", "it's", "$(touch " + marker + ")"});
    EXPECT_EQ(r.out, "a  b\nxa  bx\nit's\nxit'sx\n$(touch " + marker + ")\nx$(touch " + marker + ")x\n") << r.err;
    EXPECT_EQ(r.code, 0);
    struct stat st {};
    EXPECT_NE(stat(marker.c_str(), &st), 0) << "an input was run as a command";
    // A template without replacement strings gets the value appended, quoted.
    r = prun({"-k", "echo pre", ":::", "a b"});
    EXPECT_EQ(r.out, "pre a b\n");
    SKIP_WITHOUT_GNU_PARALLEL();
    expect_same({"-k", "echo {} && echo x{}x", ":::", "a  b", "it's", "$(echo no)", "*"});
    expect_same({"-k", "echo pre", ":::", "a b"});
    expect_same({"-k", "test {} = a || exit 7", ":::", "a", "b"});
}

TEST(PrunParallel, AShellOperatorWordRunsThroughTheShell) {
    auto r = prun({"-k", "echo", "{}", "|", "tr", "a-z", "A-Z", ":::", "ab", "c"});
    EXPECT_EQ(r.out, "AB\nC\n") << r.err;
    SKIP_WITHOUT_GNU_PARALLEL();
    expect_same({"-k", "echo", "{}", "|", "tr", "a-z", "A-Z", ":::", "ab", "c"});
    expect_same({"-k", "echo", "{}", "&&", "echo", "then", ":::", "x"});
}

TEST(PrunParallel, PlainWordsAreExecdDirectly) {
    // Deliberate difference: several plain words are exec'd, one argument per word, so a word with
    // a space stays one argument (GNU parallel's shell would split it) and nothing is globbed.
    auto r = prun({"-k", "printf", "[%s]", "x y", "{}", ":::", "a", "*"});
    EXPECT_EQ(r.out, "[x y][a][x y][*]") << r.err;
    // --shell gives GNU parallel's reading.
    r = prun({"-k", "--shell", "printf", "[%s]", "x y", "{}", ":::", "a"});
    EXPECT_EQ(r.out, "[x][y][a]") << r.err;
    // --no-shell: a one-word template with a space is a program name, which is not there.
    r = prun({"--no-shell", "echo a", ":::", "b"});
    EXPECT_EQ(r.code, 255);
    EXPECT_NE(r.err.find("echo a"), std::string::npos) << r.err;
    r = prun({"--shell", "--no-shell", "echo", ":::", "b"});
    EXPECT_EQ(r.code, 255);
    SKIP_WITHOUT_GNU_PARALLEL();
    auto b = both({"-k", "printf", "[%s]", "x y", "{}", ":::", "a"});
    EXPECT_EQ(b.theirs.out, "[x][y][a]");
}

TEST(PrunParallel, ExportedBashFunctionsRun) {
    if (access("/bin/bash", X_OK) != 0) GTEST_SKIP() << "bash is not installed";
    auto script = [](const std::string& tool) {
        return "greet() { echo \"hello $1\"; }; export -f greet; " + tool + " -k greet ::: a b; echo rc=$?; " + tool +
               " -k 'greet {} | tr a-z A-Z' ::: c";
    };
    auto r = run_program("/bin/bash", {"-c", script("'" + prun_path() + "'")});
    EXPECT_EQ(r.out, "hello a\nhello b\nrc=0\nHELLO C\n") << r.err;
    SKIP_WITHOUT_GNU_PARALLEL();
    auto t = run_program("/bin/bash", {"-c", script(gnu_parallel() + " --will-cite")});
    EXPECT_EQ(r.out, t.out);
}

// ---------------------------------------------------------------- input options

TEST(PrunParallel, NoRunIfEmptySkipsBlankValues) {
    auto r = prun({"-r", "-k", "echo", "x{}x"}, "a\n \n\nb\n");
    EXPECT_EQ(r.out, "xax\nxbx\n") << r.err;
    // A skipped value gets no job number; with several sources one blank value skips the job.
    r = prun({"-r", "-k", "echo", "{#}", "{}", ":::", "a", "  ", "b"});
    EXPECT_EQ(r.out, "1 a\n2 b\n");
    r = prun({"-r", "-k", "echo", "{1}-{2}", ":::", "a", "", ":::", "", "x"});
    EXPECT_EQ(r.out, "a-x\n");
    // Without -r a blank line is a value.
    r = prun({"-k", "echo", "x{}x"}, "a\n\n");
    EXPECT_EQ(r.out, "xax\nxx\n");
    SKIP_WITHOUT_GNU_PARALLEL();
    expect_same({"-r", "-k", "echo", "x{}x"}, "a\n \n\nb\n");
    expect_same({"-r", "-k", "echo", "{#}", "{}", ":::", "a", "  ", "b"});
    expect_same({"-r", "-k", "echo", "{1}-{2}", ":::", "a", "", ":::", "", "x"});
    expect_same({"-k", "echo", "x{}x"}, "a\n\n");
}

TEST(PrunParallel, DelimiterSplitsInputs) {
    auto r = prun({"-k", "-d", ",", "echo", "[{}]"}, "a,b,c");
    EXPECT_EQ(r.out, "[a]\n[b]\n[c]\n") << r.err;
    r = prun({"-k", "-d", "\\t", "echo", "[{}]"}, "a b\tc\t");
    EXPECT_EQ(r.out, "[a b]\n[c]\n") << r.err;
    r = prun({"-d", "ab", "echo"}, "x");
    EXPECT_EQ(r.code, 255);
    r = prun({"-d", ",", "-0", "echo"}, "x");
    EXPECT_EQ(r.code, 255);
    r = prun({"--single", "-d", ",", "echo"});
    EXPECT_EQ(r.code, 2) << "-d is a pool's option";
    SKIP_WITHOUT_GNU_PARALLEL();
    expect_same({"-k", "-d", ",", "echo", "[{}]"}, "a,b,c");
    expect_same({"-k", "-d", ",", "echo", "[{}]"}, "a,b,c\n");
    expect_same({"-k", "-d", "\\t", "echo", "[{}]"}, "a b\tc\t");
    expect_same({"-k", "-d", "\\054", "echo", "[{}]"}, "a,b");
}

TEST(PrunParallel, EofStringEndsTheInput) {
    auto r = prun({"-k", "-E", "STOP", "echo"}, "a\nb\nSTOP\nc\n");
    EXPECT_EQ(r.out, "a\nb\n") << r.err;
    r = prun({"-k", "-E", "b", "echo", ":::", "a", "b", "c"});
    EXPECT_EQ(r.out, "a\n");
    SKIP_WITHOUT_GNU_PARALLEL();
    expect_same({"-k", "-E", "STOP", "echo"}, "a\nb\nSTOP\nc\n");
    expect_same({"-k", "-E", "b", "echo", ":::", "a", "b", "c"});
    expect_same({"-k", "-E", "b", "echo", ":::", "a", "b", "c", ":::", "1", "2"});
}

TEST(PrunParallel, NulSeparatedInputKeepsNewlines) {
    // -0: a newline is part of a value, a trailing one after the last NUL included.
    auto r = prun({"-0", "-k", "echo", "x{}x"}, std::string("a\0b\n\0", 5));
    EXPECT_EQ(r.out, "xax\nxb\nx\n") << r.err;
    SKIP_WITHOUT_GNU_PARALLEL();
    expect_same({"-0", "-k", "echo", "x{}x"}, std::string("a\0b\n\0", 5));
    expect_same({"-0", "-k", "echo", "x{}x"}, std::string("a\0b\0\n", 5));
    expect_same({"-0", "-k", "echo", "x{}x"}, std::string("a\0b", 3));
}

// ---------------------------------------------------------------- retries, halt, signals

TEST(PrunParallel, RetriesRerunTheSameExpandedCommand) {
    TempDir d;
    std::string count = d / "count";
    auto r = prun({"--retries", "3", "echo try{} >> " + count + "; echo out{}; exit 1", ":::", "a"});
    EXPECT_EQ(r.code, 1);
    EXPECT_EQ(slurp(count), "trya\ntrya\ntrya\n");
    // Only the last attempt's output is printed, as GNU parallel prints it.
    EXPECT_EQ(r.out, "outa\n");
    // A job that succeeds on a later attempt counts as a success.
    std::string flag = d / "flag";
    r = prun({"--retries", "2", "if test -e " + flag + "{}; then echo ok{}; else touch " + flag + "{}; exit 1; fi", ":::", "x"});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, "okx\n");
    SKIP_WITHOUT_GNU_PARALLEL();
    std::string theirs = d / "theirs";
    auto t = run_program(gnu_parallel(), {"--will-cite", "--retries", "3", "echo try{} >> " + theirs + "; echo out{}; exit 1", ":::", "a"});
    EXPECT_EQ(t.code, 1);
    EXPECT_EQ(slurp(theirs), "trya\ntrya\ntrya\n");
    EXPECT_EQ(t.out, "outa\n");
}

TEST(PrunParallel, HaltAndExitValues) {
    // The number of failed jobs; 101 for more than 100; a job killed by a signal is one failure.
    auto r = prun({"exit {}", ":::", "0", "1", "2"});
    EXPECT_EQ(r.code, 2);
    r = prun({"kill -9 $$", ":::", "1"});
    EXPECT_EQ(r.code, 1);
    // --halt now,fail=1: the failing job's status, 128+N for a signal.
    r = prun({"-j1", "--halt", "now,fail=1", "kill -9 $$", ":::", "1"});
    EXPECT_EQ(r.code, 137);
    r = prun({"--halt", "soon,fail=1", "exit {}", ":::", "0", "5"});
    EXPECT_EQ(r.code, 5);
    // prun's own errors: 255.
    r = prun({"--halt", "sometimes", "echo", ":::", "a"});
    EXPECT_EQ(r.code, 255);
    SKIP_WITHOUT_GNU_PARALLEL();
    expect_same({"exit {}", ":::", "0", "1", "2"});
    expect_same({"kill -9 $$", ":::", "1"});
    expect_same({"-j1", "--halt", "now,fail=1", "kill -9 $$", ":::", "1"});
    expect_same({"--halt", "soon,fail=1", "exit {}", ":::", "0", "5"});
    for (const char* h : {"soon,fail=2", "now,fail=2", "now,fail=1", "soon,fail=1", "now,done=1", "soon,done=2"})
        expect_same({"-j1", "--halt", h, "exit {}", ":::", "3", "4", "0"});
    expect_same({"--halt", "sometimes", "echo", ":::", "a"});
    std::vector<std::string> many{"exit 1", ":::"};
    for (int i = 0; i < 101; ++i) many.push_back(std::to_string(i));
    expect_same(many);
}

// ---------------------------------------------------------------- several arguments per job

TEST(PrunParallel, SeveralArgumentsPerJob) {
    // -n: up to N inputs, appended or where {} is (a word holding {} becomes one word per input).
    auto r = prun({"-k", "-n2", "echo", "x{}y", ":::", "a", "b", "c"});
    EXPECT_EQ(r.out, "xa by\nxcy\n") << r.err;
    r = prun({"-k", "-n2", "printf", "[%s]", "x{}y", ":::", "a", "b", "c"});
    EXPECT_EQ(r.out, "[xa][by][xcy]") << r.err;
    // -X repeats the word per input; -N numbers them {1}..{N} (missing ones are empty).
    r = prun({"-k", "-X", "-j1", "printf", "[%s]", "x{}y", ":::", "a", "b c"});
    EXPECT_EQ(r.out, "[xay][xb cy]") << r.err;
    r = prun({"-k", "-N2", "echo", "{2}-{1}", ":::", "a", "b", "c"});
    EXPECT_EQ(r.out, "b-a\n-c\n") << r.err;
    // -m spreads the inputs over the slots when they fit in fewer command lines.
    r = prun({"-k", "-j2", "-m", "echo", ":::", "a", "b", "c"});
    EXPECT_EQ(r.out, "a b\nc\n") << r.err;
    r = prun({"-k", "-L2", "echo"}, "a\nb\nc\n");
    EXPECT_EQ(r.out, "a b\nc\n") << r.err;
    SKIP_WITHOUT_GNU_PARALLEL();
    for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
             {"-k", "-n2", "echo", "x{}y", ":::", "a", "b", "c"},
             {"-k", "-j2", "-m", "echo", "x{}y", ":::", "a", "b", "c"},
             {"-k", "-j2", "-X", "echo", "x{}y", "{#}", ":::", "a", "b", "c"},
             {"-k", "-N2", "echo", "{2}-{1}", ":::", "a", "b", "c"},
             {"-k", "-n2", "echo", ":::", "a", "b", "c"},
             {"-j1", "-k", "-m", "echo", ":::", "a", "b", "c"},
             {"-k", "-N2", "echo", ":::", "a", "b", "c"},
             {"-k", "-n2", "echo", "{}", "{#}", ":::", "a", "b", "c", "d", "e"},
             {"-k", "-n2", "printf", "[%s]", "x{}y", ":::", "a", "b", "c"},
             {"-k", "-X", "-j1", "printf", "[%s]", "x{}y", ":::", "a", "b c"},
             {"-k", "-n2", "echo {} | tr a-z A-Z", ":::", "a", "b", "c"}})
        expect_same(args);
    expect_same({"-k", "-L2", "echo"}, "a\nb\nc\n");
}

TEST(PrunParallel, MaxCharsCountsAsXargsDoes) {
    // Every word plus its NUL, the command included: the same command lines as xargs -s.
    std::string input;
    for (int i = 1; i <= 3000; ++i) input += std::to_string(i) + "\n";
    auto ours = prun({"-k", "-j1", "-m", "-s", "1000", "echo"}, input);
    auto xargs = run_program("/usr/bin/xargs", {"-s", "1000", "echo"}, input);
    EXPECT_EQ(ours.code, 0) << ours.err;
    EXPECT_EQ(ours.out, xargs.out);
    for (const auto& l : lines(ours.out)) EXPECT_LE(l.size() + 1 + 5, 1000u) << l;
    // The default: the system's limit, as xargs sizes it.
    for (int i = 3001; i <= 100000; ++i) input += std::to_string(i) + "\n";
    ours = prun({"-k", "-j1", "-X", "echo"}, input);
    xargs = run_program("/usr/bin/xargs", {"echo"}, input);
    EXPECT_EQ(ours.out, xargs.out);
    EXPECT_GT(lines(ours.out).size(), 1u);
    // One input longer than -s still runs, alone.
    ours = prun({"-k", "-m", "-s", "10", "echo", ":::", "a-long-argument", "b"});
    EXPECT_EQ(ours.out, "a-long-argument\nb\n") << ours.err;
}

TEST(PrunParallel, SeveralArgumentsPerJobRefusals) {
    auto r = prun({"-n2", "echo", ":::", "a", ":::", "b"});
    EXPECT_EQ(r.code, 255);
    EXPECT_NE(r.err.find("several input sources"), std::string::npos) << r.err;
    r = prun({"-n2", "-X", "echo", ":::", "a"});
    EXPECT_EQ(r.code, 255);
    r = prun({"--pipe", "-n2", "cat"}, "a\n");
    EXPECT_EQ(r.code, 255);
    r = prun({"--single", "-X", "echo"});
    EXPECT_EQ(r.code, 2);
    r = prun({"-N2", "echo", "{3}", ":::", "a"});
    EXPECT_EQ(r.code, 255);
}

// ---------------------------------------------------------------- -I

TEST(PrunParallel, ReplaceStringStandsForTheInput) {
    // -I STR: STR is the input, {} is plain text, {.} keeps its meaning.
    auto r = prun({"-k", "-I", ",,", "echo", ",,", "{}", "{.}", "x,,y", ":::", "a.c", "b"});
    EXPECT_EQ(r.out, "a.c {} a xa.cy\nb {} b xby\n") << r.err;
    r = prun({"-k", "-i", "echo", "<{}>", ":::", "a"});
    EXPECT_EQ(r.out, "<a>\n") << r.err;
    r = prun({"--single", "-I", "X", "echo", "X"});
    EXPECT_EQ(r.code, 2);
    SKIP_WITHOUT_GNU_PARALLEL();
    expect_same({"-k", "-I", ",,", "echo", ",,", "{}", "{.}", "x,,y", ":::", "a.c", "b"});
    expect_same({"-k", "--replace", "@", "echo {} @ | tr a-z A-Z", ":::", "a"});
}

// ---------------------------------------------------------------- GNU parallel's spellings

TEST(PrunParallel, GnuParallelSpellings) {
    TempDir d;
    std::string log = d / "jl";
    auto r = prun({"--dryrun", "-P", "2", "--keeporder", "--jl", log, "echo", ":::", "a", "b"});
    EXPECT_EQ(r.out, "echo a\necho b\n") << r.err;
    EXPECT_EQ(r.code, 0);
    r = prun({"-P2", "--keeporder", "--tag-string", "<{}>", "--linebuffer", "echo", ":::", "a", "b"});
    EXPECT_EQ(r.out, "<a>\ta\n<b>\tb\n") << r.err;
    r = prun({"--jl", log, "-k", "echo", ":::", "x"});
    EXPECT_EQ(lines(slurp(log)).size(), 2u);
    r = prun({"--pipe", "--blocksize", "2", "-k", "wc", "-l"}, "a\nb\nc\n");
    EXPECT_EQ(r.out, "1\n1\n1\n") << r.err;
    SKIP_WITHOUT_GNU_PARALLEL();
    expect_same({"--dryrun", "-P", "2", "--keeporder", "echo", ":::", "a", "b"});
    expect_same({"-P2", "--keeporder", "--tag-string", "<{}>", "--linebuffer", "echo", ":::", "a", "b"});
}

TEST(PrunParallel, JoblogPlusFileAppends) {
    TempDir d;
    std::string log = d / "jl";
    auto r = prun({"--joblog", log, "echo", ":::", "a"});
    EXPECT_EQ(r.code, 0) << r.err;
    r = prun({"--joblog", "+" + log, "echo", ":::", "b"});
    EXPECT_EQ(r.code, 0) << r.err;
    auto l = lines(slurp(log));
    ASSERT_EQ(l.size(), 3u) << slurp(log);  // one header, two jobs
    EXPECT_EQ(columns(l[1]).back(), "echo a");
    EXPECT_EQ(columns(l[2]).back(), "echo b");
    r = prun({"--joblog", "-", "echo", ":::", "a"});
    EXPECT_EQ(r.code, 0) << "--joblog - writes to stdout (PrunParallelA.JoblogOnStdout)";
    SKIP_WITHOUT_GNU_PARALLEL();
    std::string theirs = d / "theirs";
    (void)run_program(gnu_parallel(), {"--will-cite", "--joblog", theirs, "echo", ":::", "a"});
    (void)run_program(gnu_parallel(), {"--will-cite", "--joblog", "+" + theirs, "echo", ":::", "b"});
    EXPECT_EQ(lines(slurp(theirs)).size(), 3u);
}

TEST(PrunParallel, EnvPassesAVariableByName) {
    auto r = run_program("/bin/sh", {"-c", "FOO=bar exec '" + prun_path() + "' --clear-env --env FOO --env _ -k 'echo $FOO' ::: 1"});
    EXPECT_EQ(r.out, "bar 1\n") << r.err;
    EXPECT_EQ(r.code, 0);
}

TEST(PrunParallel, ParallelEnvironmentVariableHoldsDefaultOptionsForPools) {
    auto with_env = [](const std::string& value, const std::string& line) {
        return run_program("/bin/sh", {"-c", "PARALLEL='" + value + "' exec '" + prun_path() + "' " + line});
    };
    auto r = with_env("-k --tag-string x\\ y", "echo ::: a b");
    EXPECT_EQ(r.out, "x y\ta\nx y\tb\n") << r.err;
    // One command is left alone: -j4 there would have made it a pool.
    r = with_env("-j4", "echo single < /dev/null");
    EXPECT_EQ(r.out, "single\n") << r.err;
    EXPECT_EQ(r.code, 0);
    SKIP_WITHOUT_GNU_PARALLEL();
    auto t = run_program("/bin/sh", {"-c", "PARALLEL='-k --tag-string x\\ y' exec " + gnu_parallel() + " --will-cite echo ::: a b"});
    EXPECT_EQ(r.code, 0);
    EXPECT_EQ(t.out, "x y\ta\nx y\tb\n");
}

}  // namespace
}  // namespace prockit::test
