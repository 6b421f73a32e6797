// prun --seccomp and --drop-caps/--keep-caps, observed from inside the child.
#include "prun_support.hpp"

#include <prockit/security/capabilities.hpp>

#include <linux/capability.h>

namespace prockit::test {
namespace {

std::uint64_t hex(const std::string& s) { return std::strtoull(s.c_str(), nullptr, 16); }

TEST(PrunSecurity, NoNetworkProfileRefusesInetSockets) {
    auto r = prun({"--", PRUN_NET_HELPER, "inet", "inet6", "unix"});
    EXPECT_EQ(kv(r.out)["unix"], "ok");
    r = prun({"--seccomp", "no-network", "--", PRUN_NET_HELPER, "inet", "inet6", "unix"});
    EXPECT_EQ(r.code, 0) << r.err;
    auto m = kv(r.out);
    EXPECT_EQ(m["inet"], "EPERM");
    EXPECT_EQ(m["inet6"], "EPERM");
    EXPECT_EQ(m["unix"], "ok");
    // In a pool too, and combined with another profile.
    r = prun({"-k", "--seccomp", "no-network,no-mount", PRUN_NET_HELPER, ":::", "inet", "unix"});
    EXPECT_EQ(r.out, "inet=EPERM\nunix=ok\n");
}

TEST(PrunSecurity, RulesFile) {
    TempDir d;
    spit(d / "rules", "# no sockets at all\ndefault allow\ndeny socket errno=EACCES\n");
    auto r = prun({"--seccomp", d / "rules", "--", PRUN_NET_HELPER, "unix"});
    EXPECT_EQ(kv(r.out)["unix"], "EACCES");
    spit(d / "bad", "allow read\nfrobnicate write\n");
    r = prun({"--seccomp", d / "bad", "--", "true"});
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.err.find("line 2"), std::string::npos) << r.err;
    spit(d / "badcall", "deny no_such_syscall\n");
    r = prun({"--seccomp", d / "badcall", "--", "true"});
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.err.find("no_such_syscall"), std::string::npos) << r.err;
    r = prun({"--seccomp", "no-such-profile", "--", "true"});
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.err.find("no-such-profile"), std::string::npos) << r.err;
}

TEST(PrunSecurity, DroppedCapabilitiesAreGone) {
    auto bounding = CapabilitySet::current_bounding().value();
    if (!bounding.test(CAP_NET_RAW) || !bounding.test(CAP_SETPCAP)) GTEST_SKIP() << "needs CAP_NET_RAW and CAP_SETPCAP";
    auto r = prun({"--drop-caps", "net_raw,CAP_SYS_ADMIN", "--", helper(), "status", "CapEff", "status", "CapBnd",
                   "status", "CapPrm"});
    ASSERT_EQ(r.code, 0) << r.err;
    auto m = kv(r.out);
    for (const char* set : {"CapEff", "CapBnd", "CapPrm"}) {
        EXPECT_EQ(hex(m[set]) & (1ULL << CAP_NET_RAW), 0u) << set << "=" << m[set];
        EXPECT_EQ(hex(m[set]) & (1ULL << CAP_SYS_ADMIN), 0u) << set << "=" << m[set];
    }
    if (geteuid() == 0) { EXPECT_NE(hex(m["CapEff"]) & (1ULL << CAP_CHOWN), 0u) << "others are kept"; }
    r = prun({"--drop-caps", "all", "--", helper(), "status", "CapEff", "status", "CapBnd", "status", "CapPrm"});
    m = kv(r.out);
    EXPECT_EQ(hex(m["CapEff"]), 0u);
    EXPECT_EQ(hex(m["CapBnd"]), 0u);
    EXPECT_EQ(hex(m["CapPrm"]), 0u);
    r = prun({"--drop-caps", "frobnicate", "--", "true"});
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.err.find("frobnicate"), std::string::npos);
}

TEST(PrunSecurity, KeptCapabilitiesSurviveAUserChange) {
    if (geteuid() != 0) GTEST_SKIP() << "needs root";
    auto bounding = CapabilitySet::current_bounding().value();
    if (!bounding.test(CAP_NET_BIND_SERVICE) || !bounding.test(CAP_SETPCAP)) GTEST_SKIP() << "capabilities missing";
    auto r = prun({"--keep-caps", "net_bind_service", "--user", "nobody", "--", helper(), "ids", "status", "CapEff",
                   "status", "CapAmb", "status", "CapBnd"});
    ASSERT_EQ(r.code, 0) << r.err;
    auto m = kv(r.out);
    EXPECT_EQ(m["uid"], "65534");
    EXPECT_EQ(hex(m["CapEff"]), 1ULL << CAP_NET_BIND_SERVICE);
    EXPECT_EQ(hex(m["CapAmb"]), 1ULL << CAP_NET_BIND_SERVICE);
    EXPECT_EQ(hex(m["CapBnd"]), 1ULL << CAP_NET_BIND_SERVICE);
}

}  // namespace
}  // namespace prockit::test
