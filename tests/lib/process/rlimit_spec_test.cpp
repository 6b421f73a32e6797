// parse_rlimit_spec(): a table of good and bad texts.
#include <prockit/process/rlimit_spec.hpp>

#include <prockit/sys/error.hpp>

#include <gtest/gtest.h>

using namespace prockit;

TEST(RlimitSpec, GoodTexts) {
    struct Case {
        const char* text;
        int resource;
        rlim_t soft;
        std::optional<rlim_t> hard;
    };
    const Case cases[] = {
        {"nofile=1024:2048", RLIMIT_NOFILE, 1024, 2048},
        {"NOFILE=1024", RLIMIT_NOFILE, 1024, std::nullopt},
        {"RLIMIT_CORE=0", RLIMIT_CORE, 0, std::nullopt},
        {"rlimit_stack=8M:unlimited", RLIMIT_STACK, 8ULL << 20, RLIM_INFINITY},
        {"as=2G", RLIMIT_AS, 2ULL << 30, std::nullopt},
        {"memlock=64k:64K", RLIMIT_MEMLOCK, 65536, 65536},
        {"cpu=infinity", RLIMIT_CPU, RLIM_INFINITY, std::nullopt},
        {"nproc=unlimited:unlimited", RLIMIT_NPROC, RLIM_INFINITY, RLIM_INFINITY},
    };
    for (const auto& c : cases) {
        auto r = parse_rlimit_spec(c.text);
        ASSERT_TRUE(r) << c.text << ": " << r.error().message();
        EXPECT_EQ(r->resource, c.resource) << c.text;
        EXPECT_EQ(r->soft, c.soft) << c.text;
        EXPECT_EQ(r->hard, c.hard) << c.text;
    }
}

TEST(RlimitSpec, BadTexts) {
    struct Case {
        const char* text;
        Errc code;
        const char* says;
    };
    const Case cases[] = {
        {"nofile", Errc::parse_error, "expected RESOURCE=SOFT[:HARD]"},
        {"frob=1", Errc::not_found, "unknown resource \"frob\""},
        {"=1", Errc::not_found, "unknown resource \"\""},
        {"nofile=", Errc::parse_error, "expected a number"},
        {"nofile=-1", Errc::parse_error, "expected a number"},
        {"nofile=1x", Errc::parse_error, "expected a number"},
        {"nofile=1:", Errc::parse_error, "expected a number"},
        {"nofile=1:2:3", Errc::parse_error, "expected a number"},
        {"nofile=20:10", Errc::parse_error, "the soft limit is above the hard limit"},
        {"nofile=unlimited:10", Errc::parse_error, "the soft limit is above the hard limit"},
        {"as=99999999999999999999G", Errc::parse_error, "expected a number"},
    };
    for (const auto& c : cases) {
        auto r = parse_rlimit_spec(c.text);
        ASSERT_FALSE(r) << c.text;
        EXPECT_EQ(r.error().code(), make_error_code(c.code)) << c.text;
        EXPECT_NE(r.error().context().find(c.says), std::string::npos) << c.text << ": " << r.error().context();
        EXPECT_EQ(r.error().context().rfind("parse resource limit \"" + std::string(c.text) + "\": ", 0), 0u)
            << r.error().context();
    }
}

TEST(RlimitSpec, HardLimitDefaultsToTheCurrentOne) {
    struct rlimit cur {};
    ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &cur), 0);
    auto below = parse_rlimit_spec("nofile=1").value();
    EXPECT_EQ(below.hard_or_current(), cur.rlim_max);
    if (cur.rlim_max != RLIM_INFINITY && cur.rlim_max < (rlim_t{1} << 40)) {
        auto high = parse_rlimit_spec("nofile=" + std::to_string(cur.rlim_max + 1)).value();
        EXPECT_EQ(high.hard_or_current(), cur.rlim_max + 1) << "raised with the soft limit";
    }
    EXPECT_EQ(parse_rlimit_spec("nofile=1:5").value().hard_or_current(), 5u);
    EXPECT_EQ(rlimit_names().size(), 16u);
}
