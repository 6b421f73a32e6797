// lib/src/jobs/pty.cpp — pty pairs, raw mode, window size, scrollback, the relay step.
#include <prockit/jobs/pty.hpp>

#include <prockit/sys/syscall.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

namespace prockit {

Result<WindowSize> window_size(int fd) {
    struct winsize ws {};
    if (retry_eintr([&] { return ::ioctl(fd, TIOCGWINSZ, &ws); }) != 0)
        return fail(last_error("read the window size of descriptor " + std::to_string(fd)));
    return WindowSize{ws.ws_row, ws.ws_col, ws.ws_xpixel, ws.ws_ypixel};
}

Status set_window_size(int fd, const WindowSize& size) {
    struct winsize ws {};
    ws.ws_row = size.rows;
    ws.ws_col = size.cols;
    ws.ws_xpixel = size.xpixel;
    ws.ws_ypixel = size.ypixel;
    if (retry_eintr([&] { return ::ioctl(fd, TIOCSWINSZ, &ws); }) != 0)
        return fail(last_error("set the window size of descriptor " + std::to_string(fd)));
    return {};
}

Result<PtyPair> open_pty(std::optional<WindowSize> size, const struct termios* modes) {
    PtyPair p;
    p.master.reset(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!p.master) return fail(last_error("open a pseudo-terminal"));
    if (::grantpt(p.master.get()) != 0) return fail(last_error("grant access to a pseudo-terminal"));
    if (::unlockpt(p.master.get()) != 0) return fail(last_error("unlock a pseudo-terminal"));
    char name[128];
    if (int e = ::ptsname_r(p.master.get(), name, sizeof name); e != 0)
        return fail(Error::from_errno(e, "name a pseudo-terminal's slave"));
    p.slave_path = name;
    auto slave = open_fd(p.slave_path, O_RDWR | O_NOCTTY);
    if (!slave) return fail(slave.error());
    p.slave = std::move(*slave);
    if (modes && retry_eintr([&] { return ::tcsetattr(p.slave.get(), TCSANOW, modes); }) != 0)
        return fail(last_error("set the modes of " + p.slave_path));
    if (size) {
        if (auto r = set_window_size(p.master.get(), *size); !r) return fail(r.error());
    }
    return p;
}

Status set_nonblocking(int fd, bool on) {
    int fl = ::fcntl(fd, F_GETFL);
    if (fl < 0) return fail(last_error("read the flags of descriptor " + std::to_string(fd)));
    int want = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
    if (want != fl && ::fcntl(fd, F_SETFL, want) != 0)
        return fail(last_error("set the flags of descriptor " + std::to_string(fd)));
    return {};
}

Result<unique_fd> reopen_nonblocking(int fd, int access) {
    return open_fd("/proc/self/fd/" + std::to_string(fd), access | O_NONBLOCK | O_NOCTTY);
}

// ---------------------------------------------------------------- RawMode

Result<RawMode> RawMode::enter(int fd) {
    RawMode m;
    if (::tcgetattr(fd, &m.saved_) != 0) return fail(last_error("read the terminal modes of descriptor " + std::to_string(fd)));
    struct termios raw = m.saved_;
    ::cfmakeraw(&raw);
    // Block reads as usual (one byte is enough): VMIN 1, VTIME 0, as cfmakeraw leaves them.
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;
    if (retry_eintr([&] { return ::tcsetattr(fd, TCSADRAIN, &raw); }) != 0)
        return fail(last_error("set raw mode on descriptor " + std::to_string(fd)));
    m.fd_ = fd;
    return m;
}

RawMode::RawMode(RawMode&& o) noexcept : fd_(std::exchange(o.fd_, -1)), saved_(o.saved_) {}

RawMode& RawMode::operator=(RawMode&& o) noexcept {
    if (this != &o) {
        (void)restore();
        fd_ = std::exchange(o.fd_, -1);
        saved_ = o.saved_;
    }
    return *this;
}

RawMode::~RawMode() { (void)restore(); }

Status RawMode::restore() {
    if (fd_ < 0) return {};
    int fd = std::exchange(fd_, -1);
    if (retry_eintr([&] { return ::tcsetattr(fd, TCSADRAIN, &saved_); }) != 0)
        return fail(last_error("restore the terminal modes of descriptor " + std::to_string(fd)));
    return {};
}

// ---------------------------------------------------------------- Scrollback

Scrollback::Scrollback(std::size_t capacity) : buf_(capacity) {}

void Scrollback::append(std::string_view data) {
    total_ += data.size();
    const std::size_t cap = buf_.size();
    if (cap == 0) return;
    if (data.size() >= cap) {  // only the tail survives
        std::memcpy(buf_.data(), data.data() + data.size() - cap, cap);
        start_ = 0;
        size_ = cap;
        return;
    }
    std::size_t end = (start_ + size_) % cap;  // where the next byte goes
    std::size_t first = std::min(data.size(), cap - end);
    std::memcpy(buf_.data() + end, data.data(), first);
    std::memcpy(buf_.data(), data.data() + first, data.size() - first);
    std::size_t grown = size_ + data.size();
    if (grown > cap) {  // the oldest bytes were overwritten
        start_ = (start_ + grown - cap) % cap;
        size_ = cap;
    } else {
        size_ = grown;
    }
}

std::string Scrollback::contents() const {
    std::string out;
    out.reserve(size_);
    const std::size_t cap = buf_.size();
    std::size_t first = std::min(size_, cap - start_);
    out.append(buf_.data() + start_, first);
    out.append(buf_.data(), size_ - first);
    return out;
}

void Scrollback::clear() noexcept {
    start_ = size_ = 0;
    total_ = 0;
}

// ---------------------------------------------------------------- RelayChannel

RelayChannel::RelayChannel(int source, int sink, std::size_t capacity)
    : source_(source), sink_(sink), cap_(capacity ? capacity : 1), buf_(cap_) {}

void RelayChannel::set_sink(int sink, bool keep_pending) noexcept {
    sink_ = sink;
    if (!keep_pending) begin_ = end_ = 0;
}

Result<std::size_t> RelayChannel::fill() {
    std::size_t got = 0;
    while (!source_closed_ && pending() < cap_) {
        if (begin_ > 0 && end_ == cap_) {  // compact: room is at the front
            std::memmove(buf_.data(), buf_.data() + begin_, pending());
            end_ -= begin_;
            begin_ = 0;
        }
        ssize_t n = ::read(source_, buf_.data() + end_, cap_ - end_);
        if (n > 0) {
            if (tap_) tap_->append(std::string_view(buf_.data() + end_, static_cast<std::size_t>(n)));
            end_ += static_cast<std::size_t>(n);
            got += static_cast<std::size_t>(n);
            if (sink_ < 0) begin_ = end_ = 0;  // nobody attached: tapped, then dropped
            continue;
        }
        if (n == 0 || errno == EIO) {  // EOF; EIO: a pty master whose slave is closed everywhere
            source_closed_ = true;
            break;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        return fail(last_error("read from descriptor " + std::to_string(source_)));
    }
    return got;
}

Result<std::size_t> RelayChannel::flush() {
    std::size_t put = 0;
    if (sink_ < 0) {
        put = pending();
        begin_ = end_ = 0;
        return put;
    }
    while (pending() > 0) {
        ssize_t n = ::write(sink_, buf_.data() + begin_, pending());
        if (n > 0) {
            begin_ += static_cast<std::size_t>(n);
            put += static_cast<std::size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        return fail(last_error("write to descriptor " + std::to_string(sink_)));
    }
    if (begin_ == end_) begin_ = end_ = 0;
    return put;
}

Result<RelayProgress> RelayChannel::step() {
    RelayProgress p;
    // Write first: what is pending is older than what the source has now, and room made here lets
    // this step read more.
    auto w = flush();
    if (!w) return fail(w.error());
    p.written += *w;
    for (int round = 0; round < 16; ++round) {  // bounded: a fast source cannot starve the loop
        auto r = fill();
        if (!r) return fail(r.error());
        p.read += *r;
        auto w2 = flush();
        if (!w2) return fail(w2.error());
        p.written += *w2;
        // Go round again only while both sides keep moving (a full buffer that the sink drained);
        // stop when the source or the sink would block.
        if (*r == 0 || *w2 == 0 || source_closed_ || pending() > 0) break;
    }
    return p;
}

}  // namespace prockit
