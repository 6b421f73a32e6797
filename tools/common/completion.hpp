// tools/common/completion.hpp — bash, zsh and fish completions written from a tool's CLI11
// definition (build_cli(Options&)), so the command line has one source of truth: options and
// their aliases, flags vs options taking values, value names and choices, subcommands,
// positionals, and the command a tool runs after its options.
//
// What a value completes to follows from its value name (value_name() in cli.hpp): FILE and PATH
// complete files, DIR directories, USER users, PID process IDs, CAPS capability names, PROFILE
// seccomp profiles (and files), RES=SOFT[:HARD] resource names; IsMember choices complete
// themselves; anything else (N, DURATION, CPUS, ...) nothing.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

namespace prockit::tools {

struct CompletionSource {
    std::string tool;     ///< the command name
    const CLI::App* app;  ///< the tool's build_cli() result
    /// The tool runs a command given after its options: with no positionals in `app` the first
    /// word that is not an option starts it (prun), else only "--" does (paffinity).
    bool runs_command = false;
    /// Words after the command that start input lists of files or values (prun's ::: and ::::).
    std::vector<std::string> input_separators;
};

std::string bash_completion(const CompletionSource& src);
std::string zsh_completion(const CompletionSource& src);
std::string fish_completion(const CompletionSource& src);

}  // namespace prockit::tools
