// tools/poomguard/subcommands.hpp — the subcommands, one file each. A subcommand is a pair of
// functions: add_X() defines its CLI11 subcommand (options bound to its part of Options, and a
// callback setting Options::subcommand to its name), run_X() does it. Adding one is a new file, a
// declaration here and a row in the table.
#pragma once

#include "poomguard_cli.hpp"

#include <prockit/proc/select.hpp>
#include <prockit/sys/fsroot.hpp>

#include <optional>
#include <vector>

#include <CLI/CLI.hpp>

namespace prockit::poomguard {

struct Subcommand {
    const char* name;
    void (*add)(CLI::App& app, Options& o);
    int (*run)(const Options& o, const FsRoot& fs);
};

void add_show(CLI::App& app, Options& o);
int run_show(const Options& o, const FsRoot& fs);
void add_top(CLI::App& app, Options& o);
int run_top(const Options& o, const FsRoot& fs);
void add_set(CLI::App& app, Options& o);
int run_set(const Options& o, const FsRoot& fs);
void add_run(CLI::App& app, Options& o);
int run_run(const Options& o, const FsRoot& fs);
void add_watch(CLI::App& app, Options& o);
int run_watch(const Options& o, const FsRoot& fs);
void add_audit(CLI::App& app, Options& o);
int run_audit(const Options& o, const FsRoot& fs);
void add_check_config(CLI::App& app, Options& o);
int run_check_config(const Options& o, const FsRoot& fs);
/// set --follow (follow.cpp): keeps the values on the leaders' future children until they exit.
int follow_set(const std::vector<proc::ProcessRef>& leaders, int adj, std::optional<int> child_adj, bool dry_run,
               bool quiet, const FsRoot& fs);

/// In the order --help lists them.
inline constexpr Subcommand subcommands[] = {
    {"show", add_show, run_show},
    {"top", add_top, run_top},
    {"set", add_set, run_set},
    {"run", add_run, run_run},
    {"watch", add_watch, run_watch},
    {"audit", add_audit, run_audit},
    {"check-config", add_check_config, run_check_config},
};

}  // namespace prockit::poomguard
