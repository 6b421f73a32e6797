// prun speaks GNU parallel, part A: input columns (--colsep, --header), the --plus replacement
// strings, -q, -v, and the value forms --timeout N%, --joblog -, -j FILE, with --shuf, --progress
// and --halt's exit values. Each is run side by side with GNU parallel when it is installed; where
// prun differs on purpose the test checks prun's own rule (and prun(1) says so).
#include "side_by_side.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>

namespace prockit::test {
namespace {

// ---------------------------------------------------------------- --colsep

TEST(PrunParallelA, ColsepGivesNumberedColumns) {
    auto r = prun({"-k", "--colsep", "\t", "echo", "{2}", "{1}", "{-1}"}, "a\tb\tc\nd\te\tf\n");
    EXPECT_EQ(r.out, "b a c\ne d f\n") << r.err;
    EXPECT_EQ(r.code, 0);
    SKIP_WITHOUT_GNU_PARALLEL();
    expect_same({"-k", "--colsep", "\t", "echo", "{2}", "{1}", "{-1}"}, "a\tb\tc\nd\te\tf\n");
    // The per-column forms; a column the row lacks is dropped, an empty one is an empty argument.
    expect_same({"-k", "-C", ",", "echo", "{1/}", "{1.}", "{1//}", "{1/.}", "{2}", "{3}"}, "x/y.tar.gz,q\n");
    expect_same({"-k", "-C", ",", "printf", "[%s]", "{3}", "{1}", "{-2}", "{2}"}, "a,b\na,,b\n");
    // A regular expression, and no replacement string: the columns are appended.
    expect_same({"-k", "-C", " +", "printf", "[%s]"}, "a  b   c\nd e\n");
}

TEST(PrunParallelA, ColsepCutsEverySourceIntoOneRow) {
    auto r = prun({"-k", "-C", ",", "echo", "{1}", "{2}", "{3}", "{4}", ":::", "x,y", ":::", "p,q", "r,s"});
    EXPECT_EQ(r.out, "x y p q\nx y r s\n") << r.err;
    SKIP_WITHOUT_GNU_PARALLEL();
    expect_same({"-k", "-C", ",", "echo", "{1}", "{2}", "{3}", "{4}", ":::", "x,y", ":::", "p,q", "r,s"});
    expect_same({"-k", "-C", ",", "echo", ":::", "x,y", ":::", "p,q"});
}

TEST(PrunParallelA, ColsepIsAPoolOption) {
    auto r = prun({"--colsep", ",", "echo", "a"});
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.err.find("cannot use --colsep with one command"), std::string::npos) << r.err;
    r = prun({"--colsep", "(", "echo", ":::", "a"});
    EXPECT_EQ(r.code, 255);
    EXPECT_NE(r.err.find("cannot parse --colsep \"(\""), std::string::npos) << r.err;
    r = prun({"--colsep", ",", "-X", "echo", ":::", "a"});
    EXPECT_EQ(r.code, 255);
    EXPECT_NE(r.err.find("cannot use --colsep with -n, -N, -L, -m or -X"), std::string::npos) << r.err;
}

// ---------------------------------------------------------------- --header

TEST(PrunParallelA, HeaderNamesTheColumns) {
    auto r = prun({"-k", "--header", ":", "--colsep", " ", "echo", "{n2}", "{n1}", "{1}"}, "n1 n2\n1 2\n3 4\n");
    EXPECT_EQ(r.out, "2 1 1\n4 3 3\n") << r.err;
    EXPECT_EQ(r.code, 0);
    // With ::: sources the first value of each names it.
    r = prun({"-k", "--header", ":", "echo", "{foo}-{bar}", ":::", "foo", "a", "b", ":::", "bar", "1"});
    EXPECT_EQ(r.out, "a-1\nb-1\n") << r.err;
    SKIP_WITHOUT_GNU_PARALLEL();
    expect_same({"-k", "--header", ":", "--colsep", " ", "echo", "{n2}", "{n1}", "{1}"}, "n1 n2\n1 2\n3 4\n");
    expect_same({"-k", "--header", ":", "echo", "{foo}", "{bar}", ":::", "foo", "a", "b", ":::", "bar", "1", "2"});
    // Without --colsep the header and the rows are cut at tabs; a name can take {name.} and kin.
    expect_same({"-k", "--header", ":", "echo", "{1}", "{a.}", "{b}"}, "a\tb\nx.c\t2\n");
    // A REGEX in place of ':' (prun takes the first line whatever it is).
    expect_same({"-k", "--header", ".*", "-C", ",", "echo", "{1}", "{h1}"}, "h1,h2\n1,2\n");
    // A header and no rows: nothing to run.
    expect_same({"-k", "-r", "--header", ":", "echo", "{a}"}, "a\n");
}

// ---------------------------------------------------------------- --plus

TEST(PrunParallelA, PlusStrings) {
    auto r = prun({"-k", "--plus", "echo", "{+/}", "{+.}", "{..}", "{/...}", ":::", "d/a.b.c.e"});
    EXPECT_EQ(r.out, "d e d/a.b a\n") << r.err;
    SKIP_WITHOUT_GNU_PARALLEL();
    expect_same({"-k", "--plus", "echo", "{+/}", "{+.}", "{+..}", "{+...}", "{..}", "{...}", "{/..}", "{/...}", ":::",
                 "a.b.c.d", "dir/x.tar.gz", "plain", "/abs/f.c"});
    std::vector<std::string> args{"-k", "-j1", "--plus", "echo", "{##}", "{0#}", "{#}", "{0%}", ":::"};
    for (int i = 1; i <= 12; ++i) args.push_back(std::to_string(i));
    expect_same(args);
    // {0%} is as wide as the number of job slots.
    auto b = both({"-k", "-j12", "--plus", "echo", "{0%}", ":::", "a"});
    EXPECT_EQ(b.ours.out, "01\n") << b.ours.err;
    EXPECT_EQ(b.ours.out, b.theirs.out);
}

// ---------------------------------------------------------------- -q, -v

TEST(PrunParallelA, QuoteNeverRunsAShell) {
    // One word with shell syntax is a command string without -q, and a program's name with it.
    auto r = prun({"-k", "echo a; echo {}", ":::", "b"});
    EXPECT_EQ(r.out, "a\nb\n") << r.err;
    r = prun({"-q", "-k", "echo", "a;b", "{}", ":::", "x y"});
    EXPECT_EQ(r.out, "a;b x y\n") << r.err;
    r = prun({"-q", "--shell", "echo", ":::", "a"});
    EXPECT_EQ(r.code, 255);
    EXPECT_NE(r.err.find("cannot use --shell and --quote together"), std::string::npos) << r.err;
    SKIP_WITHOUT_GNU_PARALLEL();
    expect_same({"-q", "-k", "echo", "a;b", "{}", ":::", "x y", "$HOME"});
    expect_same({"-q", "-k", "printf", "%s|%s\\n", "a b", "{}", ":::", "*"});
}

TEST(PrunParallelA, VerbosePrintsEachCommandWithItsOutput) {
    auto r = prun({"-v", "-k", "echo", ":::", "a", "b c"});
    EXPECT_EQ(r.out, "echo a\na\necho 'b c'\nb c\n") << r.err;
    // One command too: the command line first.
    r = prun({"-v", "echo", "x"});
    EXPECT_EQ(r.out, "echo x\nx\n") << r.err;
    SKIP_WITHOUT_GNU_PARALLEL();
    expect_same({"-v", "-k", "echo", ":::", "a", "b"});
    expect_same({"-v", "--tag", "-k", "echo", ":::", "a", "b"});
    expect_same({"-v", "-k", "echo {} && echo done", ":::", "a", "b"});
}

// ---------------------------------------------------------------- value forms

TEST(PrunParallelA, TimeoutAsAShareOfTheMedianRuntime) {
    TempDir d;
    std::string log = d / "log";
    // The short jobs succeed and set the median; the long one runs past thirty times it and is ended
    // (a wide margin: a short job slowed down by a loaded machine must stay under the limit).
    auto r = prun({"-j1", "--timeout", "3000%", "--joblog", log, "sleep", ":::", "0.1", "0.1", "0.1", "60", "0.1"},
                  {}, std::chrono::seconds(50));
    EXPECT_EQ(r.code, 1) << r.err;
    EXPECT_NE(r.err.find("job 4 (60) timed out"), std::string::npos) << r.err;
    auto l = lines(slurp(log));
    ASSERT_EQ(l.size(), 6u) << slurp(log);
    EXPECT_EQ(columns(l[4])[6], "-1") << l[4];
    EXPECT_EQ(columns(l[5])[6], "0") << "the jobs after it still run";
    // Until a job has succeeded there is no limit.
    r = prun({"-j2", "--timeout", "200%", "sh", "-c", "sleep 0.3; exit {}", ":::", "1", "1"});
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_EQ(r.err.find("timed out"), std::string::npos) << r.err;
    r = prun({"--timeout", "50%x", "echo", ":::", "a"});
    EXPECT_EQ(r.code, 255);
    EXPECT_NE(r.err.find("cannot parse --timeout \"50%x\""), std::string::npos) << r.err;
    r = prun({"--timeout", "200%", "echo", "a"});
    EXPECT_EQ(r.code, 2) << "a share of the median needs a pool";
    SKIP_WITHOUT_GNU_PARALLEL();
    auto b = both({"-j1", "--timeout", "3000%", "sleep", ":::", "0.1", "0.1", "0.1", "60", "0.1"});
    EXPECT_EQ(b.ours.code, b.theirs.code);
}

TEST(PrunParallelA, JoblogOnStdout) {
    auto r = prun({"--joblog", "-", "-k", "echo", ":::", "a", "b"});
    EXPECT_EQ(r.code, 0) << r.err;
    auto l = lines(r.out);
    ASSERT_EQ(l.size(), 5u) << r.out;
    EXPECT_EQ(l[0], "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand");
    // Each job's output, then its line.
    EXPECT_EQ(l[1], "a");
    ASSERT_EQ(columns(l[2]).size(), 9u) << r.out;
    EXPECT_EQ(columns(l[2])[0], "1");
    EXPECT_EQ(columns(l[2])[8], "echo a");
    EXPECT_EQ(l[3], "b");
    ASSERT_EQ(columns(l[4]).size(), 9u) << r.out;
    EXPECT_EQ(columns(l[4])[8], "echo b");
    // A later job that ends first waits with its line too: output, then line, in input order.
    r = prun({"--joblog", "-", "-k", "sh", "-c", "sleep {}; echo {}", ":::", "0.3", "0"});
    EXPECT_EQ(r.code, 0) << r.err;
    l = lines(r.out);
    ASSERT_EQ(l.size(), 5u) << r.out;
    EXPECT_EQ(l[1], "0.3") << r.out;
    ASSERT_EQ(columns(l[2]).size(), 9u) << r.out;
    EXPECT_EQ(columns(l[2])[0], "1") << r.out;
    EXPECT_EQ(l[3], "0") << r.out;
    ASSERT_EQ(columns(l[4]).size(), 9u) << r.out;
    EXPECT_EQ(columns(l[4])[0], "2") << r.out;
    r = prun({"--joblog", "-", "--resume", "echo", ":::", "a"});
    EXPECT_EQ(r.code, 255);
    EXPECT_NE(r.err.find("cannot use --resume with --joblog -"), std::string::npos) << r.err;
    SKIP_WITHOUT_GNU_PARALLEL();
    auto b = both({"--joblog", "-", "-k", "echo", ":::", "a", "b"});
    auto mine = lines(b.ours.out), theirs = lines(b.theirs.out);
    ASSERT_EQ(theirs.size(), mine.size()) << b.theirs.out;
    for (std::size_t i = 0; i < mine.size(); ++i) {
        auto ours = columns(mine[i]), gnu = columns(theirs[i]);
        ASSERT_EQ(ours.size(), gnu.size()) << i;
        if (ours.size() == 9) {  // the columns that do not measure time
            for (int c : {0, 4, 5, 6, 7, 8}) EXPECT_EQ(ours[c], gnu[c]) << "line " << i << " column " << c;
        } else {
            EXPECT_EQ(ours, gnu);
        }
    }
}

TEST(PrunParallelA, JobsFromAFileReadAgainWhenItChanges) {
    TempDir d;
    std::string procs = d / "procs", script = d / "job.sh";
    // Job 1 writes 3 into the file; jobs 2-4 then each wait (up to 20 s) until all three run at
    // once, which only a re-read -j allows.
    spit(script,
         "#!/bin/sh\n"
         "cd \"$(dirname \"$0\")\"\n"
         "if [ \"$1\" = 1 ]; then echo 3 > procs; exit 0; fi\n"
         ": > started.$1\n"
         "i=0\n"
         "while [ $(ls started.* | wc -l) -lt 3 ]; do\n"
         "  sleep 0.05; i=$((i+1)); [ $i -gt 400 ] && exit 1\n"
         "done\n"
         "exit 0\n");
    chmod(script.c_str(), 0755);
    auto run_with = [&](const std::function<PrunResult(const std::vector<std::string>&)>& tool) {
        spit(procs, "1\n");
        // GNU parallel compares the file's modification time in whole seconds: date it an hour
        // back, so job 1's write is seen as a change even within the same second.
        const timespec back{time(nullptr) - 3600, 0};
        const timespec times[2] = {back, back};
        utimensat(AT_FDCWD, procs.c_str(), times, 0);
        for (const char* n : {"2", "3", "4"}) unlink((d / (std::string("started.") + n)).c_str());
        return tool({"-j", procs, script, ":::", "1", "2", "3", "4"});
    };
    auto r = run_with([](const std::vector<std::string>& a) { return prun(a); });
    EXPECT_EQ(r.code, 0) << r.err;
    // A file that holds no job count.
    spit(procs, "many\n");
    r = prun({"-j", procs, "echo", ":::", "a"});
    EXPECT_EQ(r.code, 255);
    EXPECT_NE(r.err.find("cannot use -j " + procs + ": it holds \"many\""), std::string::npos) << r.err;
    SKIP_WITHOUT_GNU_PARALLEL();
    r = run_with([](const std::vector<std::string>& a) {
        std::vector<std::string> gnu{"--will-cite"};
        gnu.insert(gnu.end(), a.begin(), a.end());
        return run_program(gnu_parallel(), gnu);
    });
    EXPECT_EQ(r.code, 0) << "GNU parallel: " << r.err;
}

TEST(PrunParallelA, ShufRunsEveryJobOnceInSomeOrder) {
    std::vector<std::string> args{"-j1", "--shuf", "echo", ":::"};
    std::vector<std::string> want;
    for (int i = 0; i < 60; ++i) {
        args.push_back(std::to_string(i));
        want.push_back(std::to_string(i));
    }
    auto r = prun(args);
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_NE(lines(r.out), want) << "60 jobs in the input order";
    std::sort(want.begin(), want.end());
    EXPECT_EQ(sorted_lines(r.out), want);
    SKIP_WITHOUT_GNU_PARALLEL();
    auto b = both({"--shuf", "echo", ":::", "a", "b", ":::", "1", "2"});
    EXPECT_EQ(sorted_lines(b.ours.out), sorted_lines(b.theirs.out));
}

TEST(PrunParallelA, ProgressGoesToStderrAsPlainLines) {
    auto r = prun({"--progress", "-k", "echo", ":::", "a", "b", "c"});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, "a\nb\nc\n");
    EXPECT_NE(r.err.find("prun: 3/3 done, 0 running, 0 failed\n"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find('\r'), std::string::npos) << "no terminal control when stderr is a file";
    r = prun({"--progress", "echo"}, "a\n");
    EXPECT_NE(r.err.find("prun: 1 done, 0 running, 0 failed\n"), std::string::npos) << r.err;
    SKIP_WITHOUT_GNU_PARALLEL();
    auto b = both({"--progress", "-k", "echo", ":::", "a", "b", "c"});
    EXPECT_EQ(b.ours.out, b.theirs.out) << "stdout is the jobs' alone";
}

// ---------------------------------------------------------------- --halt's exit values

TEST(PrunParallelA, HaltExitValues) {
    std::vector<std::string> ten{"0", "1", "1", "1", "0", "0", "0", "0", "0", "0"};
    auto with = [&](std::vector<std::string> head) {
        head.insert(head.end(), {"exit {}", ":::"});
        head.insert(head.end(), ten.begin(), ten.end());
        return head;
    };
    // A share: the failed share of all jobs, in percent.
    EXPECT_EQ(prun(with({"-j1", "--halt", "soon,fail=30%"})).code, 30);
    EXPECT_EQ(prun(with({"-j1", "--halt", "soon,done=30%"})).code, 20);
    EXPECT_EQ(prun(with({"-j1", "--halt", "now,fail=2"})).code, 2);
    EXPECT_EQ(prun(with({"-j1", "--halt", "soon,done=1"})).code, 0);
    SKIP_WITHOUT_GNU_PARALLEL();
    for (const char* h : {"soon,fail=30%", "soon,done=30%", "now,fail=2", "soon,fail=1", "soon,done=1", "now,success=1"})
        expect_same(with({"-j1", "--halt", h}));
}

}  // namespace
}  // namespace prockit::test
