#include "paffinity_cli.hpp"

#include "common/cli.hpp"
#include "common/exit_codes.hpp"
#include "common/json.hpp"

#include <prockit/proc/procfs.hpp>
#include <prockit/proc/select.hpp>
#include <prockit/sched/affinity.hpp>
#include <prockit/sched/cgroup_cpuset.hpp>
#include <prockit/sched/cpuset.hpp>
#include <prockit/sched/follow.hpp>
#include <prockit/sched/topology.hpp>
#include <prockit/sys/fsroot.hpp>
#include <prockit/sys/syscall.hpp>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <functional>
#include <map>
#include <sys/signalfd.h>
#include <unistd.h>

namespace prockit::paffinity {

using tools::JsonWriter;
using tools::UsageError;

namespace {

// --- small output helpers ------------------------------------------------------------------------

void out(const std::string& s) { std::fwrite(s.data(), 1, s.size(), stdout); }
void out_line(const std::string& s) {
    out(s);
    std::fputc('\n', stdout);
}

std::string list_or_none(const CpuSet& s) { return s.empty() ? std::string("none") : s.to_list(); }

void json_cpus(JsonWriter& j, const char* key, const CpuSet& s) {
    j.key(key).value(s.to_list());
    j.key(std::string(key) + "_ids").begin_array();
    for (unsigned c : s.cpus()) j.value(c);
    j.end_array();
}

Error failure(Errc code, std::string context) { return Error(make_error_code(code), std::move(context)); }

std::string who(pid_t pid, const std::string& comm) { return "pid " + std::to_string(pid) + " (" + comm + ")"; }

// --- modes -----------------------------------------------------------------------------------------

enum class Mode { show, set, launch, check, topology };

Mode mode_of(const Options& o) {
    if (o.topology) return Mode::topology;
    bool shorthand = o.cores || o.no_smt || o.nodes;
    if (o.command_separator || o.cpus_list) return Mode::launch;
    if (o.set_list || shorthand) return Mode::set;
    if (!o.check.empty()) return Mode::check;
    return Mode::show;
}

bool has_selection(const Options& o) {
    return !o.positional.empty() || !o.pids.empty() || !o.names.empty() || !o.patterns.empty() ||
           !o.exes.empty() || !o.users.empty() || !o.cgroups.empty();
}

void validate(const Options& o, Mode m) {
    bool sel = has_selection(o);
    switch (m) {
        case Mode::launch:
            if (!o.command_separator || o.command.empty())
                throw UsageError(o.cpus_list ? "--cpus needs a command after '--'" : "no command after '--'");
            if (!o.cpus_list && !o.cores && !o.no_smt && !o.nodes)
                throw UsageError("a command needs --cpus LIST (or --cores, --no-smt, --node)");
            if (o.set_list) throw UsageError("--set changes other processes; use --cpus with a command");
            if (sel) throw UsageError("a process selection cannot be combined with a command");
            if (!o.check.empty() || o.follow || o.spread || o.all_tasks)
                throw UsageError("--check, --follow, --spread and -a do not apply to a command");
            break;
        case Mode::set:
            if (!sel) throw UsageError("--set needs a selection (PID, --pid, --name, --match, --exe, --user, --cgroup)");
            if (!o.check.empty()) throw UsageError("--check cannot be combined with --set");
            if (o.spread && !o.all_tasks && !o.follow) throw UsageError("--spread needs -a/--all-tasks");
            break;
        case Mode::check:
            if (!sel) throw UsageError("--check needs a selection");
            if (o.follow || o.spread) throw UsageError("--follow and --spread need --set");
            break;
        case Mode::show:
            if (o.follow || o.spread || o.strict || o.dry_run)
                throw UsageError("--follow, --spread, --strict and --dry-run need --set");
            if (!sel) throw UsageError("nothing to do: give PIDs, a selection, --set, --cpus or 'topology'");
            break;
        case Mode::topology:
            break;
    }
    if (o.poll && !o.follow) throw UsageError("--poll needs --follow");
    if (o.poll_interval_ms < 1 || o.poll_interval_ms > 60000) throw UsageError("--poll-interval takes 1 to 60000 ms");
}

// --- selection -------------------------------------------------------------------------------------

proc::Selector make_selector(const Options& o) {
    proc::Selector s;
    for (const std::string& p : o.positional) {
        auto v = tools::parse_unsigned(p);
        if (!v || *v == 0 || *v > 0x3fffffff) throw UsageError("'" + p + "' is not a PID");
        s.pids.push_back(static_cast<pid_t>(*v));
    }
    for (pid_t p : o.pids) {
        if (p <= 0) throw UsageError("--pid " + std::to_string(p) + " is not a PID");
        s.pids.push_back(p);
    }
    s.names = o.names;
    s.patterns = o.patterns;
    s.exes = o.exes;
    s.cgroups = o.cgroups;
    for (const std::string& u : o.users) {
        auto uid = proc::resolve_user(u);
        if (!uid) throw UsageError("--user: " + uid.error().message());
        s.users.push_back(*uid);
    }
    return s;
}

// Runs the selection; reports missing PIDs and an empty selection. `failed` is set on errors.
std::vector<proc::ProcessRef> select(const Options& o, const FsRoot& fs, bool& failed) {
    auto matcher = proc::Matcher::compile(make_selector(o), fs);
    if (!matcher) {
        if (matcher.error().code() == Errc::parse_error) throw UsageError("--match: " + matcher.error().message());
        throw SystemError(matcher.error());
    }
    // A /proc scan is split over up to 4 threads (one per CPU we may use): most of its time is
    // the kernel reading other processes' command lines, which parallelises well. PIDs alone
    // need no scan.
    unsigned threads = 1;
    if (o.pids.empty() && o.positional.empty())
        if (auto mine = get_affinity(0)) threads = static_cast<unsigned>(std::clamp<std::size_t>(mine->count(), 1, 4));
    auto sel = matcher->select(threads);
    if (!sel) throw SystemError(sel.error());
    if (!o.allow_none) {
        for (pid_t p : sel->missing) {
            tools::print_error(Error::from_errno(ESRCH, "find process " + std::to_string(p)));
            failed = true;
        }
        if (sel->processes.empty() && sel->missing.empty()) {
            tools::print_error(failure(Errc::not_found, "find a process matching the selection"));
            failed = true;
        }
    }
    return std::move(sel->processes);
}

// --- requested CPU set -------------------------------------------------------------------------------

CpuSet parse_cpus_option(const std::string& text, const char* option, const Topology& topo) {
    auto s = CpuSet::parse(text, topo.online);
    if (!s) throw UsageError(std::string(option) + ": " + s.error().message());
    CpuSet beyond = *s - topo.possible;
    if (!beyond.empty())
        throw SystemError(failure(Errc::out_of_range, "use CPU " + beyond.to_list() + " (this machine has CPUs " +
                                                          topo.possible.to_list() + ")"));
    return *s;
}

struct Request {
    CpuSet requested;        // what the user asked for (the list, or every online CPU), after --node
    bool explicit_cpus = false;
};

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
        if (!ids) throw UsageError("--node: " + ids.error().message());
        if (ids->empty()) throw UsageError("--node: no node given");
        CpuSet cpus;
        for (unsigned id : ids->cpus()) {
            auto c = topo.node_cpus(static_cast<int>(id));
            if (!c) throw SystemError(failure(Errc::not_found, "find NUMA node " + std::to_string(id)));
            cpus |= *c;
        }
        r.requested = list ? (r.requested & cpus) : cpus;
        if (r.requested.empty())
            throw SystemError(failure(Errc::out_of_range, "use CPUs " + list.value_or("") + " on node " + *o.nodes +
                                                              " (the node has CPUs " + list_or_none(cpus) + ")"));
        r.explicit_cpus = true;
    }
    return r;
}

// The CPUs one target may use, and the mask it gets.
struct Plan {
    CpuSet mask;
    CpuSet dropped;
    std::string dropped_why;
    CgroupCpuset cgroup;
};

// Whether a target's cgroup cpuset must be read before anything changes: --strict refuses before
// changing anything, --dry-run shows the mask, --spread, --cores and --no-smt choose CPUs among
// those allowed, and a fixture tree (PROCKIT_FSROOT) has no kernel to ask. Otherwise the kernel
// is asked afterwards: it clips a new mask to the target's cpuset itself, and the mask read back
// after the change shows what it kept (read_back()). That skips mountinfo and the cgroup files on
// the common path (~0.1 ms of a ~2.5 ms run), and sees what those files cannot show (a container
// without the cgroup filesystem).
bool cpuset_first(const Options& o, const FsRoot& fs) {
    return !fs.is_real() || o.strict || o.dry_run || o.spread || o.cores || o.no_smt;
}

std::string describe(const CgroupCpuset& cg) {
    return cg.restricted() ? "cgroup cpuset (v" + std::to_string(cg.version) + " " + cg.cgroup + ": " +
                                 list_or_none(cg.effective) + ")"
                           : std::string("cgroup cpuset");
}

// The plan for one target (`pid`, 0 = paffinity itself). With `with_cgroup` the target's cgroup
// cpuset is read and applied; without, only offline CPUs are dropped here and the kernel applies
// the cpuset when the mask is set.
Result<Plan> make_plan(const Options& o, const Request& r, const Topology& topo, pid_t pid, const std::string& name,
                       const FsRoot& fs, bool with_cgroup) {
    Plan p;
    if (with_cgroup) {
        if (auto cg = cgroup_cpuset(pid, fs)) p.cgroup = *cg;
    }
    CpuSet allowed = topo.online;
    if (p.cgroup.restricted()) allowed &= p.cgroup.effective;
    p.mask = r.requested & allowed;
    if (r.explicit_cpus) {
        p.dropped = r.requested - p.mask;
        if (!p.dropped.empty()) {
            CpuSet offline = p.dropped - topo.online;
            CpuSet outside = p.dropped - offline;
            std::string why;
            if (!offline.empty()) why = offline.to_list() + " offline";
            if (!outside.empty()) why += (why.empty() ? "" : ", ") + outside.to_list() + " outside the " + describe(p.cgroup);
            p.dropped_why = why;
        }
    }
    if (p.mask.empty()) {
        if (!with_cgroup) return make_plan(o, r, topo, pid, name, fs, true);  // the error names the cpuset too
        return fail(failure(Errc::out_of_range, "set affinity of " + name + ": none of CPUs " +
                                                    r.requested.to_list() + " is usable (online " +
                                                    list_or_none(topo.online) + "; " + describe(p.cgroup) + ")"));
    }
    if (o.no_smt) p.mask = topo.one_thread_per_core(p.mask);
    if (o.cores) {
        auto c = topo.first_cores(*o.cores, p.mask);
        if (!c) return fail(Error(c.error().code(), "set affinity of " + name + ": cannot " + c.error().context()));
        p.mask = *c;
    }
    return p;
}

// "a, b", or whichever of the two is not empty.
std::string join_reasons(const std::string& a, const std::string& b) {
    return a.empty() ? b : b.empty() ? a : a + ", " + b;
}

// What the kernel made of a mask it accepted for a main thread.
struct ReadBack {
    CpuSet kept;         ///< the requested CPUs it kept
    CpuSet dropped;      ///< the requested CPUs it did not keep
    std::string why;     ///< "<dropped> outside the cgroup cpuset (...)", or why else
};

// Reads back the mask of the main thread of `pid` (0 = paffinity itself) after it was set to
// `mask`. The cgroup files are read only when the kernel dropped something, to name the cpuset;
// CPUs the cpuset does hold were dropped for another reason (a CPU going offline, a concurrent
// change), which is said as such.
ReadBack read_back(pid_t pid, const CpuSet& mask, const FsRoot& fs) {
    ReadBack rb;
    rb.kept = mask;
    auto now = get_affinity(pid);
    if (!now || (*now & mask).empty()) return rb;  // it exited, or was changed meanwhile: nothing to say
    rb.kept = *now & mask;
    rb.dropped = mask - rb.kept;
    if (rb.dropped.empty()) return rb;
    auto cg = cgroup_cpuset(pid, fs);
    if (cg && cg->restricted() && (rb.dropped & cg->effective).empty())
        rb.why = rb.dropped.to_list() + " outside the " + describe(*cg);
    else
        rb.why = rb.dropped.to_list() + " not kept by the kernel (the mask is now " + list_or_none(*now) + ")";
    return rb;
}

// After a change: records in `plan` what the kernel kept and dropped, and returns the one warning
// still due ("" when none): the kernel's drops, plus the plan's own unless the cpuset was read
// first (`planned`: then they were reported before the change). `whom` is " for pid 42 (x)" or "".
std::string settle(Plan& plan, const ReadBack& rb, bool planned, const std::string& whom) {
    CpuSet report = planned ? rb.dropped : plan.dropped | rb.dropped;
    std::string why = planned ? rb.why : join_reasons(plan.dropped_why, rb.why);
    plan.mask = rb.kept;
    plan.dropped |= rb.dropped;
    return report.empty() ? std::string() : "CPUs " + report.to_list() + " dropped" + whom + ": " + why;
}

// The one-line message, explaining EINVAL from kernel threads that refuse affinity changes.
std::string decorate(const Error& e, bool kernel_thread) {
    std::string m = e.message();
    if (kernel_thread && e.errno_value() == EINVAL) m += " (a kernel thread that refuses affinity changes)";
    return m;
}

// The message for `mask`, refused for a main thread. EINVAL for a user process means the kernel
// allows it none of the CPUs: the plan remade with the cgroup files (`plan_with_cgroup`) names the
// cpuset in the same words as --dry-run would; when the files do not explain it, the message says
// what the kernel refused.
std::string refused(const Error& e, const CpuSet& mask, bool kernel_thread,
                    const std::function<Result<Plan>()>& plan_with_cgroup) {
    if (e.errno_value() == EINVAL && !kernel_thread) {
        auto plan = plan_with_cgroup();
        if (!plan) return plan.error().message();
        return Error(e.code(), e.context() + ": the kernel allows none of CPUs " + mask.to_list()).message();
    }
    return decorate(e, kernel_thread);
}

// --- show ------------------------------------------------------------------------------------------

std::string thread_comm(proc::ProcReader& r, pid_t pid, pid_t tid) {
    auto st = r.stat(pid, tid);
    return st ? st->comm : std::string("?");
}

int run_show(const Options& o, const FsRoot& fs) {
    bool failed = false;
    auto procs = select(o, fs, failed);
    proc::ProcReader reader(fs);
    JsonWriter j;
    if (o.json) j.begin_object().key("processes").begin_array();
    if (!o.json && o.taskset_format.empty() && !procs.empty()) {
        char line[128];
        std::snprintf(line, sizeof line, "%8s %8s  %-16s %s", "PID", o.all_tasks ? "TID" : "THREADS", "NAME", "CPUS");
        out_line(line);
    }
    auto taskset_line = [&](pid_t tid, const CpuSet& s) {
        bool list = o.taskset_format == "list";
        out_line("pid " + std::to_string(tid) + "'s current affinity " + (list ? "list: " : "mask: ") +
                 (list ? s.to_list() : s.to_mask()));
    };
    for (const proc::ProcessRef& p : procs) {
        auto main_mask = get_affinity(p.pid);
        if (!main_mask) {
            tools::print_error(main_mask.error());
            failed = true;
            continue;
        }
        std::vector<TaskAffinity> tasks;
        if (o.all_tasks) {
            auto t = get_affinity_all_threads(p.pid, fs);
            if (!t) {
                tools::print_error(t.error());
                failed = true;
                continue;
            }
            tasks = std::move(*t);
        }
        auto st = reader.stat(p.pid);
        long threads = st ? st->num_threads : p.threads;
        if (o.json) {
            j.begin_object().key("pid").value(p.pid).key("comm").value(p.comm).key("threads").value(threads);
            j.key("start_time").value(p.start_time);
            json_cpus(j, "cpus", *main_mask);
            j.key("mask").value(main_mask->to_mask());
            if (o.all_tasks) {
                j.key("tasks").begin_array();
                for (const TaskAffinity& t : tasks) {
                    j.begin_object().key("tid").value(t.tid).key("comm").value(thread_comm(reader, p.pid, t.tid));
                    json_cpus(j, "cpus", t.cpus);
                    j.end_object();
                }
                j.end_array();
            }
            j.end_object();
        } else if (!o.taskset_format.empty()) {
            if (o.all_tasks)
                for (const TaskAffinity& t : tasks) taskset_line(t.tid, t.cpus);
            else
                taskset_line(p.pid, *main_mask);
        } else {
            char line[256];
            if (o.all_tasks) {
                for (const TaskAffinity& t : tasks) {
                    std::snprintf(line, sizeof line, "%8d %8d  %-16s ", p.pid, t.tid, thread_comm(reader, p.pid, t.tid).c_str());
                    out_line(line + t.cpus.to_list());
                }
            } else {
                std::snprintf(line, sizeof line, "%8d %8ld  %-16s ", p.pid, threads, p.comm.c_str());
                out_line(line + main_mask->to_list());
            }
        }
    }
    if (o.json) {
        j.end_array().key("ok").value(!failed).end_object();
        out_line(j.str());
    }
    return failed ? tools::exit_failure : tools::exit_ok;
}

// --- set (and follow) ------------------------------------------------------------------------------

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

// A stop fd for --follow: SIGINT/SIGTERM/SIGHUP blocked and delivered through a signalfd.
unique_fd stop_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &set, nullptr) != 0) throw SystemError(last_error("block SIGINT and SIGTERM"));
    int fd = ::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (fd < 0) throw SystemError(last_error("create a signalfd"));
    return unique_fd(fd);
}

// The whole topology only when a shorthand needs cores or nodes.
Result<Topology> topology_for(const Options& o, const FsRoot& fs) {
    return (o.cores || o.no_smt || o.nodes) ? Topology::read(fs) : Topology::read_online(fs);
}

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
    std::unique_ptr<AffinityFollower> follower;
    unique_fd stop;
    bool json_lines = o.json && o.follow;
    if (o.follow && !o.dry_run) {
        stop = stop_signals();
        FollowOptions fo;
        fo.method = o.poll ? FollowOptions::Method::poll : FollowOptions::Method::automatic;
        fo.poll_interval = std::chrono::milliseconds(o.poll_interval_ms);
        follower = std::make_unique<AffinityFollower>(
            mask_for,
            [&](const FollowEvent& e) {
                if (e.kind == FollowEvent::Kind::failed) {
                    tools::print_error(e.error);
                    return;
                }
                if (o.quiet) return;
                if (json_lines) {
                    JsonWriter j;
                    const char* kind = e.kind == FollowEvent::Kind::thread  ? "thread"
                                       : e.kind == FollowEvent::Kind::child ? "child"
                                                                            : "exited";
                    j.begin_object().key("event").value(kind).key("pid").value(e.pid).key("tid").value(e.tid);
                    if (e.kind != FollowEvent::Kind::exited) json_cpus(j, "cpus", e.cpus);
                    j.end_object();
                    out_line(j.str());
                } else if (e.kind == FollowEvent::Kind::thread) {
                    out_line("pid " + std::to_string(e.pid) + " thread " + std::to_string(e.tid) + ": set to " +
                             e.cpus.to_list());
                } else if (e.kind == FollowEvent::Kind::child) {
                    out_line("pid " + std::to_string(e.pid) + " (new child process): set to " + e.cpus.to_list());
                } else {
                    out_line("pid " + std::to_string(e.pid) + ": exited");
                }
                std::fflush(stdout);
            },
            fo, fs);
        if (auto st = follower->start(); !st) throw SystemError(st.error());
    }

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
                std::string warning = settle(t.plan, read_back(p.pid, asked, fs), planned, " for " + name);
                if (!warning.empty()) tools::print_warning(warning);
                if (all_tasks) {
                    walk(set_affinity_all_threads(p.pid, asked, fs, {.helper_thread = true}));
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
        if (follower->size() == 0) {
            tools::print_error("nothing to follow");
            return tools::exit_failure;
        }
        tools::print_error("following " + std::to_string(follower->size()) + " process" +
                           (follower->size() == 1 ? "" : "es") + " (" + follower->method() +
                           "); interrupt to stop");
        auto st = follower->run(stop.get());
        if (!st) {
            tools::print_error(st.error());
            return tools::exit_failure;
        }
        std::fflush(stdout);
        if (follower->size() == 0) tools::print_error("every followed process exited");
    }
    return failed ? tools::exit_failure : tools::exit_ok;
}

// --- check -----------------------------------------------------------------------------------------

int run_check(const Options& o, const FsRoot& fs) {
    std::optional<CpuSet> expected;
    if (o.check != "@") {
        auto topo = Topology::read_online(fs);
        if (!topo) throw SystemError(topo.error());
        expected = parse_cpus_option(o.check, "--check", *topo);
    }
    bool failed = false;
    auto procs = select(o, fs, failed);
    proc::ProcReader reader(fs);
    JsonWriter j;
    if (o.json) j.begin_object().key("processes").begin_array();
    std::size_t drifted = 0, threads = 0;
    for (const proc::ProcessRef& p : procs) {
        auto main_mask = get_affinity(p.pid);
        auto tasks = get_affinity_all_threads(p.pid, fs);
        if (!main_mask || !tasks) {
            tools::print_error(!main_mask ? main_mask.error() : tasks.error());
            failed = true;
            continue;
        }
        const CpuSet& want = expected ? *expected : *main_mask;
        if (o.json) {
            j.begin_object().key("pid").value(p.pid).key("comm").value(p.comm);
            json_cpus(j, "expected", want);
            j.key("drift").begin_array();
        }
        for (const TaskAffinity& t : *tasks) {
            ++threads;
            if (t.cpus == want) continue;
            ++drifted;
            std::string tcomm = thread_comm(reader, p.pid, t.tid);
            if (o.json) {
                j.begin_object().key("tid").value(t.tid).key("comm").value(tcomm);
                json_cpus(j, "cpus", t.cpus);
                j.end_object();
            } else {
                out_line(who(p.pid, p.comm) + " thread " + std::to_string(t.tid) + " (" + tcomm + "): " +
                         t.cpus.to_list() + ", expected " + want.to_list());
            }
        }
        if (o.json) j.end_array().end_object();
    }
    if (o.json) {
        j.end_array().key("drifted_threads").value(static_cast<unsigned long>(drifted));
        j.key("ok").value(!failed && drifted == 0).end_object();
        out_line(j.str());
    } else if (drifted == 0 && !o.quiet && !procs.empty()) {
        out_line("no drift: " + std::to_string(procs.size()) + (procs.size() == 1 ? " process, " : " processes, ") +
                 std::to_string(threads) + " threads");
    }
    return (failed || drifted) ? tools::exit_failure : tools::exit_ok;
}

// --- topology ----------------------------------------------------------------------------------------

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

// --- launch ------------------------------------------------------------------------------------------

int run_launch(const Options& o, const FsRoot& fs) {
    auto topo = topology_for(o, fs);
    if (!topo) throw SystemError(topo.error());
    Request req = make_request(o, *topo);
    std::string name = "'" + o.command[0] + "'";
    const bool planned = cpuset_first(o, fs);  // else what is dropped is reported after the change
    auto plan = make_plan(o, req, *topo, 0, name, fs, planned);
    if (!plan) {
        tools::print_error(plan.error());
        return tools::exit_failure;
    }
    if (!plan->dropped.empty() && planned) {
        if (o.strict) {
            tools::print_error("cannot use all requested CPUs for " + name + " (--strict): " + plan->dropped_why);
            return tools::exit_failure;
        }
        tools::print_warning("CPUs " + plan->dropped.to_list() + " dropped: " + plan->dropped_why);
    }
    if (o.dry_run) {
        std::string cmd;
        for (const std::string& a : o.command) cmd += (cmd.empty() ? "" : " ") + a;
        if (o.json) {
            JsonWriter j;
            j.begin_object();
            json_cpus(j, "cpus", plan->mask);
            j.key("dropped").value(plan->dropped.to_list()).key("command").begin_array();
            for (const std::string& a : o.command) j.value(a);
            j.end_array().end_object();
            out_line(j.str());
        } else {
            out_line("would run '" + cmd + "' on CPUs " + plan->mask.to_list());
        }
        return tools::exit_ok;
    }
    CpuSet mask = plan->mask;
    if (auto st = set_affinity(0, mask); !st) {
        tools::print_error(refused(Error(st.error().code(), "set affinity of paffinity itself"), mask, false,
                                   [&] { return make_plan(o, req, *topo, 0, name, fs, true); }));
        return tools::exit_failure;
    }
    if (std::string warning = settle(*plan, read_back(0, mask, fs), planned, ""); !warning.empty())
        tools::print_warning(warning);
    std::vector<char*> argv;
    for (const std::string& a : o.command) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    std::fflush(stdout);
    ::execvp(argv[0], argv.data());
    int err = errno;
    tools::print_error(Error::from_errno(err, "execute " + o.command[0]));
    return tools::exit_status_for_exec_errno(err);
}

}  // namespace

// --- command line --------------------------------------------------------------------------------------

std::unique_ptr<CLI::App> build_cli(Options& o) {
    auto app = std::make_unique<CLI::App>(
        "CPU affinity for processes and threads.\n"
        "  paffinity [PID...] [selection] [-a] [--json | --taskset-format[=list]]    show\n"
        "  paffinity --set LIST [PID...] [selection] [-a] [--spread] [--follow]     change\n"
        "  paffinity --check[=LIST] [PID...] [selection]                            find drift\n"
        "  paffinity --cpus LIST -- COMMAND [ARG...]                                launch\n"
        "  paffinity topology [--json]                                              machine\n"
        "LIST: '0-3,8,10-20:2', 'all,^0', '^0-1' (all but), or a hex mask '0xff' / '0xff,00000000'.\n"
        "Exit status: 0 ok, 1 failure (or drift), 2 usage error, 126/127 command not executable/found.",
        "paffinity");
    app->set_help_flag("-h,--help", "Print this help and exit");
    app->set_version_flag("--version", tools::version_line(), "Print the version and exit");
    app->formatter(std::make_shared<tools::Formatter>());
    app->get_formatter()->column_width(30);

    auto* sel = "Selection (criteria AND together; repeat one to OR its values)";
    app->add_option("pid", o.positional, "Process IDs (like --pid)")->type_name("PID");
    app->add_option("-p,--pid", o.pids, "Select the process with this PID")->group(sel)->type_name("PID");
    app->add_option("-n,--name", o.names, "Select processes whose name (comm) is NAME")->group(sel)->type_name("NAME");
    app->add_option("-m,--match", o.patterns, "Select processes whose command line matches REGEX (POSIX ERE)")
        ->group(sel)
        ->type_name("REGEX");
    app->add_option("-e,--exe", o.exes, "Select processes running the executable PATH")->group(sel)->type_name("PATH");
    app->add_option("-u,--user", o.users, "Select processes of USER (name or UID)")->group(sel)->type_name("USER");
    app->add_option("--cgroup", o.cgroups, "Select processes in cgroup PATH or below it")->group(sel)->type_name("PATH");
    app->add_flag("--allow-none", o.allow_none, "A selection that matches nothing is not an error")->group(sel);

    auto* chg = "Changing";
    app->add_option("-s,--set", o.set_list, "Set the affinity of the selected processes to LIST")
        ->group(chg)
        ->type_name("LIST");
    app->add_option("-c,--cpus", o.cpus_list, "Run COMMAND (after '--') on LIST: set own affinity, then exec")
        ->group(chg)
        ->type_name("LIST");
    app->add_option("--cores", o.cores, "Use N physical cores, one hardware thread each")->group(chg)->type_name("N");
    app->add_flag("--no-smt", o.no_smt, "Use one hardware thread per core")->group(chg);
    app->add_option("--node", o.nodes, "Use the CPUs of NUMA node(s) N (a list: 0,1)")->group(chg)->type_name("N");
    app->add_flag("--spread", o.spread, "With -a: give each thread its own CPU, round robin")->group(chg);
    app->add_flag("--strict", o.strict, "Fail instead of dropping CPUs that are offline or outside the cpuset")
        ->group(chg);
    app->add_flag("--dry-run", o.dry_run, "Compute and show the masks, change nothing")->group(chg);
    app->add_flag("-f,--follow", o.follow,
                  "Keep applying the mask to new threads and child processes until interrupted (implies -a)")
        ->group(chg);
    app->add_flag("--poll", o.poll, "With --follow: poll /proc even when netlink events are available")->group(chg);
    app->add_option("--poll-interval", o.poll_interval_ms, "With --follow by polling: interval in ms (default 100)")
        ->group(chg)
        ->type_name("MS");

    auto* outg = "Output";
    app->add_flag("-a,--all-tasks", o.all_tasks, "Every thread (task) of each process")->group(outg);
    app->add_flag("--check{@}", o.check,
                  "Report threads whose mask differs from their process's (or from --check=LIST); exit 1 on drift")
        ->group(outg);
    app->add_flag("-j,--json", o.json, "Machine-readable output on stdout")->group(outg);
    app->add_flag("--taskset-format{mask}", o.taskset_format,
                  "Print taskset's exact wording (--taskset-format=list for lists)")
        ->group(outg);
    app->add_flag("-q,--quiet", o.quiet, "Print nothing on success when changing")->group(outg);

    auto* topo = app->add_subcommand("topology", "Show CPUs, cores, SMT siblings, NUMA nodes, isolated CPUs");
    topo->add_flag("-j,--json", o.json, "Machine-readable output on stdout");
    topo->set_help_flag("-h,--help", "Print this help and exit");
    topo->callback([&o] { o.topology = true; });
    return app;
}

int run(const Options& o) {
    const FsRoot& fs = FsRoot::system();
    Mode m = mode_of(o);
    validate(o, m);
    if (!o.taskset_format.empty() && o.taskset_format != "mask" && o.taskset_format != "list")
        throw UsageError("--taskset-format takes 'mask' or 'list'");
    if (!o.taskset_format.empty() && o.json) throw UsageError("--taskset-format and --json exclude each other");
    if (!o.taskset_format.empty() && o.dry_run)
        throw UsageError("--taskset-format and --dry-run exclude each other (taskset changes at once)");
    switch (m) {
        case Mode::topology: return run_topology(o, fs);
        case Mode::show: return run_show(o, fs);
        case Mode::set: return run_set(o, fs);
        case Mode::check: return run_check(o, fs);
        case Mode::launch: return run_launch(o, fs);
    }
    return tools::exit_failure;
}

int main_entry(int argc, char** argv) {
    tools::set_tool_name("paffinity");
    return tools::guarded([&] {
        tools::SplitArgs split = tools::split_command(argc, argv);
        Options opts;
        opts.command = split.command;
        opts.command_separator = split.had_separator;
        auto app = build_cli(opts);
        if (auto code = tools::parse(*app, static_cast<int>(split.options.size()), split.options.data())) return *code;
        return run(opts);
    });
}

}  // namespace prockit::paffinity
