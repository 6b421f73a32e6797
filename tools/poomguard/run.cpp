// poomguard run ADJ -- COMMAND: sets its own oom_score_adj, then execs the command (as
// `choom -n ADJ -- COMMAND` does); the command inherits the value.
#include "common.hpp"
#include "subcommands.hpp"

#include "common/cli.hpp"
#include "common/exit_codes.hpp"

#include <prockit/oom/score.hpp>

#include <cerrno>
#include <cstdio>
#include <unistd.h>

namespace prockit::poomguard {

using tools::UsageError;

void add_run(CLI::App& app, Options& o) {
    auto* sub = app.add_subcommand("run", "Run COMMAND (after '--') with oom_score_adj ADJ: set own, then exec");
    sub->set_help_flag("-h,--help", "Print this help and exit");
    sub->add_option("adj", o.run.adj, "The oom_score_adj to run the command with, -1000 to 1000")
        ->required()
        ->type_name("ADJ");
    sub->callback([&o] { o.subcommand = "run"; });
}

int run_run(const Options& o, const FsRoot& fs) {
    int adj = parse_adj_arg(o.run.adj, "ADJ");
    if (!o.command_separator || o.command.empty()) throw UsageError("cannot use run: it needs a command after '--'");
    if (o.command[0].empty()) throw UsageError("cannot run a command: its name is empty");
    if (auto st = oom::set_own_oom_score_adj(adj, fs); !st) {
        tools::print_error(describe(st.error()));
        return tools::exit_failure;
    }
    std::vector<char*> argv;
    for (const std::string& a : o.command) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    std::fflush(stdout);
    ::execvp(argv[0], argv.data());
    int err = errno;
    tools::print_error(Error::from_errno(err, "execute " + o.command[0]));
    return tools::exit_status_for_exec_errno(err);
}

}  // namespace prockit::poomguard
