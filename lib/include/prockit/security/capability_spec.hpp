// prockit/security/capability_spec.hpp — what a child keeps of its capabilities, from the text
// of a --drop-caps or --keep-caps option:
//
//   auto keep = prockit::capabilities_to_keep(prockit::CapabilityChange::drop, "net_raw,sys_admin");
//   prockit::Command("server").keep_capabilities(keep.value());
//
// The text is CapabilitySet::parse's ("all", or a comma-separated list of names). Dropping keeps
// the caller's bounding set minus the list; keeping keeps exactly the list.
#pragma once

#include <prockit/security/capabilities.hpp>
#include <prockit/sys/result.hpp>

#include <string_view>

namespace prockit {

enum class CapabilityChange { drop, keep };

/// The set a child keeps. Errors: Errc::not_found for an unknown name, Errc::parse_error for a
/// malformed list (context `parse capabilities "<text>": <what is wrong>`), or the errno of
/// reading the bounding set.
Result<CapabilitySet> capabilities_to_keep(CapabilityChange change, std::string_view text);

}  // namespace prockit
