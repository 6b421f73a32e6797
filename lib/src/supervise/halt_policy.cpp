#include <prockit/supervise/halt_policy.hpp>

#include <algorithm>

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
    if (h.why == HaltPolicy::Why::success)
        d.exit_code = 0;
    else if (h.when == HaltPolicy::When::now && h.why == HaltPolicy::Why::fail)
        d.exit_code = shell_code == 0 ? 1 : shell_code;
    else
        d.exit_code = static_cast<int>(std::min<std::uint64_t>(failed_, 101));
    return d;
}

}  // namespace prockit
