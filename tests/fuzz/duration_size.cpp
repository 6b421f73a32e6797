// Fuzz target: durations (tools/common parse_duration) and sizes (prun's --block, parse_size),
// and prun's -d delimiter escapes (parse_delimiter). Properties: a duration that parses is not
// negative and format_duration() of it parses back to the same value (to the 6 significant
// digits the format keeps); a size is within 1 byte .. 2 GiB - 1.
#include "fuzz.hpp"

#include "common/cli.hpp"
#include "common/duration.hpp"
#include "prun_cli.hpp"

#include <cmath>

using namespace prockit;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::Input in(data, size);
    const std::uint8_t which = in.byte() % 3;
    const std::string text(in.rest());
    if (which == 0) {
        auto d = tools::parse_duration(text);
        if (!d) return 0;
        FUZZ_CHECK(d->count() >= 0, text);
        std::string f = tools::format_duration(*d);
        auto back = tools::parse_duration(f);
        FUZZ_CHECK(back.has_value(), text + " -> " + f);
        const double a = static_cast<double>(d->count()), b = static_cast<double>(back->count());
        FUZZ_CHECK(std::fabs(a - b) <= a * 1e-5 + 1, text + " -> " + f + " -> " + std::to_string(back->count()));
    } else if (which == 1) {
        try {
            std::size_t n = prun::parse_size(text);
            FUZZ_CHECK(n >= 1 && n <= 2147483647u, text + " -> " + std::to_string(n));
        } catch (const tools::UsageError&) {
        }
    } else {
        try {
            char c = prun::parse_delimiter(text);
            FUZZ_CHECK(text.size() == 1 ? c == text[0] : text[0] == '\\', text);
        } catch (const tools::UsageError&) {
        }
    }
    return 0;
}
