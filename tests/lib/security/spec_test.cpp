// capabilities_to_keep() and parse_seccomp_spec(): the option texts, good and bad.
#include <prockit/security/capability_spec.hpp>
#include <prockit/security/seccomp_spec.hpp>

#include <prockit/sys/error.hpp>

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <linux/capability.h>
#include <unistd.h>

using namespace prockit;

TEST(CapabilitySpec, KeepAndDrop) {
    auto keep = capabilities_to_keep(CapabilityChange::keep, "net_raw,CAP_CHOWN").value();
    EXPECT_EQ(keep.bits(), (1ULL << CAP_NET_RAW) | (1ULL << CAP_CHOWN));
    auto bounding = CapabilitySet::current_bounding().value();
    auto drop = capabilities_to_keep(CapabilityChange::drop, "net_raw").value();
    EXPECT_EQ(drop, bounding - CapabilitySet::from_bits(1ULL << CAP_NET_RAW));
    EXPECT_TRUE(capabilities_to_keep(CapabilityChange::drop, "all").value().empty());
    EXPECT_EQ(capabilities_to_keep(CapabilityChange::keep, "all").value(), CapabilitySet::all());
}

TEST(CapabilitySpec, BadTexts) {
    auto r = capabilities_to_keep(CapabilityChange::drop, "net_raw,frobnicate");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), make_error_code(Errc::not_found));
    EXPECT_EQ(r.error().context().rfind("parse capabilities \"net_raw,frobnicate\": unknown capability \"frobnicate\"", 0), 0u)
        << r.error().context();
    r = capabilities_to_keep(CapabilityChange::keep, "");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), make_error_code(Errc::parse_error));
    EXPECT_EQ(r.error().context(), "parse capabilities \"\": expected all, or a comma-separated list of capability names");
}

TEST(SeccompSpec, ProfilesListsAndFiles) {
    auto f = parse_seccomp_spec({"no-network,no-ptrace", "no-mount"}).value();
    std::size_t rules = f.rules().size();
    EXPECT_GT(rules, 3u);
    char t[] = "/tmp/prockit-seccomp-XXXXXX";
    std::string dir = mkdtemp(t);
    std::ofstream(dir + "/rules") << "deny socket errno=EACCES\n";
    std::ofstream(dir + "/bad") << "allow read\nfrobnicate write\n";
    auto with_file = parse_seccomp_spec({"no-network," + dir + "/rules"}).value();
    EXPECT_EQ(with_file.rules().back().name, "socket");
    EXPECT_TRUE(with_file.compile());

    auto unknown = parse_seccomp_spec({"no-network,no-such-profile"});
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.error().code(), make_error_code(Errc::not_found));
    EXPECT_EQ(unknown.error().context().rfind("use seccomp profile \"no-such-profile\": expected one of no-network, ", 0), 0u)
        << unknown.error().context();
    auto bad = parse_seccomp_spec({dir + "/bad"});
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().context().find("line 2"), std::string::npos) << bad.error().context();
    auto absent = parse_seccomp_spec({dir + "/absent"});
    ASSERT_FALSE(absent);
    EXPECT_EQ(absent.error().errno_value(), ENOENT);
    EXPECT_EQ(absent.error().context(), "read seccomp rules \"" + dir + "/absent\"");
    (void)!std::system(("rm -rf '" + dir + "'").c_str());
}

TEST(SeccompSpec, RulesFilesAreBounded) {
    // /dev/zero never ends: the reader stops at the bound instead of growing until the OOM killer.
    auto zero = parse_seccomp_spec({"/dev/zero"});
    ASSERT_FALSE(zero);
    EXPECT_EQ(zero.error().code(), make_error_code(Errc::parse_error));
    EXPECT_EQ(zero.error().context(), "read seccomp rules \"/dev/zero\": larger than 16 MiB");
    // Exactly at the bound is fine (comments only).
    char t[] = "/tmp/prockit-seccomp-XXXXXX";
    std::string dir = mkdtemp(t);
    {
        std::ofstream out(dir + "/big");
        std::string line(1023, '#');
        for (std::size_t i = 0; i < max_seccomp_rules_bytes / 1024; ++i) out << line << '\n';
    }
    EXPECT_TRUE(parse_seccomp_spec({dir + "/big"}));
    std::ofstream(dir + "/big", std::ios::app) << "#";
    auto over = parse_seccomp_spec({dir + "/big"});
    ASSERT_FALSE(over);
    EXPECT_EQ(over.error().context(), "read seccomp rules \"" + dir + "/big\": larger than 16 MiB");
    (void)!std::system(("rm -rf '" + dir + "'").c_str());
}
