#include "completion.hpp"

#include "cli.hpp"

#include <prockit/process/rlimit_spec.hpp>
#include <prockit/security/capabilities.hpp>
#include <prockit/security/seccomp.hpp>

#include <linux/capability.h>

#include <sstream>

namespace prockit::tools {
namespace {

// ---------------------------------------------------------------- what a value completes to

enum class Kind { none, file, dir, user, pid, words, words_nospace, words_and_files };

struct Value {
    Kind kind = Kind::none;
    std::vector<std::string> words;
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

Value value_of(const CLI::Option* o) {
    if (auto choices = value_choices(o); !choices.empty()) return {Kind::words, choices};
    std::string name = value_name(o);
    if (name == "FILE" || name == "PATH") return {Kind::file, {}};
    if (name == "DIR") return {Kind::dir, {}};
    if (name == "USER" || name.rfind("USER[", 0) == 0) return {Kind::user, {}};
    if (name == "PID") return {Kind::pid, {}};
    if (name == "CAPS") return {Kind::words, capability_words()};
    if (name == "PROFILE|FILE") return {Kind::words_and_files, SeccompFilter::profile_names()};
    if (name.rfind("RES=", 0) == 0) {
        Value v{Kind::words_nospace, {}};
        for (const auto& r : rlimit_names()) v.words.push_back(r + "=");
        return v;
    }
    return {};
}

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

std::string header(const std::string& shell, const std::string& tool, const char* comment) {
    std::string c(comment);
    return c + " " + shell + " completion for " + tool + "(1).\n" + c + " Generated from " + tool +
           "'s command line (build_cli) by tools/common/completion.cpp: do not edit;\n" + c +
           " `cmake --build build --target update-completions` writes it again.\n";
}

// ---------------------------------------------------------------- bash

std::string bash_value_reply(const Value& v) {
    switch (v.kind) {
        case Kind::none: return "return";
        case Kind::file: return "COMPREPLY=($(compgen -f -- \"$cur\")); compopt -o filenames 2>/dev/null; return";
        case Kind::dir: return "COMPREPLY=($(compgen -d -- \"$cur\")); compopt -o filenames 2>/dev/null; return";
        case Kind::user: return "COMPREPLY=($(compgen -u -- \"$cur\")); return";
        case Kind::pid: return "COMPREPLY=($(compgen -W \"$(cd /proc && echo [0-9]*)\" -- \"$cur\")); return";
        case Kind::words: return "COMPREPLY=($(compgen -W \"" + join(v.words) + "\" -- \"$cur\")); return";
        case Kind::words_nospace:
            return "COMPREPLY=($(compgen -W \"" + join(v.words) + "\" -- \"$cur\")); compopt -o nospace 2>/dev/null; return";
        case Kind::words_and_files: return "COMPREPLY=($(compgen -W \"" + join(v.words) + "\" -f -- \"$cur\")); return";
    }
    return "return";
}

std::string bash_positional_reply(const CompletionSource& src) {
    std::vector<std::string> words;
    for (const auto* s : subcommands_of(src.app)) words.push_back(s->get_name());
    bool pids = false;
    for (const auto* p : positionals_of(src.app)) pids = pids || value_of(p).kind == Kind::pid;
    if (positionals_of(src.app).empty() && src.runs_command) return "COMPREPLY=($(compgen -c -- \"$cur\"))";
    std::string w = join(words);
    if (pids) w += (w.empty() ? "" : " ") + std::string("$(cd /proc && echo [0-9]*)");
    return "COMPREPLY=($(compgen -W \"" + w + "\" -- \"$cur\"))";
}

}  // namespace

std::string bash_completion(const CompletionSource& src) {
    const std::string fn = "_" + src.tool;
    bool command_at_first_word = src.runs_command && positionals_of(src.app).empty();
    std::ostringstream s;
    s << header("bash", src.tool, "#");
    s << fn << "() {\n";
    s << "    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n";
    s << "    local opts=\"" << join(all_names(src.app)) << "\"\n";
    s << "    local i=1 w cmd=0 sub= inputs=0\n";
    s << "    # Where the command starts (after \"--\"";
    s << (command_at_first_word ? ", or at the first word that is neither an option\n    # nor its value" : "");
    s << "), which subcommand was given, and whether the command's inputs began.\n";
    s << "    while ((i < COMP_CWORD)); do\n";
    s << "        w=${COMP_WORDS[i]}\n";
    s << "        if ((cmd)); then\n";
    if (!src.input_separators.empty())
        s << "            case $w in " << join(src.input_separators, "|") << ") inputs=1 ;; esac\n";
    s << "            ((i++))\n            continue\n        fi\n";
    s << "        case $w in\n";
    if (src.runs_command) s << "            --) cmd=$((i + 1)) ;;\n";
    if (auto v = value_names(src.app); !v.empty()) s << "            " << join(v, "|") << ") ((i++)) ;;\n";
    s << "            -*) ;;\n";
    if (auto subs = subcommands_of(src.app); !subs.empty()) {
        std::vector<std::string> names;
        for (const auto* sc : subs) names.push_back(sc->get_name());
        s << "            " << join(names, "|") << ") [[ -z $sub ]] && sub=$w ;;\n";
    }
    if (command_at_first_word) s << "            *) cmd=$i ;;\n";
    s << "        esac\n        ((i++))\n    done\n";
    if (src.runs_command) {
        s << "    if ((cmd)); then\n";
        if (!src.input_separators.empty())
            s << "        if ((inputs)); then COMPREPLY=($(compgen -f -- \"$cur\")); return; fi\n";
        s << "        if ((cmd == COMP_CWORD)); then COMPREPLY=($(compgen -c -- \"$cur\")); return; fi\n";
        s << "        # The command's own completion (bash-completion's _command_offset), else files.\n";
        s << "        if declare -F _command_offset >/dev/null; then _command_offset \"$cmd\"; return; fi\n";
        s << "        COMPREPLY=($(compgen -f -- \"$cur\"))\n        return\n    fi\n";
    }
    if (auto subs = subcommands_of(src.app); !subs.empty()) {
        s << "    case $sub in\n";
        for (const auto* sc : subs)
            s << "        " << sc->get_name() << ") [[ $cur == -* ]] && COMPREPLY=($(compgen -W \""
              << join(all_names(sc)) << "\" -- \"$cur\")); return ;;\n";
        s << "    esac\n";
    }
    // The value of the option before the cursor: grouped by what it completes to.
    std::vector<std::pair<std::string, std::vector<std::string>>> cases;
    for (const auto* o : options_of(src.app)) {
        if (!takes_value(o)) continue;
        std::string reply = bash_value_reply(value_of(o));
        auto it = std::find_if(cases.begin(), cases.end(), [&](const auto& c) { return c.first == reply; });
        if (it == cases.end()) it = cases.insert(cases.end(), {reply, {}});
        for (auto& n : names_of(o)) it->second.push_back(n);
    }
    if (!cases.empty()) {
        s << "    case $prev in\n";
        for (const auto& [reply, names] : cases) s << "        " << join(names, "|") << ") " << reply << " ;;\n";
        s << "    esac\n";
    }
    s << "    if [[ $cur == -* ]]; then\n";
    s << "        COMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n";
    s << "    else\n        " << bash_positional_reply(src) << "\n    fi\n";
    s << "}\n";
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
    switch (v.kind) {
        case Kind::none: return " ";
        case Kind::file: return "_files";
        case Kind::dir: return "_files -/";
        case Kind::user: return "_users";
        case Kind::pid: return "_pids";
        case Kind::words: return "(" + join(v.words) + ")";
        case Kind::words_nospace: return "{compadd -S '' -- " + join(v.words) + "}";
        case Kind::words_and_files:
            return "{_alternative \"profiles\\:profile\\:(" + join(v.words) + ")\" \"files\\:file\\:_files\"}";
    }
    return " ";
}

void zsh_specs(std::ostringstream& s, const CLI::App* app, const char* indent) {
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
            s << "'\n";
        }
    }
}

}  // namespace

std::string zsh_completion(const CompletionSource& src) {
    const std::string fn = "_" + src.tool;
    std::ostringstream s;
    s << "#compdef " << src.tool << "\n" << header("zsh", src.tool, "#");
    s << fn << "() {\n";
    if (src.runs_command) {
        s << "    # After \"--\": the command's own completion.\n";
        s << "    local dd=${words[(i)--]}\n";
        s << "    if ((dd < CURRENT)); then\n";
        s << "        shift $dd words\n        ((CURRENT -= dd))\n        _normal\n        return\n    fi\n";
    }
    s << "    local curcontext=$curcontext state line ret=1\n";
    s << "    local -a args\n    args=(\n";
    zsh_specs(s, src.app, "        ");
    auto subs = subcommands_of(src.app);
    bool pids = false;
    for (const auto* p : positionals_of(src.app)) pids = pids || value_of(p).kind == Kind::pid;
    if (positionals_of(src.app).empty() && src.runs_command) {
        s << "        '*::command:_normal'\n";
    } else if (!subs.empty() || pids) {
        s << "        '*:: :->args'\n";
    }
    s << "    )\n";
    s << "    _arguments -s -S -C $args && ret=0\n";
    if (!subs.empty() || pids) {
        s << "    if [[ $state == args ]]; then\n";
        if (!subs.empty()) {
            s << "        case $words[1] in\n";
            for (const auto* sc : subs) {
                s << "            " << sc->get_name() << ")\n                _arguments -s \\\n";
                std::ostringstream sub;
                zsh_specs(sub, sc, "                    ");
                std::string lines = sub.str();
                std::istringstream in(lines);
                for (std::string line; std::getline(in, line);) s << line << " \\\n";
                s << "                    && ret=0\n                return ret ;;\n";
            }
            s << "        esac\n";
        }
        s << "        _alternative";
        if (!subs.empty()) {
            s << " 'subcommands:subcommand:((";
            for (const auto* sc : subs) s << sc->get_name() << "\\:\"" << zsh_escape(sc->get_description()) << "\" ";
            s << "))'";
        }
        if (pids) s << " 'pids:process ID:_pids'";
        s << " && ret=0\n    fi\n";
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

std::string fish_value(const Value& v) {
    switch (v.kind) {
        case Kind::none: return " -x";
        case Kind::file: return " -r -F";
        case Kind::dir: return " -x -a '(__fish_complete_directories)'";
        case Kind::user: return " -x -a '(__fish_complete_users)'";
        case Kind::pid: return " -x -a '(__fish_complete_pids)'";
        case Kind::words:
        case Kind::words_nospace: return " -x -a " + fish_quote(join(v.words));
        case Kind::words_and_files: return " -r -F -a " + fish_quote(join(v.words));
    }
    return " -x";
}

}  // namespace

std::string fish_completion(const CompletionSource& src) {
    const std::string t = src.tool;
    const std::string at = "__prockit_" + t + "_command_at";
    bool command_at_first_word = src.runs_command && positionals_of(src.app).empty();
    auto subs = subcommands_of(src.app);
    std::ostringstream s;
    s << header("fish", t, "#");
    std::string in_options = "not " + at;
    if (src.runs_command) {
        s << "\n# Prints where the command starts (after \"--\"";
        s << (command_at_first_word ? ", or at the first word that is neither an option nor\n# its value" : "");
        s << "), as an index into the command line's words.\n";
        s << "function " << at << "\n";
        s << "    set -l words (commandline -opc)\n    set -l i 2\n";
        s << "    while test $i -le (count $words)\n";
        s << "        switch $words[$i]\n";
        s << "            case --\n                echo (math $i + 1)\n                return 0\n";
        if (auto v = value_names(src.app); !v.empty()) {
            s << "            case";
            for (const auto& n : v) s << " " << fish_quote(n);
            s << "\n                set i (math $i + 1)\n";
        }
        s << "            case '-*'\n";
        if (command_at_first_word) s << "            case '*'\n                echo $i\n                return 0\n";
        s << "        end\n        set i (math $i + 1)\n    end\n";
        if (command_at_first_word) {
            s << "    # The word being typed, when it is no option and no option's value.\n";
            s << "    if test $i -eq (math (count $words) + 1); and not string match -q -- '-*' (commandline -ct)\n";
            s << "        echo $i\n        return 0\n    end\n";
        }
        s << "    return 1\nend\n\n";
        const std::string complete_command = "__prockit_" + t + "_complete_command";
        s << "# The command's own completion, from the word where it starts.\n";
        s << "function " << complete_command << "\n";
        s << "    set -l at (" << at << ")\n    set -l words (commandline -opc)\n    set -l cmd\n";
        s << "    if test $at -gt (count $words)\n        __fish_complete_command\n        return\n    end\n";
        s << "    set cmd $words[$at..-1]\n";
        s << "    __fish_complete_subcommand --commandline $cmd (commandline -ct)\nend\n\n";
        s << "complete -c " << t << " -n '" << at << " >/dev/null' -x -a '(" << complete_command << ")'\n";
    } else {
        in_options = "true";
    }
    std::string cond = in_options;
    if (!subs.empty()) {
        std::string seen = "__fish_seen_subcommand_from";
        for (const auto* sc : subs) seen += " " + sc->get_name();
        cond = in_options + "; and not " + seen;
        for (const auto* sc : subs) {
            s << "complete -c " << t << " -n " << fish_quote(in_options + "; and __fish_use_subcommand") << " -f -a "
              << sc->get_name() << " -d " << fish_quote(sc->get_description()) << "\n";
            for (const auto* o : options_of(sc))
                s << "complete -c " << t << " -n " << fish_quote("__fish_seen_subcommand_from " + sc->get_name())
                  << fish_names(o) << (takes_value(o) ? fish_value(value_of(o)) : std::string(" -f")) << " -d "
                  << fish_quote(o->get_description()) << "\n";
        }
    }
    for (const auto* o : options_of(src.app))
        s << "complete -c " << t << " -n " << fish_quote(cond) << fish_names(o)
          << (takes_value(o) ? fish_value(value_of(o)) : std::string(" -f")) << " -d " << fish_quote(o->get_description())
          << "\n";
    for (const auto* p : positionals_of(src.app))
        if (value_of(p).kind == Kind::pid)
            s << "complete -c " << t << " -n " << fish_quote(cond) << " -f -a '(__fish_complete_pids)'\n";
    return s.str();
}

}  // namespace prockit::tools
