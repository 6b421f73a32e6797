#include <prockit/sched/topology.hpp>

#include <algorithm>
#include <cstdlib>
#include <dirent.h>
#include <map>
#include <string>

namespace prockit {

namespace {

Result<CpuSet> read_list(const FsRoot& fs, const std::string& rel) {
    auto text = fs.read_sys(rel);
    if (!text) return fail(text.error());
    return CpuSet::parse_list(*text);
}

CpuSet read_list_or_empty(const FsRoot& fs, const std::string& rel) {
    auto s = read_list(fs, rel);
    return s ? *s : CpuSet{};
}

int read_int_or(const FsRoot& fs, const std::string& rel, int fallback) {
    auto text = fs.read_sys(rel);
    if (!text || text->empty()) return fallback;
    char* endp = nullptr;
    long v = std::strtol(text->c_str(), &endp, 10);
    if (endp == text->c_str()) return fallback;
    return static_cast<int>(v);
}

// Numeric suffixes of directory entries "<prefix>N" in a sysfs directory.
std::vector<int> numbered_entries(const std::string& dir, const char* prefix) {
    std::vector<int> out;
    DIR* d = ::opendir(dir.c_str());
    if (!d) return out;
    std::string p(prefix);
    while (dirent* e = ::readdir(d)) {
        std::string_view name(e->d_name);
        if (name.size() <= p.size() || name.substr(0, p.size()) != p) continue;
        std::string_view rest = name.substr(p.size());
        if (!std::all_of(rest.begin(), rest.end(), [](char c) { return c >= '0' && c <= '9'; })) continue;
        out.push_back(std::atoi(std::string(rest).c_str()));
    }
    ::closedir(d);
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace

Result<Topology> Topology::read_online(const FsRoot& fs) {
    Topology t;
    auto online = read_list(fs, "devices/system/cpu/online");
    if (!online) return fail(online.error());
    t.online = *online;
    t.possible = read_list_or_empty(fs, "devices/system/cpu/possible");
    if (t.possible.empty()) t.possible = t.online;
    return t;
}

Result<Topology> Topology::read_cpu_lists(const FsRoot& fs) {
    auto online = read_online(fs);
    if (!online) return fail(online.error());
    Topology t = std::move(*online);
    t.present = read_list_or_empty(fs, "devices/system/cpu/present");
    if (t.present.empty()) t.present = t.possible;
    t.offline = read_list_or_empty(fs, "devices/system/cpu/offline");
    return t;
}

Result<Topology> Topology::read(const FsRoot& fs) {
    auto lists = read_cpu_lists(fs);
    if (!lists) return fail(lists.error());
    Topology t = std::move(*lists);
    t.isolated = read_list_or_empty(fs, "devices/system/cpu/isolated");
    t.nohz_full = read_list_or_empty(fs, "devices/system/cpu/nohz_full");

    std::map<int, CpuSet> packages;
    CpuSet seen;
    for (unsigned cpu : t.online.cpus()) {
        if (seen.test(cpu)) continue;
        std::string base = "devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/";
        CpuCore core;
        core.package = read_int_or(fs, base + "physical_package_id", 0);
        core.core_id = read_int_or(fs, base + "core_id", static_cast<int>(cpu));
        auto sib = read_list(fs, base + "core_cpus_list");
        if (!sib) sib = read_list(fs, base + "thread_siblings_list");
        core.threads = sib ? *sib : CpuSet{cpu};
        core.threads &= t.online;
        core.threads.set(cpu);
        seen |= core.threads;
        packages[core.package] |= core.threads;
        t.cores.push_back(std::move(core));
    }
    std::sort(t.cores.begin(), t.cores.end(),
              [](const CpuCore& a, const CpuCore& b) { return a.threads.first() < b.threads.first(); });
    for (auto& [id, cpus] : packages) t.packages.push_back({id, cpus});

    std::string node_dir = fs.sys("devices/system/node");
    std::vector<int> nodes = numbered_entries(node_dir, "node");
    t.numa_known = !nodes.empty();
    for (int id : nodes) {
        auto cpus = read_list(fs, "devices/system/node/node" + std::to_string(id) + "/cpulist");
        if (!cpus) continue;
        t.nodes.push_back({id, *cpus & t.online});
    }
    if (t.nodes.empty()) t.nodes.push_back({0, t.online});
    return t;
}

const CpuCore* Topology::core_of(unsigned cpu) const {
    for (const CpuCore& c : cores)
        if (c.threads.test(cpu)) return &c;
    return nullptr;
}

unsigned Topology::threads_per_core() const {
    std::size_t n = 1;
    for (const CpuCore& c : cores) n = std::max(n, c.threads.count());
    return static_cast<unsigned>(n);
}

Result<CpuSet> Topology::node_cpus(int id) const {
    for (const NumaNode& n : nodes)
        if (n.id == id) return n.cpus;
    return fail(Error(make_error_code(Errc::not_found), "find NUMA node " + std::to_string(id)));
}

CpuSet Topology::one_thread_per_core(const CpuSet& within) const {
    CpuSet out;
    for (const CpuCore& c : cores) {
        CpuSet mine = c.threads & within;
        if (!mine.empty()) out.set(mine.first());
    }
    return out;
}

Result<CpuSet> Topology::first_cores(unsigned n, const CpuSet& within) const {
    CpuSet out;
    unsigned got = 0;
    for (const CpuCore& c : cores) {
        if (got == n) break;
        CpuSet mine = c.threads & within;
        if (mine.empty()) continue;
        out.set(mine.first());
        ++got;
    }
    if (got < n)
        return fail(Error(make_error_code(Errc::out_of_range),
                          "choose " + std::to_string(n) + " cores (only " + std::to_string(got) +
                              " cores are available)"));
    return out;
}

}  // namespace prockit
