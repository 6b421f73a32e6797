#include "process/proctree.hpp"

#include <prockit/proc/procfs.hpp>
#include <prockit/sys/syscall.hpp>

#include <cerrno>
#include <chrono>
#include <poll.h>
#include <sys/pidfd.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <unordered_map>

namespace prockit::detail {

std::vector<ProcEntry> scan_processes() {
    std::vector<ProcEntry> out;
    auto pids = proc::list_pids();
    if (!pids) return out;
    out.reserve(pids->size());
    proc::ProcReader reader;
    for (pid_t pid : *pids) {
        auto st = reader.stat(pid);
        if (st) out.push_back({st->pid, st->ppid, st->pgrp, st->state});  // gone meanwhile: skipped
    }
    return out;
}

std::vector<pid_t> descendants(const std::vector<ProcEntry>& all, pid_t root) {
    std::unordered_multimap<pid_t, const ProcEntry*> kids;
    for (const auto& p : all) kids.emplace(p.ppid, &p);
    std::vector<pid_t> out;
    std::vector<pid_t> frontier{root};
    while (!frontier.empty()) {
        pid_t p = frontier.back();
        frontier.pop_back();
        auto [b, e] = kids.equal_range(p);
        for (auto it = b; it != e; ++it) {
            frontier.push_back(it->second->pid);
            if (it->second->state != 'Z' && it->second->state != 'X') out.push_back(it->second->pid);
        }
    }
    return out;
}

std::vector<pid_t> group_members(const std::vector<ProcEntry>& all, pid_t pgrp) {
    std::vector<pid_t> out;
    for (const auto& p : all)
        if (p.pgrp == pgrp && p.state != 'Z' && p.state != 'X') out.push_back(p.pid);
    return out;
}

std::vector<HeldProcess> hold(const std::vector<pid_t>& pids) {
    std::vector<HeldProcess> out;
    out.reserve(pids.size());
    for (pid_t p : pids) {
        int fd = static_cast<int>(syscall(SYS_pidfd_open, p, 0));
        if (fd >= 0) out.push_back({p, unique_fd(fd)});
    }
    return out;
}

void signal_all(const std::vector<HeldProcess>& held, int sig) {
    for (const auto& h : held) (void)syscall(SYS_pidfd_send_signal, h.pidfd.get(), sig, nullptr, 0);
}

bool wait_all_exited(const std::vector<HeldProcess>& held, long long timeout_ns) {
    using clock = std::chrono::steady_clock;
    auto deadline = clock::now() + std::chrono::nanoseconds(timeout_ns);
    std::vector<pollfd> fds;
    fds.reserve(held.size());
    for (const auto& h : held) fds.push_back({h.pidfd.get(), POLLIN, 0});
    for (;;) {
        std::erase_if(fds, [](const pollfd& p) { return p.revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL); });
        if (fds.empty()) return true;
        auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - clock::now()).count();
        if (left <= 0) return false;
        timespec ts{static_cast<time_t>(left / 1000000000), static_cast<long>(left % 1000000000)};
        for (auto& p : fds) p.revents = 0;
        int r = ppoll(fds.data(), fds.size(), &ts, nullptr);
        if (r < 0 && errno != EINTR) return false;
    }
}

}  // namespace prockit::detail
