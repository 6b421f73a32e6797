#include <prockit/ipc/pipe.hpp>

#include "ipc/sync_internal.hpp"

#include <prockit/sys/syscall.hpp>

#include <atomic>
#include <climits>
#include <optional>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

namespace prockit {

namespace {
constexpr std::size_t kReadChunk = 64 * 1024;

// Polls fd for `events` until the deadline; false when it passed.
bool wait_fd(int fd, short events, const detail::Deadline& d) {
    for (;;) {
        pollfd p{fd, events, 0};
        int r;
        if (d.infinite) {
            r = ::ppoll(&p, 1, nullptr, nullptr);
        } else {
            timespec now{};
            clock_gettime(CLOCK_MONOTONIC, &now);
            long long left = (d.abs.tv_sec - now.tv_sec) * 1000000000LL + (d.abs.tv_nsec - now.tv_nsec);
            if (left < 0) left = 0;
            timespec ts{static_cast<time_t>(left / 1000000000LL), static_cast<long>(left % 1000000000LL)};
            r = ::ppoll(&p, 1, &ts, nullptr);
        }
        if (r > 0) return true;
        if (r == 0) return false;
        if (errno != EINTR) throw SystemError(last_error("poll a connection"));
    }
}

[[noreturn]] void timed_out(const char* what) { throw_ipc(make_error_code(Errc::timed_out), what); }

// Blocks SIGPIPE in this thread while alive; discards a SIGPIPE raised meanwhile (unless one was
// already pending before), then restores the mask.
class SigpipeBlock {
public:
    SigpipeBlock() {
        sigemptyset(&pipe_);
        sigaddset(&pipe_, SIGPIPE);
        sigset_t pending;
        sigpending(&pending);
        was_pending_ = sigismember(&pending, SIGPIPE) == 1;
        pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
    }
    void raised() { raised_ = true; }
    ~SigpipeBlock() {
        if (raised_ && !was_pending_) {
            timespec zero{0, 0};
            while (sigtimedwait(&pipe_, nullptr, &zero) < 0 && errno == EINTR) {
            }
        }
        pthread_sigmask(SIG_SETMASK, &old_, nullptr);
    }

private:
    sigset_t pipe_{}, old_{};
    bool was_pending_ = false;
    bool raised_ = false;
};

// RWF_NOSIGNAL (Linux 6.18): a pipe write that does not raise SIGPIPE. Older kernels reject the
// flag with EOPNOTSUPP; then SIGPIPE is blocked in the thread around the write instead (two more
// system calls per send).
#ifndef RWF_NOSIGNAL
#define RWF_NOSIGNAL 0x00000100
#endif
std::atomic<int> g_nosignal{1};  // 1: try RWF_NOSIGNAL; 0: the kernel does not have it

}  // namespace

/// Test hook: false forces the SIGPIPE-masking path (as on kernels without RWF_NOSIGNAL).
void detail_pipe_use_rwf_nosignal(bool on) { g_nosignal.store(on ? 1 : 0); }

namespace {
void make_pipe(unique_fd& r, unique_fd& w) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) < 0) throw SystemError(last_error("create a pipe"));
    r.reset(p[0]);
    w.reset(p[1]);
}
}  // namespace

Pipe::Pipe(bool duplex) {
    unique_fd r1, w1, r2, w2;
    make_pipe(r1, w1);  // second -> first
    if (duplex) make_pipe(r2, w2);  // first -> second
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) throw SystemError(last_error("create a pipe"));
    first = Connection(std::move(r1), std::move(w2), unique_fd(sv[0]));
    second = Connection(std::move(r2), std::move(w1), unique_fd(sv[1]));
}

void Connection::need(bool for_write, const char* what) const {
    if (closed()) throw_ipc(IpcErrc::closed, what);
    if (for_write ? !wfd_ : !rfd_) throw_ipc(IpcErrc::closed, std::string(what) + " (this end is one-way)");
}

void Connection::close() noexcept {
    rfd_.reset();
    wfd_.reset();
    sock_.reset();
    rbuf_.reset();
    rbeg_ = rend_ = 0;
}

void Connection::send_bytes(std::string_view bytes, Timeout timeout) {
    need(true, "send on a connection");
    std::uint64_t len = bytes.size();
    detail::Deadline d = detail::Deadline::from(timeout);
    iovec iov[2] = {{&len, sizeof len}, {const_cast<char*>(bytes.data()), bytes.size()}};
    // A small message goes out as one contiguous block (one segment for the kernel to copy).
    char small[256];
    if (bytes.size() <= sizeof small - sizeof len) {
        std::memcpy(small, &len, sizeof len);
        if (!bytes.empty()) std::memcpy(small + sizeof len, bytes.data(), bytes.size());
        iov[0] = {small, sizeof len + bytes.size()};
        iov[1] = {nullptr, 0};
    }
    std::size_t total = sizeof len + bytes.size(), sent = 0;
    std::optional<SigpipeBlock> block;
    while (sent < total) {
        iovec cur[2];
        int n = 0;
        std::size_t skip = sent;
        for (auto& v : iov) {
            if (skip >= v.iov_len) {
                skip -= v.iov_len;
                continue;
            }
            cur[n].iov_base = static_cast<char*>(v.iov_base) + skip;
            cur[n].iov_len = v.iov_len - skip;
            skip = 0;
            ++n;
        }
        if (!d.infinite) {
            // A blocking pipe write waits until all of it fits; with a deadline, write no more than
            // POLLOUT promises room for (one page) at a time.
            if (!wait_fd(wfd_.get(), POLLOUT, d)) timed_out("send on a connection");
            std::size_t room = PIPE_BUF;
            for (int i = 0; i < n; ++i) {
                cur[i].iov_len = std::min(cur[i].iov_len, room);
                room -= cur[i].iov_len;
            }
            if (cur[n - 1].iov_len == 0) --n;
        }
        ssize_t r = -1;
        if (g_nosignal.load(std::memory_order_relaxed)) {
            r = ::pwritev2(wfd_.get(), cur, n, -1, RWF_NOSIGNAL);
            if (r < 0 && (errno == EOPNOTSUPP || errno == EINVAL)) {
                g_nosignal.store(0, std::memory_order_relaxed);
                continue;
            }
        } else {
            if (!block) block.emplace();
            r = ::writev(wfd_.get(), cur, n);
        }
        if (r >= 0) {
            sent += static_cast<std::size_t>(r);
            continue;
        }
        if (errno == EINTR || errno == EAGAIN) continue;
        if (errno == EPIPE) {
            if (block) block->raised();
            throw_ipc(IpcErrc::eof, "send on a connection");
        }
        throw SystemError(last_error("send on a connection"));
    }
}

// Reads more bytes into the buffer. False at the deadline; EofError at EOF.
bool Connection::fill(bool infinite, const void* deadline) {
    const auto& d = *static_cast<const detail::Deadline*>(deadline);
    if (!rbuf_) rbuf_.reset(new char[kReadChunk]);
    if (rbeg_ == rend_) rbeg_ = rend_ = 0;
    if (rend_ == kReadChunk) {  // compact (only a partial header can be left here)
        std::memmove(rbuf_.get(), rbuf_.get() + rbeg_, rend_ - rbeg_);
        rend_ -= rbeg_;
        rbeg_ = 0;
    }
    for (;;) {
        // A read after POLLIN returns what is there without blocking, so the fd stays blocking
        // (one system call per message when there is no deadline).
        if (!infinite && !wait_fd(rfd_.get(), POLLIN, d)) return false;
        ssize_t r = ::read(rfd_.get(), rbuf_.get() + rend_, kReadChunk - rend_);
        if (r > 0) {
            rend_ += static_cast<std::size_t>(r);
            return true;
        }
        if (r == 0) throw_ipc(IpcErrc::eof, "receive on a connection");
        if (errno == EINTR || errno == EAGAIN) continue;
        throw SystemError(last_error("receive on a connection"));
    }
}

std::string Connection::recv_bytes(Timeout timeout) {
    need(false, "receive on a connection");
    detail::Deadline d = detail::Deadline::from(timeout);
    bool started = buffered() > 0;
    while (buffered() < sizeof(std::uint64_t)) {
        if (!fill(d.infinite, &d)) {
            if (!started) timed_out("receive on a connection");
            close();  // half a header read: the framing is lost
            timed_out("receive on a connection (in the middle of a message; the connection was closed)");
        }
        started = true;
    }
    std::uint64_t len;
    std::memcpy(&len, rbuf_.get() + rbeg_, sizeof len);
    if (len > (std::uint64_t{1} << 40)) {
        close();
        throw CodecError("message length " + std::to_string(len) + " is not believable");
    }
    rbeg_ += sizeof len;
    std::size_t have = std::min<std::size_t>(static_cast<std::size_t>(len), buffered());
    std::string out(rbuf_.get() + rbeg_, have);
    rbeg_ += have;
    if (out.size() < len) {
        // Large message: read the rest straight into the result. The length is the peer's word:
        // memory is given as bytes arrive (up to 1 MiB ahead, then doubling), so that a corrupt
        // or hostile header cannot make this process allocate up to 1 TiB for nothing.
        std::size_t got = out.size();
        constexpr std::size_t ahead = std::size_t{1} << 20;
        out.resize(static_cast<std::size_t>(std::min<std::uint64_t>(len, got + ahead)));
        while (got < len) {
            if (got == out.size())
                out.resize(static_cast<std::size_t>(std::min<std::uint64_t>(len, std::uint64_t{2} * got)));
            if (!d.infinite && !wait_fd(rfd_.get(), POLLIN, d)) {
                close();
                timed_out("receive on a connection (in the middle of a message; the connection was closed)");
            }
            ssize_t r = ::read(rfd_.get(), out.data() + got, out.size() - got);
            if (r > 0) {
                got += static_cast<std::size_t>(r);
                continue;
            }
            if (r == 0) throw_ipc(IpcErrc::eof, "receive on a connection (the peer went away in the middle of a message)");
            if (errno == EINTR || errno == EAGAIN) continue;
            throw SystemError(last_error("receive on a connection"));
        }
    }
    return out;
}

bool Connection::poll(Timeout timeout) {
    need(false, "poll a connection");
    if (buffered() > 0) return true;
    return wait_fd(rfd_.get(), POLLIN, detail::Deadline::from(timeout));
}

namespace {

// What send_fd() and recv_fd() exchange: one marker byte and room for one descriptor.
struct FdMessage {
    char byte = 'F';
    iovec iov{&byte, 1};
    alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int))] = {};
    msghdr m{};
    FdMessage() {
        m.msg_iov = &iov;
        m.msg_iovlen = 1;
        m.msg_control = ctl;
        m.msg_controllen = sizeof ctl;
    }
    FdMessage(const FdMessage&) = delete;  // points into itself
    FdMessage& operator=(const FdMessage&) = delete;
};

}  // namespace

void Connection::send_fd(int fd, Timeout timeout) {
    if (closed() || !sock_) throw_ipc(IpcErrc::closed, "send an fd on a connection");
    if (timeout && !wait_fd(sock_.get(), POLLOUT, detail::Deadline::from(timeout))) timed_out("send an fd on a connection");
    FdMessage msg;
    cmsghdr* c = CMSG_FIRSTHDR(&msg.m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
    ssize_t r = retry_eintr([&] { return ::sendmsg(sock_.get(), &msg.m, MSG_NOSIGNAL); });
    if (r < 0) {
        if (errno == EPIPE || errno == ECONNRESET) throw_ipc(IpcErrc::eof, "send an fd on a connection");
        throw SystemError(last_error("send an fd on a connection"));
    }
}

unique_fd Connection::recv_fd(Timeout timeout) {
    if (closed() || !sock_) throw_ipc(IpcErrc::closed, "receive an fd on a connection");
    if (timeout && !wait_fd(sock_.get(), POLLIN, detail::Deadline::from(timeout))) timed_out("receive an fd on a connection");
    FdMessage msg;
    msg.byte = 0;
    ssize_t r = retry_eintr([&] { return ::recvmsg(sock_.get(), &msg.m, MSG_CMSG_CLOEXEC); });
    if (r < 0) {
        if (errno == ECONNRESET) throw_ipc(IpcErrc::eof, "receive an fd on a connection");
        throw SystemError(last_error("receive an fd on a connection"));
    }
    if (r == 0) throw_ipc(IpcErrc::eof, "receive an fd on a connection");
    cmsghdr* c = CMSG_FIRSTHDR(&msg.m);
    if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || msg.byte != 'F')
        throw CodecError("no fd in the message");
    int fd;
    std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
    return unique_fd(fd);
}

}  // namespace prockit
