// Fault injection (issue 18): the real OOM killer chooses each long-running component in turn. In a
// cgroup v1 memory group (64 MiB, no swap) the component runs with oom_score_adj 1000 (raising it
// needs no privilege) and a hog at a lower value drives the group over its limit, stopping as soon
// as the kernel has killed someone. Each case checks that it was the OOM killer (the group's
// oom_kill count grew by exactly one, the victim ended by SIGKILL, the hog survived), then the same
// invariants as for SIGKILL: the survivor's one line and documented status, nothing left in the
// group once the survivors have cleaned up (the group must drain by itself), pjobs' table intact,
// no hang. The reverse too: what oom_score_adj prockit's components take by default, and that
// poomguard's protection of a database outlives the guard. Skipped where no memory group can be had.
#include "oom_support.hpp"
#include "tools/pjobs/pjobs_support.hpp"
#include "tools/poomguard/watch_support.hpp"

#include <prockit/ipc/errors.hpp>
#include <prockit/ipc/manager.hpp>
#include <prockit/ipc/queue.hpp>
#include <prockit/pool/pool.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <regex>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

using namespace prockit;
using namespace prockit::test;
using namespace std::chrono_literals;

namespace {

// The test process as a child subreaper while it lives: an orphaned component (prun's supervisor
// after its guardian died) is adopted here, so its status can be read and nothing is left to PID 1.
struct Subreaper {
    Subreaper() { ::prctl(PR_SET_CHILD_SUBREAPER, 1); }
    ~Subreaper() { ::prctl(PR_SET_CHILD_SUBREAPER, 0); }
};

// Waits for an adopted (non-prockit) child by PID, at most `limit`: its shell-style status, or -1.
int reap_adopted(pid_t pid, std::chrono::milliseconds limit) {
    int status = 0, code = -1;
    eventually(
        [&] {
            pid_t r = ::waitpid(pid, &status, WNOHANG);
            if (r != pid) return false;
            code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            return true;
        },
        limit);
    return code;
}

// The hog's verdict and the kernel's: exactly one OOM kill, which the hog saw and survived; or, where
// the kernel killed twice for one shortage, exactly two, the second the hog (oom_support.hpp). The
// case checks that its victim is dead and its bystanders are alive.
#define EXPECT_ONE_OOM_KILL(cg, base, hog_status)                                                         \
    do {                                                                                                   \
        const bool hog_killed_second = (hog_status) && (hog_status)->signal() == std::optional<int>(SIGKILL); \
        EXPECT_TRUE((hog_status) && ((hog_status)->code() == 0 || hog_killed_second))                     \
            << "the hog " << describe(hog_status) << "\n" << kernel_oom_log();                            \
        EXPECT_EQ((cg).oom_kills(), (base) + (hog_killed_second ? 2 : 1))                                 \
            << "not exactly one OOM kill besides the hog's\n" << kernel_oom_log();                         \
    } while (0)

// Whether `pid` sleeps in read(2) (/proc/PID/syscall starts with its number): prun's guardian
// does so once its start-up is over (it lowers an inherited positive oom_score_adj on the way, so
// a value set before would be undone).
bool sleeps_in_read(pid_t pid) {
    std::string sc = read_text("/proc/" + std::to_string(pid) + "/syscall");
    std::string stat = read_text("/proc/" + std::to_string(pid) + "/stat");
    auto rp = stat.rfind(')');
    return sc.rfind("0 ", 0) == 0 && rp != std::string::npos && rp + 2 < stat.size() && stat[rp + 2] == 'S';
}

std::vector<std::string> lines_of(const std::string& s) { return lines(s); }

// `pjobs ARGS...` run from inside the memory group, so that the server it starts (and every holder
// and job of that server) is in the group.
PrunResult pjobs_in(const Pjobs& pj, const MemCg& cg, const std::vector<std::string>& args) {
    std::vector<std::string> a{"-c", cg.enter(), pjobs_path()};
    a.insert(a.end(), args.begin(), args.end());
    return run_program("/bin/sh", a, {}, 60s, [&](Command& c) {
        c.env("XDG_RUNTIME_DIR", pj.runtime()).env("XDG_STATE_HOME", pj.state()).cwd(pj.dir.path);
    });
}

// Every line of pjobs' table file parses as JSON and job `id` is in it.
bool table_holds(const Pjobs& pj, long id) {
    std::istringstream in(slurp(pj.statedir() + "/pjobs-jobs.jsonl"));
    std::string line;
    bool found = false;
    while (std::getline(in, line)) {
        auto j = nlohmann::json::parse(line, nullptr, false);
        if (j.is_discarded()) return false;
        if (j.value("id", 0L) == id) found = true;
    }
    return found;
}

}  // namespace

// prun's supervisor is the OOM killer's choice: the guardian kills every process of the run, says
// so in one line and exits 128+9 (prun(1)); the jobs' output written before is all there.
TEST(FaultOom, PrunSupervisor) {
    MemCg cg("prun-sup");
    PROCKIT_NEED_MEMCG(cg);
    TempDir io;
    Command c("/bin/sh");
    c.args({"-c", cg.enter(), prun_path(), "-u", "-j2", helper(), "echo", "started-{}", "pause", ":::", "a", "b"});
    c.in(Stdio::null()).out(Stdio::write_file(io / "out")).err(Stdio::write_file(io / "err"));
    c.new_process_group().on_destroy(DestroyPolicy::kill_tree, 0s);
    auto prun = c.spawn();
    ASSERT_TRUE(prun) << prun.error().message();
    ASSERT_TRUE(eventually([&] { return lines_of(slurp(io / "out")).size() == 2; }, 20s)) << slurp(io / "err");
    auto kids = children_of_pid(prun->pid());
    ASSERT_EQ(kids.size(), 1u) << "prun is not split into guardian and supervisor";
    pid_t sup = kids[0];
    ASSERT_TRUE(cg.holds(sup));
    ASSERT_TRUE(set_oom_adj(sup, 1000));
    long base = cg.oom_kills();

    Hog hog(cg);
    auto hs = hog.end();
    EXPECT_ONE_OOM_KILL(cg, base, hs);
    EXPECT_TRUE(eventually([&] { return !alive(sup); })) << "the supervisor was not the victim";
    auto st = prun->wait_for(30s);
    ASSERT_TRUE(st && *st) << "prun did not end after its supervisor was killed; in the group: " << cg.procs_text();
    std::string err = slurp(io / "err");
    EXPECT_EQ((*st)->shell_code(), 128 + SIGKILL) << err;
    EXPECT_TRUE(std::regex_match(err, std::regex("prun: cannot finish the run: the supervising process was killed by SIGKILL(; ended [0-9]+ process(es)? it left)?\n")))
        << err;
    auto out = lines_of(slurp(io / "out"));
    std::sort(out.begin(), out.end());
    EXPECT_EQ(out, (std::vector<std::string>{"started-a", "started-b"}));
    EXPECT_TRUE(cg.drains()) << "left in the group: " << cg.procs_text();
}

// prun's guardian (the PID the user started) is the choice: the supervisor kills every process of
// the run and exits 1 after one line (prun(1)); it is adopted by the test, a subreaper, and reaped.
TEST(FaultOom, PrunGuardian) {
    MemCg cg("prun-guard");
    PROCKIT_NEED_MEMCG(cg);
    Subreaper subreaper;
    TempDir io;
    Command c("/bin/sh");
    c.args({"-c", cg.enter(), prun_path(), "--", helper(), "echo", "started", "pause"});
    c.in(Stdio::null()).out(Stdio::write_file(io / "out")).err(Stdio::write_file(io / "err"));
    c.new_process_group().on_destroy(DestroyPolicy::kill_tree, 0s);
    auto prun = c.spawn();
    ASSERT_TRUE(prun) << prun.error().message();
    ASSERT_TRUE(eventually([&] { return slurp(io / "out") == "started\n"; }, 20s)) << slurp(io / "err");
    auto kids = children_of_pid(prun->pid());
    ASSERT_EQ(kids.size(), 1u) << "prun is not split into guardian and supervisor";
    pid_t sup = kids[0];
    ASSERT_TRUE(eventually([&] { return sleeps_in_read(prun->pid()); }, 20s)) << "the guardian did not settle";
    ASSERT_TRUE(set_oom_adj(prun->pid(), 1000));
    long base = cg.oom_kills();

    Hog hog(cg);
    auto hs = hog.end();
    EXPECT_ONE_OOM_KILL(cg, base, hs);
    auto st = prun->wait_for(30s);
    ASSERT_TRUE(st && *st) << "the guardian did not end; in the group: " << cg.procs_text();
    EXPECT_EQ((*st)->signal(), std::optional<int>(SIGKILL)) << "the guardian was not the victim";
    EXPECT_EQ(reap_adopted(sup, 30s), 1) << "the supervisor's status";
    EXPECT_EQ(slurp(io / "err"),
              "prun: cannot keep the process-tree guard: the guardian process has ended; killing every process of the run\n");
    EXPECT_TRUE(cg.drains()) << "left in the group: " << cg.procs_text();
}

// A pjobs server is the choice: its job runs on, a new server finds it in the table, its status and
// log are had as usual.
TEST(FaultOom, PjobsServer) {
    MemCg cg("pjobs-server");
    PROCKIT_NEED_MEMCG(cg);
    Pjobs pj;
    // The job waits in open(2) of a FIFO, not in a polling loop: a fork in the group at its limit
    // would take what the victim frees before the hog sees the kill (oom_support.hpp).
    std::string go = pj.file("go");
    ASSERT_EQ(::mkfifo(go.c_str(), 0600), 0) << std::strerror(errno);
    auto r = pjobs_in(pj, cg, {"run", "--no-tty", "--", "sh", "-c", "echo started; read x < " + go + "; exit 4"});
    ASSERT_EQ(r.code, 0) << r.err;
    pid_t server = pj.server_pid();
    long job = pj.pid_of(1);
    ASSERT_TRUE(cg.holds(server)) << "the server is not in the group";
    ASSERT_TRUE(eventually([&] { return pj({"logs", "%1"}).out == "started\n"; }));
    ASSERT_TRUE(set_oom_adj(server, 1000));
    long base = cg.oom_kills();

    Hog hog(cg);
    auto hs = hog.end();
    EXPECT_ONE_OOM_KILL(cg, base, hs);
    EXPECT_TRUE(eventually([&] { return !process_alive(server); })) << "the server was not the victim";
    EXPECT_TRUE(process_alive(job)) << "the job did not outlive its server";
    EXPECT_TRUE(table_holds(pj, 1)) << "the table file is corrupt or lost the job:\n" << slurp(pj.statedir() + "/pjobs-jobs.jsonl");
    EXPECT_EQ(pj.state_of(1), "running");  // a new server, outside the group
    EXPECT_NE(pj.server_pid(), server);
    int fifo = -1;  // the job holds the FIFO's read end open once it waits in read
    EXPECT_TRUE(eventually([&] { return (fifo = ::open(go.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC)) >= 0; }))
        << "the job does not wait on its FIFO: " << std::strerror(errno);
    if (fifo >= 0) {
        EXPECT_EQ(::write(fifo, "go\n", 3), 3);
        ::close(fifo);
    }
    auto w = pj({"wait", "%1"}, 30s);
    EXPECT_EQ(w.code, 4) << w.err;
    EXPECT_EQ(pj({"logs", "%1"}).out, "started\n");
    EXPECT_TRUE(cg.drains()) << "left in the group: " << cg.procs_text();
}

// A job's holder is the choice: the job is reported lost (wait: status 1 and the warning), does not
// outlive its holder, and the table keeps it.
TEST(FaultOom, PjobsHolder) {
    if (sanitized) GTEST_SKIP() << "ASan's shadow memory makes the holder about as large as the hog, so the kernel's choice in a 64 MiB group is not the one a release build gets: tested in the plain build";
    MemCg cg("pjobs-holder");
    PROCKIT_NEED_MEMCG(cg);
    Pjobs pj;
    auto r = pjobs_in(pj, cg, {"run", "--no-tty", "--", "sleep", "60"});
    ASSERT_EQ(r.code, 0) << r.err;
    long job = pj.pid_of(1);
    long holder = parent_of(job);
    ASSERT_GT(holder, 1);
    ASSERT_TRUE(cg.holds(static_cast<pid_t>(holder)));
    ASSERT_TRUE(set_oom_adj(static_cast<pid_t>(holder), 1000));
    long base = cg.oom_kills();

    Hog hog(cg);
    auto hs = hog.end();
    EXPECT_ONE_OOM_KILL(cg, base, hs);
    EXPECT_TRUE(eventually([&] { return !process_alive(holder); })) << "the holder was not the victim";
    EXPECT_TRUE(eventually([&] { return pj.state_of(1) == "lost"; }));
    auto w = pj({"wait", "%1"}, 30s);
    EXPECT_EQ(w.code, 1);
    EXPECT_EQ(w.err, "pjobs: warning: job 1 was lost: its holder ended before it\n");
    EXPECT_TRUE(eventually([&] { return !process_alive(job); })) << "the job survived its holder";
    EXPECT_TRUE(table_holds(pj, 1));
    EXPECT_EQ(pj({"server", "stop"}).code, 0);
    EXPECT_TRUE(cg.drains()) << "left in the group: " << cg.procs_text();
}

// poomguard watch is the choice: it ends by SIGKILL, and what it set outlives it — a database it
// protected (0, from 500; 40 MiB, the largest process) is still spared by the next OOM kill, which
// takes a smaller batch job at 500. Without the rule the kernel would have taken the database.
TEST(FaultOom, PoomguardWatchAndTheProtectionItLeaves) {
    MemCg cg("poomguard");
    PROCKIT_NEED_MEMCG(cg);
    Scratch d;
    std::string db = d.copy_program(helper(), "oomf-db");
    write_file(d / "rules.conf", "[database]\nmatch.exe = " + db + "\nadj = 0\n");
    Background w(d, {"watch", "--config", d / "rules.conf"}, "watch", {}, {"/bin/sh", "-c", cg.enter()});
    ASSERT_TRUE(w.ready()) << w.err();
    ASSERT_TRUE(cg.holds(w.child().pid()));

    Command dbc("/bin/sh");
    dbc.args({"-c", cg.enter(500), db, "alloc", "40", "ready", "pause"}).in(Stdio::null()).out(Stdio::pipe());
    dbc.on_destroy(DestroyPolicy::kill_tree, 0s);
    Child dbp = dbc.spawn().value();
    ASSERT_EQ(read_line(dbp.stdout_pipe().get()), "alloc=done");
    ASSERT_EQ(read_line(dbp.stdout_pipe().get()), "ready");
    ASSERT_TRUE(eventually([&] { return oom_adj_of(dbp.pid()) == 0; }, 20s)) << w.err();
    ASSERT_TRUE(set_oom_adj(w.child().pid(), 1000));
    long base = cg.oom_kills();

    Hog hog(cg);
    auto hs = hog.end();
    EXPECT_ONE_OOM_KILL(cg, base, hs);
    auto st = w.child().wait_for(30s);
    ASSERT_TRUE(st && *st) << "poomguard watch was not the victim";
    EXPECT_EQ((*st)->signal(), std::optional<int>(SIGKILL));
    EXPECT_EQ(oom_adj_of(dbp.pid()), std::optional<int>(0)) << "the protection did not outlive the guard";

    base = cg.oom_kills();
    Hog batch(cg, 500, /*stop_at_kill=*/false, HogKind::anon);
    auto bs = batch.end();
    ASSERT_TRUE(bs) << "the batch job did not end";
    EXPECT_EQ(bs->signal(), std::optional<int>(SIGKILL)) << "the batch job " << describe(bs);
    EXPECT_EQ(cg.oom_kills(), base + 1) << kernel_oom_log();
    EXPECT_TRUE(alive(dbp.pid())) << "the kernel killed the protected database";
    ASSERT_TRUE(dbp.terminate_tree(0s));
    EXPECT_TRUE(cg.drains()) << "left in the group: " << cg.procs_text();
}

// A Manager's server is the choice: a proxy's next request throws EofError (no hang), shutdown()
// returns and reaps it. The server is moved into the group and made to hold 8 MiB there, so that
// its death frees what the hog needs.
TEST(FaultOom, ManagerServer) {
    MemCg cg("manager");
    PROCKIT_NEED_MEMCG(cg);
    Manager m;
    auto dict = m.dict();
    dict.set("k", 7);
    pid_t server = m.pid();
    ASSERT_TRUE(cg.add(server));
    dict.set("ballast", std::string(8u << 20, 'x'));
    // One more round trip: the server is done with the set (its buffers freed, nothing holding its
    // memory map) and back in its loop, so the kernel can reap it at once when it is taken.
    ASSERT_TRUE(dict.contains("ballast"));
    ASSERT_TRUE(set_oom_adj(server, 1000));
    long base = cg.oom_kills();

    Hog hog(cg);
    auto hs = hog.end();
    EXPECT_ONE_OOM_KILL(cg, base, hs);
    EXPECT_TRUE(eventually([&] { return !alive(server); })) << "the server was not the victim";
    try {
        (void)dict.get<int>("k");
        ADD_FAILURE() << "a request to a dead server succeeded";
    } catch (const EofError& e) {
        EXPECT_NE(std::string(e.what()).find("is gone"), std::string::npos) << e.what();
    }
    m.shutdown();
    EXPECT_TRUE(cg.drains()) << "left in the group: " << cg.procs_text();
}

// A Pool worker is the choice while it runs a task: that task fails with TaskError(worker_lost), a
// new worker replaces it, and the pool goes on.
TEST(FaultOom, PoolWorker) {
    MemCg cg("pool");
    PROCKIT_NEED_MEMCG(cg);
    Pool pool(PoolOptions{.processes = 2});
    auto before = pool.pids();
    auto victim = pool.apply_async(
        [](std::string dir) {
            // In the worker: join the group, hold 8 MiB there, be the first choice, wait.
            if (!write_text(dir + "/cgroup.procs", std::to_string(::getpid()))) return 1;
            static volatile char* ballast = static_cast<char*>(std::malloc(8u << 20));
            for (std::size_t k = 0; k < (8u << 20); k += 4096) ballast[k] = 1;
            if (!set_oom_adj(::getpid(), 1000)) return 2;
            ::sleep(60);
            return 3;
        },
        std::tuple{cg.dir()});
    pid_t worker = 0;
    ASSERT_TRUE(eventually([&] {
        for (pid_t p : cg.procs())
            if (oom_adj_of(p) == 1000) worker = p;
        return worker != 0;
    })) << "the task did not start";
    long base = cg.oom_kills();

    Hog hog(cg);
    auto hs = hog.end();
    EXPECT_ONE_OOM_KILL(cg, base, hs);
    try {
        (void)victim.get(30s);
        ADD_FAILURE() << "the killed worker's task succeeded";
    } catch (const TaskError& e) {
        EXPECT_EQ(e.code(), make_error_code(IpcErrc::worker_lost)) << e.what();
    }
    EXPECT_EQ(pool.apply([](int x) { return x * 2; }, 21), 42);
    auto after = pool.pids();
    EXPECT_EQ(after.size(), before.size());
    EXPECT_EQ(std::count(after.begin(), after.end(), worker), 0) << "the dead worker is still listed";
    pool.terminate();
    EXPECT_TRUE(pool.join(30s));
    EXPECT_TRUE(cg.drains()) << "left in the group: " << cg.procs_text();
}

// A Queue peer is the choice while it puts items as fast as it can: the kill lands anywhere in a
// put, and every item the consumer gets is whole and in order, none is duplicated, get(timeout)
// keeps its timeout afterwards and the queue still works.
TEST(FaultOom, QueuePeer) {
    MemCg cg("queue");
    PROCKIT_NEED_MEMCG(cg);
    Queue q(4);
    auto item = [](std::uint64_t i) { return std::to_string(i) + ":" + std::string(1000 + i % 97, static_cast<char>('a' + i % 26)); };
    Process peer(
        [&q, &item](std::string dir) {
            if (!write_text(dir + "/cgroup.procs", std::to_string(::getpid()))) std::_Exit(1);
            static volatile char* ballast = static_cast<char*>(std::malloc(8u << 20));
            for (std::size_t k = 0; k < (8u << 20); k += 4096) ballast[k] = 1;
            if (!set_oom_adj(::getpid(), 1000)) std::_Exit(2);
            for (std::uint64_t i = 0;; ++i) q.put(item(i));
        },
        cg.dir());
    peer.start();
    std::uint64_t next = 0;
    ASSERT_EQ(q.get<std::string>(30s), item(next++));
    long base = cg.oom_kills();

    Hog hog(cg);
    auto deadline = std::chrono::steady_clock::now() + 60s;
    bool peer_ended = false;
    while (std::chrono::steady_clock::now() < deadline) {
        try {
            auto got = q.get<std::string>(100ms);
            ASSERT_EQ(got, item(next)) << "item " << next << " is torn, lost or duplicated";
            ++next;
        } catch (const QueueEmpty&) {
            if (peer_ended) break;  // empty after the peer's end: everything it put was had
            peer_ended = peer.join(0s);
        }
    }
    ASSERT_TRUE(peer_ended) << "the peer did not end";
    auto hs = hog.end();
    EXPECT_ONE_OOM_KILL(cg, base, hs);
    EXPECT_EQ(peer.status()->signal(), std::optional<int>(SIGKILL)) << "the peer was not the victim";
    EXPECT_GT(next, 1u);
    EXPECT_THROW((void)q.get<std::string>(50ms), QueueEmpty);
    q.put(std::string("after"));
    EXPECT_EQ(q.get<std::string>(5s), "after");
    EXPECT_TRUE(cg.drains()) << "left in the group: " << cg.procs_text();
}

// The reverse: prockit's own long-running processes do not make themselves the OOM killer's first
// choice. Started from a process at 0 every one of them runs at 0. Started from a shell that made
// itself expendable (1000, as `choom -n 1000 --` does), prun's guardian drops to 0 while its
// supervisor and jobs keep what the user asked (prun(1)), and poomguard watch keeps it (it sets
// nobody's value but by rule; its unit runs it at -1000).
TEST(FaultOom, DefaultScoresOfPrunAndPoomguard) {
    ASSERT_EQ(oom_adj_of(::getpid()), std::optional<int>(0)) << "the test must run at oom_score_adj 0";
    for (int from : {0, 1000}) {
        SCOPED_TRACE("started at " + std::to_string(from));
        TempDir io;
        Command c("/bin/sh");
        c.args({"-c", "echo " + std::to_string(from) + " > /proc/self/oom_score_adj && exec \"$0\" \"$@\"", prun_path(), "--",
                helper(), "echo", "started", "pause"});
        c.in(Stdio::null()).out(Stdio::write_file(io / "out")).err(Stdio::write_file(io / "err"));
        c.new_process_group().on_destroy(DestroyPolicy::kill_tree, 0s);
        auto prun = c.spawn();
        ASSERT_TRUE(prun) << prun.error().message();
        ASSERT_TRUE(eventually([&] { return slurp(io / "out") == "started\n"; }, 20s)) << slurp(io / "err");
        auto sup = children_of_pid(prun->pid());
        ASSERT_EQ(sup.size(), 1u);
        auto job = children_of_pid(sup[0]);
        ASSERT_EQ(job.size(), 1u);
        EXPECT_EQ(oom_adj_of(prun->pid()), std::optional<int>(0)) << "the guardian";
        EXPECT_EQ(oom_adj_of(sup[0]), std::optional<int>(from)) << "the supervisor";
        EXPECT_EQ(oom_adj_of(job[0]), std::optional<int>(from)) << "the job";
        ASSERT_TRUE(prun->send_signal(SIGTERM));
        auto st = prun->wait_for(30s);
        ASSERT_TRUE(st && *st);

        Scratch d;
        write_file(d / "rules.conf", "[nothing]\nmatch.exe = " + (d / "absent") + "\nadj = 0\n");
        Background w(d, {"watch", "--config", d / "rules.conf"}, "watch", {},
                     {"/bin/sh", "-c", "echo " + std::to_string(from) + " > /proc/self/oom_score_adj && exec \"$0\" \"$@\""});
        ASSERT_TRUE(w.ready()) << w.err();
        EXPECT_EQ(oom_adj_of(w.child().pid()), std::optional<int>(from)) << "poomguard watch";
        EXPECT_EQ(w.stop(SIGTERM), 0) << w.err();
    }
}

// A pjobs server started by an expendable client (`choom -n 1000 -- pjobs run ...`) used to keep
// 1000, and so did every holder it forked and every later job, whoever started it: the table and
// the holders were the OOM killer's first choice and a job started at 0 ran at 1000. Now the
// server and its holders run at 0, and each job takes its own client's value.
TEST(FaultOom, PjobsServerAndHoldersDoNotInheritAnExpendableClientsScore) {
    ASSERT_EQ(oom_adj_of(::getpid()), std::optional<int>(0)) << "the test must run at oom_score_adj 0";
    Pjobs pj;
    auto r = run_program("/bin/sh", {"-c", "echo 1000 > /proc/self/oom_score_adj && exec \"$0\" \"$@\"", pjobs_path(), "run", "--no-tty", "--", "sleep", "60"},
                         {}, 60s, [&](Command& c) { c.env("XDG_RUNTIME_DIR", pj.runtime()).env("XDG_STATE_HOME", pj.state()).cwd(pj.dir.path); });
    ASSERT_EQ(r.code, 0) << r.err;
    ASSERT_EQ(pj({"run", "--no-tty", "--", "sleep", "61"}).code, 0);
    ASSERT_EQ(pj({"run", "--no-tty", "--oom-score-adj", "300", "--", "sleep", "62"}).code, 0);
    EXPECT_EQ(oom_adj_of(pj.server_pid()), std::optional<int>(0)) << "the server";
    const int expected[] = {1000, 0, 300};
    for (long id : {1L, 2L, 3L}) {
        SCOPED_TRACE("job " + std::to_string(id));
        long job = pj.pid_of(id);
        ASSERT_GT(job, 0);
        EXPECT_EQ(oom_adj_of(static_cast<pid_t>(parent_of(job))), std::optional<int>(0)) << "its holder";
        EXPECT_EQ(oom_adj_of(static_cast<pid_t>(job)), std::optional<int>(expected[id - 1])) << "the job";
    }
}
