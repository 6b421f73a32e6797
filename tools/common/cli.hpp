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

/// "<tool>: " + error_text(e) on stderr.
void print_error(const Error& e);

/// An error as one clear sentence: "cannot <context>: <reason>" — but a prockit error whose
/// context already says what is wrong (`parse duration "1x": unknown unit ...`) is not followed by
/// its category's generic reason ("malformed input", "not found") a second time.
std::string error_text(const Error& e);
/// What is wrong, for a message that names the thing itself ("cannot parse --timeout \"1x\": "
/// + error_reason(e)): the detail after the context's `": ` (`unknown unit ...`), or the error's
/// own reason (strerror, "malformed input") when the context has none.
std::string error_reason(const Error& e);
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

/// A CLI11 parse error's text in the house form (`cannot parse --opt: reason`).
std::string cli11_message(const std::string& what);

/// Prints a usage error line and returns exit_usage.
int usage_error(std::string_view what);

/// Parses the command line with `app`. Returns std::nullopt when the tool should go on, or the
/// exit status to return at once: 0 after --help (printed on stdout), 2 after a usage error.
/// "NAME (prockit) VERSION": what --version prints (each tool adds the flag with
/// app.set_version_flag("--version", version_line(), ...); parse() prints it and returns 0).
std::string version_line();
/// Adds util-linux's -V, --version (printing version_line()) to `app`. (Inline: compiled out of
/// line in cli.cpp, g++ 12 sees a null dereference in CLI11's name splitting that is not there.)
inline void add_version_flag(CLI::App& app) {
    app.set_version_flag("-V,--version", version_line(), "Print the version and exit");
}
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
/// The same with other statuses for a UsageError and for a failure (a pool of prun uses 255 for
/// both, as its 1-101 count failed jobs).
int guarded(const std::function<int()>& fn, int usage_status, int failure_status);

/// Flushes stdout. If that fails, or an earlier write to it did (a full disk), prints
/// "<tool>: cannot write output: <reason>" and returns 1 in place of a 0 `code`: output that was
/// lost must not look like success. (A pool of prun passes 255 as `failure_status`.)
int finish_output(int code, int failure_status = 1);

/// CLI11's help formatter, minus its raw placeholders: flags that take an optional "=VALUE"
/// (add_flag("--check{@}", ...)) read "--check[=VALUE]", not "--check{default}"; an option's value
/// reads as value_name() gives it ("N", "FILE"), never CLI11's "TEXT", "UINT" or
/// "INT:INT in [-20 - 19]" (the range belongs in the option's description).
class Formatter : public CLI::Formatter {
public:
    std::string make_option_name(const CLI::Option* opt, bool is_positional) const override;
    std::string make_option_opts(const CLI::Option* opt) const override;
};

/// The name of the value an option takes, as --help, the man page and the completions show it:
/// its type_name() when a tool set a readable one ("N", "FILE", "DURATION"), else one derived from
/// CLI11's type ("N" for numbers, "VALUE" for text); "" for a flag.
std::string value_name(const CLI::Option* opt);
/// Whether an option takes a value (a flag does not).
bool takes_value(const CLI::Option* opt);
/// The fixed choices of an option checked with CLI::IsMember ({"no", "always"}), else empty.
std::vector<std::string> value_choices(const CLI::Option* opt);

/// A CLI11 validator-free check for small non-negative integers in option text.
std::optional<unsigned long> parse_unsigned(std::string_view text);

/// Throws the usage error `cannot parse OPTION "TEXT": WHY`.
[[noreturn]] void bad_value(const std::string& option, const std::string& text, const std::string& why);
/// A validator: the value is not empty (else `cannot parse OPTION "": empty WHAT`).
CLI::Validator non_empty(std::string option, std::string what);
/// A validator: a number from lo to hi (~0ul: no upper bound).
CLI::Validator number(std::string option, unsigned long lo, unsigned long hi);
/// A validator: a whole number, possibly negative, from lo to hi (`cannot parse OPTION "TEXT":
/// expected a number from LO to HI`; empty text, trailing garbage and overflow included).
CLI::Validator integer(std::string option, long lo, long hi);
/// A validator: a CPU list or mask as CpuSet::parse() reads it, naming at least one CPU
/// (`cannot parse OPTION "1,": list ends with ',' at character 3`).
CLI::Validator cpu_list(std::string option);

}  // namespace prockit::tools
