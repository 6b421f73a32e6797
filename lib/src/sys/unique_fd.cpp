#include <prockit/sys/unique_fd.hpp>

#include <unistd.h>

namespace prockit {

void unique_fd::reset(int fd) noexcept {
    int old = std::exchange(fd_, fd);
    if (old >= 0) ::close(old);
}

}  // namespace prockit
