// The job-control example shell, typed at like a person would: under forkpty, each step waits for
// the text the shell should print (or for the terminal's foreground group to change hands) with a
// deadline, never for a fixed time.
#include "support.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <string>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

namespace {

using Clock = std::chrono::steady_clock;

std::string job_shell_path() {
    const char* b = std::getenv("PROCKIT_BUILD_DIR");
    return std::string(b ? b : PROCKIT_BUILD_DIR_PATH) + "/examples/job_shell";
}

class Shell {
public:
    Shell() {
        struct winsize ws {};
        ws.ws_row = 24;
        ws.ws_col = 120;
        pid_ = ::forkpty(&master_, nullptr, nullptr, &ws);
        if (pid_ == 0) {
            std::string path = job_shell_path();
            ::execl(path.c_str(), "job_shell", static_cast<char*>(nullptr));
            ::_exit(127);
        }
    }
    ~Shell() {
        if (pid_ > 0 && !reaped_) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
        if (master_ >= 0) ::close(master_);
    }
    bool ok() const { return pid_ > 0 && master_ >= 0; }

    void type(const std::string& keys) {
        ASSERT_EQ(::write(master_, keys.data(), keys.size()), static_cast<ssize_t>(keys.size()));
    }
    /// Reads until `text` appears after what earlier expects consumed; returns the text read up
    /// to and including it (and fails the test after 30 s).
    std::string expect(const std::string& text) {
        auto deadline = Clock::now() + std::chrono::seconds(30);
        for (;;) {
            auto at = screen_.find(text, cursor_);
            if (at != std::string::npos) {
                std::string seen = screen_.substr(cursor_, at + text.size() - cursor_);
                cursor_ = at + text.size();
                return seen;
            }
            if (!read_some(deadline)) {
                ADD_FAILURE() << "no '" << text << "' within 30 s; the screen after the last match:\n"
                              << screen_.substr(cursor_);
                return {};
            }
        }
    }
    /// Waits until the terminal's foreground group is not the shell's (a job has the terminal).
    bool wait_job_in_foreground() {
        auto deadline = Clock::now() + std::chrono::seconds(30);
        while (Clock::now() < deadline) {
            pid_t fg = ::tcgetpgrp(master_);  // on a master: the slave side's foreground group
            if (fg > 0 && fg != pid_) return true;
            pollfd p{master_, POLLIN, 0};
            if (::poll(&p, 1, 10) > 0) read_some(deadline);
        }
        return false;
    }
    int exit_code() {
        std::string rest;
        auto deadline = Clock::now() + std::chrono::seconds(30);
        while (read_some(deadline)) {
        }
        int st = 0;
        if (::waitpid(pid_, &st, 0) != pid_) return -1;
        reaped_ = true;
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    }

private:
    bool read_some(Clock::time_point deadline) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) return false;
        pollfd p{master_, POLLIN, 0};
        int r = ::poll(&p, 1, static_cast<int>(left.count()));
        if (r <= 0) return false;
        char buf[4096];
        ssize_t n = ::read(master_, buf, sizeof buf);
        if (n <= 0) return false;  // EIO: the shell is gone
        screen_.append(buf, static_cast<std::size_t>(n));
        return true;
    }

    pid_t pid_ = -1;
    int master_ = -1;
    bool reaped_ = false;
    std::string screen_;
    std::size_t cursor_ = 0;
};

}  // namespace

TEST(JobShell, StopBackgroundForegroundInterrupt) {
    Shell sh;
    ASSERT_TRUE(sh.ok());
    sh.expect("$ ");
    sh.type("sleep 100\n");
    ASSERT_TRUE(sh.wait_job_in_foreground());
    sh.type("\x1a");  // ^Z
    EXPECT_NE(sh.expect("$ ").find("[1]+  Stopped"), std::string::npos);
    sh.type("jobs\n");
    std::string listed = sh.expect("$ ");
    EXPECT_NE(listed.find("[1]+  Stopped"), std::string::npos) << listed;
    EXPECT_NE(listed.find("sleep 100"), std::string::npos) << listed;
    sh.type("bg\n");
    sh.expect("[1]+ sleep 100 &");
    sh.expect("$ ");
    sh.type("jobs\n");
    listed = sh.expect("$ ");
    EXPECT_NE(listed.find("[1]+  Running"), std::string::npos) << listed;
    sh.type("fg %1\n");
    sh.expect("sleep 100\r\n");
    ASSERT_TRUE(sh.wait_job_in_foreground());
    sh.type("\x03");  // ^C ends it; the shell itself ignores SIGINT
    sh.expect("$ ");
    sh.type("jobs\n");
    listed = sh.expect("$ ");
    EXPECT_EQ(listed.find("[1]"), std::string::npos) << listed;
    sh.type("exit 7\n");
    EXPECT_EQ(sh.exit_code(), 7);
}

TEST(JobShell, InteractiveCatPipelinesAndKill) {
    Shell sh;
    ASSERT_TRUE(sh.ok());
    sh.expect("$ ");
    sh.type("cat\n");
    ASSERT_TRUE(sh.wait_job_in_foreground());
    sh.type("hello cat\n");
    sh.expect("hello cat\r\n");  // the terminal's echo
    sh.expect("hello cat\r\n");  // cat's copy
    sh.type("\x04");  // ^D
    sh.expect("$ ");

    sh.type("echo one two three | wc -w\n");
    std::string out = sh.expect("$ ");
    EXPECT_NE(out.find("\r\n3\r\n"), std::string::npos) << out;
    sh.type("printf 'b\\na\\nc\\n' | sort -r | head -n 2\n");
    out = sh.expect("$ ");
    EXPECT_NE(out.find("c\r\nb\r\n"), std::string::npos) << out;

    sh.type("sleep 200 | cat &\n");
    sh.expect("[1] ");
    sh.expect("$ ");
    sh.type("kill %1\n");
    out = sh.expect("$ ");  // the prompt reports the end, if it came before the prompt
    sh.type("fg %1\n");      // otherwise fg waits for it and reports it
    out += sh.expect("$ ");
    EXPECT_NE(out.find("Killed SIGTERM"), std::string::npos) << out;

    sh.type("nosuchcommand-prockit\n");
    out = sh.expect("$ ");
    EXPECT_NE(out.find("job_shell: cannot find 'nosuchcommand-prockit' in PATH"), std::string::npos) << out;
    sh.type("fg %9\n");
    out = sh.expect("$ ");
    EXPECT_NE(out.find("job_shell: cannot find job %9: no such job"), std::string::npos) << out;
    sh.type("exit\n");
    EXPECT_EQ(sh.exit_code(), 127);  // the last command's status
}

TEST(JobShell, ABackgroundReaderStopsAndExitWarnsOnce) {
    Shell sh;
    ASSERT_TRUE(sh.ok());
    sh.expect("$ ");
    sh.type("cat &\n");
    sh.expect("[1] ");
    sh.expect("$ ");
    // cat reads its terminal from the background: SIGTTIN stops it; an empty line shows it.
    std::string out;
    auto deadline = Clock::now() + std::chrono::seconds(30);
    while (out.find("Stopped") == std::string::npos && Clock::now() < deadline) {
        sh.type("jobs\n");
        out += sh.expect("$ ");
    }
    EXPECT_NE(out.find("[1]+  Stopped"), std::string::npos) << out;
    sh.type("exit\n");
    sh.expect("there are stopped jobs");
    sh.expect("$ ");
    sh.type("exit\n");
    EXPECT_EQ(sh.exit_code(), 0);
}
