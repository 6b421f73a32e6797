// paffinity's topology mode: CPUs, cores, SMT siblings, packages, NUMA nodes, and what this
// process may use.
#include "modes.hpp"

#include "common/cli.hpp"
#include "common/exit_codes.hpp"
#include "common/json.hpp"

#include <prockit/sched/affinity.hpp>
#include <prockit/sched/cgroup_cpuset.hpp>

#include <cstdio>

namespace prockit::paffinity {

using tools::JsonWriter;

int run_topology(const Options& o, const FsRoot& fs) {
    auto topo = Topology::read(fs);
    if (!topo) throw SystemError(topo.error());
    auto self = get_affinity(0);
    if (!self) throw SystemError(self.error());
    auto cg = cgroup_cpuset(0, fs);
    CgroupCpuset cgroup = cg ? *cg : CgroupCpuset{};
    const Topology& t = *topo;
    if (o.json) {
        JsonWriter j;
        j.begin_object();
        json_cpus(j, "possible", t.possible);
        json_cpus(j, "online", t.online);
        json_cpus(j, "offline", t.offline);
        json_cpus(j, "isolated", t.isolated);
        json_cpus(j, "nohz_full", t.nohz_full);
        j.key("threads_per_core").value(t.threads_per_core());
        j.key("packages").begin_array();
        for (const CpuPackage& p : t.packages) {
            j.begin_object().key("id").value(p.id);
            json_cpus(j, "cpus", p.cpus);
            j.end_object();
        }
        j.end_array().key("cores").begin_array();
        for (const CpuCore& c : t.cores) {
            j.begin_object().key("package").value(c.package).key("core_id").value(c.core_id);
            json_cpus(j, "cpus", c.threads);
            j.end_object();
        }
        j.end_array().key("numa_known").value(t.numa_known).key("nodes").begin_array();
        for (const NumaNode& n : t.nodes) {
            j.begin_object().key("id").value(n.id);
            json_cpus(j, "cpus", n.cpus);
            j.end_object();
        }
        j.end_array();
        json_cpus(j, "allowed", *self);
        j.key("cgroup_cpuset");
        if (cgroup.restricted()) {
            j.begin_object().key("version").value(cgroup.version).key("cgroup").value(cgroup.cgroup);
            json_cpus(j, "cpus", cgroup.effective);
            j.end_object();
        } else {
            j.null();
        }
        j.end_object();
        out_line(j.str());
        return tools::exit_ok;
    }
    auto row = [](const char* k, const std::string& v) {
        char line[64];
        std::snprintf(line, sizeof line, "%-18s", k);
        out_line(line + v);
    };
    row("CPUs online:", list_or_none(t.online) + " (" + std::to_string(t.online.count()) + " of possible " +
                            list_or_none(t.possible) + ")");
    row("CPUs offline:", list_or_none(t.offline));
    row("Isolated:", list_or_none(t.isolated));
    row("nohz_full:", list_or_none(t.nohz_full));
    row("Packages:", std::to_string(t.packages.size()));
    row("Cores:", std::to_string(t.cores.size()) + " (" + std::to_string(t.threads_per_core()) +
                      (t.threads_per_core() == 1 ? " thread" : " threads") + " per core)");
    row("NUMA nodes:", t.numa_known ? std::to_string(t.nodes.size()) : std::string("1 (no NUMA information)"));
    row("Allowed (self):", list_or_none(*self));
    row("cgroup cpuset:", cgroup.restricted() ? "v" + std::to_string(cgroup.version) + " " + cgroup.cgroup + ": " +
                                                     list_or_none(cgroup.effective)
                                               : std::string("none"));
    for (const CpuPackage& p : t.packages) {
        out_line("");
        out_line("package " + std::to_string(p.id) + ": CPUs " + list_or_none(p.cpus));
        for (const NumaNode& n : t.nodes) {
            CpuSet mine = n.cpus & p.cpus;
            if (!mine.empty()) out_line("  node " + std::to_string(n.id) + ": CPUs " + mine.to_list());
        }
        for (const CpuCore& c : t.cores) {
            if (c.package != p.id) continue;
            out_line("    core " + std::to_string(c.core_id) + ": " + c.threads.to_list());
        }
    }
    return tools::exit_ok;
}

}  // namespace prockit::paffinity
