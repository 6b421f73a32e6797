#include <prockit/sched/cpuset.hpp>

#include <algorithm>
#include <bit>
#include <limits>

namespace prockit {

void CpuSet::set_range(unsigned first, unsigned last, unsigned stride) {
    if (stride == 0 || last < first) return;
    if (stride == 1) {
        std::size_t need = last / bits_per_word + 1;
        if (need > words_.size()) words_.resize(need, 0);
        for (unsigned c = first; c <= last;) {
            std::size_t w = c / bits_per_word;
            unsigned lo = c % bits_per_word;
            unsigned hi = (w == last / bits_per_word) ? last % bits_per_word : bits_per_word - 1;
            word_type bits = (hi - lo + 1 == bits_per_word) ? ~word_type{0}
                                                             : ((word_type{1} << (hi - lo + 1)) - 1) << lo;
            words_[w] |= bits;
            unsigned next = static_cast<unsigned>((w + 1) * bits_per_word);
            if (next <= c) break;  // wrapped
            c = next;
        }
        return;
    }
    for (unsigned long c = first; c <= last; c += stride) set(static_cast<unsigned>(c));
}

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

unsigned CpuSet::first() const {
    for (std::size_t i = 0; i < words_.size(); ++i)
        if (words_[i]) return static_cast<unsigned>(i * bits_per_word + static_cast<unsigned>(std::countr_zero(words_[i])));
    return 0;
}

bool CpuSet::subset_of(const CpuSet& o) const {
    for (std::size_t i = 0; i < words_.size(); ++i) {
        word_type other = i < o.words_.size() ? o.words_[i] : 0;
        if (words_[i] & ~other) return false;
    }
    return true;
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

// --- parsing ----------------------------------------------------------------------------------

namespace {

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::string_view trim_blanks(std::string_view t, std::size_t& offset) {
    offset = 0;
    while (!t.empty() && is_blank(t.front())) {
        t.remove_prefix(1);
        ++offset;
    }
    while (!t.empty() && is_blank(t.back())) t.remove_suffix(1);
    return t;
}

// A parser over one text; positions in errors are 1-based characters of the original text.
class ListParser {
public:
    ListParser(std::string_view original, std::string_view body, std::size_t offset, const char* what)
        : original_(original), s_(body), offset_(offset), what_(what) {}

    Error error(Errc code, std::size_t pos, const std::string& why) const {
        std::string shown(original_.size() > 64 ? std::string(original_.substr(0, 48)) + "..." : std::string(original_));
        std::string ctx = std::string("parse ") + what_ + " \"" + shown + "\": " + why;
        ctx += " at character " + std::to_string(offset_ + pos + 1);
        return Error(make_error_code(code), std::move(ctx));
    }

    // Reads a decimal CPU number at i; advances i.
    Result<unsigned> number(std::size_t& i) const {
        if (i >= s_.size() || !is_digit(s_[i])) return fail(error(Errc::parse_error, i, "expected a CPU number"));
        std::size_t start = i;
        unsigned long v = 0;
        while (i < s_.size() && is_digit(s_[i])) {
            v = v * 10 + static_cast<unsigned long>(s_[i] - '0');
            if (v >= CpuSet::parse_limit)
                return fail(error(Errc::out_of_range, start,
                                  "CPU number is not below the limit " + std::to_string(CpuSet::parse_limit)));
            ++i;
        }
        return static_cast<unsigned>(v);
    }

    Result<CpuSet> list(const CpuSet& all) const {
        CpuSet plus, minus;
        bool any_plus = false;
        std::size_t i = 0;
        if (s_.empty()) return CpuSet{};
        for (;;) {
            bool exclude = false;
            if (i < s_.size() && s_[i] == '^') {
                exclude = true;
                ++i;
            }
            CpuSet& target = exclude ? minus : plus;
            if (!exclude) any_plus = true;
            if (s_.substr(i, 3) == "all" && (i + 3 == s_.size() || s_[i + 3] == ',')) {
                if (all.empty())
                    return fail(error(Errc::parse_error, i, "\"all\" is not known here"));
                target |= all;
                i += 3;
            } else {
                if (i >= s_.size() || s_[i] == ',')
                    return fail(error(Errc::parse_error, i, exclude ? "expected a CPU number after '^'" : "empty item"));
                auto a = number(i);
                if (!a) return fail(a.error());
                unsigned lo = *a, hi = *a, stride = 1;
                if (i < s_.size() && s_[i] == '-') {
                    ++i;
                    std::size_t hi_pos = i;
                    auto b = number(i);
                    if (!b) return fail(b.error());
                    hi = *b;
                    if (hi < lo) return fail(error(Errc::parse_error, hi_pos, "range ends below its start"));
                    if (i < s_.size() && s_[i] == ':') {
                        ++i;
                        std::size_t st_pos = i;
                        auto st = number(i);
                        if (!st) {
                            if (st.error().code() == Errc::parse_error)
                                return fail(error(Errc::parse_error, st_pos, "expected a stride"));
                            return fail(st.error());
                        }
                        if (*st == 0) return fail(error(Errc::parse_error, st_pos, "stride must be at least 1"));
                        stride = *st;
                    }
                } else if (i < s_.size() && s_[i] == ':') {
                    return fail(error(Errc::parse_error, i, "a stride needs a range (N-M:S)"));
                }
                target.set_range(lo, hi, stride);
            }
            if (i == s_.size()) break;
            if (s_[i] != ',') return fail(error(Errc::parse_error, i, std::string("unexpected '") + s_[i] + "'"));
            ++i;
            if (i == s_.size()) return fail(error(Errc::parse_error, i, "list ends with ','"));
        }
        if (!any_plus) {
            if (all.empty())
                return fail(error(Errc::parse_error, 0, "only exclusions, and \"all\" is not known here"));
            plus = all;
        }
        plus -= minus;
        return plus;
    }

    Result<CpuSet> mask() const {
        std::size_t i = 0;
        if (s_.size() >= 2 && s_[0] == '0' && (s_[1] == 'x' || s_[1] == 'X')) i = 2;
        if (i == s_.size()) return fail(error(Errc::parse_error, i, "expected hexadecimal digits"));
        // Split into groups at commas, checking the kernel's layout when there are commas.
        std::vector<std::pair<std::size_t, std::size_t>> groups;  // [start, end)
        std::size_t start = i;
        for (std::size_t k = i; k <= s_.size(); ++k) {
            if (k == s_.size() || s_[k] == ',') {
                if (k == start) return fail(error(Errc::parse_error, k, "empty group"));
                groups.emplace_back(start, k);
                start = k + 1;
                continue;
            }
            if (hex_value(s_[k]) < 0)
                return fail(error(Errc::parse_error, k, std::string("unexpected '") + s_[k] + "' in a mask"));
        }
        if (groups.size() > 1) {
            if (groups[0].second - groups[0].first > 8)
                return fail(error(Errc::parse_error, groups[0].first, "a group has more than 8 digits"));
            for (std::size_t g = 1; g < groups.size(); ++g)
                if (groups[g].second - groups[g].first != 8)
                    return fail(error(Errc::parse_error, groups[g].first, "a group after a ',' must have 8 digits"));
        }
        // Digits from the least significant end.
        CpuSet out;
        unsigned bit = 0;
        for (std::size_t g = groups.size(); g-- > 0;) {
            for (std::size_t k = groups[g].second; k-- > groups[g].first;) {
                int v = hex_value(s_[k]);
                for (int b = 0; b < 4; ++b, ++bit) {
                    if (!((v >> b) & 1)) continue;
                    if (bit >= CpuSet::parse_limit)
                        return fail(error(Errc::out_of_range, k,
                                          "mask sets a CPU not below the limit " + std::to_string(CpuSet::parse_limit)));
                    out.set(bit);
                }
            }
        }
        return out;
    }

private:
    std::string_view original_, s_;
    std::size_t offset_;
    const char* what_;
};

}  // namespace

Result<CpuSet> CpuSet::parse_list(std::string_view text, const CpuSet& all) {
    std::size_t off;
    std::string_view body = trim_blanks(text, off);
    return ListParser(text, body, off, "CPU list").list(all);
}

Result<CpuSet> CpuSet::parse_mask(std::string_view text) {
    std::size_t off;
    std::string_view body = trim_blanks(text, off);
    return ListParser(text, body, off, "CPU mask").mask();
}

Result<CpuSet> CpuSet::parse(std::string_view text, const CpuSet& all) {
    std::size_t off;
    std::string_view body = trim_blanks(text, off);
    if (body.size() >= 2 && body[0] == '0' && (body[1] == 'x' || body[1] == 'X')) return parse_mask(text);
    return parse_list(text, all);
}

// --- formatting -------------------------------------------------------------------------------

namespace {

std::size_t digits(unsigned v) {
    std::size_t n = 1;
    while (v >= 10) {
        v /= 10;
        ++n;
    }
    return n;
}

// One segment of a list: CPUs c[i..j] with step d.
struct Segment {
    std::size_t i, j;
    unsigned d;
};

void append_segment(std::string& out, const std::vector<unsigned>& c, const Segment& s) {
    auto put = [&](unsigned v) {
        if (!out.empty()) out += ',';
        out += std::to_string(v);
    };
    std::size_t n = s.j - s.i + 1;
    if (n == 1) {
        put(c[s.i]);
    } else if (n == 2) {
        put(c[s.i]);
        put(c[s.j]);
    } else {
        put(c[s.i]);
        out += '-';
        out += std::to_string(c[s.j]);
        if (s.d != 1) {
            out += ':';
            out += std::to_string(s.d);
        }
    }
}

std::size_t segment_cost(const std::vector<unsigned>& c, const Segment& s) {
    std::size_t n = s.j - s.i + 1;
    if (n == 1) return digits(c[s.i]) + 1;
    if (n == 2) return digits(c[s.i]) + digits(c[s.j]) + 2;
    std::size_t cost = digits(c[s.i]) + 1 + digits(c[s.j]) + 1;
    if (s.d != 1) cost += 1 + digits(s.d);
    return cost;
}

}  // namespace

std::string CpuSet::to_list() const {
    std::vector<unsigned> c = cpus();
    std::string out;
    for (std::size_t i = 0; i < c.size();) {
        std::size_t j = i;
        while (j + 1 < c.size() && c[j + 1] == c[j] + 1) ++j;
        append_segment(out, c, {i, j, 1});
        i = j + 1;
    }
    return out;
}

std::string CpuSet::to_list_strides() const {
    // Dynamic programme over the sorted CPUs: best[i] is the cheapest encoding of c[i..]. At each
    // i the candidates are a single CPU, the longest arithmetic run starting at i, and that run
    // one element shorter (which lets the next element start a better run). The run's end is
    // carried from i + 1 (the same step continues its run), so the whole is linear in the CPUs.
    std::vector<unsigned> c = cpus();
    std::size_t n = c.size();
    const std::size_t inf = std::numeric_limits<std::size_t>::max() / 2;
    std::vector<std::size_t> best(n + 1, inf);
    std::vector<Segment> choice(n);
    best[n] = 0;
    std::size_t run_end = 0;  // the end of the longest run starting at i + 1 (when i + 2 < n)
    for (std::size_t i = n; i-- > 0;) {
        auto consider = [&](Segment s) {
            std::size_t cost = segment_cost(c, s) + best[s.j + 1];
            if (cost < best[i]) {
                best[i] = cost;
                choice[i] = s;
            }
        };
        consider({i, i, 1});
        if (i + 1 < n) {
            unsigned d = c[i + 1] - c[i];
            std::size_t j = (i + 2 < n && c[i + 2] - c[i + 1] == d) ? run_end : i + 1;
            run_end = j;
            consider({i, j, d});
            if (j > i + 1) consider({i, j - 1, d});
        }
    }
    std::string out;
    for (std::size_t i = 0; i < n;) {
        append_segment(out, c, choice[i]);
        i = choice[i].j + 1;
    }
    return out;
}

std::string CpuSet::to_mask() const {
    static const char hex[] = "0123456789abcdef";
    std::string out;
    unsigned top = end();
    if (top == 0) return "0";
    unsigned nibbles = (top + 3) / 4;
    out.reserve(nibbles);
    for (unsigned k = nibbles; k-- > 0;) {
        unsigned v = 0;
        for (unsigned b = 0; b < 4; ++b)
            if (test(k * 4 + b)) v |= 1u << b;
        out += hex[v];
    }
    return out;
}

std::string CpuSet::to_kernel_mask(unsigned nbits) const {
    static const char hex[] = "0123456789abcdef";
    unsigned bits = std::max(nbits, end());
    if (bits == 0) bits = 1;
    unsigned groups = (bits + 31) / 32;
    unsigned first_bits = bits - 32 * (groups - 1);
    std::string out;
    for (unsigned g = groups; g-- > 0;) {
        unsigned width = (g == groups - 1) ? (first_bits + 3) / 4 : 8;
        std::uint32_t v = 0;
        for (unsigned b = 0; b < 32; ++b)
            if (test(g * 32 + b)) v |= std::uint32_t{1} << b;
        for (unsigned k = width; k-- > 0;) out += hex[(v >> (k * 4)) & 0xf];
        if (g) out += ',';
    }
    return out;
}

}  // namespace prockit
