// join_timeout.cpp — join(timeout): wait for a child, but not for ever.
//
// join(timeout) returns true when the child has ended within the timeout and false when it still
// runs; the child is not touched either way. exitcode() stays empty while the child runs. What to
// do with a child that takes too long is the caller's choice: wait more, or terminate() it (its
// exitcode is then minus the signal number, -15 for SIGTERM).
//
// To make the outcome certain, the first child waits for a word from main on a pipe instead of
// sleeping for a guessed time, and the second never ends by itself. Each child also says on a
// second pipe that it has printed its first line, so the output comes in a fixed order.
//
// Output (in this order):
//   slow: waiting for the go-ahead
//   main: join(200ms) -> false; is_alive=yes exitcode=none
//   main: sending the go-ahead
//   slow: done
//   main: join(30s) -> true; is_alive=no exitcode=0
//   stuck: running for ever
//   main: join(200ms) -> false; terminating stuck
//   main: stuck exitcode=-15
#include <prockit/process/process.hpp>

#include <chrono>
#include <cerrno>
#include <cstdio>
#include <fcntl.h>
#include <string>
#include <unistd.h>

using namespace std::chrono_literals;

namespace {

// The children's "I am up" byte (prockit's ipc Event will do this more politely).
int g_ready[2] = {-1, -1};
void say_ready() { (void)!::write(g_ready[1], "r", 1); }
bool wait_ready() {
    char c;
    ssize_t n;
    do {
        n = ::read(g_ready[0], &c, 1);
    } while (n < 0 && errno == EINTR);
    return n == 1;
}

std::string show(const std::optional<int>& code) { return code ? std::to_string(*code) : "none"; }

void slow(int go_fd) {
    std::printf("slow: waiting for the go-ahead\n");
    say_ready();
    char c;
    while (::read(go_fd, &c, 1) < 0) {
    }
    std::printf("slow: done\n");
}

void stuck() {
    std::printf("stuck: running for ever\n");
    say_ready();
    for (;;) ::pause();
}

}  // namespace

int main() {
    std::setvbuf(stdout, nullptr, _IOLBF, 0);

    int go[2];
    if (::pipe2(go, O_CLOEXEC) != 0 || ::pipe2(g_ready, O_CLOEXEC) != 0) return 1;
    prockit::Process p({.name = "slow"}, slow, go[0]);
    p.start();
    if (!wait_ready()) return 1;
    bool ended = p.join(200ms);  // cannot end yet: it needs the go-ahead
    std::printf("main: join(200ms) -> %s; is_alive=%s exitcode=%s\n", ended ? "true" : "false",
                p.is_alive() ? "yes" : "no", show(p.exitcode()).c_str());
    std::printf("main: sending the go-ahead\n");
    (void)!::write(go[1], "g", 1);
    ended = p.join(30s);
    std::printf("main: join(30s) -> %s; is_alive=%s exitcode=%s\n", ended ? "true" : "false",
                p.is_alive() ? "yes" : "no", show(p.exitcode()).c_str());
    ::close(go[0]);
    ::close(go[1]);

    prockit::Process q({.name = "stuck"}, stuck);
    q.start();
    if (!wait_ready()) return 1;
    if (!q.join(200ms)) {
        std::printf("main: join(200ms) -> false; terminating stuck\n");
        q.terminate();
        q.join();
    }
    std::printf("main: stuck exitcode=%s\n", show(q.exitcode()).c_str());
    ::close(g_ready[0]);
    ::close(g_ready[1]);
    return 0;
}
