#include <prockit/supervise/supervisor.hpp>

#include <prockit/sys/syscall.hpp>

#include "process/proctree.hpp"

#include <algorithm>
#include <cerrno>
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <unordered_map>
#include <sys/wait.h>

namespace prockit {

Supervisor::Supervisor(EventLoop& loop, TermSequence term, Handlers h)
    : loop_(loop), term_(std::move(term)), h_(std::move(h)) {}

Supervisor::~Supervisor() {
    for (auto& [id, j] : jobs_) {
        loop_.unwatch(j.watch);
        loop_.cancel(j.timer);
        if (!j.opts.tree_cgroup.empty()) (void)signal_cgroup(j.opts.tree_cgroup, SIGKILL);
    }
    jobs_.clear();  // each Child kills its tree and reaps (kill_tree)
}

Result<Supervisor::JobId, SpawnFailure> Supervisor::start(const Command& cmd, const JobOptions& opts) {
    auto c = cmd.spawn();
    if (!c) return fail(c.error());
    JobId id = next_++;
    Job& j = jobs_[id];
    j.child = std::move(*c);
    j.child.set_destroy_policy(DestroyPolicy::kill_tree, std::chrono::nanoseconds::zero());
    j.opts = opts;
    j.started = Clock::now();
    j.watch = loop_.watch(j.child.pidfd(), POLLIN, [this, id](short) { finish(id); });
    if (opts.timeout)
        j.timer = loop_.at(j.started + *opts.timeout, [this, id] {
            auto it = jobs_.find(id);
            if (it == jobs_.end() || it->second.terminating) return;
            it->second.timer = 0;
            it->second.timed_out = true;
            if (h_.on_timeout) h_.on_timeout(id);
            stop(id);
        });
    return id;
}

Child* Supervisor::child(JobId id) {
    auto it = jobs_.find(id);
    return it == jobs_.end() ? nullptr : &it->second.child;
}

void Supervisor::signal_tree(Job& j, int sig) {
    if (!j.opts.tree_cgroup.empty()) {
        (void)signal_cgroup(j.opts.tree_cgroup, sig);
        return;
    }
    // The job's process group does not hold descendants that called setsid (or setpgid): each
    // step of the end also finds them by a /proc walk from the unreaped leader, and holds them
    // by pidfd from then on, since one whose parent dies is re-parented to us and is nobody's
    // descendant any more.
    if (!j.child.status() && j.child.tree_scope() == TreeScope::process_group) {
        auto all = detail::scan_processes();
        std::unordered_map<pid_t, pid_t> pgrp;
        for (const auto& p : all) pgrp.emplace(p.pid, p.pgrp);
        for (pid_t p : detail::descendants(all, j.child.pid())) {
            if (pgrp[p] == j.child.pid()) continue;  // the group's signal reaches it
            if (std::any_of(j.strays.begin(), j.strays.end(), [p](const auto& s) { return s.first == p; })) continue;
            int fd = static_cast<int>(::syscall(SYS_pidfd_open, p, 0));
            if (fd >= 0) j.strays.emplace_back(p, unique_fd(fd));
        }
    }
    for (const auto& s : j.strays) (void)::syscall(SYS_pidfd_send_signal, s.second.get(), sig, nullptr, 0);
    if (j.child.status()) return;
    (void)j.child.signal_tree(sig);
}

Status Supervisor::signal(JobId id, int sig) {
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return fail(Error::from_errno(ESRCH, "signal job " + std::to_string(id)));
    Job& j = it->second;
    if (!j.opts.tree_cgroup.empty()) return signal_cgroup(j.opts.tree_cgroup, sig);
    return j.child.signal_tree(sig);
}

void Supervisor::stop(JobId id, bool now) {
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return;
    Job& j = it->second;
    if (now) {
        loop_.cancel(j.timer);
        j.timer = 0;
        j.terminating = true;
        j.step = term_.size();
        signal_tree(j, SIGKILL);
        return;
    }
    if (j.terminating) return;
    loop_.cancel(j.timer);  // the deadline
    j.timer = 0;
    j.terminating = true;
    j.step = 0;
    advance(id);
}

void Supervisor::stop_all(bool now) {
    std::vector<JobId> ids;
    for (const auto& [id, j] : jobs_) ids.push_back(id);
    for (JobId id : ids) stop(id, now);
}

void Supervisor::advance(JobId id) {
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return;
    Job& j = it->second;
    j.timer = 0;
    if (j.step >= term_.size()) return;
    const TermStep& s = term_[j.step++];
    signal_tree(j, s.sig);
    // A stopped process acts on a signal only once continued (SIGKILL aside): continue the tree
    // after each step, as timeout(1) and a shell's kill do, or a stopped job would wait out the
    // whole grace period before the KILL.
    if (s.sig != SIGKILL && s.sig != SIGCONT && s.sig != SIGSTOP && s.sig != SIGTSTP && s.sig != SIGTTIN && s.sig != SIGTTOU)
        signal_tree(j, SIGCONT);
    if (j.step < term_.size()) j.timer = loop_.after(s.wait, [this, id] { advance(id); });
}

void Supervisor::finish(JobId id) {
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return;
    Job j = std::move(it->second);
    jobs_.erase(it);
    loop_.unwatch(j.watch);
    loop_.cancel(j.timer);
    // A job that was being ended loses whatever is left of its tree too (before the reap: the
    // unreaped leader keeps its process-group ID from being reused).
    if (j.terminating) signal_tree(j, SIGKILL);
    // A readable pidfd means the end is there to reap.
    auto st = j.child.try_wait();
    Exit e{id, st && *st ? **st : ExitStatus::killed(SIGKILL), j.timed_out, j.terminating, j.started, Clock::now(),
           std::move(j.child)};
    if (h_.on_exit) h_.on_exit(e);
}

std::size_t Supervisor::reap_orphans(const std::function<void(pid_t, ExitStatus)>& cb) {
    std::size_t reaped = 0;
    for (;;) {
        siginfo_t info{};
        // WNOWAIT: look first; a job's end is left for its pidfd (and so for its own status).
        if (retry_eintr([&] { return waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT); }) != 0) break;
        if (info.si_pid == 0) break;
        JobId mine = 0;
        for (const auto& [id, j] : jobs_)
            if (j.child.pid() == info.si_pid) mine = id;
        if (mine) {
            finish(mine);
            continue;
        }
        siginfo_t got{};
        if (retry_eintr([&] { return waitid(P_PID, static_cast<id_t>(info.si_pid), &got, WEXITED | WNOHANG); }) != 0 ||
            got.si_pid == 0)
            break;
        ++reaped;
        if (cb) cb(got.si_pid, ExitStatus::from_siginfo(got));
    }
    return reaped;
}

}  // namespace prockit
