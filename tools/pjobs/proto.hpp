// tools/pjobs/proto.hpp — what pjobs' client, server and holders share: the per-user directories
// (checked: ours, 0700, not a symlink), and the wire format.
//
// Wire format: every message is a frame — a 4-byte big-endian length, then that many bytes: one
// type byte and the payload. Type 'j' carries a JSON object (requests carry "v": protocol_version;
// a server or holder answers another version with a clear error). While a client is attached to a
// holder, 'o' frames carry the job's output, 'i' frames the terminal's input, and 'w' frames a
// window size ("ROWS COLS"). A text list (`{"op":"list","text":true,"raw":true}`) is answered
// with a 'j' frame carrying `"raw": true` followed by one 't' frame: the lines themselves, not
// escaped into a JSON string (a server that does not know "raw" puts them in "text" instead).
//
// A request its client gives up on carries "deadline": the CLOCK_MONOTONIC time (nanoseconds) after
// which the server must not carry it out, and "timens": the inode of the client's time namespace
// (0 when unknown), whose clock the deadline is on. A server that reads such a request late does
// nothing and answers `"expired": true` (its client is usually gone). A request without a deadline
// (an older client; `wait`, which waits by design) has none; a deadline on another time
// namespace's clock is not compared. An older server ignores both fields: the protocol stays
// version 1, as with "raw".
#pragma once

#include <prockit/sys/unique_fd.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace prockit::pjobs {

inline constexpr int protocol_version = 1;
/// The largest frame accepted (a job table of 10,000 jobs is ~3 MB).
inline constexpr std::size_t max_frame = 64u << 20;

/// How long before its give-up time a client's deadline falls, at most (a quarter of its timeout
/// when that is shorter): what a server that read the request just in time may take to carry it
/// out and answer (a `run` spawns the job's holder and saves the table).
inline constexpr std::chrono::milliseconds deadline_margin{250};

/// CLOCK_MONOTONIC in nanoseconds: one clock for every process of a time namespace.
std::int64_t monotonic_ns();
/// The inode of this process's time namespace (/proc/self/ns/time), 0 when unknown.
std::uint64_t time_namespace();
/// The "deadline" and "timens" fields for a request whose client gives up `timeout` from now.
void set_deadline(nlohmann::json& request, std::chrono::nanoseconds timeout);
/// By how many nanoseconds a request read at `now` (in time namespace `timens`) is past its
/// deadline: > 0 when it must not be carried out; std::nullopt when it has none, or one on another
/// namespace's clock. A deadline or namespace that is no integer throws json::type_error, as other
/// mistyped fields do.
std::optional<std::int64_t> past_deadline(const nlohmann::json& request, std::int64_t now, std::uint64_t timens);

struct Paths {
    std::string runtime;  ///< $XDG_RUNTIME_DIR/prockit or /tmp/prockit-$UID: sockets, pidfile
    std::string state;    ///< $XDG_STATE_HOME/prockit or ~/.local/state/prockit: table, logs
    std::string server_socket() const { return runtime + "/pjobs.sock"; }
    std::string server_pidfile() const { return runtime + "/pjobs.pid"; }
    std::string holder_socket(long id) const { return runtime + "/pjobs-job-" + std::to_string(id) + ".sock"; }
    std::string table() const { return state + "/pjobs-jobs.jsonl"; }
    std::string log(long id) const { return state + "/pjobs-logs/" + std::to_string(id) + ".log"; }
    std::string exit_record(long id) const { return state + "/pjobs-logs/" + std::to_string(id) + ".exit"; }
    std::string server_log() const { return state + "/pjobs-server.log"; }
};

/// The directories from the environment. Creates them when missing; a runtime directory that is a
/// symlink, not ours, or open to others is refused (std::runtime_error "cannot use ...").
Paths paths_from_env();
/// The checks alone: "" when `dir` is a directory owned by us with mode 0700, else the reason.
std::string check_private_dir(const std::string& dir);

/// A Unix stream socket listening on `path` (a stale socket there is removed), mode 0600.
unique_fd listen_unix(const std::string& path);
/// A connection to `path`, or an empty fd with errno set.
unique_fd connect_unix(const std::string& path);
/// The uid of the peer of a connected Unix socket (SO_PEERCRED), or -1.
long peer_uid(int fd);

/// Sends one frame (blocking, whole). False when the peer is gone.
bool send_frame(int fd, char type, std::string_view payload);
bool send_json(int fd, const nlohmann::json& j);
/// Reads one frame (blocking). std::nullopt at EOF or on error.
struct Frame {
    char type = 0;
    std::string payload;
};
std::optional<Frame> recv_frame(int fd);

/// Incremental frame reader for non-blocking sockets in a poll loop.
class FrameReader {
public:
    /// Reads what is available. False at EOF or error (frames already complete stay available).
    bool fill(int fd);
    std::optional<Frame> next();
    /// The next frame without a copy: the payload is valid until the next fill().
    struct View {
        char type = 0;
        std::string_view payload;
    };
    std::optional<View> next_view();

private:
    std::vector<char> buf_;
    std::size_t pos_ = 0, end_ = 0;  // unread bytes are buf_[pos_, end_)
};

/// Writes `text` to `path` atomically: a temporary file, fsync, rename, fsync of the directory.
/// Without `sync` the two fsyncs are left out: the file is still whole or old whenever the writer
/// dies (rename is atomic), but a crash of the machine may lose the write.
bool write_file_atomic(const std::string& path, std::string_view text, std::string* error = nullptr, bool sync = true);

/// A whole file's text ("" when it cannot be read).
std::string read_small_file(const std::string& path);

/// The job table file (Paths::table(), one JSON object a line) read back. A line that is not a
/// JSON object, or a record that is neither a job ("id" and "argv") nor a group ("group" and
/// "parallel") nor the header ("pjobs_table"), is counted in `bad` and skipped.
struct Table {
    std::map<long, nlohmann::json> jobs;
    std::map<std::string, int> groups;  ///< group -> parallel slots
    long touch = 0;                     ///< the largest "touch" of a job
    int lines = 0;                      ///< lines read
    int bad = 0;                        ///< lines skipped
};
Table parse_table(std::string_view text);

/// "Running", "Stopped", "Done", "Exit 3", "Killed (SIGKILL)"... for a job record.
std::string state_text(const nlohmann::json& job);
/// The job's shell status (wait): exit code, 128+N for a signal, 1 for a lost job.
int job_status(const nlohmann::json& job);
bool job_finished(const nlohmann::json& job);
/// The record's "state" without a copy ("" when missing); valid while `job` is.
std::string_view state_of(const nlohmann::json& job);
/// A line of `pjobs list` ("[1]+ 4242    Running                sleep 100"), without newline.
std::string job_line(const nlohmann::json& job, long current, long previous);
/// The command line for display.
std::string command_text(const nlohmann::json& job);

}  // namespace prockit::pjobs
