// prun speaks GNU parallel, part C: how --pipe's blocks reach the jobs (--round-robin: a few jobs
// that each read many blocks; --tee: all of stdin to every job) and --compress (waiting output kept
// compressed in $TMPDIR). Each is run side by side with GNU parallel when it is installed; where
// the order of the output is the scheduler's, what is compared is what any order must keep.
#include "side_by_side.hpp"

#include <numeric>

namespace prockit::test {
namespace {

std::string numbers(int first, int count) {
    std::string s;
    for (int i = first; i < first + count; ++i) s += std::to_string(i) + "\n";
    return s;
}

/// The sum of the numbers on the lines of `out`, and how many lines there were.
std::pair<long long, std::size_t> sum_lines(const std::string& out) {
    long long sum = 0;
    auto l = lines(out);
    for (const auto& x : l) sum += std::stoll(x);
    return {sum, l.size()};
}

/// Runs a shell pipeline in which "PRUN" stands for the built prun.
PrunResult shell(std::string script, std::chrono::seconds limit = std::chrono::seconds(120)) {
    for (std::size_t at; (at = script.find("PRUN")) != std::string::npos;) script.replace(at, 4, "'" + prun_path() + "'");
    return run_program("/bin/sh", {"-c", script}, {}, limit);
}

// ---------------------------------------------------------------- --round-robin

TEST(PrunParallelC, RoundRobinDealsBlocksToAtMostJobsJobs) {
    // 200,000 lines in 10 KB blocks: some 120 blocks for at most 3 jobs, so jobs read many blocks;
    // every line reaches exactly one of them (the counts add up to the input's).
    const std::string input = numbers(1, 200000);
    std::vector<std::string> args{"--pipe", "--round-robin", "-j3", "--block", "10k", "wc", "-l"};
    auto r = prun(args, input);
    EXPECT_EQ(r.code, 0) << r.err;
    auto [sum, n] = sum_lines(r.out);
    EXPECT_EQ(sum, 200000) << r.out;
    EXPECT_GE(n, 1u);
    EXPECT_LE(n, 3u) << r.out;
    // Without --round-robin each block is a job of its own.
    r = prun({"--pipe", "-j3", "--block", "10k", "wc", "-l"}, input);
    EXPECT_GT(lines(r.out).size(), 3u);
    SKIP_WITHOUT_GNU_PARALLEL();
    auto b = both(args, input);
    EXPECT_EQ(b.theirs.code, b.ours.code) << b.theirs.err;
    EXPECT_EQ(sum_lines(b.theirs.out).first, sum_lines(b.ours.out).first);
    EXPECT_LE(sum_lines(b.theirs.out).second, 3u);
}

TEST(PrunParallelC, RoundRobinKeepsRecordsWhole) {
    // Lines of many lengths, small blocks, -N and --recend: whatever job a block went to, every
    // record arrives whole and once.
    std::string input;
    for (int i = 0; i < 3000; ++i) input += std::string(static_cast<std::size_t>(i % 97), 'a' + static_cast<char>(i % 26)) + std::to_string(i) + "\n";
    for (std::vector<std::string> args : {std::vector<std::string>{"--pipe", "--round-robin", "-j2", "--block", "1k", "cat"},
                                          {"--pipe", "--round-robin", "-j3", "-N", "7", "cat"},
                                          {"--pipe", "--round-robin", "-j2", "--block", "2k", "--recend", "\\n", "cat"}}) {
        SCOPED_TRACE(::testing::PrintToString(args));
        auto r = prun(args, input);
        EXPECT_EQ(r.code, 0) << r.err;
        EXPECT_EQ(sorted_lines(r.out), sorted_lines(input));
        if (!have_gnu_parallel()) continue;
        auto b = both(args, input);
        EXPECT_EQ(sorted_lines(b.theirs.out), sorted_lines(b.ours.out));
        EXPECT_EQ(b.theirs.code, b.ours.code);
    }
}

TEST(PrunParallelC, RoundRobinStartsAJobOnlyForABlock) {
    // One small block: one job, as in GNU parallel (jobs start as blocks need them, up to -j).
    auto r = prun({"--pipe", "--round-robin", "-j3", "sh", "-c", "echo job; wc -l"}, "1\n2\n3\n");
    EXPECT_EQ(r.out, "job\n3\n") << r.err;
    EXPECT_EQ(r.code, 0);
    // -N 1: a block per record, given to the first job free to take it.
    r = prun({"--pipe", "--round-robin", "-j3", "-N", "1", "-k", "cat"}, "1\n2\n3\n");
    EXPECT_EQ(sorted_lines(r.out), (std::vector<std::string>{"1", "2", "3"})) << r.err;
    // No input, -r: no job at all.
    r = prun({"--pipe", "--round-robin", "-r", "-j3", "echo", "ran"}, "");
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.code, 0) << r.err;
    SKIP_WITHOUT_GNU_PARALLEL();
    expect_same({"--pipe", "--round-robin", "-j3", "echo job; wc -l"}, "1\n2\n3\n");
    expect_same({"--pipe", "--round-robin", "-r", "-j3", "echo", "ran"}, "");
}

TEST(PrunParallelC, RoundRobinJoblogCountsWhatEachJobGot) {
    TempDir d;
    const std::string input = numbers(1, 50000);
    auto r = prun({"--pipe", "--round-robin", "-j2", "--block", "4k", "--joblog", d / "log", "wc", "-l"}, input);
    EXPECT_EQ(r.code, 0) << r.err;
    auto log = lines(slurp(d / "log"));
    ASSERT_GE(log.size(), 2u);
    std::uint64_t sent = 0;
    for (std::size_t i = 1; i < log.size(); ++i) sent += std::stoull(columns(log[i]).at(4));  // Send
    EXPECT_EQ(sent, input.size());
}

// ---------------------------------------------------------------- --tee

TEST(PrunParallelC, TeeGivesEveryJobAllOfStdin) {
    const std::string input = numbers(1, 1000);
    auto r = prun({"--pipe", "--tee", "-k", "wc", "{}", ":::", "-w", "-l", "-c"}, input);
    EXPECT_EQ(r.out, "1000\n1000\n3893\n") << r.err;
    EXPECT_EQ(r.code, 0);
    SKIP_WITHOUT_GNU_PARALLEL();
    expect_same({"--pipe", "--tee", "-k", "wc", "{}", ":::", "-w", "-l", "-c"}, input);
    // GNU parallel's own example: how many of 1..1000 contain each digit, and their bytes.
    expect_same({"--pipe", "--tee", "-k", "--tag", "grep {1} | wc {2}", ":::", "0", "1", "5", ":::", "-l", "-c"}, input);
    // No input: every job reads end-of-file at once.
    expect_same({"--pipe", "--tee", "-k", "echo {}; wc -l", ":::", "a", "b"}, "");
}

TEST(PrunParallelC, TeeJobThatStopsReadingLeavesTheOthers) {
    // `head -1` exits after a line; the others still get every byte (several MiB: far more than
    // a pipe holds, so the early exit is met while writing).
    std::string input;
    for (int i = 0; i < 400000; ++i) input += "line " + std::to_string(i) + "\n";
    std::vector<std::string> args{"--pipe", "--tee", "-k", "sh", "-c", "{}", ":::", "head -1", "wc -l", "exit 3", "wc -c"};
    auto r = prun(args, input);
    EXPECT_EQ(r.out, "line 0\n400000\n" + std::to_string(input.size()) + "\n") << r.err;
    EXPECT_EQ(r.code, 1) << r.err;  // exit 3: one failed job
    SKIP_WITHOUT_GNU_PARALLEL();
    expect_same(args, input);
}

TEST(PrunParallelC, TeeHoldsTheInputBackForASlowJob) {
    // One job sleeps before it reads: prun reads on only while every job has fewer than two
    // blocks waiting, so its memory stays near a few blocks, not the 100 MB of input. The peak
    // (maximum resident set, in KiB) is prun's own: the jobs are sh, sleep and wc.
    auto r = shell("yes abcdefghijklmnopqrstuvwxyz | head -c 100000000 | /usr/bin/time -f 'maxrss=%M' -o /dev/stderr "
                   "PRUN --pipe --tee -k sh -c {} ::: 'sleep 2; wc -c' 'wc -c'");
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, "100000000\n100000000\n") << r.err;
    auto at = r.err.find("maxrss=");
    ASSERT_NE(at, std::string::npos) << r.err;
    // ASan's shadow memory and quarantine make the figure meaningless there (the plain build checks it).
    if (!sanitized) {
        EXPECT_LT(std::stoll(r.err.substr(at + 7)), 40 * 1024) << r.err;
    }
}

TEST(PrunParallelC, TeeOptionsAndErrors) {
    // Every job must run at once: -j below the number of values is refused (GNU parallel: 255 too).
    auto r = prun({"--pipe", "--tee", "-j1", "wc", "-l", ":::", "a", "b"}, "x\n");
    EXPECT_EQ(r.code, 255);
    EXPECT_NE(r.err.find("prun: cannot use --tee with -j 1: its 2 jobs must all run at once"), std::string::npos) << r.err;
    r = prun({"--pipe", "--tee", "-j0", "-k", "sh", "-c", "wc -l", ":::", "a", "b", "c"}, "x\n");
    EXPECT_EQ(r.out, "1\n1\n1\n") << r.err;
    // Without values there is no job to give the input to.
    r = prun({"--pipe", "--tee", "wc", "-l"}, "x\n");
    EXPECT_EQ(r.code, 255);
    EXPECT_NE(r.err.find("cannot use --tee without input sources"), std::string::npos) << r.err;
    // Both are --pipe's: without it, with each other, or with --retries they are refused.
    for (std::vector<std::string> args : {std::vector<std::string>{"--tee", "wc", ":::", "a"},
                                          {"--round-robin", "wc", ":::", "a"},
                                          {"--pipe", "--tee", "--round-robin", "wc", ":::", "a"},
                                          {"--pipe", "--round-robin", "--retries", "2", "wc"}}) {
        SCOPED_TRACE(::testing::PrintToString(args));
        r = prun(args, "x\n");
        EXPECT_EQ(r.code, 255);
        EXPECT_EQ(r.err.rfind("prun: cannot use --", 0), 0u) << r.err;
        EXPECT_EQ(r.out, "");
    }
    SKIP_WITHOUT_GNU_PARALLEL();
    auto b = both({"--pipe", "--tee", "-j1", "wc", "-l", ":::", "a", "b"}, "x\n");
    EXPECT_EQ(b.theirs.code, 255);
}

// ---------------------------------------------------------------- --compress

/// Bytes of every value, no trailing newline, and long runs that compress well.
std::string awkward_bytes(std::size_t n, unsigned seed) {
    std::string s;
    s.reserve(n);
    for (std::size_t i = 0; s.size() < n; ++i) {
        if (i % 3 == 0)
            s.append(std::min<std::size_t>(5000, n - s.size()), static_cast<char>('a' + (i + seed) % 26));
        else
            s.push_back(static_cast<char>((i * 131 + seed) & 0xff));
    }
    return s;
}

TEST(PrunParallelC, CompressChangesNoByte) {
    TempDir d;
    std::vector<std::string> files;
    std::string all;
    for (unsigned k = 0; k < 5; ++k) {
        std::string data = awkward_bytes(k == 2 ? 3000000 : 70000 + k * 1000, k);  // one far over a 64 KiB frame
        files.push_back(d / ("f" + std::to_string(k)));
        spit(files.back(), data);
        all += data;
    }
    // -k: the outputs wait for each other (buffered, compressed); with --tag line by line.
    for (std::vector<std::string> mode : {std::vector<std::string>{"-k"}, {"-k", "--tag"}, {"-k", "-v"}}) {
        SCOPED_TRACE(::testing::PrintToString(mode));
        std::vector<std::string> args{"--compress", "-j3"};
        args.insert(args.end(), mode.begin(), mode.end());
        args.insert(args.end(), {"sh", "-c", "cat {}; cat {} >&2", ":::"});
        args.insert(args.end(), files.begin(), files.end());
        auto z = prun(args);
        args.erase(args.begin());
        auto plain = prun(args);
        EXPECT_EQ(z.code, 0) << z.err.substr(0, 300);
        EXPECT_TRUE(z.out == plain.out) << "stdout differs from the run without --compress";
        EXPECT_TRUE(z.err == plain.err) << "stderr differs from the run without --compress";
        if (mode.size() == 1) {
            EXPECT_TRUE(z.out == all);
        }
    }
    // Without -k: the jobs behind the one writing straight through are merged into the spill
    // files; each job's output still comes out whole.
    std::vector<std::string> args{"--compress", "-j3", "cat", ":::"};
    args.insert(args.end(), files.begin(), files.end());
    auto z = prun(args);
    EXPECT_EQ(z.code, 0) << z.err;
    EXPECT_EQ(z.out.size(), all.size());
    for (const auto& f : files) EXPECT_NE(z.out.find(slurp(f)), std::string::npos) << f;
    SKIP_WITHOUT_GNU_PARALLEL();
    args = {"--compress", "-k", "-j3", "cat", ":::"};
    args.insert(args.end(), files.begin(), files.end());
    auto b = both(args);
    EXPECT_TRUE(b.ours.out == b.theirs.out);
    EXPECT_EQ(b.ours.code, b.theirs.code) << b.theirs.err;
}

TEST(PrunParallelC, CompressedOutputFitsWhereThePlainDoesNot) {
    // $TMPDIR is a 64 KiB tmpfs: 2 MB of waiting output cannot be kept there as it is, and can
    // when compressed. Job 1 is slow, so -k keeps job 2's output waiting behind it.
    SmallTmpfs t;
    if (t.path.empty()) GTEST_SKIP() << "cannot mount a small tmpfs here: " << t.why;
    std::vector<std::string> args{"-k", "-j2", "sh", "-c", "if [ {} = 1 ]; then sleep 1; fi; yes {} | head -c 2000000", ":::", "1", "2"};
    auto tweak = [&](Command& c) { c.env("TMPDIR", t.path); };
    auto plain = run_program(prun_path(), args, {}, std::chrono::seconds(60), tweak);
    EXPECT_NE(plain.code, 0) << plain.err;  // 1: the job's own writes failed too
    EXPECT_NE(plain.err.find("No space left on device"), std::string::npos) << plain.err;
    args.insert(args.begin(), "--compress");
    auto z = run_program(prun_path(), args, {}, std::chrono::seconds(60), tweak);
    EXPECT_EQ(z.code, 0) << z.err;
    EXPECT_EQ(z.err, "");
    std::string want;
    for (char v : {'1', '2'})
        for (int i = 0; i < 1000000; ++i) want += std::string{v, '\n'};
    EXPECT_TRUE(z.out == want) << "output differs (" << z.out.size() << " bytes)";
}

TEST(PrunParallelC, CompressIsAPoolOption) {
    auto r = prun({"--compress", "echo", "a"});
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.err.find("cannot use --compress with one command"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace prockit::test
