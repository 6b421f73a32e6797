// prockit/supervise/restart_policy.hpp — running a job again: retries (a failed attempt is run
// again, up to N attempts in all) and restarts of a service (after it ended, with a delay that
// doubles up to a cap and resets after a long run, at most `limit` restarts per `window`).
#pragma once

#include <chrono>
#include <deque>
#include <optional>

namespace prockit {

/// Attempts per job: 1 = no retry, 0 = without end.
struct RetryPolicy {
    unsigned attempts = 1;
    bool should_retry(bool ok, unsigned attempts_made) const noexcept {
        return !ok && (attempts == 0 || attempts_made < attempts);
    }
};

struct RestartPolicy {
    enum class Mode { no, on_failure, always } mode = Mode::no;
    std::chrono::nanoseconds delay = std::chrono::seconds(1);       ///< the first delay
    std::chrono::nanoseconds max_delay = std::chrono::seconds(60);  ///< the doubling stops here
    std::chrono::nanoseconds long_run = std::chrono::seconds(10);   ///< a run this long resets the delay
    unsigned limit = 5;                                              ///< restarts per window
    std::chrono::nanoseconds window = std::chrono::seconds(60);
};

/// Decides, each time the job ends, whether and after how long it is started again.
class RestartTracker {
public:
    using Clock = std::chrono::steady_clock;
    enum class Verdict { restart, not_wanted, limit_reached };
    struct Decision {
        Verdict verdict;
        std::chrono::nanoseconds delay{0};  ///< for restart
    };

    explicit RestartTracker(RestartPolicy p = {}) : policy_(p) {}
    /// The job ended at `now` after running `runtime`; `ok` = it succeeded.
    Decision on_end(bool ok, std::chrono::nanoseconds runtime, Clock::time_point now);

    const RestartPolicy& policy() const noexcept { return policy_; }
    std::size_t restarts_in_window() const noexcept { return restarts_.size(); }

private:
    RestartPolicy policy_;
    std::deque<Clock::time_point> restarts_;
    std::chrono::nanoseconds backoff_{0};
};

}  // namespace prockit
