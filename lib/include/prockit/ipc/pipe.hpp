// prockit/ipc/pipe.hpp — Pipe: a pair of connected Connections (Python's multiprocessing.Pipe).
//
//   auto [parent_end, child_end] = prockit::Pipe();
//   prockit::Process p([&] { child_end.send(std::string("hello")); });
//   p.start();
//   child_end.close();                         // so the child's death reads as EOF here
//   auto s = parent_end.recv<std::string>(5s); // TimeoutError after 5 s, EofError if the child died
//
// Each direction is a pipe (pipe2, close-on-exec): on Linux a pipe round trip is about twice as fast
// as an AF_UNIX socket's. Each message is an 8-byte length and then the bytes, so messages of any
// size pass (tested with 64 MiB); values go through the codec. Pipe(false) gives a one-way pair: the
// first end only receives, the second only sends. A peer that closed its end or died is an EofError
// (EOF), never a hang — as long as no other process still holds that end: close the ends a process
// does not use, as with any pipe. A write to a pipe whose reader is gone would raise SIGPIPE: send()
// writes with RWF_NOSIGNAL (Linux 6.18+), or on older kernels blocks SIGPIPE in the calling thread
// for the write and discards the one it caused — either way the caller gets an EofError and no
// process-wide signal state is touched.
// send_fd/recv_fd pass file descriptors (SCM_RIGHTS) over a separate AF_UNIX socket pair made with
// the pipes (so they are not ordered with the messages): the way to hand a shared object
// (Lock::fd(), Queue::fd(), ...) to a process that was not forked from its creator.
// A Connection is used by one thread at a time.
#pragma once

#include <prockit/ipc/codec.hpp>
#include <prockit/ipc/errors.hpp>
#include <prockit/sys/unique_fd.hpp>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

namespace prockit {

class Connection {
public:
    Connection() = default;
    /// An end made of a read fd and/or a write fd for messages, and a socket for passing fds
    /// (each may be empty).
    Connection(unique_fd read_fd, unique_fd write_fd, unique_fd fd_socket)
        : rfd_(std::move(read_fd)), wfd_(std::move(write_fd)), sock_(std::move(fd_socket)) {}
    Connection(Connection&&) noexcept = default;
    Connection& operator=(Connection&&) noexcept = default;

    /// Sends one value; waits at most `timeout` while the peer's buffer is full (TimeoutError).
    /// The message is the type's tag (8 bytes, detail::type_tag) and then the encoded value.
    template <class T>
    void send(const T& v, Timeout timeout = std::nullopt) {
        detail::require_codec<T>();
        std::uint64_t tag = detail::type_tag<T>();
        std::string buf(reinterpret_cast<const char*>(&tag), sizeof tag);
        encode_to(buf, v);
        send_bytes(buf, timeout);
    }
    /// Receives one value of type T: a CodecError if the message is not one sent as a T.
    template <class T>
    T recv(Timeout timeout = std::nullopt) {
        detail::require_codec<T>();
        std::string m = recv_bytes(timeout);
        std::uint64_t tag = 0;
        if (m.size() < sizeof tag) throw CodecError("a " + std::to_string(m.size()) + "-byte message where a typed value was expected");
        std::memcpy(&tag, m.data(), sizeof tag);
        if (tag != detail::type_tag<T>()) throw CodecError("a message of another type than the one asked for");
        return decode_or_throw<T>(std::string_view(m).substr(sizeof tag));
    }

    void send_bytes(std::string_view bytes, Timeout timeout = std::nullopt);
    /// TimeoutError when nothing came in time; EofError when the peer is gone.
    std::string recv_bytes(Timeout timeout = std::nullopt);
    /// Whether a message (or EOF) is ready to be received, waiting at most `timeout` (default: no wait).
    bool poll(Timeout timeout = std::chrono::nanoseconds(0));

    /// Passes a file descriptor (a duplicate) to the peer.
    void send_fd(int fd, Timeout timeout = std::nullopt);
    /// Receives one passed with send_fd (close-on-exec).
    unique_fd recv_fd(Timeout timeout = std::nullopt);

    void close() noexcept;
    bool closed() const noexcept { return !rfd_ && !wfd_; }
    /// The fd to poll for incoming messages (-1 for a send-only end).
    int fileno() const noexcept { return rfd_.get(); }

private:
    void need(bool for_write, const char* what) const;
    bool fill(bool infinite, const void* deadline);
    std::size_t buffered() const noexcept { return rend_ - rbeg_; }
    unique_fd rfd_, wfd_, sock_;
    std::unique_ptr<char[]> rbuf_;  // bytes received past the last message: [rbeg_, rend_)
    std::size_t rbeg_ = 0, rend_ = 0;
};

/// Two connected ends. Duplex (default): both send and receive. One-way: first receives, second sends.
struct Pipe {
    explicit Pipe(bool duplex = true);
    Connection first;
    Connection second;
};

}  // namespace prockit
