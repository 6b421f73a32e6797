// tools/pjobs/pjobs_cli.cpp — pjobs' command line: the options struct, build_cli, run, main.
#include "pjobs_cli.hpp"

#include "client.hpp"
#include "holder.hpp"

#include "common/cli.hpp"
#include "common/exit_codes.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <unistd.h>

namespace prockit::pjobs {

std::unique_ptr<CLI::App> build_cli(Options& o) {
    auto app = std::make_unique<CLI::App>(
        "Shell job control for jobs that outlive the shell: a per-user server keeps the job table, "
        "each job runs in its own pty under a small holder process. Without a command: list.",
        "pjobs");
    app->formatter(std::make_shared<tools::Formatter>());
    tools::add_version_flag(*app);
    app->require_subcommand(0, 1);
    auto spec_help = "job spec: %N, %name, %+ or %%, %-, %?text, or a PID";

    auto* run = app->add_subcommand("run", "Start CMD as a background job; prints [N] PID");
    run->add_option("--name", o.name, "Name the job (then %NAME names it)")->type_name("NAME")->check(tools::non_empty("--name", "name"));
    run->add_option("--group", o.group, "Queue the job in group G (see 'pjobs group')")->type_name("G")->check(tools::non_empty("--group", "group name"));
    run->add_option("--after", o.after, "Start the job once job SPEC has succeeded")->type_name("SPEC")->check(tools::non_empty("--after", "job spec"));
    run->add_flag("--no-tty", o.no_tty, "Run without a pty: stdin /dev/null, output to the log");
    run->add_option("--cwd", o.cwd, "Working directory (default: the current one)")->type_name("DIR")->check(tools::non_empty("--cwd", "directory"));
    run->add_option("--env", o.env, "Set an environment variable (repeatable)")->type_name("K=V")->allow_extra_args(false);
    run->add_option("--cpus", o.cpus, "Pin the job to these CPUs (a list, as in prun)")->type_name("LIST")->check(tools::cpu_list("--cpus"));
    run->add_option("--nice", o.nice, "Nice value, -20..19")->type_name("N")->check(tools::integer("--nice", -20, 19));
    run->add_option("--oom-score-adj", o.oom_score_adj, "OOM score adjustment, -1000..1000")->type_name("N")->check(tools::integer("--oom-score-adj", -1000, 1000));
    run->add_option("command", o.command, "The command and its arguments (after --)")->type_name("CMD");
    run->prefix_command(false);
    run->callback([&o] { o.mode = "run"; });

    auto* list = app->add_subcommand("list", "List the jobs like 'jobs -l'");
    list->add_flag("-J,--json", o.json, "Print the jobs as a JSON array");
    list->add_flag("--specs", o.list_specs,
                   "Print only the job specs (%N, %NAME), one a line; start no server (none: print nothing)");
    list->callback([&o] { o.mode = "list"; });

    auto* fg = app->add_subcommand("fg", "Attach this terminal to a job (default: the current job)");
    fg->add_option("spec", o.specs, spec_help)->type_name("SPEC")->check(tools::non_empty("SPEC", "job spec"))->expected(1);
    fg->add_option("--detach-key", o.detach_key, "Key that detaches: ^X, one character, or none (default ^\\)")->type_name("KEY");
    fg->callback([&o] { o.mode = "fg"; });

    auto* bg = app->add_subcommand("bg", "Continue stopped jobs in the background");
    bg->add_option("spec", o.specs, spec_help)->type_name("SPEC")->check(tools::non_empty("SPEC", "job spec"));
    bg->callback([&o] { o.mode = "bg"; });

    auto* stop = app->add_subcommand("stop", "Stop jobs (SIGTSTP to their process group)");
    stop->add_option("spec", o.specs, spec_help)->type_name("SPEC")->check(tools::non_empty("SPEC", "job spec"))->required();
    stop->callback([&o] { o.mode = "stop"; });

    auto* kill = app->add_subcommand("kill", "Send a signal to jobs' process groups (default TERM)");
    kill->add_option("-s,--signal", o.signal, "The signal, by name or number")->type_name("SIG");
    kill->add_flag("--tree", o.tree, "Also signal descendants outside the job's process group");
    kill->add_option("spec", o.specs, spec_help)->type_name("SPEC")->check(tools::non_empty("SPEC", "job spec"))->required();
    kill->callback([&o] { o.mode = "kill"; });

    auto* wait = app->add_subcommand("wait", "Wait for jobs; the status is the last one's, as in a shell");
    wait->add_option("spec", o.specs, spec_help)->type_name("SPEC")->check(tools::non_empty("SPEC", "job spec"));
    wait->callback([&o] { o.mode = "wait"; });

    auto* logs = app->add_subcommand("logs", "Print a job's output log");
    logs->add_flag("-f,--follow", o.follow, "Keep printing new output until the job ends");
    logs->add_option("--tail", o.tail, "Only the last N lines")->type_name("N")->check(tools::number("--tail", 0, 1000000000));
    logs->add_option("spec", o.specs, spec_help)->type_name("SPEC")->check(tools::non_empty("SPEC", "job spec"))->expected(1);
    logs->callback([&o] { o.mode = "logs"; });

    auto* rm = app->add_subcommand("rm", "Forget finished jobs and remove their logs");
    rm->add_option("spec", o.specs, spec_help)->type_name("SPEC")->check(tools::non_empty("SPEC", "job spec"))->required();
    rm->callback([&o] { o.mode = "rm"; });

    auto* clean = app->add_subcommand("clean", "Forget every finished job");
    clean->callback([&o] { o.mode = "clean"; });

    auto* group = app->add_subcommand("group", "Show or set a group's parallelism (default 1)");
    group->add_option("group", o.group_name, "The group")->type_name("G")->required()->check(tools::non_empty("G", "group name"));
    group->add_option("--parallel", o.parallel, "Run up to N of the group's jobs at once")->type_name("N")->check(tools::number("--parallel", 1, 1000000));
    group->callback([&o] { o.mode = "group"; });

    auto* server = app->add_subcommand("server", "Control the per-user server: status, stop, run (foreground)");
    server->add_option("action", o.server_action, "status, stop, or run")
        ->type_name("ACTION")
        ->check(CLI::IsMember({"status", "stop", "run"}))
        ->required();
    server->add_flag("-J,--json", o.json, "Print the status as JSON");
    server->callback([&o] { o.mode = "server"; });
    return app;
}

int run(const Options& o) {
    try {
        Paths p = paths_from_env();
        if (o.mode == "run") return mode_run(p, o);
        if (o.mode == "list") return mode_list(p, o);
        if (o.mode == "fg") return mode_fg(p, o);
        if (o.mode == "bg" || o.mode == "stop" || o.mode == "kill") return mode_signal(p, o);
        if (o.mode == "wait") return mode_wait(p, o);
        if (o.mode == "logs") return mode_logs(p, o);
        if (o.mode == "rm") return mode_rm(p, o);
        if (o.mode == "clean") return mode_clean(p, o);
        if (o.mode == "group") return mode_group(p, o);
        if (o.mode == "server") return mode_server(p, o);
        return tools::usage_error("unknown mode " + o.mode);
    } catch (const Failure& f) {
        std::fflush(stdout);
        tools::print_error(f.what());
        return f.code;
    }
}

int main_entry(int argc, char** argv) {
    tools::set_tool_name("pjobs");
    if (argc == 3 && std::strcmp(argv[1], "__holder") == 0) {  // started by the server, spec on stdin
        std::string spec;
        char buf[65536];
        ssize_t n;
        while ((n = read(0, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
            if (n > 0) spec.append(buf, static_cast<std::size_t>(n));
        return holder_main(spec);
    }
    Options opts;
    auto app = build_cli(opts);
    // `pjobs run [OPTIONS] -- CMD ARGS`: the command words after "--" are not parsed.
    auto split = tools::split_command(argc, argv);
    if (split.had_separator) {
        if (auto code = tools::parse(*app, static_cast<int>(split.options.size()), split.options.data())) return *code;
        if (opts.mode != "run") return tools::usage_error("cannot use '--': it is only for 'pjobs run -- CMD ARGS'");
        opts.command.insert(opts.command.end(), split.command.begin(), split.command.end());
    } else if (auto code = tools::parse(*app, argc, argv)) {
        return *code;
    }
    if (opts.mode == "run" && !opts.command.empty() && opts.command[0].empty())
        return tools::usage_error("cannot run a job: the command's name is empty");
    return tools::guarded([&] { return run(opts); });
}

}  // namespace prockit::pjobs
