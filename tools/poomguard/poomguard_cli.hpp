// tools/poomguard/poomguard_cli.hpp — poomguard's options, command-line definition and run().
// Each subcommand is its own file (show.cpp, top.cpp, set.cpp, run.cpp, ...) that registers its
// CLI11 subcommand and runs it; subcommands.hpp lists them. main.cpp only calls main_entry().
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace prockit::poomguard {

/// A process selection, as in paffinity, plus --pidfile and --unit.
struct SelectionOptions {
    std::vector<std::string> positional;  ///< PIDs after the subcommand (and after ADJ for set)
    std::vector<pid_t> pids;
    std::vector<std::string> names;
    std::vector<std::string> patterns;
    std::vector<std::string> exes;
    std::vector<std::string> users;
    std::vector<std::string> cgroups;
    std::vector<std::string> pidfiles;
    std::vector<std::string> units;
    bool allow_none = false;

    bool given() const {
        return !positional.empty() || !pids.empty() || !names.empty() || !patterns.empty() || !exes.empty() ||
               !users.empty() || !cgroups.empty() || !pidfiles.empty() || !units.empty();
    }
};

struct ShowOptions {
    bool json = false;
};

struct TopOptions {
    std::optional<unsigned> count; ///< -n N: how many processes (0: all; default 10, or the
                                   ///< terminal's height with --watch on a terminal)
    bool watch = false;            ///< --watch: redraw every interval
    std::string interval = "2s";   ///< --interval D
    bool json = false;
};

struct SetOptions {
    std::string adj;                      ///< ADJ, as given
    std::optional<std::string> children;  ///< --children reset|inherit|VALUE
    bool follow = false;                  ///< --follow: keep the values on future children
    bool dry_run = false;
    bool quiet = false;
    bool json = false;
};

struct RunOptions {
    std::string adj;
};

struct WatchOptions {
    std::vector<std::string> configs;  ///< --config FILE... (default: the system's rules files)
    bool dry_run = false;
    bool once = false;
    std::string interval = "1s";       ///< --interval D: pidfile re-reads, /proc rescans without events
};

struct AuditOptions {
    std::vector<std::string> configs;
    bool json = false;
};

struct CheckConfigOptions {
    std::vector<std::string> files;
    bool quiet = false;
    bool list_rules = false;  ///< --list-rules: the rules' names, one a line
};

struct Options {
    std::string subcommand;  ///< the subcommand given (set by its CLI11 callback)
    SelectionOptions sel;    ///< shared by the subcommands that select processes
    ShowOptions show;
    TopOptions top;
    SetOptions set;
    RunOptions run;
    WatchOptions watch;
    AuditOptions audit;
    CheckConfigOptions check;
    // Subcommands added later keep their options here, one struct each.

    std::vector<std::string> command;  ///< after "--" (run)
    bool command_separator = false;
};

/// The command-line definition bound to `opts`.
std::unique_ptr<CLI::App> build_cli(Options& opts);

/// Runs the subcommand the options name; returns the exit status (see poomguard(1), EXIT STATUS).
/// `run` does not return on success (it execs the command).
int run(const Options& opts);

/// The whole tool: parse argv (splitting off the command after "--"), then run.
int main_entry(int argc, char** argv);

}  // namespace prockit::poomguard
