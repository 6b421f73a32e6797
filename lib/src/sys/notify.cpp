// prockit/sys/notify.hpp — the sd_notify datagram, written here rather than through libsystemd:
// the protocol is a documented, stable interface (one datagram of KEY=VALUE lines to an AF_UNIX
// socket), it is ~30 lines, and libprockit and every tool start would otherwise load one more
// shared library (libsystemd and its own dependencies) for one sendto().
#include <prockit/sys/notify.hpp>
#include <prockit/sys/unique_fd.hpp>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>

namespace prockit {

Result<bool> notify(std::string_view message) {
    const char* name = std::getenv("NOTIFY_SOCKET");
    if (name == nullptr || name[0] == '\0') return false;
    const std::string_view path(name);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    // Abstract names ('@' in the variable) start with a NUL byte and are not NUL-terminated.
    if (path[0] != '/' && path[0] != '@')
        return fail(Error::from_errno(EAFNOSUPPORT, "notify the service manager at " + std::string(path)));
    if (path.size() >= sizeof(addr.sun_path))
        return fail(Error::from_errno(ENAMETOOLONG, "notify the service manager at " + std::string(path)));
    std::memcpy(addr.sun_path, path.data(), path.size());
    if (path[0] == '@') addr.sun_path[0] = '\0';
    const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + (path[0] == '@' ? 0 : 1));

    unique_fd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!fd) return fail(Error::from_errno(errno, "open a socket to notify the service manager"));
    ssize_t n;
    do {
        n = ::sendto(fd.get(), message.data(), message.size(), MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&addr), len);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return fail(Error::from_errno(errno, "notify the service manager at " + std::string(path)));
    if (static_cast<size_t>(n) != message.size())
        return fail(Error::from_errno(EMSGSIZE, "notify the service manager at " + std::string(path)));
    return true;
}

Result<bool> notify_ready(pid_t main_pid) {
    if (main_pid > 0) return notify("READY=1\nMAINPID=" + std::to_string(main_pid));
    return notify("READY=1");
}

Result<bool> notify_status(std::string_view text) {
    std::string m = "STATUS=";
    for (char c : text) m += (c == '\n' ? ' ' : c);
    return notify(m);
}

Result<bool> notify_reloading() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    const auto usec = static_cast<unsigned long long>(ts.tv_sec) * 1000000ULL + static_cast<unsigned long long>(ts.tv_nsec) / 1000ULL;
    return notify("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec));
}

Result<bool> notify_stopping() { return notify("STOPPING=1"); }

}  // namespace prockit
