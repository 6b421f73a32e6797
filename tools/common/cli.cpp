#include "cli.hpp"

#include "exit_codes.hpp"

#include <prockit/sys/error.hpp>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <iostream>

namespace prockit::tools {

namespace {
std::string& name_storage() {
    static std::string name = "prockit";
    return name;
}

std::string one_line(std::string s) {
    for (char& c : s)
        if (c == '\n' || c == '\r') c = ' ';
    while (!s.empty() && s.back() == ' ') s.pop_back();
    return s;
}

void emit(const std::string& line) {
    std::fflush(stdout);
    std::fputs(line.c_str(), stderr);
    std::fflush(stderr);
}
}  // namespace

void set_tool_name(std::string name) { name_storage() = std::move(name); }
const std::string& tool_name() { return name_storage(); }

void print_error(const Error& e) { emit(tool_name() + ": " + one_line(e.message()) + "\n"); }
void print_error(std::string_view message) { emit(tool_name() + ": " + one_line(std::string(message)) + "\n"); }
void print_warning(std::string_view message) {
    emit(tool_name() + ": warning: " + one_line(std::string(message)) + "\n");
}

int usage_error(std::string_view what) {
    emit(tool_name() + ": " + one_line(std::string(what)) + "; try '" + tool_name() + " --help'\n");
    return exit_usage;
}

std::string version_line() { return tool_name() + " (prockit) " PROCKIT_VERSION; }

std::optional<int> parse(CLI::App& app, int argc, const char* const* argv) {
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp&) {
        std::cout << app.help() << std::flush;
        return exit_ok;
    } catch (const CLI::CallForAllHelp&) {
        std::cout << app.help("", CLI::AppFormatMode::All) << std::flush;
        return exit_ok;
    } catch (const CLI::CallForVersion& e) {
        std::cout << e.what() << std::endl;
        return exit_ok;
    } catch (const CLI::ParseError& e) {
        return usage_error(e.what());
    } catch (const UsageError& e) {  // thrown from an option callback
        return usage_error(e.what());
    }
    return std::nullopt;
}

std::optional<int> parse(CLI::App& app, std::vector<std::string> args) {
    std::vector<const char*> argv;
    argv.push_back(tool_name().c_str());
    for (const std::string& a : args) argv.push_back(a.c_str());
    return parse(app, static_cast<int>(argv.size()), argv.data());
}

SplitArgs split_command(int argc, const char* const* argv) {
    SplitArgs out;
    int i = 0;
    for (; i < argc; ++i) {
        if (i > 0 && std::string_view(argv[i]) == "--") {
            out.had_separator = true;
            ++i;
            break;
        }
        out.options.push_back(argv[i]);
    }
    for (; i < argc; ++i) out.command.emplace_back(argv[i]);
    return out;
}

int finish_output(int code) {
    errno = 0;
    bool failed = std::fflush(stdout) != 0;
    failed = std::ferror(stdout) != 0 || failed;
    if (!failed) return code;
    if (errno != 0)
        print_error(Error::from_errno(errno, "write output"));
    else
        print_error("cannot write output");  // an earlier write failed; its reason is gone
    std::clearerr(stdout);                   // said once
    return code == 0 ? exit_failure : code;
}

int guarded(const std::function<int()>& fn) {
    try {
        return finish_output(fn());
    } catch (const UsageError& e) {
        return usage_error(e.what());
    } catch (const SystemError& e) {
        print_error(e.error());
        return exit_failure;
    } catch (const std::bad_alloc&) {
        print_error("out of memory");
        return exit_failure;
    } catch (const std::exception& e) {
        print_error(e.what());
        return exit_failure;
    }
}

std::string Formatter::make_option_name(const CLI::Option* opt, bool is_positional) const {
    std::string name = CLI::Formatter::make_option_name(opt, is_positional);
    std::string out;
    bool optional_value = false;
    for (std::size_t i = 0; i < name.size(); ++i) {
        if (name[i] == '{') {
            std::size_t close = name.find('}', i);
            if (close != std::string::npos) {
                i = close;
                optional_value = true;
                continue;
            }
        }
        out += name[i];
    }
    if (optional_value) out += "[=VALUE]";
    return out;
}

std::optional<unsigned long> parse_unsigned(std::string_view text) {
    unsigned long v = 0;
    auto r = std::from_chars(text.data(), text.data() + text.size(), v);
    if (r.ec != std::errc() || r.ptr != text.data() + text.size() || text.empty()) return std::nullopt;
    return v;
}

}  // namespace prockit::tools
