// prockit/sys/syscall.hpp — errno-capturing helpers: EINTR retry, Result from a syscall's return.
#pragma once

#include <prockit/sys/result.hpp>
#include <prockit/sys/unique_fd.hpp>

#include <cerrno>
#include <string>
#include <string_view>

namespace prockit {

/// Calls f() until it does not fail with EINTR; returns its last return value. errno is as f left it.
template <class F>
auto retry_eintr(F&& f) -> decltype(f()) {
    decltype(f()) r;
    do {
        r = f();
    } while (r == -1 && errno == EINTR);
    return r;
}

/// The current errno as an Error with context; call right after the failing call.
inline Error last_error(std::string context) { return Error::from_errno(errno, std::move(context)); }

/// open(2) with O_CLOEXEC always added and EINTR retried.
Result<unique_fd> open_fd(const std::string& path, int flags, unsigned mode = 0644);
/// Reads a whole (small or /proc) file.
Result<std::string> read_file(const std::string& path);
/// Writes all of `data` to an open fd, retrying short writes and EINTR.
Status write_all(int fd, std::string_view data, const char* what = "write");
/// Writes a whole file (truncating), as /proc and /sys knobs want: one write() call.
Status write_file(const std::string& path, std::string_view data);

}  // namespace prockit
