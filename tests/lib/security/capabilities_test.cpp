#include <prockit/security/capabilities.hpp>

#include <gtest/gtest.h>
#include <linux/capability.h>

namespace prockit {
namespace {

TEST(Capabilities, ParseNames) {
    auto s = CapabilitySet::parse("net_raw,CAP_SYS_ADMIN,Chown");
    ASSERT_TRUE(s) << s.error().message();
    EXPECT_TRUE(s->test(CAP_NET_RAW));
    EXPECT_TRUE(s->test(CAP_SYS_ADMIN));
    EXPECT_TRUE(s->test(CAP_CHOWN));
    EXPECT_EQ(s->caps().size(), 3u);
    EXPECT_EQ(s->to_string(), "cap_chown,cap_net_raw,cap_sys_admin");
}

TEST(Capabilities, AllIsEveryKnownCapability) {
    auto s = CapabilitySet::parse("all");
    ASSERT_TRUE(s);
    EXPECT_EQ(static_cast<int>(s->caps().size()), last_capability() + 1);
    EXPECT_EQ(*s, CapabilitySet::all());
}

TEST(Capabilities, UnknownNamesAreNotFound) {
    auto s = CapabilitySet::parse("net_raw,frobnicate");
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code(), make_error_code(Errc::not_found));
    EXPECT_NE(s.error().context().find("frobnicate"), std::string::npos);
    EXPECT_FALSE(CapabilitySet::parse(""));
    EXPECT_FALSE(parse_capability("cap_"));
}

TEST(Capabilities, SetAlgebra) {
    CapabilitySet a = CapabilitySet::parse("chown,kill").value(), b = CapabilitySet::parse("kill").value();
    EXPECT_EQ((a - b).caps(), std::vector<int>{CAP_CHOWN});
    EXPECT_EQ((a & b).caps(), std::vector<int>{CAP_KILL});
    EXPECT_EQ(capability_name(CAP_KILL), "cap_kill");
}

TEST(Capabilities, CurrentSetsAreReadable) {
    auto b = CapabilitySet::current_bounding();
    ASSERT_TRUE(b);
    auto p = CapabilitySet::current_permitted();
    ASSERT_TRUE(p);
    EXPECT_EQ((*p - *b).bits(), 0u) << "permitted within bounding";
}

}  // namespace
}  // namespace prockit
