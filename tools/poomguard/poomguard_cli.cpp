// poomguard's command line: the top-level options and the subcommand table (subcommands.hpp); each
// subcommand defines its own options in its file.
#include "poomguard_cli.hpp"

#include "subcommands.hpp"

#include "common/cli.hpp"
#include "common/exit_codes.hpp"

#include <string_view>

namespace prockit::poomguard {

using tools::UsageError;

std::unique_ptr<CLI::App> build_cli(Options& o) {
    auto app = std::make_unique<CLI::App>(
        "Keep the OOM killer away from what matters.\n"
        "  poomguard show [PID...] [selection] [-J]              scores of processes (all by default)\n"
        "  poomguard top [-n N] [--watch [--interval D]] [-J]    who the kernel would kill next\n"
        "  poomguard set ADJ [PID...] [selection] [--children reset|inherit|VALUE]\n"
        "  poomguard run ADJ -- COMMAND [ARG...]                 run a command with oom_score_adj ADJ\n"
        "  poomguard watch [--config FILE] [--dry-run] [--once]  apply the rules, now and as processes start\n"
        "  poomguard audit [--config FILE] [-J]                  protections no rule covers, inherited ones\n"
        "  poomguard check-config [FILE...]                      validate rules files (poomguard.conf(5))\n"
        "ADJ: an oom_score_adj from -1000 (never kill) to 1000 (kill first); lowering below a\n"
        "process's minimum needs CAP_SYS_RESOURCE.\n"
        "Exit status: 0 ok, 1 failure (also a selection matching nothing, unless --allow-none),\n"
        "2 usage error, 126/127 command not executable/found (run).",
        "poomguard");
    app->set_help_flag("-h,--help", "Print this help and exit");
    tools::add_version_flag(*app);
    app->formatter(std::make_shared<tools::Formatter>());
    app->get_formatter()->column_width(30);
    app->require_subcommand(0, 1);
    for (const Subcommand& s : subcommands) s.add(*app, o);
    return app;
}

int run(const Options& o) {
    const FsRoot& fs = FsRoot::system();
    for (const Subcommand& s : subcommands)
        if (o.subcommand == s.name) {
            if (o.command_separator && o.subcommand != "run")
                throw UsageError("cannot use a command after '--': only 'run' takes one");
            return s.run(o, fs);
        }
    std::string names;
    for (const Subcommand& s : subcommands) names += (names.empty() ? "" : ", ") + std::string(s.name);
    throw UsageError("cannot run without a subcommand: give one of " + names);
}

int main_entry(int argc, char** argv) {
    tools::set_tool_name("poomguard");
    return tools::guarded([&] {
        tools::SplitArgs split = tools::split_command(argc, argv);
        Options opts;
        opts.command = split.command;
        opts.command_separator = split.had_separator;
        auto app = build_cli(opts);
        if (auto code = tools::parse(*app, static_cast<int>(split.options.size()), split.options.data())) return *code;
        return run(opts);
    });
}

}  // namespace prockit::poomguard
