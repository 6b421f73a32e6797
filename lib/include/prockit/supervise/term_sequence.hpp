// prockit/supervise/term_sequence.hpp — how a supervised job is ended: signals sent to its whole
// tree in turn, each followed by a wait (e.g. TERM, 200 ms, KILL). The Supervisor continues the tree
// (SIGCONT) after each signal but KILL and the stop signals, so a stopped job acts on it at once.
#pragma once

#include <chrono>
#include <csignal>
#include <vector>

namespace prockit {

struct TermStep {
    int sig;
    std::chrono::nanoseconds wait;  ///< before the next step
};

using TermSequence = std::vector<TermStep>;

/// TERM, `grace`, KILL: the default.
inline TermSequence term_then_kill(std::chrono::nanoseconds grace) {
    return {{SIGTERM, grace}, {SIGKILL, std::chrono::nanoseconds::zero()}};
}

}  // namespace prockit
