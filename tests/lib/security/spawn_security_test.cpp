// Command::keep_capabilities and Command::seccomp, observed from inside the child.
#include "support.hpp"

#include <prockit/security/capabilities.hpp>
#include <prockit/security/seccomp.hpp>

#include <linux/capability.h>

namespace prockit::test {
namespace {

std::uint64_t hex(const std::string& s) { return std::strtoull(s.c_str(), nullptr, 16); }

TEST(SpawnSecurity, KeepCapabilities) {
    auto bounding = CapabilitySet::current_bounding().value();
    if (!bounding.test(CAP_SETPCAP) || !bounding.test(CAP_KILL)) GTEST_SKIP() << "needs CAP_SETPCAP and CAP_KILL";
    auto keep = CapabilitySet::parse("kill").value();
    auto r = run(helper_cmd({"status", "CapBnd", "status", "CapEff"}).keep_capabilities(keep));
    EXPECT_EQ(hex(r.kv["CapBnd"]), 1ULL << CAP_KILL);
    if (geteuid() == 0) { EXPECT_EQ(hex(r.kv["CapEff"]), 1ULL << CAP_KILL); }
}

TEST(SpawnSecurity, SeccompFilterApplies) {
    SeccompFilter f;
    ASSERT_TRUE(f.deny("getcwd", EACCES));
    auto prog = f.compile().value();
    auto r = run(helper_cmd({"cwd", "status", "NoNewPrivs", "status", "Seccomp"}).seccomp(prog));
    EXPECT_EQ(r.kv["cwd"], "?");
    EXPECT_EQ(r.kv["NoNewPrivs"], "1");
    EXPECT_EQ(r.kv["Seccomp"], "2");
}

TEST(SpawnSecurity, FilterThatBlocksExecFailsAtExec) {
    SeccompFilter f;
    f.default_action(SeccompFilter::Action::error, EPERM);
    ASSERT_TRUE(f.deny("execve", EPERM));
    auto prog = f.compile().value();
    auto c = helper_cmd({"exit", "0"}).seccomp(prog).spawn();
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().stage(), SpawnStage::exec);
    EXPECT_EQ(c.error().errno_value(), EPERM);
}

}  // namespace
}  // namespace prockit::test
