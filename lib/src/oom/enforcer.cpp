#include <prockit/oom/enforcer.hpp>

#include <prockit/oom/score.hpp>
#include <prockit/proc/select.hpp>

#include <algorithm>
#include <cerrno>
#include <poll.h>

namespace prockit::oom {

namespace {

bool gone(const Error& e) {
    int err = e.errno_value();
    return err == ESRCH || err == ENOENT;
}

}  // namespace

Enforcer::Enforcer(RuleSet rules, Options opt, ChangeFn on_change, FailureFn on_failure, const FsRoot& fs)
    : rules_(std::move(rules)), opt_(opt), on_change_(std::move(on_change)), on_failure_(std::move(on_failure)),
      fs_(fs), reader_(fs) {}

Enforcer::~Enforcer() = default;

void Enforcer::set_rules(RuleSet rules) {
    rules_ = std::move(rules);
    scan();
}

void Enforcer::apply(pid_t pid, unsigned long long start_time, const std::string& comm, std::size_t rule, Role role) {
    const Rule& r = rules_.rules()[rule];
    std::optional<int> target;
    if (role == Role::leader) {
        target = r.leader;
    } else if (!r.children.inherit) {
        target = r.children.value;
    }
    if (!target) return;
    auto now = read_oom_score_adj(pid, fs_);
    if (!now) {
        if (!gone(now.error())) on_failure_(Failure{pid, comm, r.name, *target, now.error()});
        return;
    }
    if (*now == *target) return;
    Change c{pid, comm, r.name, role, *now, *target, opt_.dry_run};
    if (!opt_.dry_run) {
        proc::ProcessRef ref;
        ref.pid = pid;
        ref.start_time = start_time;
        ref.comm = comm;
        auto st = set_oom_score_adj(ref, *target, fs_);
        if (!st) {
            if (!gone(st.error())) on_failure_(Failure{pid, comm, r.name, *target, st.error()});
            return;
        }
    }
    on_change_(c);
}

void Enforcer::scan() {
    rules_.refresh_pidfiles();
    tracked_.clear();
    if (rules_.empty()) return;
    auto snap = snapshot(rules_, reader_);
    if (!snap) {
        // Not a pass that found nothing: say why (out of descriptors, say), so a watch never
        // covers nothing in silence; once per run of failed scans, not every poll interval. The
        // next scan (a rescan, a reload) tries again.
        if (!scan_failing_) on_failure_(Failure{0, "", "", 0, snap.error()});
        scan_failing_ = true;
        return;
    }
    scan_failing_ = false;
    std::vector<Assignment> all = assign(rules_, *snap);
    tracked_.reserve(all.size());
    for (const Assignment& a : all) {
        tracked_[a.pid] = Tracked{a.start_time, a.rule, a.role};
        apply(a.pid, a.start_time, a.comm, a.rule, a.role);
    }
}

void Enforcer::on_fork(pid_t parent, pid_t child) {
    auto it = tracked_.find(parent);
    if (it == tracked_.end()) return;  // an uncovered parent: the child runs its program until exec
    Tracked t = it->second;
    auto st = reader_.stat(child);
    if (!st) return;  // gone already
    tracked_[child] = Tracked{st->start_time, t.rule, Role::child};
    apply(child, st->start_time, st->comm, t.rule, Role::child);
}

void Enforcer::on_exec(pid_t pid) {
    auto it = tracked_.find(pid);
    if (it != tracked_.end() && it->second.role == Role::child) {
        // A child stays its rule's child whatever it runs; a value it was given is kept by exec.
        auto st = reader_.stat(pid);
        if (st && st->start_time == it->second.start_time) return;
        tracked_.erase(it);  // a stale entry: that PID was reused
        it = tracked_.end();
    }
    if (it == tracked_.end() && rules_.every_rule_matches_exe()) {
        // The common case of a machine where most execs are unrelated: one readlink decides.
        auto exe = reader_.exe(pid);
        if (!exe || !rules_.some_exe_glob_matches(*exe)) return;
    }
    auto f = read_facts(reader_, pid, rules_.needs());
    if (!f) {
        tracked_.erase(pid);
        if (!gone(f.error())) on_failure_(Failure{0, "", "", 0, f.error()});
        return;
    }
    // A process whose parent is covered is that rule's child (its value set at fork).
    auto parent = tracked_.find(f->ppid);
    if (parent != tracked_.end() && f->ppid > 1) {
        tracked_[pid] = Tracked{f->start_time, parent->second.rule, Role::child};
        apply(pid, f->start_time, f->comm, parent->second.rule, Role::child);
        return;
    }
    std::optional<std::size_t> rule = rules_.first_match(*f);
    if (!rule) {
        tracked_.erase(pid);  // a leader that exec'd into something no rule covers
        return;
    }
    tracked_[pid] = Tracked{f->start_time, *rule, Role::leader};
    apply(pid, f->start_time, f->comm, *rule, Role::leader);
}

void Enforcer::handle(const proc::ProcEvent& ev) {
    using K = proc::ProcEvent::Kind;
    switch (ev.kind) {
    case K::fork:
        if (ev.pid == ev.tgid && ev.parent_tgid != ev.tgid) on_fork(ev.parent_tgid, ev.tgid);
        break;
    case K::exec:
        on_exec(ev.tgid);
        break;
    case K::exit:
        if (ev.pid == ev.tgid) tracked_.erase(ev.tgid);
        break;
    case K::overrun:
        scan();
        break;
    }
}

void Enforcer::tick(EventLoop& loop) {
    // Pidfiles are re-read on every tick; without events, or while scans fail (the machine's
    // processes are then not covered: events alone would not bring them back), the whole machine
    // is rescanned.
    if (!events_ || scan_failing_) {
        scan();
    } else if (rules_.refresh_pidfiles()) {
        scan();
    }
    loop.after(opt_.poll_interval, [this, &loop] { tick(loop); });
}

void Enforcer::watch_events(EventLoop& loop) {
    events_watch_ = loop.watch(events_->fd(), POLLIN, [this, &loop](short) {
        on_events();
        if (opt_.batch_window.count() > 0) {
            loop.unwatch(events_watch_);
            loop.after(opt_.batch_window, [this, &loop] { read_burst(loop); });
        }
    });
}

void Enforcer::read_burst(EventLoop& loop) {
    // In a burst the timer alone wakes the loop, once a window; when a window brought nothing,
    // the socket is watched again and the next event is handled as soon as it comes.
    if (on_events())
        loop.after(opt_.batch_window, [this, &loop] { read_burst(loop); });
    else
        watch_events(loop);
}

bool Enforcer::on_events() {
    batch_.clear();
    auto st = events_->read_into(batch_);
    // A process that exits later in the same batch is skipped: nothing can be read or written
    // for it any more (in a burst of short-lived processes, most of them).
    exits_.clear();
    for (std::size_t i = 0; i < batch_.size(); ++i)
        if (batch_[i].kind == proc::ProcEvent::Kind::exit) exits_.emplace_back(batch_[i].tgid, i);
    std::sort(exits_.begin(), exits_.end());
    auto exits_after = [this](pid_t tgid, std::size_t i) {
        auto it = std::lower_bound(exits_.begin(), exits_.end(), std::pair<pid_t, std::size_t>(tgid, i));
        return it != exits_.end() && it->first == tgid;
    };
    for (std::size_t i = 0; i < batch_.size(); ++i) {
        const proc::ProcEvent& e = batch_[i];
        if ((e.kind == proc::ProcEvent::Kind::exec || e.kind == proc::ProcEvent::Kind::fork) && exits_after(e.tgid, i))
            continue;
        handle(e);
    }
    if (!st) {
        on_failure_(Failure{0, "", "", 0, st.error()});
        scan();
    }
    return !batch_.empty() || !st;
}

Status Enforcer::attach(EventLoop& loop) {
    // Only what handle() acts on reaches the socket: processes' forks and exits, and execs.
    // Threads' and the connector's other messages (comm, sid, ...) are dropped in the kernel.
    auto ev = proc::ProcEvents::open({.fork = true, .exec = true, .exit = true, .threads = false});
    if (ev) {
        events_ = std::move(*ev);
        fallback_reason_.clear();
        batch_.reserve(256);
        watch_events(loop);
    } else {
        fallback_reason_ = ev.error().message();
    }
    loop.after(opt_.poll_interval, [this, &loop] { tick(loop); });
    return {};
}

}  // namespace prockit::oom
