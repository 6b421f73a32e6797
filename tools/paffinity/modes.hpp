// tools/paffinity/modes.hpp — what paffinity's modes share (output helpers, the selection, the
// requested CPUs and the plan per target), and one entry per mode: show.cpp, set.cpp (with
// follow.cpp for --follow), check.cpp, topology.cpp, launch.cpp. paffinity_cli.cpp picks the mode.
#pragma once

#include "paffinity_cli.hpp"

#include "common/json.hpp"

#include <prockit/proc/select.hpp>
#include <prockit/sched/cpu_plan.hpp>
#include <prockit/sched/cpuset.hpp>
#include <prockit/sched/follow.hpp>
#include <prockit/sched/topology.hpp>
#include <prockit/sys/fsroot.hpp>
#include <prockit/sys/result.hpp>
#include <prockit/sys/unique_fd.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace prockit::paffinity {

// --- modes ---------------------------------------------------------------------------------------

int run_show(const Options& o, const FsRoot& fs);
int run_set(const Options& o, const FsRoot& fs);
int run_check(const Options& o, const FsRoot& fs);
int run_topology(const Options& o, const FsRoot& fs);
int run_launch(const Options& o, const FsRoot& fs);

// --- --follow (follow.cpp) ------------------------------------------------------------------------

/// A follower started before the first change (so that no new thread slips through), and the
/// signalfd that stops it (SIGINT, SIGTERM and SIGHUP are blocked from then on).
struct Following {
    std::unique_ptr<AffinityFollower> follower;
    unique_fd stop;
};
/// Subscribes; each event is reported on stdout (a JSON line with --json), failures on stderr.
Following start_following(const Options& o, AffinityFollower::MaskFor mask_for, const FsRoot& fs);
/// Follows until stopped or until every followed process has exited; the exit status.
int keep_following(Following& f);

// --- output --------------------------------------------------------------------------------------

void out(const std::string& s);
void out_line(const std::string& s);
std::string list_or_none(const CpuSet& s);
/// "key": "0-3" and "key_ids": [0, 1, 2, 3].
void json_cpus(tools::JsonWriter& j, const char* key, const CpuSet& s);
Error failure(Errc code, std::string context);
/// "pid 42 (comm)".
std::string who(pid_t pid, const std::string& comm);
/// The comm of thread `tid` of `pid`, or "?".
std::string thread_comm(proc::ProcReader& r, pid_t pid, pid_t tid);

// --- selection -----------------------------------------------------------------------------------

/// Runs the selection; reports missing PIDs and an empty selection (unless --allow-none), and
/// sets `failed` then. A malformed regex is a usage error.
std::vector<proc::ProcessRef> select(const Options& o, const FsRoot& fs, bool& failed);

/// A selected process that exited before it was read (`e` is ESRCH) is not listed: it is reported
/// only when its PID was given (then as the selection reports a PID it cannot find) and without
/// --allow-none, and `failed` is set then. Returns false for any other error.
bool vanished(const Options& o, pid_t pid, const Error& e, bool& failed);

/// After the listing: none of the selected processes was still there (`listed` is 0 while the
/// selection found some). Reported as an empty selection unless --allow-none, or something was
/// already reported.
void none_left(const Options& o, std::size_t selected, std::size_t listed, bool& failed);

// --- the requested CPUs and the plan per target ----------------------------------------------------

/// A CPU list option, within the machine's possible CPUs.
CpuSet parse_cpus_option(const std::string& text, const char* option, const Topology& topo);

/// The whole topology only when a shorthand (--cores, --no-smt, --node) needs cores or nodes.
Result<Topology> topology_for(const Options& o, const FsRoot& fs);

struct Request {
    CpuSet requested;  ///< what the user asked for (the list, or every online CPU), after --node
    bool explicit_cpus = false;
};
Request make_request(const Options& o, const Topology& topo);

/// The CPUs one target may use, and the mask it gets.
struct Plan {
    CpuSet mask;
    CpuSet dropped;
    std::string dropped_why;
};

/// Whether a target's cgroup cpuset must be read before anything changes (see modes.cpp).
bool cpuset_first(const Options& o, const FsRoot& fs);

/// The plan for one target (`pid`, 0 = paffinity itself, called `name` in messages). With
/// `with_cgroup` the target's cgroup cpuset is read and applied (plan_cpus()); without, only
/// offline CPUs are dropped here and the kernel applies the cpuset when the mask is set.
Result<Plan> make_plan(const Options& o, const Request& r, const Topology& topo, pid_t pid, const std::string& name,
                       const FsRoot& fs, bool with_cgroup);

/// After a change: records in `plan` what the kernel kept and dropped, and returns the one warning
/// still due ("" when none): the kernel's drops, plus the plan's own unless the cpuset was read
/// first (`planned`: then they were reported before the change). `whom` is " for pid 42 (x)" or "".
std::string settle(Plan& plan, const KeptCpus& kept, bool planned, const std::string& whom);

/// The one-line message, explaining EINVAL from kernel threads that refuse affinity changes.
std::string decorate(const Error& e, bool kernel_thread);

/// The message for `mask`, refused for a main thread. EINVAL for a user process means the kernel
/// allows it none of the CPUs: the plan remade with the cgroup files (`plan_with_cgroup`) names the
/// cpuset in the same words as --dry-run would; when the files do not explain it, the message says
/// what the kernel refused.
std::string refused(const Error& e, const CpuSet& mask, bool kernel_thread,
                    const std::function<Result<Plan>()>& plan_with_cgroup);

}  // namespace prockit::paffinity
