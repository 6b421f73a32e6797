// A full disk (issue 18): a small tmpfs, filled to the brim or filled by the output itself, under
// prun's joblog (and --resume afterwards), --results DIR and --files, pjobs' state file, and the
// Queue's spill area (whose "disk" is a memfd: the limit there is RLIMIT_FSIZE). Invariants: no byte
// of output lost silently (it arrives, or a one-line error names what was lost and the exit
// status says so), every file left parses and holds what it held, nothing left running.
//
// Covered elsewhere, not repeated here: prun's buffered output and its spill file on a full
// $TMPDIR (PrunFaultsOutput.AFullTmpdirIsReported, PrunFaultsOutput.AFullSpillFileIsReported;
// with --compress here),
// --pipe blocks (PrunPool.PipeBlocksOnAFullDisk), pjobs' job logs
// (PjobsBadInput.AFullDiskTruncatesTheLogAndTheJobRunsOn).
#include "disk_support.hpp"

#include "lib/ipc/ipc_support.hpp"
#include "tools/pjobs/pjobs_support.hpp"

#include <prockit/ipc/queue.hpp>

#include <nlohmann/json.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <map>
#include <regex>
#include <set>

using namespace prockit;
using namespace prockit::test;
using namespace std::chrono_literals;

namespace {

const std::string prun_bin = PROCKIT_PRUN;
const std::string pjobs_bin = PROCKIT_PJOBS;

/// The sequence numbers in a joblog, each line checked whole (TSV: 9 columns; jsonl: an object).
/// Empty optional (and a failure) when a line is torn.
std::optional<std::multiset<long>> logged(const std::string& text, bool jsonl) {
    std::multiset<long> seqs;
    if (!fault::whole_lines(text)) {
        ADD_FAILURE() << "the joblog ends in a torn line: ..." << text.substr(text.size() > 200 ? text.size() - 200 : 0);
        return std::nullopt;
    }
    auto ls = lines(text);
    for (std::size_t i = 0; i < ls.size(); ++i) {
        if (!jsonl && i == 0) {
            if (ls[0].rfind("Seq\tHost\t", 0) != 0) ADD_FAILURE() << "no header: " << ls[0];
            continue;
        }
        if (jsonl) {
            auto j = nlohmann::json::parse(ls[i], nullptr, false);
            if (j.is_discarded() || !j.contains("seq")) {
                ADD_FAILURE() << "line " << i + 1 << " is no joblog record: " << ls[i];
                return std::nullopt;
            }
            seqs.insert(j["seq"].get<long>());
        } else {
            auto c = columns(ls[i]);
            if (c.size() < 9) {
                ADD_FAILURE() << "line " << i + 1 << " has " << c.size() << " columns: " << ls[i];
                return std::nullopt;
            }
            seqs.insert(std::stol(c[0]));
        }
    }
    return seqs;
}

}  // namespace

// The joblog's file system fills while jobs run: prun names the first job it could not record,
// the log keeps whole lines only (a torn last line used to stop every later --resume), and once
// there is room again --resume runs exactly the jobs that are not in it: none twice, none lost.
TEST(FaultDisk, AFullJoblogKeepsWholeLinesAndResumeRunsTheRest) {
    const std::uint64_t s = fault::seed();
    SCOPED_TRACE(fault::seed_trace(s));
    std::mt19937_64 rng(s);
    fault::NoneLeftBehind none;
    int trials = 0;
    for (bool jsonl : {false, true}) {
        for (int trial = 0; trial < 3; ++trial, ++trials) {
            SCOPED_TRACE(std::string(jsonl ? "jsonl" : "tsv") + " trial " + std::to_string(trial));
            fault::SmallTmpfs t("64k");
            if (t.path.empty()) GTEST_SKIP() << t.why;
            // A random amount of room: the cut falls at a different line each time.
            fault::fill(t.path, "filler", std::uniform_int_distribution<std::uint64_t>(0, jsonl ? 2 : 1)(rng) * 4096);
            const int jobs = 60;
            std::vector<std::string> args{"-j2", "--joblog", t / (jsonl ? "log.jsonl" : "log"), "--joblog-format",
                                          jsonl ? "jsonl" : "tsv", "echo"};
            args.emplace_back(":::");
            for (int i = 1; i <= jobs; ++i) args.push_back(std::to_string(i) + std::string(rng() % 40, 'x'));
            auto r = run_program(prun_bin, args, {}, 60s);
            const std::string text = slurp(t / (jsonl ? "log.jsonl" : "log"));
            auto seqs = logged(text, jsonl);
            ASSERT_TRUE(seqs);
            if (!jsonl && text.empty()) {
                // Not even the header fitted: prun says so and starts nothing.
                EXPECT_EQ(r.code, 255);
                EXPECT_EQ(r.err, "prun: cannot write joblog " + t.path + "/log: No space left on device\n");
                EXPECT_EQ(r.out, "");
            } else if (static_cast<int>(seqs->size()) < jobs) {
                EXPECT_EQ(lines(r.out).size(), static_cast<std::size_t>(jobs)) << "every job ran and its output arrived";
                EXPECT_EQ(r.code, 255) << r.err;
                EXPECT_TRUE(std::regex_search(r.err, std::regex("^prun: cannot record job [0-9]+ or any job that ends after it in "
                                                                "joblog " + t.path + "/log(\\.jsonl)?: No space left on device\n$")))
                    << r.err;
            } else {
                EXPECT_EQ(r.code, 0) << r.err;
                EXPECT_EQ(lines(r.out).size(), static_cast<std::size_t>(jobs));
            }
            for (long q : *seqs) EXPECT_EQ(seqs->count(q), 1u) << "job " << q << " recorded twice";
            // Room again: --resume runs what the log does not hold, and nothing it holds.
            ::unlink((t / "filler").c_str());
            args.insert(args.begin(), "--resume");
            auto again = run_program(prun_bin, args, {}, 60s);
            EXPECT_EQ(again.code, 0) << again.err;
            EXPECT_EQ(again.err, "");
            EXPECT_EQ(lines(again.out).size(), jobs - seqs->size()) << "resume ran a recorded job again, or lost one";
            auto all = logged(slurp(t / (jsonl ? "log.jsonl" : "log")), jsonl);
            ASSERT_TRUE(all);
            EXPECT_EQ(all->size(), static_cast<std::size_t>(jobs));
            for (long q = 1; q <= jobs; ++q) EXPECT_EQ(all->count(q), 1u) << "job " << q;
        }
    }
    none.check("prun with a full joblog");
    RecordProperty("trials", trials);
}

// --results DIR on a file system the jobs fill themselves (and that ignore their write errors):
// every job whose files are short is named, the run fails, no job after the first that cannot
// even get its files starts, and what was kept is whole.
TEST(FaultDisk, FullResultsDirNamesEveryJobWhoseOutputIsCut) {
    fault::NoneLeftBehind none;
    fault::SmallTmpfs t("64k");
    if (t.path.empty()) GTEST_SKIP() << t.why;
    fault::fill(t.path, "filler", 16 * 1024);
    auto r = run_program(prun_bin,
                         {"-j2", "--results", t / "res", "sh", "-c", "head -c 6000 /dev/zero 2>/dev/null; true", ":::", "1", "2",
                          "3", "4", "5", "6", "7", "8"},
                         {}, 60s);
    EXPECT_EQ(r.code, 255) << r.err;
    for (const auto& l : lines(r.err))
        EXPECT_TRUE(std::regex_match(l, matrix::house_form("prun")) || std::regex_match(l + "\n", matrix::house_form("prun"))) << l;
    int whole = 0, cut = 0;
    for (int i = 1; i <= 8; ++i) {
        std::string dir = t / ("res/1/" + std::to_string(i));
        struct stat st {};
        if (::stat((dir + "/stdout").c_str(), &st) != 0) continue;  // never started
        bool named = r.err.find("job " + std::to_string(i) + " (" + std::to_string(i) + ")") != std::string::npos ||
                     r.err.find(dir + "/") != std::string::npos;
        if (st.st_size == 6000) {
            ++whole;
        } else {
            ++cut;
            EXPECT_TRUE(named) << "job " << i << " kept " << st.st_size << " of 6000 bytes silently: " << r.err;
        }
    }
    EXPECT_GT(cut, 0) << "the disk never filled: " << r.err;
    // With room, the same run keeps everything.
    ::unlink((t / "filler").c_str());
    std::system(("rm -rf '" + t / "res" + "'").c_str());
    auto ok = run_program(prun_bin, {"-j2", "--results", t / "res", "sh", "-c", "head -c 6000 /dev/zero", ":::", "1", "2"}, {}, 60s);
    EXPECT_EQ(ok.code, 0) << ok.err;
    EXPECT_EQ(ok.err, "");
    none.check("prun --results on a full disk");
}

// --files with TMPDIR on a full file system: each file named on stdout holds the job's whole
// output, or the job is named on stderr; the run fails.
TEST(FaultDisk, FullTmpdirUnderFilesNamesEveryJobWhoseFileIsCut) {
    fault::NoneLeftBehind none;
    fault::SmallTmpfs t("64k");
    if (t.path.empty()) GTEST_SKIP() << t.why;
    fault::fill(t.path, "filler", 16 * 1024);
    auto r = run_program(prun_bin,
                         {"-j3", "--files", "sh", "-c", "head -c 5000 /dev/zero 2>/dev/null; true", ":::", "1", "2", "3", "4", "5",
                          "6"},
                         {}, 60s, [&](Command& c) { c.env("TMPDIR", t.path); });
    EXPECT_EQ(r.code, 255) << r.err;
    int cut = 0;
    for (const auto& name : lines(r.out)) {
        struct stat st {};
        ASSERT_EQ(::stat(name.c_str(), &st), 0) << name;
        if (st.st_size == 5000) continue;
        ++cut;
        EXPECT_NE(r.err.find("in " + t.path + ": No space left on device"), std::string::npos) << r.err;
    }
    std::set<std::string> named;
    for (const auto& l : lines(r.err)) {
        EXPECT_TRUE(std::regex_match(l + "\n", matrix::house_form("prun"))) << l;
        named.insert(l);
    }
    EXPECT_GE(named.size(), static_cast<std::size_t>(cut)) << "a cut file without its line: " << r.err;
    EXPECT_GT(cut + static_cast<int>(6 - lines(r.out).size()), 0) << "the disk never filled";
    none.check("prun --files on a full TMPDIR");
}

// --compress with $TMPDIR full (a 64 KiB tmpfs): every job whose waiting output was cut is named
// on a line of its own, a job whose output fits is whole and not named, and the run ends 255. A
// frame that cannot be written whole is taken off again, in a job's file and in the spill file,
// so it cannot take the output of later jobs with it. Job i writes lines "i:" + 64 random letters
// a-p (zstd keeps about half): odd jobs ~200 KB, more than the tmpfs holds, even ones 4 KB. Read
// back, stdout is one stretch per job, each a prefix of what the job wrote.
TEST(FaultDisk, CompressOnAFullTmpdirNamesEveryJobWhoseOutputIsCut) {
    const std::uint64_t seed = fault::seed();
    SCOPED_TRACE(fault::seed_trace(seed));
    fault::NoneLeftBehind none;
    fault::SmallTmpfs t("64k");
    if (t.path.empty()) GTEST_SKIP() << t.why;
    TempDir data;
    std::mt19937_64 rng(seed);
    std::map<int, std::string> wrote;
    for (int i = 1; i <= 8; ++i) {
        std::string& text = wrote[i];
        for (int k = 0, n = i % 2 ? 3000 : 60; k < n; ++k) {
            text += std::to_string(i) + ":";
            for (int c = 0; c < 64; ++c) text += static_cast<char>('a' + rng() % 16);
            text += '\n';
        }
        std::ofstream(data / std::to_string(i)) << text;
    }
    const std::string go = data / "go";
    // Job 1 ends only after job 8 has written: without -k it writes straight through, and every
    // other job's output waits in the spill file meanwhile.
    const std::string script = "cat '" + data.path + "'/$1; if [ $1 = 8 ]; then : > '" + go + "'; fi; if [ $1 = 1 ]; then " +
                               "while [ ! -e '" + go + "' ]; do sleep 0.02; done; fi";
    struct Mode {
        std::vector<std::string> args;
        int cut;  // jobs cut, when it is known (-1: some)
        bool wait = false;  // job 1 waits for job 8
    };
    // --retries 2 (no job fails) keeps every job buffered: no job writes straight through.
    for (const Mode& m : {Mode{{"-k", "-j1", "--retries", "2"}, 4}, Mode{{"-k", "-j3", "--retries", "2"}, -1}, Mode{{"-j3"}, -1, true}}) {
        SCOPED_TRACE(::testing::PrintToString(m.args));
        ::unlink(go.c_str());
        if (!m.wait) std::ofstream(go) << "";
        std::vector<std::string> args{"--compress"};
        args.insert(args.end(), m.args.begin(), m.args.end());
        args.insert(args.end(), {"sh", "-c", script, "sh", "{}", ":::", "1", "2", "3", "4", "5", "6", "7", "8"});
        auto r = run_program(prun_bin, args, {}, 120s, [&](Command& c) { c.env("TMPDIR", t.path); });
        EXPECT_EQ(r.code, 255) << r.err;
        std::set<int> named;
        for (const auto& l : lines(r.err)) {
            EXPECT_TRUE(std::regex_match(l + "\n", matrix::house_form("prun"))) << l;
            auto at = l.find(" job ");
            int job = at == std::string::npos ? 0 : std::atoi(l.c_str() + at + 5);
            EXPECT_GT(job, 0) << "a line that names no job: " << l;
            EXPECT_TRUE(named.insert(job).second) << "named twice: " << l;
        }
        std::map<int, std::size_t> got;  // job -> bytes of its stretch
        for (std::size_t pos = 0; pos < r.out.size();) {
            int job = std::atoi(r.out.c_str() + pos);
            if (!wrote.count(job) || got.count(job)) {
                ADD_FAILURE() << "stdout at byte " << pos << " is no job's next output: " << r.out.substr(pos, 80);
                break;
            }
            const std::string& w = wrote[job];
            std::size_t k = 0;
            while (pos + k < r.out.size() && k < w.size() && r.out[pos + k] == w[k]) ++k;
            got[job] = k;
            pos += k;
        }
        int cut = 0;
        for (int i = 1; i <= 8; ++i) {
            const std::size_t k = got.count(i) ? got[i] : 0;
            if (k == wrote[i].size()) {
                EXPECT_FALSE(named.count(i)) << "job " << i << " is whole but named: " << r.err;
            } else {
                ++cut;
                EXPECT_TRUE(named.count(i)) << "job " << i << " kept " << k << " of " << wrote[i].size() << " bytes silently: " << r.err;
            }
        }
        if (m.cut >= 0) {
            EXPECT_EQ(cut, m.cut) << r.err;
            for (int i = 2; i <= 8; i += 2) EXPECT_EQ(got[i], wrote[i].size()) << "job " << i << " fits, alone on the tmpfs";
        }
        EXPECT_GT(cut, 0) << "the tmpfs never filled: " << r.err;
    }
    none.check("prun --compress on a full TMPDIR");
}

// pjobs' job table on a full disk: the file on disk stays the last table saved whole (it is
// replaced by rename), each list warns that saving fails, and once there is room the server saves
// by itself (a retry every second), so a restarted server has every job.
TEST(FaultDisk, PjobsStateFileStaysWholeAndIsSavedOnceThereIsRoom) {
    fault::NoneLeftBehind none;
    {
        Pjobs pj;
        std::string state = pj.state();
        ::mkdir(state.c_str(), 0700);
        if (::geteuid() != 0) GTEST_SKIP() << "needs root to mount a tmpfs";
        if (::mount("prockit-fault", state.c_str(), "tmpfs", 0, "size=256k") != 0)
            GTEST_SKIP() << "cannot mount a tmpfs: " << std::strerror(errno);
        struct Unmount {
            std::string p;
            ~Unmount() { ::umount2(p.c_str(), MNT_DETACH); }
        } unmount{state};
        for (int i = 0; i < 3; ++i) ASSERT_EQ(pj({"run", "--no-tty", "--name", "before" + std::to_string(i), "--", "true"}).code, 0);
        ASSERT_EQ(pj({"wait", "%1", "%2", "%3"}).code, 0);
        const std::string table = pj.statedir() + "/pjobs-jobs.jsonl";
        const std::string saved = slurp(table);
        ASSERT_NE(saved.find("before2"), std::string::npos);
        fault::fill(state, "filler");  // to the brim
        ASSERT_EQ(pj({"run", "--no-tty", "--name", "during", "--", "true"}).code, 0);
        auto w = pj({"wait", "%during"});
        ASSERT_EQ(w.code, 0) << w.err;
        auto l = pj({"list"});
        EXPECT_EQ(l.code, 0);
        EXPECT_NE(l.err.find("pjobs: warning: cannot save the job table: "), std::string::npos) << l.err;
        EXPECT_NE(l.err.find("No space left on device"), std::string::npos) << l.err;
        EXPECT_NE(l.out.find("during"), std::string::npos) << "the server's table lost the job";
        // What is on disk is still a whole table: every line parses, every job it held is there.
        const std::string now = slurp(table);
        EXPECT_EQ(now, saved) << "the table on disk changed while it could not be saved";
        for (const auto& line : lines(now)) EXPECT_FALSE(nlohmann::json::parse(line, nullptr, false).is_discarded()) << line;
        // Room again: saved by the server's retry, without another change.
        ::unlink((state + "/filler").c_str());
        EXPECT_TRUE(eventually([&] { return slurp(table).find("during") != std::string::npos; }, 20s))
            << "the table was not saved again once there was room";
        l = pj({"list"});
        EXPECT_EQ(l.err, "") << "the warning outlived the failure";
        // A new server reads every job back.
        ASSERT_EQ(pj({"server", "stop"}).code, 0);
        auto jobs = pj.list();
        ASSERT_EQ(jobs.size(), 4u) << jobs.dump();
        for (const auto& j : jobs) EXPECT_EQ(j.value("state", ""), "done") << j.dump();
    }
    none.check("pjobs with a full state directory");
}

// The Queue spills to its memfd at an offset of 1 TiB: a file-size limit (ulimit -f) is the "full
// disk" there. A put that cannot spill throws a clear error and publishes nothing; what was put
// before is intact, and the queue goes on once items fit the ring again.
TEST(FaultDisk, QueueSpillThatCannotBeWrittenThrowsAndLosesNothingPutBefore) {
    Queue q(QueueOptions{.maxsize = 0, .buffer_bytes = 64 * 1024});
    auto p = spawn_fn([&] {
        ::signal(SIGXFSZ, SIG_IGN);  // else the kernel's answer to the limit is to kill the writer
        rlimit rl{1 << 20, 1 << 20};
        if (::setrlimit(RLIMIT_FSIZE, &rl) != 0) return 3;
        for (int i = 0; i < 10; ++i) q.put(std::string(100, static_cast<char>('a' + i)));
        try {
            q.put(std::string(40 * 1024, 'S'));  // over a quarter of the ring: it must spill
            return 1;
        } catch (const SystemError& e) {
            std::string what = e.what();
            if (what.find("put on a queue (spill area)") == std::string::npos) return 4;
            if (what.find("File too large") == std::string::npos) return 5;
        }
        q.put(std::string("after"));
        return 0;
    });
    EXPECT_EQ(join_code(*p), 0) << "1: the spill did not fail, 3: no limit, 4/5: an unclear error";
    for (int i = 0; i < 10; ++i) EXPECT_EQ(q.get<std::string>(5s), std::string(100, static_cast<char>('a' + i)));
    EXPECT_EQ(q.get<std::string>(5s), "after");
    EXPECT_THROW(q.get<std::string>(0ms), QueueEmpty) << "a half-written item became visible";
}
