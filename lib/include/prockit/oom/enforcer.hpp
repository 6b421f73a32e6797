// prockit/oom/enforcer.hpp — applies a RuleSet to the processes of the machine and keeps it
// applied: a full scan, then the kernel's fork/exec/exit events (netlink proc connector) or, where
// those cannot be had (not root), a periodic /proc scan. What `poomguard watch` runs.
//
// The enforcer tracks the processes its rules cover (PID + start time, rule, role). A fork of a
// covered process makes the child a child of the same rule (the kernel copied the parent's value;
// the rule's children value is written over it). An exec of an uncovered process is matched
// against the rules (reading only the /proc files they need) and makes a leader. A fork of an
// uncovered process is skipped without reading anything: the child runs the parent's program
// until it execs. Races (a process gone before it is read or written) are not errors; every write
// goes through a pinned process (pidfd + start-time re-check), so a recycled PID is never written.
#pragma once

#include <prockit/oom/rules.hpp>
#include <prockit/proc/events.hpp>
#include <prockit/supervise/event_loop.hpp>
#include <prockit/sys/fsroot.hpp>
#include <prockit/sys/result.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <sys/types.h>
#include <unordered_map>
#include <vector>

namespace prockit::oom {

/// One oom_score_adj the enforcer changed (or, dry-run, would have changed).
struct Change {
    pid_t pid = 0;
    std::string comm;
    std::string rule;
    Role role = Role::leader;
    int from = 0;
    int to = 0;
    bool dry_run = false;
};

/// A change that failed for a reason other than the process having exited.
struct Failure {
    pid_t pid = 0;
    std::string comm;
    std::string rule;
    int to = 0;
    Error error;
};

class Enforcer {
public:
    struct Options {
        bool dry_run = false;  ///< report what would change, write nothing
        /// How often to rescan /proc when the proc connector is unavailable, and to re-read the
        /// rules' pidfiles in any case.
        std::chrono::milliseconds poll_interval{1000};
        /// After a wake-up that read events, the connector's socket is not read again for this
        /// long, so that a burst of process starts is handled in batches of a few wake-ups (an
        /// event alone is handled at once; one in a burst at most this late). 0: every event
        /// wakes the loop.
        std::chrono::microseconds batch_window{2000};
    };
    using ChangeFn = std::function<void(const Change&)>;
    using FailureFn = std::function<void(const Failure&)>;

    Enforcer(RuleSet rules, Options opt, ChangeFn on_change, FailureFn on_failure,
             const FsRoot& fs = FsRoot::system());
    Enforcer(const Enforcer&) = delete;
    Enforcer& operator=(const Enforcer&) = delete;
    ~Enforcer();

    const RuleSet& rules() const { return rules_; }
    /// Replaces the rules (a reload) and rescans.
    void set_rules(RuleSet rules);

    /// A full scan: every process of /proc is assigned and its value applied; the tracked table
    /// is rebuilt from it.
    void scan();
    /// Handles one kernel event (fork/exec/exit; overrun rescans).
    void handle(const proc::ProcEvent& ev);

    /// Follows the machine from `loop`: opens the proc connector (falling back to a periodic scan
    /// when that fails, with `fallback_reason` set) and registers its descriptor and a timer. The
    /// enforcer must outlive the loop's use of it. Does not scan: call scan() first.
    Status attach(EventLoop& loop);
    /// Whether attach() got the proc connector.
    bool using_events() const { return events_.has_value(); }
    /// Why attach() fell back to scanning ("" when it did not).
    const std::string& fallback_reason() const { return fallback_reason_; }

    /// The number of processes covered now.
    std::size_t tracked() const { return tracked_.size(); }

private:
    struct Tracked {
        unsigned long long start_time = 0;
        std::size_t rule = 0;
        Role role = Role::leader;
    };
    void apply(pid_t pid, unsigned long long start_time, const std::string& comm, std::size_t rule, Role role);
    void on_fork(pid_t parent, pid_t child);
    void on_exec(pid_t pid);
    void tick(EventLoop& loop);
    void watch_events(EventLoop& loop);
    void read_burst(EventLoop& loop);
    bool on_events();  // false when nothing was read

    RuleSet rules_;
    Options opt_;
    ChangeFn on_change_;
    FailureFn on_failure_;
    const FsRoot& fs_;
    proc::ProcReader reader_;
    std::unordered_map<pid_t, Tracked> tracked_;
    std::optional<proc::ProcEvents> events_;
    std::vector<proc::ProcEvent> batch_;                   // reused by each wake-up
    std::vector<std::pair<pid_t, std::size_t>> exits_;     // in batch_: (tgid, index of its exit)
    EventLoop::Id events_watch_{};
    std::string fallback_reason_;
    bool scan_failing_ = false;  // the last scan could not read /proc: reported once, not per pass
};

}  // namespace prockit::oom
