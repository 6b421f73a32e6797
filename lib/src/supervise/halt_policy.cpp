#include <prockit/supervise/halt_policy.hpp>

#include <algorithm>
#include <cmath>

namespace prockit {

std::optional<HaltTracker::Decision> HaltTracker::record(bool ok, int shell_code) {
    ++done_;
    if (ok)
        ++succeeded_;
    else
        ++failed_;
    const auto& h = policy_;
    if (h.when == HaltPolicy::When::never || halted_) return std::nullopt;
    double count = h.why == HaltPolicy::Why::fail      ? static_cast<double>(failed_)
                   : h.why == HaltPolicy::Why::success ? static_cast<double>(succeeded_)
                                                       : static_cast<double>(done_);
    bool relevant = h.why == HaltPolicy::Why::done || (h.why == HaltPolicy::Why::fail ? !ok : ok);
    double base = total_ ? static_cast<double>(*total_) : static_cast<double>(done_);
    bool hit = relevant && (h.percent ? count * 100.0 >= h.value * base : count >= h.value);
    if (!hit) return std::nullopt;
    halted_ = true;
    Decision d{h.when == HaltPolicy::When::now, 0};
    if (h.why == HaltPolicy::Why::success) {
        d.exit_code = 0;
    } else if (h.percent) {
        // The failed share of the jobs, in percent, rounded up (so any failure counts): 3 of 10
        // failed is 30, 4 of 11 is 37.
        d.exit_code = static_cast<int>(std::min(100.0, base > 0 ? std::ceil(static_cast<double>(failed_) * 100.0 / base - 1e-9) : 0.0));
    } else if (h.value == 1) {
        d.exit_code = h.why == HaltPolicy::Why::fail && shell_code == 0 ? 1 : shell_code;
    } else {
        d.exit_code = static_cast<int>(std::min<std::uint64_t>(failed_, 101));
    }
    return d;
}

}  // namespace prockit
