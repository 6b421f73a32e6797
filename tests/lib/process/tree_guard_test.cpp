// TreeGuard: enter() splits a forked copy of this test into guardian and supervisor; the tests
// kill one or the other and check that nothing the supervisor started survives.
#include "support.hpp"

#include <prockit/process/tree_guard.hpp>
#include <prockit/sys/syscall.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <fcntl.h>
#include <functional>
#include <poll.h>
#include <sstream>
#include <string>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace prockit {
namespace {

using namespace std::chrono_literals;

void say(int fd, const std::string& line) {
    std::string l = line + "\n";
    (void)write_all(fd, l);
}

// A forked copy of this test that called TreeGuard::enter(): `guardian` is our child; `supervisor`
// its child. Lines the supervisor's body writes to its report fd arrive on `report`.
struct Split {
    pid_t guardian = -1;
    pid_t supervisor = -1;
    unique_fd report;
    std::string line() { return test::read_line(report.get(), 30s); }
};

// The supervisor runs `body(guard, report_fd)` and exits with what it returns. The copy has a
// process group of its own, so that group-wide signals reach no test process.
Split split(const std::function<int(TreeGuard&, int)>& body) {
    int p[2];
    EXPECT_EQ(pipe2(p, O_CLOEXEC), 0);
    Split s;
    s.guardian = fork();
    if (s.guardian == 0) {
        ::close(p[0]);
        setpgid(0, 0);
        auto g = TreeGuard::enter();
        if (!g) {
            say(p[1], "error " + g.error().message());
            _exit(99);
        }
        say(p[1], "supervisor " + std::to_string(getpid()) + " " + std::to_string(g->guardian_pid()) + " " +
                      std::to_string(getppid()));
        _exit(body(*g, p[1]));
    }
    ::close(p[1]);
    s.report = unique_fd(p[0]);
    std::string first = s.line();
    std::istringstream in(first);
    std::string word;
    pid_t named = -1, parent = -1;
    in >> word >> s.supervisor >> named >> parent;
    EXPECT_EQ(word, "supervisor") << first;
    EXPECT_EQ(named, s.guardian) << "the guardian keeps the caller's PID";
    EXPECT_EQ(parent, s.guardian) << "the supervisor is the guardian's child";
    return s;
}

// The guardian's wait status (it is our child).
int wait_guardian(pid_t pid) {
    int st = 0;
    EXPECT_EQ(retry_eintr([&] { return waitpid(pid, &st, 0); }), pid);
    return st;
}

// True once `pid` (not necessarily our child) has ended, waiting at most `limit`.
bool ends_within(pid_t pid, std::chrono::milliseconds limit) {
    int fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
    if (fd < 0) return errno == ESRCH;
    unique_fd held(fd);
    pollfd p{fd, POLLIN, 0};
    return retry_eintr([&] { return poll(&p, 1, static_cast<int>(limit.count())); }) == 1;
}

// A grandchild of the supervisor that left to a session of its own (double fork + setsid): the
// supervisor adopted it. Returns its PID, reported on `report` as "orphan PID".
pid_t start_orphan(int report) {
    int p[2];
    if (pipe(p) != 0) return -1;
    pid_t mid = fork();
    if (mid == 0) {
        pid_t g = fork();
        if (g == 0) {
            setsid();
            close(p[0]);
            (void)!write(p[1], "x", 1);
            for (;;) pause();
        }
        _exit(0);
    }
    close(p[1]);
    char c;
    (void)!read(p[0], &c, 1);  // the orphan runs
    close(p[0]);
    waitpid(mid, nullptr, 0);
    // The orphan is now our child (we are a subreaper).
    std::string kids = read_file("/proc/self/task/" + std::to_string(getpid()) + "/children").value_or("");
    pid_t orphan = static_cast<pid_t>(std::atol(kids.c_str()));
    say(report, "orphan " + std::to_string(orphan));
    return orphan;
}

pid_t read_pid(Split& s, const std::string& key) {
    std::string l = s.line();
    EXPECT_EQ(l.rfind(key + " ", 0), 0u) << l;
    return l.size() > key.size() ? static_cast<pid_t>(std::atol(l.c_str() + key.size() + 1)) : -1;
}

class TreeGuardTest : public ::testing::Test {
protected:
    // A supervisor whose guardian is killed is orphaned: we adopt and reap it (PID 1 here reaps lazily).
    static void SetUpTestSuite() { prctl(PR_SET_CHILD_SUBREAPER, 1); }
};

TEST_F(TreeGuardTest, EnterSplitsAndPassesTheExitStatusOn) {
    Split s = split([](TreeGuard& g, int report) {
        int sub = 0;
        prctl(PR_GET_CHILD_SUBREAPER, &sub);
        say(report, "subreaper " + std::to_string(sub) + " lost " + std::to_string(g.guardian_lost()));
        return 42;
    });
    EXPECT_NE(s.supervisor, s.guardian);
    EXPECT_EQ(s.line(), "subreaper 1 lost 0");
    int st = wait_guardian(s.guardian);
    ASSERT_TRUE(WIFEXITED(st));
    EXPECT_EQ(WEXITSTATUS(st), 42);
}

TEST_F(TreeGuardTest, AKilledSupervisorIsReportedAs128PlusN) {
    Split s = split([](TreeGuard&, int) {
        signal(SIGTERM, SIG_DFL);
        raise(SIGTERM);
        return 0;
    });
    int st = wait_guardian(s.guardian);
    ASSERT_TRUE(WIFEXITED(st));
    EXPECT_EQ(WEXITSTATUS(st), 128 + SIGTERM);
}

TEST_F(TreeGuardTest, AnOrphanThatSetsidDiesWhenTheSupervisorIsKilled) {
    Split s = split([](TreeGuard&, int report) {
        start_orphan(report);
        for (;;) pause();
        return 0;
    });
    pid_t orphan = read_pid(s, "orphan");
    ASSERT_GT(orphan, 0);
    ASSERT_EQ(kill(s.supervisor, SIGKILL), 0);
    int st = wait_guardian(s.guardian);
    ASSERT_TRUE(WIFEXITED(st));
    EXPECT_EQ(WEXITSTATUS(st), 128 + SIGKILL);
    // The guardian ended and reaped it before it exited.
    EXPECT_TRUE(ends_within(orphan, 0ms)) << "orphan " << orphan << " survived the supervisor";
}

TEST_F(TreeGuardTest, AnOrphanThatSetsidDiesWhenTheGuardianIsKilled) {
    Split s = split([](TreeGuard& g, int report) {
        pid_t orphan = start_orphan(report);
        pollfd p{g.guardian_fd(), POLLIN, 0};
        while (poll(&p, 1, -1) != 1) {
        }
        std::size_t n = TreeGuard::end_descendants({});
        say(report, "ended " + std::to_string(n) + " alive " + std::to_string(kill(orphan, 0) == 0));
        return 0;
    });
    pid_t orphan = read_pid(s, "orphan");
    ASSERT_GT(orphan, 0);
    ASSERT_EQ(kill(s.guardian, SIGKILL), 0);
    wait_guardian(s.guardian);
    EXPECT_EQ(s.line(), "ended 1 alive 0");
    EXPECT_TRUE(ends_within(orphan, 10s));
    EXPECT_TRUE(ends_within(s.supervisor, 10s));
    waitpid(s.supervisor, nullptr, 0);  // adopted by us
}

TEST_F(TreeGuardTest, SignalsSentToTheGuardianAreForwardedAsSignals) {
    Split s = split([](TreeGuard& g, int report) {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGUSR1);
        sigprocmask(SIG_BLOCK, &set, nullptr);
        int fd = signalfd(-1, &set, SFD_CLOEXEC);
        say(report, "ready");
        signalfd_siginfo si{};
        if (read(fd, &si, sizeof si) != static_cast<ssize_t>(sizeof si)) return 1;
        say(report, std::string(si.ssi_signo == SIGUSR1 ? "USR1" : "other") +
                        (static_cast<pid_t>(si.ssi_pid) == g.guardian_pid() ? " from the guardian" : " from elsewhere") +
                        (g.should_act_on(si) ? " act" : " skip"));
        signal(SIGTERM, SIG_DFL);
        for (;;) pause();  // a default disposition: the forwarded SIGTERM ends it
    });
    ASSERT_EQ(s.line(), "ready");
    ASSERT_EQ(kill(s.guardian, SIGUSR1), 0);
    EXPECT_EQ(s.line(), "USR1 from the guardian act");
    ASSERT_EQ(kill(s.guardian, SIGTERM), 0);
    int st = wait_guardian(s.guardian);
    ASSERT_TRUE(WIFEXITED(st));
    EXPECT_EQ(WEXITSTATUS(st), 128 + SIGTERM);
}

// Forward::through_fd: one byte per signal on guardian_fd(), so a signal sent to the whole process
// group (which the supervisor gets directly too) is acted on exactly once.
TEST_F(TreeGuardTest, SignalsForwardedThroughTheFdAreActedOnOnce) {
    int p[2];
    ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
    pid_t guardian = fork();
    if (guardian == 0) {
        close(p[0]);
        setpgid(0, 0);
        auto g = TreeGuard::enter({.name = {}, .forward = TreeGuardOptions::Forward::through_fd});
        if (!g) _exit(99);
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGUSR1);
        sigaddset(&set, SIGTERM);
        sigprocmask(SIG_BLOCK, &set, nullptr);
        int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
        say(p[1], "ready");
        int usr1 = 0, skipped = 0;
        for (;;) {
            pollfd fds[2] = {{sfd, POLLIN, 0}, {g->guardian_fd(), POLLIN, 0}};
            if (poll(fds, 2, -1) < 0) continue;
            signalfd_siginfo si{};
            while (read(sfd, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
                if (g->should_act_on(si)) _exit(98);  // a process's signal never counts here
                ++skipped;
            }
            std::vector<int> sigs;
            if (!g->read_guardian(sigs)) _exit(97);
            for (int sig : sigs) {
                if (sig == SIGUSR1) say(p[1], "acted USR1 " + std::to_string(++usr1));
                if (sig == SIGTERM) {
                    say(p[1], "acted TERM after USR1 x" + std::to_string(usr1));
                    _exit(0);
                }
            }
        }
    }
    close(p[1]);
    unique_fd report(p[0]);
    ASSERT_EQ(test::read_line(report.get(), 30s), "ready");
    ASSERT_EQ(kill(guardian, SIGUSR1), 0);  // to the PID the user knows
    EXPECT_EQ(test::read_line(report.get(), 30s), "acted USR1 1");
    ASSERT_EQ(kill(-guardian, SIGUSR1), 0);  // to both processes
    EXPECT_EQ(test::read_line(report.get(), 30s), "acted USR1 2");
    // The pipe keeps order: a TERM sent now comes after everything forwarded before it, so the
    // count it reports is final.
    ASSERT_EQ(kill(guardian, SIGTERM), 0);
    EXPECT_EQ(test::read_line(report.get(), 30s), "acted TERM after USR1 x2");
    int st = wait_guardian(guardian);
    ASSERT_TRUE(WIFEXITED(st));
    EXPECT_EQ(WEXITSTATUS(st), 0);
}

TEST_F(TreeGuardTest, ReapAdoptedLeavesTheKeptChildrenAlone) {
    Split s = split([](TreeGuard&, int report) {
        pid_t own = fork();
        if (own == 0) _exit(3);
        int p[2];
        if (pipe(p) != 0) return 1;
        pid_t mid = fork();
        if (mid == 0) {
            if (fork() == 0) {  // the orphan: exits once the pipe closes
                close(p[1]);
                char c;
                (void)!read(p[0], &c, 1);
                _exit(0);
            }
            _exit(0);
        }
        close(p[0]);
        waitpid(mid, nullptr, 0);
        std::string kids = read_file("/proc/self/task/" + std::to_string(getpid()) + "/children").value_or("");
        close(p[1]);
        // Both exited (not reaped): wait for that without reaping.
        siginfo_t info{};
        waitid(P_PID, static_cast<id_t>(own), &info, WEXITED | WNOWAIT);
        std::istringstream in(kids);
        for (std::string k; in >> k;) {
            pid_t pid = static_cast<pid_t>(std::atol(k.c_str()));
            if (pid != own) waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT);
        }
        pid_t keep[] = {own};
        std::size_t n = TreeGuard::reap_adopted(keep);
        int st = 0;
        pid_t got = waitpid(own, &st, WNOHANG);
        say(report, "reaped " + std::to_string(n) + " own " + std::to_string(got == own && WIFEXITED(st) ? WEXITSTATUS(st) : -1) +
                        " left " + std::to_string(waitpid(-1, nullptr, WNOHANG) == -1 && errno == ECHILD));
        return 0;
    });
    EXPECT_EQ(s.line(), "reaped 1 own 3 left 1");
    wait_guardian(s.guardian);
}

TEST_F(TreeGuardTest, EndDescendantsKillsTheKeptButLeavesTheirStatus) {
    Split s = split([](TreeGuard&, int report) {
        pid_t own = fork();
        if (own == 0) {
            for (;;) pause();
        }
        start_orphan(report);
        pid_t keep[] = {own};
        std::size_t n = TreeGuard::end_descendants(keep);
        int st = 0;
        pid_t got = waitpid(own, &st, WNOHANG);
        bool killed = got == own && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
        say(report, "ended " + std::to_string(n) + " own killed " + std::to_string(killed) + " left " +
                        std::to_string(waitpid(-1, nullptr, WNOHANG) == -1 && errno == ECHILD));
        return 0;
    });
    pid_t orphan = read_pid(s, "orphan");
    EXPECT_EQ(s.line(), "ended 1 own killed 1 left 1");
    wait_guardian(s.guardian);
    EXPECT_TRUE(ends_within(orphan, 0ms));
}

TEST_F(TreeGuardTest, EnterRefusesAProcessWithThreads) {
    int p[2];
    ASSERT_EQ(pipe(p), 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        int q[2];
        if (pipe(q) != 0) _exit(1);
        std::thread t([&] {
            char c;
            (void)!read(q[0], &c, 1);
        });
        auto g = TreeGuard::enter();
        say(p[1], g ? "entered" : g.error().message());
        close(q[1]);
        t.join();
        _exit(g ? 1 : 0);  // a supervisor would exit 1 too; the guardian passes it on
    }
    close(p[1]);
    unique_fd r(p[0]);
    std::string l = test::read_line(r.get(), 30s);
    EXPECT_NE(l.find("cannot split the process for its tree guard (it has 2 threads"), std::string::npos) << l;
    int st = wait_guardian(pid);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

}  // namespace
}  // namespace prockit
