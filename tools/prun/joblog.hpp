// tools/prun/joblog.hpp — prun's joblog: GNU parallel's TSV columns, or JSON lines with CPU times,
// peak RSS and CPUs; and reading one back for --resume / --resume-failed.
#pragma once

#include <prockit/process/exit_status.hpp>
#include <prockit/sys/result.hpp>
#include <prockit/sys/unique_fd.hpp>

#include <cstdint>
#include <functional>
#include <string_view>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace prockit::prun {

/// One finished job, as the joblog records it.
struct JobLogEntry {
    std::uint64_t seq = 0;
    std::string name;
    double start = 0;    // seconds since the epoch
    double runtime = 0;  // seconds
    std::uint64_t sent = 0;      // --pipe: the block's size
    std::uint64_t received = 0;  // bytes the job wrote to its stdout
    int exitval = 0;             // -1 when killed or timed out
    int signal = 0;
    bool timed_out = false;
    unsigned attempts = 0;
    unsigned slot = 0;
    std::string cpus;  // CPU list, "" when not pinned
    std::optional<ResourceUsage> usage;
    std::string command;  // as a shell would read it
    std::vector<std::string> argv;
};

class JobLog {
public:
    /// Opens (creates) the log; appends when resuming. A new TSV log gets its header line.
    Status open(const std::string& path, bool append, bool jsonl);
    /// --joblog -: the lines go to `write` (prun's stdout), a TSV log with its header first.
    void open_writer(std::function<void(std::string_view)> write, bool jsonl);
    bool active() const { return static_cast<bool>(fd_) || static_cast<bool>(write_); }
    /// Writes one line (one write(2), so a line is never torn by a crash of prun). A line that
    /// cannot be written whole (a full disk) is cut off again, so the log still holds whole lines
    /// only, and no later line is written: the log then holds exactly the jobs before the one
    /// named in the error, and --resume runs the others again.
    Status record(const JobLogEntry& e);

    /// The line record() writes, without writing it.
    static std::string tsv_line(const JobLogEntry& e);
    static std::string jsonl_line(const JobLogEntry& e);

private:
    unique_fd fd_;
    std::string path_;
    bool broken_ = false;  // a line could not be written: no more are
    std::function<void(std::string_view)> write_;
    bool jsonl_ = false;
};

/// Sequence numbers found in an existing joblog.
struct LoggedJobs {
    std::set<std::uint64_t> all;
    std::set<std::uint64_t> succeeded;  // exit value 0, no signal
};

/// Parses a joblog's text; a malformed line is an Errc::parse_error whose context names the line:
/// "line 3: invalid JSON at column 7: ...". An empty line is skipped.
Result<LoggedJobs> parse_joblog(const std::string& text, bool jsonl);
/// Reads the joblog at `path`; a missing file holds no jobs. A parse error's context reads
/// "read joblog PATH: line N: why" (print it as "cannot " + context: the reason is in it).
Result<LoggedJobs> read_joblog(const std::string& path, bool jsonl);

}  // namespace prockit::prun
