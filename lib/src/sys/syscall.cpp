#include <prockit/sys/syscall.hpp>

#include <fcntl.h>
#include <unistd.h>

namespace prockit {

Result<unique_fd> open_fd(const std::string& path, int flags, unsigned mode) {
    int fd = retry_eintr([&] { return ::open(path.c_str(), flags | O_CLOEXEC, mode); });
    if (fd < 0) return fail(last_error("open " + path));
    return unique_fd(fd);
}

Result<std::string> read_file(const std::string& path) {
    auto fd = open_fd(path, O_RDONLY);
    if (!fd) return fail(fd.error());
    std::string out;
    char buf[4096];
    for (;;) {
        ssize_t n = retry_eintr([&] { return ::read(fd->get(), buf, sizeof buf); });
        if (n < 0) return fail(last_error("read " + path));
        if (n == 0) break;
        out.append(buf, static_cast<size_t>(n));
    }
    return out;
}

Status write_all(int fd, std::string_view data, const char* what) {
    while (!data.empty()) {
        ssize_t n = retry_eintr([&] { return ::write(fd, data.data(), data.size()); });
        if (n < 0) return fail(last_error(what));
        data.remove_prefix(static_cast<size_t>(n));
    }
    return {};
}

Status write_file(const std::string& path, std::string_view data) {
    auto fd = open_fd(path, O_WRONLY | O_TRUNC);
    if (!fd) return fail(fd.error());
    ssize_t n = retry_eintr([&] { return ::write(fd->get(), data.data(), data.size()); });
    if (n < 0) return fail(last_error("write " + path));
    if (static_cast<size_t>(n) != data.size())
        return fail(Error::from_errno(EIO, "write " + path + " (short write)"));
    return {};
}

}  // namespace prockit
