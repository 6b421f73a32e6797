#include "prun_cli.hpp"

#include "common/cli.hpp"
#include "common/duration.hpp"
#include "engine.hpp"
#include "common/exit_codes.hpp"

#include <prockit/process/daemon.hpp>
#include <prockit/process/tree_guard.hpp>
#include <prockit/sched/affinity.hpp>
#include <prockit/sched/topology.hpp>
#include <prockit/security/capabilities.hpp>
#include <prockit/security/seccomp.hpp>
#include <prockit/sys/signals.hpp>

#include <cerrno>
#include <charconv>
#include <climits>
#include <cstdlib>
#include <grp.h>
#include <pwd.h>
#include <sys/resource.h>
#include <unistd.h>

namespace prockit::prun {
namespace {

using tools::UsageError;

[[noreturn]] void usage(const std::string& what) { throw UsageError(what); }

Duration duration_of(const std::string& text, const char* option) {
    auto d = tools::parse_duration(text);
    if (!d) usage("cannot parse " + std::string(option) + " \"" + text + "\": " + d.error().message());
    return *d;
}

// ---------------------------------------------------------------- rlimits

struct RlimitName {
    const char* name;
    int resource;
};
constexpr RlimitName kRlimits[] = {
    {"as", RLIMIT_AS},           {"core", RLIMIT_CORE},       {"cpu", RLIMIT_CPU},
    {"data", RLIMIT_DATA},       {"fsize", RLIMIT_FSIZE},     {"locks", RLIMIT_LOCKS},
    {"memlock", RLIMIT_MEMLOCK}, {"msgqueue", RLIMIT_MSGQUEUE}, {"nice", RLIMIT_NICE},
    {"nofile", RLIMIT_NOFILE},   {"nproc", RLIMIT_NPROC},     {"rss", RLIMIT_RSS},
    {"rtprio", RLIMIT_RTPRIO},   {"rttime", RLIMIT_RTTIME},   {"sigpending", RLIMIT_SIGPENDING},
    {"stack", RLIMIT_STACK},
};

std::optional<rlim_t> rlimit_value(std::string_view t) {
    if (t == "unlimited" || t == "infinity") return RLIM_INFINITY;
    rlim_t mult = 1;
    if (!t.empty()) {
        char last = t.back();
        if (last == 'k' || last == 'K') mult = 1024;
        if (last == 'm' || last == 'M') mult = 1024 * 1024;
        if (last == 'g' || last == 'G') mult = 1024ULL * 1024 * 1024;
        if (mult != 1) t.remove_suffix(1);
    }
    unsigned long long v = 0;
    auto r = std::from_chars(t.data(), t.data() + t.size(), v);
    if (t.empty() || r.ec != std::errc() || r.ptr != t.data() + t.size()) return std::nullopt;
    if (v > ULLONG_MAX / mult) return std::nullopt;
    return static_cast<rlim_t>(v * mult);
}

void add_rlimit(Command& c, const std::string& spec) {
    auto eq = spec.find('=');
    if (eq == std::string::npos) usage("cannot parse --rlimit \"" + spec + "\": expected RESOURCE=SOFT[:HARD]");
    std::string name = spec.substr(0, eq);
    for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (name.rfind("rlimit_", 0) == 0) name.erase(0, 7);
    int res = -1;
    for (const auto& r : kRlimits)
        if (name == r.name) res = r.resource;
    if (res < 0)
        usage("cannot parse --rlimit \"" + spec + "\": unknown resource \"" + spec.substr(0, eq) +
              "\" (as, core, cpu, data, fsize, locks, memlock, msgqueue, nice, nofile, nproc, rss, rtprio, rttime, "
              "sigpending, stack)");
    std::string vals = spec.substr(eq + 1);
    auto colon = vals.find(':');
    auto soft = rlimit_value(std::string_view(vals).substr(0, colon));
    std::optional<rlim_t> hard;
    if (colon != std::string::npos) hard = rlimit_value(std::string_view(vals).substr(colon + 1));
    if (!soft || (colon != std::string::npos && !hard))
        usage("cannot parse --rlimit \"" + spec + "\": expected a number, a number with K/M/G, or unlimited");
    if (!hard) {
        // The hard limit stays as it is, unless the soft one goes above it.
        struct rlimit cur {};
        getrlimit(static_cast<__rlimit_resource>(res), &cur);
        hard = cur.rlim_max;
        if (*hard != RLIM_INFINITY && (*soft == RLIM_INFINITY || *soft > *hard)) hard = soft;
    }
    if (*hard != RLIM_INFINITY && (*soft == RLIM_INFINITY || *soft > *hard))
        usage("cannot parse --rlimit \"" + spec + "\": the soft limit is above the hard limit");
    c.rlimit(res, *soft, *hard);
}

// ---------------------------------------------------------------- users

void set_user(Command& c, const std::string& spec) {
    auto colon = spec.find(':');
    std::string u = spec.substr(0, colon), g = colon == std::string::npos ? "" : spec.substr(colon + 1);
    uid_t uid = 0;
    gid_t gid = 0;
    std::string uname;
    bool have_pw = false;
    std::vector<char> buf(16384);
    passwd pw{}, *pwp = nullptr;
    if (getpwnam_r(u.c_str(), &pw, buf.data(), buf.size(), &pwp) == 0 && pwp) {
        uid = pw.pw_uid;
        gid = pw.pw_gid;
        uname = pw.pw_name;
        have_pw = true;
    } else {
        unsigned long v = 0;
        auto r = std::from_chars(u.data(), u.data() + u.size(), v);
        if (u.empty() || r.ec != std::errc() || r.ptr != u.data() + u.size())
            usage("cannot find user \"" + u + "\"");
        uid = static_cast<uid_t>(v);
        if (getpwuid_r(uid, &pw, buf.data(), buf.size(), &pwp) == 0 && pwp) {
            gid = pw.pw_gid;
            uname = pw.pw_name;
            have_pw = true;
        } else {
            gid = static_cast<gid_t>(v);
        }
    }
    if (!g.empty()) {
        group gr{}, *grp = nullptr;
        if (getgrnam_r(g.c_str(), &gr, buf.data(), buf.size(), &grp) == 0 && grp) {
            gid = gr.gr_gid;
        } else {
            unsigned long v = 0;
            auto r = std::from_chars(g.data(), g.data() + g.size(), v);
            if (r.ec != std::errc() || r.ptr != g.data() + g.size()) usage("cannot find group \"" + g + "\"");
            gid = static_cast<gid_t>(v);
        }
    }
    std::vector<gid_t> groups{gid};
    if (have_pw) {
        int n = 64;
        groups.resize(static_cast<std::size_t>(n));
        if (getgrouplist(uname.c_str(), gid, groups.data(), &n) < 0) {
            groups.resize(static_cast<std::size_t>(n));
            getgrouplist(uname.c_str(), gid, groups.data(), &n);
        }
        groups.resize(static_cast<std::size_t>(n));
    }
    c.groups(groups).group(gid).user(uid);
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
    if (val.empty() || !end || *end || h.value <= 0 || (h.percent && h.value > 100)) return bad();
    return h;
}

/// --block: bytes, with k m g t (powers of 1000) or K M G T (powers of 1024), decimals allowed
/// (1.5M), at most 2 GiB - 1, as GNU parallel reads it.
std::size_t parse_size(const std::string& text) {
    constexpr double most = 2147483647.0;
    auto bad = [&](const std::string& why) { usage("--block " + text + ": " + why); };
    char* end = nullptr;
    double value = std::strtod(text.c_str(), &end);
    if (text.empty() || end == text.c_str() || !(value > 0)) bad("expected a size such as 65536, 64K, 1.5M or 10m");
    std::string_view suffix(end);
    double scale = 1;
    if (suffix.size() == 1) {
        const std::string_view units = "KMGT", decimal = "kmgt";
        if (auto k = units.find(suffix[0]); k != std::string_view::npos)
            for (std::size_t i = 0; i <= k; ++i) scale *= 1024;
        else if (auto d = decimal.find(suffix[0]); d != std::string_view::npos)
            for (std::size_t i = 0; i <= d; ++i) scale *= 1000;
        else
            bad("unknown unit (K M G T: powers of 1024; k m g t: powers of 1000)");
    } else if (!suffix.empty()) {
        bad("expected a size such as 65536, 64K, 1.5M or 10m");
    }
    double bytes = value * scale;
    if (bytes < 1) bad("a block holds at least 1 byte");
    if (bytes > most) bad("a block holds at most 2 GiB - 1 (2147483647 bytes)");
    return static_cast<std::size_t>(bytes);
}

unsigned parse_jobs(const std::string& text, unsigned ncpu) {
    auto bad = [&]() -> unsigned { usage("cannot parse -j \"" + text + "\": expected N, N%, +N or -N"); };
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

std::string absolute(const std::string& path) {
    if (path.empty() || path[0] == '/') return path;
    char buf[PATH_MAX];
    if (!getcwd(buf, sizeof buf)) return path;
    return std::string(buf) + "/" + path;
}

bool is_separator(const std::string& w) { return w == ":::" || w == "::::" || w == ":::+" || w == "::::+"; }

}  // namespace

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
    app->set_version_flag("--version", tools::version_line(), "Print the version and exit");
    app->footer(
        "A pool runs when an input source (:::, ::::, :::+, ::::+, -a) or -j, -0, -k, --link, --pipe,\n"
        "--shell, -r, --halt, --retries, --delay, --resume[-failed], --bar or --eta is given; without a\n"
        "source it reads its inputs from stdin (--pipe: gives each job a block of stdin).\n"
        "Replacement strings: {} input, {.} without extension, {/} basename, {//} dirname, {/.} basename\n"
        "without extension, {#} job number, {%} slot, {N} {N.} {N/} {N//} {N/.} for input source N.\n"
        "Commands are exec'd directly, one argument per template word, with no shell (inputs are never\n"
        "split or interpreted); --shell runs them with sh -c and single-quotes each value. A template\n"
        "without replacement strings gets the inputs appended. Several sources combine as a cross product.\n"
        "Exit status: single command: its status (128+N if killed by signal N), 124 on --timeout, 126/127\n"
        "if it cannot be executed/found; pool: 0 or the number of failed jobs (at most 101); 2 usage error;\n"
        "1 other failure; 128+N when prun was stopped by signal N. See prun(1).");
    app->option_defaults()->always_capture_default(false);

    auto* g = "Labels";
    app->add_option("--name", o.name, "Label the process (pool: a template, e.g. 'job-{#}') in output, logs, joblog")
        ->group(g);
    app->add_option("--argv0", o.argv0, "The argv[0] the program sees (what ps shows)")->group(g);

    g = "Per-child controls";
    app->add_option("--cpus", o.cpus, "Run on these CPUs (list such as 0-3,8; must be allowed to prun)")->group(g);
    app->add_option("--nice", o.nice, "Nice value (-20..19)")->check(CLI::Range(-20, 19))->group(g);
    app->add_option("--oom-score-adj", o.oom_score_adj, "oom_score_adj (-1000..1000)")
        ->check(CLI::Range(-1000, 1000))
        ->group(g);
    app->add_option("--rlimit", o.rlimits, "Resource limit RES=SOFT[:HARD] (nofile, nproc, as, core, cpu, ...); repeatable")
        ->group(g);
    app->add_option("--timeout", o.timeout, "End the command (or each job) after DUR (1.5s, 2m, ...)")->group(g);
    app->add_option("--kill-after", o.kill_after, "After TERM, send KILL when DUR has passed (default 5s)")->group(g);
    app->add_option("--term-seq,--termseq", o.term_seq, "How to end a job: SIG,MS,SIG,MS,... (e.g. TERM,200,KILL,25)")
        ->group(g);
    app->add_flag("--strict-tree", o.strict_tree,
                  "Refuse to run (exit 1) when prun cannot make sure that nothing it starts outlives it")
        ->group(g);
    app->add_option("--cwd", o.cwd, "Working directory of the child")->group(g);
    app->add_option("--env", o.env, "Set K=V in the child's environment; repeatable")->group(g);
    app->add_option("--unset-env", o.unset_env, "Remove K from the child's environment; repeatable")->group(g);
    app->add_flag("--clear-env", o.clear_env, "Start the child with an empty environment (then --env)")->group(g);
    app->add_option("--user", o.user, "Run as USER[:GROUP] (names or numbers)")->group(g);
    app->add_flag("--new-session", o.new_session, "Start the child in a new session (setsid)")->group(g);
    app->add_flag("--no-new-privs", o.no_new_privs, "Set no_new_privs in the child")->group(g);
    app->add_option("--drop-caps", o.drop_caps, "Drop capabilities: all, or a list (net_raw,sys_admin)")->group(g);
    app->add_option("--keep-caps", o.keep_caps, "Keep only these capabilities (ambient too, survives --user)")->group(g);
    app->add_option("--seccomp", o.seccomp,
                    "Seccomp profile(s): no-network, no-ptrace, no-mount, no-modules, no-fork, or a rules FILE "
                    "(a name with '/'); repeatable, comma lists")
        ->group(g);

    g = "Daemon";
    app->add_flag("--daemon", o.daemon, "Detach and supervise the command; return 0 once it was exec'd")->group(g);
    app->add_option("--log", o.log, "Daemon: append the command's output here (reopened on SIGHUP)")->group(g);
    app->add_option("--pidfile", o.pidfile, "Daemon: write the PID here, atomically, locked while running")->group(g);
    app->add_option("--restart", o.restart, "Restart the command: no, on-failure, always")
        ->check(CLI::IsMember({"no", "on-failure", "always"}))
        ->group(g);
    app->add_option("--restart-delay", o.restart_delay, "First restart delay, doubling up to 60s (default 1s)")->group(g);
    app->add_option("--restart-limit", o.restart_limit, "At most N restarts per DUR: N[/DUR] (default 5/60s)")->group(g);

    g = "Pool";
    app->add_option("-j,--jobs", o.jobs, "Jobs at once: N, N% of CPUs, +N, -N, 0 = many (default: CPUs usable)")->group(g);
    app->add_option("-a,--arg-file", o.arg_files, "Read inputs from FILE (- for stdin); repeatable")->group(g);
    app->add_flag("--pipe,--spreadstdin", o.pipe, "Cut standard input into blocks of whole lines, one block per job's stdin")
        ->group(g);
    app->add_option("--block,--block-size", o.block, "--pipe: block size in bytes, with k m g t (1000s) or K M G T (1024s); default 1M")
        ->group(g);
    app->add_flag("--link,--xapply", o.link, "Pair all input sources value by value (shorter ones wrap) instead of crossing them")
        ->group(g);
    app->add_flag("-0,--null", o.null_sep, "Inputs from files and stdin are NUL-separated")->group(g);
    app->add_flag("--shell", o.shell, "Run each job with sh -c (values are single-quoted)")->group(g);
    app->add_flag("-r,--no-run-if-empty", o.no_run_if_empty, "Empty input is no error: run nothing, exit 0")->group(g);
    app->add_flag("--group", o.group, "Print each job's output whole when it ends (pool default)")->group(g);
    app->add_flag("--line-buffer,--lb", o.line_buffer, "Print whole lines as they come, interleaved")->group(g);
    app->add_flag("-u,--ungroup", o.ungroup, "Let jobs write straight to prun's stdout and stderr")->group(g);
    app->add_flag("--tag", o.tag, "Prefix each output line with the job's name and a TAB")->group(g);
    app->add_option("--tagstring", o.tagstring, "Prefix each output line with this (replacement strings allowed) and a TAB")
        ->group(g);
    app->add_flag("-k,--keep-order", o.keep_order, "Print output in input order")->group(g);
    app->add_option("--halt", o.halt, "Stop early: never, now|soon,fail|success|done=N[%]")->group(g);
    app->add_option("--retries", o.retries, "Run a failing job up to N times in all")->group(g);
    app->add_option("--delay", o.delay, "Wait DUR between job starts")->group(g);
    app->add_option("--joblog", o.joblog, "Log each job (GNU parallel's TSV columns)")->group(g);
    app->add_option("--joblog-format", o.joblog_format, "tsv (default) or jsonl (adds CPU times, peak RSS, CPUs)")
        ->check(CLI::IsMember({"tsv", "jsonl"}))
        ->group(g);
    app->add_flag("--resume", o.resume, "Skip jobs already in the joblog")->group(g);
    app->add_flag("--resume-failed", o.resume_failed, "Skip jobs that succeeded in the joblog; rerun the others")->group(g);
    app->add_flag("--pin-spread", o.pin_spread, "Pin slot k to its own CPU, one per physical core first")->group(g);
    app->add_flag("--bar", o.bar, "Progress bar with ETA on stderr (a periodic line when not a terminal)")->group(g);
    app->add_flag("--eta", o.eta, "Periodic progress line with ETA on stderr")->group(g);
    app->add_flag("--dry-run", o.dry_run, "Print the commands that would run; run nothing")->group(g);
    return app;
}

int main_entry(int argc, char** argv) {
    tools::set_tool_name("prun");
    Options opts;
    auto app = build_cli(opts);
    // Split argv: prun's options first, then the command words (at "--" or the first word that is
    // not an option or an option's value).
    std::vector<const char*> head{argv[0]};
    int i = 1;
    for (; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--") {
            ++i;
            break;
        }
        if (a.size() < 2 || a[0] != '-' ) break;
        head.push_back(argv[i]);
        auto takes_value = [&](const std::string& name) {
            const CLI::Option* o = app->get_option_no_throw(name);
            return o && o->get_expected_max() > 0 && o->get_type_size_max() > 0;
        };
        if (a.rfind("--", 0) == 0) {
            if (a.find('=') == std::string::npos && takes_value(a) && i + 1 < argc) head.push_back(argv[++i]);
        } else {
            for (std::size_t k = 1; k < a.size(); ++k) {
                if (takes_value(std::string("-") + a[k])) {
                    if (k + 1 == a.size() && i + 1 < argc) head.push_back(argv[++i]);
                    break;
                }
            }
        }
    }
    for (; i < argc; ++i) opts.words.emplace_back(argv[i]);
    if (auto code = tools::parse(*app, static_cast<int>(head.size()), head.data())) return tools::finish_output(*code);
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
    bool any_separator = false;
    for (; w < o.words.size() && !is_separator(o.words[w]); ++w) tmpl_words.push_back(o.words[w]);
    while (w < o.words.size()) {
        const std::string sep = o.words[w++];
        any_separator = true;
        bool linked = sep.back() == '+';
        if (linked && sources.empty()) usage(sep + " links to the input source before it, and there is none");
        std::vector<std::string> vals;
        for (; w < o.words.size() && !is_separator(o.words[w]); ++w) vals.push_back(o.words[w]);
        if (sep == ":::" || sep == ":::+") {
            if (vals.empty()) usage("input source " + std::to_string(sources.size() + 1) + " (" + sep + ") is empty");
            sources.push_back({SourceSpec::Kind::args, std::move(vals), {}, linked});
        } else {
            if (vals.empty()) usage(sep + " needs at least one file");
            for (auto& v : vals) sources.push_back({SourceSpec::Kind::file, {}, v, linked});
        }
    }
    if (o.link)
        for (std::size_t i = 1; i < sources.size(); ++i) sources[i].linked = true;
    // Pool mode: an input source, or any option that only makes sense for a pool.
    plan.pool = any_separator || !o.arg_files.empty() || !o.jobs.empty() || o.null_sep || o.keep_order || o.link || o.pipe || o.shell ||
                o.no_run_if_empty || o.halt != "never" || o.retries != 0 || !o.delay.empty() || o.resume ||
                o.resume_failed || o.bar || o.eta;

    // --- mode checks
    int modes = int(o.group) + int(o.line_buffer) + int(o.ungroup);
    if (modes > 1) usage("--group, --line-buffer and --ungroup exclude each other");
    if (!o.block.empty() && !o.pipe) usage("--block goes with --pipe");
    if ((o.tag || !o.tagstring.empty()) && o.ungroup)
        usage(std::string(o.tag ? "--tag" : "--tagstring") + " needs --group or --line-buffer, not --ungroup");
    if (!o.drop_caps.empty() && !o.keep_caps.empty()) usage("--drop-caps and --keep-caps exclude each other");
    if ((o.resume || o.resume_failed) && o.joblog.empty()) usage("--resume and --resume-failed need --joblog");
    if (o.daemon && plan.pool) usage("--daemon runs one command, not a pool");
    if (!o.daemon && (!o.log.empty() || !o.pidfile.empty())) usage("--log and --pidfile need --daemon");
    if (!plan.pool && tmpl_words.empty()) usage("no command given");
    if (!plan.pool && tmpl_words[0].empty()) usage("cannot run an empty command");

    // --- the child's settings
    Command& c = plan.base;
    c.parent_death_signal(SIGKILL);
    c.on_destroy(DestroyPolicy::kill_tree, Duration::zero());
    auto allowed = get_affinity(0);
    if (!allowed) throw SystemError(allowed.error());
    if (!o.cpus.empty()) {
        auto set = CpuSet::parse(o.cpus, *allowed);
        if (!set) usage("cannot parse --cpus \"" + o.cpus + "\": " + set.error().message());
        if (set->empty()) usage("--cpus \"" + o.cpus + "\" names no CPU");
        if (!set->subset_of(*allowed))
            usage("cannot use --cpus \"" + o.cpus + "\": CPUs " + (*set - *allowed).to_list() +
                  " are outside the allowed set " + allowed->to_list());
        plan.cpus = *set;
        c.affinity(*set);
    }
    if (o.nice) c.nice(*o.nice);
    if (o.oom_score_adj) c.oom_score_adj(*o.oom_score_adj);
    for (const auto& r : o.rlimits) add_rlimit(c, r);
    if (!o.cwd.empty()) c.cwd(o.daemon ? absolute(o.cwd) : o.cwd);
    if (o.clear_env) c.env_clear();
    for (const auto& e : o.env) {
        auto eq = e.find('=');
        if (eq == std::string::npos || eq == 0) usage("cannot parse --env \"" + e + "\": expected K=V");
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
        const std::string& text = o.drop_caps.empty() ? o.keep_caps : o.drop_caps;
        const char* opt = o.drop_caps.empty() ? "--keep-caps" : "--drop-caps";
        auto set = CapabilitySet::parse(text);
        if (!set) usage("cannot parse " + std::string(opt) + " \"" + text + "\": " + set.error().message());
        if (!o.drop_caps.empty()) {
            auto bounding = CapabilitySet::current_bounding();
            if (!bounding) throw SystemError(bounding.error());
            c.keep_capabilities(*bounding - *set);
        } else {
            c.keep_capabilities(*set);
        }
    }
    if (!o.seccomp.empty()) {
        SeccompFilter f;
        for (const auto& item : o.seccomp) {
            std::size_t p = 0;
            for (;;) {
                auto comma = item.find(',', p);
                std::string one = item.substr(p, comma == std::string::npos ? std::string::npos : comma - p);
                if (one.find('/') != std::string::npos) {
                    if (auto r = f.add_rules_file(one); !r) {
                        if (r.error().code() == make_error_code(Errc::parse_error) ||
                            r.error().code() == make_error_code(Errc::not_found))
                            usage(r.error().message());
                        throw SystemError(r.error());
                    }
                } else if (auto r = f.add_profile(one); !r) {
                    std::string names;
                    for (const auto& n : SeccompFilter::profile_names()) names += (names.empty() ? "" : ", ") + n;
                    usage("unknown seccomp profile \"" + one + "\" (" + names + ", or a rules file path with '/')");
                }
                if (comma == std::string::npos) break;
                p = comma + 1;
            }
        }
        auto prog = f.compile();
        if (!prog) throw SystemError(prog.error());
        c.seccomp(std::move(*prog));
    }

    // --- time
    if (!o.timeout.empty()) plan.timeout = duration_of(o.timeout, "--timeout");
    Duration grace = o.kill_after.empty() ? Duration(std::chrono::seconds(5)) : duration_of(o.kill_after, "--kill-after");
    if (!o.term_seq.empty())
        plan.term_seq = parse_term_seq(o.term_seq);
    else
        plan.term_seq = {{SIGTERM, grace}, {SIGKILL, Duration::zero()}};
    if (!o.delay.empty()) plan.delay = duration_of(o.delay, "--delay");

    // --- pool settings
    unsigned ncpu = static_cast<unsigned>(plan.cpus ? plan.cpus->count() : allowed->count());
    plan.jobs = plan.pool ? (o.jobs.empty() ? std::max(1U, ncpu) : parse_jobs(o.jobs, ncpu)) : 1;
    plan.halt = parse_halt(o.halt);
    plan.retries = std::max(1U, o.retries);
    plan.dry_run = o.dry_run;
    plan.no_run_if_empty = o.no_run_if_empty;
    plan.shell = o.shell;
    plan.tag = o.tag || !o.tagstring.empty();
    plan.tagstring = !o.tagstring.empty();
    plan.joblog = o.joblog.empty() ? "" : absolute(o.joblog);
    plan.joblog_jsonl = o.joblog_format == "jsonl";
    plan.resume = o.resume;
    plan.resume_failed = o.resume_failed;
    plan.bar = o.bar;
    plan.eta = o.eta;
    if (plan.pool) {
        plan.output = o.ungroup ? OutputMode::ungroup : o.line_buffer ? OutputMode::line_buffer : OutputMode::group;
        plan.keep_order = o.keep_order && plan.output != OutputMode::ungroup;
        if (plan.keep_order) plan.output = OutputMode::group;
        if (o.pipe && !sources.empty())
            usage("--pipe gives the jobs standard input on their stdin: no input sources (:::, ::::, -a) with it");
        if (o.pipe && tmpl_words.empty()) usage("--pipe needs a command to run");
        if (o.pipe && o.link) usage("--link needs input sources, and --pipe takes none");
        if (!o.pipe && sources.empty()) sources.push_back({SourceSpec::Kind::stdin_, {}, {}});
        plan.have_template = !tmpl_words.empty();
        // With --pipe there is no input value; parse as for one source, then refuse any use of it.
        std::size_t n_sources = o.pipe ? 999999 : sources.size();  // any {N} parses, then is refused
        auto t = Template::parse(tmpl_words, n_sources);
        if (!t) usage("cannot parse the command template: " + t.error().context());
        plan.tmpl = std::move(*t);
        if (o.pipe && plan.tmpl.uses_inputs())
            usage("--pipe gives each job a block on its stdin: the template's replacement strings have no input "
                  "value (only {#} and {%} do)");
        if (plan.have_template && !plan.shell && plan.tmpl.fixed_program() && tmpl_words[0].empty())
            usage("the template yields an empty command");
        if (!o.name.empty()) {
            auto n = Template::parse_text(o.name, n_sources);
            if (!n) usage("cannot parse --name: " + n.error().context());
            if (o.pipe && n->uses_inputs()) usage("--pipe: --name can use only {#} and {%}");
            plan.name_tmpl = std::move(*n);
        }
        if (!o.tagstring.empty()) {
            auto tag = Template::parse_text(o.tagstring, n_sources);
            if (!tag) usage("cannot parse --tagstring: " + tag.error().context());
            if (o.pipe && tag->uses_inputs()) usage("--pipe: --tagstring can use only {#} and {%}");
            plan.tag_tmpl = std::move(*tag);
        }
        if (o.pipe) {
            int fd = fcntl(0, F_DUPFD_CLOEXEC, 3);
            if (fd < 0) {
                tools::print_error(Error::from_errno(errno, "read standard input"));
                return tools::exit_failure;
            }
            plan.blocks.emplace(unique_fd(fd), o.null_sep ? '\0' : '\n', o.block.empty() ? std::size_t{1} << 20 : parse_size(o.block));
        } else {
            auto in = Inputs::open(std::move(sources), o.null_sep ? '\0' : '\n', o.link);
            if (!in) {
                tools::print_error(in.error());
                return tools::exit_failure;
            }
            plan.inputs = std::move(*in);
            if (plan.bar || plan.eta) {
                if (auto r = plan.inputs->materialize(); !r) {
                    tools::print_error(r.error());
                    return tools::exit_failure;
                }
            }
            if (auto empty = plan.inputs->empty_source(); empty && !o.no_run_if_empty) {
                tools::print_error("cannot run jobs: " + *empty + " is empty (-r allows that)");
                return tools::exit_failure;
            }
        }
        // A fixed program that is nowhere: say so once, start nothing.
        if (plan.have_template && !plan.shell && plan.tmpl.fixed_program() && !o.dry_run) {
            const std::string& prog = tmpl_words[0];
            bool found = false;
            if (prog.find('/') != std::string::npos) {
                found = access(prog.c_str(), F_OK) == 0;
                if (found && access(prog.c_str(), X_OK) != 0) {
                    tools::print_error(Error::from_errno(EACCES, "execute " + prog));
                    return tools::exit_cannot_execute;
                }
            } else {
                const char* path = std::getenv("PATH");
                std::string_view rest = path ? path : "/usr/local/bin:/usr/bin:/bin";
                for (;;) {
                    auto colon = rest.find(':');
                    std::string dir(rest.substr(0, colon));
                    if (access(((dir.empty() ? "." : dir) + "/" + prog).c_str(), X_OK) == 0) found = true;
                    if (colon == std::string_view::npos || found) break;
                    rest.remove_prefix(colon + 1);
                }
                if (!o.env.empty() || o.clear_env) found = true;  // the child's PATH may differ: let spawn decide
            }
            if (!found) {
                tools::print_error(Error::from_errno(ENOENT, prog.find('/') != std::string::npos
                                                                 ? "execute " + prog
                                                                 : "find '" + prog + "' in PATH"));
                return tools::exit_not_found;
            }
        }
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
            if (order.empty()) usage("--pin-spread: no CPU to pin to");
            for (unsigned k = 0; k < std::min<std::size_t>(plan.jobs, 4096); ++k) plan.slot_cpus.push_back(CpuSet{order[k % order.size()]});
        }
    } else {
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
    if (plan.restart != Restart::no && plan.pool) usage("--restart is for a single command");
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
        plan.on_first_spawn = [&daemon](int code, const std::string& msg) { daemon->notify(code, msg); };
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
        if (daemon) daemon->notify(tools::exit_failure, tools::tool_name() + ": " + g.error().message());
        return tools::exit_failure;
    } else {
        tools::print_warning(g.error().message() + "; running without the process-tree guard");
    }
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
    int code = run_engine(plan);
    if (daemon) daemon->notify(code == 0 ? 0 : code, "prun: the command ended before it was ready");
    return code;
}

}  // namespace prockit::prun
