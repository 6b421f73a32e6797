// Descriptor exhaustion (issue 18): every tool and the library's Pool and Queue under a small
// RLIMIT_NOFILE, at sizes too small to start and just large enough to start but not to grow.
// Each run either does all of its work or stops with one clear line in the house form and its
// documented status; nothing it started is left; no output and no pjobs job is lost silently.
// Already covered elsewhere (not repeated): PrunFaultsOutput.*DescriptorLimit (prun pools at 64).
#include "fault/limits_support.hpp"
#include "tools/poomguard/watch_support.hpp"

#include <prockit/ipc/queue.hpp>
#include <prockit/pool/pool.hpp>
#include <prockit/process/process.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <condition_variable>
#include <iostream>
#include <fcntl.h>
#include <mutex>
#include <optional>
#include <sys/socket.h>
#include <sys/un.h>
#include <thread>

using namespace prockit;
using namespace prockit::test;
using namespace prockit::test::limits;

namespace {

std::string seq_lines(int first, int last) {
    std::string s;
    for (int i = first; i <= last; ++i) s += std::to_string(i) + "\n";
    return s;
}

/// The soft RLIMIT_NOFILE lowered for the life of the object (the hard one is kept).
struct SoftNofile {
    rlimit saved{};
    explicit SoftNofile(rlim_t soft) {
        getrlimit(RLIMIT_NOFILE, &saved);
        rlimit l{soft, saved.rlim_max};
        EXPECT_EQ(setrlimit(RLIMIT_NOFILE, &l), 0);
    }
    ~SoftNofile() { setrlimit(RLIMIT_NOFILE, &saved); }
};

/// The highest open descriptor + 1: a soft limit of this leaves no descriptor free.
rlim_t used_fds() {
    auto fds = open_fds();
    return fds.empty() ? 0 : static_cast<rlim_t>(*fds.rbegin() + 1);
}

/// Exactly `extra` descriptors free for the life of the object: the holes below the highest open
/// descriptor are filled (with /dev/null) and the soft limit is set just above it.
struct FreeFds {
    std::vector<unique_fd> fillers;
    std::optional<SoftNofile> lim;
    explicit FreeFds(rlim_t extra) {
        const int top = static_cast<int>(used_fds());
        for (;;) {
            int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
            if (fd < 0) break;
            if (fd >= top) {
                ::close(fd);
                break;
            }
            fillers.emplace_back(fd);
        }
        lim.emplace(static_cast<rlim_t>(top) + extra);
    }
};

int square(int x) { return x * x; }

}  // namespace

// ---------------------------------------------------------------- prun

// One command: from a limit the dynamic loader cannot live with (its own message, 127) through
// limits where prun cannot set up (one line, status 1) to limits that suffice.
TEST(FaultFds, PrunSingleCommand) {
    if (sanitized) GTEST_SKIP() << "a sanitizer's runtime needs descriptors of its own (UBSan's vptr check probes memory through pipe(2)): descriptor exhaustion is tested in the plain build";
    Leftovers guard;
    bool worked = false;
    for (rlim_t n : {3, 4, 5, 6, 7, 8, 9, 10, 12, 16}) {
        std::string what = "ulimit -n " + std::to_string(n);
        SCOPED_TRACE(what);
        auto r = run_with_nofile(prun_path(), {"/bin/echo", "hi"}, n);
        if (r.code == 0) {
            EXPECT_EQ(r.out, "hi\n");
            EXPECT_EQ(error_lines("prun", r.err).size(), 0u) << r.err;
            worked = true;
            continue;
        }
        EXPECT_FALSE(worked) << "prun failed at a larger limit than one where it worked: " << r.err;
        EXPECT_EQ(r.out, "") << "the command ran, yet prun failed";
        if (n == 3) {  // not even libc can be opened: the loader's message, before prun runs
            EXPECT_EQ(r.code, 127) << r.err;
            EXPECT_NE(r.err.find("error while loading shared libraries"), std::string::npos) << r.err;
            continue;
        }
        expect_clear_failure("prun", r, 1, what);
    }
    EXPECT_TRUE(worked) << "prun never ran a command, even at ulimit -n 16";
    EXPECT_EQ(guard.left(), std::set<pid_t>{}) << "processes left behind";
}

// A pool with many jobs and -k output waiting, at limits that hold prun but few or no jobs: either
// every job runs and its output comes in order, or prun stops with one line and 255 — and then
// every job in the joblog succeeded and printed its line (no job failed for want of prun's own
// descriptors, none ran without its output). At no limit may jobs fail one by one.
TEST(FaultFds, PrunPoolKeepOrder) {
    if (sanitized) GTEST_SKIP() << "a sanitizer's runtime needs descriptors of its own (UBSan's vptr check probes memory through pipe(2)): descriptor exhaustion is tested in the plain build";
    Leftovers guard;
    const int jobs = 40;
    const std::string input = seq_lines(1, jobs);
    bool worked = false;
    for (std::vector<std::string> mode : {std::vector<std::string>{"-k"}, {"-k", "--line-buffer"}, {"-k", "--tag"}}) {
        for (rlim_t n : {8, 10, 11, 12, 13, 14, 15, 16, 20, 24, 32}) {
            std::string what = ::testing::PrintToString(mode) + " at ulimit -n " + std::to_string(n);
            SCOPED_TRACE(what);
            TempDir d;
            std::vector<std::string> args{"-j8", "--joblog", d / "log"};
            args.insert(args.end(), mode.begin(), mode.end());
            args.insert(args.end(), {"-a", "-", "sh", "-c", "echo {}"});
            auto r = run_with_nofile(prun_path(), args, n, input);
            auto log = lines(slurp(d / "log"));
            std::vector<std::string> rows(log.size() > 1 ? log.begin() + 1 : log.end(), log.end());
            // Jobs that ran all succeeded; at most one, the one prun stopped at, could not start.
            std::size_t ran = 0, not_started = 0;
            for (const auto& row : rows) {
                auto c = columns(row);
                ASSERT_GE(c.size(), 9u) << row;
                if (c[6] == "0") {
                    EXPECT_EQ(not_started, 0u) << "a job ran after prun gave up: " << row;
                    ++ran;
                } else {
                    ++not_started;
                }
            }
            EXPECT_LE(not_started, r.code == 255 ? 1u : 0u) << "jobs failed one by one for want of descriptors\n" << r.err;
            std::string expected;
            for (std::size_t i = 1; i <= ran; ++i)
                expected += (mode[1 % mode.size()] == "--tag" ? std::to_string(i) + "\t" : "") + std::to_string(i) + "\n";
            if (r.code == 0) {
                worked = true;
                EXPECT_EQ(rows.size(), static_cast<std::size_t>(jobs));
                EXPECT_EQ(r.out, expected);
                EXPECT_EQ(error_lines("prun", r.err).size(), 0u) << r.err;
                continue;
            }
            EXPECT_FALSE(worked && mode.size() == 1) << "failed at a larger limit than one where it worked";
            expect_clear_failure("prun", r, 255, what);
            EXPECT_EQ(r.out, expected) << "output of the jobs that ran is missing or out of order";
        }
    }
    EXPECT_TRUE(worked) << "no limit up to 32 ran the pool";
    EXPECT_EQ(guard.left(), std::set<pid_t>{}) << "processes left behind";
}

// ---------------------------------------------------------------- paffinity

// Reading a process with many threads: all of them are listed, or one clear line (never a process
// reported missing when it was the descriptor that was).
TEST(FaultFds, PaffinityManyThreads) {
    if (sanitized) GTEST_SKIP() << "a sanitizer's runtime needs descriptors of its own (UBSan's vptr check probes memory through pipe(2)): descriptor exhaustion is tested in the plain build";
    const int threads = 150;
    std::mutex m;
    std::condition_variable cv;
    bool release = false;
    std::vector<std::thread> pool;
    for (int i = 0; i < threads; ++i)
        pool.emplace_back([&] {
            std::unique_lock<std::mutex> l(m);
            cv.wait(l, [&] { return release; });
        });
    struct Join {
        std::function<void()> f;
        ~Join() { f(); }
    } join{[&] {
        {
            std::lock_guard<std::mutex> l(m);
            release = true;
        }
        cv.notify_all();
        for (auto& t : pool) t.join();
    }};
    const std::string self = std::to_string(::getpid());
    bool worked = false;
    for (rlim_t n : {3, 4, 5, 6, 8, 16}) {
        for (std::vector<std::string> args : {std::vector<std::string>{"-a", "-p", self}, {"-p", self}}) {
            std::string what = ::testing::PrintToString(args) + " at ulimit -n " + std::to_string(n);
            SCOPED_TRACE(what);
            auto r = run_with_nofile(PROCKIT_PAFFINITY, args, n);
            if (r.code == 0) {
                worked = true;
                auto l = lines(r.out);
                std::size_t want = args[0] == "-a" ? threads + 2 : 2;  // header, the main thread, the others
                EXPECT_EQ(l.size(), want) << r.out.substr(0, 500);
                continue;
            }
            if (n == 3) {
                EXPECT_EQ(r.code, 127) << r.err;
                continue;
            }
            expect_clear_failure("paffinity", r, 1, what);
            EXPECT_EQ(r.err.find("No such process"), std::string::npos) << "a live process reported missing: " << r.err;
        }
    }
    EXPECT_TRUE(worked);
}

// ---------------------------------------------------------------- poomguard watch

// watch under a small limit: it refuses to start with one line, or it applies its rule to a
// running matching process, or it says why it could not. It never watches in silence.
TEST(FaultFds, PoomguardWatch) {
    if (sanitized) GTEST_SKIP() << "a sanitizer's runtime needs descriptors of its own (UBSan's vptr check probes memory through pipe(2)): descriptor exhaustion is tested in the plain build";
    Leftovers guard;
    Scratch d;
    std::string prog = d.copy_program("/bin/sleep", "pgw-fds-sleep");
    write_file(d / "rules.conf", "[fds]\nmatch.exe = " + prog + "\nleader = 500\n");
    bool applied = false;
    for (rlim_t n : {4, 5, 6, 8, 10, 16}) {
        std::string what = "ulimit -n " + std::to_string(n);
        SCOPED_TRACE(what);
        auto target = Command(prog).arg("600").on_destroy(DestroyPolicy::kill_tree, std::chrono::seconds(0)).spawn();
        ASSERT_TRUE(target) << target.error().message();
        std::string out = d / ("w" + std::to_string(n) + ".out"), err = d / ("w" + std::to_string(n) + ".err");
        auto w = Command(PROCKIT_POOMGUARD)
                     .args({"watch", "--config", d / "rules.conf", "--interval", "100ms"})
                     .in(Stdio::null())
                     .out(Stdio::write_file(out))
                     .err(Stdio::write_file(err))
                     .rlimit(RLIMIT_NOFILE, n, n)
                     .on_destroy(DestroyPolicy::kill_tree, std::chrono::seconds(0))
                     .spawn();
        ASSERT_TRUE(w) << w.error().message();
        bool ended = false;
        ASSERT_TRUE(eventually([&] {
            if (slurp(err).find("watching ") != std::string::npos) return true;
            auto st = w->try_wait();
            ended = st && *st;
            return ended;
        }));
        if (ended) {
            PrunResult r{w->wait().value().shell_code(), slurp(out), slurp(err)};
            expect_clear_failure("poomguard", r, 1, what);
            continue;
        }
        // Applied, or said why: for this process, or for the scan that could not read /proc.
        const std::string why = "Too many open files";
        EXPECT_TRUE(eventually([&] { return adj_of(target->pid()) == 500 || slurp(err).find(why) != std::string::npos; },
                               std::chrono::seconds(10)))
            << "watch neither applied its rule nor said why\n" << slurp(err);
        applied = applied || adj_of(target->pid()) == 500;
        ASSERT_TRUE(w->send_signal(SIGTERM));
        auto st = w->wait_for(std::chrono::seconds(20));
        ASSERT_TRUE(st && *st) << "watch did not end on SIGTERM";
        EXPECT_EQ((*st)->shell_code(), 0) << slurp(err);
        for (const auto& l : error_lines("poomguard", slurp(err)))
            if (l.rfind("poomguard: watching ", 0) != 0) {
                EXPECT_TRUE(house_form("poomguard", l)) << l;
            }
    }
    EXPECT_TRUE(applied) << "watch applied its rule at no limit up to 16";
    EXPECT_EQ(guard.left(), std::set<pid_t>{}) << "processes left behind";
}

// ---------------------------------------------------------------- pjobs

namespace {

unique_fd connect_to(const std::string& path) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return {};
    unique_fd s(fd);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return {};
    return s;
}

}  // namespace

// The server under a small limit while clients hold connections and jobs start: each `run` either
// makes a job (in the table, with its output in its log) or is refused with one line and status 1;
// the same server goes on serving once descriptors are free, and its table still parses.
TEST(FaultFds, PjobsServerRefusesAndGoesOn) {
    if (sanitized) GTEST_SKIP() << "a sanitizer's runtime needs descriptors of its own (UBSan's vptr check probes memory through pipe(2)): descriptor exhaustion is tested in the plain build";
    Leftovers guard;
    for (rlim_t n : {8, 16, 32}) {
        std::string what = "server at ulimit -n " + std::to_string(n);
        SCOPED_TRACE(what);
        Pjobs pj;
        ::mkdir(pj.runtime().c_str(), 0700);
        auto srv = Command(PROCKIT_PJOBS)
                       .args({"server", "run"})
                       .env("XDG_RUNTIME_DIR", pj.runtime())
                       .env("XDG_STATE_HOME", pj.state())
                       .in(Stdio::null())
                       .out(Stdio::write_file(pj.file("srv.out")))
                       .err(Stdio::write_file(pj.file("srv.err")))
                       .rlimit(RLIMIT_NOFILE, n, n)
                       .on_destroy(DestroyPolicy::kill_tree, std::chrono::seconds(0))
                       .spawn();
        ASSERT_TRUE(srv) << srv.error().message();
        ASSERT_TRUE(eventually([&] { return pj.server_pid() == srv->pid(); }, std::chrono::seconds(20)))
            << slurp(pj.file("srv.err"));
        std::vector<unique_fd> held;
        for (rlim_t i = 0; i < n / 2; ++i)
            if (auto s = connect_to(pj.rundir() + "/pjobs.sock"); s) {
                held.push_back(std::move(s));
            }
        std::set<long> made;
        int refused = 0;
        for (int i = 0; i < 6; ++i) {
            auto r = pj({"run", "--no-tty", "--", "sh", "-c", "echo out" + std::to_string(i) + "; sleep 0.3"});
            if (r.code == 0) {
                long id = std::stol(r.out.substr(1));
                made.insert(id);
                continue;
            }
            ++refused;
            expect_clear_failure("pjobs", r, 1, what);
        }
        held.clear();
        // The same server serves again once the clients and jobs are gone (each refusal meanwhile
        // as clear as the others), and every job it made is in its table with its output.
        auto waited = pj({"wait"});
        if (waited.code != 0) expect_clear_failure("pjobs", waited, 1, what + " (wait)");
        PrunResult again;
        bool served = eventually(
            [&] {
                again = pj({"run", "--no-tty", "--", "sh", "-c", "echo again"});
                if (again.code != 0) expect_clear_failure("pjobs", again, 1, what + " (after the clients left)");
                return again.code == 0;
            },
            n >= 16 ? std::chrono::seconds(20) : std::chrono::seconds(0));
        if (n >= 16) {
            EXPECT_EQ(waited.code, 0) << waited.err;
            EXPECT_TRUE(served) << again.err;
        }
        if (served) made.insert(std::stol(again.out.substr(1)));
        EXPECT_EQ(pj.server_pid(), srv->pid()) << "another server took over";
        EXPECT_TRUE(srv->try_wait().value_or(std::nullopt) == std::nullopt) << "the server ended\n" << slurp(pj.file("srv.err"));
        auto w = pj({"wait"});
        EXPECT_EQ(w.code, 0) << w.err;
        auto list = pj.list();
        std::set<long> listed;
        for (const auto& j : list) listed.insert(j.value("id", 0L));
        EXPECT_EQ(listed, made) << list.dump();
        for (long id : made) {
            auto logs = pj({"logs", "%" + std::to_string(id)});
            EXPECT_EQ(logs.code, 0) << logs.err;
            EXPECT_EQ(logs.out.rfind("out", 0) == 0 || logs.out == "again\n", true) << "job " << id << ": " << logs.out;
        }
        // The state file parses, and holds the jobs made (all of them, unless the server said
        // it could not save it).
        std::ifstream table(pj.statedir() + "/pjobs-jobs.jsonl");
        std::string line;
        std::set<long> saved;
        while (std::getline(table, line)) {
            auto j = nlohmann::json::parse(line, nullptr, false);
            ASSERT_FALSE(j.is_discarded()) << "corrupt table line: " << line;
            if (j.contains("id")) saved.insert(j.value("id", 0L));
        }
        if (slurp(pj.file("srv.err")).find("cannot save the job table") == std::string::npos) {
            EXPECT_EQ(saved, made);
        } else {
            EXPECT_TRUE(std::includes(made.begin(), made.end(), saved.begin(), saved.end()));
        }
        std::cerr << what << ": " << made.size() << " jobs made, " << refused << " runs refused\n";
        pj({"server", "stop"});
        auto st = srv->wait_for(std::chrono::seconds(20));
        EXPECT_TRUE(st && *st) << "the server did not stop";
    }
    EXPECT_EQ(guard.left(), std::set<pid_t>{}) << "processes left behind";
}

// The client under a small limit: it works or says why in one line (1), and never starts a
// second server beside the running one.
TEST(FaultFds, PjobsClient) {
    if (sanitized) GTEST_SKIP() << "a sanitizer's runtime needs descriptors of its own (UBSan's vptr check probes memory through pipe(2)): descriptor exhaustion is tested in the plain build";
    Leftovers guard;
    {  // the Pjobs object's end stops the server it may start: before the check below
        Pjobs pj;
        auto first = pj({"run", "--no-tty", "--", "true"});
        ASSERT_EQ(first.code, 0) << first.err;
        pid_t server = pj.server_pid();
        bool worked = false;
        for (rlim_t n : {3, 4, 5, 6, 8}) {
            for (std::vector<std::string> args : {std::vector<std::string>{"list"}, {"run", "--no-tty", "--", "true"}}) {
                std::string what = ::testing::PrintToString(args) + " at ulimit -n " + std::to_string(n);
                SCOPED_TRACE(what);
                auto r = run_with_nofile(pjobs_path(), args, n, {}, [&](Command& c) {
                    c.env("XDG_RUNTIME_DIR", pj.runtime()).env("XDG_STATE_HOME", pj.state()).cwd(pj.dir.path);
                });
                if (r.code == 0) {
                    worked = true;
                    continue;
                }
                if (n == 3) {
                    EXPECT_EQ(r.code, 127) << r.err;
                    continue;
                }
                expect_clear_failure("pjobs", r, 1, what);
            }
        }
        EXPECT_TRUE(worked);
        EXPECT_EQ(pj.server_pid(), server) << "a client under a limit started another server";
        EXPECT_EQ(pj({"wait"}).code, 0);
    }
    EXPECT_EQ(guard.left(), std::set<pid_t>{}) << "processes left behind";
}

// ---------------------------------------------------------------- Pool and Queue

// Pool creation at every limit from "no descriptor free" up: a clear exception and nothing left
// (no worker, no descriptor), or a pool that maps correctly.
TEST(FaultFds, PoolCreationAndMap) {
    if (sanitized) GTEST_SKIP() << "a sanitizer's runtime needs descriptors of its own (UBSan's vptr check probes memory through pipe(2)): descriptor exhaustion is tested in the plain build";
    const std::set<int> fds_before = open_fds();
    bool worked = false;
    for (rlim_t extra = 0; extra <= 12; ++extra) {
        SCOPED_TRACE("descriptors free: " + std::to_string(extra));
        std::string error;
        std::vector<int> got;
        {
            FreeFds lim(extra);
            try {
                Pool pool({.processes = 2});
                got = pool.map(square, std::vector<int>{1, 2, 3, 4});
            } catch (const std::exception& e) {
                error = e.what();
            }
        }
        std::cerr << "descriptors free: " << extra << ": " << (error.empty() ? "a working pool" : error) << "\n";
        if (error.empty()) {
            EXPECT_EQ(got, (std::vector<int>{1, 4, 9, 16}));
            worked = true;
        } else {
            EXPECT_FALSE(worked) << "failed with more descriptors than a working pool had: " << error;
            EXPECT_NE(error.find("Too many open files"), std::string::npos) << error;
        }
        EXPECT_TRUE(eventually([] { return no_children(); }, std::chrono::seconds(10))) << "a worker was left";
        EXPECT_EQ(open_fds(), fds_before) << "descriptors leaked";
    }
    EXPECT_TRUE(worked);
    // A pool made with room keeps working when the limit leaves nothing free.
    Pool pool({.processes = 2});
    FreeFds lim(0);
    for (int round = 0; round < 3; ++round) EXPECT_EQ(pool.map(square, std::vector<int>{5, 6}), (std::vector<int>{25, 36}));
}

// A Queue shared by a producer and this consumer, both with no descriptor free: every item (small
// ones in the ring, large ones in the spill area) arrives, in order.
TEST(FaultFds, QueueAcrossProcesses) {
    if (sanitized) GTEST_SKIP() << "a sanitizer's runtime needs descriptors of its own (UBSan's vptr check probes memory through pipe(2)): descriptor exhaustion is tested in the plain build";
    Queue q;
    const int items = 300;
    Process producer([&] {
        FreeFds none(0);
        for (int i = 0; i < items; ++i) q.put(std::string(i % 10 == 0 ? 300000 : 10, static_cast<char>('a' + i % 26)) + std::to_string(i));
        std::exit(0);
    });
    producer.start();
    {
        FreeFds lim(0);
        for (int i = 0; i < items; ++i) {
            auto s = q.get<std::string>(std::chrono::seconds(30));
            ASSERT_EQ(s, std::string(i % 10 == 0 ? 300000 : 10, static_cast<char>('a' + i % 26)) + std::to_string(i)) << "item " << i;
        }
    }
    ASSERT_TRUE(producer.join(std::chrono::seconds(30)));
    EXPECT_EQ(producer.exitcode(), 0);
}
