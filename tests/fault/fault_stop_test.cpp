// SIGSTOP of a peer and stalled readers (issue 18): timeouts must still hold. A stopped Pool
// worker, a stopped Manager server, a stopped pjobs server, a prun job stopped under --timeout,
// and pjobs clients (`logs -f`, `fg`) whose output nobody reads. Each case checks afterwards that
// nothing is left behind, that no job is lost, and that the survivor's error is one clear line
// with its documented status.
//
// Covered elsewhere, not repeated here: a stopped Queue producer
// (QueueTest.StoppedProducerDoesNotStallGet), prun's stdout a pipe nobody reads
// (PrunFaultsOutput.StalledReaderKeepsTimeoutsAndSignals).
#include "disk_support.hpp"

#include "lib/ipc/ipc_support.hpp"
#include "tools/pjobs/pjobs_support.hpp"

#include <prockit/ipc/manager.hpp>
#include <prockit/ipc/pipe.hpp>
#include <prockit/pool/pool.hpp>

#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <pty.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <regex>

using namespace prockit;
using namespace prockit::test;
using namespace std::chrono_literals;

namespace {

const std::string prun_bin = PROCKIT_PRUN;
const std::string pjobs_bin = PROCKIT_PJOBS;

using Clock = std::chrono::steady_clock;

bool stop_and_wait(pid_t pid) {
    if (::kill(pid, SIGSTOP) != 0) return false;
    return eventually([&] { return fault::is_stopped(pid); }, 20s);
}

int tiny(int x) { return x + 1; }

/// The value of a "Key:   N kB" line of /proc/PID/status, in KiB (0 when unknown).
long status_kb(pid_t pid, const std::string& key) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind(key + ":", 0) == 0) return std::atol(line.c_str() + key.size() + 1);
    return 0;
}

}  // namespace

// A Pool worker stopped at a random moment of a map: get(timeout) keeps its timeout, close() then
// join(timeout) returns false in time instead of waiting for the stopped worker, and terminate()
// (or the destructor) ends every worker, the stopped one included.
TEST(FaultStop, StoppedPoolWorkerKeepsTimeoutsAndTerminateEndsIt) {
    const std::uint64_t s = fault::seed();
    SCOPED_TRACE(fault::seed_trace(s));
    std::mt19937_64 rng(s);
    fault::NoneLeftBehind none;
    const int trials = 8;
    for (int trial = 0; trial < trials; ++trial) {
        SCOPED_TRACE("trial " + std::to_string(trial));
        std::vector<pid_t> pids;
        {
            Pool pool({.processes = 2});
            ASSERT_EQ(pool.map(tiny, std::vector<int>{1, 2}), (std::vector<int>{2, 3}));
            pids = pool.pids();
            auto r = pool.map_async(tiny, std::vector<int>(2000, 1), 1);
            std::this_thread::sleep_for(std::chrono::microseconds(rng() % 20000));  // the random moment
            ASSERT_TRUE(stop_and_wait(pids[rng() % pids.size()]));
            auto t0 = Clock::now();
            try {
                auto v = r.get(300ms);
                EXPECT_EQ(v, std::vector<int>(2000, 2));  // done before the stop: whole
            } catch (const TimeoutError&) {
            }
            EXPECT_LT(Clock::now() - t0, 10s) << "get(300ms) outlived its timeout by far";
            pool.close();
            t0 = Clock::now();
            bool joined = pool.join(300ms);
            EXPECT_LT(Clock::now() - t0, 10s) << "join(300ms) outlived its timeout by far";
            if (!joined) {
                if (trial % 2 == 0) {
                    pool.terminate();
                    t0 = Clock::now();
                    EXPECT_TRUE(pool.join(30s)) << "terminate() left a stopped worker";
                    EXPECT_LT(Clock::now() - t0, 10s);
                }
                // odd trials: the destructor terminates
            }
        }
        for (pid_t p : pids) EXPECT_FALSE(process_alive(p)) << "worker " << p << " outlived its pool";
    }
    none.check("a Pool with a stopped worker");
    RecordProperty("trials", trials);
}

// A stopped Manager server: calls given a timeout fail in time with a clear TimeoutError instead
// of hanging; once the server runs again, new calls work (on the same connection: the reply to
// the call that gave up is read and set aside first).
TEST(FaultStop, StoppedManagerServerFailsTimedCallsInTime) {
    fault::NoneLeftBehind none;
    {
        Manager m;
        auto q = m.Queue();
        auto lock = m.Lock();
        auto d = m.dict();
        d.set("k", 1);  // this thread's connection exists
        ASSERT_TRUE(stop_and_wait(m.pid()));
        auto t0 = Clock::now();
        try {
            (void)q.get<int>(200ms);
            ADD_FAILURE() << "a get from a stopped manager returned";
        } catch (const TimeoutError& e) {
            std::string what = e.what();
            EXPECT_NE(what.find("did not answer within 2200 ms"), std::string::npos) << what;
        }
        auto took = Clock::now() - t0;
        EXPECT_GE(took, 200ms);
        EXPECT_LT(took, 15s) << "the timeout did not hold";
        t0 = Clock::now();
        EXPECT_THROW((void)lock.acquire(100ms), TimeoutError);
        EXPECT_LT(Clock::now() - t0, 15s);
        ::kill(m.pid(), SIGCONT);
        EXPECT_EQ(d.get<int>("k"), 1);
        q.put(7);
        EXPECT_EQ(q.get<int>(10s), 7);
        EXPECT_EQ(lock.acquire(10s), LockStatus::acquired);
        lock.release();
    }
    none.check("a stopped Manager");
}

// A call that gives up on a stopped server has no effect once the server resumes: the request
// carries its give-up time and the server does nothing for it when it comes to it later, and the
// thread keeps its connection (so the Locks it holds through it). Cases (a)-(d) below.
namespace {

/// What a queue holds, read out with gets (each waits at most `wait` for the next item).
std::vector<int> drain(const QueueProxy& q, std::chrono::milliseconds wait) {
    std::vector<int> got;
    try {
        for (;;) got.push_back(q.get<int>(wait));
    } catch (const QueueEmpty&) {
    }
    return got;
}

}  // namespace

// (a) A thread holding a Manager Lock keeps it when a call of its own times out on the stopped
// server: another process cannot take it until the holder releases it.
TEST(FaultStop, AManagerCallThatTimesOutKeepsTheThreadsLock) {
    fault::NoneLeftBehind none;
    {
        Manager m;
        auto q = m.Queue();
        auto lock = m.Lock();
        ASSERT_EQ(lock.acquire(10s), LockStatus::acquired);
        ASSERT_TRUE(stop_and_wait(m.pid()));
        EXPECT_THROW((void)q.get<int>(200ms), TimeoutError);
        ::kill(m.pid(), SIGCONT);
        auto other = spawn_fn([=] { return lock.acquire(300ms) == LockStatus::timed_out ? 0 : 3; });
        EXPECT_EQ(join_code(*other), 0) << "another process took the lock its holder never released";
        EXPECT_NO_THROW(lock.release());
        auto after = spawn_fn([=] { return lock.acquire(30s) == LockStatus::acquired ? 0 : 3; });
        EXPECT_EQ(join_code(*after), 0) << "the lock was not free after its holder released it";
    }
    none.check("a Manager lock held through a call that timed out");
}

// (b) A get that timed out on the stopped server takes nothing once it resumes: the items put
// before the stop and one put after it are each received once, in order.
TEST(FaultStop, AManagerGetThatTimedOutTakesNoItemLater) {
    fault::NoneLeftBehind none;
    {
        Manager m;
        auto q = m.Queue();
        q.put(1);
        q.put(2);
        ASSERT_TRUE(stop_and_wait(m.pid()));
        EXPECT_THROW((void)q.get<int>(200ms), TimeoutError);
        ::kill(m.pid(), SIGCONT);
        auto producer = spawn_fn([=] {
            q.put(3);
            return 0;
        });
        EXPECT_EQ(join_code(*producer), 0);
        EXPECT_EQ(q.get<int>(10s), 1) << "the get that timed out took the first item";
        EXPECT_EQ(drain(q, 500ms), (std::vector<int>{2, 3}));
        EXPECT_EQ(q.qsize(), 0u);
    }
    none.check("a Manager get that timed out");
}

// (c) A put that timed out on a full queue of the stopped server does not land once it resumes
// (a retry would have duplicated it), even when another process makes room at once.
TEST(FaultStop, AManagerPutThatTimedOutDoesNotLandLater) {
    fault::NoneLeftBehind none;
    {
        Manager m;
        auto q = m.Queue(1);
        q.put(1);
        Pipe ready(false), go(false);
        auto taker = spawn_fn([&] {
            ready.first.close();
            go.second.close();
            (void)q.qsize();  // connected while the server runs
            ready.second.send(1);
            (void)go.first.recv<int>(60s);
            return q.get<int>(30s) == 1 ? 0 : 3;  // the room the old put would take
        });
        ready.second.close();
        go.first.close();
        ASSERT_EQ(ready.first.recv<int>(30s), 1);
        ASSERT_TRUE(stop_and_wait(m.pid()));
        EXPECT_THROW(q.put(2, 1s), TimeoutError);
        go.second.send(1);
        ::kill(m.pid(), SIGCONT);
        EXPECT_EQ(join_code(*taker), 0);
        EXPECT_EQ(drain(q, 1000ms), std::vector<int>{}) << "the put that timed out landed after all";
        q.put(4, 10s);
        EXPECT_EQ(drain(q, 500ms), std::vector<int>{4});
    }
    none.check("a Manager put that timed out");
}

// (d) An acquire that timed out on the stopped server (the lock held by another process) does not
// give the caller the lock once the server resumes and the holder releases it: a third process
// takes it before the caller makes another call, and the caller does not hold it.
TEST(FaultStop, AManagerAcquireThatTimedOutDoesNotTakeTheLockLater) {
    fault::NoneLeftBehind none;
    {
        Manager m;
        auto lock = m.Lock();
        Pipe held(false), go(false);
        auto holder = spawn_fn([&] {
            held.first.close();
            go.second.close();
            if (lock.acquire(30s) != LockStatus::acquired) return 3;
            held.second.send(1);
            (void)go.first.recv<int>(60s);
            lock.release();
            return 0;
        });
        held.second.close();
        go.first.close();
        ASSERT_EQ(held.first.recv<int>(30s), 1);
        ASSERT_EQ(lock.acquire(0ns), LockStatus::timed_out);  // held; and this thread is connected
        ASSERT_TRUE(stop_and_wait(m.pid()));
        EXPECT_THROW((void)lock.acquire(1s), TimeoutError);
        go.second.send(1);  // the holder's release meets the old acquire as soon as the server runs
        ::kill(m.pid(), SIGCONT);
        EXPECT_EQ(join_code(*holder), 0);
        auto other = spawn_fn([=] {
            if (lock.acquire(10s) != LockStatus::acquired) return 3;
            lock.release();
            return 0;
        });
        EXPECT_EQ(join_code(*other), 0) << "the acquire that timed out took the lock when its holder released it";
        try {
            lock.release();
            ADD_FAILURE() << "the acquire that timed out left the lock to its caller";
        } catch (const IpcError& e) {
            EXPECT_EQ(e.code(), make_error_code(IpcErrc::not_owner)) << e.what();
        }
    }
    none.check("a Manager acquire that timed out");
}

// A stopped pjobs server: a client's request fails after PJOBS_TIMEOUT with one line and status 1;
// the jobs run on meanwhile and one that ends is in the table once the server runs again.
TEST(FaultStop, StoppedPjobsServerTimesClientsOut) {
    fault::NoneLeftBehind none;
    {
        Pjobs pj;
        const std::string go = pj.file("go");
        ASSERT_EQ(pj({"run", "--no-tty", "--", "sh", "-c", "while [ ! -e " + go + " ]; do sleep 0.02; done; echo done"}).code, 0);
        pid_t server = pj.server_pid();
        ASSERT_GT(server, 0);
        ASSERT_TRUE(stop_and_wait(server));
        auto with_timeout = [&](std::vector<std::string> args) {
            return run_program(pjobs_bin, args, {}, 60s, [&](Command& c) {
                c.env("XDG_RUNTIME_DIR", pj.runtime()).env("XDG_STATE_HOME", pj.state()).env("PJOBS_TIMEOUT", "1s").cwd(pj.dir.path);
            });
        };
        for (std::vector<std::string> args : {std::vector<std::string>{"list"}, {"list", "-J"}, {"server", "status"}}) {
            auto t0 = Clock::now();
            auto r = with_timeout(args);
            EXPECT_LT(Clock::now() - t0, 20s);
            EXPECT_EQ(r.code, 1) << ::testing::PrintToString(args);
            EXPECT_EQ(r.err, "pjobs: cannot talk to the server: it did not answer within 1s (is it stopped? see PJOBS_TIMEOUT)\n");
            EXPECT_EQ(r.out, "");
        }
        // The job goes on and ends while the server is stopped; its end is kept.
        touch(go);
        EXPECT_TRUE(eventually([&] { return slurp(pj.statedir() + "/pjobs-logs/1.exit").find("done") != std::string::npos; }, 20s))
            << "the job's end was not recorded";
        ::kill(server, SIGCONT);
        EXPECT_TRUE(eventually([&] { return pj.state_of(1) == "done"; }, 20s)) << pj.list().dump();
        auto l = pj({"logs", "%1"});
        EXPECT_EQ(l.out, "done\n");
        // A bad PJOBS_TIMEOUT is a usage error.
        auto r = run_program(pjobs_bin, {"list"}, {}, 60s, [&](Command& c) {
            c.env("XDG_RUNTIME_DIR", pj.runtime()).env("XDG_STATE_HOME", pj.state()).env("PJOBS_TIMEOUT", "soon");
        });
        EXPECT_EQ(r.code, 2);
        EXPECT_TRUE(std::regex_match(r.err, matrix::house_form("pjobs"))) << r.err;
        EXPECT_NE(r.err.find("cannot parse PJOBS_TIMEOUT \"soon\""), std::string::npos) << r.err;
    }
    none.check("a stopped pjobs server");
}

/// Whether a process with exactly this command line runs with `env` in its environment (a pjobs
/// job has its client's: this test's directories, not another test's on the same machine).
bool runs_cmdline(const std::vector<std::string>& argv, const std::string& env) {
    std::string want;
    for (const auto& a : argv) want += a + '\0';
    DIR* d = ::opendir("/proc");
    if (!d) return false;
    bool found = false;
    while (dirent* e = ::readdir(d)) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
        const std::string dir = std::string("/proc/") + e->d_name;
        if (slurp(dir + "/cmdline") == want && slurp(dir + "/environ").find(env + '\0') != std::string::npos &&
            process_alive(std::atol(e->d_name)))
            found = true;
    }
    ::closedir(d);
    return found;
}

// A request whose client gave up (PJOBS_TIMEOUT) is not carried out when the stopped server
// resumes: the `run` its client reported as failed starts no job (the user may well run it
// again), the `kill` kills nothing. The server's log says which request it left undone; that line
// is the point after which the request has been decided (a run the server carries out has started
// its job before it reads the next request).
TEST(FaultStop, PjobsRequestsThatTimedOutAreNotCarriedOutLater) {
    fault::NoneLeftBehind none;
    {
        Pjobs pj;
        ASSERT_EQ(pj({"run", "--no-tty", "--", "sleep", "300"}).code, 0);
        const long victim = pj.pid_of(1);
        ASSERT_GT(victim, 0);
        pid_t server = pj.server_pid();
        ASSERT_GT(server, 0);
        const std::string log = pj.statedir() + "/pjobs-server.log";
        auto with_timeout = [&](std::vector<std::string> args) {
            return run_program(pjobs_bin, args, {}, 60s, [&](Command& c) {
                c.env("XDG_RUNTIME_DIR", pj.runtime()).env("XDG_STATE_HOME", pj.state()).env("PJOBS_TIMEOUT", "1s").cwd(pj.dir.path);
            });
        };
        auto undone = [&](const std::string& op) {  // the server's lines for requests it left undone
            int n = 0;
            for (const auto& l : lines(slurp(log)))
                if (l.find("pjobs server: cannot carry out a request ('" + op + "')") != std::string::npos) ++n;
            return n;
        };
        const std::string timed_out = "pjobs: cannot talk to the server: it did not answer within 1s (is it stopped? see PJOBS_TIMEOUT)\n";

        // run
        ASSERT_TRUE(stop_and_wait(server));
        auto r = with_timeout({"run", "--no-tty", "--", "sleep", "60"});
        EXPECT_EQ(r.code, 1) << r.err;
        EXPECT_EQ(r.err, timed_out);
        EXPECT_EQ(r.out, "");
        ::kill(server, SIGCONT);
        EXPECT_TRUE(eventually([&] { return undone("run") == 1; }, 30s)) << slurp(log);
        auto l = pj.list();
        EXPECT_EQ(l.size(), 1u) << "the run its client gave up on made a job: " << l.dump();
        EXPECT_FALSE(runs_cmdline({"sleep", "60"}, "XDG_STATE_HOME=" + pj.state())) << "the run its client gave up on started its command";

        // kill
        ASSERT_TRUE(stop_and_wait(server));
        r = with_timeout({"kill", "%1"});
        EXPECT_EQ(r.code, 1) << r.err;
        EXPECT_EQ(r.err, timed_out);
        ::kill(server, SIGCONT);
        EXPECT_TRUE(eventually([&] { return undone("signal") == 1; }, 30s)) << slurp(log);
        EXPECT_EQ(pj.state_of(1), "running") << pj.list().dump();
        EXPECT_TRUE(process_alive(victim)) << "the kill its client gave up on was carried out";

        // Requests read in time are carried out as before.
        EXPECT_EQ(pj({"kill", "%1"}).code, 0);
        EXPECT_TRUE(eventually([&] { return pj.state_of(1) == "done"; }, 30s)) << pj.list().dump();
        EXPECT_EQ(undone("run") + undone("signal"), 2) << slurp(log);
    }
    none.check("pjobs requests that timed out");
}

// prun jobs that stop (at random moments) under --timeout: the kill sequence still ends them, at
// once (a stopped job is continued after TERM) rather than after the grace period, and prun
// reports each timeout with the documented status.
TEST(FaultStop, StoppedPrunJobsStillTimeOut) {
    const std::uint64_t s = fault::seed();
    SCOPED_TRACE(fault::seed_trace(s));
    std::mt19937_64 rng(s);
    fault::NoneLeftBehind none;
    const int trials = 6;
    for (int trial = 0; trial < trials; ++trial) {
        SCOPED_TRACE("trial " + std::to_string(trial));
        std::string d1 = "0." + std::to_string(rng() % 300 + 100), d2 = "0." + std::to_string(rng() % 300 + 100);
        auto t0 = Clock::now();
        auto r = run_program(prun_bin, {"-j2", "--timeout", "1", "sh", "-c", "sleep {}; kill -STOP $$; echo never", ":::", d1, d2}, {},
                        60s);
        auto took = Clock::now() - t0;
        EXPECT_EQ(r.code, 2) << r.err;
        EXPECT_EQ(r.out, "");
        EXPECT_NE(r.err.find("prun: warning: job 1 (" + d1 + ") timed out\n"), std::string::npos) << r.err;
        EXPECT_NE(r.err.find("prun: warning: job 2 (" + d2 + ") timed out\n"), std::string::npos) << r.err;
        EXPECT_LT(took, 20s);
    }
    // A single command: exit status 124, and well within the 5 s grace period.
    auto t0 = Clock::now();
    auto r = run_program(prun_bin, {"--timeout", "0.3", "--", "sh", "-c", "kill -STOP $$"}, {}, 60s);
    EXPECT_EQ(r.code, 124) << r.err;
    EXPECT_LT(Clock::now() - t0, 4s) << "the stopped command waited out the grace period";
    none.check("prun with stopped jobs");
    RecordProperty("trials", trials);
}

// `pjobs logs -f` whose stdout nobody reads: the job and the server go on (the job ends, list
// answers), and the follower holds a bounded backlog (it reads the log file as it writes).
TEST(FaultStop, StalledLogsFollowerHoldsNoBacklog) {
    fault::NoneLeftBehind none;
    {
        Pjobs pj;
        const std::string go = pj.file("go");
        ASSERT_EQ(pj({"run", "--no-tty", "--", "sh", "-c",
                      "while [ ! -e " + go + " ]; do sleep 0.02; done; head -c 8000000 /dev/zero | tr '\\0' x"})
                      .code,
                  0);
        int p[2];
        ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
        unique_fd rd(p[0]), wr(p[1]);  // rd is never read
        Command c(pjobs_bin);
        c.args({"logs", "-f", "%1"}).env("XDG_RUNTIME_DIR", pj.runtime()).env("XDG_STATE_HOME", pj.state());
        c.out(Stdio::fd(wr.get())).err(Stdio::null()).on_destroy(DestroyPolicy::kill_tree, 0s);
        auto follower = c.spawn();
        ASSERT_TRUE(follower) << follower.error().message();
        wr.reset();
        touch(go);
        EXPECT_TRUE(eventually([&] { return pj.state_of(1) == "done"; }, 30s)) << "the job or the server stalled";
        struct stat st {};
        EXPECT_EQ(::stat((pj.statedir() + "/pjobs-logs/1.log").c_str(), &st), 0);
        EXPECT_EQ(st.st_size, 8000000) << "the log lost output";
        EXPECT_FALSE(follower->try_wait().value_or(std::nullopt)) << "the follower ended with its output unwritten";
        EXPECT_LT(status_kb(follower->pid(), "VmHWM"), 64 * 1024) << "the follower's backlog grew";
        ASSERT_TRUE(follower->kill());
        (void)follower->wait();
    }
    none.check("a stalled logs -f");
}

// A client that sends requests and never reads the answers: once its socket is full, the
// server's send gives up (its stall limit) and closes that client; every other client is served
// meanwhile and after, and the stalled one finds its connection closed.
TEST(FaultStop, AClientThatNeverReadsDoesNotHoldTheServer) {
    fault::NoneLeftBehind none;
    {
        Pjobs pj;
        ASSERT_EQ(pj({"run", "--no-tty", "--", "true"}).code, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        const std::string sock = pj.rundir() + "/pjobs.sock";
        ASSERT_LT(sock.size(), sizeof addr.sun_path);
        std::memcpy(addr.sun_path, sock.c_str(), sock.size() + 1);
        unique_fd stalled(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        ASSERT_TRUE(stalled);
        ASSERT_EQ(::connect(stalled.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0) << std::strerror(errno);
        ASSERT_EQ(::fcntl(stalled.get(), F_SETFL, O_NONBLOCK), 0);
        // Requests until the server stops taking them (its answers have filled this socket and
        // it waits to send): `list -J` answers are the largest per request.
        const std::string payload = R"({"v":1,"op":"list","json":true})";
        uint32_t len = htonl(static_cast<uint32_t>(payload.size() + 1));
        std::string frame(reinterpret_cast<const char*>(&len), 4);
        frame += 'j';
        frame += payload;
        std::string burst;
        for (int i = 0; i < 64; ++i) burst += frame;
        std::size_t sent = 0;
        const auto give_up = Clock::now() + 30s;
        int idle = 0;
        while (Clock::now() < give_up && idle < 50) {  // 50 × 20 ms without taking a byte: blocked
            ssize_t w = ::send(stalled.get(), burst.data(), burst.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w > 0) {
                sent += static_cast<std::size_t>(w);
                idle = 0;
                continue;
            }
            if (w < 0 && errno != EAGAIN && errno != EINTR) break;  // closed by the server already
            ++idle;
            ::usleep(20000);
        }
        ASSERT_GT(sent, 0u);
        // Another client is answered: within the server's stall limit and its own timeout.
        auto r = run_program(pjobs_bin, {"list"}, {}, 60s, [&](Command& c) {
            c.env("XDG_RUNTIME_DIR", pj.runtime()).env("XDG_STATE_HOME", pj.state()).env("PJOBS_TIMEOUT", "30s").cwd(pj.dir.path);
        });
        EXPECT_EQ(r.code, 0) << r.err;
        EXPECT_NE(r.out.find("true"), std::string::npos) << r.out;
        // The stalled client's connection was closed by the server: reading it to the end gives
        // EOF (or a reset) within a deadline, not a connection held for ever.
        bool closed = eventually([&] {
            char buf[65536];
            for (;;) {
                ssize_t n = ::recv(stalled.get(), buf, sizeof buf, MSG_DONTWAIT);
                if (n > 0) continue;
                if (n == 0) return true;
                return errno == ECONNRESET;
            }
        }, 30s);
        EXPECT_TRUE(closed) << "the server still holds the client that never read";
        EXPECT_EQ(pj({"server", "status"}).code, 0);
    }
    none.check("a client that never reads");
}

// `pjobs fg` on a terminal nobody reads: the holder does not wait for it — the job runs to its
// end, its log is whole, the server answers — and fg, once read again, gets what was queued
// for it and says it was detached (status 0, the job's documented "detached").
TEST(FaultStop, StalledFgTerminalIsDetachedNotWaitedFor) {
    fault::NoneLeftBehind none;
    {
        Pjobs pj;
        const std::string go = pj.file("go");
        ASSERT_EQ(pj({"run", "--", "sh", "-c",
                      "while [ ! -e " + go + " ]; do sleep 0.02; done; head -c 6000000 /dev/zero | tr '\\0' x; echo; echo end"})
                      .code,
                  0);
        std::string bin = pjobs_bin;
        std::vector<std::string> args{bin, "fg", "%1"};
        std::vector<std::string> env = {"XDG_RUNTIME_DIR=" + pj.runtime(), "XDG_STATE_HOME=" + pj.state(), "PATH=/usr/bin:/bin",
                                        "TERM=dumb"};
        std::vector<char*> argv, envp;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        for (auto& e : env) envp.push_back(e.data());
        envp.push_back(nullptr);
        int master = -1;
        winsize ws{};
        ws.ws_row = 30;
        ws.ws_col = 100;
        pid_t fg = ::forkpty(&master, nullptr, nullptr, &ws);
        ASSERT_GE(fg, 0);
        if (fg == 0) {
            ::execve(bin.c_str(), argv.data(), envp.data());
            ::_exit(127);
        }
        unique_fd m(master);
        // fg prints the job's command once attached; from then on the terminal is left unread.
        std::string seen;
        auto until = Clock::now() + 20s;
        while (seen.find("head -c") == std::string::npos && Clock::now() < until) {
            pollfd pf{m.get(), POLLIN, 0};
            if (::poll(&pf, 1, 20) <= 0) continue;
            char buf[4096];
            ssize_t n = ::read(m.get(), buf, sizeof buf);
            if (n > 0) seen.append(buf, static_cast<std::size_t>(n));
        }
        ASSERT_NE(seen.find("head -c"), std::string::npos) << "fg did not attach: " << seen;
        touch(go);
        EXPECT_TRUE(eventually([&] { return pj.state_of(1) == "done"; }, 30s)) << "the holder waited for a reader that stopped";
        struct stat st {};
        EXPECT_EQ(::stat((pj.statedir() + "/pjobs-logs/1.log").c_str(), &st), 0);
        EXPECT_GE(st.st_size, 6000000) << "the log lost output";
        EXPECT_LT(status_kb(fg, "VmHWM"), 64 * 1024) << "fg's backlog grew";
        // Read the terminal again: fg ends with a word about what happened.
        int status = -1;
        auto end = Clock::now() + 30s;
        while (Clock::now() < end) {
            int wst = 0;
            if (::waitpid(fg, &wst, WNOHANG) == fg) {
                status = WIFEXITED(wst) ? WEXITSTATUS(wst) : 128 + WTERMSIG(wst);
                break;
            }
            pollfd pf{m.get(), POLLIN, 0};
            if (::poll(&pf, 1, 20) > 0) {
                char buf[65536];
                ssize_t n = ::read(m.get(), buf, sizeof buf);
                if (n > 0) seen.append(buf, static_cast<std::size_t>(n));
            }
        }
        if (status < 0) {
            ::kill(fg, SIGKILL);
            ::waitpid(fg, nullptr, 0);
        }
        for (;;) {  // what fg wrote last is still in the terminal
            pollfd pf{m.get(), POLLIN, 0};
            if (::poll(&pf, 1, 200) <= 0) break;
            char buf[65536];
            ssize_t n = ::read(m.get(), buf, sizeof buf);
            if (n <= 0) break;
            seen.append(buf, static_cast<std::size_t>(n));
        }
        // Either fg kept up after all (the job's end: status 0) or it was detached with a reason.
        EXPECT_EQ(status, 0) << seen.substr(seen.size() > 300 ? seen.size() - 300 : 0);
        const bool detached = seen.find("detached: it stopped reading the job's output") != std::string::npos;
        const bool whole = seen.find("x\r\nend\r\n") != std::string::npos;  // the job's last line, not its command
        EXPECT_TRUE(detached || whole) << seen.substr(seen.size() > 300 ? seen.size() - 300 : 0);
        RecordProperty("fg_ended", detached ? "detached" : "kept up");
    }
    none.check("a stalled fg");
}
