#include <prockit/process/program_path.hpp>

#include <prockit/sys/error.hpp>
#include <prockit/sys/unique_fd.hpp>

#include <cerrno>
#include <cstdlib>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace prockit {

Result<std::string> find_program(std::string_view program, const char* path) {
    std::string prog(program);
    if (prog.find('/') != std::string::npos) {
        if (access(prog.c_str(), F_OK) != 0) return fail(Error::from_errno(errno, "execute " + prog));
        if (access(prog.c_str(), X_OK) != 0) return fail(Error::from_errno(errno, "execute " + prog));
        return prog;
    }
    if (prog.empty()) return fail(Error::from_errno(ENOENT, "find '' in PATH"));
    if (!path) path = std::getenv("PATH");
    std::string_view rest = path ? path : "/usr/local/bin:/usr/bin:/bin";
    bool denied = false;
    for (;;) {
        auto colon = rest.find(':');
        std::string dir(rest.substr(0, colon));
        std::string candidate = (dir.empty() ? "." : dir) + "/" + prog;
        struct stat st {};
        if (stat(candidate.c_str(), &st) == 0 && !S_ISDIR(st.st_mode)) {
            if (access(candidate.c_str(), X_OK) == 0) return candidate;
            denied = true;
        }
        if (colon == std::string_view::npos) break;
        rest.remove_prefix(colon + 1);
    }
    return fail(Error::from_errno(denied ? EACCES : ENOENT, "find '" + prog + "' in PATH"));
}

std::optional<std::string> missing_interpreter(const std::string& file) {
    int raw = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (raw < 0) return std::nullopt;
    unique_fd fd(raw);
    char buf[256];
    ssize_t n;
    do {
        n = ::read(fd.get(), buf, sizeof buf);
    } while (n < 0 && errno == EINTR);
    if (n < 3 || buf[0] != '#' || buf[1] != '!') return std::nullopt;
    std::string_view line(buf + 2, static_cast<std::size_t>(n - 2));
    line = line.substr(0, line.find('\n'));
    auto start = line.find_first_not_of(" \t");
    if (start == std::string_view::npos) return std::nullopt;
    line.remove_prefix(start);
    std::string interp(line.substr(0, line.find_first_of(" \t\r")));
    if (interp.empty() || access(interp.c_str(), F_OK) == 0) return std::nullopt;
    return interp;
}

}  // namespace prockit
