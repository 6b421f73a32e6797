#include "process/cgroup.hpp"

#include <prockit/proc/cgroup.hpp>
#include <prockit/sys/syscall.hpp>

#include <atomic>
#include <charconv>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace prockit::detail {

Result<std::string> own_cgroup_v2_dir() {
    auto mounts = proc::read_cgroup_mounts();
    if (!mounts) return fail(mounts.error());
    auto groups = proc::read_cgroups(0);
    if (!groups) return fail(groups.error());
    for (const auto& g : *groups) {
        if (!g.is_v2()) continue;
        for (const auto& m : *mounts) {
            if (m.version != 2) continue;
            std::string dir = proc::cgroup_dir(m, g.path);
            if (!dir.empty()) return dir;
        }
    }
    return fail(Error(Errc::not_found, "find this process's cgroup v2 group"));
}

Result<std::string> make_child_cgroup(const std::string& parent) {
    std::string base = parent;
    if (base.empty()) {
        auto own = own_cgroup_v2_dir();
        if (!own) return fail(own.error());
        base = *own;
    }
    static std::atomic<unsigned> counter{0};
    std::string dir = base + "/prockit-" + std::to_string(getpid()) + "-" + std::to_string(counter++);
    if (mkdir(dir.c_str(), 0755) != 0) return fail(last_error("create cgroup " + dir));
    return dir;
}

void remove_cgroup(const std::string& dir) noexcept { (void)rmdir(dir.c_str()); }

Result<std::vector<pid_t>> cgroup_pids(const std::string& dir) {
    auto text = read_file(dir + "/cgroup.procs");
    if (!text) return fail(text.error());
    std::vector<pid_t> pids;
    const char* p = text->data();
    const char* end = p + text->size();
    while (p < end) {
        pid_t v = 0;
        auto [next, ec] = std::from_chars(p, end, v);
        if (ec == std::errc()) pids.push_back(v);
        p = next;
        while (p < end && (*p == '\n' || *p == ' ')) ++p;
        if (ec != std::errc()) break;
    }
    return pids;
}

Status cgroup_kill(const std::string& dir) { return write_file(dir + "/cgroup.kill", "1"); }

Result<bool> cgroup_populated(const std::string& dir) {
    auto text = read_file(dir + "/cgroup.events");
    if (!text) return fail(text.error());
    return text->find("populated 1") != std::string::npos;
}

}  // namespace prockit::detail
