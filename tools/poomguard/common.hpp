// tools/poomguard/common.hpp — what poomguard's subcommands share: the selection options and their
// resolution (PIDs, --name, --match, --exe, --user, --cgroup, --pidfile, --unit), value checks,
// the per-process facts show and top print, and output helpers.
#pragma once

#include "poomguard_cli.hpp"

#include "common/json.hpp"

#include <prockit/proc/procfs.hpp>
#include <prockit/proc/select.hpp>
#include <prockit/sys/error.hpp>
#include <prockit/sys/fsroot.hpp>

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace prockit::poomguard {

// --- command line ------------------------------------------------------------------------------

/// Adds the selection options (and the positional PIDs unless `positional` is false) to `sub`.
void add_selection(CLI::App& sub, SelectionOptions& s, bool positional = true);
/// An oom_score_adj value given as `what` ("ADJ", "--children"): -1000..1000, else a usage error.
int parse_adj_arg(const std::string& text, const std::string& what);

// --- selection ---------------------------------------------------------------------------------

/// The cgroup path (as /proc/PID/cgroup shows it) of systemd unit `unit` ("name" alone means
/// "name.service"), found by walking the slices of each cgroup hierarchy. Errc::not_found with
/// "find unit NAME: no such unit's cgroup under /sys/fs/cgroup" when none has it.
Result<std::string> unit_cgroup(const std::string& unit, const FsRoot& fs);

/// The PID in a pidfile (its first line). Errors name the file.
Result<pid_t> read_pidfile(const std::string& path);

/// Resolves the selection. PIDs that do not exist and an empty result are reported (unless
/// --allow-none) and set `failed`; unknown users, units and malformed regexes are usage errors.
std::vector<proc::ProcessRef> select(const SelectionOptions& s, const FsRoot& fs, bool& failed);


// --- per-process facts -------------------------------------------------------------------------

struct Facts {
    pid_t pid = 0;
    std::string name;           ///< comm
    int oom_score = 0;
    int oom_score_adj = 0;
    long long rss_kib = -1;     ///< VmRSS (-1 when not shown: a kernel thread or a zombie)
    long long swap_kib = -1;    ///< VmSwap
    std::string command;        ///< the command line, arguments joined by blanks ("[comm]" if empty)
};

/// Reads the facts of `ref`; ESRCH when it exited meanwhile.
Result<Facts> read_facts(proc::ProcReader& r, const proc::ProcessRef& ref);
/// The facts of every user process, in PID order: what show lists by default. Kernel threads and
/// zombies (no memory of their own: the OOM killer never picks them) are left out, and so are
/// processes that exit while they are read. Four files per process: oom_score, oom_score_adj,
/// cmdline, and stat (name, RSS) where the machine has no swap space, else status (name, RSS,
/// swap; a slower file for the kernel to write).
std::vector<Facts> scan_all(const FsRoot& fs);

/// The `count` user processes the OOM killer would choose first (0: all), ranked by oom_score,
/// then RSS, then PID; `total` is set to the number of user processes. Reads oom_score of every
/// process, and the rest only for the ranked ones (and the RSS of those tied at the cut).
std::vector<Facts> scan_ranked(const FsRoot& fs, std::size_t count, std::size_t& total);
/// The order of scan_ranked.
bool ranks_before(const Facts& a, const Facts& b);

/// "123M"-style sizes for a table ("-" for -1).
std::string human_kib(long long kib);

/// The table show and top print (show.cpp).
void print_table_header();
void print_table_row(const Facts& f);
/// One process as a JSON object (show.cpp).
void json_facts(tools::JsonWriter& j, const Facts& f);

// --- output ------------------------------------------------------------------------------------

void out(const std::string& s);
void out_line(const std::string& s);
/// An error's one-line text: "cannot " + context when the context already explains itself (the
/// oom/ library's permission messages), else the usual "cannot <context>: <reason>".
std::string describe(const Error& e);
/// "pid 42 (name)".
std::string who(pid_t pid, const std::string& comm);

}  // namespace prockit::poomguard
