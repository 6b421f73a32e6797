// SIGKILL at random moments (issue 18): at least 50 trials per component, each a kill at a moment
// drawn uniformly over the component's busy window (starting, mid-work, writing state or output,
// ending), then its invariants checked for real: no process left behind (the test process is a
// child subreaper), nothing hangs (every wait has a deadline), no torn line or message, no job
// lost from pjobs' table, a state file that still parses, a clear error from the survivor.
// The seed of the random moments is printed on failure; PROCKIT_FAULT_SEED=N replays it.
//
// Components: prun's supervisor and its guardian; the pjobs server and a job holder; poomguard
// watch; a Pool worker; a Queue producer and consumer; a Manager's server and one of its clients.
#include "kill_support.hpp"
#include "tools/pjobs/pjobs_support.hpp"
#include "tools/poomguard/watch_support.hpp"

#include <prockit/ipc/errors.hpp>
#include <prockit/ipc/manager.hpp>
#include <prockit/ipc/queue.hpp>
#include <prockit/pool/pool.hpp>
#include <prockit/process/process.hpp>

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

using namespace prockit;
using namespace prockit::test;
using namespace prockit::test::fault;
using namespace std::chrono_literals;

namespace {

// ---------------------------------------------------------------------------------------------
// prun: its supervisor or its guardian SIGKILLed while a small pool runs (4 jobs, 2 at a time,
// each printing two lines around a short sleep, with a joblog): before the jobs start, while they
// run and print, while the joblog is written, and as prun ends.

std::string prun_bin() { return PROCKIT_PRUN; }

// The supervisor: the guardian's child, once it exists (0 when the guardian ended first).
pid_t supervisor_of(pid_t guardian) {
    pid_t sup = 0;
    prockit::test::eventually(
        [&] {
            std::string kids = slurp("/proc/" + std::to_string(guardian) + "/task/" + std::to_string(guardian) + "/children");
            sup = static_cast<pid_t>(std::atol(kids.c_str()));
            return sup > 0 || !alive(guardian);
        },
        10s);
    return sup;
}

void prun_kills(bool supervisor) {
    Moments m;
    SCOPED_TRACE(m.trace());
    NoneLeftBehind none;
    const std::set<std::string> expected_out = {"a1", "b1", "a2", "b2", "a3", "b3", "a4", "b4"};
    auto start = [](const TempDir& io) {
        Command c(prun_bin());
        c.args({"-j2", "--joblog", io / "joblog", "--", "sh", "-c", "echo a$1; sleep 0.005; echo b$1", "sh", "{}", ":::", "1", "2", "3",
                "4"});
        c.in(Stdio::null()).out(Stdio::write_file(io / "out")).err(Stdio::write_file(io / "err"));
        c.on_destroy(DestroyPolicy::kill_tree, 0s);
        return c.spawn();
    };
    // The run takes ~25-50 ms on a quiet machine; the window reaches a little past its end.
    auto window = measured_window(
        [&] {
            TempDir io;
            auto p = start(io);
            ASSERT_TRUE(p) << p.error().message();
            auto st = p->wait_for(60s);
            ASSERT_TRUE(st && *st) << "a clean run of prun did not end";
        },
        20ms);
    int mid_run = 0, completed = 0;
    for (int trial = 0; trial < kTrials; ++trial) {
        SCOPED_TRACE("trial " + std::to_string(trial));
        TempDir io;
        auto prun = start(io);
        ASSERT_TRUE(prun) << prun.error().message();
        pid_t victim = supervisor ? supervisor_of(prun->pid()) : prun->pid();
        sleep_for(m.delay(window));
        if (victim > 0 && alive(victim)) {
            if (!slurp(io / "out").empty()) ++mid_run;
            ::kill(victim, SIGKILL);
        }
        auto st = prun->wait_for(20s);
        ASSERT_TRUE(st && *st) << "prun did not end after the kill";
        int code = (*st)->shell_code();
        none.check("prun");
        std::string out = slurp(io / "out"), err = slurp(io / "err"), log = slurp(io / "joblog");
        // Its status: the run's own (0), or the kill passed on (137: the guardian killed, or the
        // guardian reporting its supervisor's death).
        EXPECT_TRUE(code == 0 || code == 128 + SIGKILL) << code << "\n" << err;
        if (code == 0) ++completed;
        // stderr: nothing, or one line saying what happened (the guardian's documented line, or the
        // supervisor's house-form line when its guardian died).
        EXPECT_TRUE(one_house_line_or_none(err, "prun", "^prun: cannot finish the run: the supervising process was killed by SIGKILL(; ended [0-9]+ process(es)? it left)?$"))
            << err;
        // stdout: whole lines, each a job's, none twice; all of them when prun completed.
        bool whole = true;
        auto got = text_lines(out, whole);
        EXPECT_TRUE(whole) << "a torn line on stdout: " << out;
        std::set<std::string> seen;
        for (const auto& l : got) {
            EXPECT_TRUE(expected_out.count(l)) << "unexpected output line '" << l << "'";
            EXPECT_TRUE(seen.insert(l).second) << "line '" << l << "' twice";
        }
        // The joblog: a header and whole rows of 9 columns, one per job at most.
        auto rows = text_lines(log, whole);
        EXPECT_TRUE(whole) << "a torn joblog line: " << log;
        std::set<std::string> seqs;
        for (std::size_t i = 0; i < rows.size(); ++i) {
            auto cols = columns(rows[i]);
            ASSERT_EQ(cols.size(), 9u) << "joblog line " << i << ": " << rows[i];
            if (i == 0) {
                EXPECT_EQ(cols[0], "Seq");
                continue;
            }
            EXPECT_TRUE(seqs.insert(cols[0]).second) << "job " << cols[0] << " logged twice";
        }
        if (code == 0) {
            EXPECT_EQ(seen, expected_out) << out;
            EXPECT_EQ(seqs.size(), 4u) << log;
            EXPECT_EQ(err, "");
        }
    }
    // The window must have covered the run itself, not only its edges.
    EXPECT_GT(mid_run, 0) << "no kill landed while jobs were printing";
    EXPECT_LT(completed, kTrials) << "no kill landed before prun ended";
}

TEST(FaultKill, PrunSupervisorAtRandomMoments) { prun_kills(true); }
TEST(FaultKill, PrunGuardianAtRandomMoments) { prun_kills(false); }

// ---------------------------------------------------------------------------------------------
// pjobs: the server SIGKILLed at random moments while `pjobs run` makes a job (starting on
// demand, answering, writing the table, recording an exit); a job holder SIGKILLed at random
// moments while its job runs, prints and ends.

std::vector<nlohmann::json> table_records(const Pjobs& pj, std::string& problem) {
    std::vector<nlohmann::json> recs;
    std::ifstream f(pj.statedir() + "/pjobs-jobs.jsonl");
    std::string line;
    bool first = true;
    while (std::getline(f, line)) {
        auto j = nlohmann::json::parse(line, nullptr, false);
        if (j.is_discarded()) {
            problem = "a line of the table does not parse: " + line;
            continue;
        }
        if (first) {
            first = false;
            if (j.contains("pjobs_table")) continue;
        }
        recs.push_back(j);
    }
    for (const auto& e : std::filesystem::directory_iterator(pj.statedir()))
        if (e.path().string().find("corrupt") != std::string::npos) problem = "the table was set aside as " + e.path().string();
    return recs;
}

// "[N] PID" from pjobs run: N, or 0.
long job_id_of(const std::string& out) {
    if (out.size() < 3 || out[0] != '[') return 0;
    return std::atol(out.c_str() + 1);
}

TEST(FaultKill, PjobsServerAtRandomMoments) {
    Moments m;
    SCOPED_TRACE(m.trace());
    NoneLeftBehind none;
    // The window: a `pjobs run` that starts its server (~40-80 ms on a quiet machine), measured
    // with a table of its own, and a little past it.
    auto window = measured_window(
        [] {
            Pjobs other;
            EXPECT_EQ(pjobs_quick(other, {"run", "--no-tty", "--", "true"}).code, 0);
        },
        40ms);
    // (destroyed before the last check: its destructor asks a server to stop, starting one)
    auto owner = std::make_unique<Pjobs>();
    Pjobs& pj = *owner;
    std::map<long, int> made;  // job id → trial whose job it is
    for (int trial = 0; trial < kTrials; ++trial) {
        SCOPED_TRACE("trial " + std::to_string(trial));
        // Each job leaves a file when it runs, so a job the table lost would still be seen.
        std::string mark = pj.file("ran-" + std::to_string(trial));
        Command c(pjobs_path());
        c.args({"run", "--no-tty", "--", "sh", "-c", "touch " + mark + "; echo out-" + std::to_string(trial) + "; sleep 0.02"});
        c.env("XDG_RUNTIME_DIR", pj.runtime()).env("XDG_STATE_HOME", pj.state()).cwd(pj.dir.path);
        c.in(Stdio::null()).out(Stdio::pipe()).err(Stdio::pipe());
        c.on_destroy(DestroyPolicy::kill_tree, 0s);
        auto client = c.spawn();
        ASSERT_TRUE(client) << client.error().message();
        // The server: the running one (answering, writing the table) or the one this client starts.
        sleep_for(m.delay(window));
        pid_t server = pj.server_pid();
        if (server > 0 && alive(server)) ::kill(server, SIGKILL);
        auto st = client->wait_for(30s);
        ASSERT_TRUE(st && *st) << "pjobs run hangs after its server was killed";
        int code = (*st)->shell_code();
        std::string out = read_all(client->stdout_pipe().get()), err = read_all(client->stderr_pipe().get());
        if (server > 0) {
            none.disallow(server);
            ASSERT_TRUE(prockit::test::eventually([&] { return !alive(server); }, 10s));
        }
        // The client made the job (0, "[N] PID") or says in one line why not (1).
        if (code == 0) {
            long id = job_id_of(out);
            ASSERT_GT(id, 0) << out;
            made[id] = trial;
        } else {
            EXPECT_EQ(code, 1) << err;
            EXPECT_TRUE(one_house_line_or_none(err, "pjobs") && !err.empty()) << err;
        }
        // The table parses and holds every job made so far. Every 5th trial a new server adopts
        // the jobs (else the next trial's client starts it, inside that trial's window).
        std::string problem;
        auto recs = table_records(pj, problem);
        EXPECT_EQ(problem, "");
        std::set<long> in_table;
        for (const auto& r : recs) in_table.insert(r.value("id", 0L));
        for (const auto& [id, t] : made) EXPECT_TRUE(in_table.count(id)) << "job " << id << " (trial " << t << ") is not in the table file";
        if (trial % 5 != 4) continue;
        auto list = pjobs_list(pj);
        pid_t fresh = pj.server_pid();
        if (fresh > 0) none.allow(fresh);
        recs = table_records(pj, problem);
        EXPECT_EQ(recs.size(), list.size()) << "the table and pjobs list disagree";
        std::set<long> listed;
        for (const auto& j : list) {
            long id = j.value("id", 0L);
            listed.insert(id);
            // Lost only when the server died while starting the job's holder (its client then
            // said it could not talk to the server), never a job that was made.
            if (made.count(id)) {
                EXPECT_NE(j.value("state", ""), "lost") << j.dump();
            }
        }
        for (const auto& [id, t] : made) EXPECT_TRUE(listed.count(id)) << "job " << id << " (trial " << t << ") is gone from the table";
    }
    // Every job that ran is in the table (none ran unowned), each done with its whole output; a
    // job reported lost never ran (no holder was killed).
    auto finished = [&] {
        for (const auto& j : pjobs_list(pj))
            if (j.value("state", "") != "done" && j.value("state", "") != "lost") return false;
        return true;
    };
    ASSERT_TRUE(prockit::test::eventually(finished, 30s)) << pjobs_list(pj).dump();
    auto list = pjobs_list(pj);
    std::map<int, long> job_of_trial;
    int lost = 0;
    for (const auto& j : list) {
        std::string cmd = j["command"].dump();
        auto p = cmd.find("echo out-");
        ASSERT_NE(p, std::string::npos) << cmd;
        int t = std::atoi(cmd.c_str() + p + 9);
        EXPECT_TRUE(job_of_trial.emplace(t, j.value("id", 0L)).second) << "trial " << t << " has two jobs";
        if (j.value("state", "") == "lost") {
            ++lost;
            EXPECT_NE(access(pj.file("ran-" + std::to_string(t)).c_str(), F_OK), 0) << "job " << j.dump() << " ran but is lost";
            job_of_trial.erase(t);
            continue;
        }
        EXPECT_EQ(j.value("status", -1), 0) << j.dump();
    }
    for (int t = 0; t < kTrials; ++t) {
        bool ran = access(pj.file("ran-" + std::to_string(t)).c_str(), F_OK) == 0;
        if (ran) {
            EXPECT_TRUE(job_of_trial.count(t)) << "the job of trial " << t << " ran but is not in the table";
        }
    }
    for (const auto& [t, id] : job_of_trial)
        EXPECT_EQ(slurp(pj.statedir() + "/pjobs-logs/" + std::to_string(id) + ".log"), "out-" + std::to_string(t) + "\n") << "job " << id;
    std::cout << "[          ] pjobs server kills: " << made.size() << " runs made their job, " << job_of_trial.size()
              << " jobs ran, " << lost << " lost while starting\n";
    EXPECT_GT(made.size(), 0u);
    EXPECT_LT(made.size(), static_cast<std::size_t>(kTrials)) << "no kill landed while a run was served";
    pid_t server = pj.server_pid();
    EXPECT_EQ(pjobs_quick(pj, {"server", "stop"}).code, 0);
    if (server > 0) {
        EXPECT_TRUE(prockit::test::eventually([&] { return !alive(server); }, 10s));
        none.disallow(server);
    }
    owner.reset();
    none.check("pjobs");
}

TEST(FaultKill, PjobsHolderAtRandomMoments) {
    Moments m;
    SCOPED_TRACE(m.trace());
    NoneLeftBehind none;
    // (destroyed before the last check: its destructor asks a server to stop, starting one)
    auto owner = std::make_unique<Pjobs>();
    Pjobs& pj = *owner;
    int lost = 0, done = 0;
    for (int trial = 0; trial < kTrials; ++trial) {
        SCOPED_TRACE("trial " + std::to_string(trial));
        bool tty = trial % 2 == 0;
        std::vector<std::string> args = {"run"};
        if (!tty) args.push_back("--no-tty");
        for (std::string a : {"--", "sh", "-c", "echo a; sleep 0.05; echo b"}) args.push_back(a);
        auto r = pjobs_quick(pj, args);
        ASSERT_EQ(r.code, 0) << r.err;
        long id = job_id_of(r.out);
        ASSERT_GT(id, 0) << r.out;
        pid_t server = pj.server_pid();
        if (server > 0) none.allow(server);
        long job = std::atol(r.out.c_str() + r.out.find(' ') + 1);
        long holder = parent_of(job);
        // The window: the job printing, sleeping, ending; the holder recording its exit.
        sleep_for(m.delay(50ms));
        if (holder > 1 && alive(static_cast<pid_t>(holder)) && holder != server) ::kill(static_cast<pid_t>(holder), SIGKILL);
        // The job is done (it ended before the kill) or lost; never left running unowned, and
        // waiting for it does not hang.
        auto w = pjobs_quick(pj, {"wait", "%" + std::to_string(id)});
        ASSERT_NE(w.code, -1) << "pjobs wait hangs";
        std::string state = w.code == 0 ? "done" : "lost";
        EXPECT_TRUE(prockit::test::eventually([&] { return !process_alive(job); }, 10s)) << "job " << id << " outlived its holder";
        if (state == "done") {
            ++done;
            EXPECT_EQ(w.code, 0) << w.err;
            EXPECT_EQ(slurp(pj.statedir() + "/pjobs-logs/" + std::to_string(id) + ".log"), tty ? "a\r\nb\r\n" : "a\nb\n");
        } else {
            ++lost;
            EXPECT_EQ(w.code, 1);
            // (the documented warning of pjobs wait for a lost job)
            EXPECT_EQ(w.err, "pjobs: warning: job " + std::to_string(id) + " was lost: its holder ended before it\n");
        }
        std::string problem;
        auto recs = table_records(pj, problem);
        EXPECT_EQ(problem, "");
        EXPECT_EQ(recs.size(), static_cast<std::size_t>(trial + 1));
    }
    EXPECT_GT(lost, 0) << "no kill landed while a job ran";
    pid_t server = pj.server_pid();
    EXPECT_EQ(pjobs_quick(pj, {"server", "stop"}).code, 0);
    if (server > 0) {
        EXPECT_TRUE(prockit::test::eventually([&] { return !alive(server); }, 10s));
        none.disallow(server);
    }
    owner.reset();
    none.check("pjobs holders");
    std::cout << "[          ] pjobs holder kills: " << lost << " lost, " << done << " done first\n";
}

// ---------------------------------------------------------------------------------------------
// poomguard watch SIGKILLed at random moments of its start (rules read, first scan, writes) and
// after it: what it had set is either the old or the rule's value, a restarted watch (every 5th
// trial) sets the rule's value, and nothing of it is left.

TEST(FaultKill, PoomguardWatchAtRandomMoments) {
    Moments m;
    SCOPED_TRACE(m.trace());
    NoneLeftBehind none;
    Scratch d;
    std::string target = d.copy_program("/bin/sleep", "pgk-target");
    write_file(d / "rules.conf", "[target]\nmatch.exe = " + target + "\nleader = 600\n");
    // The window: a watch's start to its first full scan (~30 ms on a quiet machine), measured.
    auto window = measured_window(
        [&] {
            Background w(d, {"watch", "--config", d / "rules.conf"}, "clean");
            EXPECT_TRUE(w.ready()) << w.err();
        },
        30ms);
    int set_before_kill = 0;
    for (int trial = 0; trial < kTrials; ++trial) {
        SCOPED_TRACE("trial " + std::to_string(trial));
        Command tc(target);
        tc.arg("60").in(Stdio::null()).on_destroy(DestroyPolicy::kill_tree, 0s);
        auto t = tc.spawn();
        ASSERT_TRUE(t) << t.error().message();
        ASSERT_TRUE(prockit::test::eventually([&] { return NoneLeftBehind::comm(t->pid()) == "pgk-target"; }, 10s));
        ASSERT_EQ(adj_of(t->pid()), 0);
        none.allow(t->pid());
        {
            Background w(d, {"watch", "--config", d / "rules.conf"}, "kill");
            sleep_for(m.delay(window));
            ASSERT_TRUE(w.child().kill());
            auto st = w.child().wait_for(10s);
            ASSERT_TRUE(st && *st);
            none.check("poomguard watch");
            auto adj = adj_of(t->pid());
            ASSERT_TRUE(adj);
            EXPECT_TRUE(*adj == 0 || *adj == 600) << "oom_score_adj " << *adj;
            if (*adj == 600) ++set_before_kill;
        }
        if (trial % 5 == 4) {  // every 5th trial (a start costs ~40 ms)
            Background w(d, {"watch", "--config", d / "rules.conf"}, "again");
            ASSERT_TRUE(w.ready()) << w.err();
            EXPECT_TRUE(prockit::test::eventually([&] { return adj_of(t->pid()) == 600; }, 10s)) << "a restarted watch did not pick up";
            EXPECT_EQ(w.stop(SIGTERM), 0) << w.err();
            EXPECT_EQ(w.err().find("cannot"), std::string::npos) << w.err();
        }
        ASSERT_TRUE(t->kill());
        ASSERT_TRUE(t->wait_for(10s));
        none.disallow(t->pid());
        none.check("poomguard watch, restarted");
    }
    EXPECT_GT(set_before_kill, 0) << "no kill landed after watch's first write";
    EXPECT_LT(set_before_kill, kTrials) << "no kill landed before watch's first write";
}

// ---------------------------------------------------------------------------------------------
// Pool: a worker SIGKILLed at a random moment of a map (starting, mid-task, between tasks): map
// returns every result or fails with worker_lost (the documented rule), never hangs; the pool
// goes on with a replacement; no worker is left once the pool is gone.

int small_task(int x) {
    ::usleep(500);
    return x * x + 1;
}

TEST(FaultKill, PoolWorkerAtRandomMoments) {
    Moments m;
    SCOPED_TRACE(m.trace());
    int failed = 0;
    std::vector<int> in(40);
    for (int i = 0; i < 40; ++i) in[i] = i;
    std::vector<int> want;
    for (int x : in) want.push_back(x * x + 1);
    for (int trial = 0; trial < kTrials; ++trial) {
        SCOPED_TRACE("trial " + std::to_string(trial));
        std::vector<pid_t> seen;
        {
            Pool pool({.processes = 2});
            auto r = pool.map_async(small_task, in, 1);
            sleep_for(m.delay(25ms));
            auto pids = pool.pids();
            ASSERT_FALSE(pids.empty());
            pid_t victim = pids[m.pick(0, static_cast<int>(pids.size()) - 1)];
            if (victim > 0) ::kill(victim, SIGKILL);
            try {
                EXPECT_EQ(r.get(60s), want);
            } catch (const TaskError& e) {
                ++failed;
                EXPECT_EQ(e.code(), make_error_code(IpcErrc::worker_lost)) << e.what();
            } catch (const TimeoutError&) {
                FAIL() << "map hangs after a worker was killed";
            }
            // The pool goes on.
            EXPECT_EQ(pool.map(small_task, std::vector<int>{1, 2, 3}, 1), (std::vector<int>{2, 5, 10}));
            seen = pool.pids();
            seen.push_back(victim);
            pool.close();
            EXPECT_TRUE(pool.join(60s));
        }
        for (pid_t p : seen) {
            if (p > 0) {
                EXPECT_TRUE(prockit::test::eventually([&] { return !alive(p); }, 10s)) << "worker " << p << " outlived its pool";
            }
        }
        EXPECT_TRUE(prockit::test::eventually([] { return no_children(); }, 10s)) << "a worker was left unreaped";
    }
    EXPECT_GT(failed, 0) << "no kill landed on a running task";
}

// ---------------------------------------------------------------------------------------------
// Queue: a producer killed at a random moment of its puts (small items in the ring, big ones
// spilled): the consumer gets whole items in order, then QueueEmpty at its timeout — never a torn
// item or a hang. A consumer killed at a random moment of its gets: the producer's side goes on
// and what is left arrives whole.

// Item i: its number, then a body whose length and bytes follow from i (some bigger than a
// quarter of the 64 KiB ring, so they are spilled).
std::string item(int i) {
    std::size_t len = i % 7 == 6 ? 40000 + static_cast<std::size_t>(i) : 16 + static_cast<std::size_t>(i % 50);
    return std::to_string(i) + ":" + std::string(len, static_cast<char>('a' + i % 26));
}
// The number of a whole item, or -1 for anything else.
int item_number(const std::string& s) {
    auto colon = s.find(':');
    if (colon == std::string::npos) return -1;
    int i = std::atoi(s.substr(0, colon).c_str());
    return s == item(i) ? i : -1;
}

TEST(FaultKill, QueueProducerAtRandomMoments) {
    Moments m;
    SCOPED_TRACE(m.trace());
    int cut = 0;
    for (int trial = 0; trial < kTrials; ++trial) {
        SCOPED_TRACE("trial " + std::to_string(trial));
        Queue q(QueueOptions{.maxsize = 0, .buffer_bytes = 64 * 1024});
        Process producer([&] {
            for (int i = 0; i < 400; ++i) q.put(item(i));
            return 0;
        });
        producer.start();
        sleep_for(m.delay(8ms));
        producer.kill();
        producer.join();
        // Everything the producer put before it died, whole and in order, then what the next
        // producer puts; then QueueEmpty at the timeout.
        q.put(std::string("next"), 10s);
        int next = 0;
        for (;;) {
            std::string s = q.get<std::string>(10s);
            if (s == "next") break;
            int i = item_number(s);
            ASSERT_EQ(i, next) << "item " << next << " torn or out of order (" << s.size() << " bytes)";
            ++next;
        }
        if (next < 400) ++cut;
        EXPECT_THROW((void)q.get<std::string>(10ms), QueueEmpty);
    }
    EXPECT_GT(cut, 0) << "no kill landed before the producer finished";
}

TEST(FaultKill, QueueConsumerAtRandomMoments) {
    Moments m;
    SCOPED_TRACE(m.trace());
    for (int trial = 0; trial < kTrials; ++trial) {
        SCOPED_TRACE("trial " + std::to_string(trial));
        Queue q(QueueOptions{.maxsize = 0, .buffer_bytes = 64 * 1024});
        for (int i = 0; i < 200; ++i) q.put(item(i));
        Process consumer([&] {
            for (;;) (void)q.get<std::string>(10s);
            return 0;
        });
        consumer.start();
        sleep_for(m.delay(6ms));
        consumer.kill();
        consumer.join();
        // What the consumer did not take arrives whole and in order; then a new item.
        q.put(std::string("tail"), 10s);
        int last = -1;
        for (;;) {
            std::string s = q.get<std::string>(10s);
            if (s == "tail") break;
            int i = item_number(s);
            ASSERT_GT(i, last) << "a torn or repeated item (" << s.size() << " bytes)";
            last = i;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Manager: its server killed at a random moment while a client works (creating objects, setting,
// getting, queueing): the client gets EofError, never a hang or another error. A client killed at
// a random moment of its work: the server frees its objects and a lock it held passes on.

TEST(FaultKill, ManagerServerAtRandomMoments) {
    Moments m;
    SCOPED_TRACE(m.trace());
    for (int trial = 0; trial < kTrials; ++trial) {
        SCOPED_TRACE("trial " + std::to_string(trial));
        Manager mgr;
        auto d = mgr.dict();
        Process client([&] {
            try {
                for (int i = 0;; ++i) {
                    d.set("k" + std::to_string(i % 10), i);
                    if (d.get<int>("k" + std::to_string(i % 10)) != i) return 4;
                    auto q = mgr.Queue();
                    q.put(std::string(100, 'x'));
                    if (q.get<std::string>(10s) != std::string(100, 'x')) return 5;
                }
            } catch (const EofError&) {
                return 0;
            } catch (...) {
                return 3;
            }
        });
        client.start();
        sleep_for(m.delay(15ms));
        ASSERT_EQ(::kill(mgr.pid(), SIGKILL), 0);
        if (!client.join(30s)) {
            client.kill();
            client.join();
            FAIL() << "a client hangs after the manager's server was killed";
        }
        EXPECT_EQ(client.exitcode(), 0) << "the client did not get EofError (4, 5: wrong data; 3: another error)";
        EXPECT_THROW(d.get<int>("k0"), EofError);
        mgr.shutdown();
    }
    EXPECT_TRUE(no_children());
}

TEST(FaultKill, ManagerClientAtRandomMoments) {
    Moments m;
    SCOPED_TRACE(m.trace());
    Manager mgr;
    auto lock = mgr.Lock();
    auto shared = mgr.dict();
    const std::size_t baseline = mgr.object_count();
    int owner_died = 0;
    for (int trial = 0; trial < kTrials; ++trial) {
        SCOPED_TRACE("trial " + std::to_string(trial));
        Process client([&] {
            for (int i = 0;; ++i) {
                auto d = mgr.dict();
                d.set("x", i);
                auto l = mgr.list();
                l.append(std::string(64, 'y'));
                lock.acquire();
                shared.set("n", i);
                lock.release();
            }
            return 0;
        });
        client.start();
        sleep_for(m.delay(15ms));
        client.kill();
        client.join();
        // The server freed what the dead client held, and its lock passes on.
        EXPECT_TRUE(prockit::test::eventually([&] { return mgr.object_count() == baseline; }, 10s))
            << mgr.object_count() << " objects, " << baseline << " before the client";
        auto st = lock.acquire(10s);
        EXPECT_NE(st, LockStatus::timed_out) << "the dead client's lock was never released";
        if (st == LockStatus::owner_died) ++owner_died;
        lock.release();
        shared.set("n", -1);
        EXPECT_EQ(shared.get<int>("n"), -1);
    }
    std::cout << "[          ] manager client kills: " << owner_died << " while holding the lock\n";
}

}  // namespace
