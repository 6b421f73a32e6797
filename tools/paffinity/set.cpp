// paffinity's set mode (--set LIST, or --cores/--no-smt/--node): plans every target first (so that
// --strict can refuse before anything changes), then sets each main thread, or every thread with
// -a, and reports what the kernel kept; --follow goes on from there (follow.cpp).
#include "modes.hpp"

#include "common/cli.hpp"
#include "common/exit_codes.hpp"
#include "common/json.hpp"

#include <prockit/sched/affinity.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <map>

namespace prockit::paffinity {

using tools::JsonWriter;

namespace {

// Round-robin CPU dealer for --spread.
class Spreader {
public:
    explicit Spreader(const CpuSet& s) : cpus_(s.cpus()) {}
    CpuSet next() {
        CpuSet one;
        if (!cpus_.empty()) one.set(cpus_[i_++ % cpus_.size()]);
        return one;
    }

private:
    std::vector<unsigned> cpus_;
    std::size_t i_ = 0;
};

}  // namespace

int run_set(const Options& o, const FsRoot& fs) {
    auto topo = topology_for(o, fs);
    if (!topo) throw SystemError(topo.error());
    Request req = make_request(o, *topo);
    bool failed = false;
    auto procs = select(o, fs, failed);
    bool all_tasks = o.all_tasks || o.follow;

    // Plan every target first, so --strict can refuse before anything changes.
    const bool planned = cpuset_first(o, fs);
    struct Target {
        proc::ProcessRef ref;
        Plan plan;
        std::string error;  // why it has no plan (already reported)
    };
    std::vector<Target> targets;
    for (const proc::ProcessRef& p : procs) {
        Target t{p, {}, {}};
        auto plan = make_plan(o, req, *topo, p.pid, who(p.pid, p.comm), fs, planned);
        if (!plan) {
            t.error = plan.error().message();
            tools::print_error(t.error);
            failed = true;
        } else {
            t.plan = std::move(*plan);
            // Unless the cpuset was read first, what is dropped is reported after the change: offline
            // CPUs and what the kernel left out in one warning, in --dry-run's words.
            if (!t.plan.dropped.empty() && planned) {
                if (o.strict) {
                    tools::print_error("cannot use all requested CPUs for " + who(p.pid, p.comm) +
                                       " (--strict): " + t.plan.dropped_why);
                    failed = true;
                } else {  // on stderr, with --json too (plus "dropped" in it)
                    tools::print_warning("CPUs " + t.plan.dropped.to_list() + " dropped for " + who(p.pid, p.comm) +
                                         ": " + t.plan.dropped_why);
                }
            }
        }
        targets.push_back(std::move(t));
    }
    if (o.strict && failed) {
        if (o.json) {
            JsonWriter j;
            j.begin_object().key("processes").begin_array().end_array().key("ok").value(false).end_object();
            out_line(j.str());
        }
        return tools::exit_failure;
    }

    // --follow subscribes before the first change so that no new thread slips through.
    std::map<pid_t, CpuSet> masks;  // per selected process (and, when following, its descendants)
    std::map<pid_t, Spreader> spreaders;
    auto mask_for = [&](pid_t pid, pid_t) -> CpuSet {
        const CpuSet& m = masks[pid];
        if (o.spread) {
            auto s = spreaders.find(pid);
            if (s == spreaders.end()) s = spreaders.emplace(pid, Spreader(m)).first;
            return s->second.next();
        }
        return m;
    };
    Following following;
    if (o.follow && !o.dry_run) following = start_following(o, mask_for, fs);
    AffinityFollower* follower = following.follower.get();

    JsonWriter j;
    if (o.json) j.begin_object().key("processes").begin_array();
    bool list_style = o.taskset_format == "list";
    auto taskset = [&](pid_t tid, const char* when, const CpuSet& s) {
        out_line("pid " + std::to_string(tid) + "'s " + when + " affinity " + (list_style ? "list: " : "mask: ") +
                 (list_style ? s.to_list() : s.to_mask()));
    };
    for (Target& t : targets) {
        const proc::ProcessRef& p = t.ref;
        std::string name = who(p.pid, p.comm);
        const CpuSet asked = t.plan.mask;  // t.plan.mask becomes what the main thread kept
        masks[p.pid] = asked;
        std::vector<pid_t> handled;
        std::vector<TaskFailure> failures;
        std::size_t changed = 0, exited = 0;
        std::string error;
        std::map<pid_t, CpuSet> before;
        auto gone = [&] { return Error::from_errno(ESRCH, "set affinity of " + name + " (it exited)").message(); };
        auto walk = [&](const Result<ThreadsResult>& r) {
            if (!r) {
                error = r.error().errno_value() == ESRCH ? gone()
                                                         : Error(r.error().code(), "set affinity of " + name).message();
                return;
            }
            handled = r->changed;
            changed = r->changed.size();
            exited = r->exited;
            failures = r->failed;
            for (const TaskFailure& f : failures) handled.push_back(f.tid);
        };
        if (!t.error.empty() || o.dry_run) {
            // nothing to change
        } else if (auto pinned = proc::PinnedProcess::pin(p, fs); !pinned) {
            error = gone();
        } else {
            if (!o.taskset_format.empty()) {
                if (all_tasks) {
                    if (auto b = get_affinity_all_threads(p.pid, fs))
                        for (auto& ta : *b) before[ta.tid] = ta.cpus;
                } else if (auto b1 = get_affinity(p.pid)) {
                    before[p.pid] = *b1;
                }
            }
            if (o.spread) {
                // Every thread its own CPU: the walk sets them all (--spread implies -a).
                walk(set_affinity_all_threads(p.pid, [&](pid_t tid) { return mask_for(p.pid, tid); }, fs));
            } else if (auto st = set_affinity(p.pid, asked); !st) {
                // The main thread goes first, so a process that refuses (no permission, a cpuset
                // without any of the CPUs) is one error, not one per thread. ESRCH means the process
                // is gone: a main thread that ended before the others still accepts the change.
                error = st.error().errno_value() == ESRCH
                            ? gone()
                            : refused(Error(st.error().code(), "set affinity of " + name), asked,
                                      p.kernel_thread,
                                      [&] { return make_plan(o, req, *topo, p.pid, name, fs, true); });
            } else {
                // Its mask read back says what the kernel kept, for the output. The other threads
                // and --follow are given the mask asked for: the kernel clips each to its own
                // cpuset and remembers the request (and widens the mask again when the cpuset grows).
                std::string warning = settle(t.plan, read_kept(p.pid, asked, fs), planned, " for " + name);
                if (!warning.empty()) tools::print_warning(warning);
                if (all_tasks) {
                    walk(set_affinity_all_threads(p.pid, asked, fs));
                } else {
                    changed = 1;
                    handled.push_back(p.pid);
                }
            }
            if (error.empty() && !pinned->alive()) error = gone();
        }
        for (const TaskFailure& f : failures) {
            tools::print_error(decorate(Error(f.error.code(), "set affinity of thread " + std::to_string(f.tid) +
                                                                  " of " + name),
                                        p.kernel_thread));
            failed = true;
        }
        if (!error.empty()) {
            tools::print_error(error);
            failed = true;
        }
        if (!t.error.empty()) error = t.error;  // no plan (reported above): --json lists it too
        if (o.json) {
            j.begin_object().key("pid").value(p.pid).key("comm").value(p.comm).key("start_time").value(p.start_time);
            json_cpus(j, "cpus", t.plan.mask);
            j.key("spread").value(o.spread);
            j.key("dropped").value(t.plan.dropped.to_list());
            j.key("dry_run").value(o.dry_run);
            j.key("threads_changed").value(static_cast<unsigned long>(changed));
            j.key("threads_exited").value(static_cast<unsigned long>(exited));
            j.key("failures").begin_array();
            for (const TaskFailure& f : failures)
                j.begin_object().key("tid").value(f.tid).key("error").value(decorate(f.error, p.kernel_thread)).end_object();
            j.end_array();
            j.key("error");
            if (error.empty())
                j.null();
            else
                j.value(error);
            j.end_object();
        } else if (!o.taskset_format.empty() && error.empty()) {
            std::vector<pid_t> tids = handled;
            std::sort(tids.begin(), tids.end());
            for (pid_t tid : tids) {
                auto b = before.find(tid);
                auto now = get_affinity(tid);
                if (!now) continue;
                taskset(tid, "current", b != before.end() ? b->second : *now);
                taskset(tid, "new", *now);
            }
        } else if (!o.quiet && error.empty() && (changed > 0 || failures.empty())) {
            std::string what = o.dry_run ? "would set" : "set";
            std::string line = name + ": ";
            if (all_tasks && !o.dry_run)
                line += std::to_string(changed) + (changed == 1 ? " thread " : " threads ") +
                        (o.spread ? "spread over " : "set to ") + t.plan.mask.to_list();
            else
                line += what + (o.spread ? " (spread over) " : " to ") + t.plan.mask.to_list();
            out_line(line);
        }
        if (follower && error.empty()) follower->add(p, handled);
    }
    if (o.json) {
        j.end_array().key("ok").value(!failed).end_object();
        out_line(j.str());
    }
    std::fflush(stdout);

    if (follower) {
        if (int code = keep_following(following); code != tools::exit_ok) return code;
    }
    return failed ? tools::exit_failure : tools::exit_ok;
}

}  // namespace prockit::paffinity
