// prun as a parallel pool: inputs, replacement strings, output modes, policies, joblog, signals,
// and the common subset with GNU parallel, run side by side when it is installed.
#include "prun_support.hpp"

#include <fcntl.h>
#include <prockit/sys/unique_fd.hpp>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <sstream>

namespace prockit::test {
namespace {

/// A script that exits with its first argument.
struct ExitScript {
    TempDir d;
    std::string path = d / "exit-with";
    ExitScript() {
        spit(path, "#!/bin/sh\nexit \"$1\"\n");
        chmod(path.c_str(), 0755);
    }
};

// ---------------------------------------------------------------- GNU parallel side by side

struct Case {
    Case(std::vector<std::string> a, std::string i = {}) : args(std::move(a)), input(std::move(i)) {}
    std::vector<std::string> args;
    std::string input;
};

void same_as_gnu_parallel(const Case& c) {
    auto ours = prun(c.args, c.input);
    if (!have_gnu_parallel()) GTEST_SKIP() << "GNU parallel is not installed: compared with prun's own expectations only";
    auto theirs = run_program("parallel", c.args, c.input, std::chrono::seconds(120));
    EXPECT_EQ(ours.out, theirs.out) << ::testing::PrintToString(c.args);
    EXPECT_EQ(ours.code, theirs.code) << ::testing::PrintToString(c.args) << "\nprun: " << ours.err
                                      << "\nparallel: " << theirs.err;
}

TEST(PrunGnuParallel, ReplacementStrings) {
    auto r = prun({"-k", "echo", "{}", "{.}", "{/}", "{//}", "{/.}", ":::", "a/b.c", "x", "/x", ".bashrc", "a/b/"});
    EXPECT_EQ(r.out, "a/b.c a/b b.c a b\nx x x . x\n/x /x x / x\n.bashrc  .bashrc . \na/b/ a/b/  a \n");
    same_as_gnu_parallel({{"-k", "echo", "{}", "{.}", "{/}", "{//}", "{/.}", ":::", "a/b.c", "x", "/x", ".bashrc", "a/b/",
                           "dir.d/f"}});
}

TEST(PrunGnuParallel, CrossProductAndPositional) {
    auto r = prun({"-j1", "-k", "echo", "{#}", "{%}", "{2}", "{1}", ":::", "a", "b", ":::", "1", "2"});
    EXPECT_EQ(r.out, "1 1 1 a\n2 1 2 a\n3 1 1 b\n4 1 2 b\n");
    same_as_gnu_parallel({{"-j1", "-k", "echo", "{#}", "{%}", "{2}", "{1}", ":::", "a", "b", ":::", "1", "2"}});
    same_as_gnu_parallel({{"-k", "echo", ":::", "a", "b", ":::", "1", "2", ":::", "x", "y"}});
}

TEST(PrunGnuParallel, LinkedSources) {
    // :::+ pairs a source with the one before it; the shortest ends the pair, and the pair as a
    // whole still crosses the other sources.
    auto r = prun({"-k", "echo", "{1}", "{2}", "{3}", ":::", "a", "b", "c", ":::+", "1", "2", ":::", "X", "Y"});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, "a 1 X\na 1 Y\nb 2 X\nb 2 Y\n");
    same_as_gnu_parallel({{"-k", "echo", "{1}", "{2}", "{3}", ":::", "a", "b", "c", ":::+", "1", "2", ":::", "X", "Y"}});
    // --link pairs every source; the shorter ones wrap around.
    r = prun({"-k", "--link", "echo", ":::", "a", "b", "c", "d", ":::", "1", "2"});
    EXPECT_EQ(r.out, "a 1\nb 2\nc 1\nd 2\n");
    same_as_gnu_parallel({{"-k", "--link", "echo", ":::", "a", "b", "c", "d", ":::", "1", "2"}});
    // ::::+ links a file the same way (and a file given as "-" is standard input).
    TempDir d;
    spit(d / "f", "f1\nf2\nf3\n");
    r = prun({"-k", "echo", "{1}={2}", ":::", "A", "B", "::::+", d / "f"});
    EXPECT_EQ(r.out, "A=f1\nB=f2\n");
    same_as_gnu_parallel({{"-k", "echo", "{1}={2}", ":::", "A", "B", "::::+", d / "f"}});
    same_as_gnu_parallel({{"-k", "echo", "{1}-{2}", "::::", "-", ":::+", "x", "y"}, "l1\nl2\nl3\n"});
    // --link with standard input as the one source (-a -).
    r = prun({"-k", "--link", "-a", "-", "echo", "X"}, "a\nb\n");
    EXPECT_EQ(r.out, "X a\nX b\n");
    same_as_gnu_parallel({{"-k", "--link", "-a", "-", "echo", "X"}, "a\nb\n"});
    // :::+ after an -a file links to that file (GNU parallel would cross them; documented).
    r = prun({"-k", "-a", d / "f", "echo", ":::+", "x", "y"});
    EXPECT_EQ(r.out, "f1 x\nf2 y\n");
    // Nothing to link to.
    r = prun({"echo", "::::+", d / "f"});
    EXPECT_EQ(r.code, 255);
    EXPECT_NE(r.err.find("::::+: it links to the input source before it"), std::string::npos) << r.err;
    r = prun({"echo", ":::", "a", ":::+"});
    EXPECT_EQ(r.code, 255);
    EXPECT_NE(r.err.find("(:::+): it is empty"), std::string::npos) << r.err;
}

TEST(PrunGnuParallel, PipeSpreadsStdinInBlocks) {
    std::string input;
    for (int i = 1; i <= 20000; ++i) input += std::to_string(i) + "\n";
    // Every byte reaches exactly one job, in order with -k, cut only between lines.
    auto r = prun({"-j3", "-k", "--pipe", "--block", "10k", "cat"}, input);
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, input);
    // Blocks of at most 10,000 bytes of whole lines: the same cuts as GNU parallel's.
    r = prun({"-k", "--pipe", "--block", "10k", "wc", "-l"}, input);
    std::size_t total = 0, jobs = 0;
    for (const auto& l : lines(r.out)) total += std::stoul(l), ++jobs;
    EXPECT_EQ(total, 20000u);
    EXPECT_EQ(jobs, 11u);  // 108,894 bytes
    same_as_gnu_parallel({{"-k", "--pipe", "--block", "10k", "wc", "-l"}, input});
    same_as_gnu_parallel({{"-k", "--pipe", "--block", "1K", "--tagstring", "{#}", "wc", "-c"}, input.substr(0, 5000)});
    // -0: NUL-terminated records.
    r = prun({"-k", "-0", "--pipe", "--block", "4", "wc", "-c"}, std::string("ab\0cd\0ef\0", 9));
    EXPECT_EQ(r.out, "3\n3\n3\n");
    // The joblog's Send column holds each block's size.
    TempDir d;
    r = prun({"-j1", "--pipe", "--block", "6", "--joblog", d / "log", "cat"}, "aa\nbb\ncc\n");
    EXPECT_EQ(r.out, "aa\nbb\ncc\n");
    auto log = lines(slurp(d / "log"));
    ASSERT_EQ(log.size(), 3u);
    EXPECT_EQ(log[1].substr(0, log[1].find('\t')), "1");
    std::vector<std::string> cols;
    std::istringstream row(log[1]);
    for (std::string c; std::getline(row, c, '\t');) cols.push_back(c);
    ASSERT_GE(cols.size(), 5u);
    EXPECT_EQ(cols[4], "6");  // "aa\nbb\n"
}

TEST(PrunPool, PipeBadInput) {
    auto usage = [](const std::vector<std::string>& args, const std::string& input, const std::string& what) {
        auto r = prun(args, input);
        EXPECT_EQ(r.code, 255) << ::testing::PrintToString(args);
        EXPECT_NE(r.err.find(what), std::string::npos) << r.err;
        EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    };
    usage({"--pipe", "echo", "{}"}, "x\n", "cannot use input replacement strings with --pipe");
    usage({"--pipe", "--name", "{1}", "cat"}, "x\n", "--name with --pipe: it can use only {#} and {%}");
    usage({"--pipe", "wc", ":::", "a"}, "", "cannot use input sources (:::, ::::, -a) with --pipe");
    usage({"--pipe", "-a", "/dev/null", "wc"}, "", "cannot use input sources (:::, ::::, -a) with --pipe");
    usage({"--pipe"}, "x\n", "cannot use --pipe: no command to run");
    usage({"--pipe", "--block", "0", "wc"}, "x\n", "cannot parse --block \"0\": expected a size");
    usage({"--pipe", "--block", "1Q", "wc"}, "x\n", "--block \"1Q\"");
    usage({"--block", "1M", "echo", ":::", "a"}, "", "cannot use --block without --pipe");
    // Empty input: an error unless -r, as for any pool.
    EXPECT_EQ(prun({"--pipe", "wc"}, "").code, 255);
    EXPECT_EQ(prun({"-r", "--pipe", "wc"}, "").code, 0);
    usage({"--pipe", "--block", "3G", "wc"}, "x\n", "at most 2 GiB - 1");
    usage({"--pipe", "echo", "{2}"}, "x\n", "cannot use input replacement strings with --pipe");
    EXPECT_EQ(prun({"--pipe", "--block", "1.5K", "wc", "-c"}, std::string(2000, 'x') + "\n").out, "2001\n");
    // A read error is one message (not also "the input is empty").
    auto rd = run_program(prun_path(), {"--pipe", "cat"}, {}, std::chrono::seconds(60),
                          [](Command& c) { c.in(Stdio::file("/tmp", O_RDONLY)); });
    EXPECT_EQ(rd.code, 255);
    EXPECT_EQ(rd.err, "prun: cannot read standard input: Is a directory\n");
    // --eta with --pipe: counts only, the number of blocks is not known ahead.
    auto eta = prun({"-j2", "--pipe", "--block", "2", "--eta", "cat"}, "a\nb\nc\n");
    EXPECT_EQ(eta.code, 0);
    EXPECT_NE(eta.err.find("prun: 3 done, 0 running, 0 failed"), std::string::npos) << eta.err;
    EXPECT_EQ(eta.err.find('%'), std::string::npos) << eta.err;
    // A job's name is "block N" (in warnings, --tag).
    auto tagged = prun({"-k", "--tag", "--pipe", "--block", "2", "cat"}, "a\nb\n");
    EXPECT_EQ(tagged.out, "block 1\ta\nblock 2\tb\n");
    // A job that reads nothing does not stall the others.
    auto r = prun({"-j2", "-k", "--pipe", "--block", "3", "sh", "-c", "exit 0"}, "a\nb\nc\nd\n");
    EXPECT_EQ(r.code, 0);
}

// --pipe with $TMPDIR on a full file system: one message, no more jobs started, exit status 1.
TEST(PrunPool, PipeBlocksOnAFullDisk) {
    TempDir d;
    std::string mnt = d / "small";
    mkdir(mnt.c_str(), 0700);
    if (mount("prun-test", mnt.c_str(), "tmpfs", 0, "size=64k") != 0)
        GTEST_SKIP() << "cannot mount a small tmpfs here: " << std::strerror(errno);
    struct Unmount {
        std::string path;
        ~Unmount() { umount2(path.c_str(), MNT_DETACH); }
    } unmount{mnt};
    std::string input;
    for (int i = 0; i < 40000; ++i) input += std::to_string(i) + "\n";  // ~230 KB: blocks of 100 KB
    auto r = run_program(prun_path(), {"-j1", "--pipe", "--block", "100k", "wc", "-l"}, input, std::chrono::seconds(60),
                         [&](Command& c) { c.env("TMPDIR", mnt); });
    EXPECT_EQ(r.code, 255) << r.err;
    EXPECT_EQ(r.err, "prun: cannot write a --pipe block to a temporary file: No space left on device\n");
    EXPECT_EQ(r.out, "");
}

TEST(PrunGnuParallel, FilesStdinAndNul) {
    TempDir d;
    spit(d / "f", "l1\nl2\n");
    same_as_gnu_parallel({{"-k", "echo", "::::", d / "f"}});
    same_as_gnu_parallel({{"-k", "echo", ":::", "x", "y", "::::", d / "f"}});
    same_as_gnu_parallel({{"-k", "-a", d / "f", "echo", "got"}});
    same_as_gnu_parallel({{"-k", "-j2", "echo", "in"}, "s1\ns2\ns3\n"});
    same_as_gnu_parallel({{"-k", "-0", "-a", "-", "echo"}, std::string("a b\0c\0", 6)});
}

TEST(PrunGnuParallel, KeepOrderAndTag) {
    same_as_gnu_parallel({{"-k", "--tag", "echo", ":::", "a", "b c"}});
    same_as_gnu_parallel({{"-k", "--tag", "echo", ":::", "a", ":::", "1", "2"}});
    auto r = prun({"-k", "--tagstring", "job{#}:{2}", "echo", "{1}", ":::", "a", "b", ":::", "x"});
    EXPECT_EQ(r.out, "job1:x\ta\njob2:x\tb\n");
    same_as_gnu_parallel({{"-k", "--tagstring", "job{#}:{2}", "echo", "{1}", ":::", "a", "b", ":::", "x"}});
    same_as_gnu_parallel({{"-k", "--line-buffer", "--tagstring", "<{}>", "seq", ":::", "2", "3"}});
    // --tagstring is the tag; --name stays the name (joblog).
    TempDir d;
    r = prun({"-k", "--name", "n{}", "--tagstring", "t{}", "--joblog", d / "log", "echo", ":::", "a"});
    EXPECT_EQ(r.out, "ta\ta\n");
    EXPECT_NE(slurp(d / "log").find("echo a"), std::string::npos);
    // One command: the text as given.
    r = prun({"--tagstring", "web", "--", "sh", "-c", "echo out; echo err >&2"});
    EXPECT_EQ(r.out, "web\tout\n");
    EXPECT_EQ(r.err, "web\terr\n");
    r = prun({"--tagstring", "{3}", "echo", ":::", "a"});
    EXPECT_EQ(r.code, 255);
    EXPECT_NE(r.err.find("cannot parse --tagstring"), std::string::npos) << r.err;
    r = prun({"-u", "--tagstring", "x", "echo", ":::", "a"});
    EXPECT_EQ(r.code, 255);
    EXPECT_NE(r.err.find("cannot use --tagstring with --ungroup: it needs --group or --line-buffer"), std::string::npos) << r.err;
}

TEST(PrunGnuParallel, ExitStatus) {
    ExitScript s;
    same_as_gnu_parallel({{"-j2", s.path, ":::", "0", "3", "4"}});
    same_as_gnu_parallel({{"-j1", "--halt", "now,fail=1", s.path, ":::", "0", "5", "4"}});
    same_as_gnu_parallel({{"-j1", "--halt", "soon,fail=2", s.path, ":::", "0", "5", "6", "7"}});
    same_as_gnu_parallel({{"-j1", "--halt", "now,success=1", s.path, ":::", "3", "0", "4"}});
    std::vector<std::string> many{"-j2", s.path, ":::"};
    for (int i = 0; i < 105; ++i) many.push_back("1");
    auto r = prun(many);
    EXPECT_EQ(r.code, 101);
}

TEST(PrunGnuParallel, JoblogColumns) {
    TempDir d;
    ExitScript s;
    auto r = prun({"-j1", "--joblog", d / "ours", s.path, ":::", "0", "3"});
    EXPECT_EQ(r.code, 1);
    auto ours = lines(slurp(d / "ours"));
    ASSERT_EQ(ours.size(), 3u);
    EXPECT_EQ(ours[0], "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand");
    auto c2 = columns(ours[2]);
    ASSERT_EQ(c2.size(), 9u);
    EXPECT_EQ(c2[0], "2");
    EXPECT_EQ(c2[1], ":");
    EXPECT_EQ(c2[6], "3");
    EXPECT_EQ(c2[7], "0");
    EXPECT_EQ(c2[8], s.path + " 3");
    if (!have_gnu_parallel()) GTEST_SKIP() << "GNU parallel is not installed";
    (void)run_program("parallel", {"-j1", "--joblog", d / "theirs", s.path, ":::", "0", "3"});
    auto theirs = lines(slurp(d / "theirs"));
    ASSERT_EQ(theirs.size(), 3u);
    EXPECT_EQ(ours[0], theirs[0]);
    for (std::size_t i = 1; i < 3; ++i) {
        auto a = columns(ours[i]), b = columns(theirs[i]);
        ASSERT_EQ(a.size(), b.size());
        for (std::size_t k : {0u, 1u, 4u, 5u, 6u, 7u, 8u}) EXPECT_EQ(a[k], b[k]) << "column " << k;
        EXPECT_EQ(a[3].size(), b[3].size()) << "JobRuntime width";
    }
}

// ---------------------------------------------------------------- quoting and inputs

TEST(PrunPool, ArbitraryFileNamesAreSafe) {
    std::string input = std::string("a b\0it's\0-rf\0x\ny\0$(false)*\0", 27);
    auto r = prun({"-0", "-k", "-j2", helper(), "argv", "--", "{}"}, input);
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("argv[3]=a b\n"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("argv[3]=it's\n"), std::string::npos);
    EXPECT_NE(r.out.find("argv[3]=-rf\n"), std::string::npos);
    EXPECT_NE(r.out.find("argv[3]=x\ny\n"), std::string::npos);
    EXPECT_NE(r.out.find("argv[3]=$(false)*\n"), std::string::npos);
}

TEST(PrunPool, ShellModeQuotesValues) {
    auto r = prun({"--shell", "-k", "printf '%s|' {}; echo", ":::", "it's", "a b", "$HOME"});
    EXPECT_EQ(r.out, "it's|\na b|\n$HOME|\n");
    r = prun({"-k", ":::", "echo one", "echo two"});  // no template: the inputs are commands
    EXPECT_EQ(r.out, "one\ntwo\n");
}

TEST(PrunPool, JobsForms) {
    for (std::string j : {"1", "50%", "+1", "-1", "0", "200%"}) EXPECT_EQ(prun({"-j", j, "true", ":::", "a", "b"}).code, 0) << j;
    for (std::string j : {"x", "1.5", "%", "+"}) EXPECT_EQ(prun({"-j", j, "true", ":::", "a"}).code, 255) << j;
    EXPECT_EQ(prun({"true", ":::", "a"}).code, 0);  // default: CPUs usable
}

TEST(PrunPool, BadInput) {
    auto one_line = [](const PrunResult& r) { return std::count(r.err.begin(), r.err.end(), '\n') == 1; };
    auto r = prun({"echo", "{..}", ":::", "a"});
    EXPECT_EQ(r.code, 255);
    EXPECT_NE(r.err.find("unknown replacement string {..}"), std::string::npos) << r.err;
    EXPECT_TRUE(one_line(r)) << r.err;
    r = prun({"echo", "{3}", ":::", "a", ":::", "b"});
    EXPECT_EQ(r.code, 255);
    EXPECT_NE(r.err.find("{3}"), std::string::npos);
    r = prun({"echo", ":::"});
    EXPECT_EQ(r.code, 255);
    EXPECT_NE(r.err.find("is empty"), std::string::npos);
    r = prun({"-j2", "echo"}, "");
    EXPECT_EQ(r.code, 255);
    EXPECT_NE(r.err.find("input is empty"), std::string::npos) << r.err;
    EXPECT_EQ(prun({"-r", "-j2", "echo"}, "").code, 0);
    r = prun({"echo", "::::", "/nonexistent/list"});
    EXPECT_EQ(r.code, 255);
    EXPECT_NE(r.err.find("prun: cannot read input file /nonexistent/list"), std::string::npos) << r.err;
    EXPECT_TRUE(one_line(r));
    TempDir d;
    r = prun({"prun-missing-command", "{}", ":::", "a", "b", "--joblog", d / "log"});
    EXPECT_EQ(r.code, 255);  // prun starts nothing: its own error (one command would be 127)
    EXPECT_TRUE(one_line(r)) << r.err;
    r = prun({"", ":::", "a"});
    EXPECT_EQ(r.code, 255);
    r = prun({"{}", ":::", ""});
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("empty command"), std::string::npos) << r.err;
}

// Output prun itself writes (tagged, line-buffered, grouped copies, the joblog) that cannot be
// written — a full disk — is reported once and fails the run even when every job succeeded.
TEST(PrunPool, AFullDiskFailsTheRun) {
    auto to_full = [](Command& c) { c.out(Stdio::file("/dev/full", O_WRONLY)); };
    for (std::vector<std::string> args : {std::vector<std::string>{"-j2", "--tag", "echo", ":::", "a", "b", "c"},
                                          std::vector<std::string>{"-j2", "--line-buffer", "echo", ":::", "a", "b"},
                                          std::vector<std::string>{"--tag", "--", "echo", "single"},
                                          std::vector<std::string>{"--dry-run", "echo", ":::", "a"}}) {
        auto r = run_program(prun_path(), args, {}, std::chrono::seconds(60), to_full);
        bool pool = std::find(args.begin(), args.end(), ":::") != args.end();
        EXPECT_EQ(r.code, pool ? 255 : 1) << ::testing::PrintToString(args) << r.err;
        EXPECT_EQ(r.err, "prun: cannot write output: No space left on device\n") << ::testing::PrintToString(args);
    }
    auto h = run_program(prun_path(), {"--help"}, {}, std::chrono::seconds(60), to_full);
    EXPECT_EQ(h.code, 1);
    EXPECT_NE(h.err.find("prun: cannot write output"), std::string::npos) << h.err;
    auto r = prun({"--joblog", "/dev/full", "true", ":::", "a"});
    EXPECT_EQ(r.code, 255);
    EXPECT_EQ(r.err, "prun: cannot write joblog /dev/full: No space left on device\n");
    // The same runs with room to write succeed.
    EXPECT_EQ(prun({"-j2", "--tag", "echo", ":::", "a", "b", "c"}).code, 0);
}

// ---------------------------------------------------------------- output

TEST(PrunPool, GroupNeverInterleaves) {
    auto r = prun({"-j2", "sh", "-c", "for i in 1 2 3 4; do echo $0-$i; echo $0-err-$i >&2; sleep 0.02; done", ":::", "A", "B"});
    EXPECT_EQ(r.code, 0);
    auto l = lines(r.out);
    ASSERT_EQ(l.size(), 8u);
    for (std::size_t block : {0u, 4u})
        for (std::size_t i = 1; i < 4; ++i) EXPECT_EQ(l[block + i][0], l[block][0]) << r.out;
    EXPECT_EQ(r.out.find("err"), std::string::npos);  // stdout stays stdout
    EXPECT_EQ(lines(r.err).size(), 8u);
    EXPECT_EQ(r.err.find("A-1"), std::string::npos);
}

TEST(PrunPool, LargeOutputIsKeptWhole) {
    auto r = prun({"-j2", "--group", "sh", "-c", "head -c 3000000 /dev/zero | tr '\\0' $0; echo", ":::", "a", "b"});
    ASSERT_EQ(r.out.size(), 6000002u);
    char first = r.out[0];
    EXPECT_EQ(r.out.find_first_not_of(first), 3000000u);
}

// About to copy 1 MiB or more of waiting output into a pipe, prun grows it to 1 MiB (fewer wakeups
// for the reader), and gives the old size back when the pool ends. Small output leaves it alone.
TEST(PrunPool, GrowsAPipeForLargeOutputAndGivesItBack) {
    std::string max_size = slurp("/proc/sys/fs/pipe-max-size");
    if (std::atol(max_size.c_str()) < (1 << 20)) GTEST_SKIP() << "fs.pipe-max-size is below 1 MiB: " << max_size;
    int p[2];
    ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
    unique_fd rd(p[0]), wr(p[1]);
    int initial = fcntl(wr.get(), F_GETPIPE_SZ);
    if (initial >= (1 << 20)) GTEST_SKIP() << "a new pipe already holds " << initial << " bytes";
    if (initial < 65536) GTEST_SKIP() << "new pipes get " << initial << " bytes here (pipe-buffer quota spent)";
    TempDir d;
    // -j1 --tag: every job's output waits in a file and is copied by prun. Job "big" prints 2 MB;
    // job "wait" then holds the pool open until the flag file exists.
    std::string script = "if [ $0 = big ]; then head -c 2000000 /dev/zero | tr '\\0' x; echo; "
                         "else while [ ! -e " + (d / "flag") + " ]; do sleep 0.01; done; echo done; fi";
    auto child = Command(prun_path())
                     .args({"-j1", "-k", "--tag", "sh", "-c", script, ":::", "big", "wait"})
                     .in(Stdio::null())
                     .out(Stdio::fd(wr.get()))
                     .spawn();
    ASSERT_TRUE(child) << child.error().message();
    wr.reset();
    std::string got;
    char buf[65536];
    const std::size_t big_line = 4 + 2000000 + 1;  // "big\t" + 2,000,000 x + "\n"
    while (got.size() < big_line) {
        ssize_t n = ::read(rd.get(), buf, sizeof buf);
        ASSERT_GT(n, 0) << "prun's output ended early";
        got.append(buf, static_cast<std::size_t>(n));
    }
    EXPECT_EQ(fcntl(rd.get(), F_GETPIPE_SZ), 1 << 20) << "grown while the pool runs";
    spit(d / "flag", "");
    for (ssize_t n; (n = ::read(rd.get(), buf, sizeof buf)) > 0;) got.append(buf, static_cast<std::size_t>(n));
    auto st = child->wait();
    ASSERT_TRUE(st);
    EXPECT_EQ(st->shell_code(), 0);
    EXPECT_EQ(got.size(), big_line + 10);  // + "wait\tdone\n"
    EXPECT_EQ(fcntl(rd.get(), F_GETPIPE_SZ), initial) << "given back when the pool ended";

    // Small output, or one command: the pipe keeps its size.
    for (std::vector<std::string> args : {std::vector<std::string>{"-j2", "echo", ":::", "a", "b"},
                                          std::vector<std::string>{"--", "echo", "one"}}) {
        ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
        unique_fd r2(p[0]), w2(p[1]);
        auto c = Command(prun_path()).args(args).in(Stdio::null()).out(Stdio::fd(w2.get())).spawn();
        ASSERT_TRUE(c);
        w2.reset();
        std::string small;
        for (ssize_t n; (n = ::read(r2.get(), buf, sizeof buf)) > 0;) small.append(buf, static_cast<std::size_t>(n));
        ASSERT_TRUE(c->wait());
        EXPECT_FALSE(small.empty());
        EXPECT_EQ(fcntl(r2.get(), F_GETPIPE_SZ), initial) << ::testing::PrintToString(args);
    }
}

TEST(PrunPool, LineBufferUngroupAndTag) {
    auto r = prun({"-j2", "--line-buffer", "--tag", "sh", "-c", "echo out-$0; echo err-$0 >&2", ":::", "x", "y"});
    EXPECT_NE(r.out.find("x\tout-x\n"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("y\tout-y\n"), std::string::npos);
    EXPECT_NE(r.err.find("x\terr-x\n"), std::string::npos) << r.err;
    r = prun({"-j2", "--ungroup", "echo", ":::", "u1", "u2"});
    EXPECT_NE(r.out.find("u1\n"), std::string::npos);
    EXPECT_NE(r.out.find("u2\n"), std::string::npos);
    EXPECT_EQ(prun({"-u", "--tag", "echo", ":::", "a"}).code, 255);
    r = prun({"-k", "--name", "job-{#}-{1}", "--tag", "echo", "hi", ":::", "a", "b"});
    EXPECT_EQ(r.out, "job-1-a\thi a\njob-2-b\thi b\n");
}

TEST(PrunPool, KeepOrder) {
    auto r = prun({"-j3", "-k", "sh", "-c", "sleep $0; echo $0", ":::", "0.3", "0.2", "0.1", "0"});
    EXPECT_EQ(r.out, "0.3\n0.2\n0.1\n0\n");
}

// ---------------------------------------------------------------- policy

TEST(PrunPool, Retries) {
    TempDir d;
    std::string script = "f=" + d.path + "/$0; n=$(cat $f 2>/dev/null || echo 0); n=$((n+1)); echo $n > $f; echo try$n; [ $n -ge 3 ]";
    auto r = prun({"--retries", "3", "sh", "-c", script, ":::", "j1", "j2"});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, "try3\ntry3\n");  // failed attempts' output is dropped
    r = prun({"--retries", "2", "sh", "-c", script, ":::", "k1"});
    EXPECT_EQ(r.code, 1);
}

TEST(PrunPool, PerJobTimeoutAndDelay) {
    TempDir d;
    auto r = prun({"-j2", "--timeout", "150ms", "--kill-after", "100ms", "--joblog", d / "log", helper(), "ignore", "TERM",
                   "pause", ":::", "1", "2"});
    EXPECT_EQ(r.code, 2);
    auto l = lines(slurp(d / "log"));
    ASSERT_EQ(l.size(), 3u);
    EXPECT_NE(l[1].find("\t-1\t"), std::string::npos) << l[1];
    EXPECT_EQ(prun({"--delay", "20ms", "true", ":::", "a", "b", "c"}).code, 0);
}

TEST(PrunPool, JoblogJsonlAndResume) {
    TempDir d;
    ExitScript s;
    auto r = prun({"-j2", "--joblog", d / "log.jsonl", "--joblog-format", "jsonl", s.path, ":::", "0", "3"});
    EXPECT_EQ(r.code, 1);
    auto l = lines(slurp(d / "log.jsonl"));
    ASSERT_EQ(l.size(), 2u);
    for (const char* key : {"\"seq\":", "\"exitval\":", "\"signal\":", "\"user_cpu\":", "\"sys_cpu\":", "\"max_rss_kb\":",
                            "\"cpus\":", "\"command\":", "\"runtime\":", "\"slot\":"})
        EXPECT_NE(l[0].find(key), std::string::npos) << key << " in " << l[0];

    // --resume skips every logged job; --resume-failed reruns the failed ones.
    std::string ran = d / "ran";
    std::string script = "echo $0 >> " + ran + "; exit $0";
    r = prun({"-j1", "--joblog", d / "log", "sh", "-c", script, ":::", "0", "3", "0"});
    EXPECT_EQ(r.code, 1);
    r = prun({"-j1", "--resume", "--joblog", d / "log", "sh", "-c", script, ":::", "0", "3", "0", "4"});
    EXPECT_EQ(r.code, 1);
    EXPECT_EQ(slurp(ran), "0\n3\n0\n4\n");
    r = prun({"-j1", "--resume-failed", "--joblog", d / "log", "sh", "-c", script, ":::", "0", "3", "0", "4"});
    EXPECT_EQ(slurp(ran), "0\n3\n0\n4\n3\n4\n");
    EXPECT_EQ(prun({"--resume", "true", ":::", "a"}).code, 255);
}

TEST(PrunPool, PinSpread) {
    auto r = prun({"-j2", "-k", "--pin-spread", helper(), "affinity", ":::", "1", "2"});
    auto l = lines(r.out);
    ASSERT_EQ(l.size(), 2u) << r.out;
    for (auto& x : l) EXPECT_EQ(x.find(','), std::string::npos) << "one CPU per slot: " << x;
    if (sysconf(_SC_NPROCESSORS_ONLN) >= 2) { EXPECT_NE(l[0], l[1]); }
}

TEST(PrunPool, ProgressOnStderr) {
    auto r = prun({"--bar", "-j2", "true", ":::", "a", "b"});
    EXPECT_NE(r.err.find("2/2 done"), std::string::npos) << r.err;
    r = prun({"--eta", "-j2", "true", ":::", "a", "b"});
    EXPECT_NE(r.err.find("ETA"), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "");
}

TEST(PrunPool, BarOnATerminal) {
    if (access("/usr/bin/script", X_OK) != 0) GTEST_SKIP() << "script(1) is not installed (needed for a pty)";
    auto r = run_program("/usr/bin/script", {"-qfec", prun_path() + " --bar -j2 true ::: a b c", "/dev/null"});
    EXPECT_EQ(r.code, 0);
    EXPECT_NE(r.out.find("\r["), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("100% 3/3"), std::string::npos) << r.out;
}

TEST(PrunPool, DryRun) {
    auto r = prun({"--dry-run", "-k", "rm", "{}", ":::", "a b", "c"});
    EXPECT_EQ(r.out, "rm 'a b'\nrm c\n");
}

// ---------------------------------------------------------------- signals and orphans

/// Starts prun with stdout on a pipe; reads "key=value" lines until `want` keys of `key` appeared.
struct LivePrun {
    Child child;
    std::string out;
    LivePrun(std::vector<std::string> args) {
        Command c(prun_path());
        c.args(args).out(Stdio::pipe()).err(Stdio::null()).in(Stdio::null());
        c.on_destroy(DestroyPolicy::kill_tree, std::chrono::seconds(0));
        auto s = c.spawn();
        EXPECT_TRUE(s);
        if (s) child = std::move(*s);
    }
    std::vector<pid_t> wait_for(const std::string& key, std::size_t want) {
        std::vector<pid_t> pids;
        while (pids.size() < want) {
            std::string line = read_line(child.stdout_pipe().get(), std::chrono::seconds(30));
            if (line.empty()) break;
            auto eq = line.find('=');
            auto tab = line.rfind('\t', eq);
            std::string k = line.substr(tab == std::string::npos ? 0 : tab + 1, eq - (tab == std::string::npos ? 0 : tab + 1));
            if (eq != std::string::npos && k == key) pids.push_back(std::stoi(line.substr(eq + 1)));
        }
        return pids;
    }
    ~LivePrun() {
        if (child.valid() && !child.status()) {
            (void)child.kill();
            (void)child.wait();
        }
    }
};

TEST(PrunSignals, TermStopsAndEndsEveryTree) {
    LivePrun p({"-j2", "--line-buffer", "--kill-after", "200ms", helper(), "fork-sleeper", "pause", ":::", "1", "2", "3"});
    auto grandchildren = p.wait_for("grandchild", 2);
    ASSERT_EQ(grandchildren.size(), 2u);
    ASSERT_TRUE(p.child.terminate());
    auto st = p.child.wait_for(std::chrono::seconds(30));
    ASSERT_TRUE(st && *st);
    EXPECT_EQ((*st)->shell_code(), 128 + SIGTERM);
    for (pid_t g : grandchildren) EXPECT_TRUE(eventually([&] { return !alive(g); })) << g;
}

// Inputs that have not arrived yet (a slow pipe) are waited for with everything else: running
// jobs still time out, finish and print, and a signal still ends the run. Both for lines and for
// --pipe blocks.
TEST(PrunSignals, SlowInputBlocksNothing) {
    for (bool blocks : {false, true}) {
        SCOPED_TRACE(blocks ? "--pipe" : "lines");
        TempDir d;
        int p[2];
        ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
        unique_fd rd(p[0]), wr(p[1]);
        std::vector<std::string> args{"-j2", "--timeout", "300ms", "--joblog", d / "log"};
        if (blocks) args.insert(args.end(), {"--pipe", "--block", "2"});
        args.insert(args.end(), {"sh", "-c", "sleep 600"});
        auto c = Command(prun_path()).args(args).in(Stdio::fd(rd.get())).out(Stdio::null()).err(Stdio::null())
                     .on_destroy(DestroyPolicy::kill_tree, std::chrono::seconds(0)).spawn();
        ASSERT_TRUE(c) << c.error().message();
        rd.reset();
        ASSERT_EQ(write(wr.get(), "a\n", 2), 2);
        // The input stays open and empty: job 1 must still time out and be logged.
        EXPECT_TRUE(eventually([&] { return lines(slurp(d / "log")).size() >= 2; }, std::chrono::seconds(30)))
            << "prun did not end job 1 while waiting for more input";
        EXPECT_FALSE(c->try_wait().value_or(std::nullopt)) << "prun ended early";
        ASSERT_TRUE(c->terminate());
        auto st = c->wait_for(std::chrono::seconds(30));
        ASSERT_TRUE(st && *st) << "prun did not end on SIGTERM while waiting for input";
        EXPECT_EQ((*st)->shell_code(), 128 + SIGTERM);
    }
}

TEST(PrunSignals, SecondInterruptKillsAtOnce) {
    LivePrun p({"-j2", "--line-buffer", "--kill-after", "600s", helper(), "ignore", "TERM", "ids", "pause", ":::", "1", "2"});
    auto pids = p.wait_for("pid", 2);
    ASSERT_EQ(pids.size(), 2u);
    ASSERT_TRUE(p.child.send_signal(SIGINT));
    auto st = p.child.wait_for(std::chrono::milliseconds(300));
    ASSERT_TRUE(st);
    EXPECT_FALSE(*st) << "the jobs ignore TERM: prun waits for the grace period";
    ASSERT_TRUE(p.child.send_signal(SIGINT));
    st = p.child.wait_for(std::chrono::seconds(30));
    ASSERT_TRUE(st && *st);
    EXPECT_EQ((*st)->shell_code(), 128 + SIGINT);
    for (pid_t j : pids) EXPECT_TRUE(eventually([&] { return !alive(j); })) << j;
}

TEST(PrunSignals, NoOrphansAfterSigkill) {
    LivePrun p({"-j2", "--line-buffer", helper(), "ids", "fork-sleeper", "daemon-sleeper", "pause", ":::", "1", "2"});
    auto seen = p.wait_for("grandchild", 4);
    ASSERT_EQ(seen.size(), 4u);
    ASSERT_TRUE(p.child.kill());
    ASSERT_TRUE(p.child.wait());
    for (pid_t g : seen) EXPECT_TRUE(eventually([&] { return !alive(g); })) << "process " << g << " outlived prun";
}

TEST(PrunSignals, SingleCommandNoOrphansAfterSigkill) {
    LivePrun p({"--", helper(), "daemon-sleeper", "fork-sleeper", "pause"});
    auto seen = p.wait_for("grandchild", 2);
    ASSERT_EQ(seen.size(), 2u);
    ASSERT_TRUE(p.child.kill());
    ASSERT_TRUE(p.child.wait());
    for (pid_t g : seen) EXPECT_TRUE(eventually([&] { return !alive(g); })) << "process " << g << " outlived prun";
}

}  // namespace
}  // namespace prockit::test
