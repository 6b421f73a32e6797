// tools/paffinity/paffinity_cli.hpp — paffinity's options, command-line definition and run().
// main.cpp only wires these together; run() is plain library calls plus formatting.
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace prockit::paffinity {

struct Options {
    // Selection (positional PIDs count as --pid).
    std::vector<std::string> positional;
    std::vector<pid_t> pids;
    std::vector<std::string> names;
    std::vector<std::string> patterns;
    std::vector<std::string> exes;
    std::vector<std::string> users;
    std::vector<std::string> cgroups;
    bool allow_none = false;

    // Output.
    bool all_tasks = false;
    bool json = false;
    std::string taskset_format;  ///< "" (off), "mask" or "list"
    bool quiet = false;

    // Set / launch.
    std::optional<std::string> set_list;
    std::optional<std::string> cpus_list;
    std::optional<unsigned> cores;
    bool no_smt = false;
    std::optional<std::string> nodes;
    bool spread = false;
    bool strict = false;
    bool dry_run = false;

    // Check / follow.
    std::string check;  ///< "" (off), "@" (against each process's own mask) or a CPU list
    bool follow = false;
    bool poll = false;            ///< --follow by polling /proc even when netlink is available
    unsigned poll_interval_ms = 100;

    // Subcommand and launch command.
    bool topology = false;
    std::vector<std::string> command;
    bool command_separator = false;  ///< "--" was given
};

/// The command-line definition bound to `opts`.
std::unique_ptr<CLI::App> build_cli(Options& opts);

/// Does what the options ask; returns the exit status (see paffinity(1), EXIT STATUS). Launch mode
/// does not return on success (it execs the command).
int run(const Options& opts);

/// The whole tool: parse argv (splitting off the command after "--"), then run.
int main_entry(int argc, char** argv);

}  // namespace prockit::paffinity
