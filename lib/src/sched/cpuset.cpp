#include <prockit/sched/cpuset.hpp>

#include <algorithm>
#include <bit>

namespace prockit {

std::size_t CpuSet::count() const {
    std::size_t n = 0;
    for (word_type w : words_) n += static_cast<std::size_t>(std::popcount(w));
    return n;
}

std::vector<unsigned> CpuSet::cpus() const {
    std::vector<unsigned> out;
    for (std::size_t i = 0; i < words_.size(); ++i) {
        word_type w = words_[i];
        while (w) {
            unsigned bit = static_cast<unsigned>(std::countr_zero(w));
            out.push_back(static_cast<unsigned>(i * bits_per_word + bit));
            w &= w - 1;
        }
    }
    return out;
}

unsigned CpuSet::end() const {
    for (std::size_t i = words_.size(); i-- > 0;)
        if (words_[i])
            return static_cast<unsigned>(i * bits_per_word + bits_per_word -
                                         static_cast<unsigned>(std::countl_zero(words_[i])));
    return 0;
}

CpuSet& CpuSet::operator|=(const CpuSet& o) {
    if (o.words_.size() > words_.size()) words_.resize(o.words_.size(), 0);
    for (std::size_t i = 0; i < o.words_.size(); ++i) words_[i] |= o.words_[i];
    return *this;
}

CpuSet& CpuSet::operator&=(const CpuSet& o) {
    for (std::size_t i = 0; i < words_.size(); ++i) words_[i] &= i < o.words_.size() ? o.words_[i] : 0;
    return *this;
}

CpuSet& CpuSet::operator-=(const CpuSet& o) {
    for (std::size_t i = 0; i < std::min(words_.size(), o.words_.size()); ++i) words_[i] &= ~o.words_[i];
    return *this;
}

bool operator==(const CpuSet& a, const CpuSet& b) {
    const auto& x = a.words_.size() >= b.words_.size() ? a.words_ : b.words_;
    const auto& y = a.words_.size() >= b.words_.size() ? b.words_ : a.words_;
    for (std::size_t i = 0; i < x.size(); ++i)
        if (x[i] != (i < y.size() ? y[i] : 0)) return false;
    return true;
}

}  // namespace prockit
