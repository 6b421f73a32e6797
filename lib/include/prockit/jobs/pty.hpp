// prockit/jobs/pty.hpp — pseudo-terminals: a pty pair, a terminal in raw mode for a scope, the
// window size, a bounded scrollback of what a job wrote, and a relay step for a poll loop.
//
//   auto size = prockit::window_size(0).value_or(prockit::WindowSize{});  // the user's size
//   auto pty = prockit::open_pty(size).value();
//   auto child = prockit::Command("bash").new_session()
//                    .in(Stdio::fd(pty.slave.get())).out(Stdio::fd(pty.slave.get()))
//                    .err(Stdio::fd(pty.slave.get())).controlling_terminal(0).spawn().value();
//   pty.slave.reset();                                   // the job holds the only slave now
//   auto raw = prockit::RawMode::enter(0).value();       // the user's terminal, until `raw` dies
//   auto in = prockit::reopen_nonblocking(0).value();    // non-blocking, not shared with the shell
//   prockit::set_nonblocking(pty.master.get()).value();
//   prockit::Scrollback back(64 * 1024);
//   prockit::RelayChannel keys(in.get(), pty.master.get());
//   prockit::RelayChannel screen(pty.master.get(), in.get());
//   screen.tap(&back);
//   // poll: POLLIN on a channel's source when want_read(), POLLOUT on its sink when want_write();
//   // then keys.step() and screen.step(), until screen.source_closed() && screen.drained().
//
// Every descriptor is opened O_CLOEXEC and owned by a unique_fd. Nothing here changes
// process-wide state; a terminal's modes change only through RawMode (which restores them).
#pragma once

#include <prockit/sys/result.hpp>
#include <prockit/sys/unique_fd.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fcntl.h>
#include <termios.h>

namespace prockit {

/// A terminal's size in character cells (and pixels, which most programs ignore).
struct WindowSize {
    unsigned short rows = 24;
    unsigned short cols = 80;
    unsigned short xpixel = 0;
    unsigned short ypixel = 0;
    friend bool operator==(const WindowSize&, const WindowSize&) = default;
};

/// The window size of the terminal at `fd` (TIOCGWINSZ). ENOTTY when `fd` is no terminal.
Result<WindowSize> window_size(int fd);
/// Sets it (TIOCSWINSZ). On a pty master the kernel then sends SIGWINCH to the slave's foreground
/// process group, as a terminal emulator's resize does.
Status set_window_size(int fd, const WindowSize& size);

/// Both ends of a pseudo-terminal. The master is what a terminal emulator (or a job's holder)
/// reads and writes; the slave is the job's terminal (its stdin, stdout, stderr).
struct PtyPair {
    unique_fd master;  ///< O_RDWR | O_NOCTTY | O_CLOEXEC
    unique_fd slave;   ///< O_RDWR | O_NOCTTY | O_CLOEXEC (Command::fd() dup2s it into a child)
    std::string slave_path;  ///< "/dev/pts/N"
};

/// Opens a pty pair (posix_openpt, grantpt, unlockpt, ptsname_r), with the slave's window size
/// and, when given, its terminal modes set before anyone else can open it. The slave is opened
/// O_NOCTTY: it becomes nobody's controlling terminal until a session leader asks
/// (Command::controlling_terminal).
Result<PtyPair> open_pty(std::optional<WindowSize> size = std::nullopt,
                         const struct termios* modes = nullptr);

/// Sets O_NONBLOCK on the open file description of `fd` (shared with every dup of it and with
/// every process that inherited it: use it on descriptors you own, such as a pty master).
Status set_nonblocking(int fd, bool on = true);
/// A new open file description of what `fd` names (its /proc/self/fd link reopened, O_RDWR or the
/// given access mode), O_NONBLOCK | O_NOCTTY | O_CLOEXEC: a relay can poll and write without
/// blocking on the user's terminal, while the shell that shares the original description keeps
/// it blocking. Works for terminals, FIFOs and files; not for sockets (ENXIO).
Result<unique_fd> reopen_nonblocking(int fd, int access = O_RDWR);

/// The terminal at `fd` in raw mode for the object's lifetime (cfmakeraw: no echo, no line
/// editing, no signals from ^C/^Z/^\, no output processing, reads return each byte). The modes
/// in force before are restored by the destructor or by restore() — the first call wins, so an
/// error path that restores early is not undone later. Move-only; the descriptor is borrowed.
class RawMode {
public:
    /// Saves the modes of the terminal at `fd` and makes it raw. ENOTTY when `fd` is no terminal.
    static Result<RawMode> enter(int fd);
    RawMode() = default;
    RawMode(RawMode&& o) noexcept;
    RawMode& operator=(RawMode&& o) noexcept;
    RawMode(const RawMode&) = delete;
    RawMode& operator=(const RawMode&) = delete;
    ~RawMode();

    /// Puts the saved modes back now (TCSADRAIN: output already written is sent with the raw
    /// modes). Later calls and the destructor do nothing.
    Status restore();
    bool active() const noexcept { return fd_ >= 0; }
    /// The modes saved on entry.
    const struct termios& saved() const noexcept { return saved_; }

private:
    int fd_ = -1;
    struct termios saved_ {};
};

/// The last `capacity` bytes written by a job, to replay to a client that attaches later: a ring
/// buffer, so appending never allocates once full and never grows past `capacity`.
class Scrollback {
public:
    explicit Scrollback(std::size_t capacity);

    void append(std::string_view data);
    /// What is kept, oldest first (at most capacity() bytes).
    std::string contents() const;
    std::size_t size() const noexcept { return size_; }
    std::size_t capacity() const noexcept { return buf_.size(); }
    /// Every byte ever appended (so total_written() - size() were dropped from the front).
    std::uint64_t total_written() const noexcept { return total_; }
    /// True once something was dropped: a replay then starts mid-stream (a client may want to
    /// reset its terminal first).
    bool truncated() const noexcept { return total_ > size_; }
    void clear() noexcept;

private:
    std::vector<char> buf_;
    std::size_t start_ = 0;  // index of the oldest byte
    std::size_t size_ = 0;
    std::uint64_t total_ = 0;
};

/// What one RelayChannel::step() did.
struct RelayProgress {
    std::size_t read = 0;     ///< bytes read from the source
    std::size_t written = 0;  ///< bytes written to the sink (or dropped, when there is none)
};

/// One direction of a relay: bytes read from `source` are written to `sink` through a bounded
/// buffer, never blocking when both descriptors are O_NONBLOCK (set_nonblocking,
/// reopen_nonblocking). Short writes keep the rest for the next step; a full buffer stops reading
/// (want_read() false), which in turn makes the writer on the other side wait: back-pressure, no
/// unbounded memory. Descriptors are borrowed. A pty master's EIO (every slave descriptor closed:
/// the job has ended) counts as the end of the source, like EOF.
class RelayChannel {
public:
    /// `sink` -1: data is read (and tapped) but dropped — a job's output while nobody is attached.
    RelayChannel(int source, int sink, std::size_t capacity = 64 * 1024);

    /// Also appends every byte read to `sb` (borrowed; nullptr to stop).
    void tap(Scrollback* sb) noexcept { tap_ = sb; }
    /// Changes the sink (attach: a client's terminal; detach: -1). Bytes pending for the old sink
    /// are dropped when `keep_pending` is false.
    void set_sink(int sink, bool keep_pending = false) noexcept;
    int source() const noexcept { return source_; }
    int sink() const noexcept { return sink_; }

    /// Poll for POLLIN on source() when true.
    bool want_read() const noexcept { return !source_closed_ && pending() < cap_; }
    /// Poll for POLLOUT on sink() when true.
    bool want_write() const noexcept { return sink_ >= 0 && pending() > 0; }
    /// Reads what the source has (while there is room) and writes what the sink takes, without
    /// blocking; EAGAIN and EINTR are no errors. An error names the descriptor and the direction.
    /// A sink that is gone (EPIPE, EIO) is an error: the caller detaches it.
    Result<RelayProgress> step();
    /// The source said EOF (or EIO on a pty master).
    bool source_closed() const noexcept { return source_closed_; }
    /// Nothing is pending for the sink.
    bool drained() const noexcept { return pending() == 0; }
    std::size_t pending() const noexcept { return end_ - begin_; }

private:
    Result<std::size_t> fill();
    Result<std::size_t> flush();

    int source_;
    int sink_;
    std::size_t cap_;
    std::vector<char> buf_;
    std::size_t begin_ = 0, end_ = 0;  // pending bytes are buf_[begin_, end_)
    bool source_closed_ = false;
    Scrollback* tap_ = nullptr;
};

}  // namespace prockit
