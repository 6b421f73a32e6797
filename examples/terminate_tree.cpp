// terminate_tree.cpp — terminating a child that has a child of its own.
//
// terminate() sends SIGTERM to the child only, as Python's Process.terminate() does: the child's
// own children keep running, orphaned. terminate_tree(grace) sends SIGTERM to the child and to
// every descendant, SIGKILL to whatever is left after the grace period, and reaps the child.
//
// The "middle" child starts a "grandchild" Process, tells main its PID, and waits. Round 1 ends
// the middle with terminate(): the grandchild survives. Round 2 uses terminate_tree(): both end.
//
// An orphan is normally adopted by init (PID 1), out of our reach. So that this example leaves
// nothing behind, main first makes itself a child subreaper: orphans of its descendants are
// adopted by main instead, which can then end and reap the survivor of round 1 (and reap the
// grandchild of round 2, whose exit status would otherwise go to init).
//
// Output (in this order; N stands for a PID):
//   round 1: terminate()
//   middle pid=N started grandchild pid=N
//   middle exitcode=-15
//   grandchild still running: yes (orphaned)
//   cleanup: grandchild exitcode=-15
//   round 2: terminate_tree()
//   middle pid=N started grandchild pid=N
//   middle exitcode=-15
//   grandchild still running: no
//   grandchild reaped: killed by SIGTERM
#include <prockit/process/child.hpp>
#include <prockit/process/process.hpp>
#include <prockit/sys/error.hpp>
#include <prockit/sys/syscall.hpp>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <fcntl.h>
#include <stdexcept>
#include <unistd.h>

using namespace std::chrono_literals;

namespace {

void grandchild() {
    for (;;) ::pause();  // runs until a signal ends it
}

// Starts the grandchild, sends its PID to main through `pid_fd`, then waits to be ended.
void middle(int pid_fd) {
    prockit::Process g({.name = "grandchild"}, grandchild);
    g.start();
    pid_t pid = *g.pid();
    (void)!::write(pid_fd, &pid, sizeof pid);
    for (;;) ::pause();
}

// One round: start the middle process, learn the grandchild, end the middle with `end_it`.
// Returns a handle on the grandchild.
template <class End>
prockit::Child round(End end_it) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw prockit::SystemError(prockit::last_error("create a pipe"));
    prockit::Process m({.name = "middle"}, middle, fds[1]);
    m.start();
    pid_t gpid = 0;
    ssize_t n;
    do {
        n = ::read(fds[0], &gpid, sizeof gpid);
    } while (n < 0 && errno == EINTR);
    ::close(fds[0]);
    ::close(fds[1]);
    if (n != sizeof gpid) throw std::runtime_error("the middle process did not report its child");
    std::printf("middle pid=%d started grandchild pid=%d\n", static_cast<int>(*m.pid()), static_cast<int>(gpid));
    // The grandchild cannot be reaped by anyone before we look at it (the middle never waits for
    // it, and once orphaned it is ours), so its PID is still its own: a pidfd pins it from here on.
    prockit::Child g = prockit::Child::adopt(gpid).value();

    end_it(m);
    std::printf("middle exitcode=%d\n", *m.exitcode());
    // The middle has been reaped: the grandchild, alive or dead, is now our child.
    bool running = !g.try_wait().value().has_value();
    std::printf("grandchild still running: %s\n", running ? "yes (orphaned)" : "no");
    return g;
}

}  // namespace

int main() {
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    prockit::set_child_subreaper().value();

    std::printf("round 1: terminate()\n");
    prockit::Child left = round([](prockit::Process& m) {
        m.terminate();  // the middle only
        m.join();
    });
    left.terminate().value();
    std::printf("cleanup: grandchild exitcode=%d\n", left.wait().value().python_exitcode());

    std::printf("round 2: terminate_tree()\n");
    prockit::Child gone = round([](prockit::Process& m) { m.terminate_tree(5s); });
    std::printf("grandchild reaped: %s\n", gone.wait().value().to_string().c_str());
    return 0;
}
