// daemon_children.cpp — daemon versus non-daemon children when the parent finishes.
//
// As in Python, when the main program ends (return from main, or std::exit):
//   * daemon children are terminated (SIGTERM, then SIGKILL after a grace period) and reaped;
//   * non-daemon children are joined: the program waits for them to finish their work.
// prockit does this in an atexit hook that the first Process::start() installs.
//
// Here p1 (non-daemon) has a short job; p2 and p3 (daemons) stand for background services that
// would never end on their own. main returns at once; p1 still finishes, p2 and p3 do not.
// A second atexit hook, installed before any start() and so run after prockit's, reports what
// became of each child.
//
// Output (children's lines in any order):
//   p1: start (pid=N, daemon=no)
//   p2: start (pid=N, daemon=yes)
//   p3: start (pid=N, daemon=yes)
//   main: returning from main
//   p1: end
//   at exit: p1 exitcode=0
//   at exit: p2 exitcode=-15
//   at exit: p3 exitcode=-15
#include <prockit/process/process.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <memory>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

// The children live as long as the program: the hooks at exit look at them.
std::vector<std::unique_ptr<prockit::Process>> g_children;

// Tells main that a child is up (so that every child has printed its first line before main
// returns): one byte on a pipe. (prockit's ipc Event will do this more politely.)
int g_ready[2] = {-1, -1};

void announce() {
    auto me = prockit::current_process();
    std::printf("%s: start (pid=%d, daemon=%s)\n", me.name.c_str(), static_cast<int>(me.pid),
                me.daemon ? "yes" : "no");
    (void)!::write(g_ready[1], "x", 1);
}

void short_job() {
    announce();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // stands for some work
    std::printf("%s: end\n", prockit::current_process().name.c_str());
}

void service() {
    announce();
    for (;;) ::pause();  // never returns: only a signal ends it
}

void report() {
    for (auto& p : g_children)
        std::printf("at exit: %s exitcode=%d\n", p->name().c_str(), p->exitcode().value_or(999));
}

}  // namespace

int main() {
    std::setvbuf(stdout, nullptr, _IOLBF, 0);  // whole lines, also through a pipe
    // Registered before the first start(), so it runs after prockit's hook has ended the children.
    std::atexit(report);
    if (::pipe2(g_ready, O_CLOEXEC) != 0) return 1;

    g_children.push_back(std::make_unique<prockit::Process>(prockit::ProcessOptions{.name = "p1"}, short_job));
    g_children.push_back(
        std::make_unique<prockit::Process>(prockit::ProcessOptions{.name = "p2", .daemon = true}, service));
    g_children.push_back(
        std::make_unique<prockit::Process>(prockit::ProcessOptions{.name = "p3", .daemon = true}, service));
    for (auto& p : g_children) p->start();

    ::close(g_ready[1]);  // only the children write now: EOF if they all died early
    char buf[3];
    size_t got = 0;
    while (got < sizeof buf) {
        ssize_t n = ::read(g_ready[0], buf + got, sizeof buf - got);
        if (n <= 0) break;
        got += static_cast<size_t>(n);
    }
    ::close(g_ready[0]);

    std::printf("main: returning from main\n");
    return 0;  // → prockit's hook: p2, p3 terminated; p1 joined
}
