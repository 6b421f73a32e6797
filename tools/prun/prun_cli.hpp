// tools/prun/prun_cli.hpp — prun's options, command line and entry point. See prun(1).
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace prockit::prun {

struct Options {
    // What to run: the words after the options ("--" optional): the command or template, then
    // any ::: / :::: input sources.
    std::vector<std::string> words;

    // labels
    std::string name;
    std::string tagstring;
    std::string argv0;

    // per-child controls
    std::string cpus;
    std::optional<int> nice;
    std::optional<int> oom_score_adj;
    std::vector<std::string> rlimits;
    std::string timeout;
    std::string kill_after;
    std::string term_seq;
    bool strict_tree = false;  // refuse to run when the tree guard cannot be had
    std::string cwd;
    std::vector<std::string> env;
    std::vector<std::string> unset_env;
    bool clear_env = false;
    std::string user;
    bool new_session = false;
    bool no_new_privs = false;
    std::string drop_caps;
    std::string keep_caps;
    std::vector<std::string> seccomp;

    // daemon
    bool daemon = false;
    std::string log;
    std::string pidfile;
    std::string restart = "no";
    std::string restart_delay = "1s";
    std::string restart_limit = "5/60s";

    // pool
    std::string jobs;  // empty: not given
    std::vector<std::string> arg_files;
    bool null_sep = false;
    std::string delimiter;  // -d: empty, not given
    std::optional<std::string> eof;  // -E
    bool shell = false;
    bool no_shell = false;
    std::string replace;  // -I
    bool replace_default = false;  // -i: -I {}
    // several arguments per job
    unsigned max_args = 0;      // -n
    unsigned max_args_pos = 0;  // -N
    unsigned max_lines = 0;     // -L
    bool multi_m = false;       // -m
    bool multi_x = false;       // -X
    std::size_t max_chars = 0;  // -s (0: the system's limit)
    bool single = false;  // --single: one command, whatever stdin is
    // Not an option: set by main_entry from what standard input is (see stdin_is_input()).
    bool stdin_input = false;
    bool no_run_if_empty = false;
    bool group = false;
    bool line_buffer = false;
    bool ungroup = false;
    bool tag = false;
    bool link = false;
    bool pipe = false;
    std::string block;
    bool keep_order = false;
    std::string halt = "never";
    unsigned retries = 0;
    std::string delay;
    std::string joblog;
    std::string joblog_format = "tsv";
    bool resume = false;
    bool resume_failed = false;
    bool pin_spread = false;
    bool bar = false;
    bool eta = false;
    bool dry_run = false;

    // GNU parallel: columns, quoting, value forms
    std::string colsep;                 // -C/--colsep REGEX
    std::optional<std::string> header;  // --header : | REGEX
    bool plus = false;                  // --plus
    bool quote = false;                 // -q/--quote
    bool verbose = false;               // -v
    bool shuf = false;                  // --shuf
    bool progress = false;              // --progress
    // GNU parallel: pipe, results, load, semaphore
    std::optional<std::string> recstart, recend;  // --pipe's record boundaries
    bool regexp = false;
    bool pipepart = false;
    bool round_robin = false;  // --round-robin: --pipe's blocks dealt among -j jobs started once
    bool tee = false;          // --tee: the whole of stdin to every job, one job per input value
    bool compress = false;     // --compress: buffered output kept compressed in $TMPDIR
    std::string results;  // --results DIR | FILE.csv | FILE.tsv
    bool files = false;
    std::string load;     // --load MAX: the 1-minute load average, or N% of the CPUs
    std::string memfree;  // --memfree SIZE
    bool semaphore = false;
    std::string sem_id;
    bool fg = false;
    bool sem_wait = false;
};

/// A pool's exit status for prun's own errors, usage errors included (GNU parallel's 255): a
/// pool's 1-101 count failed jobs, so prun's 1 and 2 would be read as job counts there.
inline constexpr int exit_pool_error = 255;

/// Whether the command line asks for a pool: an input source (:::, ::::, :::+, ::::+) among the
/// words, -a/--arg-file, --pipe, or -j; or, without --single and without an option only one command
/// takes (--daemon, --restart, --log, --pidfile), lines waiting on standard input (stdin_input).
bool is_pool(const Options& opts);

/// Whether standard input holds inputs for an implicit pool, GNU parallel's commonest input: it is a
/// pipe, a socket, or a regular file with bytes left to read. A terminal, /dev/null and other
/// devices, an empty file, or a closed descriptor are not: `prun CMD` then runs CMD once.
bool stdin_is_input();

/// Which shell runs a job's command string: $PARALLEL_SHELL when set; bash when the environment
/// holds an exported bash function (BASH_FUNC_name%%, `export -f`); else /bin/sh.
std::string job_shell();

/// Whether a template runs through the shell when neither --shell nor --no-shell is given: it is
/// one word holding shell syntax ('gzip {} && rm {}'), or a word of it is a shell operator (|, &&,
/// ;, >, ...), or its program is an exported bash function.
bool wants_shell(const std::vector<std::string>& tmpl_words);

/// --block: bytes, with k m g t (powers of 1000) or K M G T (powers of 1024), decimals allowed
/// (1.5M), at most 2 GiB - 1, as GNU parallel reads it. A bad text throws tools::UsageError.
std::size_t parse_size(const std::string& text);
/// -d/--delimiter: one character, or a C escape (\n \t \0 \\ \xHH \NNN octal), as GNU parallel
/// and xargs read it. A bad text throws tools::UsageError.
char parse_delimiter(const std::string& text);

/// The command line: options only; the command/template words are split off before parsing.
std::unique_ptr<CLI::App> build_cli(Options& opts);
/// Runs prun; returns the exit status.
int run(const Options& opts);
/// main(): parse argv (splitting off the command words) and run.
int main_entry(int argc, char** argv);

}  // namespace prockit::prun
