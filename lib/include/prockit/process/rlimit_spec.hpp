// prockit/process/rlimit_spec.hpp — resource limits written as text, as command lines give them:
//
//   auto l = prockit::parse_rlimit_spec("nofile=1024:2048").value();   // RLIMIT_NOFILE, 1024, 2048
//   prockit::Command("server").rlimit(l.resource, l.soft, l.hard_or_current());
//
// Form: RESOURCE=SOFT[:HARD]. RESOURCE is a name from setrlimit(2) without its RLIMIT_ prefix, in
// any case, prefix allowed ("nofile", "RLIMIT_NOFILE"). A value is a decimal number with an
// optional K, M or G (powers of 1024), or "unlimited"/"infinity". Without HARD the hard limit
// stays as it is, unless SOFT is above it (then both are SOFT).
#pragma once

#include <prockit/sys/result.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <sys/resource.h>
#include <vector>

namespace prockit {

struct RlimitSpec {
    int resource = -1;              ///< RLIMIT_*
    rlim_t soft = 0;
    std::optional<rlim_t> hard;     ///< not given: keep the current hard limit

    /// The hard limit to set: `hard`, or the calling process's current hard limit raised to
    /// `soft` when that is above it.
    rlim_t hard_or_current() const;
};

/// Parses RESOURCE=SOFT[:HARD]. Errors are Errc::parse_error (Errc::not_found for an unknown
/// resource) with the context `parse resource limit "<text>": <what is wrong>`.
Result<RlimitSpec> parse_rlimit_spec(std::string_view text);

/// The resource names parse_rlimit_spec() knows, in alphabetical order ("as", "core", ...).
std::vector<std::string> rlimit_names();

}  // namespace prockit
