#include <prockit/security/capability_spec.hpp>

#include <prockit/sys/error.hpp>

#include <string>

namespace prockit {

Result<CapabilitySet> capabilities_to_keep(CapabilityChange change, std::string_view text) {
    auto set = CapabilitySet::parse(text);
    if (!set) {
        // CapabilitySet::parse names the one word it did not know: say it in the terms of the
        // whole text, with what would be accepted.
        const std::string& ctx = set.error().context();
        auto q = ctx.find('"');
        std::string word = q == std::string::npos ? std::string() : ctx.substr(q);
        std::string why = set.error().code() == make_error_code(Errc::not_found)
                              ? "unknown capability " + word + " (a name from capabilities(7), such as net_raw or cap_net_raw, or all)"
                              : "expected all, or a comma-separated list of capability names";
        return fail(Error(set.error().code(), "parse capabilities \"" + std::string(text) + "\": " + why));
    }
    if (change == CapabilityChange::keep) return *set;
    auto bounding = CapabilitySet::current_bounding();
    if (!bounding) return fail(bounding.error());
    return *bounding - *set;
}

}  // namespace prockit
