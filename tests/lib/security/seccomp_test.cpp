#include <prockit/security/seccomp.hpp>

#include <gtest/gtest.h>

namespace prockit {
namespace {

TEST(Seccomp, EveryProfileCompiles) {
    for (const auto& name : SeccompFilter::profile_names()) {
        SeccompFilter f;
        ASSERT_TRUE(f.add_profile(name)) << name;
        auto p = f.compile();
        ASSERT_TRUE(p) << name << ": " << p.error().message();
        EXPECT_GT(p->instructions.size(), 4u);
    }
}

TEST(Seccomp, UnknownProfileAndSyscall) {
    SeccompFilter f;
    auto r = f.add_profile("no-such");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), make_error_code(Errc::not_found));
    auto s = f.deny("no_such_syscall");
    ASSERT_FALSE(s);
    EXPECT_NE(s.error().context().find("no_such_syscall"), std::string::npos);
}

TEST(Seccomp, RulesText) {
    SeccompFilter f;
    ASSERT_TRUE(f.add_rules_text("# c\ndefault deny EPERM\nallow read write exit_group # more\n"
                                 "deny socket errno=EACCES\nkill ptrace\nprofile no-mount\n",
                                 "rules"));
    EXPECT_EQ(f.default_action(), SeccompFilter::Action::error);
    ASSERT_GE(f.rules().size(), 5u);
    EXPECT_EQ(f.rules()[3].name, "socket");
    EXPECT_EQ(f.rules()[3].err, EACCES);
    EXPECT_TRUE(f.compile());
}

TEST(Seccomp, RulesTextErrorsNameTheLine) {
    for (const char* text : {"allow read\nfrob x\n", "allow read\ndeny\n", "x\n", "allow read\ndeny open errno=EFROB\n",
                             "allow read\ndefault maybe\n"}) {
        SeccompFilter f;
        auto r = f.add_rules_text(text, "f.rules");
        ASSERT_FALSE(r) << text;
        EXPECT_NE(r.error().context().find("f.rules line"), std::string::npos) << r.error().context();
    }
}

TEST(Seccomp, ErrnoNames) {
    EXPECT_EQ(parse_errno_name("EPERM").value(), EPERM);
    EXPECT_EQ(parse_errno_name("13").value(), 13);
    EXPECT_FALSE(parse_errno_name("EFROB"));
}

}  // namespace
}  // namespace prockit
