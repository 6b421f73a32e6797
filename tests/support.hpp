// tests/support.hpp — shared pieces for prockit's tests.
#pragma once

#include <prockit/process/command.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <dirent.h>
#include <map>
#include <poll.h>
#include <set>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define PROCKIT_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define PROCKIT_TEST_SANITIZED 1
#endif
#endif

namespace prockit::test {

/// Built with a sanitizer (ASan, TSan): memory figures mean little there, and the sanitizer's
/// runtime needs descriptors, tasks and memory of its own, which the tight limits of some fault
/// cases take from it (UBSan's vptr check probes memory through pipe(2), LeakSanitizer stops the
/// world with a task of its own at exit). Such cases run in the plain build and skip here.
#ifdef PROCKIT_TEST_SANITIZED
inline constexpr bool sanitized = true;
#else
inline constexpr bool sanitized = false;
#endif

/// Path of the prockit-test-helper executable (set by CTest).
inline std::string helper() {
    const char* p = std::getenv("PROCKIT_TEST_HELPER");
    return p ? p : "prockit-test-helper";
}

/// A Command for the helper with the given helper commands.
inline Command helper_cmd(std::initializer_list<std::string> args) {
    Command c(helper());
    c.args(args);
    return c;
}

/// Reads everything from fd until EOF.
inline std::string read_all(int fd) {
    std::string out;
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        out.append(buf, static_cast<size_t>(n));
    }
    return out;
}

/// Reads one line (without '\n') from fd, waiting at most `timeout`. Empty on EOF or timeout.
inline std::string read_line(int fd, std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    std::string line;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return line;
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
        char c;
        ssize_t n = ::read(fd, &c, 1);
        if (n <= 0) return line;
        if (c == '\n') return line;
        line += c;
    }
}

struct Ran {
    ExitStatus status = ExitStatus::exited(0);
    std::string out;
    std::map<std::string, std::string> kv;  // "key=value" lines of out
};

/// Spawns `cmd` with stdout piped, reads it all, waits. Fails the test on spawn errors.
inline Ran run(Command cmd) {
    cmd.out(Stdio::pipe());
    auto child = cmd.spawn();
    EXPECT_TRUE(child) << (child ? "" : child.error().message());
    Ran r;
    if (!child) return r;
    r.out = read_all(child->stdout_pipe().get());
    r.status = child->wait().value();
    size_t pos = 0;
    while (pos < r.out.size()) {
        size_t nl = r.out.find('\n', pos);
        std::string line = r.out.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
        auto eq = line.find('=');
        if (eq != std::string::npos) r.kv[line.substr(0, eq)] = line.substr(eq + 1);
        if (nl == std::string::npos) break;
        pos = nl + 1;
    }
    return r;
}

/// The calling process's open descriptors.
inline std::set<int> open_fds() {
    std::set<int> fds;
    DIR* d = opendir("/proc/self/fd");
    if (!d) return fds;
    while (dirent* e = readdir(d))
        if (e->d_name[0] != '.') fds.insert(std::atoi(e->d_name));
    fds.erase(dirfd(d));
    closedir(d);
    return fds;
}

/// True when the calling process has no child at all (not even a zombie).
inline bool no_children() {
    siginfo_t info{};
    return waitid(P_ALL, 0, &info, WEXITED | WSTOPPED | WCONTINUED | WNOHANG | WNOWAIT) == -1 && errno == ECHILD;
}

/// Whether process `pid` exists and is not a zombie.
inline bool alive(pid_t pid) {
    std::string path = "/proc/" + std::to_string(pid) + "/stat";
    FILE* f = std::fopen(path.c_str(), "re");
    if (!f) return false;
    char buf[512] = {};
    size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    std::string s(buf, n);
    auto rp = s.rfind(')');
    return rp != std::string::npos && rp + 2 < s.size() && s[rp + 2] != 'Z' && s[rp + 2] != 'X';
}

/// Waits until pred() is true or `timeout` passes (polling with short yields). Returns pred().
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > deadline) return pred();
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
}

/// Kills a process by PID at scope exit (for grandchildren a test created), if it still exists.
struct KillAtExit {
    pid_t pid = 0;
    ~KillAtExit() {
        if (pid > 0) ::kill(pid, SIGKILL);
    }
};

/// Asserts, at the end of a test, that no descriptor leaked and no child is left.
class NoLeaks : public ::testing::Test {
protected:
    void SetUp() override { fds_ = open_fds(); }
    void TearDown() override {
        EXPECT_EQ(open_fds(), fds_) << "a test leaked a file descriptor";
        EXPECT_TRUE(no_children()) << "a test left a child (or zombie) behind";
    }

private:
    std::set<int> fds_;
};

}  // namespace prockit::test
