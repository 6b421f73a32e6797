// tools/common/duration.hpp — durations on the command line: a number with an optional unit,
// "1.5s", "250ms", "2m", "1h", "10us", "3d"; a bare number is seconds ("0.5" = 500 ms).
// Several parts add up: "1m30s". Negative, empty or unknown-unit texts are errors.
#pragma once

#include <prockit/sys/result.hpp>

#include <chrono>
#include <string>
#include <string_view>

namespace prockit::tools {

using Duration = std::chrono::nanoseconds;

/// Parses a duration; errors are Errc::parse_error with the context `parse duration "x"`.
Result<Duration> parse_duration(std::string_view text);
/// "1.5s", "250ms", "2m" — a compact human form.
std::string format_duration(Duration d);

}  // namespace prockit::tools
