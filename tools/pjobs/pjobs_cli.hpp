// tools/pjobs/pjobs_cli.hpp — pjobs' options, command line and modes (see docs/man/pjobs.1).
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace prockit::pjobs {

struct Options {
    std::string mode = "list";  ///< run, list, fg, bg, stop, kill, wait, logs, rm, clean, group, server
    // run
    std::string name, group, after, cwd, cpus;
    bool no_tty = false;
    std::vector<std::string> env;
    std::optional<int> nice, oom_score_adj;
    std::vector<std::string> command;
    // list
    bool json = false;
    bool list_specs = false;  ///< --specs: only the job specs, and no server started
    // fg, bg, stop, kill, wait, logs, rm
    std::vector<std::string> specs;
    std::string signal = "TERM";
    bool tree = false;
    std::string detach_key = "^\\";
    bool follow = false;
    std::optional<long> tail;
    // group
    std::string group_name;
    std::optional<int> parallel;
    // server
    std::string server_action;
};

std::unique_ptr<CLI::App> build_cli(Options& opts);
int run(const Options& opts);
int main_entry(int argc, char** argv);

/// "^\\" -> 0x1c, "^X" -> 0x18, "none" -> -1; std::nullopt when the text is not a key.
std::optional<int> parse_detach_key(const std::string& text);

}  // namespace prockit::pjobs
