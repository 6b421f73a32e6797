// prockit/proc/procfs.hpp — fast, allocation-light readers of /proc/PID files through FsRoot:
// the stat line (comm, state, ppid, flags, threads, start time), the command line, the exe link,
// the owner, and the PID / TID listings. Shared by paffinity and poomguard.
#pragma once

#include <prockit/sys/fsroot.hpp>
#include <prockit/sys/result.hpp>
#include <prockit/sys/unique_fd.hpp>

#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace prockit::proc {

/// The fields of /proc/PID/stat that prockit uses.
struct Stat {
    pid_t pid = 0;
    std::string comm;                  ///< field 2 without the parentheses (may hold blanks, ')')
    char state = '?';                  ///< field 3
    pid_t ppid = 0;                    ///< field 4
    pid_t pgrp = 0;                    ///< field 5: process group
    pid_t session = 0;                 ///< field 6: session
    unsigned flags = 0;                ///< field 9 (PF_*)
    long num_threads = 0;              ///< field 20
    unsigned long long start_time = 0; ///< field 22, clock ticks after boot: a PID's identity

    /// PF_KTHREAD: a kernel thread (no command line; many refuse affinity changes).
    bool kernel_thread() const { return (flags & 0x00200000u) != 0; }
};

/// Parses the text of a stat file. Errc::parse_error when it is malformed.
Result<Stat> parse_stat(std::string_view text);

/// A reader that keeps one buffer and one path buffer across calls: each read is open + read +
/// close with no other allocation once warmed up. Not thread-safe; one per scanning thread.
class ProcReader {
public:
    explicit ProcReader(const FsRoot& fs = FsRoot::system());
    ProcReader(const ProcReader&) = delete;
    ProcReader& operator=(const ProcReader&) = delete;

    /// Reads /proc/<pid>/<rel> (or /proc/<pid>/task/<tid>/<rel> when tid > 0). The view stays
    /// valid until the next call. Errors carry the errno (ENOENT/ESRCH when the process is gone).
    /// Meant for /proc files that return their whole content per read (a short read ends it).
    Result<std::string_view> read(pid_t pid, std::string_view rel, pid_t tid = 0);
    /// The stat line of a process (tid 0) or of one of its threads. stat(pid, pid) reads the
    /// leader thread's file: every field of Stat is the same, and the kernel does not sum every
    /// thread's CPU time for it, which /proc/PID/stat does (O(threads): ~40 us at 1,000 threads).
    /// For a scan of many small processes the plain file is cheaper (a shorter path).
    Result<Stat> stat(pid_t pid, pid_t tid = 0);
    /// The command line with its NULs turned into blanks (as `pgrep -f` matches it), NUL-terminated; "" for
    /// kernel threads and zombies.
    Result<std::string_view> cmdline(pid_t pid);
    /// The target of /proc/PID/exe (" (deleted)" suffix kept).
    Result<std::string> exe(pid_t pid);
    /// The owner of /proc/PID: the process's effective UID (root when it is not dumpable).
    Result<uid_t> owner(pid_t pid);

    const FsRoot& fs() const { return fs_; }
    /// "/proc/<pid>[/task/<tid>]/<rel>" in the internal path buffer.
    const char* path(pid_t pid, std::string_view rel, pid_t tid = 0);

private:
    const FsRoot& fs_;
    std::string prefix_;  // "<root>/proc/"
    unique_fd proc_dir_;  // prefix_ opened once; files are opened relative to it
    std::string path_;
    std::string buf_;
};

/// The PIDs in /proc, ascending.
Result<std::vector<pid_t>> list_pids(const FsRoot& fs = FsRoot::system());
/// The thread IDs in /proc/PID/task, ascending. ESRCH when the process is gone.
Result<std::vector<pid_t>> list_tasks(pid_t pid, const FsRoot& fs = FsRoot::system());
/// Numeric entries of a directory, ascending (used for /proc and /proc/PID/task).
Result<std::vector<pid_t>> list_numeric_dir(const std::string& dir);

}  // namespace prockit::proc
