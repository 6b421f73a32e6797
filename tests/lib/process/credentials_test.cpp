// lookup_credentials() and the program lookup helpers, against this machine's root user, a
// numeric UID with no entry, and files made here.
#include <prockit/process/credentials.hpp>
#include <prockit/process/program_path.hpp>

#include <prockit/sys/error.hpp>

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace prockit;

TEST(Credentials, NamesAndNumbers) {
    auto root = lookup_credentials("root").value();
    EXPECT_EQ(root.uid, 0u);
    EXPECT_EQ(root.gid, 0u);
    EXPECT_EQ(root.user_name, "root");
    ASSERT_FALSE(root.groups.empty());
    EXPECT_EQ(root.groups[0], 0u);

    auto zero = lookup_credentials("0").value();
    EXPECT_EQ(zero.user_name, "root") << "a number with an entry takes the entry's name and group";

    // A UID with no entry: the GID is the same number, and it is the only group.
    unsigned free_id = 54321;
    while (getpwuid(free_id) != nullptr) ++free_id;
    auto nobody = lookup_credentials(std::to_string(free_id)).value();
    EXPECT_EQ(nobody.uid, free_id);
    EXPECT_EQ(nobody.gid, free_id);
    EXPECT_EQ(nobody.groups, std::vector<gid_t>{free_id});
    EXPECT_EQ(nobody.user_name, "");

    auto with_group = lookup_credentials("root:" + std::to_string(free_id)).value();
    EXPECT_EQ(with_group.uid, 0u);
    EXPECT_EQ(with_group.gid, free_id);
    if (const group* g = getgrgid(0)) {
        auto named = lookup_credentials(std::string("0:") + g->gr_name).value();
        EXPECT_EQ(named.gid, 0u);
    }
}

TEST(Credentials, BadSpecs) {
    struct Case {
        const char* spec;
        Errc code;
        const char* context;
    };
    const Case cases[] = {
        {"prockit-no-such-user", Errc::not_found, "look up user \"prockit-no-such-user\": no such user"},
        {"root:prockit-no-such-group", Errc::not_found, "look up group \"prockit-no-such-group\": no such group"},
        {"", Errc::parse_error, "parse user \"\": expected USER[:GROUP]"},
        {":0", Errc::parse_error, "parse user \":0\": expected USER[:GROUP]"},
        {"root:", Errc::parse_error, "parse user \"root:\": expected USER[:GROUP]"},
        {"-1", Errc::not_found, "look up user \"-1\": no such user"},
        {"12abc", Errc::not_found, "look up user \"12abc\": no such user"},
        // Numbers that would wrap to another ID (root, 1000) or mean "unchanged" ((uid_t)-1).
        {"4294967296", Errc::parse_error, "parse user \"4294967296\": user ID out of range (0-4294967294)"},
        {"4294968296", Errc::parse_error, "parse user \"4294968296\": user ID out of range (0-4294967294)"},
        {"4294967295", Errc::parse_error, "parse user \"4294967295\": user ID out of range (0-4294967294)"},
        {"4294967295:0", Errc::parse_error, "parse user \"4294967295:0\": user ID out of range (0-4294967294)"},
        {"99999999999999999999999", Errc::parse_error,
         "parse user \"99999999999999999999999\": user ID out of range (0-4294967294)"},
        {"0:4294967295", Errc::parse_error, "parse user \"0:4294967295\": group ID out of range (0-4294967294)"},
        {"0:18446744073709551616", Errc::parse_error,
         "parse user \"0:18446744073709551616\": group ID out of range (0-4294967294)"},
    };
    for (const auto& c : cases) {
        auto r = lookup_credentials(c.spec);
        ASSERT_FALSE(r) << c.spec;
        EXPECT_EQ(r.error().code(), make_error_code(c.code)) << c.spec;
        EXPECT_EQ(r.error().context(), c.context);
    }
}

namespace {
struct Scratch {
    std::string dir;
    Scratch() {
        char t[] = "/tmp/prockit-path-XXXXXX";
        dir = mkdtemp(t);
    }
    ~Scratch() { (void)!std::system(("rm -rf '" + dir + "'").c_str()); }
    std::string file(const std::string& name, const std::string& text, mode_t mode) const {
        std::string p = dir + "/" + name;
        std::ofstream(p) << text;
        chmod(p.c_str(), mode);
        return p;
    }
};
}  // namespace

TEST(ProgramPath, FindsThroughPath) {
    Scratch s;
    s.file("tool", "#!/bin/sh\n", 0755);
    s.file("plain", "data\n", 0644);
    std::string path = "/nonexistent-dir::" + s.dir;
    EXPECT_EQ(find_program("tool", path.c_str()).value(), s.dir + "/tool");
    auto missing = find_program("prockit-no-such-tool", path.c_str());
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().errno_value(), ENOENT);
    EXPECT_EQ(missing.error().context(), "find 'prockit-no-such-tool' in PATH");
    if (geteuid() != 0) {
        auto denied = find_program("plain", path.c_str());
        ASSERT_FALSE(denied);
        EXPECT_EQ(denied.error().errno_value(), EACCES);
    }
    EXPECT_EQ(find_program(s.dir + "/tool").value(), s.dir + "/tool") << "a name with '/' is taken as it is";
    EXPECT_EQ(find_program(s.dir + "/nothing").error().errno_value(), ENOENT);
    EXPECT_EQ(find_program("").error().errno_value(), ENOENT);
    EXPECT_TRUE(find_program("sh", "/bin:/usr/bin"));
}

TEST(ProgramPath, MissingInterpreter) {
    Scratch s;
    EXPECT_EQ(missing_interpreter(s.file("bad", "#!/prockit/no/such/sh -e\necho\n", 0755)), "/prockit/no/such/sh");
    EXPECT_EQ(missing_interpreter(s.file("spaced", "#!  /prockit/none\n", 0755)), "/prockit/none");
    EXPECT_EQ(missing_interpreter(s.file("good", "#!/bin/sh\necho\n", 0755)), std::nullopt);
    EXPECT_EQ(missing_interpreter(s.file("binary", "\x7f" "ELF", 0755)), std::nullopt);
    EXPECT_EQ(missing_interpreter(s.file("empty", "#!\n", 0755)), std::nullopt);
    EXPECT_EQ(missing_interpreter(s.dir + "/absent"), std::nullopt);
}
