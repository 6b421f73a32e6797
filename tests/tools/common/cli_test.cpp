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
