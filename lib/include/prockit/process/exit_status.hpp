// prockit/process/exit_status.hpp — how a child changed state: exited with a code, killed by a
// signal (with or without a core dump), stopped by a signal, or continued — and, for an end reaped
// by prockit, the resources the process used.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include <signal.h>

struct rusage;

namespace prockit {

/// What an ended process used, as waitid() reports it for the process and the descendants it
/// reaped itself: CPU time in user and kernel mode, and the peak resident set size.
struct ResourceUsage {
    std::chrono::microseconds user_cpu{0};
    std::chrono::microseconds system_cpu{0};
    long max_rss_kb = 0;

    static ResourceUsage from_rusage(const struct rusage& ru);
    friend bool operator==(const ResourceUsage&, const ResourceUsage&) = default;
};

class ExitStatus {
public:
    enum class Kind { exited, killed, stopped, continued };

    static ExitStatus exited(int code) { return {Kind::exited, code, false}; }
    static ExitStatus killed(int sig, bool core = false) { return {Kind::killed, sig, core}; }
    static ExitStatus stopped(int sig) { return {Kind::stopped, sig, false}; }
    static ExitStatus continued() { return {Kind::continued, SIGCONT, false}; }
    /// From waitid()'s siginfo (si_code CLD_EXITED, CLD_KILLED, CLD_DUMPED, CLD_STOPPED,
    /// CLD_TRAPPED, CLD_CONTINUED).
    static ExitStatus from_siginfo(const siginfo_t& info);
    /// From a waitpid()-style status word.
    static ExitStatus from_wait_status(int status);

    Kind kind() const noexcept { return kind_; }
    bool is_exited() const noexcept { return kind_ == Kind::exited; }
    bool is_killed() const noexcept { return kind_ == Kind::killed; }
    bool is_stopped() const noexcept { return kind_ == Kind::stopped; }
    bool is_continued() const noexcept { return kind_ == Kind::continued; }
    /// The process ended (exited or killed), as opposed to stopped/continued.
    bool ended() const noexcept { return is_exited() || is_killed(); }
    /// Exited with code 0.
    bool success() const noexcept { return is_exited() && value_ == 0; }

    /// The exit code, when it exited.
    std::optional<int> code() const noexcept {
        return is_exited() ? std::optional<int>(value_) : std::nullopt;
    }
    /// The signal that killed or stopped it (SIGCONT for continued).
    std::optional<int> signal() const noexcept {
        return is_exited() ? std::nullopt : std::optional<int>(value_);
    }
    bool core_dumped() const noexcept { return core_; }

    /// Python's multiprocessing exitcode: the code, or minus the signal number when killed.
    int python_exitcode() const noexcept { return is_killed() ? -value_ : value_; }
    /// The shell's $?: the code, or 128 + N when killed (or stopped) by signal N.
    int shell_code() const noexcept { return is_exited() ? value_ : 128 + value_; }

    /// The resources the process used, when its end was reaped by prockit (Child::wait and
    /// friends); empty for statuses built by hand or from a status word.
    const std::optional<ResourceUsage>& usage() const noexcept { return usage_; }
    ExitStatus with_usage(const ResourceUsage& u) const {
        ExitStatus s = *this;
        s.usage_ = u;
        return s;
    }

    /// "exited 0", "killed by SIGKILL", "killed by SIGSEGV (core dumped)", "stopped by SIGTSTP",
    /// "continued".
    std::string to_string() const;

    /// Compares how the process ended; the resource usage is not part of it.
    friend bool operator==(const ExitStatus& a, const ExitStatus& b) noexcept {
        return a.kind_ == b.kind_ && a.value_ == b.value_ && a.core_ == b.core_;
    }

private:
    ExitStatus(Kind k, int v, bool core) : kind_(k), value_(v), core_(core) {}
    Kind kind_;
    int value_;
    bool core_;
    std::optional<ResourceUsage> usage_;
};

}  // namespace prockit
