// tests/fault/kill_support.hpp — SIGKILL at random moments: a seeded generator whose seed is
// printed on failure (and can be replayed with PROCKIT_FAULT_SEED), and the "no process left
// behind" check — the test process is a child subreaper, so whatever a trial started and left
// running is reparented to it and found among its children.
#pragma once

#include "tools/common/bad_input_matrix.hpp"
#include "tools/pjobs/pjobs_support.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <regex>
#include <set>
#include <string>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace prockit::test::fault {

using namespace std::chrono_literals;

/// At least this many trials per component (issue 18).
inline constexpr int kTrials = 50;

/// The seed of this test's random moments: PROCKIT_FAULT_SEED when set (to replay a failure),
/// else a fresh one.
inline std::uint64_t fault_seed() {
    if (const char* s = std::getenv("PROCKIT_FAULT_SEED"); s && *s) return std::strtoull(s, nullptr, 10);
    std::random_device rd;
    return (std::uint64_t{rd()} << 32) | rd();
}

/// A seeded generator; its seed goes into every failure message of the scope (SCOPED_TRACE is
/// declared by the caller with trace()).
class Moments {
public:
    Moments() : seed_(fault_seed()), rng_(seed_) {}
    std::string trace() const { return "seed " + std::to_string(seed_) + " (replay: PROCKIT_FAULT_SEED=" + std::to_string(seed_) + ")"; }
    /// A delay drawn uniformly from [0, max].
    std::chrono::microseconds delay(std::chrono::microseconds max) {
        return std::chrono::microseconds(std::uniform_int_distribution<long long>(0, max.count())(rng_));
    }
    int pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }

private:
    std::uint64_t seed_;
    std::mt19937_64 rng_;
};

/// The window of the random moments: a clean run's duration, measured now (this machine's speed
/// under its present load), times 1.25 so that kills also land after the end; at least `floor`.
template <class F>
std::chrono::microseconds measured_window(F clean_run, std::chrono::microseconds floor) {
    auto t0 = std::chrono::steady_clock::now();
    clean_run();
    auto took = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0);
    return std::max(floor, took * 5 / 4);
}

/// Sleeps for a random moment: the delay is what is random, not a synchronisation.
inline void sleep_for(std::chrono::microseconds d) { std::this_thread::sleep_for(d); }

/// Makes the test process a child subreaper while it lives and checks, on demand, that nothing
/// started since (or since the last check) is still running: every new child must end by itself
/// within the deadline (it is then reaped); one that does not is a failure, and is killed.
class NoneLeftBehind {
public:
    NoneLeftBehind() : before_(matrix::detail::own_children()) { ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); }
    ~NoneLeftBehind() { ::prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0); }
    NoneLeftBehind(const NoneLeftBehind&) = delete;
    NoneLeftBehind& operator=(const NoneLeftBehind&) = delete;

    /// Children allowed to stay (a server that outlives trials by design).
    void allow(pid_t p) { allowed_.insert(p); }
    void disallow(pid_t p) { allowed_.erase(p); }

    /// True when every new child ended within `limit`; else reports `what` and kills the rest.
    bool check(const std::string& what, std::chrono::milliseconds limit = 10s) {
        std::set<pid_t> left;
        prockit::test::eventually(
            [&] {
                left.clear();
                for (pid_t p : matrix::detail::own_children()) {
                    if (before_.count(p) || allowed_.count(p)) continue;
                    int ws;
                    if (::waitpid(p, &ws, WNOHANG) == p) continue;  // ended: reaped
                    left.insert(p);
                }
                return left.empty();
            },
            limit);
        for (pid_t p : left) {
            ADD_FAILURE() << what << ": process " << p << " (" << comm(p) << ") was left behind";
            ::kill(p, SIGKILL);
            ::waitpid(p, nullptr, 0);
        }
        return left.empty();
    }

    static std::string comm(pid_t p) {
        std::string c = prockit::test::slurp("/proc/" + std::to_string(p) + "/comm");
        if (!c.empty() && c.back() == '\n') c.pop_back();
        return c;
    }

private:
    std::set<pid_t> before_;
    std::set<pid_t> allowed_;
};

/// Whether `err` is at most one line, and that line is in the house form for `tool` (or matches
/// `other`, a documented alternative).
/// `err` without the line LeakSanitizer's exit-time check prints when its process is SIGKILLed in
/// the middle of that check ("==PID==Unable to get registers from thread TID."): a trial whose kill
/// lands as the component ends meets it in sanitizer builds only. Nothing else is dropped.
inline std::string without_interrupted_leak_check(const std::string& err) {
    if (!sanitized) return err;
    static const std::regex noise("==[0-9]+==Unable to get registers from thread [0-9]+\\.");
    std::string kept;
    for (const auto& line : prockit::test::lines(err))
        if (!std::regex_match(line, noise)) kept += line + "\n";
    if (!err.empty() && err.back() != '\n' && !kept.empty()) kept.pop_back();  // keep a torn last line torn
    return kept;
}

inline bool one_house_line_or_none(const std::string& raw_err, const std::string& tool, const std::string& other = "$^") {
    const std::string err = without_interrupted_leak_check(raw_err);
    if (err.empty()) return true;
    if (err.back() != '\n' || err.find('\n') != err.size() - 1) return false;
    std::string line = err.substr(0, err.size() - 1);
    return std::regex_search(err, matrix::house_form(tool)) || std::regex_search(line, std::regex(other));
}

/// The lines of a text; `whole` is false when its last line has no newline (a torn write).
inline std::vector<std::string> text_lines(const std::string& s, bool& whole) {
    whole = s.empty() || s.back() == '\n';
    return prockit::test::lines(s);
}

/// `pjobs ARGS...` for `pj`'s directories, output through pipes (no scratch directory to make and
/// remove per call: trials run hundreds of these). For commands whose output is small (it is read
/// once the command has ended). code -1: it did not end within `limit`, and was killed.
inline PrunResult pjobs_quick(const Pjobs& pj, const std::vector<std::string>& args, std::chrono::seconds limit = std::chrono::seconds(30)) {
    Command c(pjobs_path());
    c.args(args).env("XDG_RUNTIME_DIR", pj.runtime()).env("XDG_STATE_HOME", pj.state()).cwd(pj.dir.path);
    c.in(Stdio::null()).out(Stdio::pipe()).err(Stdio::pipe()).new_process_group();
    c.on_destroy(DestroyPolicy::kill_tree, std::chrono::seconds(0));
    PrunResult r;
    auto child = c.spawn();
    if (!child) {
        ADD_FAILURE() << child.error().message();
        return r;
    }
    auto st = child->wait_for(limit);
    if (!st || !*st) {
        ADD_FAILURE() << "pjobs " << (args.empty() ? "" : args[0]) << " did not end within " << limit.count() << " s";
        (void)child->terminate_tree(std::chrono::seconds(0));
        return r;
    }
    r.code = (*st)->shell_code();
    r.out = read_all(child->stdout_pipe().get());
    r.err = read_all(child->stderr_pipe().get());
    return r;
}

/// `pjobs list -J` through pjobs_quick.
inline nlohmann::json pjobs_list(const Pjobs& pj) {
    auto j = nlohmann::json::parse(pjobs_quick(pj, {"list", "-J"}).out, nullptr, false);
    return j.is_discarded() ? nlohmann::json::array() : j;
}

}  // namespace prockit::test::fault
