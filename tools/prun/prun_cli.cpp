#include "prun_cli.hpp"

#include "common/cli.hpp"
#include "common/duration.hpp"
#include "engine.hpp"
#include "semaphore.hpp"
#include "common/exit_codes.hpp"

#include <prockit/process/credentials.hpp>
#include <prockit/process/daemon.hpp>
#include <prockit/process/program_path.hpp>
#include <prockit/process/rlimit_spec.hpp>
#include <prockit/process/tree_guard.hpp>
#include <prockit/sched/affinity.hpp>
#include <prockit/sched/topology.hpp>
#include <prockit/security/capability_spec.hpp>
#include <prockit/security/seccomp_spec.hpp>
#include <prockit/sys/notify.hpp>
#include <prockit/sys/signals.hpp>
#include <prockit/sys/syscall.hpp>

#include <algorithm>
#include <cerrno>
#include <limits>
#include <cmath>
#include <charconv>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <regex>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace prockit::prun {
namespace {

using tools::UsageError;

[[noreturn]] void usage(const std::string& what) { throw UsageError(what); }

Duration duration_of(const std::string& text, const char* option) {
    auto d = tools::parse_duration(text);
    if (!d) usage("cannot parse " + std::string(option) + " \"" + text + "\": " + tools::error_reason(d.error()));
    return *d;
}

void add_rlimit(Command& c, const std::string& spec) {
    auto r = parse_rlimit_spec(spec);
    if (!r) usage("cannot parse --rlimit \"" + spec + "\": " + tools::error_reason(r.error()));
    c.rlimit(r->resource, r->soft, r->hard_or_current());
}

void set_user(Command& c, const std::string& spec) {
    auto who = lookup_credentials(spec);
    if (!who) {
        if (who.error().code() == make_error_code(Errc::not_found) || who.error().code() == make_error_code(Errc::parse_error))
            usage("cannot use --user \"" + spec + "\": " + tools::error_reason(who.error()));
        throw SystemError(who.error());
    }
    c.groups(who->groups).group(who->gid).user(who->uid);
}

// ---------------------------------------------------------------- small parsers

std::vector<TermStep> parse_term_seq(const std::string& text) {
    std::vector<TermStep> steps;
    std::vector<std::string> items;
    std::size_t p = 0;
    for (;;) {
        auto c = text.find(',', p);
        items.push_back(text.substr(p, c == std::string::npos ? std::string::npos : c - p));
        if (c == std::string::npos) break;
        p = c + 1;
    }
    for (std::size_t i = 0; i < items.size(); i += 2) {
        auto sig = parse_signal(items[i]);
        if (!sig) usage("cannot parse --term-seq \"" + text + "\": unknown signal \"" + items[i] + "\"");
        Duration wait{0};
        if (i + 1 < items.size()) {
            const std::string& w = items[i + 1];
            bool bare = !w.empty() && w.find_first_not_of("0123456789") == std::string::npos;
            auto d = tools::parse_duration(bare ? w + "ms" : w);
            if (!d) usage("cannot parse --term-seq \"" + text + "\": bad wait \"" + w + "\" (milliseconds, or a duration)");
            wait = *d;
        }
        steps.push_back({*sig, wait});
    }
    if (steps.empty() || steps.back().sig != SIGKILL) {
        if (!steps.empty() && steps.back().wait.count() == 0) steps.back().wait = std::chrono::seconds(1);
        steps.push_back({SIGKILL, Duration::zero()});
    }
    return steps;
}

HaltPolicy parse_halt(const std::string& text) {
    HaltPolicy h;
    auto bad = [&]() -> HaltPolicy {
        usage("cannot parse --halt \"" + text + "\": expected never, or now|soon,fail|success|done=N[%]");
    };
    if (text == "never" || text == "0") return h;
    if (text == "1") return {HaltPolicy::When::soon, HaltPolicy::Why::fail, 1, false};
    if (text == "2") return {HaltPolicy::When::now, HaltPolicy::Why::fail, 1, false};
    if (text == "-1") return {HaltPolicy::When::soon, HaltPolicy::Why::success, 1, false};
    if (text == "-2") return {HaltPolicy::When::now, HaltPolicy::Why::success, 1, false};
    auto comma = text.find(',');
    if (comma == std::string::npos) return bad();
    std::string when = text.substr(0, comma), why = text.substr(comma + 1);
    if (when == "now") h.when = HaltPolicy::When::now;
    else if (when == "soon") h.when = HaltPolicy::When::soon;
    else return bad();
    auto eq = why.find('=');
    if (eq == std::string::npos) return bad();
    std::string kind = why.substr(0, eq), val = why.substr(eq + 1);
    if (kind == "fail") h.why = HaltPolicy::Why::fail;
    else if (kind == "success") h.why = HaltPolicy::Why::success;
    else if (kind == "done") h.why = HaltPolicy::Why::done;
    else return bad();
    if (!val.empty() && val.back() == '%') {
        h.percent = true;
        val.pop_back();
    }
    char* end = nullptr;
    h.value = std::strtod(val.c_str(), &end);
    // nan compares false with everything, so it would pass a range check and never fire.
    if (val.empty() || !end || *end || !std::isfinite(h.value) || h.value <= 0 || (h.percent && h.value > 100))
        return bad();
    return h;
}

/// A size's unit: 1 for none, k m g t powers of 1000, K M G T powers of 1024; 0 for anything else.
double unit_scale(std::string_view suffix) {
    if (suffix.empty()) return 1;
    if (suffix.size() != 1) return 0;
    const std::string_view units = "KMGT", decimal = "kmgt";
    double scale = 1;
    if (auto k = units.find(suffix[0]); k != std::string_view::npos)
        for (std::size_t i = 0; i <= k; ++i) scale *= 1024;
    else if (auto d = decimal.find(suffix[0]); d != std::string_view::npos)
        for (std::size_t i = 0; i <= d; ++i) scale *= 1000;
    else
        return 0;
    return scale;
}

}  // namespace

/// --block: bytes, with k m g t (powers of 1000) or K M G T (powers of 1024), decimals allowed
/// (1.5M), at most 2 GiB - 1, as GNU parallel reads it.
std::size_t parse_size(const std::string& text) {
    constexpr double most = 2147483647.0;
    auto bad = [&](const std::string& why) { usage("cannot parse --block \"" + text + "\": " + why); };
    char* end = nullptr;
    double value = std::strtod(text.c_str(), &end);
    if (text.empty() || end == text.c_str() || !(value > 0)) bad("expected a size such as 65536, 64K, 1.5M or 10m");
    std::string_view suffix(end);
    double scale = unit_scale(suffix);
    if (scale == 0)
        bad(suffix.size() == 1 ? "unknown unit (K M G T: powers of 1024; k m g t: powers of 1000)"
                               : "expected a size such as 65536, 64K, 1.5M or 10m");
    double bytes = value * scale;
    if (bytes < 1) bad("a block holds at least 1 byte");
    if (bytes > most) bad("a block holds at most 2 GiB - 1 (2147483647 bytes)");
    return static_cast<std::size_t>(bytes);
}

namespace {

/// --memfree: bytes, with k m g t (powers of 1000) or K M G T (powers of 1024), as --block.
std::uint64_t parse_memory(const std::string& text) {
    auto bad = [&]() { usage("cannot parse --memfree \"" + text + "\": expected a size such as 500M, 2G or 1.5g"); };
    char* end = nullptr;
    double value = std::strtod(text.c_str(), &end);
    if (text.empty() || end == text.c_str() || !(value >= 0) || !std::isfinite(value)) bad();
    double scale = unit_scale(end);
    if (scale == 0) bad();
    double bytes = value * scale;
    if (bytes > 9.0e18) bad();
    return static_cast<std::uint64_t>(bytes);
}

/// -j's value forms: N, N%, +N, -N (0: as many as possible); nullopt when it is none of them.
std::optional<unsigned> jobs_value(const std::string& text, unsigned ncpu) {
    auto bad = [&]() -> std::optional<unsigned> { return std::nullopt; };
    std::string t = text;
    long v = 0;
    auto num = [&](std::string_view s) {
        auto r = std::from_chars(s.data(), s.data() + s.size(), v);
        return !s.empty() && r.ec == std::errc() && r.ptr == s.data() + s.size() && v >= 0;
    };
    long n;
    if (!t.empty() && t.back() == '%') {
        if (!num(std::string_view(t).substr(0, t.size() - 1))) return bad();
        n = static_cast<long>(ncpu) * v / 100;
    } else if (!t.empty() && t[0] == '+') {
        if (!num(std::string_view(t).substr(1))) return bad();
        n = static_cast<long>(ncpu) + v;
    } else if (!t.empty() && t[0] == '-') {
        if (!num(std::string_view(t).substr(1))) return bad();
        n = static_cast<long>(ncpu) - v;
    } else {
        if (!num(t)) return bad();
        n = v == 0 ? 1024 : v;  // 0: as many as possible
    }
    if (n < 1) n = 1;
    if (n > 100000) n = 100000;
    return static_cast<unsigned>(n);
}

/// -j FILE (GNU parallel's): the file holds one of -j's value forms, surrounding blanks allowed.
std::optional<unsigned> jobs_from_file(const std::string& path, unsigned ncpu, std::optional<std::string>* why = nullptr) {
    auto text = read_file(path);
    if (!text) {
        if (why) *why = tools::error_reason(text.error());
        return std::nullopt;
    }
    std::string t = *text;
    t.erase(0, t.find_first_not_of(" \t\r\n"));
    t.erase(t.find_last_not_of(" \t\r\n") + 1);
    auto n = jobs_value(t, ncpu);
    if (!n && why) *why = "it holds \"" + t + "\", not N, N%, +N or -N";
    return n;
}

unsigned parse_jobs(const std::string& text, unsigned ncpu) {
    if (auto n = jobs_value(text, ncpu)) return *n;
    struct stat st {};
    if (stat(text.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
        std::optional<std::string> why;
        if (auto n = jobs_from_file(text, ncpu, &why)) return *n;
        usage("cannot use -j " + text + ": " + why.value_or("unreadable"));
    }
    usage("cannot parse -j \"" + text + "\": expected N, N%, +N, -N or a file holding one");
}

std::string absolute(const std::string& path) {
    if (path.empty() || path[0] == '/') return path;
    char buf[PATH_MAX];
    if (!getcwd(buf, sizeof buf)) return path;
    return std::string(buf) + "/" + path;
}

/// Why `prog` cannot be run, said once before anything starts: the exit status after the
/// message, or nullopt to go on. A pool refuses (255) when its program is missing or cannot be
/// executed; one command leaves those to the spawn (126/127 with its message) except for a
/// script whose #! interpreter is missing, which exec reports as ENOENT like a missing program:
/// that is told apart here, and is 126 (the program is there; it cannot be executed).
std::optional<int> unrunnable(const std::string& prog, const Options& o, bool pool) {
    // The child's PATH may differ from ours: then only a name with a '/' is checked.
    bool own_path = o.env.empty() && !o.clear_env && o.unset_env.empty() && o.cwd.empty();
    if (prog.find('/') == std::string::npos && !own_path) return std::nullopt;
    if (prog.find('/') != std::string::npos && !o.cwd.empty() && prog[0] != '/') return std::nullopt;
    auto where = find_program(prog);
    if (!where) {
        if (!pool) return std::nullopt;
        tools::print_error(where.error());
        return exit_pool_error;
    }
    if (auto interp = missing_interpreter(*where)) {
        tools::print_error("cannot execute " + prog + ": its #! interpreter " + *interp + " does not exist");
        return pool ? exit_pool_error : tools::exit_cannot_execute;
    }
    return std::nullopt;
}

bool is_separator(const std::string& w) { return w == ":::" || w == "::::" || w == ":::+" || w == "::::+"; }

/// --recstart/--recend: the escapes \n \t \r \0 \\ and \xHH stand for their bytes (GNU parallel
/// reads them alike). A regular expression is left as written: its own syntax has them.
std::string unescape_record(const std::string& text, const char* option, bool regexp) {
    if (regexp) return text;
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '\\' || i + 1 == text.size()) {
            out += text[i];
            continue;
        }
        char c = text[++i];
        switch (c) {
            case 'n': out += '\n'; break;
            case 't': out += '\t'; break;
            case 'r': out += '\r'; break;
            case '0': out += '\0'; break;
            case '\\': out += '\\'; break;
            case 'x': {
                unsigned v = 0;
                auto r = i + 2 < text.size() + 0 ? std::from_chars(text.data() + i + 1, text.data() + i + 3, v, 16)
                                                 : std::from_chars_result{text.data(), std::errc::invalid_argument};
                if (r.ec != std::errc() || r.ptr != text.data() + i + 3)
                    usage("cannot parse " + std::string(option) + " \"" + text + "\": \\x needs two hex digits");
                out += static_cast<char>(v);
                i += 2;
                break;
            }
            default: out += '\\'; out += c; break;
        }
    }
    return out;
}

}  // namespace

/// -d/--delimiter: one character, or a C escape (\n \t \0 \\ \xHH \NNN octal), as GNU parallel
/// and xargs read it.
char parse_delimiter(const std::string& text) {
    auto bad = [&]() -> char {
        usage("cannot parse -d \"" + text + "\": expected one character or an escape such as \\n, \\t, \\0, \\x1f");
    };
    if (text.size() == 1) return text[0];
    if (text.size() < 2 || text[0] != '\\') return bad();
    std::string_view rest = std::string_view(text).substr(1);
    if (rest.size() == 1) {
        switch (rest[0]) {
            case 'n': return '\n';
            case 't': return '\t';
            case 'r': return '\r';
            case 'a': return '\a';
            case 'b': return '\b';
            case 'f': return '\f';
            case 'v': return '\v';
            case '\\': return '\\';
            default: break;
        }
    }
    unsigned v = 0;
    int base = 8;
    if (rest[0] == 'x') {
        base = 16;
        rest.remove_prefix(1);
    }
    auto r = std::from_chars(rest.data(), rest.data() + rest.size(), v, base);
    if (rest.empty() || r.ec != std::errc() || r.ptr != rest.data() + rest.size() || v > 255) return bad();
    return static_cast<char>(v);
}

bool stdin_is_input() {
    struct stat st {};
    if (fstat(0, &st) != 0) return false;
    if (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)) return true;
    if (!S_ISREG(st.st_mode)) return false;  // a terminal, /dev/null, another device
    off_t at = lseek(0, 0, SEEK_CUR);
    return st.st_size > (at < 0 ? 0 : at);
}

std::string job_shell() {
    if (const char* s = std::getenv("PARALLEL_SHELL"); s && *s) return s;
    for (char** e = environ; e && *e; ++e)
        if (std::strncmp(*e, "BASH_FUNC_", 10) == 0) {
            if (access("/bin/bash", X_OK) == 0) return "/bin/bash";
            if (auto bash = find_program("bash")) return *bash;
            break;
        }
    return "/bin/sh";
}

bool wants_shell(const std::vector<std::string>& words) {
    if (words.empty()) return false;
    static const std::string_view operators[] = {"|", "||", "&&", ";", "&", ">", ">>", "<", "<<", "2>", "2>>", "&>", "2>&1", ">&2", "|&", ";;"};
    for (const auto& w : words)
        for (auto op : operators)
            if (w == op) return true;
    if (words.size() == 1 && words[0].find_first_of(" \t\n|&;<>()$`\\\"'*?[]~") != std::string::npos) return true;
    // A bash function exported with `export -f NAME` is in the environment as BASH_FUNC_NAME%%.
    const std::string& prog = words[0];
    if (prog.find_first_of("/={}") == std::string::npos && !prog.empty()) {
        std::string var = "BASH_FUNC_" + prog + "%%";
        if (std::getenv(var.c_str())) return true;
    }
    return false;
}

// ---------------------------------------------------------------- the command line

std::unique_ptr<CLI::App> build_cli(Options& o) {
    auto app = std::make_unique<CLI::App>(
        "Run a command as a supervised child, a template as a parallel pool of jobs, or a daemon.\n"
        "  prun [OPTIONS] [--] CMD [ARGS...]                        one command (exit status passed on)\n"
        "  prun -j N [OPTIONS] TEMPLATE... ::: A B C [::: ...]      a pool: one job per input\n"
        "  prun -j N [OPTIONS] TEMPLATE... :::: FILE | -a FILE      inputs from files (or stdin)\n"
        "  prun --daemon [--pidfile F] [--log F] [--] CMD [ARGS...] detach and supervise",
        "prun");
    app->set_help_flag("-h,--help", "Print this help and exit");
    tools::add_version_flag(*app);
    app->formatter(std::make_shared<tools::Formatter>());
    app->get_formatter()->column_width(34);
    app->footer(
        "A pool runs on a pool input: an input source (:::, ::::, :::+, ::::+, -a FILE), --pipe, -j N, or\n"
        "lines on stdin when it is a pipe or a non-empty file (not a terminal or /dev/null), unless --single,\n"
        "--daemon or --restart is given. Otherwise prun runs one command; --retries then retries it.\n"
        "Without a command each input is a command line, run by the shell.\n"
        "Replacement strings: {} input, {.} without extension, {/} basename, {//} dirname, {/.} basename\n"
        "without extension, {#} job number, {%} slot, {N} {N.} {N/} {N//} {N/.} for input source N\n"
        "(column N with --colsep), {-N} counting from the last, {name} with --header; --plus adds\n"
        "{+/} {+.} {+..} {+...} {..} {...} {/..} {/...} {##} {0#} {0%}.\n"
        "A template of plain words is exec'd directly, one argument per word (inputs are never split or\n"
        "interpreted). It runs through the shell, each value single-quoted, when it is one word with shell\n"
        "syntax ('gzip {} && rm {}'), a word is a shell operator (| && ; > ...), or its program is an\n"
        "exported bash function; --shell and --no-shell force either way. A template without replacement\n"
        "strings gets the inputs appended. Several sources combine as a cross product.\n"
        "Exit status, one command: its status (128+N if killed by signal N); 124 --timeout passed; 126\n"
        "cannot execute (also: a script whose #! interpreter is missing); 127 not found; 1 prun failed;\n"
        "2 usage error.\n"
        "Exit status, pool: 0 all jobs succeeded; 1-100 that many jobs failed; 101 more than 100 failed;\n"
        "255 prun's own error (usage error included); 128+N prun was stopped by signal N; after\n"
        "--halt ...,fail=1 or done=1 the status of the job that triggered it. See prun(1).");
    app->option_defaults()->always_capture_default(false);
    // An empty value is refused, not taken for "not given" (--timeout '' would silently mean no
    // timeout).
    auto non_empty = [](const char* name) {
        return [name](const std::string& v) {
            if (v.empty()) throw UsageError(std::string("cannot parse ") + name + " \"\": empty value");
        };
    };

    auto* g = "Labels";
    app->add_option("--name", o.name, "Label the process (pool: a template, e.g. 'job-{#}') in output, logs, joblog")
        ->type_name("NAME")->group(g)->each(non_empty("--name"));
    app->add_option("--argv0", o.argv0, "The argv[0] the program sees (what ps shows)")->type_name("NAME")->group(g)->each(non_empty("--argv0"));

    g = "Per-child controls";
    app->add_option("--cpus", o.cpus, "Run on these CPUs (list such as 0-3,8; must be allowed to prun)")->type_name("CPUS")->each(non_empty("--cpus"))->group(g);
    app->add_option("--nice", o.nice, "Nice value (-20..19)")->check(CLI::Range(-20, 19))->type_name("N")->each(non_empty("--nice"))->group(g);
    app->add_option("--oom-score-adj", o.oom_score_adj, "oom_score_adj (-1000..1000)")
        ->check(CLI::Range(-1000, 1000))
        ->type_name("N")->each(non_empty("--oom-score-adj"))->group(g);
    app->add_option("--rlimit", o.rlimits, "Resource limit RES=SOFT[:HARD] (nofile, nproc, as, core, cpu, ...); repeatable")
        ->type_name("RES=SOFT[:HARD]")->group(g);
    app->add_option("--timeout", o.timeout, "End the command (or each job) after DUR (1.5s, 2m, ...)")->type_name("DURATION")->group(g)->each(non_empty("--timeout"));
    app->add_option("--kill-after", o.kill_after, "After TERM, send KILL when DUR has passed (default 5s)")->type_name("DURATION")->group(g)->each(non_empty("--kill-after"));
    app->add_option("--term-seq,--termseq", o.term_seq, "How to end a job: SIG,MS,SIG,MS,... (e.g. TERM,200,KILL,25)")
        ->type_name("SEQ")->group(g)->each(non_empty("--term-seq"));
    app->add_flag("--strict-tree", o.strict_tree,
                  "Refuse to run (exit 1) when prun cannot make sure that nothing it starts outlives it")
        ->group(g);
    app->add_option("--cwd", o.cwd, "Working directory of the child")->type_name("DIR")->group(g)->each(non_empty("--cwd"));
    app->add_option("--env", o.env, "Set K=V in the child's environment (VAR: pass prun's VAR on); repeatable")->type_name("K=V")->group(g);
    app->add_option("--unset-env", o.unset_env, "Remove K from the child's environment; repeatable")->type_name("K")->group(g);
    app->add_flag("--clear-env", o.clear_env, "Start the child with an empty environment (then --env)")->group(g);
    app->add_option("--user", o.user, "Run as USER[:GROUP] (names or numbers)")->type_name("USER[:GROUP]")->group(g)->each(non_empty("--user"));
    app->add_flag("--new-session", o.new_session, "Start the child in a new session (setsid)")->group(g);
    app->add_flag("--no-new-privs", o.no_new_privs, "Set no_new_privs in the child")->group(g);
    app->add_option("--drop-caps", o.drop_caps, "Drop capabilities: all, or a list (net_raw,sys_admin)")->type_name("CAPS")->group(g)->each(non_empty("--drop-caps"));
    app->add_option("--keep-caps", o.keep_caps, "Keep only these capabilities (ambient too, survives --user)")->type_name("CAPS")->group(g)->each(non_empty("--keep-caps"));
    app->add_option("--seccomp", o.seccomp,
                    "Seccomp profile(s): no-network, no-ptrace, no-mount, no-modules, no-fork, or a rules FILE "
                    "(a name with '/'); repeatable, comma lists")
        ->type_name("PROFILE|FILE")->each(non_empty("--seccomp"))->group(g);

    g = "Daemon";
    app->add_flag("--daemon", o.daemon, "Detach and supervise the command; return 0 once it was exec'd")->group(g);
    app->add_option("--log", o.log, "Daemon: append the command's output here (reopened on SIGHUP)")->type_name("FILE")->group(g)->each(non_empty("--log"));
    app->add_option("--pidfile", o.pidfile, "Daemon: write the PID here, atomically, locked while running")->type_name("FILE")->group(g)->each(non_empty("--pidfile"));
    app->add_option("--restart", o.restart, "Restart the command: no, on-failure, always")
        ->check(CLI::IsMember({"no", "on-failure", "always"}))
        ->type_name("WHEN")->group(g);
    app->add_option("--restart-delay", o.restart_delay, "First restart delay, doubling up to 60s (default 1s)")->type_name("DURATION")->group(g)->each(non_empty("--restart-delay"));
    app->add_option("--restart-limit", o.restart_limit, "At most N restarts per DUR: N[/DUR] (default 5/60s)")->type_name("N[/DURATION]")->group(g)->each(non_empty("--restart-limit"));

    g = "Pool";
    app->add_option("-j,-P,--jobs", o.jobs, "Jobs at once: N, N% of CPUs, +N, -N, 0 = many (default: CPUs usable)")->type_name("N")->group(g)->each(non_empty("-j"));
    app->add_option("-a,--arg-file", o.arg_files, "Read inputs from FILE (- for stdin); repeatable")->type_name("FILE")->each(non_empty("-a"))->group(g);
    app->add_flag("--pipe,--spreadstdin", o.pipe, "Cut standard input into blocks of whole lines, one block per job's stdin")
        ->group(g);
    app->add_option("--block,--block-size,--blocksize", o.block, "--pipe: block size in bytes, with k m g t (1000s) or K M G T (1024s); default 1M")
        ->type_name("SIZE")->each(non_empty("--block"))->group(g);
    app->add_flag("--link,--xapply", o.link, "Pair all input sources value by value (shorter ones wrap) instead of crossing them")
        ->group(g);
    app->add_flag("-0,--null", o.null_sep, "Inputs from files and stdin are NUL-separated")->group(g);
    app->add_option("-d,--delimiter", o.delimiter, "Inputs end with this character (or \\n, \\t, \\0, \\xHH) instead of a newline")
        ->type_name("CHAR")->group(g)->each(non_empty("-d"));
    app->add_option("-E,--eof", o.eof, "A value equal to STR ends its input source (it and the rest are not used)")
        ->type_name("STR")->group(g);
    app->add_option("-I,--replace", o.replace, "Use STR in place of {} for the whole input ({} is then plain text)")
        ->type_name("STR")->group(g)->each(non_empty("-I"));
    app->add_flag("-i", o.replace_default, "-I {}: the default; accepted for xargs' and GNU parallel's sake")->group(g);
    app->add_option("-n,--max-args", o.max_args, "Give each job up to N inputs (appended, or where {} is)")
        ->type_name("N")->check(CLI::Range(1U, 1000000U))->group(g);
    app->add_option("-N", o.max_args_pos, "As -n, and {1}..{N} are the job's 1st..Nth input")
        ->type_name("N")->check(CLI::Range(1U, 100000U))->group(g);
    app->add_option("-L,--max-lines", o.max_lines, "Give each job up to N input lines (as -N)")
        ->type_name("N")->check(CLI::Range(1U, 100000U))->group(g);
    app->add_flag("-m", o.multi_m, "Give each job as many inputs as fit (-s), spread over the slots; {} becomes them all")->group(g);
    app->add_flag("-X", o.multi_x, "As -m, and a word holding {} is repeated for each input (x{}y: xay xby)")->group(g);
    app->add_option("-s,--max-chars", o.max_chars, "Command line length at most (default: the system's limit, as xargs)")
        ->type_name("N")->check(CLI::Range(std::size_t{1}, std::size_t{1} << 30))->group(g);
    app->add_flag("--shell", o.shell, "Run each job with a shell (sh -c; values are single-quoted), whatever the template")->group(g);
    app->add_flag("--no-shell", o.no_shell, "Exec each job directly, one argument per template word, whatever the template")->group(g);
    app->add_flag("--single", o.single, "Run CMD once as one command even when stdin is a pipe or file (it is then CMD's stdin)")
        ->group(g);
    app->add_flag("-r,--no-run-if-empty", o.no_run_if_empty, "Skip inputs that are empty or only whitespace; empty input is no error")->group(g);
    app->add_flag("--group", o.group, "Print each job's output whole when it ends (pool default)")->group(g);
    app->add_flag("--line-buffer,--lb,--linebuffer", o.line_buffer, "Print whole lines as they come, interleaved")->group(g);
    app->add_flag("-u,--ungroup", o.ungroup, "Let jobs write straight to prun's stdout and stderr")->group(g);
    app->add_flag("--tag", o.tag, "Prefix each output line with the job's name and a TAB")->group(g);
    app->add_option("--tagstring,--tag-string", o.tagstring, "Prefix each output line with this (replacement strings allowed) and a TAB")
        ->type_name("STRING")->group(g)->each(non_empty("--tagstring"));
    app->add_flag("-k,--keep-order,--keeporder", o.keep_order, "Print output in input order")->group(g);
    app->add_option("--halt", o.halt, "Stop early: never, now|soon,fail|success|done=N[%]")->type_name("POLICY")->group(g)->each(non_empty("--halt"));
    app->add_option("--retries", o.retries, "Run a failing job (or the one command) up to N times in all")->type_name("N")->each(non_empty("--retries"))->group(g);
    app->add_option("--delay", o.delay, "Wait DUR between job starts")->type_name("DURATION")->group(g)->each(non_empty("--delay"));
    app->add_option("--joblog,--jl", o.joblog, "Log each job (GNU parallel's TSV columns)")->type_name("FILE")->group(g)->each(non_empty("--joblog"));
    app->add_option("--joblog-format", o.joblog_format, "tsv (default) or jsonl (adds CPU times, peak RSS, CPUs)")
        ->check(CLI::IsMember({"tsv", "jsonl"}))
        ->type_name("FORMAT")->group(g);
    app->add_flag("--resume", o.resume, "Skip jobs already in the joblog")->group(g);
    app->add_flag("--resume-failed", o.resume_failed, "Skip jobs that succeeded in the joblog; rerun the others")->group(g);
    app->add_flag("--pin-spread", o.pin_spread, "Pin slot k to its own CPU, one per physical core first")->group(g);
    app->add_flag("--bar", o.bar, "Progress bar with ETA on stderr (a periodic line when not a terminal)")->group(g);
    app->add_flag("--eta", o.eta, "Periodic progress line with ETA on stderr")->group(g);
    app->add_flag("--dry-run,--dryrun", o.dry_run, "Print the commands that would run; run nothing")->group(g);

    // GNU parallel: columns, quoting, value forms
    app->add_option("-C,--colsep", o.colsep, "Cut each input into columns where REGEX matches: {1}..{n}, {-1} the last")
        ->type_name("REGEX")->group(g)->each(non_empty("--colsep"));
    app->add_option("--header", o.header, "The first input line (of each source) names the columns: {name}; ':' or a REGEX")
        ->type_name("REGEX")->group(g)->each(non_empty("--header"));
    app->add_flag("--plus", o.plus, "Also {+/} {+.} {+..} {+...} {..} {...} {/..} {/...} {##} {0#} {0%} (see prun(1))")->group(g);
    app->add_flag("-q,--quote", o.quote, "Never run jobs through the shell: every template word is one argument (as --no-shell)")->group(g);
    app->add_flag("-v", o.verbose, "Print each job's command on stdout before it runs (with its output)")->group(g);
    app->add_flag("--shuf", o.shuf, "Run the jobs in a random order (reads all inputs first)")->group(g);
    app->add_flag("--progress", o.progress, "Show jobs done, running and failed on stderr")->group(g);
    // GNU parallel: pipe, results, load, semaphore
    app->add_option("--recstart", o.recstart, "--pipe: records begin with STR (escapes \\n \\t \\0 \\xHH); cut only where it follows --recend")
        ->type_name("STR")->group(g);
    app->add_option("--recend", o.recend, "--pipe: records end with STR (default \\n; \"\" with no --recstart: cut anywhere)")
        ->type_name("STR")->group(g);
    app->add_flag("--regexp", o.regexp, "--recstart and --recend are regular expressions (ECMAScript)")->group(g);
    app->add_flag("--pipepart,--pipe-part", o.pipepart, "As --pipe, from the file given with -a: each job's part goes from the file to its stdin")
        ->group(g);
    app->add_flag("--round-robin,--round", o.round_robin, "--pipe: deal the blocks among at most -j jobs that each read many, not one job per block")
        ->group(g);
    app->add_flag("--tee", o.tee, "--pipe: every job gets all of stdin; one job per input value (:::), all at once")->group(g);
    app->add_flag("--compress", o.compress, "Keep output that waits to be printed compressed (zstd) in $TMPDIR")->group(g);
    app->add_option("--results,--res", o.results, "Keep each job's output in DIR/1/ARG/{stdout,stderr,seq}; FILE.csv or .tsv: one table")
        ->type_name("DIR")->each(non_empty("--results"))->group(g);
    app->add_flag("--files", o.files, "Keep each job's stdout in a file and print the file's name instead")->group(g);
    app->add_option("--load", o.load, "Start no job while the 1-minute load average is at least MAX (N, or N% of the CPUs)")
        ->type_name("MAX")->each(non_empty("--load"))->group(g);
    app->add_option("--memfree", o.memfree, "Start no job while less than SIZE of memory is available (k m g t, K M G T)")
        ->type_name("SIZE")->each(non_empty("--memfree"))->group(g);
    app->add_flag("--semaphore", o.semaphore, "Run CMD when one of -j slots named by --id is free (GNU parallel's sem)")->group(g);
    app->add_option("--id", o.sem_id, "--semaphore: the semaphore's name (default: the terminal's name)")
        ->type_name("NAME")->each(non_empty("--id"))->group(g);
    app->add_flag("--fg", o.fg, "--semaphore: wait for CMD and exit with its status (default: run it in the background)")->group(g);
    app->add_flag("--wait", o.sem_wait, "--semaphore: wait until every command holding the semaphore has ended")->group(g);
    return app;
}

namespace {
bool explicit_pool(const Options& o) {
    return !o.arg_files.empty() || o.pipe || !o.jobs.empty() ||
           std::any_of(o.words.begin(), o.words.end(), [](const std::string& w) { return is_separator(w); });
}
bool single_only(const Options& o) {
    return o.single || o.daemon || o.restart != "no" || !o.log.empty() || !o.pidfile.empty();
}
}  // namespace

bool is_pool(const Options& o) { return !o.semaphore && (explicit_pool(o) || (o.stdin_input && !single_only(o))); }

namespace {
// is_pool() before parsing: the mode a command line asks for decides the status of a usage
// error CLI11 finds (2 for one command, 255 for a pool), and CLI11 has not filled Options then.
bool asks_for_pool(const std::vector<const char*>& head, const std::vector<std::string>& words, bool stdin_input) {
    for (const auto& w : words)
        if (is_separator(w)) return true;
    if (stdin_input) {
        bool single = false;
        for (std::size_t i = 1; i < head.size(); ++i)
            for (std::string_view o : {"--single", "--daemon", "--restart", "--log", "--pidfile"})
                single = single || std::string_view(head[i]).rfind(o, 0) == 0;
        if (!single) return true;
    }
    for (std::size_t i = 1; i < head.size(); ++i) {
        std::string_view a = head[i];
        for (std::string_view o : {"--jobs", "--arg-file", "--pipe", "--spreadstdin"})
            if (a == o || (a.rfind(o, 0) == 0 && a.size() > o.size() && a[o.size()] == '=')) return true;
        if (a.size() >= 2 && a[0] == '-' && a[1] != '-') {
            // A cluster of short flags (-kj4): -j and -a take a value, so what follows is theirs.
            for (char ch : a.substr(1)) {
                if (ch == 'j' || ch == 'P' || ch == 'a') return true;
                if (ch != '0' && ch != 'r' && ch != 'u' && ch != 'k' && ch != 'q' && ch != 'v') break;
            }
        }
    }
    return false;
}
}  // namespace

/// $PARALLEL: GNU parallel's default options, words split at blanks, a backslash escaping the
/// next character.
std::vector<std::string> parallel_env_words() {
    std::vector<std::string> out;
    const char* env = std::getenv("PARALLEL");
    if (!env) return out;
    std::string cur;
    bool in_word = false;
    for (const char* p = env; *p; ++p) {
        if (*p == '\\' && p[1]) {
            cur += *++p;
            in_word = true;
        } else if (*p == ' ' || *p == '\t' || *p == '\n') {
            if (in_word) out.push_back(std::move(cur));
            cur.clear();
            in_word = false;
        } else {
            cur += *p;
            in_word = true;
        }
    }
    if (in_word) out.push_back(std::move(cur));
    return out;
}

int main_entry(int argc, char** argv) {
    tools::set_tool_name("prun");
    Options opts;
    auto app = build_cli(opts);
    // Split the arguments: prun's options first, then the command words (at "--" or the first word
    // that is not an option or an option's value).
    auto split = [&](const std::vector<std::string>& args, std::vector<std::string>& head, std::vector<std::string>& words) {
        head.assign(1, argv[0]);
        words.clear();
        std::size_t i = 0;
        auto takes_value = [&](const std::string& name) {
            const CLI::Option* o = app->get_option_no_throw(name);
            return o && o->get_expected_max() > 0 && o->get_type_size_max() > 0;
        };
        for (; i < args.size(); ++i) {
            const std::string& a = args[i];
            if (a == "--") {
                ++i;
                break;
            }
            if (a.size() < 2 || a[0] != '-') break;
            head.push_back(a);
            if (a.rfind("--", 0) == 0) {
                if (a.find('=') == std::string::npos && takes_value(a) && i + 1 < args.size()) head.push_back(args[++i]);
            } else {
                for (std::size_t k = 1; k < a.size(); ++k) {
                    if (takes_value(std::string("-") + a[k])) {
                        if (k + 1 == a.size() && i + 1 < args.size()) head.push_back(args[++i]);
                        break;
                    }
                }
            }
        }
        for (; i < args.size(); ++i) words.push_back(args[i]);
    };
    std::vector<std::string> args(argv + 1, argv + argc), head_s;
    split(args, head_s, opts.words);
    opts.stdin_input = stdin_is_input();
    auto head_of = [](const std::vector<std::string>& h) {
        std::vector<const char*> v;
        for (const auto& x : h) v.push_back(x.c_str());
        return v;
    };
    // $PARALLEL's options go before the command line's, for a pool only: one command (a service,
    // `prun --timeout 5 -- cmd`) is not changed by a variable set for GNU parallel.
    if (asks_for_pool(head_of(head_s), opts.words, opts.stdin_input)) {
        auto extra = parallel_env_words();
        if (!extra.empty()) {
            args.insert(args.begin(), extra.begin(), extra.end());
            split(args, head_s, opts.words);
        }
    }
    std::vector<const char*> head = head_of(head_s);
    if (auto code = tools::parse(*app, static_cast<int>(head.size()), head.data())) {
        if (*code == tools::exit_usage && asks_for_pool(head, opts.words, opts.stdin_input)) return exit_pool_error;
        return tools::finish_output(*code);
    }
    // In a pool, every error of prun's own ends with 255; one command keeps the tools' 2 and 1.
    if (is_pool(opts)) return tools::guarded([&] { return run(opts); }, exit_pool_error, exit_pool_error);
    return tools::guarded([&] { return run(opts); });
}

// ---------------------------------------------------------------- run

int run(const Options& o) {
    Plan plan;

    // --- the words: command/template and input sources
    std::vector<std::string> tmpl_words;
    std::vector<SourceSpec> sources;
    for (const auto& f : o.arg_files) sources.push_back({SourceSpec::Kind::file, {}, f});
    std::size_t w = 0;
    for (; w < o.words.size() && !is_separator(o.words[w]); ++w) tmpl_words.push_back(o.words[w]);
    while (w < o.words.size()) {
        const std::string sep = o.words[w++];
        bool linked = sep.back() == '+';
        if (linked && sources.empty()) usage("cannot use " + sep + ": it links to the input source before it, and there is none");
        std::vector<std::string> vals;
        for (; w < o.words.size() && !is_separator(o.words[w]); ++w) vals.push_back(o.words[w]);
        if (sep == ":::" || sep == ":::+") {
            if (vals.empty()) usage("cannot use input source " + std::to_string(sources.size() + 1) + " (" + sep + "): it is empty");
            sources.push_back({SourceSpec::Kind::args, std::move(vals), {}, linked});
        } else {
            if (vals.empty()) usage("cannot use " + sep + ": it needs at least one file");
            for (auto& v : vals) sources.push_back({SourceSpec::Kind::file, {}, v, linked});
        }
    }
    if (o.link)
        for (std::size_t i = 1; i < sources.size(); ++i) sources[i].linked = true;
    // Pool mode only on an explicit pool input: a source, --pipe, or -j (which reads stdin).
    plan.pool = is_pool(o);
    const int own_failure = plan.pool ? exit_pool_error : tools::exit_failure;
    plan.own_failure = own_failure;
    if (!plan.pool) {
        // What only a pool can use is an error with one command, not a silent switch to reading
        // stdin for inputs.
        const std::pair<bool, const char*> pool_only[] = {
            {o.null_sep, "-0"}, {o.keep_order, "--keep-order"}, {o.link, "--link"}, {o.shell, "--shell"},
            {o.no_run_if_empty, "--no-run-if-empty"}, {o.halt != "never", "--halt"}, {!o.delay.empty(), "--delay"},
            {o.resume, "--resume"}, {o.resume_failed, "--resume-failed"}, {o.bar, "--bar"}, {o.eta, "--eta"},
            {!o.block.empty(), "--block"}, {!o.delimiter.empty(), "-d"}, {o.eof.has_value(), "-E"},
            {o.max_args > 0, "-n"}, {o.max_args_pos > 0, "-N"}, {o.max_lines > 0, "-L"}, {o.multi_m, "-m"},
            {o.multi_x, "-X"}, {o.max_chars > 0, "-s"}, {!o.replace.empty(), "-I"},
            // GNU parallel: columns, quoting, value forms
            {!o.colsep.empty(), "--colsep"}, {o.header.has_value(), "--header"}, {o.plus, "--plus"},
            {o.quote, "--quote"}, {o.shuf, "--shuf"}, {o.progress, "--progress"},
            {!o.timeout.empty() && o.timeout.back() == '%', "--timeout N%"},
            {o.recstart.has_value(), "--recstart"}, {o.recend.has_value(), "--recend"}, {o.regexp, "--regexp"},
            {o.pipepart, "--pipepart"}, {!o.results.empty(), "--results"}, {o.files, "--files"},
            {o.round_robin, "--round-robin"}, {o.tee, "--tee"}, {o.compress, "--compress"},
            {!o.load.empty(), "--load"}, {!o.memfree.empty(), "--memfree"}};
        for (const auto& [given, name] : pool_only)
            if (given)
                usage("cannot use " + std::string(name) + " with one command: it is for a pool (give inputs with ::: VALUES, :::: FILE or -a FILE, or --pipe or -j N)");
    }

    // --semaphore: GNU parallel's sem. The slot is taken below by the process that supervises the
    // command (it lives as long as the command does), after the process-tree guard is set up.
    std::optional<SlotSemaphore> sem;
    if (!o.semaphore && (!o.sem_id.empty() || o.fg || o.sem_wait))
        usage("cannot use " + std::string(!o.sem_id.empty() ? "--id" : o.fg ? "--fg" : "--wait") + " without --semaphore: it is the semaphore's");
    if (o.semaphore) {
        if (o.daemon) usage("cannot use --daemon with --semaphore: without --fg the command runs in the background already");
        std::string name = o.sem_id;
        if (name.empty()) {  // GNU parallel's default: the terminal's name
            const char* tty = ::ttyname(0);
            name = tty ? tty : "default";
            if (tty) name = name.substr(name.find_first_not_of('/'));
            for (char& ch : name)
                if (ch == '/') ch = '_';
        }
        auto allowed_now = get_affinity(0);
        unsigned ncpu_now = allowed_now ? static_cast<unsigned>(allowed_now->count()) : 1;
        unsigned slots = o.jobs.empty() ? 1 : std::max(1U, parse_jobs(o.jobs, ncpu_now));
        auto s = SlotSemaphore::open(name, slots);
        if (!s) {
            tools::print_error(s.error());
            return tools::exit_failure;
        }
        if (o.sem_wait) {
            if (!tmpl_words.empty()) usage("cannot run a command with --semaphore --wait: it only waits for the commands holding the semaphore");
            if (auto st = s->wait_all(); !st) {
                tools::print_error(st.error());
                return tools::exit_failure;
            }
            return 0;
        }
        sem = std::move(*s);
    }
    if (o.single && plan.pool)
        usage("cannot use --single with a pool input (:::, ::::, -a, --pipe, -j): --single runs one command");
    if (o.shell && o.no_shell) usage("cannot use --shell and --no-shell together: they exclude each other");
    if (o.shell && o.quote) usage("cannot use --shell and --quote together: --quote never runs a shell");
    if (o.null_sep && !o.delimiter.empty()) usage("cannot use -0 and -d together: both set the delimiter");
    const char sep = o.null_sep ? '\0' : !o.delimiter.empty() ? parse_delimiter(o.delimiter) : '\n';

    // --- mode checks
    int modes = int(o.group) + int(o.line_buffer) + int(o.ungroup);
    if (modes > 1) usage("cannot use --group, --line-buffer and --ungroup together: they exclude each other");
    if (!o.block.empty() && !o.pipe && !o.pipepart) usage("cannot use --block without --pipe: it is --pipe's block size");
    if ((o.tag || !o.tagstring.empty()) && o.ungroup)
        usage("cannot use " + std::string(o.tag ? "--tag" : "--tagstring") + " with --ungroup: it needs --group or --line-buffer");
    if (!o.drop_caps.empty() && !o.keep_caps.empty()) usage("cannot use --drop-caps and --keep-caps together: they exclude each other");
    if ((o.resume || o.resume_failed) && o.joblog.empty()) usage("cannot use " + std::string(o.resume ? "--resume" : "--resume-failed") + " without --joblog: it reads the joblog");
    if (o.daemon && plan.pool) usage("cannot use --daemon with a pool: it runs one command");
    if (!o.daemon && (!o.log.empty() || !o.pidfile.empty())) usage("cannot use " + std::string(o.log.empty() ? "--pidfile" : "--log") + " without --daemon: it is a daemon's");
    if (!plan.pool && tmpl_words.empty()) usage("cannot run a command: none given");
    if (!plan.pool && tmpl_words[0].empty()) usage("cannot run a command: its name is empty");

    // --- the child's settings
    Command& c = plan.base;
    c.parent_death_signal(SIGKILL);
    c.on_destroy(DestroyPolicy::kill_tree, Duration::zero());
    auto allowed = get_affinity(0);
    if (!allowed) throw SystemError(allowed.error());
    if (!o.cpus.empty()) {
        auto set = CpuSet::parse(o.cpus, *allowed);
        if (!set) usage("cannot parse --cpus \"" + o.cpus + "\": " + tools::error_reason(set.error()));
        if (set->empty()) usage("cannot use --cpus \"" + o.cpus + "\": it names no CPU");
        if (!set->subset_of(*allowed))
        {
            CpuSet outside = *set - *allowed;
            usage("cannot use --cpus \"" + o.cpus + "\": " + (outside.count() == 1 ? "CPU " : "CPUs ") +
                  outside.to_list() + (outside.count() == 1 ? " is" : " are") + " outside the allowed set " +
                  allowed->to_list());
        }
        plan.cpus = *set;
        c.affinity(*set);
    }
    if (o.nice) c.nice(*o.nice);
    if (o.oom_score_adj) c.oom_score_adj(*o.oom_score_adj);
    for (const auto& r : o.rlimits) add_rlimit(c, r);
    for (const auto& r : o.rlimits)
        if (auto l = parse_rlimit_spec(r); l && l->resource == RLIMIT_NOFILE) plan.jobs_nofile = true;
    if (!o.cwd.empty()) c.cwd(o.daemon ? absolute(o.cwd) : o.cwd);
    if (o.clear_env) c.env_clear();
    for (const auto& e : o.env) {
        auto eq = e.find('=');
        if (eq == 0 || e.empty()) usage("cannot parse --env \"" + e + "\": expected K=V or a name");
        if (eq == std::string::npos) {
            // GNU parallel's --env VAR: pass VAR on as prun has it (the jobs inherit it anyway unless
            // --clear-env); "_" (GNU parallel's "every variable") is accepted and changes nothing.
            if (e == "_") continue;
            if (const char* v = std::getenv(e.c_str())) c.env(e, v);
            continue;
        }
        c.env(e.substr(0, eq), e.substr(eq + 1));
    }
    for (const auto& k : o.unset_env) {
        if (k.empty() || k.find('=') != std::string::npos) usage("cannot parse --unset-env \"" + k + "\": expected a name");
        c.env_remove(k);
    }
    if (!o.user.empty()) set_user(c, o.user);
    if (o.new_session) c.new_session();
    if (o.no_new_privs) c.no_new_privs();
    if (!o.argv0.empty()) c.argv0(o.argv0);
    if (!o.drop_caps.empty() || !o.keep_caps.empty()) {
        bool drop = !o.drop_caps.empty();
        const std::string& text = drop ? o.drop_caps : o.keep_caps;
        auto keep = capabilities_to_keep(drop ? CapabilityChange::drop : CapabilityChange::keep, text);
        if (!keep) {
            if (keep.error().errno_value() != 0) throw SystemError(keep.error());
            usage("cannot parse " + std::string(drop ? "--drop-caps" : "--keep-caps") + " \"" + text + "\": " +
                  tools::error_reason(keep.error()));
        }
        c.keep_capabilities(*keep);
    }
    if (!o.seccomp.empty()) {
        auto f = parse_seccomp_spec(o.seccomp);
        if (!f) {
            // A rules file that is not there (or not a file) is a usage error, as is anything
            // malformed or too large; one that cannot be read is a failure.
            int e = f.error().errno_value();
            if (e != 0 && e != ENOENT && e != ENOTDIR && e != EISDIR && e != ENAMETOOLONG && e != ELOOP)
                throw SystemError(f.error());
            if (e != 0) usage("cannot " + f.error().context() + ": " + tools::error_reason(f.error()));
            usage(tools::error_text(f.error()));
        }
        auto prog = f->compile();
        if (!prog) throw SystemError(prog.error());
        c.seccomp(std::move(*prog));
    }

    // --- time
    if (!o.timeout.empty() && o.timeout.back() == '%') {
        // GNU parallel's --timeout N%: N % of the median runtime of the jobs that succeeded.
        char* end = nullptr;
        std::string num = o.timeout.substr(0, o.timeout.size() - 1);
        double pct = std::strtod(num.c_str(), &end);
        if (num.empty() || !end || *end || !std::isfinite(pct) || pct <= 0)
            usage("cannot parse --timeout \"" + o.timeout + "\": expected a duration or a percentage such as 200%");
        plan.timeout_share = pct / 100;
    } else if (!o.timeout.empty()) {
        plan.timeout = duration_of(o.timeout, "--timeout");
    }
    Duration grace = o.kill_after.empty() ? Duration(std::chrono::seconds(5)) : duration_of(o.kill_after, "--kill-after");
    if (!o.term_seq.empty())
        plan.term_seq = parse_term_seq(o.term_seq);
    else
        plan.term_seq = {{SIGTERM, grace}, {SIGKILL, Duration::zero()}};
    if (!o.delay.empty()) plan.delay = duration_of(o.delay, "--delay");

    // --- pool settings
    unsigned ncpu = static_cast<unsigned>(plan.cpus ? plan.cpus->count() : allowed->count());
    plan.jobs = plan.pool ? (o.jobs.empty() ? std::max(1U, ncpu) : parse_jobs(o.jobs, ncpu)) : 1;
    if (plan.pool && !o.jobs.empty() && !jobs_value(o.jobs, ncpu)) {
        // -j FILE: read again when its modification time changes (checked as jobs end).
        struct stat st {};
        ::stat(o.jobs.c_str(), &st);
        plan.jobs_reload = [path = o.jobs, ncpu, seen = st.st_mtim]() mutable -> std::optional<unsigned> {
            struct stat now {};
            if (::stat(path.c_str(), &now) != 0) return std::nullopt;
            if (now.st_mtim.tv_sec == seen.tv_sec && now.st_mtim.tv_nsec == seen.tv_nsec) return std::nullopt;
            seen = now.st_mtim;
            std::optional<std::string> why;
            auto n = jobs_from_file(path, ncpu, &why);
            if (!n) tools::print_warning("cannot use -j " + path + ": " + why.value_or("unreadable") + "; keeping the number of jobs");
            return n;
        };
    }
    plan.jobs_as_many = plan.pool && o.jobs == "0";
    plan.halt = parse_halt(o.halt);
    plan.retries = std::max(1U, o.retries);
    plan.dry_run = o.dry_run;
    plan.no_run_if_empty = o.no_run_if_empty;
    plan.shell = o.shell || (plan.pool && !o.no_shell && !o.quote && wants_shell(tmpl_words));
    plan.verbose = o.verbose;
    plan.progress = o.progress;
    plan.shell_path = job_shell();
    plan.tag = o.tag || !o.tagstring.empty();
    plan.tagstring = !o.tagstring.empty();
    {
        // GNU parallel's --joblog +FILE appends (a path that really starts with '+': ./+FILE).
        std::string jl = o.joblog;
        if (jl.size() > 1 && jl[0] == '+') {
            jl.erase(0, 1);
            plan.joblog_append = true;
        }
        if (jl == "-") {
            if (o.resume || o.resume_failed)
                usage("cannot use " + std::string(o.resume ? "--resume" : "--resume-failed") + " with --joblog -: it reads the joblog back");
            plan.joblog_stdout = true;
            jl.clear();
        }
        plan.joblog = jl.empty() ? "" : absolute(jl);
    }
    plan.joblog_jsonl = o.joblog_format == "jsonl";
    plan.resume = o.resume;
    plan.resume_failed = o.resume_failed;
    plan.bar = o.bar;
    plan.eta = o.eta;
    if (plan.pool) {
        plan.output = o.ungroup ? OutputMode::ungroup : o.line_buffer ? OutputMode::line_buffer : OutputMode::group;
        plan.keep_order = o.keep_order && plan.output != OutputMode::ungroup;
        if (plan.keep_order) plan.output = OutputMode::group;
        // --pipepart reads the one file given with -a (or ::::); the rest is as --pipe.
        std::string part_path;
        if (o.pipepart) {
            if (sources.size() != 1 || sources[0].kind != SourceSpec::Kind::file || sources[0].path == "-")
                usage("cannot use --pipepart: it needs one file to cut, given with -a FILE (or :::: FILE)");
            part_path = sources[0].path;
            sources.clear();
        }
        const bool piping = o.pipe || o.pipepart;
        for (auto [given, name] : {std::pair{o.round_robin, "--round-robin"}, std::pair{o.tee, "--tee"}})
            if (given && !o.pipe)
                usage("cannot use " + std::string(name) + " without --pipe: it says how --pipe's blocks reach the jobs" +
                      (o.pipepart ? " (not --pipepart's)" : ""));
        if (o.round_robin && o.tee) usage("cannot use --round-robin and --tee together: a block goes to one job or to all");
        if (o.tee && sources.empty())
            usage("cannot use --tee without input sources (::: VALUES): each value is a job that gets all of stdin");
        if ((o.round_robin || o.tee) && o.retries > 1)
            usage("cannot use --retries with " + std::string(o.tee ? "--tee" : "--round-robin") + ": the input a job was given cannot be given again");
        if ((o.recstart || o.recend || o.regexp) && !piping)
            usage("cannot use " + std::string(o.recstart ? "--recstart" : o.recend ? "--recend" : "--regexp") +
                  " without --pipe or --pipepart: it says where their records end");
        if (o.pipe && !o.tee && !sources.empty())
            usage("cannot use input sources (:::, ::::, -a) with --pipe: the jobs get standard input on their stdin");
        if (piping && tmpl_words.empty()) usage("cannot use --pipe: no command to run was given");
        if (piping && o.link) usage("cannot use --link with --pipe: it pairs input sources, and --pipe takes none");
        if (!piping && sources.empty()) sources.push_back({SourceSpec::Kind::stdin_, {}, {}});
        // --tee: values make the jobs, as without --pipe; stdin is the blocks.
        const bool values = !piping || o.tee;
        plan.have_template = !tmpl_words.empty();
        if (!o.results.empty()) {
            // GNU parallel's forms: a directory tree, or one table when the name ends in .csv or
            // .tsv (-.csv, -.tsv: on standard output).
            auto ends = [&](const char* ext) {
                return o.results.size() >= 4 && o.results.compare(o.results.size() - 4, 4, ext) == 0;
            };
            if (ends(".csv") || ends(".tsv")) {
                plan.results = Plan::Results::table;
                plan.table_sep = ends(".csv") ? ',' : '\t';
                plan.results_path = o.results == "-.csv" || o.results == "-.tsv" ? "-" : o.results;
                if (o.files) usage("cannot use --files with --results " + o.results + ": the output goes into the table");
            } else {
                plan.results = Plan::Results::dir;
                plan.results_path = o.results;
                while (plan.results_path.size() > 1 && plan.results_path.back() == '/') plan.results_path.pop_back();
                if (piping && !o.tee) usage("cannot use --results DIR with --pipe: a job's directory is named by its input values, and blocks have none");
            }
            plan.output = OutputMode::group;
        }
        if (!o.load.empty()) {
            // A number, or N% of the CPUs prun may use (100% = one per CPU).
            std::string t = o.load;
            bool percent = !t.empty() && t.back() == '%';
            if (percent) t.pop_back();
            char* end = nullptr;
            double v = std::strtod(t.c_str(), &end);
            if (t.empty() || end != t.c_str() + t.size() || !(v >= 0) || !std::isfinite(v))
                usage("cannot parse --load \"" + o.load + "\": expected a number or N%");
            if (percent) v = v * ncpu / 100.0;
            plan.max_load = v == 0 ? 0.01 : v;  // GNU parallel reads 0 as 0.01
        }
        if (!o.memfree.empty()) plan.memfree = parse_memory(o.memfree);
        plan.files = o.files;
        plan.compress = o.compress;
        if (o.files) plan.output = OutputMode::group;
        // Several arguments per job.
        int batching = int(o.max_args > 0) + int(o.max_args_pos > 0) + int(o.max_lines > 0) + int(o.multi_m) + int(o.multi_x);
        if (batching > 1) usage("cannot use more than one of -n, -N, -L, -m and -X: they say how a job's inputs are chosen");
        // -N with --pipe: records per block (GNU parallel's reading); the others are for arguments.
        const std::size_t pipe_records = o.pipe && !o.pipepart && batching == 1 ? o.max_args_pos : 0;
        if (pipe_records) batching = 0;
        if (batching && piping)
            usage("cannot use -n, -N, -L, -m or -X with " + std::string(o.pipepart ? "--pipepart" : "--pipe") +
                  ": each job gets a block, not arguments" + (o.pipepart ? "" : " (-N alone gives each block N records)"));
        if (batching && sources.size() > 1) usage("cannot use -n, -N, -L, -m or -X with several input sources: they group the values of one");
        if (batching) {
            plan.batch = true;
            plan.multi = o.multi_x ? Multi::x : Multi::m;
            plan.batch_args = o.max_args ? o.max_args : o.max_args_pos ? o.max_args_pos : o.max_lines;
            // As xargs: the exec limit less the environment and 2048 bytes of headroom, at most
            // 128 KiB (also the most one argument, a shell script, may hold).
            long arg_max = sysconf(_SC_ARG_MAX);
            std::size_t env = 0;
            for (char** e = environ; e && *e; ++e) env += std::strlen(*e) + 1 + sizeof(char*);
            std::size_t limit = arg_max > 0 && static_cast<std::size_t>(arg_max) > env + 4096 ? static_cast<std::size_t>(arg_max) - env - 2048 : 4096;
            limit = std::min<std::size_t>(limit, 131072);
            plan.max_chars = o.max_chars ? std::min(o.max_chars, limit) : limit;
        }
        // GNU parallel: columns, quoting, value forms. --plus strings; --header's names are read
        // with the inputs, before the templates are parsed; {##} and {0#} need the number of jobs.
        TemplateSyntax syntax;
        syntax.plus = o.plus;
        const std::size_t n_given = sources.size();  // the sources are handed to Inputs below
        bool uses_total = false;
        if (o.plus) {
            for (const auto* text : {&o.name, &o.tagstring}) {
                auto t = Template::parse_text(*text, 999999, o.replace, syntax);
                uses_total = uses_total || (t && t->uses_total());
            }
            auto t = Template::parse(tmpl_words, 999999, o.replace, syntax);
            uses_total = uses_total || (t && t->uses_total());
        }
        if (!o.colsep.empty() && (!values || plan.batch))
            usage("cannot use --colsep with " + std::string(piping ? "--pipe" : "-n, -N, -L, -m or -X") + ": it cuts one input into columns");
        if (o.header && !values) usage("cannot use --header with --pipe: it names input columns, and --pipe takes none");
        if (o.shuf && !values) usage("cannot use --shuf with --pipe: the blocks are cut as standard input is read");
        if (piping) {
            RecordBounds bounds;
            bounds.regexp = o.regexp;
            if (o.recstart || o.recend) {
                // GNU parallel: with --recstart alone, --recend is empty (and the other way round).
                bounds.end = o.recend ? unescape_record(*o.recend, "--recend", o.regexp) : "";
                bounds.start = o.recstart ? unescape_record(*o.recstart, "--recstart", o.regexp) : "";
            } else {
                bounds.end = std::string(1, sep);
                bounds.regexp = false;
            }
            if (bounds.regexp) {
                try {
                    std::regex test("(?:" + bounds.end + ")" + (bounds.start.empty() ? "" : "(?=" + bounds.start + ")"));
                } catch (const std::regex_error& e) {
                    usage("cannot parse --recstart/--recend as regular expressions: " + std::string(e.what()));
                }
            }
            const std::size_t size = o.block.empty() ? std::size_t{1} << 20 : parse_size(o.block);
            if (o.pipepart) {
                auto parts = PartCutter::open(part_path, std::move(bounds), size);
                if (!parts) {
                    tools::print_error(parts.error());
                    return own_failure;
                }
                plan.parts.emplace(std::move(*parts));
            } else {
                int fd = fcntl(0, F_DUPFD_CLOEXEC, 3);
                if (fd < 0) {
                    tools::print_error(Error::from_errno(errno, "read standard input"));
                    return own_failure;
                }
                plan.blocks.emplace(unique_fd(fd), std::move(bounds), size, pipe_records);
                plan.spread = o.tee ? Plan::Spread::tee : o.round_robin ? Plan::Spread::round_robin : Plan::Spread::per_block;
            }
        }
        if (values) {
            auto in = Inputs::open(std::move(sources), sep, o.link, o.eof);
            if (!in) {
                tools::print_error(in.error());
                return own_failure;
            }
            plan.inputs = std::move(*in);
            // GNU parallel: columns, quoting, value forms
            if (!o.colsep.empty() || o.header) {
                // --header without --colsep cuts at tabs, as GNU parallel does.
                std::string re = o.colsep.empty() ? std::string("\t") : o.colsep;
                try {
                    plan.inputs->set_colsep(std::regex(re, std::regex::ECMAScript));
                } catch (const std::regex_error&) {
                    usage("cannot parse --colsep \"" + re + "\": not a valid regular expression");
                }
            }
            if (o.header) {
                auto names = plan.inputs->take_header();
                if (!names) {
                    tools::print_error(names.error());
                    return own_failure;
                }
                syntax.names = std::move(*names);
            }
            if (o.shuf) {
                if (auto r = plan.inputs->shuffle(); !r) {
                    tools::print_error(r.error());
                    return own_failure;
                }
            }
            if (plan.bar || plan.eta || plan.batch || uses_total || o.tee) {
                if (auto r = plan.inputs->materialize(); !r) {
                    tools::print_error(r.error());
                    return own_failure;
                }
            }
            if (uses_total) plan.total_jobs = plan.inputs->total().value_or(0);
            if (o.tee) {
                // Every job reads the input from its first byte, so all run at once: one slot per
                // value unless -j says otherwise, and then it must hold them all.
                std::size_t n = plan.inputs->total().value_or(0);
                if (o.jobs.empty())
                    plan.jobs = static_cast<unsigned>(std::clamp<std::size_t>(n, 1, std::numeric_limits<unsigned>::max()));
                else if (!plan.jobs_as_many && n > plan.jobs)
                    usage("cannot use --tee with -j " + o.jobs + ": its " + std::to_string(n) +
                          " jobs must all run at once (leave -j out, or -j 0)");
            }
            if (auto empty = plan.inputs->empty_source(); empty && !o.no_run_if_empty) {
                tools::print_error("cannot run jobs: " + *empty + " is empty (-r allows that)");
                return own_failure;
            }
        }
        // With --pipe there is no input value; parse as for one source, then refuse any use of it.
        std::size_t n_sources = !values || !o.colsep.empty() || o.header ? 999999 : n_given;  // any {N} parses (a --pipe one is refused)
        if (!piping && (o.max_args_pos || o.max_lines)) n_sources = o.max_args_pos ? o.max_args_pos : o.max_lines;  // {N}: the Nth input of the job
        auto t = Template::parse(tmpl_words, n_sources, o.replace, syntax);
        if (!t) usage("cannot parse the command template: " + t.error().context());
        plan.tmpl = std::move(*t);
        if (!values && plan.tmpl.uses_inputs())
            usage("cannot use input replacement strings with --pipe: each job gets a block on its stdin, not a value "
                  "(only {#} and {%} can be used)");
        if (plan.have_template && !plan.shell && plan.tmpl.fixed_program() && tmpl_words[0].empty())
            usage("cannot run the template: it yields an empty command");
        if (!o.name.empty()) {
            auto n = Template::parse_text(o.name, n_sources, o.replace, syntax);
            if (!n) usage("cannot parse --name: " + n.error().context());
            if (!values && n->uses_inputs()) usage("cannot use --name with --pipe: it can use only {#} and {%}");
            plan.name_tmpl = std::move(*n);
        }
        if (!o.tagstring.empty()) {
            auto tag = Template::parse_text(o.tagstring, n_sources, o.replace, syntax);
            if (!tag) usage("cannot parse --tagstring: " + tag.error().context());
            if (!values && tag->uses_inputs()) usage("cannot use --tagstring with --pipe: it can use only {#} and {%}");
            plan.tag_tmpl = std::move(*tag);
        }
        // A fixed program that cannot be run: say so once, start nothing.
        if (plan.have_template && !plan.shell && plan.tmpl.fixed_program() && !o.dry_run)
            if (auto code = unrunnable(tmpl_words[0], o, true)) return *code;
        if (o.pin_spread) {
            auto topo = Topology::read();
            CpuSet within = plan.cpus ? *plan.cpus : *allowed;
            std::vector<unsigned> order;
            if (topo) {
                CpuSet firsts = topo->one_thread_per_core(within);
                order = firsts.cpus();
                for (unsigned cpu : (within - firsts).cpus()) order.push_back(cpu);
            } else {
                order = within.cpus();
            }
            if (order.empty()) usage("cannot use --pin-spread: no CPU to pin to");
            for (unsigned k = 0; k < std::min<std::size_t>(plan.jobs, 4096); ++k) plan.slot_cpus.push_back(CpuSet{order[k % order.size()]});
        }
    } else {
        if (!o.dry_run)
            if (auto code = unrunnable(tmpl_words[0], o, false)) return *code;
        plan.single_argv = tmpl_words;
        plan.fixed_name = o.name;
        plan.fixed_tag = o.tagstring;
        plan.output = o.group                                            ? OutputMode::group
                      : (o.line_buffer || o.tag || !o.tagstring.empty()) ? OutputMode::line_buffer
                                                                         : OutputMode::ungroup;
        if (o.pin_spread) {
            auto topo = Topology::read();
            CpuSet within = plan.cpus ? *plan.cpus : *allowed;
            CpuSet first = topo ? topo->one_thread_per_core(within) : within;
            plan.slot_cpus.push_back(CpuSet{first.empty() ? within.first() : first.first()});
        }
    }

    // --- restart policy
    plan.restart = o.restart == "always" ? Restart::always : o.restart == "on-failure" ? Restart::on_failure : Restart::no;
    if (plan.restart != Restart::no && plan.pool) usage("cannot use --restart with a pool: it is for a single command");
    plan.restart_delay = duration_of(o.restart_delay, "--restart-delay");
    {
        auto slash = o.restart_limit.find('/');
        auto n = tools::parse_unsigned(std::string_view(o.restart_limit).substr(0, slash));
        if (!n) usage("cannot parse --restart-limit \"" + o.restart_limit + "\": expected N[/DUR]");
        plan.restart_limit = static_cast<unsigned>(*n);
        if (slash != std::string::npos) plan.restart_window = duration_of(o.restart_limit.substr(slash + 1), "--restart-limit");
    }

    if (o.dry_run) return run_engine(plan);

    // --- daemon
    std::optional<Daemonized> daemon;
    PidFile pidfile;
    std::string pidfile_path;
    pid_t main_pid = 0;  // the PID systemd should watch: set below, once the guardian is known
    if (o.daemon) {
        DaemonOptions dopt;
        dopt.log_path = o.log;
        std::string pidpath = absolute(o.pidfile), logpath = absolute(o.log);
        auto d = daemonize(dopt);
        if (!d) throw SystemError(d.error());
        if (!d->is_daemon()) {
            auto rep = d->wait_ready();
            if (!rep) throw SystemError(rep.error());
            if (rep->code != 0 && !rep->message.empty()) {
                std::string m = rep->message;
                if (m.rfind("prun: ", 0) == 0) m.erase(0, 6);
                tools::print_error(m);
            }
            return rep->code;
        }
        daemon = std::move(*d);
        pidfile_path = pidpath;  // acquired below, by the supervisor, naming the guardian
        plan.daemon = true;
        if (!logpath.empty()) {
            plan.output = OutputMode::line_buffer;
            plan.on_hangup = [logpath] {
                auto fd = open_log(logpath);
                if (!fd) {
                    tools::print_error(fd.error());
                    return;
                }
                dup2(fd->get(), 1);
                dup2(fd->get(), 2);
            };
        } else {
            plan.on_hangup = [] {};
        }
        // Under systemd (Type=notify, NOTIFY_SOCKET set) readiness goes to the service manager
        // too, before the foreground side is released, naming the PID that stays: the guardian.
        plan.on_first_spawn = [&daemon, &main_pid](int code, const std::string& msg) {
            if (code == 0) {
                if (auto r = notify_ready(main_pid); !r) tools::print_warning(r.error().message());
            }
            daemon->notify(code, msg);
        };
    }

    // --- --semaphore without --fg: the caller returns 0 once the slot is taken, and the command
    // runs on in a child of its own (which holds the slot, below).
    unique_fd sem_ready;
    if (sem && !o.fg) {
        int p[2];
        if (::pipe2(p, O_CLOEXEC) != 0) throw SystemError(last_error("create a pipe"));
        unique_fd r(p[0]), wr(p[1]);
        pid_t pid = ::fork();
        if (pid < 0) throw SystemError(last_error("fork"));
        if (pid > 0) {
            wr.reset();
            char b = 0;
            ssize_t n = retry_eintr([&] { return ::read(r.get(), &b, 1); });
            return n == 1 ? 0 : tools::exit_failure;  // EOF: the child failed and said why
        }
        sem_ready = std::move(wr);
    }

    // --- nothing outlives prun: this process becomes the guardian (keeping the PID the shell and
    // the pidfile know) and returns here only as the supervisor, its child. See TreeGuard.
    std::optional<TreeGuard> guard;
    // Signals sent to the guardian come through its descriptor, so that one sent to the whole
    // process group (which reaches both processes) is acted on once.
    if (auto g = TreeGuard::enter({.name = tools::tool_name(), .forward = TreeGuardOptions::Forward::through_fd}); g) {
        guard = std::move(*g);
        plan.guard = &*guard;
    } else if (o.strict_tree) {
        tools::print_error(g.error());
        if (daemon) daemon->notify(own_failure, tools::tool_name() + ": " + g.error().message());
        return own_failure;
    } else {
        tools::print_warning(g.error().message() + "; running without the process-tree guard");
    }
    main_pid = guard ? guard->guardian_pid() : ::getpid();
    // The pidfile names the guardian (`kill $(cat pidfile)` reaches the PID that forwards) and is
    // held, and removed at exit, by the supervisor, which outlives nothing but its own cleanup.
    if (!pidfile_path.empty()) {
        auto pf = PidFile::acquire(pidfile_path, guard ? guard->guardian_pid() : 0);
        if (!pf) {
            daemon->notify(tools::exit_failure, "prun: " + pf.error().message());
            return tools::exit_failure;
        }
        pidfile = std::move(*pf);
    }
    if (sem) {
        if (auto st = sem->acquire(); !st) {
            tools::print_error(st.error());
            return tools::exit_failure;
        }
        if (sem_ready) {
            (void)retry_eintr([&] { return ::write(sem_ready.get(), "1", 1); });
            sem_ready.reset();
        }
    }
    int code = run_engine(plan);
    if (daemon) daemon->notify(code == 0 ? 0 : code, "prun: the command ended before it was ready");
    return code;
}

}  // namespace prockit::prun
