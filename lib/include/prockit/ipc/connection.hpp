// prockit/ipc/connection.hpp — Listener and Client: Connections between processes that were not
// forked from one another, over Unix-domain sockets, with an authentication key (Python's
// multiprocessing.connection); and wait() on several connections, processes and fds at once.
//
//   prockit::Listener server("@my-service", key);        // '@' = an abstract name (no file)
//   prockit::Connection c = server.accept(10s);           // TimeoutError after 10 s
//   auto request = c.recv<std::string>();
//
//   prockit::Connection c = prockit::Client("@my-service", key);   // in another process
//   c.send(std::string("hello"));
//
// Addresses: a filesystem path ("/run/app.sock"), or an abstract name written with a leading '@'
// ("@app": Linux's abstract namespace, which leaves nothing in the filesystem and vanishes with the
// last descriptor). An empty address makes the Listener choose a fresh abstract name (address()).
// A Listener bound to a path removes the path when it is closed or destroyed in the process that
// bound it (not in a forked copy), and replaces a stale socket file that nobody listens on.
//
// Authentication (when the key is not empty, both ends must hold the same key): the server sends a
// random 32-byte challenge (getrandom), the client answers with HMAC-SHA256(key, challenge), the
// server says whether it matched; then the client challenges the server the same way. Neither end
// ever sends the key; a wrong key is an AuthenticationError at both ends. The handshake is bounded by
// the accept()/Client() timeout (10 s when none is given), so a peer that connects and says nothing
// cannot hold a server for ever. The key authenticates; it does not encrypt (the socket never leaves
// the machine; file permissions and the abstract name's secrecy are the other gates).
//
// The Connection is the same type Pipe gives (send/recv of codec values, recv with a timeout,
// poll, close); a peer that closed its end or died is an EofError, never a hang. send_fd/recv_fd
// are not available on it (ClosedError).
#pragma once

#include <prockit/ipc/errors.hpp>
#include <prockit/ipc/pipe.hpp>
#include <prockit/sys/unique_fd.hpp>

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace prockit {

class Process;

/// The peer's key did not match (or it did not follow the handshake).
class AuthenticationError : public IpcError {
public:
    explicit AuthenticationError(Error e) : IpcError(std::move(e)) {}
};

class Listener {
public:
    /// Binds and listens at `address` (see the header comment). Throws SystemError when it cannot
    /// (EADDRINUSE when another listener holds it).
    explicit Listener(std::string address = {}, std::string authkey = {}, int backlog = 128);
    Listener(Listener&&) noexcept;
    Listener& operator=(Listener&&) noexcept;
    ~Listener();

    /// Waits at most `timeout` for a client and authenticates it. TimeoutError when none came;
    /// AuthenticationError (the client is disconnected) when its key differs.
    Connection accept(Timeout timeout = std::nullopt);

    /// Closes the socket; removes its path when this process bound it.
    void close() noexcept;
    bool closed() const noexcept { return !fd_; }
    /// The address clients connect to ('@name' for an abstract one).
    const std::string& address() const noexcept { return address_; }
    /// Readable when a client is waiting to be accepted.
    int fileno() const noexcept { return fd_.get(); }

private:
    unique_fd fd_;
    std::string address_;
    std::string authkey_;
    pid_t bound_by_ = 0;  // the process that created a path (which alone removes it); 0: abstract
};

/// Connects to a Listener and authenticates (both ways). SystemError (ECONNREFUSED, ENOENT) when
/// nobody listens there; AuthenticationError when the keys differ; TimeoutError when the handshake
/// did not finish within `timeout` (10 s when none is given).
Connection Client(std::string_view address, std::string_view authkey = {}, Timeout timeout = std::nullopt);

/// One thing wait() watches.
class Waitable {
public:
    /// Ready when a message (or EOF) can be received.
    Waitable(Connection& c) noexcept : conn_(&c), fd_(c.fileno()) {}  // NOLINT: implicit on purpose
    /// Ready when a client waits to be accepted.
    Waitable(const Listener& l) noexcept : fd_(l.fileno()) {}  // NOLINT
    /// Ready when the process has ended (its sentinel).
    Waitable(const Process& p);  // NOLINT
    /// Any descriptor, for `events` (POLLIN by default).
    static Waitable fd(int fd, short events = 0x001 /* POLLIN */) noexcept { return Waitable(fd, events); }

private:
    Waitable(int fd, short events) noexcept : fd_(fd), events_(events) {}
    friend std::vector<std::size_t> wait(std::span<const Waitable>, Timeout);
    Connection* conn_ = nullptr;
    int fd_ = -1;
    short events_ = 0x001;
};

/// Waits until at least one of `objects` is ready, or `timeout` passes (then the result is empty);
/// returns the indexes of the ready ones, in order (Python's multiprocessing.connection.wait).
/// A Connection with a message already buffered is ready at once. A closed Connection, a
/// Process not started, or a negative fd is never ready. Queue is not accepted: it lives in shared
/// memory with futexes and has no descriptor to poll — use a Connection, or a Manager's queue.
std::vector<std::size_t> wait(std::span<const Waitable> objects, Timeout timeout = std::nullopt);
inline std::vector<std::size_t> wait(std::initializer_list<Waitable> objects, Timeout timeout = std::nullopt) {
    return wait(std::span<const Waitable>(objects.begin(), objects.size()), timeout);
}

}  // namespace prockit
