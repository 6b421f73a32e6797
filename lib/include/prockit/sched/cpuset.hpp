// prockit/sched/cpuset.hpp — a dynamically sized CPU set (no 1024-CPU ceiling), laid out as the
// kernel's sched_setaffinity mask: an array of unsigned longs, CPU n at bit n % 64 of word n / 64.
//
// Text forms (see docs/paffinity.md, "CPU lists"):
//
//   list    := item ("," item)*            "0-3,8,10-20:2"     "all,^0"     "^0-1"
//   item    := ["^"] ( range | "all" )
//   range   := N | N "-" M | N "-" M ":" S  (S: stride, as util-linux's cpulist syntax)
//   mask    := ["0x"] HEX                   "0x3"  "ff00"
//            | ["0x"] HEX{1,8} ("," HEX{8})+   the kernel's 32-bit groups: "ff,00000000"
//
// A list is the union of its plain items minus the union of its "^" items, in any order. A list
// made only of "^" items starts from "all". "all" means the set the caller passes in (the CLI passes
// the online CPUs); parsing "all" without it is an error. Blanks around the text are ignored (so
// sysfs files parse directly); an empty text is the empty set.
#pragma once

#include <prockit/sys/result.hpp>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace prockit {

class CpuSet {
public:
    using word_type = unsigned long;
    static constexpr std::size_t bits_per_word = sizeof(word_type) * 8;
    /// CPU numbers the parsers accept are below this (the kernel's NR_CPUS tops out at 8192).
    static constexpr unsigned parse_limit = 65536;

    CpuSet() = default;
    CpuSet(std::initializer_list<unsigned> cpus) {
        for (unsigned c : cpus) set(c);
    }

    void set(unsigned cpu) {
        std::size_t w = cpu / bits_per_word;
        if (w >= words_.size()) words_.resize(w + 1, 0);
        words_[w] |= word_type{1} << (cpu % bits_per_word);
    }
    void reset(unsigned cpu) {
        std::size_t w = cpu / bits_per_word;
        if (w < words_.size()) words_[w] &= ~(word_type{1} << (cpu % bits_per_word));
    }
    bool test(unsigned cpu) const {
        std::size_t w = cpu / bits_per_word;
        return w < words_.size() && (words_[w] >> (cpu % bits_per_word)) & 1;
    }
    void clear() { words_.clear(); }
    /// Sets first, first+stride, ... up to and including last.
    void set_range(unsigned first, unsigned last, unsigned stride = 1);

    /// Number of CPUs in the set.
    std::size_t count() const;
    bool empty() const { return count() == 0; }
    /// The CPUs in ascending order.
    std::vector<unsigned> cpus() const;
    /// One past the highest CPU in the set (0 when empty).
    unsigned end() const;
    /// The lowest CPU in the set; end() when empty.
    unsigned first() const;
    /// True when every CPU of this set is in `o`.
    bool subset_of(const CpuSet& o) const;

    /// The mask words, sized to hold the highest CPU ever set.
    const std::vector<word_type>& words() const { return words_; }
    std::vector<word_type>& words() { return words_; }
    /// Size in bytes of the mask, as sched_setaffinity wants it.
    std::size_t byte_size() const { return words_.size() * sizeof(word_type); }

    CpuSet& operator|=(const CpuSet& o);
    CpuSet& operator&=(const CpuSet& o);
    CpuSet& operator-=(const CpuSet& o);  ///< removes o's CPUs
    friend CpuSet operator|(CpuSet a, const CpuSet& b) { return a |= b; }
    friend CpuSet operator&(CpuSet a, const CpuSet& b) { return a &= b; }
    friend CpuSet operator-(CpuSet a, const CpuSet& b) { return a -= b; }
    friend bool operator==(const CpuSet& a, const CpuSet& b);

    // --- text forms -------------------------------------------------------------------------

    /// Parses a CPU list (grammar above). Errors are Errc::parse_error (or Errc::out_of_range for a
    /// CPU at or past parse_limit) whose context names the text and the 1-based character where
    /// the problem is: `parse CPU list "0-x": expected a CPU number at character 3`.
    static Result<CpuSet> parse_list(std::string_view text, const CpuSet& all = {});
    /// Parses a hexadecimal mask (grammar above).
    static Result<CpuSet> parse_mask(std::string_view text);
    /// A mask when the text starts with "0x" or "0X", a list otherwise.
    static Result<CpuSet> parse(std::string_view text, const CpuSet& all = {});

    /// The shortest list of singles and ranges: "0-3,8,10", with two consecutive CPUs written
    /// "4,5" (as util-linux does; the same length as "4-5"). "" when empty. Kernel-parseable.
    std::string to_list() const;
    /// Like to_list() but may also use strides ("0-62:2") where that is shorter. Not
    /// kernel-parseable; util-linux's tools and parse_list() read it.
    std::string to_list_strides() const;
    /// Hex without "0x" or leading zeros, as taskset prints it: "3", "ff00"; "0" when empty.
    std::string to_mask() const;
    /// The kernel's form: 32-bit groups of 8 hex digits, comma-separated, as many groups as
    /// max(nbits, end()) needs, the first one trimmed to its width ("3", "ffffffff,ffffffff").
    std::string to_kernel_mask(unsigned nbits = 0) const;

private:
    std::vector<word_type> words_;
};

}  // namespace prockit
