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

#include <string>
#include <vector>

namespace prockit {

/// Builds the filter. Errors: an unknown profile is Errc::not_found with the context
/// `use seccomp profile "x": expected one of no-network, ... or a rules file path with '/'`; a
/// rules file's errors are SeccompFilter::add_rules_file's (they name the file and line).
Result<SeccompFilter> parse_seccomp_spec(const std::vector<std::string>& items);

}  // namespace prockit
