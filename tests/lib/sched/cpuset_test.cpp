#include <prockit/sched/cpuset.hpp>

#include "golden.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <sstream>

using namespace prockit;

namespace {

std::string abbreviate(const std::string& s) {
    return s.size() <= 120 ? s : s.substr(0, 60) + "...(" + std::to_string(s.size()) + " chars)..." + s.substr(s.size() - 40);
}

std::string describe(const Result<CpuSet>& r) {
    if (!r) return "error: " + r.error().message();
    const CpuSet& s = *r;
    return "count=" + std::to_string(s.count()) + " list=" + s.to_list() + " strides=" + s.to_list_strides() +
           " mask=" + abbreviate(s.to_mask());
}

}  // namespace

TEST(CpuSetGolden, Parse) {
    std::string dir = golden::source_dir() + "/tests/lib/sched/golden/";
    std::ifstream in(dir + "parse.in");
    ASSERT_TRUE(in) << "cannot open " << dir << "parse.in";
    std::string line, out;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        std::size_t bar = line.find('|');
        ASSERT_NE(bar, std::string::npos) << line;
        std::string kind = line.substr(0, bar), text = line.substr(bar + 1);
        Result<CpuSet> r = CpuSet{};
        if (kind == "list") {
            r = CpuSet::parse_list(text);
        } else if (kind == "mask") {
            r = CpuSet::parse_mask(text);
        } else if (kind == "auto") {
            r = CpuSet::parse(text);
        } else if (kind.rfind("list@", 0) == 0) {
            r = CpuSet::parse_list(text, CpuSet::parse_list(kind.substr(5)).value());
        } else {
            FAIL() << "unknown kind " << kind;
        }
        out += kind + "|" + abbreviate(text) + "\n    " + describe(r) + "\n";
    }
    std::string diff = golden::compare(dir + "parse.golden", out);
    EXPECT_TRUE(diff.empty()) << diff;
}

TEST(CpuSet, ErrorsCarryThePosition) {
    auto r = CpuSet::parse_list("0-3,8,x");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), make_error_code(Errc::parse_error));
    EXPECT_NE(r.error().context().find("at character 7"), std::string::npos) << r.error().context();
    auto blank = CpuSet::parse_list("  1-0");
    ASSERT_FALSE(blank);
    EXPECT_NE(blank.error().context().find("at character 5"), std::string::npos) << blank.error().context();
    auto big = CpuSet::parse_list("0,70000");
    ASSERT_FALSE(big);
    EXPECT_EQ(big.error().code(), make_error_code(Errc::out_of_range));
    EXPECT_NE(big.error().context().find("at character 3"), std::string::npos);
}

TEST(CpuSet, SetRangeMatchesSingleSets) {
    for (unsigned a : {0u, 1u, 63u, 64u, 65u, 127u, 1000u})
        for (unsigned b : {a, a + 1, a + 62, a + 63, a + 64, a + 200}) {
            CpuSet r, s;
            r.set_range(a, b);
            for (unsigned c = a; c <= b; ++c) s.set(c);
            EXPECT_EQ(r, s) << a << "-" << b;
            EXPECT_EQ(r.count(), b - a + 1);
        }
}

TEST(CpuSet, RoundTripsRandomSetsUpTo8192Cpus) {
    std::mt19937 rng(42);
    for (int iter = 0; iter < 300; ++iter) {
        CpuSet s;
        unsigned limit = 1u << (rng() % 14);  // 1 .. 8192
        unsigned n = rng() % 64;
        for (unsigned k = 0; k < n; ++k) {
            unsigned a = static_cast<unsigned>(rng() % limit);
            unsigned len = static_cast<unsigned>(rng() % 8);
            unsigned step = 1 + static_cast<unsigned>(rng() % 3);
            s.set_range(a, std::min(a + len * step, 8191u), step);
        }
        auto l = CpuSet::parse_list(s.to_list());
        ASSERT_TRUE(l) << s.to_list();
        EXPECT_EQ(*l, s);
        auto st = CpuSet::parse_list(s.to_list_strides());
        ASSERT_TRUE(st) << s.to_list_strides();
        EXPECT_EQ(*st, s) << s.to_list_strides();
        EXPECT_LE(s.to_list_strides().size(), s.to_list().size());
        auto m = CpuSet::parse_mask(s.to_mask());
        ASSERT_TRUE(m);
        EXPECT_EQ(*m, s);
        auto k = CpuSet::parse_mask(s.to_kernel_mask(8192));
        ASSERT_TRUE(k) << k.error().message();
        EXPECT_EQ(*k, s);
    }
}

TEST(CpuSet, Formats) {
    EXPECT_EQ(CpuSet{}.to_list(), "");
    EXPECT_EQ(CpuSet{}.to_mask(), "0");
    EXPECT_EQ((CpuSet{0, 1}).to_list(), "0,1");  // util-linux's wording for a pair
    EXPECT_EQ((CpuSet{0, 1, 2, 5}).to_list(), "0-2,5");
    CpuSet even;
    even.set_range(0, 62, 2);
    EXPECT_EQ(even.to_list_strides(), "0-62:2");
    EXPECT_EQ((CpuSet{0, 1, 3, 5, 7}).to_list_strides(), "0,1-7:2");
    EXPECT_EQ((CpuSet{0, 1}).to_kernel_mask(2), "3");
    EXPECT_EQ((CpuSet{0}).to_kernel_mask(64), "00000000,00000001");
    EXPECT_EQ((CpuSet{0}).to_kernel_mask(36), "0,00000001");
    EXPECT_EQ((CpuSet{63}).to_mask(), "8000000000000000");
}

namespace {

// The shortest stride encoding by brute force: every segment c[i..j] that is an arithmetic run,
// for every i and j (cubic; small sets only). The cost of an encoding is its length in characters.
std::size_t shortest_strides_length(const std::vector<unsigned>& c) {
    auto len = [](unsigned v) { return std::to_string(v).size(); };
    std::size_t n = c.size();
    std::vector<std::size_t> best(n + 1, 0);
    for (std::size_t i = n; i-- > 0;) {
        best[i] = len(c[i]) + 1 + best[i + 1];
        for (std::size_t j = i + 1; j < n; ++j) {
            unsigned d = c[i + 1] - c[i];
            if (c[j] - c[j - 1] != d) break;
            std::size_t k = j - i + 1;
            std::size_t cost = k == 2 ? len(c[i]) + len(c[j]) + 2
                                      : len(c[i]) + 1 + len(c[j]) + 1 + (d == 1 ? 0 : 1 + len(d));
            best[i] = std::min(best[i], cost + best[j + 1]);
        }
    }
    return n == 0 ? 0 : best[0] - 1;  // no comma after the last segment
}

}  // namespace

TEST(CpuSet, StridesGolden) {
    // Long runs, where each CPU starts a run reaching the end of the set: the case a quadratic
    // formatter is slow on. The results are exact.
    CpuSet even;
    even.set_range(0, 65534, 2);
    EXPECT_EQ(even.to_list_strides(), "0-65534:2");
    CpuSet odd_after_pair{0};
    odd_after_pair.set_range(1, 65535, 2);
    EXPECT_EQ(odd_after_pair.to_list_strides(), "0,1-65535:2");
    CpuSet all;
    all.set_range(0, 65535, 1);
    EXPECT_EQ(all.to_list_strides(), "0-65535");
    CpuSet mixed;
    mixed.set_range(0, 30, 3);
    mixed.set_range(32, 1000, 4);
    mixed.set(1001);
    mixed.set_range(2000, 4000, 1);
    EXPECT_EQ(mixed.to_list_strides(), "0-30:3,32-1000:4,1001,2000-4000");
    CpuSet steps;  // 0,1,3,6,10,15,...: no run longer than two
    for (unsigned k = 0, v = 0; v < 200; v += ++k) steps.set(v);
    EXPECT_EQ(steps.to_list_strides(), steps.to_list());
}

TEST(CpuSet, StridesAreTheShortestEncoding) {
    std::mt19937 rng(1313);
    for (int round = 0; round < 2000; ++round) {
        CpuSet s;
        unsigned limit = 8u << (rng() % 8);
        unsigned n = rng() % 12;
        for (unsigned k = 0; k < n; ++k) {
            unsigned a = static_cast<unsigned>(rng() % limit);
            unsigned len = static_cast<unsigned>(rng() % 10);
            unsigned step = 1 + static_cast<unsigned>(rng() % 4);
            s.set_range(a, std::min(a + len * step, 4095u), step);
        }
        std::string st = s.to_list_strides();
        auto back = CpuSet::parse_list(st);
        ASSERT_TRUE(back) << st;
        EXPECT_EQ(*back, s) << st;
        EXPECT_EQ(st.size(), shortest_strides_length(s.cpus())) << s.to_list() << " -> " << st;
    }
}

TEST(CpuSet, SetOperationsAcrossSizes) {
    CpuSet small{1, 2};
    CpuSet big{2, 5000};
    EXPECT_EQ((small | big).to_list(), "1,2,5000");
    EXPECT_EQ((small & big).to_list(), "2");
    EXPECT_EQ((big - small).to_list(), "5000");
    EXPECT_TRUE((CpuSet{2}).subset_of(big));
    EXPECT_FALSE(small.subset_of(big));
    EXPECT_EQ(big.first(), 2u);
    EXPECT_EQ(big.end(), 5001u);
    CpuSet padded{1, 2};
    padded.words().resize(128, 0);
    EXPECT_EQ(padded, small);
}
