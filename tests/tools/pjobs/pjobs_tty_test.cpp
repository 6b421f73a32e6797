// pjobs fg under a pty (forkpty), as a person at a terminal: output replayed, typing reaches the
// job, Ctrl-Z stops it and returns `[N]+ Stopped`, fg again, the detach key, window sizes, and
// fg's exit status.
#include "pjobs_support.hpp"

#include <gtest/gtest.h>

#include <poll.h>
#include <pty.h>
#include <sys/ioctl.h>
#include <sys/wait.h>

using namespace prockit;
using namespace prockit::test;
using namespace std::chrono_literals;

namespace {

/// `pjobs ARGS` with a new pty as its controlling terminal (rows x cols).
struct Terminal {
    int master = -1;
    pid_t pid = -1;
    std::string seen;

    Terminal(const Pjobs& pj, std::vector<std::string> args, unsigned short rows = 30, unsigned short cols = 100) {
        std::string bin = pjobs_path();
        std::vector<std::string> env = {"XDG_RUNTIME_DIR=" + pj.runtime(), "XDG_STATE_HOME=" + pj.state(), "PATH=/usr/bin:/bin",
                                        "TERM=dumb"};
        args.insert(args.begin(), bin);
        std::vector<char*> argv, envp;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        for (auto& e : env) envp.push_back(e.data());
        envp.push_back(nullptr);
        winsize ws{};
        ws.ws_row = rows;
        ws.ws_col = cols;
        pid = forkpty(&master, nullptr, nullptr, &ws);
        if (pid == 0) {
            execve(bin.c_str(), argv.data(), envp.data());
            _exit(127);
        }
    }
    ~Terminal() {
        if (pid > 0) {
            kill(pid, SIGKILL);
            waitpid(pid, nullptr, 0);
        }
        if (master >= 0) close(master);
    }
    void type(const std::string& keys) const { ASSERT_EQ(write(master, keys.data(), keys.size()), static_cast<ssize_t>(keys.size())); }
    /// Reads until `text` has been seen since the last expect (or the deadline).
    bool expect(const std::string& text, std::chrono::seconds limit = 20s) {
        auto end = std::chrono::steady_clock::now() + limit;
        for (;;) {
            auto at = seen.find(text);
            if (at != std::string::npos) {
                seen.erase(0, at + text.size());
                return true;
            }
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now()).count();
            if (left <= 0) return false;
            pollfd p{master, POLLIN, 0};
            if (poll(&p, 1, static_cast<int>(left)) <= 0) continue;
            char buf[4096];
            ssize_t n = read(master, buf, sizeof buf);
            if (n <= 0) {
                if (seen.find(text) != std::string::npos) continue;
                return false;
            }
            seen.append(buf, static_cast<size_t>(n));
        }
    }
    /// pjobs' exit status (shell style), or -1 if it does not end in time.
    int status(std::chrono::seconds limit = 20s) {
        auto end = std::chrono::steady_clock::now() + limit;
        while (std::chrono::steady_clock::now() < end) {
            int st = 0;
            pid_t r = waitpid(pid, &st, WNOHANG);
            if (r == pid) {
                pid = -1;
                return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            }
            // drain the terminal so pjobs never blocks writing to it
            pollfd p{master, POLLIN, 0};
            if (poll(&p, 1, 20) > 0) {
                char buf[4096];
                ssize_t n = read(master, buf, sizeof buf);
                if (n > 0) seen.append(buf, static_cast<size_t>(n));
            }
        }
        return -1;
    }
};

}  // namespace

TEST(PjobsTty, FgReplaysTypingEchoesCtrlZStopsFgAgainAndDetach) {
    Pjobs pj;
    ASSERT_EQ(pj({"run", "--", "sh", "-c", "echo ready; exec cat"}).code, 0);
    ASSERT_TRUE(eventually([&] { return pj({"logs", "%1"}).out == "ready\r\n"; }));
    {
        Terminal t(pj, {"fg", "%1"});
        ASSERT_TRUE(t.expect("ready")) << t.seen;  // replayed from the scrollback
        t.type("hello pjobs\r");
        ASSERT_TRUE(t.expect("hello pjobs")) << t.seen;  // the pty's echo
        ASSERT_TRUE(t.expect("hello pjobs")) << t.seen;  // cat's copy
        t.type("\x1a");                                   // Ctrl-Z
        ASSERT_TRUE(t.expect("[1]+ Stopped")) << t.seen;
        EXPECT_EQ(t.status(), 128 + SIGTSTP);
    }
    EXPECT_TRUE(eventually([&] { return pj.state_of(1) == "stopped"; }));
    {
        Terminal t(pj, {"fg"});  // the current job: the stopped one
        ASSERT_TRUE(t.expect("cat")) << t.seen;
        EXPECT_TRUE(eventually([&] { return pj.state_of(1) == "running"; }));
        t.type("again\r");
        ASSERT_TRUE(t.expect("again")) << t.seen;
        ASSERT_TRUE(t.expect("again")) << t.seen;
        t.type("\x1c");  // Ctrl-\, the default detach key: the job runs on
        ASSERT_TRUE(t.expect("(detached)")) << t.seen;
        EXPECT_EQ(t.status(), 0);
    }
    EXPECT_EQ(pj.state_of(1), "running");
    {
        Terminal t(pj, {"fg", "--detach-key", "^]", "%1"});
        ASSERT_TRUE(t.expect("again")) << t.seen;  // scrollback replayed again
        t.type("\x04");                            // Ctrl-D: cat ends, fg exits with its status
        EXPECT_EQ(t.status(), 0);
    }
    EXPECT_TRUE(eventually([&] { return pj.state_of(1) == "done"; }));
}

TEST(PjobsTty, FgExitsWithTheJobsStatusAndForwardsWindowSizes) {
    Pjobs pj;
    ASSERT_EQ(pj({"run", "--", "sh", "-c", "while read line; do [ \"$line\" = quit ] && exit 7; stty size; done"}).code, 0);
    Terminal t(pj, {"fg", "%1"}, 30, 100);
    ASSERT_TRUE(t.expect("while read")) << t.seen;  // fg prints the command
    t.type("size\r");
    ASSERT_TRUE(t.expect("30 100")) << t.seen;
    winsize ws{};
    ws.ws_row = 40;
    ws.ws_col = 120;
    ASSERT_EQ(ioctl(t.master, TIOCSWINSZ, &ws), 0);  // SIGWINCH to pjobs fg
    // The new size reaches the job's pty asynchronously: ask until it answers with it.
    bool resized = false;
    for (int i = 0; i < 100 && !resized; ++i) {
        t.type("size\r");
        resized = t.expect("40 120", 1s);
    }
    EXPECT_TRUE(resized) << t.seen;
    t.type("quit\r");
    EXPECT_EQ(t.status(), 7);
    EXPECT_EQ(pj.job(1).value("status", 0), 7);
}

TEST(PjobsTty, ASecondFgTakesTheJobOver) {
    Pjobs pj;
    ASSERT_EQ(pj({"run", "--", "cat"}).code, 0);
    Terminal first(pj, {"fg", "%1"});
    ASSERT_TRUE(first.expect("cat")) << first.seen;
    Terminal second(pj, {"fg", "%1"});
    ASSERT_TRUE(second.expect("cat")) << second.seen;
    ASSERT_TRUE(first.expect("[1] detached: attached from another terminal")) << first.seen;
    EXPECT_EQ(first.status(), 0);
    second.type("mine\r");
    ASSERT_TRUE(second.expect("mine")) << second.seen;
    second.type("\x1c");
    EXPECT_EQ(second.status(), 0);
}
