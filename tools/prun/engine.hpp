// tools/prun/engine.hpp — the job runner behind prun, for a single command and for pools: what to
// run (templates, inputs), its output (grouping, ordering, tags), the joblog and progress, over
// the library's supervisor (prockit/supervise/: event loop, deadlines, term sequences, policies).
#pragma once

#include "inputs.hpp"
#include "template.hpp"

#include <prockit/process/command.hpp>
#include <prockit/process/tree_guard.hpp>
#include <prockit/sched/cpuset.hpp>
#include <prockit/supervise/halt_policy.hpp>
#include <prockit/supervise/term_sequence.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace prockit::prun {

using Duration = std::chrono::nanoseconds;

// TermStep and HaltPolicy are the library's (prockit/supervise/).
enum class OutputMode { ungroup, group, line_buffer };

enum class Restart { no, on_failure, always };

struct Plan {
    bool pool = false;
    // single mode: the command as given; pool: the template
    std::vector<std::string> single_argv;
    Template tmpl;
    bool shell = false;
    std::string shell_path = "/bin/sh";  // what runs command strings (see job_shell())
    bool have_template = true;  // false: the inputs are the commands (run with sh -c)
    std::optional<Template> name_tmpl;
    std::string fixed_name;  // single mode's --name
    std::optional<Template> tag_tmpl;  // pool: --tagstring
    std::string fixed_tag;             // single mode: --tagstring

    Command base{""};  // every per-child control; program/args filled per job
    unsigned jobs = 1;
    bool jobs_as_many = false;  // -j0: as many as the descriptor budget allows, no warning
    bool jobs_nofile = false;   // --rlimit nofile=...: the jobs' RLIMIT_NOFILE is the user's
    OutputMode output = OutputMode::ungroup;
    bool tag = false;
    bool tagstring = false;  // --tag prefixes Job::tag, not the name
    bool keep_order = false;
    std::optional<Duration> timeout;
    std::vector<TermStep> term_seq;
    HaltPolicy halt;
    unsigned retries = 1;  // attempts per job
    Duration delay{0};

    std::string joblog;
    bool joblog_jsonl = false;
    bool resume = false;
    bool joblog_append = false;  // --joblog +FILE
    bool resume_failed = false;

    std::vector<CpuSet> slot_cpus;  // --pin-spread: CPUs of slot k (1-based) at [k-1]
    std::optional<CpuSet> cpus;     // --cpus (for the jsonl log)
    bool bar = false;
    bool eta = false;
    bool dry_run = false;
    bool no_run_if_empty = false;

    Restart restart = Restart::no;
    Duration restart_delay = std::chrono::seconds(1);
    unsigned restart_limit = 5;
    Duration restart_window = std::chrono::seconds(60);

    // Several arguments per job (-n, -N, -L, -m, -X; one input source): a job takes up to
    // batch_args values (0: as many as fit), and its command line stays within max_chars.
    bool batch = false;
    Multi multi = Multi::none;
    std::size_t batch_args = 0;
    std::size_t max_chars = 0;

    // GNU parallel: columns, quoting, value forms
    std::optional<double> timeout_share;  // --timeout N%: N/100 of the median runtime of the jobs that succeeded
    bool joblog_stdout = false;           // --joblog -
    bool verbose = false;                 // -v: each command on stdout before it runs
    bool progress = false;                // --progress
    std::uint64_t total_jobs = 0;         // {##} (known when the template uses it)
    /// -j FILE: called as jobs end; the new number of jobs when the file changed, else nullopt.
    std::function<std::optional<unsigned>()> jobs_reload;

    std::optional<Inputs> inputs;
    // --results and --files: where each job's output is kept instead of printed.
    enum class Results { none, dir, table } results = Results::none;
    std::string results_path;  // the directory, or the table file ("-": standard output)
    char table_sep = ',';      // .csv: ','; .tsv: TAB
    bool files = false;        // print the name of the file holding each job's stdout

    // --load, --memfree: no job starts while the 1-minute load average is at least max_load, or
    // while MemAvailable is below memfree bytes (checked again every second while held back).
    std::optional<double> max_load;
    std::optional<std::uint64_t> memfree;

    std::optional<BlockReader> blocks;  // --pipe: the jobs' stdin, in place of inputs (but --tee)
    /// How --pipe's blocks reach the jobs: one job per block; dealt among at most -j jobs, each
    /// started for a block no running job was free to take and fed blocks until the input ends
    /// (--round-robin); or the whole input to every job, one job per input value, all running at
    /// once (--tee).
    enum class Spread { per_block, round_robin, tee } spread = Spread::per_block;
    /// --compress: buffered --group output is kept in its temporary files as zstd frames.
    bool compress = false;
    std::optional<PartCutter> parts;    // --pipepart: ranges of a file, spliced to the jobs' stdin
    /// The process-tree guard this process supervises under (prun is then a subreaper): the
    /// engine reaps adopted orphans, ends the run when the guardian is lost, and returns only
    /// when no descendant is left. nullptr: unguarded.
    const TreeGuard* guard = nullptr;
    bool daemon = false;
    /// The exit status of prun's own failures (1; a pool's is 255, as its 1-101 count failed jobs).
    int own_failure = 1;
    /// Called once after the first spawn attempt: 0 and "" on success, else the exit status the
    /// command gets and the message.
    std::function<void(int, const std::string&)> on_first_spawn;
    /// SIGHUP in daemon mode.
    std::function<void()> on_hangup;
};

/// Runs the plan; returns prun's exit status.
int run_engine(Plan& plan);

}  // namespace prockit::prun
