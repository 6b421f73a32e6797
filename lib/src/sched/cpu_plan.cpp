#include <prockit/sched/cpu_plan.hpp>

#include <prockit/sched/affinity.hpp>

namespace prockit {

namespace {

std::string list_or_none(const CpuSet& s) { return s.empty() ? std::string("none") : s.to_list(); }

}  // namespace

std::string describe(const CgroupCpuset& cgroup) {
    if (!cgroup.restricted()) return "cgroup cpuset";
    return "cgroup cpuset (v" + std::to_string(cgroup.version) + " " + cgroup.cgroup + ": " +
           list_or_none(cgroup.effective) + ")";
}

Result<CpuPlan> plan_cpus(const CpuSet& requested, bool explicit_request, const CpuSet& online,
                          const CgroupCpuset& cgroup, const std::string& target) {
    CpuPlan p;
    CpuSet allowed = online;
    if (cgroup.restricted()) allowed &= cgroup.effective;
    p.mask = requested & allowed;
    if (p.mask.empty())
        return fail(Error(make_error_code(Errc::out_of_range),
                          "set affinity of " + target + ": none of CPUs " + list_or_none(requested) +
                              " is usable (online " + list_or_none(online) + "; " + describe(cgroup) + ")"));
    if (explicit_request) {
        p.dropped = requested - p.mask;
        CpuSet offline = p.dropped - online;
        CpuSet outside = p.dropped - offline;
        if (!offline.empty()) p.why = offline.to_list() + " offline";
        if (!outside.empty())
            p.why += (p.why.empty() ? "" : ", ") + outside.to_list() + " outside the " + describe(cgroup);
    }
    return p;
}

KeptCpus explain_kept(const CpuSet& asked, const CpuSet& now, const CgroupCpuset& cgroup) {
    KeptCpus k;
    k.kept = asked;
    if ((now & asked).empty()) return k;  // changed meanwhile, or gone: nothing to say
    k.kept = now & asked;
    k.dropped = asked - k.kept;
    if (k.dropped.empty()) return k;
    if (cgroup.restricted() && (k.dropped & cgroup.effective).empty())
        k.why = k.dropped.to_list() + " outside the " + describe(cgroup);
    else
        k.why = k.dropped.to_list() + " not kept by the kernel (the mask is now " + list_or_none(now) + ")";
    return k;
}

KeptCpus read_kept(pid_t tid, const CpuSet& asked, const FsRoot& fs) {
    auto now = get_affinity(tid);
    if (!now) return explain_kept(asked, CpuSet{}, CgroupCpuset{});
    if (((*now & asked) == asked) || (*now & asked).empty()) return explain_kept(asked, *now, CgroupCpuset{});
    auto cg = cgroup_cpuset(tid, fs);
    return explain_kept(asked, *now, cg ? *cg : CgroupCpuset{});
}

}  // namespace prockit
