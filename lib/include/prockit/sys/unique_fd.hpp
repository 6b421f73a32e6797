// prockit/sys/unique_fd.hpp — a move-only owner of one file descriptor.
#pragma once

#include <utility>

namespace prockit {

class unique_fd {
public:
    constexpr unique_fd() noexcept = default;
    constexpr explicit unique_fd(int fd) noexcept : fd_(fd) {}
    unique_fd(const unique_fd&) = delete;
    unique_fd& operator=(const unique_fd&) = delete;
    unique_fd(unique_fd&& o) noexcept : fd_(o.release()) {}
    unique_fd& operator=(unique_fd&& o) noexcept {
        if (this != &o) reset(o.release());
        return *this;
    }
    ~unique_fd() { reset(); }

    constexpr int get() const noexcept { return fd_; }
    constexpr explicit operator bool() const noexcept { return fd_ >= 0; }
    /// Gives up ownership without closing.
    int release() noexcept { return std::exchange(fd_, -1); }
    /// Closes the owned fd (if any) and takes `fd`. close() is not retried on EINTR: on Linux the
    /// descriptor is released even then, and a retry could close a descriptor another thread just got.
    void reset(int fd = -1) noexcept;

private:
    int fd_ = -1;
};

}  // namespace prockit
