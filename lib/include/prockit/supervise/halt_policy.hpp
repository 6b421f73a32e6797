// prockit/supervise/halt_policy.hpp — when a pool of jobs stops early (GNU parallel's --halt):
// never, or soon (start nothing more, let the running jobs end) or now (end them) once a count
// or a share of the jobs failed, succeeded or were done.
#pragma once

#include <cstdint>
#include <optional>

namespace prockit {

struct HaltPolicy {
    enum class When { never, soon, now } when = When::never;
    enum class Why { fail, success, done } why = Why::fail;
    double value = 0;      ///< a count, or a percentage when `percent`
    bool percent = false;  ///< of the total when known, else of the jobs done so far
};

/// Counts outcomes and says when the policy is met (once).
class HaltTracker {
public:
    struct Decision {
        bool now;       ///< end the running jobs (else only start nothing more)
        /// The pool's exit status, GNU parallel's rule: success=N gives 0; fail=1 and done=1 give
        /// the deciding job's own status (a failure whose $? is 0, a timeout, gives 1); a share
        /// (N%) gives the share of failed jobs in percent, rounded up; any other count gives the
        /// number of failed jobs (at most 101).
        int exit_code;
    };

    explicit HaltTracker(HaltPolicy p = {}) : policy_(p) {}
    /// The total number of jobs, when known (for percentages).
    void set_total(std::optional<std::uint64_t> total) { total_ = total; }

    /// Records one finished job; `shell_code` is its $? (used by now,fail). Returns the decision
    /// the first time the policy is met.
    std::optional<Decision> record(bool ok, int shell_code);

    std::uint64_t done() const noexcept { return done_; }
    std::uint64_t failed() const noexcept { return failed_; }
    std::uint64_t succeeded() const noexcept { return succeeded_; }
    bool halted() const noexcept { return halted_; }
    const HaltPolicy& policy() const noexcept { return policy_; }

private:
    HaltPolicy policy_;
    std::optional<std::uint64_t> total_;
    std::uint64_t done_ = 0, failed_ = 0, succeeded_ = 0;
    bool halted_ = false;
};

}  // namespace prockit
