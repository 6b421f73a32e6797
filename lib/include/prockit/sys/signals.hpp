// prockit/sys/signals.hpp — signal names and numbers, and a scoped signal-mask guard.
#pragma once

#include <prockit/sys/result.hpp>

#include <csignal>
#include <initializer_list>
#include <string>
#include <string_view>

namespace prockit {

/// "TERM" for SIGTERM, "RTMIN+3" for real-time signals, "" when `sig` is not a signal.
std::string signal_name(int sig);
/// Parses "TERM", "SIGTERM", "term", "15", "RTMIN+2", "SIGRTMAX-1". Unknown names are
/// Errc::not_found, malformed text Errc::parse_error.
Result<int> parse_signal(std::string_view text);

/// Blocks a set of signals in the calling thread for its lifetime and restores the previous mask.
class SignalMaskGuard {
public:
    /// Blocks every signal that can be blocked.
    SignalMaskGuard();
    explicit SignalMaskGuard(const sigset_t& block);
    SignalMaskGuard(std::initializer_list<int> signals);
    ~SignalMaskGuard();
    SignalMaskGuard(const SignalMaskGuard&) = delete;
    SignalMaskGuard& operator=(const SignalMaskGuard&) = delete;

    /// The mask that was in force before the guard.
    const sigset_t& previous() const noexcept { return old_; }

private:
    sigset_t old_{};
};

}  // namespace prockit
