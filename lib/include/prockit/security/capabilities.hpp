// prockit/security/capabilities.hpp — Linux capability sets by name (libcap's names), and what a
// spawned child keeps of them.
//
//   auto drop = prockit::CapabilitySet::parse("net_raw,sys_admin").value();
//   prockit::Command("ping").keep_capabilities(prockit::CapabilitySet::current_bounding().value() - drop);
//
// Names are accepted with or without the "cap_" prefix, in any case ("NET_RAW", "cap_net_raw");
// "all" means every capability this kernel knows (0..CAP_LAST_CAP).
#pragma once

#include <prockit/sys/result.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace prockit {

class CapabilitySet {
public:
    CapabilitySet() = default;
    static CapabilitySet from_bits(std::uint64_t bits) {
        CapabilitySet s;
        s.bits_ = bits;
        return s;
    }
    /// Every capability the running kernel knows.
    static CapabilitySet all();
    /// The calling thread's bounding set (read with PR_CAPBSET_READ).
    static Result<CapabilitySet> current_bounding();
    /// The calling process's permitted set.
    static Result<CapabilitySet> current_permitted();

    /// "all", or a comma-separated list of names. Unknown names are Errc::not_found with the
    /// context `parse capability "frob"`.
    static Result<CapabilitySet> parse(std::string_view text);

    void set(int cap) { bits_ |= std::uint64_t{1} << cap; }
    void reset(int cap) { bits_ &= ~(std::uint64_t{1} << cap); }
    bool test(int cap) const { return cap >= 0 && cap < 64 && ((bits_ >> cap) & 1); }
    bool empty() const { return bits_ == 0; }
    std::uint64_t bits() const { return bits_; }
    /// The capability numbers in ascending order.
    std::vector<int> caps() const;
    /// "cap_net_raw,cap_sys_admin" ("" when empty).
    std::string to_string() const;

    CapabilitySet& operator|=(CapabilitySet o) { bits_ |= o.bits_; return *this; }
    CapabilitySet& operator&=(CapabilitySet o) { bits_ &= o.bits_; return *this; }
    CapabilitySet& operator-=(CapabilitySet o) { bits_ &= ~o.bits_; return *this; }
    friend CapabilitySet operator|(CapabilitySet a, CapabilitySet b) { return a |= b; }
    friend CapabilitySet operator&(CapabilitySet a, CapabilitySet b) { return a &= b; }
    friend CapabilitySet operator-(CapabilitySet a, CapabilitySet b) { return a -= b; }
    friend bool operator==(CapabilitySet a, CapabilitySet b) { return a.bits_ == b.bits_; }

private:
    std::uint64_t bits_ = 0;
};

/// The highest capability number the kernel knows (/proc/sys/kernel/cap_last_cap).
int last_capability();
/// A capability number by name ("net_raw", "CAP_NET_RAW"), or Errc::not_found.
Result<int> parse_capability(std::string_view name);
/// "cap_net_raw"; "cap_N" for numbers libcap has no name for.
std::string capability_name(int cap);

}  // namespace prockit
