// Fuzz target: CPU lists and masks (CpuSet::parse, parse_list, parse_mask). Properties: every set
// that parses formats into each text form (to_list, to_list_strides, to_mask, to_kernel_mask),
// and each of those parses back to the same set.
#include "fuzz.hpp"

#include <prockit/sched/cpuset.hpp>

using prockit::CpuSet;

namespace {

void round_trip(const CpuSet& s, const std::string& text, bool mask) {
    auto back = mask ? CpuSet::parse_mask(text) : CpuSet::parse_list(text);
    FUZZ_CHECK(back.has_value(), "\"" + text + "\" does not parse back");
    FUZZ_CHECK(*back == s, "\"" + text + "\" parses back to \"" + back->to_list() + "\"");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    prockit::fuzz::Input in(data, size);
    const std::uint8_t mode = in.byte();
    CpuSet all;
    all.set_range(0, mode & 0x7f);  // "all": 1 to 128 online CPUs
    const std::string_view text = in.rest();
    auto r = (mode & 0x80) ? CpuSet::parse_mask(text) : CpuSet::parse(text, all);
    if (!r) return 0;
    const CpuSet& s = *r;
    FUZZ_CHECK(s.end() <= CpuSet::parse_limit, std::to_string(s.end()));
    round_trip(s, s.to_list(), false);
    round_trip(s, s.to_list_strides(), false);
    round_trip(s, s.to_mask(), true);
    round_trip(s, s.to_kernel_mask(), true);
    FUZZ_CHECK(s.count() == s.cpus().size(), s.to_list());
    return 0;
}
