// tools/common/completion.hpp — bash, zsh and fish completions written from a tool's CLI11
// definition (build_cli(Options&)), so the command line has one source of truth: options and
// their aliases, flags vs options taking values, value names and choices, subcommands,
// positionals, and where a tool (or one of its subcommands) takes a command to run.
//
// Every subcommand is its own context: its options, the values they take, its positionals in
// order, and whether a command starts in it. The top level is the context named "".
//
// What a value completes to follows from its value name (value_name() in cli.hpp):
//   FILE, PATH            files            DIR           directories
//   USER, USER[:GROUP]    users            PID           process IDs (/proc)
//   CPUS, LIST            the online CPUs (/sys/devices/system/cpu/online), each one and the
//                         whole list; after a comma, the next element of the list
//   SPEC                  job specs of the running pjobs server (`pjobs list --specs`: it starts
//                         no server, so none running offers nothing)
//   SIG                   signal names             SEQ   SIG,MS,SIG,... (signal names where a
//                                                        signal goes)
//   RES=SOFT[:HARD]       resource names ("nofile=")   CAPS   capability names
//   PROFILE|FILE          seccomp profiles and files   RULE   poomguard rule names
//                                                           (`poomguard check-config --list-rules`)
//   CMD                   a positional that starts a command (pjobs run)
// IsMember choices complete themselves; anything else (N, DURATION, NAME, ...) nothing.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace prockit::tools {

struct CompletionSource {
    std::string tool;     ///< the command name
    const CLI::App* app;  ///< the tool's build_cli() result
    /// The contexts that run a command given after "--": "" for the tool itself (prun,
    /// paffinity), else subcommand names (poomguard's and pjobs' "run"). In such a context the
    /// first word that is neither an option nor an option's value also starts the command when
    /// the context has no positionals and no subcommands (prun) or its first positional is CMD
    /// (pjobs run); else (paffinity PID..., poomguard run ADJ) only "--" does. Elsewhere no word
    /// starts a command.
    std::vector<std::string> command_contexts;
    /// Words after the command that start input lists of files or values (prun's ::: and ::::).
    std::vector<std::string> input_separators;
};

std::string bash_completion(const CompletionSource& src);
std::string zsh_completion(const CompletionSource& src);
std::string fish_completion(const CompletionSource& src);

}  // namespace prockit::tools
