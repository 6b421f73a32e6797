// paffinity's command line: the options, which mode they ask for, and the checks that do not
// depend on the machine; each mode is its own file (modes.hpp).
#include "paffinity_cli.hpp"

#include "modes.hpp"

#include "common/cli.hpp"
#include "common/exit_codes.hpp"

#include <prockit/sched/cpuset.hpp>

#include <cstring>
#include <string_view>

namespace prockit::paffinity {

using tools::bad_value;
using tools::non_empty;
using tools::number;

using tools::UsageError;

namespace {

enum class Mode { show, set, launch, check, topology };

Mode mode_of(const Options& o) {
    if (o.topology) return Mode::topology;
    bool shorthand = o.cores || o.no_smt || o.nodes;
    if (o.command_separator || o.cpus_list) return Mode::launch;
    if (o.set_list || shorthand) return Mode::set;
    if (!o.check.empty()) return Mode::check;
    return Mode::show;
}

bool has_selection(const Options& o) {
    return !o.positional.empty() || !o.pids.empty() || !o.names.empty() || !o.patterns.empty() ||
           !o.exes.empty() || !o.users.empty() || !o.cgroups.empty();
}

void validate(const Options& o, Mode m) {
    bool sel = has_selection(o);
    switch (m) {
        case Mode::launch:
            if (!o.command_separator || o.command.empty())
                throw UsageError(o.cpus_list ? "cannot use --cpus: it needs a command after '--'" : "cannot run a command: none after '--'");
            if (o.command[0].empty()) throw UsageError("cannot run a command: its name is empty");
            if (!o.cpus_list && !o.cores && !o.no_smt && !o.nodes)
                throw UsageError("cannot run a command: it needs --cpus LIST (or --cores, --no-smt, --node)");
            if (o.set_list) throw UsageError("cannot use --set with a command: --set changes other processes; use --cpus");
            if (sel) throw UsageError("cannot use a selection with a command: the command is the process to change");
            if (!o.check.empty() || o.follow || o.spread || o.all_tasks)
                throw UsageError("cannot use --check, --follow, --spread or -a with a command: they act on running processes");
            break;
        case Mode::set:
            if (!sel) throw UsageError("cannot use --set: it needs a selection (PID, --pid, --name, --match, --exe, --user, --cgroup)");
            if (!o.check.empty()) throw UsageError("cannot use --check with --set: they exclude each other");
            if (o.spread && !o.all_tasks && !o.follow) throw UsageError("cannot use --spread: it needs -a/--all-tasks");
            break;
        case Mode::check:
            if (!sel) throw UsageError("cannot use --check: it needs a selection");
            if (o.follow || o.spread) throw UsageError("cannot use --follow or --spread: they need --set");
            break;
        case Mode::show:
            if (o.follow || o.spread || o.strict || o.dry_run)
                throw UsageError("cannot use --follow, --spread, --strict or --dry-run: they need --set");
            if (!sel) throw UsageError("cannot tell what to do: give PIDs, a selection, --set, --cpus or 'topology'");
            break;
        case Mode::topology:
            break;
    }
    if (o.poll && !o.follow) throw UsageError("cannot use --poll: it needs --follow");
    if (o.poll_interval_ms < 1 || o.poll_interval_ms > 60000)
        throw UsageError("cannot use --poll-interval " + std::to_string(o.poll_interval_ms) +
                         ": expected 1 to 60000 ms");
}

// --- values ------------------------------------------------------------------------------------------
// Every option's value is checked as CLI11 reads it, before any conversion, so that an empty or
// malformed value is a usage error that names the option in the house form
// (`cannot parse --cores "x": expected a number from 1`) rather than a silent default or CLI11's
// "could not convert". Deeper checks (CPU lists, regexes, users) happen in the modes, in the same
// words. A validator that throws UsageError ends the parse (tools::parse() reports it).

constexpr unsigned long max_pid = 0x3fffffff;  // PID_MAX_LIMIT is 2^22; a PID fits in 30 bits

}  // namespace

// --- command line --------------------------------------------------------------------------------------

std::unique_ptr<CLI::App> build_cli(Options& o) {
    auto app = std::make_unique<CLI::App>(
        "CPU affinity for processes and threads.\n"
        "  paffinity [PID...] [selection] [-a] [--json | --taskset-format[=list]]    show\n"
        "  paffinity --set LIST [PID...] [selection] [-a] [--spread] [--follow]     change\n"
        "  paffinity --check[=LIST] [PID...] [selection]                            find drift\n"
        "  paffinity --cpus LIST -- COMMAND [ARG...]                                launch\n"
        "  paffinity topology [--json]                                              machine\n"
        "LIST: '0-3,8,10-20:2', 'all,^0', '^0-1' (all but), or a hex mask '0xff' / '0xff,00000000'.\n"
        "Exit status: 0 ok, 1 failure (or drift), 2 usage error, 126/127 command not executable/found.",
        "paffinity");
    app->set_help_flag("-h,--help", "Print this help and exit");
    app->set_version_flag("-V,--version", tools::version_line(), "Print the version and exit");
    app->formatter(std::make_shared<tools::Formatter>());
    app->get_formatter()->column_width(30);

    auto* sel = "Selection (criteria AND together; repeat one to OR its values)";
    app->add_option("pid", o.positional, "Process IDs (like --pid)")->type_name("PID")->check(number("PID", 1, max_pid));
    app->add_option("-p,--pid", o.pids, "Select the process with this PID")
        ->group(sel)
        ->type_name("PID")
        ->check(number("--pid", 1, max_pid));
    app->add_option("-n,--name", o.names, "Select processes whose name (comm) is NAME")
        ->group(sel)
        ->type_name("NAME")
        ->check(non_empty("--name", "name"));
    app->add_option("-m,--match", o.patterns, "Select processes whose command line matches REGEX (POSIX ERE)")
        ->group(sel)
        ->type_name("REGEX")
        ->check(non_empty("--match", "pattern (it would match every process)"));
    app->add_option("-e,--exe", o.exes, "Select processes running the executable PATH")
        ->group(sel)
        ->type_name("PATH")
        ->check(non_empty("--exe", "path"));
    app->add_option("-u,--user", o.users, "Select processes of USER (name or UID)")
        ->group(sel)
        ->type_name("USER")
        ->check(non_empty("--user", "user"));
    app->add_option("--cgroup", o.cgroups, "Select processes in cgroup PATH or below it")
        ->group(sel)
        ->type_name("PATH")
        ->check(non_empty("--cgroup", "path"));
    app->add_flag("--allow-none", o.allow_none, "A selection that matches nothing is not an error")->group(sel);

    auto* chg = "Changing";
    app->add_option("-s,--set", o.set_list, "Set the affinity of the selected processes to LIST")
        ->group(chg)
        ->type_name("LIST")
        ->check(non_empty("--set", "CPU list"));
    app->add_option("-c,--cpus", o.cpus_list, "Run COMMAND (after '--') on LIST: set own affinity, then exec")
        ->group(chg)
        ->type_name("LIST")
        ->check(non_empty("--cpus", "CPU list"));
    app->add_option("--cores", o.cores, "Use N physical cores, one hardware thread each")
        ->group(chg)
        ->type_name("N")
        ->check(number("--cores", 1, CpuSet::parse_limit));
    app->add_flag("--no-smt", o.no_smt, "Use one hardware thread per core")->group(chg);
    app->add_option("--node", o.nodes, "Use the CPUs of NUMA node(s) N (a list: 0,1)")
        ->group(chg)
        ->type_name("N")
        ->check(non_empty("--node", "node list"));
    app->add_flag("--spread", o.spread, "With -a: give each thread its own CPU, round robin")->group(chg);
    app->add_flag("--strict", o.strict, "Fail instead of dropping CPUs that are offline or outside the cpuset")
        ->group(chg);
    app->add_flag("--dry-run", o.dry_run, "Compute and show the masks, change nothing")->group(chg);
    app->add_flag("-f,--follow", o.follow,
                  "Keep applying the mask to new threads and child processes until interrupted (implies -a)")
        ->group(chg);
    app->add_flag("--poll", o.poll, "With --follow: poll /proc even when netlink events are available")->group(chg);
    app->add_option("--poll-interval", o.poll_interval_ms, "With --follow by polling: interval in ms (default 100)")
        ->group(chg)
        ->type_name("MS")
        ->check(number("--poll-interval", 1, 60000));

    auto* outg = "Output";
    app->add_flag("-a,--all-tasks", o.all_tasks, "Every thread (task) of each process")->group(outg);
    app->add_flag("--check{@}", o.check,
                  "Report threads whose mask differs from their process's (or from --check=LIST); exit 1 on drift")
        ->group(outg)
        ->check(non_empty("--check", "CPU list (give --check alone to compare with each process's own mask)"));
    app->add_flag("-J,--json", o.json, "Machine-readable output on stdout")->group(outg);
    app->add_flag("--taskset-format{mask}", o.taskset_format,
                  "Print taskset's exact wording (--taskset-format=list for lists)")
        ->group(outg)
        ->check(CLI::Validator(
            [](std::string& v) {
                if (v != "mask" && v != "list") bad_value("--taskset-format", v, "expected mask or list");
                return std::string();
            },
            "", ""));
    app->add_flag("-q,--quiet", o.quiet, "Print nothing on success when changing")->group(outg);

    auto* topo = app->add_subcommand("topology", "Show CPUs, cores, SMT siblings, NUMA nodes, isolated CPUs");
    topo->add_flag("-J,--json", o.json, "Machine-readable output on stdout");
    topo->set_help_flag("-h,--help", "Print this help and exit");
    topo->callback([&o] { o.topology = true; });
    return app;
}

int run(const Options& o) {
    const FsRoot& fs = FsRoot::system();
    Mode m = mode_of(o);
    validate(o, m);
    if (!o.taskset_format.empty() && o.json) throw UsageError("cannot use --taskset-format with --json: they exclude each other");
    if (!o.taskset_format.empty() && o.dry_run)
        throw UsageError("cannot use --taskset-format with --dry-run: taskset changes at once");
    switch (m) {
        case Mode::topology: return run_topology(o, fs);
        case Mode::show: return run_show(o, fs);
        case Mode::set: return run_set(o, fs);
        case Mode::check: return run_check(o, fs);
        case Mode::launch: return run_launch(o, fs);
    }
    return tools::exit_failure;
}

int main_entry(int argc, char** argv) {
    tools::set_tool_name("paffinity");
    return tools::guarded([&] {
        tools::SplitArgs split = tools::split_command(argc, argv);
        Options opts;
        opts.command = split.command;
        opts.command_separator = split.had_separator;
        // CLI11 reads "--check=" and "--taskset-format=" as the bare flag; an empty value is an error.
        for (const char* arg : split.options)
            for (const char* flag : {"--check=", "--taskset-format="})
                if (std::string_view(arg) == flag)
                    throw UsageError(std::string("cannot parse ") + std::string(flag, std::strlen(flag) - 1) +
                                     " \"\": empty value");
        auto app = build_cli(opts);
        if (auto code = tools::parse(*app, static_cast<int>(split.options.size()), split.options.data())) return *code;
        return run(opts);
    });
}

}  // namespace prockit::paffinity
