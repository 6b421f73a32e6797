// A full-screen program under `pjobs fg`, driven through tmux as a person at a terminal would:
// less runs as a job; fg attaches it in a tmux pane; keys typed into the pane reach it; the pane
// shows its screen (tmux capture-pane); the detach key leaves it running; after the pane was
// cleared, fg again replays the screen from the holder's scrollback, and keys work again.
// Skipped (with the reason) when tmux or less is not installed.
#include "pjobs_support.hpp"

#include <prockit/process/program_path.hpp>

#include <gtest/gtest.h>

using namespace prockit;
using namespace prockit::test;
using namespace std::chrono_literals;

namespace {

/// A tmux server of its own (socket in the test's directory, no configuration file) with one
/// 80x24 session running a shell whose environment points at the test's pjobs directories.
struct Tmux {
    std::string bin, socket;
    bool started = false;

    Tmux(const Pjobs& pj, std::string tmux) : bin(std::move(tmux)), socket(pj.file("tmux.sock")) {
        std::string shell = "env XDG_RUNTIME_DIR=" + pj.runtime() + " XDG_STATE_HOME=" + pj.state() +
                            " PATH=/usr/bin:/bin PS1='pj$ ' sh";
        auto r = run({"new-session", "-d", "-s", "pj", "-x", "80", "-y", "24", shell});
        started = r.code == 0;
        EXPECT_TRUE(started) << r.err;
    }
    ~Tmux() {
        if (started) run({"kill-server"});
    }
    PrunResult run(std::vector<std::string> args) const {
        args.insert(args.begin(), {"-S", socket, "-f", "/dev/null"});
        return run_program(bin, args, {}, 30s);
    }
    void keys(const std::string& literal) const { run({"send-keys", "-t", "pj", "-l", literal}); }
    void key(const std::string& name) const { run({"send-keys", "-t", "pj", name}); }
    std::string screen() const { return run({"capture-pane", "-p", "-t", "pj"}).out; }
    /// Waits (deadline) until `ok(screen)`; the last screen seen is left in `last`.
    bool until(const std::function<bool(const std::string&)>& ok, std::string& last, std::chrono::seconds limit = 20s) const {
        auto end = std::chrono::steady_clock::now() + limit;
        for (;;) {
            last = screen();
            if (ok(last)) return true;
            if (std::chrono::steady_clock::now() > end) return false;
            std::this_thread::sleep_for(50ms);
        }
    }
    bool shows(const std::string& text, std::string& last) const {
        return until([&](const std::string& s) { return s.find(text) != std::string::npos; }, last);
    }
};

bool has(const std::string& s, const std::string& t) { return s.find(t) != std::string::npos; }

}  // namespace

TEST(PjobsTmux, LessUnderFgIsDrivenDetachedAndItsScreenReplayedOnReattach) {
    auto tmux = find_program("tmux");
    if (!tmux) GTEST_SKIP() << "tmux is not installed (Debian package tmux)";
    auto less = find_program("less");
    if (!less) GTEST_SKIP() << "less is not installed";
    Pjobs pj;
    {
        std::ofstream text(pj.file("text"));
        for (int i = 1; i <= 200; ++i) text << "line " << (i < 10 ? "00" : i < 100 ? "0" : "") << i << " of the text\n";
    }
    // The job's terminal is the holder's pty; what it draws goes to the tmux pane, so it is told
    // the pane's terminal type.
    auto r = pj({"run", "--env", "TERM=screen", "--env", "LESSHISTFILE=-", "--env", "LESSOPEN=", "--", *less, pj.file("text")});
    ASSERT_EQ(r.code, 0) << r.err;
    Tmux t(pj, *tmux);
    ASSERT_TRUE(t.started);
    std::string s;
    ASSERT_TRUE(t.shows("pj$", s)) << s;  // capture-pane drops trailing blanks
    t.keys(pjobs_path() + " fg %1");
    t.key("Enter");
    ASSERT_TRUE(t.shows("line 001 of the text", s)) << s;
    EXPECT_TRUE(has(s, "line 023 of the text")) << s;  // a 24-line pane: 23 lines and less's prompt
    EXPECT_FALSE(has(s, "line 024 of the text")) << s;

    // Keys reach less: G goes to the end.
    t.keys("G");
    ASSERT_TRUE(t.until([](const std::string& x) { return has(x, "line 200 of the text") && !has(x, "line 001 "); }, s)) << s;
    const std::string at_end = s;

    // The detach key: fg returns to the shell, the job runs on.
    t.key("C-\\");
    ASSERT_TRUE(t.shows("(detached)", s)) << s;
    EXPECT_EQ(pj.state_of(1), "running");
    t.keys("clear");
    t.key("Enter");
    ASSERT_TRUE(t.until([](const std::string& x) { return !has(x, "line "); }, s)) << s;

    // fg again: the screen less drew is replayed from the scrollback, as it was.
    t.keys(pjobs_path() + " fg %1");
    t.key("Enter");
    ASSERT_TRUE(t.until([&](const std::string& x) { return x == at_end; }, s)) << "now:\n" << s << "\nbefore:\n" << at_end;

    // Keys still reach it: g goes back to the top; q ends it and fg with it.
    t.keys("g");
    ASSERT_TRUE(t.until([](const std::string& x) { return has(x, "line 001 of the text") && !has(x, "line 200 "); }, s)) << s;
    t.keys("q");
    EXPECT_EQ(pj({"wait", "%1"}).code, 0);
    EXPECT_EQ(pj.state_of(1), "done");
}
