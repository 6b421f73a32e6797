#include "completion.hpp"

#include "cli.hpp"

#include <prockit/process/rlimit_spec.hpp>
#include <prockit/security/capabilities.hpp>
#include <prockit/security/seccomp.hpp>
#include <prockit/sys/signals.hpp>

#include <linux/capability.h>

#include <algorithm>
#include <sstream>

namespace prockit::tools {
namespace {

// ---------------------------------------------------------------- what a value completes to

/// What a value completes to besides fixed words. Each shell has its own way to list them.
enum class Kind { none, file, dir, user, pid, cpus, jobs, rules, signal_seq, command };

struct Value {
    Kind kind = Kind::none;
    std::vector<std::string> words;  ///< fixed words, offered too
    bool nospace = false;            ///< the word goes on (RES= takes its limits)
};

std::vector<std::string> capability_words() {
    std::vector<std::string> v{"all"};
    for (int cap = 0; cap <= CAP_LAST_CAP; ++cap) {
        std::string n = capability_name(cap);
        if (n.rfind("cap_", 0) == 0) n.erase(0, 4);
        v.push_back(n);
    }
    return v;
}

/// The standard signals' names (TERM, KILL, ...), as parse_signal() reads them.
std::vector<std::string> signal_words() {
    std::vector<std::string> v;
    for (int sig = 1; sig < 32; ++sig)
        if (std::string n = signal_name(sig); !n.empty() && std::find(v.begin(), v.end(), n) == v.end())
            v.push_back(n);
    return v;
}

Value value_of(const CLI::Option* o) {
    if (auto choices = value_choices(o); !choices.empty()) return {Kind::none, choices};
    std::string name = value_name(o);
    if (name == "FILE" || name == "PATH") return {Kind::file, {}};
    if (name == "DIR") return {Kind::dir, {}};
    if (name == "USER" || name.rfind("USER[", 0) == 0) return {Kind::user, {}};
    if (name == "PID") return {Kind::pid, {}};
    if (name == "CPUS" || name == "LIST") return {Kind::cpus, {}};
    if (name == "SPEC") return {Kind::jobs, {}};
    if (name == "RULE") return {Kind::rules, {}};
    if (name == "SIG") return {Kind::none, signal_words()};
    if (name == "SEQ") return {Kind::signal_seq, {}};
    if (name == "CMD") return {Kind::command, {}};
    if (name == "CAPS") return {Kind::none, capability_words()};
    if (name == "PROFILE|FILE") return {Kind::file, SeccompFilter::profile_names()};
    if (name.rfind("RES=", 0) == 0) {
        Value v{Kind::none, {}, true};
        for (const auto& r : rlimit_names()) v.words.push_back(r + "=");
        return v;
    }
    return {};
}

bool completes_nothing(const Value& v) { return v.kind == Kind::none && v.words.empty(); }

std::string join(const std::vector<std::string>& v, const char* sep = " ") {
    std::string out;
    for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
    return out;
}

/// Every name of an option: "-j", "--jobs".
std::vector<std::string> names_of(const CLI::Option* o) {
    std::vector<std::string> v;
    for (const auto& s : o->get_snames()) v.push_back("-" + s);
    for (const auto& l : o->get_lnames()) v.push_back("--" + l);
    return v;
}

std::vector<const CLI::Option*> options_of(const CLI::App* app) {
    return app->get_options([](const CLI::Option* o) { return o->nonpositional(); });
}
std::vector<const CLI::Option*> positionals_of(const CLI::App* app) {
    return app->get_options([](const CLI::Option* o) { return o->get_positional(); });
}
std::vector<const CLI::App*> subcommands_of(const CLI::App* app) {
    return app->get_subcommands([](const CLI::App*) { return true; });
}

/// The option words of an app, and the ones that take a value.
std::vector<std::string> all_names(const CLI::App* app) {
    std::vector<std::string> v;
    for (const auto* o : options_of(app))
        for (auto& n : names_of(o)) v.push_back(n);
    return v;
}
std::vector<std::string> value_names(const CLI::App* app) {
    std::vector<std::string> v;
    for (const auto* o : options_of(app))
        if (takes_value(o))
            for (auto& n : names_of(o)) v.push_back(n);
    return v;
}

/// One positional slot: what it completes to, and how many words it takes (0: all the rest).
struct Slot {
    Value value;
    int count = 1;
};

/// A context: the top level ("") or one subcommand.
struct Context {
    std::string name;
    const CLI::App* app = nullptr;
    std::vector<Slot> slots;
    std::vector<std::string> subcommands;  ///< offered where the first positional goes (top level)
    bool command_after_dashes = false;
    bool command_at_first_word = false;

    /// What the positional at index n completes to.
    Value positional(std::size_t n) const {
        for (const Slot& s : slots) {
            if (s.count == 0 || n < static_cast<std::size_t>(s.count)) return s.value;
            n -= static_cast<std::size_t>(s.count);
        }
        return {};
    }
};

std::vector<Context> contexts_of(const CompletionSource& src) {
    std::vector<Context> out;
    auto make = [&](const std::string& name, const CLI::App* app) {
        Context c;
        c.name = name;
        c.app = app;
        for (const auto* p : positionals_of(app)) {
            int max = p->get_expected_max();
            c.slots.push_back({value_of(p), max == CLI::detail::expected_max_vector_size || max > 1000 ? 0 : max});
        }
        if (app == src.app)
            for (const auto* s : subcommands_of(app)) c.subcommands.push_back(s->get_name());
        bool runs = std::find(src.command_contexts.begin(), src.command_contexts.end(), name) !=
                    src.command_contexts.end();
        c.command_after_dashes = runs;
        c.command_at_first_word =
            runs && ((c.slots.empty() && c.subcommands.empty()) ||
                     (!c.slots.empty() && c.slots.front().value.kind == Kind::command));
        return c;
    };
    out.push_back(make("", src.app));
    for (const auto* s : subcommands_of(src.app)) out.push_back(make(s->get_name(), s));
    return out;
}

bool any_command(const std::vector<Context>& cs) {
    return std::any_of(cs.begin(), cs.end(), [](const Context& c) { return c.command_after_dashes; });
}
bool uses(const std::vector<Context>& cs, Kind k) {
    for (const Context& c : cs) {
        for (const auto* o : options_of(c.app))
            if (takes_value(o) && value_of(o).kind == k) return true;
        for (const Slot& s : c.slots)
            if (s.value.kind == k) return true;
    }
    return false;
}

std::string header(const std::string& shell, const std::string& tool, const char* comment) {
    std::string c(comment);
    return c + " " + shell + " completion for " + tool + "(1).\n" + c + " Generated from " + tool +
           "'s command line (build_cli) by tools/common/completion.cpp: do not edit;\n" + c +
           " `cmake --build build --target update-completions` writes it again.\n";
}

/// Groups the value-taking options of an app by what a shell writes for their value.
template <class Reply>
std::vector<std::pair<std::string, std::vector<std::string>>> by_reply(const CLI::App* app, Reply reply) {
    std::vector<std::pair<std::string, std::vector<std::string>>> cases;
    for (const auto* o : options_of(app)) {
        if (!takes_value(o)) continue;
        std::string r = reply(value_of(o));
        auto it = std::find_if(cases.begin(), cases.end(), [&](const auto& c) { return c.first == r; });
        if (it == cases.end()) it = cases.insert(cases.end(), {r, {}});
        for (auto& n : names_of(o)) it->second.push_back(n);
    }
    return cases;
}

// ---------------------------------------------------------------- bash

/// Sets COMPREPLY for a value and returns from the completion function.
std::string bash_reply(const Value& v) {
    if (completes_nothing(v)) return "return";
    std::string words = join(v.words);
    auto add = [&](const std::string& w) { words += (words.empty() ? "" : " ") + w; };
    std::string flags, after;
    switch (v.kind) {
        case Kind::none: break;
        case Kind::file: flags = " -f"; after = "; compopt -o filenames 2>/dev/null"; break;
        case Kind::dir: flags = " -d"; after = "; compopt -o filenames 2>/dev/null"; break;
        case Kind::user: flags = " -u"; break;
        case Kind::command: flags = " -c"; break;
        case Kind::pid: add("$(cd /proc && echo [0-9]*)"); break;
        case Kind::cpus: add("$(_prockit_cpu_words \"$cur\")"); break;
        case Kind::jobs: add("$(pjobs list --specs 2>/dev/null)"); break;
        case Kind::rules: add("$(poomguard check-config --list-rules 2>/dev/null)"); break;
        case Kind::signal_seq: add("$(_prockit_signal_seq_words \"$cur\")"); break;
    }
    if (v.nospace) after += "; compopt -o nospace 2>/dev/null";
    std::string w = words.empty() ? "" : " -W \"" + words + "\"";
    return "COMPREPLY=($(compgen" + w + flags + " -- \"$cur\"))" + after + "; return";
}

/// The shell helpers the values need (defined once per file, the same text in every file).
std::string bash_helpers(const std::vector<Context>& cs) {
    std::ostringstream s;
    if (uses(cs, Kind::cpus)) {
        s << "# The online CPUs, each one and the whole list; after a comma, the list's next element.\n";
        s << "_prockit_cpu_words() {\n";
        s << "    local pre= online r a\n";
        s << "    [[ $1 == *,* ]] && pre=${1%,*},\n";
        s << "    read -r online </sys/devices/system/cpu/online 2>/dev/null || return 0\n";
        s << "    local IFS=,\n";
        s << "    for r in $online; do\n";
        s << "        if [[ $r == *-* ]]; then\n";
        s << "            for ((a = ${r%-*}; a <= ${r#*-}; a++)); do echo \"$pre$a\"; done\n";
        s << "        else\n            echo \"$pre$r\"\n        fi\n    done\n";
        s << "    [[ -z $pre ]] && echo \"$online\"\n    return 0\n}\n";
    }
    if (uses(cs, Kind::signal_seq)) {
        s << "# SIG,MS,SIG,...: signal names where a signal goes.\n";
        s << "_prockit_signal_seq_words() {\n";
        s << "    local pre= n\n";
        s << "    [[ $1 == *,* ]] && pre=${1%,*},\n";
        s << "    n=${pre//[^,]/}\n";
        s << "    ((${#n} % 2)) && return 0\n";
        s << "    for n in " << join(signal_words()) << "; do echo \"$pre$n\"; done\n}\n";
    }
    return s.str();
}

}  // namespace

std::string bash_completion(const CompletionSource& src) {
    const std::string fn = "_" + src.tool;
    auto cs = contexts_of(src);
    std::ostringstream s;
    s << header("bash", src.tool, "#");
    s << bash_helpers(cs);
    s << fn << "() {\n";
    s << "    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n";
    s << "    # --opt=value: bash makes \"=\" a word of its own.\n";
    s << "    [[ $prev == = ]] && ((COMP_CWORD >= 2)) && prev=${COMP_WORDS[COMP_CWORD-2]}\n";
    s << "    [[ $cur == = ]] && ((COMP_CWORD >= 1)) && prev=${COMP_WORDS[COMP_CWORD-1]} cur=\n";
    s << "    local i=1 w cmd=0 sub= npos=0 inputs=0\n";
    s << "    # The subcommand given, how many positionals it has so far, and where a command starts\n";
    s << "    # (in the contexts that run one), and whether the command's inputs began.\n";
    s << "    while ((i < COMP_CWORD)); do\n";
    s << "        w=${COMP_WORDS[i]}\n";
    s << "        if ((cmd)); then\n";
    if (!src.input_separators.empty())
        s << "            case $w in " << join(src.input_separators, "|") << ") inputs=1 ;; esac\n";
    s << "            ((i++))\n            continue\n        fi\n";
    s << "        case $sub in\n";
    for (const Context& c : cs) {
        s << "            " << (c.name.empty() ? "\"\"" : c.name) << ")\n";
        s << "                case $w in\n";
        if (c.command_after_dashes) s << "                    --) cmd=$((i + 1)) ;;\n";
        if (auto v = value_names(c.app); !v.empty())
            s << "                    " << join(v, "|") << ") ((i++)); [[ ${COMP_WORDS[i]} == = ]] && ((i++)) ;;\n";
        // A negative number is a positional (poomguard set -500), where one is expected.
        if (!c.slots.empty() && !c.command_at_first_word) s << "                    -[0-9]*) ((npos++)) ;;\n";
        s << "                    -*) ;;\n";
        if (!c.subcommands.empty())
            s << "                    " << join(c.subcommands, "|")
              << ") if ((npos == 0)); then sub=$w; else ((npos++)); fi ;;\n";
        s << "                    *) " << (c.command_at_first_word ? "cmd=$i" : "((npos++))") << " ;;\n";
        s << "                esac ;;\n";
    }
    s << "        esac\n        ((i++))\n    done\n";
    if (any_command(cs)) {
        s << "    if ((cmd)); then\n";
        if (!src.input_separators.empty())
            s << "        if ((inputs)); then COMPREPLY=($(compgen -f -- \"$cur\")); return; fi\n";
        s << "        if ((cmd == COMP_CWORD)); then COMPREPLY=($(compgen -c -- \"$cur\")); return; fi\n";
        s << "        # The command's own completion (bash-completion's _command_offset), else files.\n";
        s << "        if declare -F _command_offset >/dev/null; then _command_offset \"$cmd\"; return; fi\n";
        s << "        COMPREPLY=($(compgen -f -- \"$cur\"))\n        return\n    fi\n";
    }
    s << "    case $sub in\n";
    for (const Context& c : cs) {
        s << "        " << (c.name.empty() ? "\"\"" : c.name) << ")\n";
        // The value of the option before the cursor.
        auto cases = by_reply(c.app, bash_reply);
        if (!cases.empty()) {
            s << "            case $prev in\n";
            for (const auto& [reply, names] : cases) s << "                " << join(names, "|") << ") " << reply << " ;;\n";
            s << "            esac\n";
        }
        s << "            if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W \"" << join(all_names(c.app))
          << "\" -- \"$cur\")); return; fi\n";
        // The positional at the cursor.
        std::vector<std::pair<std::string, std::string>> at;  // npos pattern, reply
        std::size_t fixed = 0;
        bool rest = false;
        for (const Slot& sl : c.slots) {
            if (sl.count == 0) {
                rest = true;
                break;
            }
            fixed += static_cast<std::size_t>(sl.count);
        }
        for (std::size_t n = 0; n < fixed; ++n) {
            Value v = c.positional(n);
            if (n == 0) v.words.insert(v.words.begin(), c.subcommands.begin(), c.subcommands.end());
            at.emplace_back(std::to_string(n), bash_reply(v));
        }
        if (fixed == 0 && !c.subcommands.empty()) {
            Value first = c.positional(0);
            first.words.insert(first.words.begin(), c.subcommands.begin(), c.subcommands.end());
            at.emplace_back("0", bash_reply(first));
        }
        Value tail = rest ? c.positional(fixed) : Value{};
        if (c.command_at_first_word && c.slots.empty()) tail = {Kind::command, {}};
        at.emplace_back("*", bash_reply(tail));
        if (std::all_of(at.begin(), at.end(), [&](const auto& a) { return a.second == at.front().second; })) {
            s << "            " << at.front().second << " ;;\n";
        } else {
            s << "            case $npos in\n";
            for (const auto& [n, reply] : at) s << "                " << n << ") " << reply << " ;;\n";
            s << "            esac ;;\n";
        }
    }
    s << "    esac\n}\n";
    s << "complete -F " << fn << " " << src.tool << "\n";
    return s.str();
}

// ---------------------------------------------------------------- zsh

namespace {

// Text inside an _arguments spec, itself in single quotes: brackets and colons escaped.
std::string zsh_escape(const std::string& text) {
    std::string out;
    for (char c : text) {
        if (c == '\'') out += "'\\''";
        else if (c == '[' || c == ']' || c == ':') out += std::string("\\") + c;
        else out += c;
    }
    return out;
}

std::string zsh_action(const Value& v) {
    if (completes_nothing(v)) return " ";
    std::string words = join(v.words);
    switch (v.kind) {
        case Kind::none: return v.nospace ? "{compadd -S '' -- " + words + "}" : "(" + words + ")";
        case Kind::file:
            if (v.words.empty()) return "_files";
            return "{_alternative \"words\\:value\\:(" + words + ")\" \"files\\:file\\:_files\"}";
        case Kind::dir: return "_files -/";
        case Kind::user: return "_users";
        case Kind::pid: return "_pids";
        case Kind::cpus: return "_prockit_cpus";
        case Kind::jobs: return "_prockit_pjobs_specs";
        case Kind::rules: return "_prockit_poomguard_rules";
        case Kind::signal_seq: return "_prockit_signal_seq";
        case Kind::command: return "_command_names -e";
    }
    return " ";
}

void zsh_specs(std::ostringstream& s, const CLI::App* app, const char* indent, const char* eol) {
    for (const auto* o : options_of(app)) {
        std::string desc = zsh_escape(o->get_description());
        bool repeat = o->get_expected_max() > 1;
        for (const auto& n : names_of(o)) {
            s << indent << "'" << (repeat ? "*" : "") << n;
            if (takes_value(o)) {
                s << (n.size() == 2 ? "+" : "=") << "[" << desc << "]:" << zsh_escape(value_name(o)) << ":"
                  << zsh_action(value_of(o));
            } else {
                s << "[" << desc << "]";
            }
            s << "'" << eol << "\n";
        }
    }
}

/// The positionals of a context as _arguments specs: '1:ADJ: ', '*:PID:_pids'.
void zsh_positional_specs(std::ostringstream& s, const Context& c, const char* indent, const char* eol) {
    if (c.command_at_first_word) {
        s << indent << "'*::command:_normal'" << eol << "\n";
        return;
    }
    int n = 1;
    for (const auto* p : positionals_of(c.app)) {
        Value v = value_of(p);
        int max = p->get_expected_max();
        bool rest = max == CLI::detail::expected_max_vector_size || max > 1000;
        std::string spec = ":" + zsh_escape(value_name(p)) + ":" + zsh_action(v);
        if (rest) {
            s << indent << "'*" << spec << "'" << eol << "\n";
            return;
        }
        for (int k = 0; k < max; ++k) s << indent << "'" << n++ << spec << "'" << eol << "\n";
    }
}

std::string zsh_dashes(const char* indent) {
    std::string i(indent);
    return i + "# After \"--\": the command's own completion.\n" + i + "local dd=${words[(i)--]}\n" + i +
           "if ((dd < CURRENT)); then\n" + i + "    shift $dd words\n" + i + "    ((CURRENT -= dd))\n" + i +
           "    _normal\n" + i + "    return\n" + i + "fi\n";
}

std::string zsh_helpers(const std::vector<Context>& cs) {
    std::ostringstream s;
    if (uses(cs, Kind::cpus)) {
        s << "# The online CPUs, each one and the whole list; after a comma, the list's next element.\n";
        s << "_prockit_cpus() {\n";
        s << "    local online r a\n    local -a cpus\n";
        s << "    [[ -r /sys/devices/system/cpu/online ]] || return 1\n";
        s << "    online=$(</sys/devices/system/cpu/online)\n";
        s << "    for r in ${(s:,:)online}; do\n";
        s << "        if [[ $r == *-* ]]; then\n";
        s << "            for ((a = ${r%-*}; a <= ${r#*-}; a++)); do cpus+=($a); done\n";
        s << "        else\n            cpus+=($r)\n        fi\n    done\n";
        s << "    compset -P '*,' || cpus+=($online)\n";
        s << "    compadd -a cpus\n}\n";
    }
    if (uses(cs, Kind::signal_seq)) {
        s << "# SIG,MS,SIG,...: signal names where a signal goes.\n";
        s << "_prockit_signal_seq() {\n";
        s << "    compset -P '*,'\n";
        s << "    local commas=${IPREFIX//[^,]/}\n";
        s << "    ((${#commas} % 2)) && return 1\n";
        s << "    compadd -- " << join(signal_words()) << "\n}\n";
    }
    if (uses(cs, Kind::jobs)) {
        s << "# The jobs of the running pjobs server (--specs starts none).\n";
        s << "_prockit_pjobs_specs() {\n";
        s << "    local -a specs\n";
        s << "    specs=(${(f)\"$(_call_program jobs pjobs list --specs 2>/dev/null)\"})\n";
        s << "    compadd -a specs\n}\n";
    }
    if (uses(cs, Kind::rules)) {
        s << "# The rules of poomguard's default rules files.\n";
        s << "_prockit_poomguard_rules() {\n";
        s << "    local -a rules\n";
        s << "    rules=(${(f)\"$(_call_program rules poomguard check-config --list-rules 2>/dev/null)\"})\n";
        s << "    compadd -a rules\n}\n";
    }
    return s.str();
}

}  // namespace

std::string zsh_completion(const CompletionSource& src) {
    const std::string fn = "_" + src.tool;
    auto cs = contexts_of(src);
    const Context& top = cs.front();
    std::ostringstream s;
    s << "#compdef " << src.tool << "\n" << header("zsh", src.tool, "#");
    s << zsh_helpers(cs);
    s << fn << "() {\n";
    if (top.command_after_dashes) s << zsh_dashes("    ");
    s << "    local curcontext=$curcontext state line ret=1\n";
    s << "    local -a args\n    args=(\n";
    zsh_specs(s, src.app, "        ", "");
    bool subs = !top.subcommands.empty();
    if (subs) s << "        '*:: :->args'\n";
    else zsh_positional_specs(s, top, "        ", "");
    s << "    )\n";
    s << "    _arguments -s -S -C $args && ret=0\n";
    if (subs) {
        s << "    if [[ $state == args ]]; then\n";
        s << "        case $words[1] in\n";
        for (std::size_t k = 1; k < cs.size(); ++k) {
            const Context& c = cs[k];
            s << "            " << c.name << ")\n";
            if (c.command_after_dashes) s << zsh_dashes("                ");
            s << "                _arguments -s \\\n";
            zsh_specs(s, c.app, "                    ", " \\");
            zsh_positional_specs(s, c, "                    ", " \\");
            s << "                    && ret=0\n                return ret ;;\n";
        }
        s << "        esac\n";
        s << "        if ((CURRENT == 1)); then\n";
        s << "            _alternative 'subcommands:subcommand:((";
        for (std::size_t k = 1; k < cs.size(); ++k)
            s << cs[k].name << "\\:\"" << zsh_escape(cs[k].app->get_description()) << "\" ";
        s << "))'";
        if (Value v = top.positional(0); !completes_nothing(v))
            s << " 'values:" << zsh_escape(value_name(positionals_of(src.app).front())) << ":" << zsh_action(v) << "'";
        s << " && ret=0\n";
        if (Value v = top.positional(1); !completes_nothing(v))
            s << "        else\n            _alternative 'values:" << zsh_escape(value_name(positionals_of(src.app).back()))
              << ":" << zsh_action(v) << "' && ret=0\n";
        s << "        fi\n";
        s << "    fi\n";
    }
    s << "    return ret\n}\n";
    s << fn << " \"$@\"\n";
    return s.str();
}

// ---------------------------------------------------------------- fish

namespace {

std::string fish_quote(const std::string& text) {
    std::string out = "'";
    for (char c : text) {
        if (c == '\'' || c == '\\') out += '\\';
        out += c;
    }
    return out + "'";
}

std::string fish_names(const CLI::Option* o) {
    std::string out;
    for (const auto& sn : o->get_snames()) out += (sn.size() == 1 ? " -s " : " -o ") + sn;
    for (const auto& l : o->get_lnames()) out += " -l " + l;
    return out;
}

/// The -a argument of fixed words and what a kind lists, or "".
std::string fish_candidates(const Value& v) {
    std::string a = join(v.words);
    auto add = [&](const std::string& w) { a += (a.empty() ? "" : " ") + w; };
    switch (v.kind) {
        case Kind::dir: add("(__fish_complete_directories)"); break;
        case Kind::user: add("(__fish_complete_users)"); break;
        case Kind::pid: add("(__fish_complete_pids)"); break;
        case Kind::cpus: add("(__prockit_cpus)"); break;
        case Kind::jobs: add("(command -q pjobs; and pjobs list --specs 2>/dev/null)"); break;
        case Kind::rules: add("(command -q poomguard; and poomguard check-config --list-rules 2>/dev/null)"); break;
        case Kind::signal_seq: add("(__prockit_signal_seq)"); break;
        case Kind::command: add("(__fish_complete_command)"); break;
        case Kind::none:
        case Kind::file: break;
    }
    return a;
}

/// An option's value: -r -F (files), -x -a ... (other words), -x (nothing).
std::string fish_value(const Value& v) {
    std::string a = fish_candidates(v);
    std::string files = v.kind == Kind::file ? " -r -F" : " -x";
    return files + (a.empty() ? "" : " -a " + fish_quote(a));
}

std::string fish_helpers(const std::vector<Context>& cs) {
    std::ostringstream s;
    if (uses(cs, Kind::cpus)) {
        s << "# The online CPUs, each one and the whole list; after a comma, the list's next element.\n";
        s << "function __prockit_cpus\n";
        s << "    set -l pre (string match -r '^.*,' -- (commandline -ct))\n";
        s << "    test -r /sys/devices/system/cpu/online; or return 0\n";
        s << "    set -l online (cat /sys/devices/system/cpu/online)\n";
        s << "    for r in (string split , -- $online)\n";
        s << "        set -l ab (string split - -- $r)\n";
        s << "        for a in (seq $ab[1] $ab[-1])\n            echo \"$pre$a\"\n        end\n";
        s << "    end\n";
        s << "    test -z \"$pre\"; and echo $online\n";
        s << "    return 0\nend\n\n";
    }
    if (uses(cs, Kind::signal_seq)) {
        s << "# SIG,MS,SIG,...: signal names where a signal goes.\n";
        s << "function __prockit_signal_seq\n";
        s << "    set -l pre (string match -r '^.*,' -- (commandline -ct))\n";
        s << "    set -l commas (string replace -ra '[^,]' '' -- \"$pre\")\n";
        s << "    test (math (string length -- \"$commas\") % 2) -eq 0; or return 0\n";
        s << "    for n in " << join(signal_words()) << "\n        echo \"$pre$n\"\n    end\nend\n\n";
    }
    return s.str();
}

}  // namespace

std::string fish_completion(const CompletionSource& src) {
    const std::string t = src.tool;
    const std::string walk = "__prockit_" + t + "_walk";
    const std::string in = "__prockit_" + t + "_in";
    auto cs = contexts_of(src);
    std::ostringstream s;
    s << header("fish", t, "#") << "\n";
    s << fish_helpers(cs);
    s << "# Prints the subcommand given (. for none), how many positionals it has so far, and the\n";
    s << "# index of the word where a command starts (0: none), for the words before the cursor.\n";
    s << "function " << walk << "\n";
    s << "    set -l words (commandline -opc)\n    set -l i 2\n    set -l sub .\n    set -l npos 0\n";
    s << "    while test $i -le (count $words)\n";
    s << "        set -l w $words[$i]\n";
    s << "        switch $sub\n";
    for (const Context& c : cs) {
        s << "            case " << (c.name.empty() ? "." : c.name) << "\n";
        s << "                switch $w\n";
        if (c.command_after_dashes)
            s << "                    case --\n                        echo $sub\\n$npos\\n(math $i + 1)\n"
                 "                        return 0\n";
        if (auto v = value_names(c.app); !v.empty()) {
            s << "                    case";
            for (const auto& n : v) s << " " << fish_quote(n);
            s << "\n                        set i (math $i + 1)\n";
        }
        s << "                    case '-*'\n";
        if (!c.slots.empty() && !c.command_at_first_word)
            s << "                        string match -qr -- '^-[0-9]' $w; and set npos (math $npos + 1)\n";
        if (!c.subcommands.empty()) {
            s << "                    case " << join(c.subcommands) << "\n";
            s << "                        if test $npos -eq 0\n                            set sub $w\n"
                 "                        else\n                            set npos (math $npos + 1)\n"
                 "                        end\n";
        }
        s << "                    case '*'\n";
        if (c.command_at_first_word)
            s << "                        echo $sub\\n$npos\\n$i\n                        return 0\n";
        else
            s << "                        set npos (math $npos + 1)\n";
        s << "                end\n";
    }
    s << "        end\n        set i (math $i + 1)\n    end\n";
    std::vector<std::string> first_word;
    for (const Context& c : cs)
        if (c.command_at_first_word) first_word.push_back(c.name.empty() ? "." : c.name);
    if (!first_word.empty()) {
        s << "    # The word being typed starts the command when it is no option and no option's value.\n";
        s << "    if contains -- $sub " << join(first_word) << "; and test $i -eq (math (count $words) + 1)\n";
        s << "        and not string match -q -- '-*' (commandline -ct)\n";
        s << "        echo $sub\\n$npos\\n$i\n        return 0\n    end\n";
    }
    s << "    echo $sub\\n$npos\\n0\nend\n\n";
    s << "# Whether the cursor is in subcommand $argv[1] (. for none), no command started, and (with\n";
    s << "# $argv[2]) at positional $argv[2] (N+: N or later).\n";
    s << "function " << in << "\n";
    s << "    set -l st (" << walk << ")\n";
    s << "    test $st[1] = $argv[1]; and test $st[3] -eq 0; or return 1\n";
    s << "    set -q argv[2]; or return 0\n";
    s << "    if string match -q -- '*+' $argv[2]\n";
    s << "        test $st[2] -ge (string trim -c + -- $argv[2])\n";
    s << "    else\n        test $st[2] -eq $argv[2]\n    end\nend\n\n";
    if (any_command(cs)) {
        const std::string complete_command = "__prockit_" + t + "_complete_command";
        s << "# The command's own completion, from the word where it starts.\n";
        s << "function " << complete_command << "\n";
        s << "    set -l at (" << walk << ")[3]\n    set -l words (commandline -opc)\n";
        s << "    if test $at -gt (count $words)\n        __fish_complete_command\n        return\n    end\n";
        s << "    __fish_complete_subcommand --commandline $words[$at..-1] (commandline -ct)\nend\n\n";
        s << "complete -c " << t << " -n 'test (" << walk << ")[3] -gt 0' -x -a '(" << complete_command << ")'\n";
    }
    for (const Context& c : cs) {
        const std::string here = in + " " + (c.name.empty() ? "." : c.name);
        if (!c.name.empty())
            s << "complete -c " << t << " -n " << fish_quote(in + " . 0") << " -f -a " << c.name << " -d "
              << fish_quote(c.app->get_description()) << "\n";
        for (const auto* o : options_of(c.app))
            s << "complete -c " << t << " -n " << fish_quote(here) << fish_names(o)
              << (takes_value(o) ? fish_value(value_of(o)) : std::string(" -f")) << " -d "
              << fish_quote(o->get_description()) << "\n";
        // Positionals: the first few one by one, the rest from where they start.
        std::size_t n = 0;
        for (const Slot& sl : c.slots) {
            if (c.command_at_first_word) break;
            int count = sl.count == 0 ? 1 : sl.count;
            for (int k = 0; k < count; ++k, ++n) {
                std::string a = fish_candidates(sl.value);
                std::string pos = std::to_string(n) + (sl.count == 0 ? "+" : "");
                if (sl.value.kind == Kind::file)
                    s << "complete -c " << t << " -n " << fish_quote(here + " " + pos) << " -F"
                      << (a.empty() ? "" : " -a " + fish_quote(a)) << "\n";
                else if (!a.empty())
                    s << "complete -c " << t << " -n " << fish_quote(here + " " + pos) << " -f -a " << fish_quote(a)
                      << "\n";
            }
        }
        // No file names where a positional or nothing is expected.
        if (c.slots.empty() || std::none_of(c.slots.begin(), c.slots.end(),
                                            [](const Slot& sl) { return sl.value.kind == Kind::file; }))
            s << "complete -c " << t << " -n " << fish_quote(here) << " -f\n";
    }
    return s.str();
}

}  // namespace prockit::tools
