#include <prockit/sched/follow.hpp>

#include <prockit/proc/events.hpp>
#include <prockit/proc/procfs.hpp>
#include <prockit/sched/affinity.hpp>
#include <prockit/sys/syscall.hpp>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <iterator>
#include <optional>
#include <poll.h>

namespace prockit {

struct AffinityFollower::Impl {
    struct Tracked {
        pid_t root = 0;  // the process given to add() this one descends from
        unsigned long long start_time = 0;
        std::vector<pid_t> seen;  // sorted TIDs already handled
    };

    MaskFor mask_for;
    Report report;
    FollowOptions opts;
    const FsRoot& fs;
    std::optional<proc::ProcEvents> events;
    bool started = false;
    std::map<pid_t, Tracked> tracked;
    proc::ProcReader reader;

    Impl(MaskFor m, Report r, FollowOptions o, const FsRoot& f)
        : mask_for(std::move(m)), report(std::move(r)), opts(o), fs(f), reader(f) {}

    static bool contains(const std::vector<pid_t>& v, pid_t x) { return std::binary_search(v.begin(), v.end(), x); }
    static void insert(std::vector<pid_t>& v, pid_t x) {
        auto it = std::lower_bound(v.begin(), v.end(), x);
        if (it == v.end() || *it != x) v.insert(it, x);
    }
    static void forget(std::vector<pid_t>& v, pid_t x) {
        auto it = std::lower_bound(v.begin(), v.end(), x);
        if (it != v.end() && *it == x) v.erase(it);
    }
    // Keeps only the TIDs that are still listed: a TID that left the listing belonged to a thread
    // that exited, and a thread that gets it later is a new one.
    static void keep_listed(std::vector<pid_t>& seen, std::vector<pid_t> listed) {
        std::sort(listed.begin(), listed.end());
        std::vector<pid_t> kept;
        kept.reserve(seen.size());
        std::set_intersection(seen.begin(), seen.end(), listed.begin(), listed.end(), std::back_inserter(kept));
        seen = std::move(kept);
    }

    // Sets one thread of a followed process; returns false when the thread is gone.
    void set_thread(pid_t pid, Tracked& t, pid_t tid, FollowEvent::Kind kind) {
        if (contains(t.seen, tid)) return;
        insert(t.seen, tid);
        CpuSet mask = mask_for(t.root, tid);
        auto st = set_affinity(tid, mask);
        if (st) {
            if (auto now = get_affinity(tid)) mask = *now;  // what the kernel kept (its cpuset)
            report({kind, pid, tid, mask, {}});
        } else if (st.error().errno_value() != ESRCH) {
            report({FollowEvent::Kind::failed, pid, tid, {},
                    Error(st.error().code(), "set affinity of thread " + std::to_string(tid) + " of process " +
                                                 std::to_string(pid))});
        }
    }

    // A new child process of a followed one: set all its threads and follow it.
    void adopt(pid_t child, pid_t parent) {
        if (!opts.children || tracked.count(child)) return;
        auto p = tracked.find(parent);
        if (p == tracked.end()) return;
        pid_t root = p->second.root;
        auto st = reader.stat(child);
        if (!st) return;  // already gone
        Tracked t;
        t.root = root;
        t.start_time = st->start_time;
        CpuSet last;
        auto r = set_affinity_all_threads(child, [&](pid_t tid) { return last = mask_for(root, tid); }, fs);
        if (!r) {
            if (r.error().errno_value() != ESRCH)
                report({FollowEvent::Kind::failed, child, child, {}, r.error()});
            return;
        }
        for (const TaskFailure& f : r->failed) report({FollowEvent::Kind::failed, child, f.tid, {}, f.error});
        t.seen = r->changed;
        for (const TaskFailure& f : r->failed) insert(t.seen, f.tid);
        if (auto now = get_affinity(child)) last = *now;  // what the kernel kept (its cpuset)
        report({FollowEvent::Kind::child, child, child, last, {}});
        tracked.emplace(child, std::move(t));
    }

    bool alive(pid_t pid, const Tracked& t) {
        auto st = reader.stat(pid);
        return st && st->start_time == t.start_time && st->state != 'Z' && st->state != 'X';
    }

    void drop(pid_t pid) {
        if (tracked.erase(pid)) report({FollowEvent::Kind::exited, pid, pid, {}, {}});
    }

    // Children of the threads of `pid`, from /proc/PID/task/TID/children.
    std::vector<pid_t> children_of(pid_t pid, const std::vector<pid_t>& tids) {
        std::vector<pid_t> out;
        for (pid_t tid : tids) {
            auto text = reader.read(pid, "children", tid);
            if (!text) continue;
            std::string_view s = *text;
            std::size_t i = 0;
            while (i < s.size()) {
                while (i < s.size() && s[i] == ' ') ++i;
                pid_t c = 0;
                auto r = std::from_chars(s.data() + i, s.data() + s.size(), c);
                if (r.ec != std::errc()) break;
                out.push_back(c);
                i = static_cast<std::size_t>(r.ptr - s.data());
            }
        }
        return out;
    }

    // Rescans every followed process: new threads, new children, exits.
    void rescan() {
        std::vector<pid_t> pids;
        for (const auto& [pid, t] : tracked) pids.push_back(pid);
        for (pid_t pid : pids) {
            auto it = tracked.find(pid);
            if (it == tracked.end()) continue;
            if (!alive(pid, it->second)) {
                drop(pid);
                continue;
            }
            auto tids = proc::list_tasks(pid, fs);
            if (!tids) {
                drop(pid);
                continue;
            }
            keep_listed(it->second.seen, *tids);
            for (pid_t tid : *tids) set_thread(pid, it->second, tid, FollowEvent::Kind::thread);
            if (opts.children)
                for (pid_t c : children_of(pid, *tids)) adopt(c, pid);
        }
    }

    void on_event(const proc::ProcEvent& e) {
        using K = proc::ProcEvent::Kind;
        switch (e.kind) {
            case K::overrun: rescan(); break;
            case K::fork: {
                // A thread's "parent" in the event is its process's parent, so threads are told
                // apart by their thread group; a new process by its parent's thread group.
                if (e.pid != e.tgid) {
                    auto it = tracked.find(e.tgid);
                    if (it != tracked.end()) set_thread(e.tgid, it->second, e.pid, FollowEvent::Kind::thread);
                } else if (tracked.count(e.parent_tgid)) {
                    adopt(e.tgid, e.parent_tgid);
                }
                break;
            }
            case K::exit: {
                auto it = tracked.find(e.tgid);
                if (it == tracked.end()) break;
                if (e.pid != e.tgid) {
                    // The kernel sends a thread's exit before its TID can be handed out again, so
                    // a later thread with the same TID is new.
                    forget(it->second.seen, e.pid);
                } else if (!alive(e.tgid, it->second)) {
                    drop(e.tgid);
                }
                break;
            }
            case K::exec: break;
        }
    }
};

AffinityFollower::AffinityFollower(MaskFor mask_for, Report report, FollowOptions opts, const FsRoot& fs)
    : impl_(std::make_unique<Impl>(std::move(mask_for), std::move(report), opts, fs)) {}
AffinityFollower::~AffinityFollower() = default;

Status AffinityFollower::start() {
    Impl& m = *impl_;
    m.started = true;
    if (m.opts.method == FollowOptions::Method::poll || !m.fs.is_real()) return {};
    auto ev = proc::ProcEvents::open();
    if (!ev) {
        if (m.opts.method == FollowOptions::Method::netlink) return fail(ev.error());
        return {};
    }
    m.events.emplace(std::move(*ev));
    return {};
}

const char* AffinityFollower::method() const { return impl_->events ? "netlink" : "poll"; }

void AffinityFollower::add(const proc::ProcessRef& ref, std::vector<pid_t> handled) {
    std::sort(handled.begin(), handled.end());
    Impl::Tracked t;
    t.root = ref.pid;
    t.start_time = ref.start_time;
    t.seen = std::move(handled);
    impl_->tracked[ref.pid] = std::move(t);
}

std::size_t AffinityFollower::size() const { return impl_->tracked.size(); }

Status AffinityFollower::run(int stop_fd) {
    Impl& m = *impl_;
    if (!m.started)
        if (auto st = start(); !st) return st;
    m.rescan();
    // netlink: a slow safety rescan; poll: the polling interval. Kept by the clock, not by poll
    // timeouts, since on a busy machine events for other processes never let poll time out.
    auto period = m.events ? std::chrono::milliseconds(1000) : m.opts.poll_interval;
    auto next_rescan = std::chrono::steady_clock::now() + period;
    while (!m.tracked.empty()) {
        pollfd fds[2];
        nfds_t n = 0;
        if (stop_fd >= 0) fds[n++] = {stop_fd, POLLIN, 0};
        int ev_index = -1;
        if (m.events) {
            ev_index = static_cast<int>(n);
            fds[n++] = {m.events->fd(), POLLIN, 0};
        }
        auto now = std::chrono::steady_clock::now();
        int timeout = now >= next_rescan ? 0
                                         : static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                                next_rescan - now)
                                                                .count()) +
                                               1;
        int rc = ::poll(fds, n, timeout);
        if (rc < 0) {
            if (errno == EINTR) continue;
            return fail(last_error("wait for process events"));
        }
        if (stop_fd >= 0 && (fds[0].revents & (POLLIN | POLLHUP | POLLERR))) return {};
        if (ev_index >= 0 && fds[ev_index].revents) {
            auto events = m.events->read();
            if (!events) return fail(events.error());
            for (const proc::ProcEvent& e : *events) m.on_event(e);
        }
        if (std::chrono::steady_clock::now() >= next_rescan) {
            m.rescan();
            next_rescan = std::chrono::steady_clock::now() + period;
        }
    }
    return {};
}

}  // namespace prockit
