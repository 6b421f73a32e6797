// Job control: pipelines in one process group with the last member's status, stop/continue/end
// observed, the job table's numbers and specs, and — with a pty as the controlling terminal of a
// forked "shell" — a job run in the foreground, stopped with ^Z typed into the master, the terminal
// back with the shell's modes and the job's saved, bg, fg with the job's modes, and its exit.
#include "support.hpp"

#include <prockit/jobs/job_control.hpp>
#include <prockit/jobs/pty.hpp>
#include <prockit/process/process.hpp>
#include <prockit/sys/syscall.hpp>

#include <poll.h>
#include <sys/syscall.h>
#include <sys/ioctl.h>
#include <termios.h>

using namespace prockit;
using namespace prockit::test;

namespace {

/// Reads `fd` until `want` appeared, or 30 s passed; returns everything read.
std::string read_until(int fd, const std::string& want) {
    std::string got;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (got.find(want) == std::string::npos) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) break;
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
        char buf[4096];
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got.append(buf, static_cast<size_t>(n));
    }
    return got;
}

std::size_t count(const std::string& hay, const std::string& needle) {
    std::size_t n = 0;
    for (auto i = hay.find(needle); i != std::string::npos; i = hay.find(needle, i + 1)) ++n;
    return n;
}

}  // namespace

TEST(JobControl, APipelineIsOneGroupWithTheLastMembersStatus) {
    int p[2];
    ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
    unique_fd r(p[0]), w(p[1]);
    JobTable table;
    std::vector<Command> line = {helper_cmd({"ids", "exit", "3"}), Command("sh").args({"-c", "cat; exit 5"})};
    line[1].out(Stdio::fd(w.get()));
    auto job = table.start(std::move(line), "ids | cat", Launch::background);
    ASSERT_TRUE(job) << job.error().message();
    w.reset();
    Job& j = **job;
    EXPECT_EQ(j.number(), 1);
    EXPECT_EQ(j.pgid(), j.pids()[0]);
    std::string out = read_all(r.get());
    EXPECT_NE(out.find("pgid=" + std::to_string(j.pgid()) + "\n"), std::string::npos) << out;
    auto st = table.wait(j);
    ASSERT_TRUE(st) << st.error().message();
    EXPECT_EQ(*st, JobState::done);
    EXPECT_EQ(j.status(), ExitStatus::exited(5));
    EXPECT_EQ(j.members()[0].status(), ExitStatus::exited(3));
}

TEST(JobControl, StopContinueAndKillAreObserved) {
    JobTable table;
    auto job = table.start({helper_cmd({"sleep", "60"}), helper_cmd({"sleep", "60"})}, "sleep 60 | sleep 60",
                           Launch::background);
    ASSERT_TRUE(job) << job.error().message();
    Job& j = **job;
    ASSERT_TRUE(j.signal(SIGSTOP));
    auto st = table.wait(j);  // stopped as soon as one member is
    ASSERT_TRUE(st);
    EXPECT_EQ(*st, JobState::stopped);
    EXPECT_EQ(j.status(), ExitStatus::stopped(SIGSTOP));
    EXPECT_EQ(table.current().current, j.number());

    ASSERT_TRUE(table.continue_background(j));
    EXPECT_EQ(j.state(), JobState::running);
    EXPECT_FALSE(j.status());

    // A stopped job gets SIGCONT after the signal, so TERM ends it instead of waiting forever.
    ASSERT_TRUE(j.signal(SIGSTOP));
    ASSERT_EQ(table.wait(j).value(), JobState::stopped);
    ASSERT_TRUE(j.signal(SIGTERM));
    st = table.wait(j);
    ASSERT_TRUE(st);
    while (*st != JobState::done) st = table.wait(j);  // members may stop before TERM arrives
    EXPECT_EQ(j.status(), ExitStatus::killed(SIGTERM));
    EXPECT_FALSE(table.continue_background(j));  // done: ESRCH
    EXPECT_FALSE(table.current().current);
}

TEST(JobControl, NumbersAndSpecsFollowTheShell) {
    JobTable table;
    auto a = table.start({helper_cmd({"sleep", "60"})}, "sleep 60", Launch::background);
    auto b = table.start({helper_cmd({"sleep", "61"})}, "sleep 61", Launch::background);
    ASSERT_TRUE(a && b);
    EXPECT_EQ((*b)->number(), 2);
    EXPECT_EQ(table.find("%+").value(), *b);
    EXPECT_EQ(table.find("%-").value(), *a);
    EXPECT_EQ(table.find("%?61").value(), *b);
    EXPECT_EQ(table.find(std::to_string((*a)->pgid())).value(), *a);
    EXPECT_FALSE(table.find("%sleep"));  // ambiguous
    ASSERT_TRUE((*a)->signal(SIGKILL));
    ASSERT_EQ(table.wait(**a).value(), JobState::done);
    table.remove(1);
    auto c = table.start({helper_cmd({"sleep", "62"})}, "sleep 62", Launch::background);
    ASSERT_TRUE(c);
    EXPECT_EQ((*c)->number(), 3);  // one more than the highest, as in bash
    EXPECT_EQ(table.jobs().size(), 2u);
}

TEST(JobControl, AMemberThatCannotStartTakesThePipelineDown) {
    JobTable table;
    auto job = table.start({helper_cmd({"sleep", "60"}), Command("/nonexistent/prockit-no-such-program")},
                           "sleep | missing", Launch::background);
    ASSERT_FALSE(job);
    EXPECT_TRUE(job.error().not_found());
    EXPECT_TRUE(table.jobs().empty());
    EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1);  // the first member was killed and reaped
    EXPECT_EQ(errno, ECHILD);
}

// The forked "shell" drives a job on its controlling pty; the test types into the master like a
// person and reads the shell's reports from a pipe.
TEST(JobControl, ForegroundJobOnAPtyStopsWithCtrlZAndComesBack) {
    auto pty = open_pty();
    ASSERT_TRUE(pty) << pty.error().message();
    int rp[2];
    ASSERT_EQ(::pipe2(rp, O_CLOEXEC), 0);
    unique_fd report_r(rp[0]), report_w(rp[1]);
    std::string slave_path = pty->slave_path;
    int master = pty->master.get();

    Process shell([&] {
        auto say = [&](const std::string& s) { (void)write_all(report_w.get(), s + "\n"); };
        ::close(master);
        if (::setsid() < 0) return 10;
        auto tty = open_fd(slave_path, O_RDWR);
        if (!tty || ::ioctl(tty->get(), TIOCSCTTY, 0) != 0) return 11;
        for (int fd = 0; fd < 3; ++fd) ::dup2(tty->get(), fd);
        for (int sig : {SIGTSTP, SIGTTIN, SIGTTOU, SIGINT, SIGQUIT}) ::signal(sig, SIG_IGN);
        auto term = Terminal::open(0);
        if (!term) return 12;
        auto modes_echo = [&] {
            struct termios t {};
            ::tcgetattr(0, &t);
            return (t.c_lflag & ECHO) ? 1 : 0;
        };
        auto fg_is_shell = [&] { return ::tcgetpgrp(0) == ::getpgrp() ? 1 : 0; };
        JobTable table(&*term);
        auto job = table.start({Command("sh").args({"-c", "stty -echo; echo ready; exec cat"})}, "cat",
                               Launch::foreground);
        if (!job) return 13;
        Job& j = **job;
        auto st = table.wait_foreground(j);
        if (!st) return 14;
        say(std::string(to_string(*st)) + " " + (j.status() ? j.status()->to_string() : "-") +
            " saved_echo=" + std::to_string(j.saved_modes() && (j.saved_modes()->c_lflag & ECHO) ? 1 : 0) +
            " echo=" + std::to_string(modes_echo()) + " fg=" + std::to_string(fg_is_shell()));
        if (!table.continue_background(j)) return 15;
        st = table.wait(j);  // cat reads its terminal in the background: SIGTTIN
        if (!st) return 16;
        say(std::string(to_string(*st)) + " " + (j.status() ? j.status()->to_string() : "-"));
        if (!term->give_to(j.pgid(), j.saved_modes() ? &*j.saved_modes() : nullptr)) return 17;
        say("given echo=" + std::to_string(modes_echo()));
        st = table.continue_foreground(j);
        if (!st) return 18;
        say(std::string(to_string(*st)) + " " + (j.status() ? j.status()->to_string() : "-") +
            " echo=" + std::to_string(modes_echo()) + " fg=" + std::to_string(fg_is_shell()));
        return 0;
    });
    shell.start();
    report_w.reset();
    pty->slave.reset();

    std::string screen = read_until(master, "ready");
    ASSERT_NE(screen.find("ready"), std::string::npos) << screen;
    ASSERT_TRUE(write_all(master, "\x1a"));  // ^Z
    EXPECT_EQ(read_line(report_r.get()), "Stopped stopped by SIGTSTP saved_echo=0 echo=1 fg=1");
    EXPECT_EQ(read_line(report_r.get()), "Stopped stopped by SIGTTIN");
    EXPECT_EQ(read_line(report_r.get()), "given echo=0");
    ASSERT_TRUE(write_all(master, "hello\n"));
    std::string typed = read_until(master, "hello");
    ASSERT_TRUE(write_all(master, "\x04"));  // ^D: cat sees EOF and exits 0
    EXPECT_EQ(read_line(report_r.get()), "Done exited 0 echo=1 fg=1");
    shell.join();
    EXPECT_EQ(shell.exitcode(), 0);
    typed += read_until(master, "\x01never");  // the rest, until EIO
    EXPECT_EQ(count(typed, "hello"), 1u) << typed;  // cat's copy only: the job's -echo was given back
}

// A foreground leader that fails at exec has already taken the terminal: start() gives it back.
TEST(JobControl, AFailedForegroundStartLeavesTheTerminalWithTheShell) {
    auto pty = open_pty();
    ASSERT_TRUE(pty) << pty.error().message();
    std::string slave_path = pty->slave_path;
    Process shell([&] {
        if (::setsid() < 0) return 10;
        auto tty = open_fd(slave_path, O_RDWR);
        if (!tty || ::ioctl(tty->get(), TIOCSCTTY, 0) != 0) return 11;
        auto term = Terminal::open(tty->get());
        if (!term) return 12;
        JobTable table(&*term);
        auto job = table.start({Command("/nonexistent/prockit-no-such-program")}, "missing", Launch::foreground);
        if (job) return 13;
        if (!job.error().not_found()) return 14;
        if (term->foreground_group().value_or(0) != ::getpgrp()) return 15;
        return 0;
    });
    shell.start();
    shell.join();
    EXPECT_EQ(shell.exitcode(), 0);
}

// A table that goes away hangs up its jobs (SIGHUP, SIGCONT) and their members are reaped: a
// stopped job too, which a HUP alone would not reach.
TEST(JobControl, ADestroyedTableHangsUpItsJobs) {
    std::vector<unique_fd> watch;
    {
        JobTable table;
        auto running = table.start({helper_cmd({"sleep", "60"})}, "sleep 60", Launch::background);
        auto stopped = table.start({helper_cmd({"sleep", "61"})}, "sleep 61", Launch::background);
        ASSERT_TRUE(running && stopped);
        ASSERT_TRUE((*stopped)->signal(SIGSTOP));
        ASSERT_EQ(table.wait(**stopped).value(), JobState::stopped);
        for (Job* j : {*running, *stopped}) {
            int fd = static_cast<int>(::syscall(SYS_pidfd_open, j->pgid(), 0));
            ASSERT_GE(fd, 0);
            watch.emplace_back(fd);
        }
    }
    for (auto& fd : watch) {
        pollfd p{fd.get(), POLLIN, 0};
        EXPECT_EQ(::poll(&p, 1, 0), 1);  // ended (and reaped by the members' destructors)
    }
    EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1);
}
