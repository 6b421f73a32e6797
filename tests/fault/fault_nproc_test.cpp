// A process limit hit while spawning (issue 18): prun's pool, the pjobs server and the library's
// Pool in a cgroup v1 pids group with a small pids.max — and prun's pool also under RLIMIT_NPROC
// as the unprivileged test user, the limit a machine without the pids controller has. Jobs that
// cannot be started are what prun(1) documents (failed jobs, counted in the status, each in the
// joblog), none is skipped silently; pjobs refuses with one line and status 1 and serves on; Pool
// fails with a clear exception or works. Nothing is left in the group afterwards.
//
// poomguard has no spawn path to cover: `watch` starts no process, and `run` sets its own score
// and execs the command.
#include "fault/limits_support.hpp"

#include <prockit/pool/pool.hpp>

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <iostream>
#include <map>
#include <sys/stat.h>
#include <sys/wait.h>

using namespace prockit;
using namespace prockit::test;
using namespace prockit::test::limits;

namespace {

/// A process limit around a command: the pids group, or RLIMIT_NPROC as prockit-test-u.
struct ProcLimit {
    enum Kind { cgroup, nproc };
    Kind kind;
    int max;
    std::optional<PidsGroup> group;
    std::optional<std::pair<uid_t, gid_t>> user;
    std::string why;

    ProcLimit(Kind k, int m) : kind(k), max(m) {
        if (kind == cgroup) {
            group.emplace(max);
            if (!group->ok()) why = group->why();
        } else {
            user = matrix::test_user();
            if (!user) why = "needs root, setpriv and the user prockit-test-u";
            else if (access("/usr/bin/prlimit", X_OK) != 0) why = "needs /usr/bin/prlimit";
        }
    }
    bool ok() const { return why.empty(); }
    std::string name() const { return kind == cgroup ? "pids.max " + std::to_string(max) : "RLIMIT_NPROC " + std::to_string(max); }
    std::vector<std::string> wrap(const std::vector<std::string>& argv) const {
        if (kind == cgroup) return group->enter(argv);
        std::vector<std::string> out{"/usr/bin/setpriv", "--reuid=" + std::to_string(user->first),
                                     "--regid=" + std::to_string(user->second), "--clear-groups",
                                     "/usr/bin/prlimit", "--nproc=" + std::to_string(max), "--"};
        out.insert(out.end(), argv.begin(), argv.end());
        return out;
    }
    /// No process of the run is left in the group. (Under RLIMIT_NPROC the test's subreaper
    /// scope is the check: other tests may run as the test user meanwhile.)
    bool empties() const { return kind == cgroup ? group->empties() : true; }
};

}  // namespace

// A pool of 20 jobs, 8 at a time, where only a few processes may exist: every job is in the joblog
// once; the status is the number of failed jobs; each job that succeeded printed its line; prun's
// own lines are in the house form.
TEST(FaultNproc, PrunPool) {
    Leftovers guard;
    for (ProcLimit::Kind kind : {ProcLimit::cgroup, ProcLimit::nproc}) {
        ProcLimit lim(kind, 6);
        if (!lim.ok()) {
            std::cerr << "skipped (" << lim.name() << "): " << lim.why << "\n";
            continue;
        }
        SCOPED_TRACE(lim.name());
        TempDir d;
        ::chmod(d.path.c_str(), 0777);  // the test user writes the joblog here
        const int jobs = 20;
        std::string input;
        for (int i = 1; i <= jobs; ++i) input += std::to_string(i) + "\n";
        auto argv = lim.wrap({prun_path(), "-j8", "--joblog", d / "log", "-a", "-", "sh", "-c", "echo {}; sleep 0.2"});
        auto r = run_program(argv[0], std::vector<std::string>(argv.begin() + 1, argv.end()), input, std::chrono::seconds(120));
        auto log = lines(slurp(d / "log"));
        ASSERT_FALSE(log.empty()) << "no joblog\n" << r.err;
        std::map<int, std::string> exitval;
        for (std::size_t i = 1; i < log.size(); ++i) {
            auto c = columns(log[i]);
            ASSERT_GE(c.size(), 9u) << log[i];
            int seq = std::stoi(c[0]);
            EXPECT_EQ(exitval.count(seq), 0u) << "job " << seq << " twice in the joblog";
            exitval[seq] = c[6];
        }
        EXPECT_EQ(exitval.size(), static_cast<std::size_t>(jobs)) << "a job is missing from the joblog\n" << r.err;
        int failed = 0;
        auto out = lines(r.out);
        for (const auto& [seq, v] : exitval) {
            if (v != "0") {
                ++failed;
                continue;
            }
            EXPECT_NE(std::find(out.begin(), out.end(), std::to_string(seq)), out.end()) << "job " << seq << " succeeded without its output";
        }
        EXPECT_EQ(r.code, std::min(failed, 101)) << r.err;
        std::size_t not_started = 0;
        for (const auto& l : lines(r.err)) {
            if (l.rfind("prun: ", 0) != 0 || l.rfind("prun: warning: ", 0) == 0) continue;
            EXPECT_TRUE(house_form("prun", l)) << l;
            not_started += l.rfind("prun: cannot start ", 0) == 0;
        }
        // A job that cannot be forked waits for a running one to end (prun(1), -j): none of them
        // fails for it. (A job's own shell may still fail to fork inside it.)
        EXPECT_EQ(not_started, 0u) << r.err;
        EXPECT_LE(not_started, static_cast<std::size_t>(failed));
        std::cerr << lim.name() << ": " << jobs - failed << " jobs done, " << failed << " failed (" << not_started
                  << " could not start)\n";
        EXPECT_TRUE(lim.empties()) << "processes of the run are left";
    }
    EXPECT_EQ(guard.left(), std::set<pid_t>{}) << "processes left behind";
}

// The pjobs server in a pids group: a `run` whose holder or job cannot be forked is refused with
// one line and status 1 (no job made); the same server goes on, and runs jobs again once
// processes end; its table parses and holds exactly the jobs made.
TEST(FaultNproc, PjobsRun) {
    if (sanitized) GTEST_SKIP() << "a sanitizer's runtime needs tasks of its own (LeakSanitizer at each exit), which pids.max 5 counts: tested in the plain build";
    Leftovers guard;
    PidsGroup group(5);
    if (!group.ok()) GTEST_SKIP() << group.why();
    {
        Pjobs pj;
        ::mkdir(pj.runtime().c_str(), 0700);
        auto argv = group.enter({PROCKIT_PJOBS, "server", "run"});
        auto srv = Command(argv[0])
                       .args(std::vector<std::string>(argv.begin() + 1, argv.end()))
                       .env("XDG_RUNTIME_DIR", pj.runtime())
                       .env("XDG_STATE_HOME", pj.state())
                       .in(Stdio::null())
                       .out(Stdio::write_file(pj.file("srv.out")))
                       .err(Stdio::write_file(pj.file("srv.err")))
                       .on_destroy(DestroyPolicy::kill_tree, std::chrono::seconds(0))
                       .spawn();
        ASSERT_TRUE(srv) << srv.error().message();
        ASSERT_TRUE(eventually([&] { return pj.server_pid() == srv->pid(); }, std::chrono::seconds(20))) << slurp(pj.file("srv.err"));
        std::set<long> made;
        int refused = 0;
        for (int i = 0; i < 5; ++i) {
            auto r = pj({"run", "--no-tty", "--", "sh", "-c", "echo out" + std::to_string(i) + "; sleep 1"});
            if (r.code == 0) {
                made.insert(std::stol(r.out.substr(1)));
                continue;
            }
            ++refused;
            expect_clear_failure("pjobs", r, 1, "run " + std::to_string(i));
        }
        EXPECT_GT(refused, 0) << "pids.max 5 held five jobs";
        EXPECT_EQ(pj({"wait"}, std::chrono::seconds(60)).code, 0);
        // Processes are free again: the same server runs the next job.
        // A holder ends a moment after its job: wait for the processes to go, not a fixed time.
        PrunResult again;
        bool served = eventually(
            [&] {
                guard.reap();  // the holders are orphans of this subreaper: their zombies hold pids
                again = pj({"run", "--no-tty", "--", "sh", "-c", "echo again"});
                if (again.code != 0) expect_clear_failure("pjobs", again, 1, "run again");
                return again.code == 0;
            },
            std::chrono::seconds(20));
        EXPECT_TRUE(served) << again.err;
        if (served) made.insert(std::stol(again.out.substr(1)));
        EXPECT_EQ(pj({"wait"}, std::chrono::seconds(60)).code, 0);
        EXPECT_EQ(pj.server_pid(), srv->pid()) << "another server took over";
        std::set<long> listed;
        for (const auto& j : pj.list()) {
            listed.insert(j.value("id", 0L));
            EXPECT_EQ(j.value("state", ""), "done") << j.dump();
        }
        EXPECT_EQ(listed, made);
        std::ifstream table(pj.statedir() + "/pjobs-jobs.jsonl");
        std::string line;
        std::set<long> saved;
        while (std::getline(table, line)) {
            auto j = nlohmann::json::parse(line, nullptr, false);
            ASSERT_FALSE(j.is_discarded()) << "corrupt table line: " << line;
            if (j.contains("id")) saved.insert(j.value("id", 0L));
        }
        EXPECT_EQ(saved, made);
        std::cerr << made.size() << " jobs made, " << refused << " runs refused\n";
        pj({"server", "stop"});
        auto st = srv->wait_for(std::chrono::seconds(20));
        EXPECT_TRUE(st && *st) << "the server did not stop";
    }
    EXPECT_TRUE(group.empties()) << "processes left in the group";
    EXPECT_EQ(guard.left(), std::set<pid_t>{}) << "processes left behind";
}

namespace {

int square(int x) { return x * x; }

}  // namespace

// Pool creation where its workers cannot all be forked: a clear exception (or a pool that works),
// never a hang, and no worker left in the group.
TEST(FaultNproc, PoolCreation) {
    for (int max : {1, 2, 3, 4, 6}) {
        SCOPED_TRACE("pids.max " + std::to_string(max));
        PidsGroup group(max);
        if (!group.ok()) GTEST_SKIP() << group.why();
        int p[2];
        ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
        unique_fd rd(p[0]), wr(p[1]);
        pid_t pid = ::fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            rd.reset();
            std::string msg;
            {
                std::ofstream f(group.procs_file());
                f << "0\n";
            }
            try {
                Pool pool({.processes = 4});
                auto v = pool.map(square, std::vector<int>{1, 2, 3});
                msg = v == std::vector<int>{1, 4, 9} ? "ok" : "wrong results";
            } catch (const std::exception& e) {
                msg = std::string("error: ") + e.what();
            }
            (void)!::write(wr.get(), msg.data(), msg.size());
            ::_exit(0);
        }
        wr.reset();
        std::string msg;
        pollfd pf{rd.get(), POLLIN, 0};
        bool answered = ::poll(&pf, 1, 30000) == 1;
        if (answered) msg = read_all(rd.get());
        if (!answered) ::kill(pid, SIGKILL);
        int ws = 0;
        ::waitpid(pid, &ws, 0);
        ASSERT_TRUE(answered) << "Pool creation hung";
        std::cerr << "pids.max " << max << ": " << msg << "\n";
        if (msg != "ok") {
            EXPECT_EQ(msg.rfind("error: cannot ", 0), 0u) << msg;
            EXPECT_NE(msg.find("Resource temporarily unavailable"), std::string::npos) << msg;
        }
        EXPECT_TRUE(group.empties()) << "a worker was left in the group";
    }
}
