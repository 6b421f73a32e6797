// tests/fault/load_support.hpp — pieces for the load binary (issue 18): a process's memory and
// descriptors sampled from /proc, a raw pjobs protocol client that keeps many sockets open at once,
// a cgroup v1 `pids` group held at its limit by a fork loop, and the drop counter of a process's
// netlink socket (to see that the proc connector overran).
#pragma once

#include "tools/common/bad_input_matrix.hpp"
#include "tools/prun/prun_support.hpp"

#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <ctime>
#include <unistd.h>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define PROCKIT_LOAD_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PROCKIT_LOAD_ASAN 1
#endif
#endif

namespace prockit::test::load {

/// Whether RSS figures mean anything here: ASan's quarantine and shadow memory grow with every
/// allocation up to their caps, so memory bounds are checked only in the plain build.
inline constexpr bool rss_meaningful() {
#ifdef PROCKIT_LOAD_ASAN
    return false;
#else
    return true;
#endif
}

/// A field of /proc/PID/status in KiB ("VmHWM", "VmRSS"); nullopt when the process is gone.
inline std::optional<long> status_kb(pid_t pid, const std::string& field) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind(field + ":", 0) == 0) return std::atol(line.c_str() + field.size() + 1);
    return std::nullopt;
}

/// How many descriptors the process has open; nullopt when it is gone.
inline std::optional<int> fd_count(pid_t pid) {
    DIR* d = opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
    if (!d) return std::nullopt;
    int n = 0;
    while (dirent* e = readdir(d))
        if (e->d_name[0] != '.') ++n;
    closedir(d);
    return n;
}

/// utime + stime of a process in clock ticks (0 when gone).
inline long cpu_ticks(pid_t pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string stat;
    if (!std::getline(f, stat)) return 0;
    auto close = stat.rfind(')');
    if (close == std::string::npos) return 0;
    std::istringstream rest(stat.substr(close + 2));
    std::string field;
    long utime = 0, stime = 0;
    for (int i = 3; rest >> field; ++i) {  // field 3 is the state
        if (i == 14) utime = std::atol(field.c_str());
        if (i == 15) {
            stime = std::atol(field.c_str());
            break;
        }
    }
    return utime + stime;
}

/// The peaks seen by sampling a set of processes.
struct Peaks {
    long hwm_kb = 0;  ///< the largest VmHWM of any of them
    int fds = 0;      ///< the most descriptors any of them had open at once
    int samples = 0;
    void sample(pid_t pid) {
        if (auto h = status_kb(pid, "VmHWM")) hwm_kb = std::max(hwm_kb, *h);
        if (auto n = fd_count(pid)) fds = std::max(fds, *n);
    }
};

/// The resolved path of a process's executable ("" when unknown).
inline std::string exe_of(pid_t pid) {
    char buf[4096];
    ssize_t n = readlink(("/proc/" + std::to_string(pid) + "/exe").c_str(), buf, sizeof buf - 1);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

/// The direct children of `pid`, every thread's.
inline std::vector<pid_t> children(pid_t pid) {
    std::vector<pid_t> out;
    DIR* d = opendir(("/proc/" + std::to_string(pid) + "/task").c_str());
    if (!d) return out;
    while (dirent* e = readdir(d)) {
        if (e->d_name[0] == '.') continue;
        std::ifstream f("/proc/" + std::to_string(pid) + "/task/" + e->d_name + "/children");
        pid_t c;
        while (f >> c) out.push_back(c);
    }
    closedir(d);
    return out;
}

/// Samples `pid` and its children running the same program (prun's pool below its top process).
inline void sample_tool(Peaks& p, pid_t pid, const std::string& exe) {
    p.sample(pid);
    for (pid_t c : children(pid))
        if (exe_of(c) == exe) p.sample(c);
    ++p.samples;
}

/// Reaps every child of ours (we are a subreaper) within `limit`; returns those left running.
inline std::vector<pid_t> reap_children(std::chrono::milliseconds limit) {
    std::vector<pid_t> left;
    prockit::test::eventually(
        [&] {
            left.clear();
            for (pid_t p : matrix::detail::own_children()) {
                int ws;
                if (::waitpid(p, &ws, WNOHANG) == p) continue;
                left.push_back(p);
            }
            return left.empty();
        },
        limit);
    return left;
}

// --- a raw pjobs client: one request on one socket, its answer read without blocking ---

/// One connection to the pjobs server, speaking its frames (4-byte big-endian length, a type
/// byte, a JSON payload with "v": 1).
class RawClient {
public:
    bool connect(const std::string& path) {
        sockaddr_un addr{};
        if (path.size() >= sizeof addr.sun_path) return false;
        addr.sun_family = AF_UNIX;
        std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
        fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd_ < 0) return false;
        int r;
        do r = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
        while (r != 0 && errno == EINTR);
        if (r != 0) return false;
        return ::fcntl(fd_, F_SETFL, O_NONBLOCK) == 0;
    }
    bool send(nlohmann::json request) {
        request["v"] = 1;
        std::string payload = request.dump();
        uint32_t len = htonl(static_cast<uint32_t>(payload.size() + 1));
        std::string frame(reinterpret_cast<const char*>(&len), 4);
        frame += 'j';
        frame += payload;
        std::size_t off = 0;
        while (off < frame.size()) {  // a few hundred bytes: the socket buffer takes them at once
            ssize_t w = ::send(fd_, frame.data() + off, frame.size() - off, MSG_NOSIGNAL);
            if (w < 0 && (errno == EINTR || errno == EAGAIN)) continue;
            if (w <= 0) return false;
            off += static_cast<std::size_t>(w);
        }
        return true;
    }
    /// Reads what is there; true once the first frame is complete (or the peer closed).
    bool poll_answer() {
        if (done_) return true;
        char buf[65536];
        for (;;) {
            ssize_t n = ::read(fd_, buf, sizeof buf);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) break;  // EAGAIN: nothing more now
            if (n == 0) {
                closed_ = done_ = true;
                return true;
            }
            buf_.append(buf, static_cast<std::size_t>(n));
        }
        if (buf_.size() >= 5) {
            uint32_t len;
            std::memcpy(&len, buf_.data(), 4);
            len = ntohl(len);
            if (buf_.size() >= 4 + static_cast<std::size_t>(len)) {
                type_ = buf_[4];
                answer_ = nlohmann::json::parse(buf_.substr(5, len - 1), nullptr, false);
                done_ = true;
            }
        }
        return done_;
    }
    int fd() const { return fd_; }
    bool done() const { return done_; }
    bool closed() const { return closed_; }
    char type() const { return type_; }
    const nlohmann::json& answer() const { return answer_; }
    void close() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }
    RawClient() = default;
    RawClient(const RawClient&) = delete;
    RawClient& operator=(const RawClient&) = delete;
    RawClient(RawClient&& o) noexcept { *this = std::move(o); }
    RawClient& operator=(RawClient&& o) noexcept {
        std::swap(fd_, o.fd_);
        buf_ = std::move(o.buf_);
        answer_ = std::move(o.answer_);
        done_ = o.done_;
        closed_ = o.closed_;
        type_ = o.type_;
        return *this;
    }
    ~RawClient() { close(); }

private:
    int fd_ = -1;
    std::string buf_;
    nlohmann::json answer_;
    bool done_ = false, closed_ = false;
    char type_ = 0;
};

// --- a cgroup v1 pids group held at its limit ---

inline bool write_text(const std::string& path, const std::string& text) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return false;
    ssize_t w = ::write(fd, text.data(), text.size());
    ::close(fd);
    return w == static_cast<ssize_t>(text.size());
}
inline long read_long(const std::string& path, long otherwise = -1) {
    std::ifstream f(path);
    long v;
    return f >> v ? v : otherwise;
}

/// A fresh group under /sys/fs/cgroup/pids with pids.max = `max`; empty path when it cannot be
/// made (no pids controller, not root). Its processes are killed and it is removed at the end.
class PidsGroup {
public:
    explicit PidsGroup(int max) {
        const std::string root = "/sys/fs/cgroup/pids";
        if (::access((root + "/cgroup.procs").c_str(), W_OK) != 0) return;
        std::string p = root + "/prockit-load-" + std::to_string(::getpid());
        if (::mkdir(p.c_str(), 0755) != 0 && errno != EEXIST) return;
        if (!write_text(p + "/pids.max", std::to_string(max))) {
            ::rmdir(p.c_str());
            return;
        }
        path_ = p;
    }
    PidsGroup(const PidsGroup&) = delete;
    PidsGroup& operator=(const PidsGroup&) = delete;
    ~PidsGroup() { empty_and_remove(); }
    const std::string& path() const { return path_; }
    long current() const { return read_long(path_ + "/pids.current"); }
    /// How many forks the limit refused (pids.events' "max" count; -1 when unknown).
    long refused() const {
        std::ifstream f(path_ + "/pids.events");
        std::string key;
        long v;
        while (f >> key >> v)
            if (key == "max") return v;
        return -1;
    }
    std::vector<pid_t> procs() const {
        std::ifstream f(path_ + "/cgroup.procs");
        std::vector<pid_t> out;
        pid_t p;
        while (f >> p) out.push_back(p);
        return out;
    }
    /// Kills what is inside until nothing is (a fork loop's leader first: it is our child), then
    /// removes the group. True when it ended empty.
    bool empty_and_remove() {
        if (path_.empty()) return true;
        bool empty = prockit::test::eventually(
            [&] {
                for (pid_t p : procs()) {
                    ::kill(p, SIGKILL);
                    ::waitpid(p, nullptr, WNOHANG);  // ours when we are their subreaper
                }
                return procs().empty();
            },
            std::chrono::seconds(20));
        if (empty) ::rmdir(path_.c_str());
        path_.clear();
        return empty;
    }

private:
    std::string path_;
};

/// A fork loop inside `group`: it forks until the limit refuses, each child runs /bin/true (every
/// fourth) or exits after 10 ms, and it reaps and forks again. SIGKILL ends it; the group's
/// remaining processes are the group's to kill.
/// `forks`, when given, points to a counter in memory shared with the loop (see shared_counter).
inline pid_t start_fork_storm(const PidsGroup& group, volatile long* forks = nullptr) {
    const std::string procs = group.path() + "/cgroup.procs";
    pid_t pid = ::fork();
    if (pid != 0) return pid;
    // The storm's leader: a copy of the test process that does nothing but fork and reap.
    char me[32];
    int n = std::snprintf(me, sizeof me, "%d", ::getpid());
    int fd = ::open(procs.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0 || ::write(fd, me, static_cast<std::size_t>(n)) != n) ::_exit(111);
    ::close(fd);
    char true_path[] = "/bin/true";
    char* argv[] = {true_path, nullptr};
    char* envp[] = {nullptr};
    for (unsigned i = 0;; ++i) {
        pid_t c = ::fork();
        if (c == 0) {
            if (i % 4 == 0) ::execve(true_path, argv, envp);
            const timespec pause{0, 10 * 1000 * 1000};  // long enough for the group to fill
            ::nanosleep(&pause, nullptr);
            ::_exit(0);
        }
        if (c > 0 && forks) *forks = *forks + 1;
        int ws;
        if (c < 0) {
            ::waitpid(-1, &ws, 0);  // at the limit: one must end before the next fork
        }
        while (::waitpid(-1, &ws, WNOHANG) > 0) {
        }
    }
}

/// A counter in anonymous shared memory, seen by a forked copy's writes (unmapped at exit).
class SharedCounter {
public:
    SharedCounter() {
        void* p = ::mmap(nullptr, sizeof(long), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        p_ = p == MAP_FAILED ? nullptr : static_cast<volatile long*>(p);
    }
    SharedCounter(const SharedCounter&) = delete;
    SharedCounter& operator=(const SharedCounter&) = delete;
    ~SharedCounter() {
        if (p_) ::munmap(const_cast<long*>(p_), sizeof(long));
    }
    volatile long* get() const { return p_; }
    long value() const { return p_ ? *p_ : 0; }

private:
    volatile long* p_ = nullptr;
};

/// The drop count of the NETLINK_CONNECTOR socket that process `pid` holds (from
/// /proc/PID/net/netlink, matched by inode); nullopt when it holds none.
inline std::optional<long> connector_drops(pid_t pid) {
    std::vector<std::string> inodes;
    const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
    DIR* d = opendir(dir.c_str());
    if (!d) return std::nullopt;
    while (dirent* e = readdir(d)) {
        if (e->d_name[0] == '.') continue;
        char buf[128];
        ssize_t n = readlink((dir + "/" + e->d_name).c_str(), buf, sizeof buf - 1);
        if (n <= 0) continue;
        std::string link(buf, static_cast<std::size_t>(n));
        if (link.rfind("socket:[", 0) == 0) inodes.push_back(link.substr(8, link.size() - 9));
    }
    closedir(d);
    std::ifstream f("/proc/" + std::to_string(pid) + "/net/netlink");
    std::string line;
    std::getline(f, line);  // sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode
    while (std::getline(f, line)) {
        std::istringstream in(line);
        std::string sk, eth, port, groups, rmem, wmem, dump, locks, drops, inode;
        if (!(in >> sk >> eth >> port >> groups >> rmem >> wmem >> dump >> locks >> drops >> inode)) continue;
        if (eth != "11") continue;  // NETLINK_CONNECTOR
        for (const auto& i : inodes)
            if (i == inode) return std::atol(drops.c_str());
    }
    return std::nullopt;
}

}  // namespace prockit::test::load
