#include "common/cli.hpp"
#include "common/exit_codes.hpp"

#include <gtest/gtest.h>

#include <sys/wait.h>

using namespace prockit::tools;

namespace {
struct App {
    CLI::App app{"test tool", "tt"};
    int n = 0;
    std::vector<std::string> words;
    App() {
        app.add_option("-n", n);
        app.add_option("words", words);
    }
};
}  // namespace

TEST(ToolCli, ParseErrorsAreUsageErrors) {
    set_tool_name("tt");
    App a;
    testing::internal::CaptureStderr();
    auto code = parse(a.app, {"--bogus"});
    std::string err = testing::internal::GetCapturedStderr();
    ASSERT_TRUE(code);
    EXPECT_EQ(*code, exit_usage);
    EXPECT_EQ(err.rfind("tt: ", 0), 0u) << err;
    EXPECT_NE(err.find("try 'tt --help'"), std::string::npos);
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << "one line: " << err;

    App b;
    testing::internal::CaptureStderr();
    code = parse(b.app, {"-n", "notanumber"});
    testing::internal::GetCapturedStderr();
    ASSERT_TRUE(code);
    EXPECT_EQ(*code, exit_usage);
}

TEST(ToolCli, HelpGoesToStdoutWithStatusZero) {
    App a;
    testing::internal::CaptureStdout();
    auto code = parse(a.app, {"--help"});
    std::string out = testing::internal::GetCapturedStdout();
    ASSERT_TRUE(code);
    EXPECT_EQ(*code, exit_ok);
    EXPECT_NE(out.find("test tool"), std::string::npos);
}

TEST(ToolCli, GoodArgumentsContinue) {
    App a;
    EXPECT_FALSE(parse(a.app, {"-n", "3", "x", "y"}));
    EXPECT_EQ(a.n, 3);
    EXPECT_EQ(a.words.size(), 2u);
}

TEST(ToolCli, SplitCommand) {
    const char* argv[] = {"tt", "-n", "1", "--", "cmd", "--", "-x"};
    SplitArgs s = split_command(7, argv);
    EXPECT_TRUE(s.had_separator);
    ASSERT_EQ(s.options.size(), 3u);
    EXPECT_EQ(s.command, (std::vector<std::string>{"cmd", "--", "-x"}));
    const char* plain[] = {"tt", "a"};
    EXPECT_FALSE(split_command(2, plain).had_separator);
}

TEST(ToolCli, ErrorMessagesAndGuarded) {
    set_tool_name("tt");
    testing::internal::CaptureStderr();
    print_error(prockit::Error::from_errno(ENOENT, "open /x"));
    print_warning("careful");
    int code = guarded([]() -> int { throw prockit::SystemError(prockit::Error::from_errno(EPERM, "set affinity of pid 1")); });
    int usage = guarded([]() -> int { throw UsageError("--x needs a value"); });
    std::string err = testing::internal::GetCapturedStderr();
    EXPECT_EQ(code, exit_failure);
    EXPECT_EQ(usage, exit_usage);
    EXPECT_NE(err.find("tt: cannot open /x: No such file or directory\n"), std::string::npos) << err;
    EXPECT_NE(err.find("tt: warning: careful\n"), std::string::npos);
    EXPECT_NE(err.find("tt: cannot set affinity of pid 1: Operation not permitted\n"), std::string::npos);
    EXPECT_NE(err.find("tt: --x needs a value; try 'tt --help'\n"), std::string::npos);
}

TEST(ToolCli, ExitStatuses) {
    EXPECT_EQ(exit_status_for_exec_errno(ENOENT), 127);
    EXPECT_EQ(exit_status_for_exec_errno(EACCES), 126);
    EXPECT_EQ(exit_status_of(3 << 8), 3);
    EXPECT_EQ(exit_status_of(SIGKILL), 128 + SIGKILL);
}

TEST(ToolCli, FormatterShowsOptionalValues) {
    CLI::App app{"x", "tt"};
    std::string v;
    app.add_flag("--check{@}", v, "check");
    app.formatter(std::make_shared<Formatter>());
    std::string help = app.help();
    EXPECT_NE(help.find("--check[=VALUE]"), std::string::npos) << help;
    EXPECT_EQ(help.find("{@}"), std::string::npos);
}

TEST(ToolCli, ErrorsSayTheirReasonOnce) {
    using prockit::Errc;
    using prockit::Error;
    Error detailed(make_error_code(Errc::parse_error), "parse duration \"1x\": unknown unit");
    EXPECT_EQ(error_text(detailed), "cannot parse duration \"1x\": unknown unit");
    EXPECT_EQ(error_reason(detailed), "unknown unit");
    Error bare(make_error_code(Errc::not_found), "resolve syscall \"frob\"");
    EXPECT_EQ(error_text(bare), "cannot resolve syscall \"frob\": not found");
    EXPECT_EQ(error_reason(bare), "not found");
    Error sys = Error::from_errno(ENOENT, "open \"x\": here");  // a system error keeps its strerror
    EXPECT_EQ(error_text(sys), "cannot open \"x\": here: No such file or directory");
    EXPECT_EQ(error_reason(sys), "no such file or directory");
    set_tool_name("tt");
    testing::internal::CaptureStderr();
    print_error(detailed);
    EXPECT_EQ(testing::internal::GetCapturedStderr(), "tt: cannot parse duration \"1x\": unknown unit\n");
}

TEST(ToolCli, VersionFlagAndStatusesOfGuarded) {
    set_tool_name("tt");
    CLI::App app{"x", "tt"};
    add_version_flag(app);
    for (const char* flag : {"-V", "--version"}) {
        testing::internal::CaptureStdout();
        auto code = parse(app, {flag});
        EXPECT_EQ(testing::internal::GetCapturedStdout().rfind("tt (prockit) ", 0), 0u);
        ASSERT_TRUE(code);
        EXPECT_EQ(*code, exit_ok);
    }
    testing::internal::CaptureStderr();
    EXPECT_EQ(guarded([]() -> int { throw UsageError("bad"); }, 255, 254), 255);
    EXPECT_EQ(guarded([]() -> int { throw prockit::SystemError(prockit::Error::from_errno(EIO, "read x")); }, 255, 254), 254);
    EXPECT_EQ(guarded([] { return 7; }, 255, 254), 7);
    testing::internal::GetCapturedStderr();
}

TEST(ToolCli, ReadableValueNamesAndChoices) {
    CLI::App app{"x", "tt"};
    int n = 0;
    unsigned u = 0;
    std::string s, when, file;
    std::vector<std::string> many;
    bool flag = false;
    auto* nice = app.add_option("--nice", n, "nice")->check(CLI::Range(-20, 19));
    auto* retries = app.add_option("--retries", u, "retries");
    auto* text = app.add_option("--text", s, "text");
    auto* restart = app.add_option("--restart", when, "restart")->type_name("WHEN")->check(CLI::IsMember({"no", "always"}));
    auto* user = app.add_option("--user", file, "user")->type_name("USER[:GROUP]");
    auto* env = app.add_option("--env", many, "env")->type_name("K=V");
    auto* f = app.add_flag("--flag", flag, "flag");
    EXPECT_EQ(value_name(nice), "N");
    EXPECT_EQ(value_name(retries), "N");
    EXPECT_EQ(value_name(text), "VALUE");
    EXPECT_EQ(value_name(restart), "WHEN");
    EXPECT_EQ(value_name(user), "USER[:GROUP]");
    EXPECT_EQ(value_name(f), "");
    EXPECT_FALSE(takes_value(f));
    EXPECT_TRUE(takes_value(env));
    EXPECT_EQ(value_choices(restart), (std::vector<std::string>{"no", "always"}));
    EXPECT_TRUE(value_choices(nice).empty());
    app.formatter(std::make_shared<Formatter>());
    std::string help = app.help();
    for (const char* raw : {"INT", "UINT", "TEXT", " in [", "{no,always}"}) EXPECT_EQ(help.find(raw), std::string::npos) << raw << "\n" << help;
    for (const char* shown : {"--nice N", "--restart WHEN", "--user USER[:GROUP]", "--env K=V ..."})
        EXPECT_NE(help.find(shown), std::string::npos) << shown << "\n" << help;
}
