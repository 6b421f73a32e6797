#include <prockit/sched/cgroup_cpuset.hpp>

#include <prockit/proc/cgroup.hpp>
#include <prockit/sys/syscall.hpp>

namespace prockit {

namespace {

// Reads the first of `names` that exists in `dir`.
Result<std::pair<std::string, CpuSet>> read_cpus(const std::string& dir, std::initializer_list<const char*> names) {
    Error last;
    for (const char* n : names) {
        std::string file = dir + "/" + n;
        auto text = read_file(file);
        if (!text) {
            last = text.error();
            continue;
        }
        auto set = CpuSet::parse_list(*text);
        if (!set) return fail(Error(set.error().code(), "read " + file + " (" + set.error().context() + ")"));
        return std::make_pair(file, std::move(*set));
    }
    return fail(last);
}

}  // namespace

Result<CgroupCpuset> cgroup_cpuset(pid_t pid, const FsRoot& fs) {
    auto groups = proc::read_cgroups(pid, fs);
    if (!groups) return fail(groups.error());
    auto mounts = proc::read_cgroup_mounts(fs);
    if (!mounts) return fail(mounts.error());

    // v1: the hierarchy that has the cpuset controller.
    for (const proc::CgroupEntry& g : *groups) {
        if (!g.has("cpuset")) continue;
        for (const proc::CgroupMount& m : *mounts) {
            if (m.version != 1 || !m.has("cpuset")) continue;
            std::string dir = proc::cgroup_dir(m, g.path, fs);
            if (dir.empty()) continue;
            auto cpus = read_cpus(dir, {"cpuset.effective_cpus", "cpuset.cpus"});
            if (!cpus) return fail(cpus.error());
            CgroupCpuset out;
            out.version = 1;
            out.cgroup = g.path;
            out.file = std::move(cpus->first);
            out.effective = std::move(cpus->second);
            return out;
        }
    }
    // v2: walk from the process's cgroup up to the root for cpuset.cpus.effective.
    for (const proc::CgroupEntry& g : *groups) {
        if (!g.is_v2()) continue;
        for (const proc::CgroupMount& m : *mounts) {
            if (m.version != 2) continue;
            std::string path = g.path;
            for (;;) {
                std::string dir = proc::cgroup_dir(m, path, fs);
                if (dir.empty()) break;
                auto cpus = read_cpus(dir, {"cpuset.cpus.effective"});
                if (cpus) {
                    CgroupCpuset out;
                    out.version = 2;
                    out.cgroup = g.path;
                    out.file = std::move(cpus->first);
                    out.effective = std::move(cpus->second);
                    if (out.effective.empty()) break;  // an empty effective set is not a restriction
                    return out;
                }
                if (path == "/" || path.empty()) break;
                std::size_t slash = path.rfind('/');
                path = slash == 0 ? "/" : path.substr(0, slash);
            }
        }
    }
    return CgroupCpuset{};
}

}  // namespace prockit
