#include <prockit/sys/fsroot.hpp>

#include <prockit/sys/syscall.hpp>

#include <cstdlib>

namespace prockit {

FsRoot::FsRoot(std::string root) : root_(std::move(root)) {
    while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
    if (root_ == "/") root_.clear();
}

const FsRoot& FsRoot::system() {
    static const FsRoot instance = [] {
        const char* env = std::getenv("PROCKIT_FSROOT");
        return env && *env ? FsRoot(env) : FsRoot();
    }();
    return instance;
}

std::string FsRoot::proc(std::string_view rel) const {
    std::string p = root_;
    p += "/proc/";
    p += rel;
    return p;
}

std::string FsRoot::proc_pid(pid_t pid, std::string_view rel) const {
    std::string p = root_;
    p += "/proc/";
    p += std::to_string(pid);
    if (!rel.empty()) {
        p += '/';
        p += rel;
    }
    return p;
}

std::string FsRoot::sys(std::string_view rel) const {
    std::string p = root_;
    p += "/sys/";
    p += rel;
    return p;
}

Result<std::string> FsRoot::read_proc(std::string_view rel) const { return read_file(proc(rel)); }
Result<std::string> FsRoot::read_sys(std::string_view rel) const { return read_file(sys(rel)); }

}  // namespace prockit
