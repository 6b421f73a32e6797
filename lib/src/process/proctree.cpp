#include "process/proctree.hpp"

#include <prockit/sys/fsroot.hpp>
#include <prockit/sys/syscall.hpp>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/pidfd.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <unordered_map>

namespace prockit::detail {

std::vector<ProcEntry> scan_processes() {
    std::vector<ProcEntry> out;
    const FsRoot& root = FsRoot::system();
    std::string dir = root.proc("");
    DIR* d = opendir(dir.c_str());
    if (!d) return out;
    char buf[512];
    while (dirent* e = readdir(d)) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
        std::string path = dir + e->d_name + "/stat";
        int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        ssize_t n = retry_eintr([&] { return ::read(fd, buf, sizeof buf - 1); });
        ::close(fd);
        if (n <= 0) continue;
        buf[n] = '\0';
        // "pid (comm) S ppid pgrp ..." — comm may hold spaces and parentheses: use the last ')'.
        const char* rp = std::strrchr(buf, ')');
        if (!rp) continue;
        ProcEntry pe{};
        char state = 0;
        int ppid = 0, pgrp = 0;
        if (std::sscanf(rp + 1, " %c %d %d", &state, &ppid, &pgrp) != 3) continue;
        pe.pid = static_cast<pid_t>(std::atoi(e->d_name));
        pe.ppid = ppid;
        pe.pgrp = pgrp;
        pe.state = state;
        out.push_back(pe);
    }
    closedir(d);
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
