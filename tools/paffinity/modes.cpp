// What paffinity's modes share: output helpers, the selection, the requested CPUs and the plan
// per target (the cgroup-cpuset policy itself is the library's: prockit/sched/cpu_plan.hpp).
#include "modes.hpp"

#include "common/cli.hpp"
#include "common/selection.hpp"

#include <prockit/proc/procfs.hpp>
#include <prockit/sched/affinity.hpp>
#include <prockit/sched/cgroup_cpuset.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <stdexcept>

namespace prockit::paffinity {

using tools::UsageError;

// --- output --------------------------------------------------------------------------------------

void out(const std::string& s) { std::fwrite(s.data(), 1, s.size(), stdout); }
void out_line(const std::string& s) {
    out(s);
    std::fputc('\n', stdout);
}

std::string list_or_none(const CpuSet& s) { return s.empty() ? std::string("none") : s.to_list(); }

void json_cpus(tools::JsonWriter& j, const char* key, const CpuSet& s) {
    j.key(key).value(s.to_list());
    j.key(std::string(key) + "_ids").begin_array();
    for (unsigned c : s.cpus()) j.value(c);
    j.end_array();
}

Error failure(Errc code, std::string context) { return Error(make_error_code(code), std::move(context)); }

std::string who(pid_t pid, const std::string& comm) { return "pid " + std::to_string(pid) + " (" + comm + ")"; }

std::string thread_comm(proc::ProcReader& r, pid_t pid, pid_t tid) {
    auto st = r.stat(pid, tid);
    return st ? st->comm : std::string("?");
}

// --- selection -----------------------------------------------------------------------------------

namespace {

proc::Selector make_selector(const Options& o) {
    proc::Selector s;
    for (const std::string& p : o.positional) {
        auto v = tools::parse_unsigned(p);
        if (!v || *v == 0 || *v > 0x3fffffff) throw UsageError("cannot parse PID \"" + p + "\": expected a number from 1");
        s.pids.push_back(static_cast<pid_t>(*v));
    }
    for (pid_t p : o.pids) {
        if (p <= 0) throw UsageError("cannot parse --pid \"" + std::to_string(p) + "\": expected a number from 1");
        s.pids.push_back(p);
    }
    s.names = o.names;
    s.patterns = o.patterns;
    s.exes = o.exes;
    s.cgroups = o.cgroups;
    for (const std::string& u : o.users) {
        auto uid = proc::resolve_user(u);
        if (!uid) throw UsageError("cannot use --user \"" + u + "\": " + tools::error_reason(uid.error()));
        s.users.push_back(*uid);
    }
    return s;
}

}  // namespace

std::vector<proc::ProcessRef> select(const Options& o, const FsRoot& fs, bool& failed) {
    return tools::select_processes(make_selector(o), o.allow_none, fs, failed);
}

bool vanished(const Options& o, pid_t pid, const Error& e, bool& failed) {
    if (e.errno_value() != ESRCH) return false;
    if (o.allow_none) return true;
    bool given = std::find(o.pids.begin(), o.pids.end(), pid) != o.pids.end() ||
                 std::find(o.positional.begin(), o.positional.end(), std::to_string(pid)) != o.positional.end();
    if (given) {
        tools::print_error(Error::from_errno(ESRCH, "find process " + std::to_string(pid)));
        failed = true;
    }
    return true;
}

void none_left(const Options& o, std::size_t selected, std::size_t listed, bool& failed) {
    if (o.allow_none || failed || selected == 0 || listed != 0) return;
    tools::print_error(failure(Errc::not_found, "find a process matching the selection"));
    failed = true;
}

// --- the requested CPUs and the plan per target ----------------------------------------------------

CpuSet parse_cpus_option(const std::string& text, const char* option, const Topology& topo) {
    auto s = CpuSet::parse(text, topo.online);
    auto quoted = std::string(option) + " \"" + text + "\"";
    if (!s) throw UsageError("cannot parse " + quoted + ": " + tools::error_reason(s.error()));
    if (s->empty()) throw UsageError("cannot use " + quoted + ": it names no CPU");
    CpuSet beyond = *s - topo.possible;
    if (!beyond.empty())
        throw std::runtime_error("cannot use CPU " + beyond.to_list() + ": this machine has CPUs " +
                                 topo.possible.to_list());
    return *s;
}

Result<Topology> topology_for(const Options& o, const FsRoot& fs) {
    return (o.cores || o.no_smt || o.nodes) ? Topology::read(fs) : Topology::read_online(fs);
}

Request make_request(const Options& o, const Topology& topo) {
    Request r;
    const std::optional<std::string>& list = o.set_list ? o.set_list : o.cpus_list;
    if (list) {
        r.requested = parse_cpus_option(*list, o.set_list ? "--set" : "--cpus", topo);
        r.explicit_cpus = true;
    } else {
        r.requested = topo.online;
    }
    if (o.nodes) {
        auto ids = CpuSet::parse_list(*o.nodes);
        if (!ids) throw UsageError("cannot parse --node \"" + *o.nodes + "\": " + tools::error_reason(ids.error()));
        if (ids->empty()) throw UsageError("cannot use --node \"" + *o.nodes + "\": it names no node");
        CpuSet cpus;
        for (unsigned id : ids->cpus()) {
            auto c = topo.node_cpus(static_cast<int>(id));
            if (!c) throw SystemError(failure(Errc::not_found, "find NUMA node " + std::to_string(id)));
            cpus |= *c;
        }
        r.requested = list ? (r.requested & cpus) : cpus;
        if (r.requested.empty())
            throw std::runtime_error("cannot use CPUs " + list.value_or("") + " on node " + *o.nodes +
                                     ": the node has CPUs " + list_or_none(cpus));
        r.explicit_cpus = true;
    }
    return r;
}

// Whether a target's cgroup cpuset must be read before anything changes: --strict refuses before
// changing anything, --dry-run shows the mask, --spread, --cores and --no-smt choose CPUs among
// those allowed, and a fixture tree (PROCKIT_FSROOT) has no kernel to ask. Otherwise the kernel
// is asked afterwards: it clips a new mask to the target's cpuset itself, and the mask read back
// after the change shows what it kept (read_kept()). That skips mountinfo and the cgroup files on
// the common path (~0.1 ms of a ~2.5 ms run), and sees what those files cannot show (a container
// without the cgroup filesystem).
bool cpuset_first(const Options& o, const FsRoot& fs) {
    return !fs.is_real() || o.strict || o.dry_run || o.spread || o.cores || o.no_smt;
}

Result<Plan> make_plan(const Options& o, const Request& r, const Topology& topo, pid_t pid, const std::string& name,
                       const FsRoot& fs, bool with_cgroup) {
    CgroupCpuset cgroup;
    if (with_cgroup) {
        if (auto cg = cgroup_cpuset(pid, fs)) cgroup = *cg;
    }
    auto cpus = plan_cpus(r.requested, r.explicit_cpus, topo.online, cgroup, name);
    if (!cpus) {
        if (!with_cgroup) return make_plan(o, r, topo, pid, name, fs, true);  // the error names the cpuset too
        return fail(cpus.error());
    }
    Plan p{std::move(cpus->mask), std::move(cpus->dropped), std::move(cpus->why)};
    if (o.no_smt) p.mask = topo.one_thread_per_core(p.mask);
    if (o.cores) {
        auto c = topo.first_cores(*o.cores, p.mask);
        if (!c) return fail(Error(c.error().code(), "set affinity of " + name + ": cannot " + c.error().context()));
        p.mask = *c;
    }
    return p;
}

std::string settle(Plan& plan, const KeptCpus& kept, bool planned, const std::string& whom) {
    CpuSet report = planned ? kept.dropped : plan.dropped | kept.dropped;
    const std::string& a = plan.dropped_why;
    const std::string& b = kept.why;
    std::string why = planned ? b : a.empty() ? b : b.empty() ? a : a + ", " + b;
    plan.mask = kept.kept;
    plan.dropped |= kept.dropped;
    return report.empty() ? std::string() : "CPUs " + report.to_list() + " dropped" + whom + ": " + why;
}

std::string decorate(const Error& e, bool kernel_thread) {
    std::string m = e.message();
    if (kernel_thread && e.errno_value() == EINVAL) m += " (a kernel thread that refuses affinity changes)";
    return m;
}

std::string refused(const Error& e, const CpuSet& mask, bool kernel_thread,
                    const std::function<Result<Plan>()>& plan_with_cgroup) {
    if (e.errno_value() == EINVAL && !kernel_thread) {
        auto plan = plan_with_cgroup();
        if (!plan) return plan.error().message();
        return "cannot " + e.context() + ": the kernel allows none of CPUs " + list_or_none(mask);
    }
    return decorate(e, kernel_thread);
}

}  // namespace prockit::paffinity
