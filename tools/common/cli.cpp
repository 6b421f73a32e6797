#include "cli.hpp"

#include "exit_codes.hpp"

#include <prockit/sched/affinity.hpp>
#include <prockit/sched/cpuset.hpp>
#include <prockit/sys/error.hpp>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <algorithm>
#include <iostream>
#include <sstream>

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

void print_error(const Error& e) { emit(tool_name() + ": " + one_line(error_text(e)) + "\n"); }

namespace {
// Where the detail starts in a context such as `parse duration "1x": unknown unit`: after the
// first `": ` (a quoted object, then what is wrong with it). npos when there is none.
std::size_t detail_at(const std::string& ctx) {
    auto at = ctx.find("\": ");
    return at == std::string::npos ? at : at + 3;
}
bool own_error(const Error& e) { return e.code().category() == prockit_category(); }
}  // namespace

std::string error_text(const Error& e) {
    if (own_error(e) && detail_at(e.context()) != std::string::npos) return "cannot " + e.context();
    return e.message();
}

std::string error_reason(const Error& e) {
    if (own_error(e)) {
        auto at = detail_at(e.context());
        if (at != std::string::npos && at < e.context().size()) return e.context().substr(at);
    }
    std::string r = e.code().message();
    // strerror's "No such file or directory" reads as the rest of our lowercase sentence.
    if (r.size() > 1 && std::isupper(static_cast<unsigned char>(r[0])) && std::islower(static_cast<unsigned char>(r[1])))
        r[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(r[0])));
    return r;
}
void print_error(std::string_view message) { emit(tool_name() + ": " + one_line(std::string(message)) + "\n"); }
void print_warning(std::string_view message) {
    emit(tool_name() + ": warning: " + one_line(std::string(message)) + "\n");
}

int usage_error(std::string_view what) {
    emit(tool_name() + ": " + one_line(std::string(what)) + "; try '" + tool_name() + " --help'\n");
    return exit_usage;
}

std::string version_line() { return tool_name() + " (prockit) " PROCKIT_VERSION; }

namespace {
std::string lower_first(std::string s) {
    if (s.size() > 1 && std::isupper(static_cast<unsigned char>(s[0])) && std::islower(static_cast<unsigned char>(s[1])))
        s[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
    return s;
}
}  // namespace

// CLI11's sentences, in the house form `cannot <verb> <object>: <reason>`:
//   "--nice: Value 99 not in range -20 to 19"  -> cannot parse --nice "99": expected a number from -20 to 19
//   "Could not convert: --retries = x"         -> cannot parse --retries "x": expected a number
//   "The following argument was not expected: --bogus"
//                                              -> cannot parse the command line: the following ...
std::string cli11_message(const std::string& given) {
    if (given.rfind("cannot ", 0) == 0) return given;
    std::string what = given;  // CLI11's capitalised count phrases, lowercased
    for (auto [from, to] : {std::pair{"At Most ", "at most "}, std::pair{"At Least ", "at least "}})
        for (auto at = what.find(from); at != std::string::npos; at = what.find(from, at))
            what.replace(at, std::string_view(from).size(), to);
    const std::string_view conv = "Could not convert: ";
    if (what.rfind(conv, 0) == 0) {
        auto eq = what.find(" = ", conv.size());
        if (eq != std::string::npos)
            return "cannot parse " + what.substr(conv.size(), eq - conv.size()) + " \"" + what.substr(eq + 3) +
                   "\": expected a number";
    }
    if (what.size() > 1 && what[0] == '-') {
        auto colon = what.find(": ");
        auto name_end = what.find_first_not_of("-abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789,");
        if (colon != std::string::npos && name_end == colon) {
            // "--nice: Value 3x not in range -20 to 19": the value quoted, as every other message.
            const std::string rest = what.substr(colon + 2), value = "Value ", range = " not in range ";
            auto in = rest.rfind(range);
            if (rest.rfind(value, 0) == 0 && in != std::string::npos && in >= value.size())
                return "cannot parse " + what.substr(0, colon) + " \"" + rest.substr(value.size(), in - value.size()) +
                       "\": expected a number from " + rest.substr(in + range.size());
            return "cannot parse " + what.substr(0, colon) + ": " + lower_first(rest);
        }
    }
    return "cannot parse the command line: " + lower_first(what);
}

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
        return usage_error(cli11_message(e.what()));
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

int finish_output(int code, int failure_status) {
    errno = 0;
    bool failed = std::fflush(stdout) != 0;
    failed = std::ferror(stdout) != 0 || failed;
    if (!failed) return code;
    if (errno != 0)
        print_error(Error::from_errno(errno, "write output"));
    else
        print_error("cannot write output");  // an earlier write failed; its reason is gone
    std::clearerr(stdout);                   // said once
    return code == 0 ? failure_status : code;
}

int guarded(const std::function<int()>& fn) { return guarded(fn, exit_usage, exit_failure); }

int guarded(const std::function<int()>& fn, int usage_status, int failure_status) {
    try {
        return finish_output(fn(), failure_status);
    } catch (const UsageError& e) {
        usage_error(e.what());
        return usage_status;
    } catch (const SystemError& e) {
        print_error(e.error());
        return failure_status;
    } catch (const std::bad_alloc&) {
        print_error("out of memory");
        return failure_status;
    } catch (const std::exception& e) {
        print_error(e.what());
        return failure_status;
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

std::string Formatter::make_option_opts(const CLI::Option* opt) const {
    if (!opt->get_option_text().empty()) return " " + opt->get_option_text();
    std::string name = value_name(opt);
    if (name.empty()) return {};
    std::string out = " " + name;
    if (opt->get_expected_max() == CLI::detail::expected_max_vector_size) out += " ...";
    if (opt->get_required()) out += " (required)";
    return out;
}

namespace {
// CLI11 appends each validator's description to the type name: "INT:INT in [-20 - 19]",
// "WHEN:{no,always}". The name without them.
std::string bare_type_name(const CLI::Option* opt) {
    std::string t = opt->get_type_name();
    auto* o = const_cast<CLI::Option*>(opt);  // CLI11 2.1 has no const get_validator(int)
    std::string tail;
    for (int i = 0;; ++i) {
        const CLI::Validator* v = nullptr;
        try {
            v = o->get_validator(i);
        } catch (const CLI::OptionNotFound&) {
            break;
        }
        if (std::string d = v->get_description(); !d.empty()) tail += ":" + d;
    }
    if (!tail.empty() && t.size() >= tail.size() && t.compare(t.size() - tail.size(), tail.size(), tail) == 0)
        t.erase(t.size() - tail.size());
    return t;
}
}  // namespace

bool takes_value(const CLI::Option* opt) { return opt->get_expected_max() > 0 && opt->get_type_size_max() > 0; }

std::string value_name(const CLI::Option* opt) {
    if (!takes_value(opt)) return {};
    std::string t = bare_type_name(opt);
    if (t.empty() || t == "TEXT") return "VALUE";
    if (t == "INT" || t == "UINT" || t == "FLOAT" || t == "NUMBER") return "N";
    return t;
}

std::vector<std::string> value_choices(const CLI::Option* opt) {
    std::string t = opt->get_type_name();
    auto open = t.find('{'), close = t.rfind('}');
    std::vector<std::string> out;
    if (open == std::string::npos || close == std::string::npos || close < open) return out;
    std::istringstream list(t.substr(open + 1, close - open - 1));
    std::string one;
    out.reserve(static_cast<std::size_t>(std::count(t.begin(), t.end(), ',')) + 1);
    while (std::getline(list, one, ','))
        if (!one.empty()) out.insert(out.end(), one);
    return out;
}

std::optional<unsigned long> parse_unsigned(std::string_view text) {
    unsigned long v = 0;
    auto r = std::from_chars(text.data(), text.data() + text.size(), v);
    if (r.ec != std::errc() || r.ptr != text.data() + text.size() || text.empty()) return std::nullopt;
    return v;
}

void bad_value(const std::string& option, const std::string& text, const std::string& why) {
    throw UsageError("cannot parse " + option + " \"" + text + "\": " + why);
}

CLI::Validator non_empty(std::string option, std::string what) {
    return CLI::Validator(
        [option, what](std::string& v) {
            if (v.empty()) bad_value(option, v, "empty " + what);
            return std::string();
        },
        "", "");
}

CLI::Validator number(std::string option, unsigned long lo, unsigned long hi) {
    return CLI::Validator(
        [option, lo, hi](std::string& v) {
            auto n = parse_unsigned(v);
            if (!n || *n < lo || *n > hi)
                bad_value(option, v,
                          "expected a number from " + std::to_string(lo) +
                              (hi == ~0ul ? std::string() : " to " + std::to_string(hi)));
            return std::string();
        },
        "", "");
}

CLI::Validator integer(std::string option, long lo, long hi) {
    return CLI::Validator(
        [option, lo, hi](std::string& v) {
            long n = 0;
            auto r = std::from_chars(v.data(), v.data() + v.size(), n);
            if (v.empty() || r.ec != std::errc() || r.ptr != v.data() + v.size() || n < lo || n > hi)
                bad_value(option, v, "expected a number from " + std::to_string(lo) + " to " + std::to_string(hi));
            return std::string();
        },
        "", "");
}

CLI::Validator cpu_list(std::string option) {
    return CLI::Validator(
        [option](std::string& v) {
            if (v.empty()) bad_value(option, v, "empty CPU list");
            auto allowed = get_affinity(0);  // what "all" means
            auto set = CpuSet::parse(v, allowed ? *allowed : CpuSet{});
            if (!set) bad_value(option, v, error_reason(set.error()));
            if (set->empty()) throw UsageError("cannot use " + option + " \"" + v + "\": it names no CPU");
            return std::string();
        },
        "", "");
}

}  // namespace prockit::tools
