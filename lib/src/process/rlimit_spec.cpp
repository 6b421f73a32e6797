#include <prockit/process/rlimit_spec.hpp>

#include <prockit/sys/error.hpp>

#include <cctype>
#include <charconv>
#include <climits>

namespace prockit {
namespace {

struct RlimitName {
    const char* name;
    int resource;
};
constexpr RlimitName kRlimits[] = {
    {"as", RLIMIT_AS},           {"core", RLIMIT_CORE},         {"cpu", RLIMIT_CPU},
    {"data", RLIMIT_DATA},       {"fsize", RLIMIT_FSIZE},       {"locks", RLIMIT_LOCKS},
    {"memlock", RLIMIT_MEMLOCK}, {"msgqueue", RLIMIT_MSGQUEUE}, {"nice", RLIMIT_NICE},
    {"nofile", RLIMIT_NOFILE},   {"nproc", RLIMIT_NPROC},       {"rss", RLIMIT_RSS},
    {"rtprio", RLIMIT_RTPRIO},   {"rttime", RLIMIT_RTTIME},     {"sigpending", RLIMIT_SIGPENDING},
    {"stack", RLIMIT_STACK},
};

std::optional<rlim_t> limit_value(std::string_view t) {
    if (t == "unlimited" || t == "infinity") return RLIM_INFINITY;
    rlim_t mult = 1;
    if (!t.empty()) {
        char last = t.back();
        if (last == 'k' || last == 'K') mult = 1024;
        if (last == 'm' || last == 'M') mult = 1024 * 1024;
        if (last == 'g' || last == 'G') mult = 1024ULL * 1024 * 1024;
        if (mult != 1) t.remove_suffix(1);
    }
    unsigned long long v = 0;
    auto r = std::from_chars(t.data(), t.data() + t.size(), v);
    if (t.empty() || r.ec != std::errc() || r.ptr != t.data() + t.size()) return std::nullopt;
    if (v > ULLONG_MAX / mult || v * mult >= RLIM_INFINITY) return std::nullopt;
    return static_cast<rlim_t>(v * mult);
}

bool above(rlim_t soft, rlim_t hard) { return hard != RLIM_INFINITY && (soft == RLIM_INFINITY || soft > hard); }

}  // namespace

rlim_t RlimitSpec::hard_or_current() const {
    if (hard) return *hard;
    struct rlimit cur {};
    if (getrlimit(static_cast<__rlimit_resource>(resource), &cur) != 0) return soft;
    return above(soft, cur.rlim_max) ? soft : cur.rlim_max;
}

Result<RlimitSpec> parse_rlimit_spec(std::string_view text) {
    auto bad = [&](Errc code, const std::string& why) {
        return fail(Error(make_error_code(code), "parse resource limit \"" + std::string(text) + "\": " + why));
    };
    auto eq = text.find('=');
    if (eq == std::string_view::npos) return bad(Errc::parse_error, "expected RESOURCE=SOFT[:HARD]");
    std::string name(text.substr(0, eq));
    for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (name.rfind("rlimit_", 0) == 0) name.erase(0, 7);
    RlimitSpec spec;
    for (const auto& r : kRlimits)
        if (name == r.name) spec.resource = r.resource;
    if (spec.resource < 0) {
        std::string names;
        for (const auto& r : kRlimits) names += (names.empty() ? "" : ", ") + std::string(r.name);
        return bad(Errc::not_found, "unknown resource \"" + std::string(text.substr(0, eq)) + "\" (" + names + ")");
    }
    std::string_view vals = text.substr(eq + 1);
    auto colon = vals.find(':');
    auto soft = limit_value(vals.substr(0, colon));
    if (!soft) return bad(Errc::parse_error, "expected a number, a number with K, M or G, or unlimited");
    spec.soft = *soft;
    if (colon != std::string_view::npos) {
        auto hard = limit_value(vals.substr(colon + 1));
        if (!hard) return bad(Errc::parse_error, "expected a number, a number with K, M or G, or unlimited");
        if (above(*soft, *hard)) return bad(Errc::parse_error, "the soft limit is above the hard limit");
        spec.hard = *hard;
    }
    return spec;
}

std::vector<std::string> rlimit_names() {
    std::vector<std::string> v;
    for (const auto& r : kRlimits) v.emplace_back(r.name);
    return v;
}

}  // namespace prockit
