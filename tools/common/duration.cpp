#include "duration.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace prockit::tools {

Result<Duration> parse_duration(std::string_view text) {
    auto bad = [&](const char* why) {
        return fail(Error(make_error_code(Errc::parse_error), "parse duration \"" + std::string(text) + "\": " + why));
    };
    if (text.empty()) return bad("empty");
    long double total = 0;
    std::size_t i = 0, parts = 0;
    while (i < text.size()) {
        std::size_t start = i;
        while (i < text.size() && ((text[i] >= '0' && text[i] <= '9') || text[i] == '.')) ++i;
        if (i == start) return bad("expected a number");
        std::string num(text.substr(start, i - start));
        char* end = nullptr;
        long double v = std::strtold(num.c_str(), &end);
        if (!end || *end != '\0' || !std::isfinite(v)) return bad("expected a number");
        std::size_t ustart = i;
        while (i < text.size() && ((text[i] >= 'a' && text[i] <= 'z') || (text[i] >= 'A' && text[i] <= 'Z'))) ++i;
        std::string_view unit = text.substr(ustart, i - ustart);
        long double scale;
        if (unit.empty() || unit == "s" || unit == "sec") scale = 1e9L;
        else if (unit == "ms") scale = 1e6L;
        else if (unit == "us") scale = 1e3L;
        else if (unit == "ns") scale = 1.0L;
        else if (unit == "m" || unit == "min") scale = 60e9L;
        else if (unit == "h") scale = 3600e9L;
        else if (unit == "d") scale = 86400e9L;
        else return bad("unknown unit (use ns, us, ms, s, m, h or d)");
        total += v * scale;
        ++parts;
        if (unit.empty() && (parts > 1 || i < text.size())) return bad("a number without a unit must stand alone");
    }
    if (total > 9.2e18L) return bad("too long");
    return Duration(static_cast<long long>(total + 0.5L));  // total >= 0: rounds half up, no libm
}

std::string format_duration(Duration d) {
    long long ns = d.count();
    char buf[64];
    if (ns % 1000000000LL == 0) {
        long long s = ns / 1000000000LL;
        if (s != 0 && s % 3600 == 0) std::snprintf(buf, sizeof buf, "%lldh", s / 3600);
        else if (s != 0 && s % 60 == 0) std::snprintf(buf, sizeof buf, "%lldm", s / 60);
        else std::snprintf(buf, sizeof buf, "%llds", s);
    } else if (ns % 1000000LL == 0) {
        std::snprintf(buf, sizeof buf, "%lldms", ns / 1000000LL);
    } else {
        std::snprintf(buf, sizeof buf, "%.6gs", static_cast<double>(ns) / 1e9);
        // %g writes an exponent ("1e-09s") for the smallest and largest values, which
        // parse_duration() does not read: those are written exactly in a smaller unit.
        if (std::string_view(buf).find('e') != std::string_view::npos) {
            if (ns % 1000 == 0) std::snprintf(buf, sizeof buf, "%lldus", ns / 1000);
            else std::snprintf(buf, sizeof buf, "%lldns", ns);
        }
    }
    return buf;
}

}  // namespace prockit::tools
