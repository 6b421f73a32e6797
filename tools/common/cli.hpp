// tools/common/cli.hpp — command-line conventions shared by every prockit tool:
//   * messages on stderr read "<tool>: cannot <verb> <object>: <reason>" (print_error);
//   * CLI11 parse errors are caught here and become exit status 2 with one line on stderr
//     ("<tool>: <what went wrong>; try '<tool> --help'"), because CLI11's own exit codes
//     collide with 126/127;
//   * --help prints to stdout and exits 0;
//   * anything a tool's run() throws becomes a message and exit status 1 (guarded()).
//
// Typical main():
//     int main(int argc, char** argv) {
//         prockit::tools::set_tool_name("mytool");
//         Options opts;
//         auto app = build_cli(opts);
//         if (auto code = prockit::tools::parse(*app, argc, argv)) return *code;
//         return prockit::tools::guarded([&] { return run(opts); });
//     }
#pragma once

#include <prockit/sys/error.hpp>

#include <CLI/CLI.hpp>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace prockit::tools {

/// The name messages start with (default "prockit").
void set_tool_name(std::string name);
const std::string& tool_name();

/// "<tool>: cannot <context>: <reason>" on stderr.
void print_error(const Error& e);
/// "<tool>: <message>" on stderr.
void print_error(std::string_view message);
/// "<tool>: warning: <message>" on stderr.
void print_warning(std::string_view message);

/// A usage error raised by a tool's own checks after parsing: run() callers (guarded()) turn it
/// into exit status 2 with "<tool>: <what>; try '<tool> --help'".
class UsageError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Prints a usage error line and returns exit_usage.
int usage_error(std::string_view what);

/// Parses the command line with `app`. Returns std::nullopt when the tool should go on, or the
/// exit status to return at once: 0 after --help (printed on stdout), 2 after a usage error.
/// "NAME (prockit) VERSION": what --version prints (each tool adds the flag with
/// app.set_version_flag("--version", version_line(), ...); parse() prints it and returns 0).
std::string version_line();
std::optional<int> parse(CLI::App& app, int argc, const char* const* argv);
std::optional<int> parse(CLI::App& app, std::vector<std::string> args);  ///< args without argv[0]

/// Splits argv at the first "--": the part before (with argv[0]) for CLI11, the command after.
struct SplitArgs {
    std::vector<const char*> options;  ///< argv[0] and the arguments before "--"
    std::vector<std::string> command;  ///< the arguments after "--"
    bool had_separator = false;
};
SplitArgs split_command(int argc, const char* const* argv);

/// Calls fn and returns its exit status; a prockit::SystemError becomes its message and exit 1,
/// a UsageError exit 2, any other exception "<tool>: <what()>" and exit 1. Then finish_output().
int guarded(const std::function<int()>& fn);

/// Flushes stdout. If that fails, or an earlier write to it did (a full disk), prints
/// "<tool>: cannot write output: <reason>" and returns 1 in place of a 0 `code`: output that was
/// lost must not look like success.
int finish_output(int code);

/// CLI11's help formatter, minus the "{default}" CLI11 shows in the names of flags that take an
/// optional "=VALUE" (add_flag("--check{@}", ...)); they read "--check[=VALUE]" instead.
class Formatter : public CLI::Formatter {
public:
    std::string make_option_name(const CLI::Option* opt, bool is_positional) const override;
};

/// A CLI11 validator-free check for small non-negative integers in option text.
std::optional<unsigned long> parse_unsigned(std::string_view text);

}  // namespace prockit::tools
