// prockit/security/seccomp_spec.hpp — a seccomp filter from the text of --seccomp options:
//
//   auto f = prockit::parse_seccomp_spec({"no-network,no-ptrace", "/etc/app/rules"}).value();
//   prockit::Command("server").seccomp(f.compile().value());
//
// Each item is a comma-separated list; each element is a built-in profile name
// (SeccompFilter::profile_names()) or, when it contains a '/', a rules file (SeccompFilter's
// rules format). All of them go into one filter, in order.
#pragma once

#include <prockit/security/seccomp.hpp>
#include <prockit/sys/result.hpp>

#include <cstddef>
#include <string>
#include <vector>

namespace prockit {

/// Builds the filter. Errors: an unknown profile is Errc::not_found with the context
/// `use seccomp profile "x": expected one of no-network, ... or a rules file path with '/'`; a
/// rules file that cannot be read is its errno with the context `read seccomp rules "<path>"`;
/// one larger than max_seccomp_rules_bytes is Errc::parse_error (`read seccomp rules "<path>":
/// larger than 16 MiB`); a malformed one has SeccompFilter::add_rules_text's errors (they name
/// the file and line).
Result<SeccompFilter> parse_seccomp_spec(const std::vector<std::string>& items);

/// A rules file is read whole, so it must fit in memory: 16 MiB (far more than any real filter).
inline constexpr std::size_t max_seccomp_rules_bytes = std::size_t{16} << 20;

}  // namespace prockit
