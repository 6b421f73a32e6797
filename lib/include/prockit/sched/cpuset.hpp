// prockit/sched/cpuset.hpp — a dynamically sized CPU set (no 1024-CPU ceiling), laid out as the
// kernel's sched_setaffinity mask: an array of unsigned longs, CPU n at bit n % 64 of word n / 64.
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

    /// Number of CPUs in the set.
    std::size_t count() const;
    bool empty() const { return count() == 0; }
    /// The CPUs in ascending order.
    std::vector<unsigned> cpus() const;
    /// One past the highest CPU in the set (0 when empty).
    unsigned end() const;

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

private:
    std::vector<word_type> words_;
};

}  // namespace prockit
