// prockit/proc/select.hpp — choosing processes by PID, name (comm), command-line regex, executable
// path, user and cgroup, and pinning a chosen process so that a recycled PID is never acted on.
// Shared by paffinity and poomguard.
//
// Criteria of different kinds must all hold (AND); several values of one kind are alternatives
// (OR): `--name a --name b --user 0` is "(comm a or comm b) and uid 0".
#pragma once

#include <prockit/proc/procfs.hpp>
#include <prockit/sys/fsroot.hpp>
#include <prockit/sys/result.hpp>
#include <prockit/sys/unique_fd.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace prockit::proc {

struct Selector {
    std::vector<pid_t> pids;            ///< exactly these PIDs
    std::vector<std::string> names;     ///< comm equals (a name over 15 characters is compared
                                        ///< with its first 15, as the kernel truncates comm)
    std::vector<std::string> patterns;  ///< POSIX extended regex, searched in the command line
                                        ///< (arguments joined by blanks; comm for kernel threads)
    std::vector<std::string> exes;      ///< /proc/PID/exe equals the path (resolved with realpath)
    std::vector<uid_t> users;           ///< effective UID
    std::vector<std::string> cgroups;   ///< in this cgroup or below it, in any hierarchy: a path
                                        ///< as /proc/PID/cgroup shows it ("/system.slice/x"), or
                                        ///< a cgroup directory ("/sys/fs/cgroup/cpuset/x")
    bool include_self = false;          ///< the calling process may match (never by default)
    bool include_kernel_threads = true; ///< kernel threads may match

    /// True when no criterion is given (which selects nothing, not everything).
    bool empty() const {
        return pids.empty() && names.empty() && patterns.empty() && exes.empty() && users.empty() &&
               cgroups.empty();
    }
};

/// A selected process, identified by PID and start time.
struct ProcessRef {
    pid_t pid = 0;
    unsigned long long start_time = 0;
    std::string comm;
    long threads = 0;
    bool kernel_thread = false;
};

/// The outcome of a selection: matches in PID order, and the requested PIDs that do not exist.
struct Selection {
    std::vector<ProcessRef> processes;
    std::vector<pid_t> missing;
};

/// A compiled selector (regexes compiled once, exe paths resolved, cgroup dirs mapped).
class Matcher {
public:
    /// Errc::parse_error for a malformed regex, with the regex library's reason.
    static Result<Matcher> compile(const Selector& s, const FsRoot& fs = FsRoot::system());
    Matcher(Matcher&&) noexcept;
    Matcher& operator=(Matcher&&) noexcept;
    ~Matcher();

    /// Whether process `pid` matches; fills `out` when it does. False when it vanished.
    bool match(ProcReader& r, pid_t pid, ProcessRef& out) const;
    /// Scans /proc (or only the listed PIDs) for matches, in PID order.
    Result<Selection> select() const;

private:
    struct Impl;
    explicit Matcher(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

/// Compiles and scans in one call.
Result<Selection> select_processes(const Selector& s, const FsRoot& fs = FsRoot::system());

/// A user name or a numeric UID. Errc::not_found for an unknown name.
Result<uid_t> resolve_user(std::string_view user);

/// A process pinned for changing: a pidfd obtained after re-checking the start time, so the PID
/// cannot silently refer to another process. On a fixture FsRoot (not the real machine) only the
/// start time is checked and there is no pidfd.
class PinnedProcess {
public:
    /// ESRCH ("No such process") when the process is gone or the PID now names another process.
    static Result<PinnedProcess> pin(const ProcessRef& ref, const FsRoot& fs = FsRoot::system());

    pid_t pid() const { return pid_; }
    int pidfd() const { return pidfd_.get(); }
    /// True while the pinned process has not exited (always true without a pidfd).
    bool alive() const;

private:
    pid_t pid_ = 0;
    unique_fd pidfd_;
};

}  // namespace prockit::proc
