#pragma once
// Walking a getdents64 buffer of /proc (or /proc/PID/task) without readdir's allocation.

#include <charconv>
#include <dirent.h>
#include <string>
#include <sys/types.h>

namespace prockit::detail {

/// Calls `fn(id)` for each numeric name (a PID or TID) in a buffer of `n` bytes filled by
/// getdents64, in order; stops early when `fn` returns false. Allocates nothing.
template <typename Fn>
void for_each_numeric_dirent(const char* buf, ssize_t n, Fn&& fn) {
    for (ssize_t off = 0; off < n;) {
        const auto* e = reinterpret_cast<const dirent64*>(buf + off);
        off += e->d_reclen;
        const char* name = e->d_name;
        if (*name < '0' || *name > '9') continue;
        pid_t id = 0;
        auto [end, ec] = std::from_chars(name, name + std::char_traits<char>::length(name), id);
        if (ec == std::errc() && *end == '\0' && !fn(id)) return;
    }
}

}  // namespace prockit::detail
