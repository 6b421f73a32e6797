// prockit/jobs/job_control.hpp — what a job-control shell does, as a library: jobs (one command or
// a pipeline, all in one process group), the terminal handed to a job and taken back, each job's
// terminal modes kept while it is stopped, stop/continue/exit observed, continue in the foreground
// or the background, and a job table with the shell's job specs (%N, %+, %%, %-, %name, %?text).
//
//   auto term = prockit::Terminal::open(0).value();       // the shell's controlling terminal
//   prockit::JobTable jobs(&term);
//   prockit::Job& job = *jobs.start({prockit::Command("sleep").arg("100")}, "sleep 100",
//                                   prockit::Launch::foreground).value();
//   jobs.wait_foreground(job).value();   // ^Z: returns JobState::stopped, the terminal is back
//   jobs.continue_background(job).value();                  // bg
//   jobs.continue_foreground(*jobs.find("%1").value()).value();  // fg %1
//
// The shell itself must ignore SIGTSTP, SIGTTIN and SIGTTOU (and usually SIGINT, SIGQUIT), as
// shells do: that is process-wide state, so it is the caller's to set; the jobs get every
// disposition reset to the default (Command does that). The library blocks SIGTTOU in the calling
// thread around each terminal call, so a shell in the background of its terminal is not stopped.
//
// Observing: a member's stop or continue does not make its pidfd readable, so a blocking wait
// uses waitid(P_PGID, WNOWAIT) to learn that something changed in the job's group, then collects
// each member's change through its own pidfd (Child::try_wait_state): no waitpid(-1), no
// SIGCHLD handler, and statuses of other children are never taken. A poll loop instead calls
// JobTable::update() when its signalfd reports SIGCHLD.
//
// The pure part — parse_job_spec(), current_jobs(), resolve_job_spec() — works on JobEntry
// values, so a tool with its own job table (pjobs) resolves specs exactly as this table does.
#pragma once

#include <prockit/process/child.hpp>
#include <prockit/process/command.hpp>
#include <prockit/process/exit_status.hpp>
#include <prockit/sys/result.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <sys/types.h>
#include <termios.h>

namespace prockit {

// ================================================================ job specs (pure)

/// Why a job spec names no job: the reason of an Error whose context is "find job <spec>".
enum class JobSpecErrc {
    malformed = 1,   ///< "%" followed by nothing usable, "%0", "%?" (the text is empty), ...
    no_such_job,     ///< nothing matches
    ambiguous,       ///< %name or %?text matches more than one job
    no_current_job,  ///< %+ / %% / %- with no job to be current
};
const std::error_category& job_spec_category() noexcept;
inline std::error_code make_error_code(JobSpecErrc e) noexcept { return {static_cast<int>(e), job_spec_category()}; }

/// A parsed job spec.
struct JobSpec {
    enum class Kind {
        number,    ///< %N: job number N
        current,   ///< %+, %%, or a lone %: the current job
        previous,  ///< %-: the previous job
        prefix,    ///< %name: the job whose command starts with `text`
        contains,  ///< %?text: the job whose command contains `text`
        pid,       ///< a bare decimal number (when allowed): the job with that process
    };
    Kind kind = Kind::current;
    int number = 0;
    std::string text;
    pid_t pid = 0;
    friend bool operator==(const JobSpec&, const JobSpec&) = default;
};

/// Parses `%N`, `%+`, `%%`, `%`, `%-`, `%name`, `%?text`, and — when `allow_pid` — a bare PID.
/// Errors: JobSpecErrc::malformed, with the context "find job <text>".
Result<JobSpec> parse_job_spec(std::string_view text, bool allow_pid = true);

/// What resolving needs to know of one job.
struct JobEntry {
    int number = 0;
    std::string command;     ///< the command line as typed: %name and %?text look here
    std::vector<pid_t> pids;  ///< its processes (a PID spec matches any of them)
    bool stopped = false;
    bool finished = false;   ///< ended: still named by %N, %name, ..., never current or previous
    std::uint64_t seq = 0;   ///< when it was last started, stopped or put in the background (larger: later)
};

/// The shell's current (+) and previous (-) jobs: the most recently stopped jobs first, then the
/// most recently started or backgrounded running ones (finished jobs never). With one candidate,
/// previous is empty (the shell's `%-` then means the current job: see resolve_job_spec).
struct CurrentJobs {
    std::optional<int> current;
    std::optional<int> previous;
};
CurrentJobs current_jobs(const std::vector<JobEntry>& jobs);

/// The number of the job `spec` names. `%-` with no previous job names the current one (as in
/// bash). Errors: no_such_job, ambiguous, no_current_job; context "find job <spec as typed>".
Result<int> resolve_job_spec(const JobSpec& spec, const std::vector<JobEntry>& jobs);
/// parse_job_spec() then resolve_job_spec().
Result<int> find_job(std::string_view text, const std::vector<JobEntry>& jobs, bool allow_pid = true);

/// "%3", "%+", "%-", "%name", "%?text", "4242": the spec as a shell user types it.
std::string to_string(const JobSpec& spec);

// ================================================================ the terminal

/// The shell's side of its controlling terminal: the descriptor (borrowed), the shell's process
/// group, and the shell's own terminal modes, put back whenever the shell takes the terminal back.
class Terminal {
public:
    /// `fd` must be the caller's controlling terminal. Waits until the caller's process group is
    /// in its foreground — sending SIGTTIN to its own group meanwhile, as a shell started in the
    /// background does (the caller must not ignore SIGTTIN yet then, or it would spin) — and saves
    /// the modes in force. ENOTTY when `fd` is no terminal.
    static Result<Terminal> open(int fd);

    int fd() const noexcept { return fd_; }
    pid_t shell_pgid() const noexcept { return shell_pgid_; }
    /// The modes reclaim() restores (saved by open(), or by save_shell_modes()).
    const struct termios& shell_modes() const noexcept { return shell_modes_; }
    /// Saves the terminal's current modes as the shell's (after the shell changed them itself).
    Status save_shell_modes();

    /// Makes `pgid` the terminal's foreground group, after setting `modes` when given (a stopped
    /// job's own modes). SIGTTOU is blocked around the calls.
    Status give_to(pid_t pgid, const struct termios* modes = nullptr);
    /// Takes the terminal back for the shell's group and restores the shell's modes; returns the
    /// modes the terminal had (the job's, to be given back to it with give_to()).
    Result<struct termios> reclaim();
    /// The terminal's foreground process group now.
    Result<pid_t> foreground_group() const;

private:
    int fd_ = -1;
    pid_t shell_pgid_ = 0;
    struct termios shell_modes_ {};
};

// ================================================================ jobs

enum class JobState { running, stopped, done };
/// "Running", "Stopped", "Done" — as `jobs` prints them.
const char* to_string(JobState s) noexcept;

enum class Launch { foreground, background };

/// One job: one or more processes in one process group (the first process leads it).
class Job {
public:
    int number() const noexcept { return number_; }
    const std::string& command() const noexcept { return command_; }
    pid_t pgid() const noexcept { return pgid_; }
    std::vector<pid_t> pids() const;
    JobState state() const noexcept { return state_; }
    /// When stopped: how (stopped(SIGTSTP), ...). When done: the last member's status (exited N
    /// or killed by a signal), as the shell's $? reports a pipeline. Empty while running.
    const std::optional<ExitStatus>& status() const noexcept { return status_; }
    /// The terminal modes the job had when it last stopped in the foreground (given back by
    /// continue_foreground()); empty if it never did.
    const std::optional<struct termios>& saved_modes() const noexcept { return saved_modes_; }
    /// The members' handles, in pipeline order.
    const std::vector<Child>& members() const noexcept { return members_; }

    /// Sends `sig` to the job: to its process group while a member still holds the group (so the
    /// members' own children get it too), else to each member left through its pidfd. A stopped
    /// job also gets SIGCONT after any signal but SIGKILL and SIGCONT, so it can act on it (what
    /// a shell's `kill %N` does). Nothing is sent to a job that is done.
    Status signal(int sig);

    /// For the caller's bookkeeping: has the user been told the job is done or stopped? Reset
    /// to false whenever the table sees the job's state change.
    bool notified = false;
    /// When it was last started, stopped or put in the background (JobEntry::seq).
    std::uint64_t seq() const noexcept { return seq_; }
    JobEntry entry() const;

private:
    friend class JobTable;
    enum class Member { running, stopped, ended };
    /// Collects pending changes of every member without blocking; true when the job's state changed.
    Result<bool> collect();
    void recompute();
    bool holds_group() const;

    int number_ = 0;
    std::string command_;
    pid_t pgid_ = 0;
    std::vector<Child> members_;
    std::vector<Member> member_state_;
    JobState state_ = JobState::running;
    std::optional<ExitStatus> status_;
    std::optional<struct termios> saved_modes_;
    std::uint64_t seq_ = 0;
};

/// The shell's jobs. With a Terminal, foreground jobs get the terminal; without one (nullptr),
/// jobs run without terminal hand-off (a script's job control, tests).
class JobTable {
public:
    explicit JobTable(Terminal* terminal = nullptr);
    JobTable(const JobTable&) = delete;
    JobTable& operator=(const JobTable&) = delete;
    /// Jobs not done get SIGHUP then SIGCONT (a terminal hang-up), then their members end by
    /// their DestroyPolicy (terminate_tree, 2 s grace).
    ~JobTable();

    /// Starts a pipeline (one Command: a simple command): each member's stdout goes to the next
    /// one's stdin through a pipe, all in a new process group led by the first member, which is
    /// put in the terminal's foreground at birth for Launch::foreground (Command::foreground).
    /// The commands' other settings are kept. If a member fails to spawn, the members already
    /// started are killed and reaped and the failure is returned. Job numbers are one more than
    /// the highest in use (1 for an empty table), as in bash.
    Result<Job*, SpawnFailure> start(std::vector<Command> pipeline, std::string text, Launch launch);

    /// Blocks until the job stops or is done (returns at once for a job already stopped or done).
    /// A job that stops becomes the current job. Does not touch the terminal.
    Result<JobState> wait(Job& job);
    /// wait(), then — with a Terminal — takes the terminal back: a stopped job's modes are saved
    /// (saved_modes()) and the shell's restored. What a shell does after starting a job in the
    /// foreground.
    Result<JobState> wait_foreground(Job& job);
    /// fg: gives the job the terminal (with its saved modes), SIGCONT to its group, then
    /// wait_foreground(). A job found done (also one that ended since the last look): ESRCH
    /// ("continue job %N"), the terminal untouched; its status() is then set.
    Result<JobState> continue_foreground(Job& job);
    /// bg: SIGCONT to the group; the job is running again and becomes the current job. A done job: ESRCH.
    Status continue_background(Job& job);

    /// Collects every job's pending changes without blocking; returns the jobs whose state
    /// changed (call it on SIGCHLD in a poll loop, or before each prompt).
    Result<std::vector<Job*>> update();

    /// The jobs, in number order.
    std::vector<Job*> jobs();
    Job* find(int number);
    /// Resolves a job spec (%N, %+, ..., a PID) against the table.
    Result<Job*> find(std::string_view spec);
    /// Forgets a job (a done one, after the user was told). Removing one not done detaches
    /// nothing: its members end by their DestroyPolicy.
    void remove(int number);
    std::vector<JobEntry> entries() const;
    CurrentJobs current() const { return current_jobs(entries()); }
    Terminal* terminal() const noexcept { return terminal_; }

private:
    Result<void, Error> block_until_change(Job& job);
    Status send_continue(Job& job);

    Terminal* terminal_;
    std::vector<std::unique_ptr<Job>> jobs_;
    std::uint64_t next_seq_ = 1;
};

}  // namespace prockit

template <>
struct std::is_error_code_enum<prockit::JobSpecErrc> : std::true_type {};
