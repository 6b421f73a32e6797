// Test support for paffinity's tests: run a program and capture its output, keep a background
// process with pipes (killed by its destructor, even when a test fails), and wait for conditions
// with deadlines (never a fixed sleep followed by an assertion).
#pragma once

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <functional>
#include <optional>
#include <poll.h>
#include <spawn.h>
#include <stdexcept>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

extern char** environ;

namespace paff_test {

using Clock = std::chrono::steady_clock;
inline constexpr std::chrono::seconds default_deadline{30};

/// Polls `cond` until it holds or the deadline passes; returns its last value.
inline bool wait_until(const std::function<bool()>& cond, std::chrono::milliseconds deadline = default_deadline) {
    auto end = Clock::now() + deadline;
    for (;;) {
        if (cond()) return true;
        if (Clock::now() >= end) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

inline std::string env_or(const char* name, const char* fallback) {
    const char* v = std::getenv(name);
    return v && *v ? v : fallback;
}

inline std::string paffinity_path() { return env_or("PROCKIT_BUILD_DIR", ".") + "/tools/paffinity/paffinity"; }

/// A child process with its stdin, stdout and stderr on pipes. The destructor kills (SIGKILL) and
/// reaps it unless it was already waited for.
class Child {
public:
    Child(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env = {}) {
        int in[2], out[2], err[2];
        if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC))
            throw std::runtime_error("pipe2 failed");
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, in[0], 0);
        posix_spawn_file_actions_adddup2(&fa, out[1], 1);
        posix_spawn_file_actions_adddup2(&fa, err[1], 2);
        std::vector<char*> args;
        for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        std::vector<std::string> env_store;
        for (char** e = environ; *e; ++e) env_store.emplace_back(*e);
        for (const std::string& e : extra_env) env_store.push_back(e);
        std::vector<char*> env;
        for (std::string& e : env_store) env.push_back(e.data());
        env.push_back(nullptr);
        // Start with the default signal dispositions and an empty mask.
        posix_spawnattr_t attr;
        posix_spawnattr_init(&attr);
        sigset_t none, all;
        sigemptyset(&none);
        sigfillset(&all);
        posix_spawnattr_setsigmask(&attr, &none);
        posix_spawnattr_setsigdefault(&attr, &all);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
        int rc = posix_spawn(&pid_, args[0], &fa, &attr, args.data(), env.data());
        posix_spawnattr_destroy(&attr);
        posix_spawn_file_actions_destroy(&fa);
        close(in[0]);
        close(out[1]);
        close(err[1]);
        in_ = in[1];
        out_ = out[0];
        err_ = err[0];
        if (rc != 0) {
            pid_ = -1;
            throw std::runtime_error("posix_spawn " + argv[0] + " failed: " + std::to_string(rc));
        }
    }
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;
    ~Child() {
        if (pid_ > 0 && !reaped_) {
            kill(pid_, SIGKILL);
            int st;
            while (waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
            }
        }
        for (int fd : {in_, out_, err_})
            if (fd >= 0) close(fd);
    }

    pid_t pid() const { return pid_; }

    void write_line(const std::string& s) {
        std::string l = s + "\n";
        if (write(in_, l.data(), l.size()) != static_cast<ssize_t>(l.size())) throw std::runtime_error("write to child");
    }
    void close_stdin() {
        if (in_ >= 0) close(in_);
        in_ = -1;
    }

    /// The next line of stdout (or stderr), waiting up to the deadline; nullopt at EOF or timeout.
    std::optional<std::string> read_line(std::chrono::milliseconds deadline = default_deadline) {
        return line_from(out_, out_buf_, deadline);
    }
    std::optional<std::string> read_err_line(std::chrono::milliseconds deadline = default_deadline) {
        return line_from(err_, err_buf_, deadline);
    }
    /// Reads stdout lines until one starts with `prefix`; returns the rest of it.
    std::optional<std::string> read_until(const std::string& prefix, std::chrono::milliseconds deadline = default_deadline) {
        auto end = Clock::now() + deadline;
        for (;;) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now());
            if (left.count() <= 0) return std::nullopt;
            auto l = read_line(left);
            if (!l) return std::nullopt;
            if (l->rfind(prefix, 0) == 0) return l->substr(prefix.size());
        }
    }
    std::string all_stderr_so_far() const { return err_seen_; }

    /// Sends a signal and waits for the exit; returns the wait status.
    int stop(int sig, std::chrono::milliseconds deadline = default_deadline) {
        kill(pid_, sig);
        return wait(deadline);
    }
    /// Waits for the exit (SIGKILL after the deadline); returns the wait status.
    int wait(std::chrono::milliseconds deadline = default_deadline) {
        int st = 0;
        bool done = wait_until([&] {
            pid_t r = waitpid(pid_, &st, WNOHANG);
            return r == pid_;
        }, deadline);
        if (!done) {
            kill(pid_, SIGKILL);
            waitpid(pid_, &st, 0);
        }
        reaped_ = true;
        return st;
    }
    /// Drains what is left of stdout after exit.
    std::string rest_of_stdout() {
        std::string s = out_buf_;
        out_buf_.clear();
        char buf[4096];
        ssize_t n;
        while ((n = read(out_, buf, sizeof buf)) > 0) s.append(buf, static_cast<size_t>(n));
        return s;
    }

private:
    std::optional<std::string> line_from(int fd, std::string& buf, std::chrono::milliseconds deadline) {
        auto end = Clock::now() + deadline;
        for (;;) {
            std::size_t nl = buf.find('\n');
            if (nl != std::string::npos) {
                std::string l = buf.substr(0, nl);
                buf.erase(0, nl + 1);
                if (fd == err_) err_seen_ += l + "\n";
                return l;
            }
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now());
            if (left.count() <= 0) return std::nullopt;
            pollfd p{fd, POLLIN, 0};
            int rc = poll(&p, 1, static_cast<int>(left.count()));
            if (rc < 0 && errno == EINTR) continue;
            if (rc <= 0) return std::nullopt;
            char tmp[4096];
            ssize_t n = read(fd, tmp, sizeof tmp);
            if (n <= 0) return std::nullopt;
            buf.append(tmp, static_cast<size_t>(n));
        }
    }

    pid_t pid_ = -1;
    bool reaped_ = false;
    int in_ = -1, out_ = -1, err_ = -1;
    std::string out_buf_, err_buf_, err_seen_;
};

/// Kills a process by PID at scope exit (for grandchildren a test learns about).
class KillOnExit {
public:
    explicit KillOnExit(pid_t pid = -1) : pid_(pid) {}
    KillOnExit(const KillOnExit&) = delete;
    KillOnExit& operator=(const KillOnExit&) = delete;
    ~KillOnExit() {
        if (pid_ > 0) kill(pid_, SIGKILL);
    }
    void reset(pid_t pid) { pid_ = pid; }

private:
    pid_t pid_;
};

struct ToolResult {
    int status = -1;  ///< exit status (128+N when killed by signal N)
    std::string out, err;
};

/// Runs a program to completion with stdin closed; captures stdout and stderr.
inline ToolResult run(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env = {}) {
    Child c(argv, extra_env);
    c.close_stdin();
    // Read both pipes until EOF, then reap.
    ToolResult r;
    std::string out, err;
    for (;;) {
        auto l = c.read_line();
        if (!l) break;
        r.out += *l + "\n";
    }
    r.out += c.rest_of_stdout();
    for (;;) {
        auto l = c.read_err_line();
        if (!l) break;
        r.err += *l + "\n";
    }
    int st = c.wait();
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return r;
}

/// Runs paffinity with the arguments.
inline ToolResult paffinity(const std::vector<std::string>& args, const std::vector<std::string>& extra_env = {}) {
    std::vector<std::string> argv{paffinity_path()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, extra_env);
}

}  // namespace paff_test
