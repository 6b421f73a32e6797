// prun speaks GNU parallel, part B: --pipe's record options (--recstart, --recend, --regexp, -N),
// --pipepart, --results and --files, --load and --memfree, and --semaphore (GNU parallel's sem).
// Each is run side by side with GNU parallel when it is installed; where prun differs on purpose
// the test checks prun's own rule.
#include "side_by_side.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>

namespace prockit::test {
namespace {

/// Every file under `dir` with its content, "path=content" per line, sorted.
std::string tree(const std::string& dir) {
    auto r = run_program("/bin/sh", {"-c", "cd \"$1\" && find . -type f | LC_ALL=C sort | while IFS= read -r f; do printf '%s=' \"$f\"; cat \"$f\"; echo; done", "sh", dir});
    return r.out;
}

// ---------------------------------------------------------------- --pipe records

TEST(PrunParallelB, RecordEndAndStartDecideWhereBlocksAreCut) {
    // -N1: one record per block; "|" closes each job's output.
    auto r = prun({"--pipe", "--recstart", ">", "-N1", "-k", "sh", "-c", "cat; echo '|'"}, ">a\nx\n>b\ny\n");
    EXPECT_EQ(r.out, ">a\nx\n|\n>b\ny\n|\n") << r.err;
    EXPECT_EQ(r.code, 0);
    r = prun({"--pipe", "--recend", "E\\n", "--recstart", "S", "-N1", "-k", "sh", "-c", "cat; echo '|'"}, "a\nE\nS\nb\nE\nS\nc\n");
    EXPECT_EQ(r.out, "a\nE\n|\nS\nb\nE\n|\nS\nc\n|\n") << r.err;
    SKIP_WITHOUT_GNU_PARALLEL();
    expect_same({"--pipe", "--recstart", ">", "-N2", "-k", "sh", "-c", "cat; echo '|'"}, ">h1\nAC\n>h2\nGT\n>h3\nTT\n");
    expect_same({"--pipe", "--recend", "\\n", "-N1", "-k", "sh", "-c", "cat; echo '|'"}, "a\\nb\nc\\nd\n");
    expect_same({"--pipe", "--recend", "E\\n", "--recstart", "S", "-N1", "-k", "sh", "-c", "cat; echo '|'"}, "a\nE\nS\nb\nE\nS\nc\n");
    expect_same({"--pipe", "--recend", "", "--block", "3", "-k", "sh", "-c", "cat; echo '|'"}, "abcdefghij");
    expect_same({"--pipe", "--regexp", "--recend", "[.;]", "-N1", "-k", "sh", "-c", "cat; echo '|'"}, "a.b;c.");
}

TEST(PrunParallelB, DashNWithPipeCountsRecords) {
    auto r = prun({"--pipe", "-N3", "-k", "wc", "-l"}, "1\n2\n3\n4\n5\n6\n7\n");
    EXPECT_EQ(r.out, "3\n3\n1\n") << r.err;
    // -n and the other argument options still have no meaning for blocks.
    r = prun({"--pipe", "-n2", "cat"}, "1\n");
    EXPECT_EQ(r.code, 255);
    EXPECT_NE(r.err.find("prun: cannot use -n, -N, -L, -m or -X with --pipe"), std::string::npos) << r.err;
    SKIP_WITHOUT_GNU_PARALLEL();
    expect_same({"--pipe", "-N3", "-k", "wc", "-l"}, "1\n2\n3\n4\n5\n6\n7\n");
    expect_same({"--pipe", "-N2", "--block", "1", "-k", "sh", "-c", "cat; echo '|'"}, "a\nb\nc\n");
}

TEST(PrunParallelB, RecordOptionsNeedPipe) {
    auto r = prun({"--recend", "x", "echo", ":::", "a"});
    EXPECT_EQ(r.code, 255);
    EXPECT_NE(r.err.find("prun: cannot use --recend without --pipe or --pipepart"), std::string::npos) << r.err;
    r = prun({"--pipe", "--regexp", "--recend", "(", "cat"}, "a\n");
    EXPECT_EQ(r.code, 255);
    EXPECT_NE(r.err.find("prun: cannot parse --recstart/--recend as regular expressions"), std::string::npos) << r.err;
}

// ---------------------------------------------------------------- --pipepart

TEST(PrunParallelB, PipepartCutsTheFileAsGnuParallelDoes) {
    TempDir d;
    std::string small = d / "small", big = d / "big";
    spit(small, "1\n2\n3\n4\n5\n");
    std::string text;
    for (int i = 1; i <= 100000; ++i) text += std::to_string(i) + "\n";
    spit(big, text);
    auto r = prun({"--pipepart", "-a", small, "--block", "3", "-k", "sh", "-c", "cat; echo '|'"});
    EXPECT_EQ(r.out, "1\n2\n|\n3\n4\n|\n5\n|\n") << r.err;
    EXPECT_EQ(r.code, 0);
    // Every byte arrives once, in order, whatever the block size.
    r = prun({"--pipepart", "-a", big, "--block", "7k", "-k", "cat"});
    EXPECT_EQ(r.out, text) << r.err;
    // A job that reads nothing of its part is no error of prun's.
    r = prun({"--pipepart", "-a", big, "--block", "1k", "true"});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.err, "");
    SKIP_WITHOUT_GNU_PARALLEL();
    expect_same({"--pipepart", "-a", small, "--block", "1", "-k", "sh", "-c", "cat; echo '|'"});
    expect_same({"--pipepart", "-a", big, "--block", "10k", "-k", "wc", "-l"});
    expect_same({"--pipepart", "-a", big, "--recend", "9", "--block", "10k", "-k", "wc", "-c"});
    expect_same({"--pipepart", "-a", big, "--recend", "9\\n", "--recstart", "1", "--block", "10k", "-k", "wc", "-c"});
}

TEST(PrunParallelB, PipepartNeedsOneFile) {
    auto r = prun({"--pipepart", "cat"}, "a\n");
    EXPECT_EQ(r.code, 255);
    EXPECT_NE(r.err.find("prun: cannot use --pipepart: it needs one file to cut"), std::string::npos) << r.err;
    r = prun({"--pipepart", "-a", "/dev/stdin", "cat"}, "");
    EXPECT_EQ(r.code, 255) << r.err;
}

// ---------------------------------------------------------------- --results, --files

TEST(PrunParallelB, ResultsDirectoryHasGnuParallelsLayout) {
    TempDir d;
    std::vector<std::string> args{"sh", "-c", "echo out \"$1\"; echo err \"$1\" >&2", "sh", "{}", ":::", "a", "b/c", "x\\y", "", ".."};
    std::vector<std::string> ours{"--results", d / "ours"};
    ours.insert(ours.end(), args.begin(), args.end());
    auto r = prun(ours);
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, "");  // the output is in the files
    std::string t = tree(d / "ours");
    EXPECT_NE(t.find("./1/a/stdout=out a\n"), std::string::npos) << t;
    EXPECT_NE(t.find("./1/b\\_c/stderr=err b/c\n"), std::string::npos) << t;
    EXPECT_NE(t.find("./1/x\\\\y/stdout=out x\\y\n"), std::string::npos) << t;
    EXPECT_NE(t.find("./1/\\../stdout=out ..\n"), std::string::npos) << t;  // prun's rule: ".." stays inside
    EXPECT_NE(t.find("./1/a/seq=1\n"), std::string::npos) << t;
    // Two sources: DIR/1/V1/2/V2.
    r = prun({"--results", d / "two", "echo", ":::", "1", ":::", "2", "3"});
    EXPECT_EQ(tree(d / "two"), "./1/1/2/2/seq=1\n./1/1/2/2/stderr=\n./1/1/2/2/stdout=1 2\n\n./1/1/2/3/seq=2\n./1/1/2/3/stderr=\n./1/1/2/3/stdout=1 3\n\n");
    SKIP_WITHOUT_GNU_PARALLEL();
    // Side by side with a command GNU parallel and prun run alike (GNU parallel writes ".." one
    // directory up, so it is left out).
    std::vector<std::string> same{"echo", "{}", ":::", "a", "b/c", "x\\y", "", "t\tu"};
    std::vector<std::string> o2{"--results", d / "ours2"}, g2{"--will-cite", "--results", d / "theirs"};
    o2.insert(o2.end(), same.begin(), same.end());
    g2.insert(g2.end(), same.begin(), same.end());
    r = prun(o2);
    auto g = run_program(gnu_parallel(), g2);
    EXPECT_EQ(r.out, g.out);
    EXPECT_EQ(r.code, g.code) << r.err;
    EXPECT_EQ(tree(d / "ours2"), tree(d / "theirs"));
}

TEST(PrunParallelB, ResultsTableInCsvAndTsv) {
    TempDir d;
    auto r = prun({"--results", d / "t.csv", "-j1", "sh", "-c", "printf 'o,1\\n'; echo e >&2; exit 2", "sh", ":::", "p q", "r"});
    EXPECT_EQ(r.code, 2) << r.err;
    auto l = lines(slurp(d / "t.csv"));
    ASSERT_GE(l.size(), 7U) << slurp(d / "t.csv");
    EXPECT_EQ(l[0], "Seq,Host,Starttime,JobRuntime,Send,Receive,Exitval,Signal,Command,V1,Stdout,Stderr");
    EXPECT_EQ(l[1].substr(0, 4), "1,:,");
    EXPECT_NE(l[1].find(",0,4,2,0,"), std::string::npos) << l[1];  // Send, Receive, Exitval, Signal
    EXPECT_NE(l[1].find(",\"p q\",\"o,1"), std::string::npos) << l[1];  // quoted: blank, comma
    r = prun({"--results", "-.tsv", "-k", "echo", ":::", "a"});
    const std::string header = "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\tV1\tStdout\tStderr\n";
    EXPECT_EQ(r.out.substr(0, header.size()), header) << r.out;
    EXPECT_NE(r.out.find("\t0\t2\t0\t0\t\"echo a\"\ta\t\"a\n\"\t\n"), std::string::npos) << r.out;  // quoted: blank, newline
    SKIP_WITHOUT_GNU_PARALLEL();
    auto g = run_program(gnu_parallel(), {"--will-cite", "--results", "-.tsv", "-k", "echo", ":::", "a", "b c"});
    r = prun({"--results", "-.tsv", "-k", "echo", ":::", "a", "b c"});
    // The same table but for the times (columns 3 and 4 of each row) and the rows' order: prun
    // writes a job's row when it ends (prun(1)), so job 2 may come first.
    auto blank_times = [](const std::string& t) {
        std::vector<std::string> rows;
        for (const auto& row : lines(t)) {
            auto c = columns(row);
            if (c.size() > 4 && c[0] != "Seq" && !c[0].empty() && std::isdigit(static_cast<unsigned char>(c[0][0]))) c[2] = c[3] = "";
            std::string out;
            for (std::size_t i = 0; i < c.size(); ++i) out += (i ? "\t" : "") + c[i];
            rows.push_back(out);
        }
        if (rows.size() > 1) std::sort(rows.begin() + 1, rows.end());  // the header stays first
        std::string out;
        for (const auto& row : rows) out += row + "\n";
        return out;
    };
    EXPECT_EQ(blank_times(r.out), blank_times(g.out));
    EXPECT_EQ(r.code, g.code);
}

TEST(PrunParallelB, FilesPrintsTheNamesOfOutputFiles) {
    TempDir d;
    auto r = run_program(prun_path(), {"--files", "-k", "echo", ":::", "a", "b"}, {}, std::chrono::seconds(60),
                         [&](Command& c) { c.env("TMPDIR", d.path); });
    EXPECT_EQ(r.code, 0) << r.err;
    auto l = lines(r.out);
    ASSERT_EQ(l.size(), 2U) << r.out;
    EXPECT_EQ(l[0].rfind(d.path + "/", 0), 0U) << l[0];
    EXPECT_EQ(slurp(l[0]), "a\n");
    EXPECT_EQ(slurp(l[1]), "b\n");
    r = prun({"--results", d / "res", "--files", "-k", "echo", ":::", "a"});
    EXPECT_EQ(r.out, d / "res" + "/1/a/stdout\n") << r.err;
}

// ---------------------------------------------------------------- --load, --memfree

TEST(PrunParallelB, LoadAndMemfreeLetJobsRunWhenTheMachineHasRoom) {
    auto r = prun({"--load", "100000", "--memfree", "1k", "-k", "echo", ":::", "a", "b"});
    EXPECT_EQ(r.out, "a\nb\n") << r.err;
    EXPECT_EQ(r.code, 0);
    r = prun({"--load", "100000%", "echo", ":::", "a"});
    EXPECT_EQ(r.out, "a\n") << r.err;
    for (auto bad : std::vector<std::vector<std::string>>{{"--load", "x"}, {"--load", "-1"}, {"--memfree", "1Q"}, {"--memfree", "big"}}) {
        auto args = bad;
        args.insert(args.end(), {"echo", ":::", "a"});
        r = prun(args);
        EXPECT_EQ(r.code, 255) << ::testing::PrintToString(bad);
        EXPECT_NE(r.err.find("prun: cannot parse " + bad[0]), std::string::npos) << r.err;
    }
}

// ---------------------------------------------------------------- --semaphore

struct Sem {
    TempDir runtime;
    std::string id = "t" + std::to_string(::getpid());
    PrunResult run(std::vector<std::string> args) {
        args.insert(args.begin(), {"--semaphore", "--id", id});
        return run_program(prun_path(), args, {}, std::chrono::seconds(60), [this](Command& c) { c.env("XDG_RUNTIME_DIR", runtime.path); });
    }
    /// A holder in the background: `prun --semaphore --fg sh -c 'touch MARK; sleep 600'`.
    auto hold(const std::string& mark) {
        Command c(prun_path());
        c.args({"--semaphore", "--id", id, "--fg", "sh", "-c", "touch '" + mark + "'; exec sleep 600"});
        c.env("XDG_RUNTIME_DIR", runtime.path).in(Stdio::null()).out(Stdio::null());
        c.new_process_group().on_destroy(DestroyPolicy::kill_tree, std::chrono::seconds(0));
        return c.spawn();
    }
};

TEST(PrunSemaphore, ForegroundGivesTheCommandsStatus) {
    Sem s;
    auto r = s.run({"--fg", "sh", "-c", "echo hi; exit 3"});
    EXPECT_EQ(r.out, "hi\n");
    EXPECT_EQ(r.code, 3) << r.err;
}

TEST(PrunSemaphore, BackgroundReturnsOnceTheSlotIsTakenAndWaitWaits) {
    Sem s;
    TempDir d;
    auto r = s.run({"sh", "-c", "echo done > '" + (d / "out") + "'"});
    EXPECT_EQ(r.code, 0) << r.err;
    // --wait returns only when no command holds the semaphore: the command has written by then.
    r = s.run({"--wait"});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(slurp(d / "out"), "done\n");
}

TEST(PrunSemaphore, AKilledHolderLeavesNoSlotBehind) {
    Sem s;
    TempDir d;
    auto holder = s.hold(d / "held");
    ASSERT_TRUE(holder) << holder.error().message();
    ASSERT_TRUE(eventually([&] { return access((d / "held").c_str(), F_OK) == 0; })) << "the holder never ran";
    // The one slot is held: a second command waits (it has not run while the holder lives)...
    Command waiter(prun_path());
    waiter.args({"--semaphore", "--id", s.id, "--fg", "touch", d / "second"});
    waiter.env("XDG_RUNTIME_DIR", s.runtime.path).in(Stdio::null());
    waiter.new_process_group().on_destroy(DestroyPolicy::kill_tree, std::chrono::seconds(0));
    auto w = waiter.spawn();
    ASSERT_TRUE(w) << w.error().message();
    EXPECT_NE(access((d / "second").c_str(), F_OK), 0) << "ran while the only slot was held";
    // ...until the holder is killed with SIGKILL: it releases nothing itself, the kernel does.
    ASSERT_EQ(::kill(holder->pid(), SIGKILL), 0);
    auto st = w->wait_for(std::chrono::seconds(30));
    ASSERT_TRUE(st && *st) << "the waiter never got the slot";
    EXPECT_EQ((*st)->shell_code(), 0);
    EXPECT_EQ(access((d / "second").c_str(), F_OK), 0);
    (void)holder->terminate_tree(std::chrono::seconds(0));
}

TEST(PrunSemaphore, KillingTheLockHolderItselfFreesTheSlot) {
    // The slot's lock belongs to the process that supervises the command (F_GETLK names it):
    // SIGKILL it directly, and the next command gets the slot.
    Sem s;
    TempDir d;
    auto holder = s.hold(d / "held");
    ASSERT_TRUE(holder) << holder.error().message();
    ASSERT_TRUE(eventually([&] { return access((d / "held").c_str(), F_OK) == 0; })) << "the holder never ran";
    int fd = ::open((s.runtime.path + "/prun-semaphores/" + s.id + "/slot-0").c_str(), O_RDWR | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    struct flock l {};
    l.l_type = F_WRLCK;
    l.l_whence = SEEK_SET;
    ASSERT_EQ(::fcntl(fd, F_GETLK, &l), 0);
    ::close(fd);
    ASSERT_EQ(l.l_type, F_WRLCK) << "slot 0 is not locked";
    ASSERT_GT(l.l_pid, 0);
    ASSERT_EQ(::kill(l.l_pid, SIGKILL), 0);
    auto r = s.run({"--fg", "echo", "got it"});
    EXPECT_EQ(r.out, "got it\n");
    EXPECT_EQ(r.code, 0) << r.err;
    (void)holder->terminate_tree(std::chrono::seconds(0));
}

TEST(PrunSemaphore, Refusals) {
    Sem s;
    auto r = prun({"--id", "x", "true"});
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.err.find("prun: cannot use --id without --semaphore"), std::string::npos) << r.err;
    r = s.run({"--wait", "true"});
    EXPECT_EQ(r.code, 2);
    r = run_program(prun_path(), {"--semaphore", "--id", "a/b", "--fg", "true"}, {}, std::chrono::seconds(60),
                    [&](Command& c) { c.env("XDG_RUNTIME_DIR", s.runtime.path); });
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("prun: cannot use semaphore name \"a/b\""), std::string::npos) << r.err;
}

}  // namespace
}  // namespace prockit::test
