#include <prockit/supervise/restart_policy.hpp>

#include <algorithm>

namespace prockit {

RestartTracker::Decision RestartTracker::on_end(bool ok, std::chrono::nanoseconds runtime, Clock::time_point now) {
    const auto& p = policy_;
    if (p.mode == RestartPolicy::Mode::no || (p.mode == RestartPolicy::Mode::on_failure && ok))
        return {Verdict::not_wanted, {}};
    while (!restarts_.empty() && now - restarts_.front() > p.window) restarts_.pop_front();
    if (restarts_.size() >= p.limit) return {Verdict::limit_reached, {}};
    bool long_run = runtime >= p.long_run;
    backoff_ = (long_run || backoff_.count() == 0) ? p.delay : std::min(backoff_ * 2, std::max(p.max_delay, p.delay));
    restarts_.push_back(now);
    return {Verdict::restart, backoff_};
}

}  // namespace prockit
