// Process: the multiprocessing.Process model.
#include "support.hpp"

#include <prockit/process/process.hpp>
#include <prockit/sys/syscall.hpp>

#include <atomic>
#include <csignal>
#include <thread>
#include <fcntl.h>
#include <iostream>

using namespace prockit;
using namespace prockit::test;
using namespace std::chrono_literals;

class ProcessTest : public NoLeaks {};

namespace {
// A pipe the child writes into and the test reads from.
struct Channel {
    unique_fd r, w;
    Channel() {
        int p[2];
        if (pipe2(p, O_CLOEXEC) == 0) r.reset(p[0]), w.reset(p[1]);
    }
    void say(const std::string& s) const { (void)write_all(w.get(), s + "\n"); }
    std::string hear() const { return read_line(r.get()); }
};
}  // namespace

TEST_F(ProcessTest, RunsCallableWithArgumentsAndReportsExitcode) {
    Channel ch;
    Process p({.name = "adder"}, [&](int a, std::string b) { ch.say(b + std::to_string(a + 1)); }, 41, std::string("n="));
    EXPECT_EQ(p.pid(), std::nullopt);
    EXPECT_EQ(p.exitcode(), std::nullopt);
    EXPECT_FALSE(p.is_alive());
    p.start();
    ASSERT_TRUE(p.pid().has_value());
    EXPECT_EQ(ch.hear(), "n=42");
    p.join();
    EXPECT_FALSE(p.is_alive());
    EXPECT_EQ(p.exitcode(), 0);
    EXPECT_EQ(p.name(), "adder");
}

TEST_F(ProcessTest, ReturnValueAndProcessExitSetTheCode) {
    Process ret([] { return 7; });
    ret.start();
    ret.join();
    EXPECT_EQ(ret.exitcode(), 7);
    Process thrown([] { throw ProcessExit{9}; });
    thrown.start();
    thrown.join();
    EXPECT_EQ(thrown.exitcode(), 9);
}

TEST_F(ProcessTest, ExceptionGivesExitcodeOneAndPrintsWhat) {
    // Capture the child's stderr through a pipe placed on fd 2 for the duration of the test.
    Channel err;
    int saved = dup(2);
    dup2(err.w.get(), 2);
    Process p({.name = "thrower"}, [] { throw std::runtime_error("boom"); });
    p.start();
    p.join();
    dup2(saved, 2);
    ::close(saved);
    EXPECT_EQ(p.exitcode(), 1);
    EXPECT_EQ(err.hear(), "Process thrower: std::runtime_error: boom");
}

// Python's _identity: the children of Process-N are Process-N:1, Process-N:2, ... whatever the
// parent is called, and their own children Process-N:1:1, ...
TEST_F(ProcessTest, DefaultNamesOfGrandchildrenFollowTheParentsIdentity) {
    Channel ch;
    auto body = [&] {
        Process c1([&] {
            Process g([] {});
            ch.say(g.name());
        });
        Process c2([] {});
        ch.say(c1.name());
        ch.say(c2.name());
        c1.start();
        c1.join();
    };
    Process unnamed(body);
    std::string id = unnamed.name().substr(8);  // "Process-<id>"
    unnamed.start();
    EXPECT_EQ(ch.hear(), "Process-" + id + ":1");
    EXPECT_EQ(ch.hear(), "Process-" + id + ":2");
    EXPECT_EQ(ch.hear(), "Process-" + id + ":1:1");
    unnamed.join();
    EXPECT_EQ(unnamed.exitcode(), 0);

    Process named({.name = "boss"}, body);
    named.start();
    std::string first = ch.hear();
    ASSERT_EQ(first.rfind("Process-", 0), 0u) << first;
    std::string nid = first.substr(8, first.size() - 8 - 2);  // "Process-<id>:1"
    EXPECT_EQ(first, "Process-" + nid + ":1");
    EXPECT_EQ(nid, std::to_string(std::stoi(id) + 1));  // the parent's counter went on
    EXPECT_EQ(ch.hear(), "Process-" + nid + ":2");
    EXPECT_EQ(ch.hear(), "Process-" + nid + ":1:1");
    named.join();
}

TEST_F(ProcessTest, UncaughtNonStandardExceptionPrintsItsType) {
    struct Oops {};
    Channel err;
    int saved = dup(2);
    dup2(err.w.get(), 2);
    Process p({.name = "odd"}, [] { throw Oops{}; });
    p.start();
    p.join();
    dup2(saved, 2);
    ::close(saved);
    EXPECT_EQ(p.exitcode(), 1);
    std::string line = err.hear();
    EXPECT_EQ(line.rfind("Process odd: ", 0), 0u) << line;
    EXPECT_NE(line.find("Oops"), std::string::npos) << line;
    EXPECT_NE(line.find("unknown exception"), std::string::npos) << line;
}

namespace {
int g_exit_fd = -1;  // where the handlers below say that they ran
void parent_handler() {
    if (g_exit_fd >= 0) (void)write_all(g_exit_fd, "parent handler\n");
}
void child_handler() { (void)write_all(g_exit_fd, "child handler\n"); }
}  // namespace

// A handler the child registers with atexit() runs when the child ends (returning, throwing, or
// calling std::exit itself); the handlers the parent registered before the fork do not.
TEST_F(ProcessTest, ChildsOwnAtexitHandlersRunTheParentsDoNot) {
    static std::once_flag once;
    std::call_once(once, [] { std::atexit(parent_handler); });
    struct Case {
        int how;  // 0 return, 1 std::exit(3), 2 throw
        int code;
    };
    for (Case c : {Case{0, 0}, Case{1, 3}, Case{2, 1}}) {
        Channel ch;
        g_exit_fd = ch.w.get();
        int saved = dup(2);
        int devnull = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
        dup2(devnull, 2);
        Process p([how = c.how] {
            std::atexit(child_handler);
            if (how == 1) std::exit(3);
            if (how == 2) throw std::runtime_error("thrown");
        });
        p.start();
        bool ended = p.join(30s);
        dup2(saved, 2);
        ::close(saved);
        ::close(devnull);
        g_exit_fd = -1;
        ASSERT_TRUE(ended);
        EXPECT_EQ(p.exitcode(), c.code) << "case " << c.how;
        ch.w.reset();
        EXPECT_EQ(read_all(ch.r.get()), "child handler\n") << "case " << c.how;
    }
}

// After close(), every method that needs the child refuses (Python: "process object is closed").
TEST_F(ProcessTest, ClosedProcessRefusesEveryMethod) {
    Process p({.name = "done"}, [] {});
    p.start();
    p.join();
    p.close();
    p.close();  // again: nothing to do
    auto closed = [](auto&& call) {
        try {
            call();
        } catch (const std::logic_error& e) {
            return std::string(e.what()).find("closed") != std::string::npos;
        }
        return false;
    };
    EXPECT_TRUE(closed([&] { p.start(); }));
    EXPECT_TRUE(closed([&] { p.join(); }));
    EXPECT_TRUE(closed([&] { (void)p.join(1s); }));
    EXPECT_TRUE(closed([&] { (void)p.is_alive(); }));
    EXPECT_TRUE(closed([&] { (void)p.pid(); }));
    EXPECT_TRUE(closed([&] { (void)p.exitcode(); }));
    EXPECT_TRUE(closed([&] { (void)p.status(); }));
    EXPECT_TRUE(closed([&] { (void)p.sentinel(); }));
    EXPECT_TRUE(closed([&] { p.terminate(); }));
    EXPECT_TRUE(closed([&] { p.kill(); }));
    EXPECT_TRUE(closed([&] { (void)p.terminate_tree(1s); }));
    EXPECT_TRUE(closed([&] { p.set_daemon(true); }));
    EXPECT_EQ(p.name(), "done");  // the name and the daemon flag stay readable, as in Python
    EXPECT_FALSE(p.daemon());
    Process never_started([] {});
    never_started.close();
    EXPECT_TRUE(closed([&] { never_started.start(); }));
    EXPECT_TRUE(closed([&] { (void)never_started.exitcode(); }));
}

TEST_F(ProcessTest, NameIsInCommAndCurrentProcess) {
    Channel ch;
    Process p({.name = "a-rather-long-worker-name"}, [&] {
        ch.say(current_process().name);
        std::string comm = read_file("/proc/self/comm").value();
        ch.say(comm.substr(0, comm.size() - 1));
        auto parent = parent_process();
        ch.say(parent ? parent->name() + ":" + std::to_string(parent->pid()) + ":" + (parent->is_alive() ? "alive" : "gone") : "none");
    });
    p.start();
    EXPECT_EQ(ch.hear(), "a-rather-long-worker-name");
    EXPECT_EQ(ch.hear(), "a-rather-long-w");
    EXPECT_EQ(ch.hear(), "MainProcess:" + std::to_string(getpid()) + ":alive");
    p.join();
    EXPECT_EQ(current_process().name, "MainProcess");
    EXPECT_EQ(current_process().pid, getpid());
    EXPECT_FALSE(parent_process().has_value());
}

TEST_F(ProcessTest, DefaultNamesCount) {
    Process a([] {}), b([] {});
    ASSERT_EQ(a.name().rfind("Process-", 0), 0u);
    int na = std::atoi(a.name().c_str() + 8), nb = std::atoi(b.name().c_str() + 8);
    EXPECT_EQ(nb, na + 1);
}

TEST_F(ProcessTest, JoinWithTimeoutTerminateAndKill) {
    Channel ch;
    Process p([&] {
        ch.say("up");
        for (;;) pause();
    });
    p.start();
    ASSERT_EQ(ch.hear(), "up");
    EXPECT_FALSE(p.join(20ms));
    EXPECT_TRUE(p.is_alive());
    EXPECT_EQ(p.exitcode(), std::nullopt);
    p.terminate();
    EXPECT_TRUE(p.join(30s));
    EXPECT_EQ(p.exitcode(), -SIGTERM);

    Process k([] {
        signal(SIGTERM, SIG_IGN);
        for (;;) pause();
    });
    k.start();
    k.kill();
    k.join();
    EXPECT_EQ(k.exitcode(), -SIGKILL);
    EXPECT_EQ(k.status(), ExitStatus::killed(SIGKILL));
}

TEST_F(ProcessTest, Subclass) {
    struct Squarer : Process {
        Squarer(int n, int fd) : Process({.name = "squarer"}), n_(n), fd_(fd) {}
        void run() override { (void)write_all(fd_, std::to_string(n_ * n_) + " from " + current_process().name + "\n"); }
        int n_, fd_;
    };
    Channel ch;
    Squarer s(12, ch.w.get());
    s.start();
    EXPECT_EQ(ch.hear(), "144 from squarer");
    s.join();
    EXPECT_EQ(s.exitcode(), 0);
}

TEST_F(ProcessTest, MisuseIsReported) {
    Process p([] {});
    EXPECT_THROW(p.join(), std::logic_error);
    p.start();
    EXPECT_THROW(p.start(), std::logic_error);
    EXPECT_THROW(p.set_daemon(true), std::logic_error);
    p.join();
    p.close();
    EXPECT_THROW(p.start(), std::logic_error);
    Process running([] { for (;;) pause(); });
    running.start();
    EXPECT_THROW(running.close(), std::logic_error);
    running.kill();
    running.join();
}

TEST_F(ProcessTest, ActiveChildren) {
    Channel ch;
    Process a({.name = "first"}, [&] { ch.say("a"); for (;;) pause(); });
    Process b({.name = "second", .daemon = true}, [&] { ch.say("b"); for (;;) pause(); });
    a.start();
    b.start();
    ch.hear();
    ch.hear();
    auto kids = active_children();
    ASSERT_EQ(kids.size(), 2u);
    EXPECT_EQ(kids[0].name, "first");
    EXPECT_EQ(kids[0].pid, *a.pid());
    EXPECT_TRUE(kids[1].daemon);
    a.kill();
    a.join();
    kids = active_children();
    ASSERT_EQ(kids.size(), 1u);
    EXPECT_EQ(kids[0].name, "second");
    b.kill();
    b.join();
    EXPECT_TRUE(active_children().empty());
}

TEST_F(ProcessTest, DestructorJoinsNonDaemonAndEndsDaemon) {
    Channel ch, back;
    pid_t daemon_pid = 0;
    {
        Process d({.name = "d", .daemon = true}, [&] { ch.say("d"); for (;;) pause(); });
        d.start();
        daemon_pid = *d.pid();
        ch.hear();
    }  // terminated and reaped here
    EXPECT_FALSE(alive(daemon_pid));
    pid_t worker_pid = 0;
    {
        Process n({.name = "n"}, [&] {
            ch.say("n");
            back.hear();  // ends once told to
            ch.say("n done");
        });
        n.start();
        worker_pid = *n.pid();
        EXPECT_EQ(ch.hear(), "n");
        back.say("go");
    }  // joined here: by the time the destructor returns, the child has finished its work
    EXPECT_FALSE(alive(worker_pid));
    EXPECT_EQ(ch.hear(), "n done");
}

TEST_F(ProcessTest, TerminateTreeEndsGrandchildren) {
    Channel ch;
    Process p([&] {
        auto gc = Command(helper()).args({"ignore", "TERM", "pause"}).on_destroy(DestroyPolicy::detach).spawn().value();
        ch.say(std::to_string(gc.pid()));
        gc.detach();
        for (;;) pause();
    });
    p.start();
    pid_t gc = static_cast<pid_t>(std::stoi(ch.hear()));
    KillAtExit guard{gc};
    auto st = p.terminate_tree(100ms);
    EXPECT_EQ(st.signal(), SIGTERM);
    EXPECT_TRUE(eventually([&] { return !alive(gc); }));
}

TEST_F(ProcessTest, MovedProcessKeepsWorking) {
    std::vector<Process> ps;
    for (int i = 0; i < 4; ++i) ps.emplace_back(ProcessOptions{.name = "m" + std::to_string(i)}, [i] { return i; });
    for (auto& p : ps) p.start();
    for (auto& p : ps) p.join();
    for (int i = 0; i < 4; ++i) EXPECT_EQ(ps[static_cast<size_t>(i)].exitcode(), i);
}

TEST_F(ProcessTest, CpuCount) { EXPECT_GE(cpu_count(), 1u); }

// The exit hook: a program whose main returns while a daemon and a non-daemon child run must
// terminate the first and wait for the second — checked by running a small program of that shape.
TEST(ProcessExit, ParentExitTerminatesDaemonAndJoinsOthers) {
    Channel ch, ready;
    pid_t prog = fork();
    ASSERT_GE(prog, 0);
    if (prog == 0) {
        // The "program": two started Process objects that are never destroyed (held by static
        // pointers, as globals would be, so only the exit hook can act) and exits once both
        // children are running.
        static auto* d = new Process({.name = "daemon", .daemon = true}, [&] {
            ch.say("daemon:" + std::to_string(getpid()));
            ready.say("up");
            for (;;) pause();
        });
        static auto* n = new Process({.name = "worker"}, [&] {
            ready.say("up");
            struct timespec ts {0, 200'000'000};
            nanosleep(&ts, nullptr);
            ch.say("worker done");
        });
        d->start();
        n->start();
        ready.hear();
        ready.hear();
        std::exit(0);  // runs the hook
    }
    std::string daemon_line = ch.hear();
    ASSERT_EQ(daemon_line.rfind("daemon:", 0), 0u) << daemon_line;
    pid_t daemon_pid = static_cast<pid_t>(std::stoi(daemon_line.substr(7)));
    EXPECT_EQ(ch.hear(), "worker done") << "the non-daemon child was not joined";
    int status = 0;
    ASSERT_EQ(waitpid(prog, &status, 0), prog);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    EXPECT_FALSE(alive(daemon_pid)) << "the daemon child outlived its parent";
}

// A fork that happens while another thread holds the registry's lock must not hand the child a
// lock nobody will release: children here use the registry at once, while a thread hammers it.
TEST_F(ProcessTest, StartWhileAnotherThreadUsesTheRegistry) {
    std::atomic<bool> stop{false};
    std::thread busy([&] {
        while (!stop) (void)active_children();
    });
    std::vector<Process> ps;
    for (int i = 0; i < 40; ++i) ps.emplace_back([] { return active_children().empty() ? 0 : 1; });
    for (auto& p : ps) p.start();
    bool all = true;
    for (auto& p : ps) all = p.join(30s) && all;
    stop = true;
    busy.join();
    ASSERT_TRUE(all) << "a child deadlocked on the registry";
    for (auto& p : ps) EXPECT_EQ(p.exitcode(), 0);
}

// Buffered output: what the parent buffered before start() is printed once (not again by the
// child), and what the child printed without a newline is not lost at its _exit().
TEST_F(ProcessTest, StandardStreamsAreFlushedOnceAndNotLost) {
    Channel out;
    std::fflush(stdout);
    int saved = dup(1);
    ASSERT_GE(saved, 0);
    dup2(out.w.get(), 1);  // a pipe: stdout is now fully buffered
    std::printf("parent-before;");
    std::cout << "cpp-before;";
    Process p([] {
        std::printf("child-c;");
        std::cout << "child-cpp;";
    });
    p.start();
    p.join();
    std::printf("parent-after\n");
    std::fflush(stdout);
    dup2(saved, 1);
    ::close(saved);
    EXPECT_EQ(out.hear(), "parent-before;cpp-before;child-c;child-cpp;parent-after");
    EXPECT_EQ(p.exitcode(), 0);
}
