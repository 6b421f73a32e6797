#include <prockit/ipc/connection.hpp>

#include "ipc/sync_internal.hpp"

#include <prockit/process/process.hpp>
#include <prockit/sys/syscall.hpp>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cerrno>
#include <fcntl.h>
#include <cstring>
#include <ctime>
#include <poll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace prockit {

namespace {

using namespace std::chrono_literals;

constexpr std::size_t kNonce = 32;
constexpr std::size_t kMaxHandshakeMessage = 256;
constexpr std::string_view kChallenge = "#CHALLENGE#";
constexpr std::string_view kWelcome = "#WELCOME#";
constexpr std::string_view kFailure = "#FAILURE#";
constexpr auto kDefaultHandshake = 10s;

// What is left until `d` (never negative), or null for no deadline: ppoll's timeout argument.
const timespec* remaining(const detail::Deadline& d, timespec& ts) {
    if (d.infinite) return nullptr;
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    long long left = (d.abs.tv_sec - now.tv_sec) * 1000000000LL + (d.abs.tv_nsec - now.tv_nsec);
    if (left < 0) left = 0;
    ts = {static_cast<time_t>(left / 1000000000LL), static_cast<long>(left % 1000000000LL)};
    return &ts;
}

[[noreturn]] void auth_failed(const std::string& what) {
    throw AuthenticationError(Error(make_error_code(std::errc::permission_denied), what));
}

// Fills a sockaddr_un for a path or an '@' abstract name; returns the address length.
socklen_t make_addr(std::string_view address, sockaddr_un& sa, const char* verb) {
    std::memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    bool abstract = !address.empty() && address[0] == '@';
    std::size_t n = address.size();
    if (address.empty() || n >= sizeof sa.sun_path)
        throw SystemError(Error(make_error_code(std::errc::invalid_argument),
                                std::string(verb) + " " + std::string(address) + " (an address is 1 to 107 bytes)"));
    std::memcpy(sa.sun_path, address.data(), n);
    if (abstract) sa.sun_path[0] = '\0';
    return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + n + (abstract ? 0 : 1));
}

unique_fd new_socket(const char* verb) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw SystemError(last_error(verb));
    return unique_fd(fd);
}

std::string random_bytes(std::size_t n) {
    std::string s(n, '\0');
    std::size_t got = 0;
    while (got < n) {
        ssize_t r = ::getrandom(s.data() + got, n - got, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            throw SystemError(last_error("read random bytes"));
        }
        got += static_cast<std::size_t>(r);
    }
    return s;
}

std::string hmac(std::string_view key, std::string_view msg) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(msg.data()),
              msg.size(), out, &len))
        throw SystemError(Error(make_error_code(std::errc::io_error), "compute an HMAC"));
    return std::string(reinterpret_cast<char*>(out), len);
}

bool same(std::string_view a, std::string_view b) {
    return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// The handshake's own small framed I/O (the same framing as Connection: an 8-byte length, then
// the bytes), reading exactly one message so that nothing after it is consumed, and refusing long
// messages so that an unauthenticated peer cannot make us allocate.
class Handshake {
public:
    Handshake(int fd, Timeout t) : fd_(fd), d_(detail::Deadline::from(t ? t : Timeout(kDefaultHandshake))) {}

    void send(std::string_view msg) {
        std::string buf(sizeof(std::uint64_t), '\0');
        std::uint64_t len = msg.size();
        std::memcpy(buf.data(), &len, sizeof len);
        buf.append(msg);
        std::size_t off = 0;
        while (off < buf.size()) {
            wait(POLLOUT);
            ssize_t r = ::send(fd_, buf.data() + off, buf.size() - off, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (r >= 0) {
                off += static_cast<std::size_t>(r);
                continue;
            }
            if (errno == EINTR || errno == EAGAIN) continue;
            if (errno == EPIPE || errno == ECONNRESET) throw_ipc(IpcErrc::eof, "authenticate a connection");
            throw SystemError(last_error("authenticate a connection"));
        }
    }
    std::string recv() {
        std::uint64_t len = 0;
        read_exact(&len, sizeof len);
        if (len > kMaxHandshakeMessage) auth_failed("authenticate a connection: the peer does not follow the handshake");
        std::string s(static_cast<std::size_t>(len), '\0');
        read_exact(s.data(), s.size());
        return s;
    }

private:
    void wait(short events) {
        for (;;) {
            timespec now{};
            clock_gettime(CLOCK_MONOTONIC, &now);
            long long left = (d_.abs.tv_sec - now.tv_sec) * 1000000000LL + (d_.abs.tv_nsec - now.tv_nsec);
            if (left <= 0) throw_ipc(make_error_code(Errc::timed_out), "authenticate a connection");
            timespec ts{static_cast<time_t>(left / 1000000000LL), static_cast<long>(left % 1000000000LL)};
            pollfd p{fd_, events, 0};
            int r = ::ppoll(&p, 1, &ts, nullptr);
            if (r > 0) return;
            if (r < 0 && errno != EINTR) throw SystemError(last_error("authenticate a connection"));
        }
    }
    void read_exact(void* dst, std::size_t n) {
        auto* p = static_cast<char*>(dst);
        while (n > 0) {
            wait(POLLIN);
            ssize_t r = ::recv(fd_, p, n, MSG_DONTWAIT);
            if (r > 0) {
                p += r;
                n -= static_cast<std::size_t>(r);
                continue;
            }
            if (r == 0) throw_ipc(IpcErrc::eof, "authenticate a connection (the peer closed it)");
            if (errno == EINTR || errno == EAGAIN) continue;
            if (errno == ECONNRESET) throw_ipc(IpcErrc::eof, "authenticate a connection");
            throw SystemError(last_error("authenticate a connection"));
        }
    }
    int fd_;
    detail::Deadline d_;
};

void deliver_challenge(Handshake& h, std::string_view key) {
    std::string nonce = random_bytes(kNonce);
    h.send(std::string(kChallenge) + nonce);
    std::string answer = h.recv();
    if (!same(answer, hmac(key, nonce))) {
        try {
            h.send(kFailure);
        } catch (const SystemError&) {
        }
        auth_failed("authenticate a connection: the peer's key does not match");
    }
    h.send(kWelcome);
}

void answer_challenge(Handshake& h, std::string_view key) {
    std::string msg = h.recv();
    if (msg.size() != kChallenge.size() + kNonce || msg.compare(0, kChallenge.size(), kChallenge) != 0)
        auth_failed("authenticate a connection: the peer does not follow the handshake");
    h.send(hmac(key, std::string_view(msg).substr(kChallenge.size())));
    std::string verdict = h.recv();
    if (verdict != kWelcome) auth_failed("authenticate a connection: the peer refused our key");
}

Connection wrap(unique_fd fd) {
    int r = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, 0);
    if (r < 0) throw SystemError(last_error("duplicate a socket"));
    unique_fd rd(r);
    return Connection(std::move(rd), std::move(fd), unique_fd());
}

}  // namespace

Listener::Listener(std::string address, std::string authkey, int backlog) : authkey_(std::move(authkey)) {
    if (address.empty()) {
        static const std::string tag = [] {
            std::string r = random_bytes(8), hex;
            for (unsigned char c : r) {
                static const char digits[] = "0123456789abcdef";
                hex += digits[c >> 4];
                hex += digits[c & 15];
            }
            return hex;
        }();
        static std::atomic<unsigned> serial{0};
        address = "@prockit-" + std::to_string(::getpid()) + "-" + tag + "-" + std::to_string(serial.fetch_add(1));
    }
    const std::string verb = "listen at " + address;
    sockaddr_un sa;
    socklen_t len = make_addr(address, sa, "listen at");
    unique_fd fd = new_socket(verb.c_str());
    bool is_path = address[0] != '@';
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), len) < 0) {
        int e = errno;
        // A socket file left by a listener that died: replace it when nobody answers there.
        struct stat st{};
        if (e == EADDRINUSE && is_path && ::lstat(address.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
            unique_fd probe = new_socket(verb.c_str());
            if (::connect(probe.get(), reinterpret_cast<sockaddr*>(&sa), len) < 0 && errno == ECONNREFUSED) {
                ::unlink(address.c_str());
                if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), len) == 0) e = 0;
                else e = errno;
            }
        }
        if (e != 0) throw SystemError(Error(std::error_code(e, std::generic_category()), verb));
    }
    if (is_path) bound_by_ = ::getpid();
    fd_ = std::move(fd);
    address_ = std::move(address);
    if (::listen(fd_.get(), backlog) < 0) {
        Error err = last_error(verb);
        close();
        throw SystemError(std::move(err));
    }
}

Listener::Listener(Listener&& o) noexcept
    : fd_(std::move(o.fd_)), address_(std::move(o.address_)), authkey_(std::move(o.authkey_)), bound_by_(o.bound_by_) {
    o.bound_by_ = 0;
}

Listener& Listener::operator=(Listener&& o) noexcept {
    if (this != &o) {
        close();
        fd_ = std::move(o.fd_);
        address_ = std::move(o.address_);
        authkey_ = std::move(o.authkey_);
        bound_by_ = o.bound_by_;
        o.bound_by_ = 0;
    }
    return *this;
}

Listener::~Listener() { close(); }

void Listener::close() noexcept {
    if (bound_by_ != 0 && bound_by_ == ::getpid()) ::unlink(address_.c_str());
    bound_by_ = 0;
    fd_.reset();
}

Connection Listener::accept(Timeout timeout) {
    if (!fd_) throw_ipc(IpcErrc::closed, "accept a connection");
    detail::Deadline d = detail::Deadline::from(timeout);
    for (;;) {
        pollfd p{fd_.get(), POLLIN, 0};
        timespec ts{};
        int r = ::ppoll(&p, 1, remaining(d, ts), nullptr);
        if (r < 0) {
            if (errno == EINTR) continue;
            throw SystemError(last_error("accept a connection at " + address_));
        }
        if (r == 0) throw_ipc(make_error_code(Errc::timed_out), "accept a connection at " + address_);
        int c = ::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == ECONNABORTED) continue;
            throw SystemError(last_error("accept a connection at " + address_));
        }
        unique_fd conn(c);
        if (!authkey_.empty()) {
            // The handshake gets what is left of the timeout (10 s when there is none).
            Timeout left = std::nullopt;
            if (!d.infinite) {
                timespec now{};
                clock_gettime(CLOCK_MONOTONIC, &now);
                long long ns = (d.abs.tv_sec - now.tv_sec) * 1000000000LL + (d.abs.tv_nsec - now.tv_nsec);
                left = std::chrono::nanoseconds(std::max(ns, 1LL));
            }
            Handshake h(conn.get(), left);
            deliver_challenge(h, authkey_);
            answer_challenge(h, authkey_);
        }
        return wrap(std::move(conn));
    }
}

Connection Client(std::string_view address, std::string_view authkey, Timeout timeout) {
    const std::string verb = "connect to " + std::string(address);
    sockaddr_un sa;
    socklen_t len = make_addr(address, sa, "connect to");
    unique_fd fd = new_socket(verb.c_str());
    // A Unix-domain connect does not wait for accept(): it completes once queued in the backlog.
    // When the backlog is full it sleeps for room, bounded by the socket's send timeout, which is
    // set to the deadline for the connect and cleared afterwards (sends would obey it too).
    std::chrono::nanoseconds limit = timeout ? std::max(*timeout, std::chrono::nanoseconds(1)) : std::chrono::nanoseconds(kDefaultHandshake);
    auto set_send_timeout = [&](std::chrono::nanoseconds t) {
        timeval tv{static_cast<time_t>(t.count() / 1000000000), static_cast<suseconds_t>(t.count() % 1000000000 / 1000)};
        if (tv.tv_sec == 0 && tv.tv_usec == 0 && t.count() > 0) tv.tv_usec = 1;
        if (::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0) throw SystemError(last_error(verb));
    };
    set_send_timeout(limit);
    if (retry_eintr([&] { return ::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), len); }) < 0) {
        if (errno == EAGAIN || errno == EINPROGRESS) throw_ipc(make_error_code(Errc::timed_out), verb + " (its backlog stayed full)");
        throw SystemError(last_error(verb));
    }
    set_send_timeout(std::chrono::nanoseconds(0));
    if (!authkey.empty()) {
        Handshake h(fd.get(), timeout);
        answer_challenge(h, authkey);
        deliver_challenge(h, authkey);
    }
    return wrap(std::move(fd));
}

Waitable::Waitable(const Process& p) : fd_(p.sentinel()) {}

std::vector<std::size_t> wait(std::span<const Waitable> objects, Timeout timeout) {
    std::vector<std::size_t> ready;
    // Messages already buffered inside a Connection are not visible to poll(2).
    for (std::size_t i = 0; i < objects.size(); ++i) {
        Connection* c = objects[i].conn_;
        if (c && !c->closed() && c->fileno() >= 0 && c->poll(std::chrono::nanoseconds(0))) ready.push_back(i);
    }
    if (!ready.empty()) return ready;
    std::vector<pollfd> fds(objects.size());
    for (std::size_t i = 0; i < objects.size(); ++i) {
        const Waitable& w = objects[i];
        int fd = (w.conn_ && w.conn_->closed()) ? -1 : w.fd_;
        fds[i] = {fd, w.events_, 0};
    }
    detail::Deadline d = detail::Deadline::from(timeout);
    for (;;) {
        timespec ts{};
        const timespec* tp = remaining(d, ts);
        int r = ::ppoll(fds.data(), fds.size(), tp, nullptr);
        if (r < 0) {
            if (errno == EINTR) continue;
            throw SystemError(last_error("wait for connections"));
        }
        break;
    }
    for (std::size_t i = 0; i < fds.size(); ++i)
        if (fds[i].fd >= 0 && (fds[i].revents & (fds[i].events | POLLHUP | POLLERR))) ready.push_back(i);
    return ready;
}

}  // namespace prockit
