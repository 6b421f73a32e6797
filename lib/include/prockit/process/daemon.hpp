// prockit/process/daemon.hpp — detaching a program as a daemon, a readiness channel back to the
// process that started it, and pidfiles held under a lock.
//
//   auto d = prockit::daemonize({}).value();
//   if (!d.is_daemon()) return d.wait_ready().value().code;   // the foreground side: exit with
//                                                             // the daemon's verdict
//   auto pf = prockit::PidFile::acquire("/run/x.pid");        // in the daemon
//   if (!pf) { d.notify(1, pf.error().message()); return 1; }
//   ...start the work...; d.notify(0, "");                    // the foreground side exits 0
//
// daemonize() forks, the child calls setsid() and forks again, and the middle process exits: the
// daemon is in a new session, is not its leader (so it can never acquire a controlling terminal),
// and has been re-parented. It then changes to "/" (unless told otherwise), sets the umask, and
// points stdin, stdout and stderr at /dev/null (or stdout/stderr at a log file opened O_APPEND).
// The foreground side keeps the read end of a close-on-exec pipe: the daemon reports an exit code
// and a message over it, and EOF without a report means the daemon died before it was ready.
// Call it while the program is single-threaded.
#pragma once

#include <prockit/sys/result.hpp>
#include <prockit/sys/unique_fd.hpp>

#include <optional>
#include <string>
#include <sys/types.h>

namespace prockit {

struct DaemonOptions {
    bool chdir_root = true;
    std::optional<mode_t> umask = mode_t{022};
    /// Where the daemon's stdout and stderr go (opened O_WRONLY|O_CREAT|O_APPEND, mode 0640,
    /// relative to the original working directory); empty: /dev/null.
    std::string log_path;
};

/// The daemon's verdict as the foreground side receives it.
struct DaemonReport {
    int code = 0;
    std::string message;
};

class Daemonized {
public:
    bool is_daemon() const noexcept { return daemon_; }
    /// (daemon side) Reports readiness or failure once; later calls do nothing.
    void notify(int code, const std::string& message) noexcept;
    /// (foreground side) Waits for the report. EOF without one is an error.
    Result<DaemonReport> wait_ready();
    /// (daemon side) The log descriptor (also on 1 and 2), or -1 with /dev/null.
    int log_fd() const noexcept { return log_fd_; }

private:
    friend Result<Daemonized> daemonize(const DaemonOptions&);
    bool daemon_ = false;
    unique_fd channel_;
    int log_fd_ = -1;
};

Result<Daemonized> daemonize(const DaemonOptions& options);

/// Opens a log file for appending (O_WRONLY|O_CREAT|O_APPEND|O_CLOEXEC, 0640).
Result<unique_fd> open_log(const std::string& path);

/// A pidfile: the PID written atomically (a temporary file renamed into place) and held under an
/// exclusive flock for as long as the object lives; a second acquire() of the same path fails with
/// EWOULDBLOCK, naming the holder ("lock pidfile /run/x.pid (held by process 42)"). The file is
/// removed when the object is destroyed in the process that acquired it.
class PidFile {
public:
    PidFile() = default;
    static Result<PidFile> acquire(const std::string& path, pid_t pid = 0);
    PidFile(PidFile&&) noexcept;
    PidFile& operator=(PidFile&&) noexcept;
    ~PidFile();

    const std::string& path() const noexcept { return path_; }
    bool held() const noexcept { return static_cast<bool>(fd_); }
    /// Releases the lock and removes the file.
    void release() noexcept;

    /// The PID written in a pidfile, if it can be read.
    static std::optional<pid_t> read_pid(const std::string& path);

private:
    std::string path_;
    unique_fd fd_;
    pid_t owner_ = 0;
};

}  // namespace prockit
