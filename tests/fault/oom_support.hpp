// tests/fault/oom_support.hpp — the real OOM killer in a cgroup v1 memory group, for the fault
// tests: a group with a limit and no swap (MemCg), the way into it for a command (a shell that
// writes its own PID into cgroup.procs, then execs), and a memory hog that drives the group over its
// limit and stops as soon as the kernel has killed someone (Hog), so that exactly one victim falls.
#pragma once

#include "support.hpp"

#include <prockit/process/process.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <sys/mman.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace prockit::test {

inline std::string read_text(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

inline bool write_text(const std::string& path, const std::string& v) {
    std::ofstream f(path);
    f << v;
    f.flush();
    return static_cast<bool>(f);
}

/// A field of a cgroup v1 key-value file ("oom_kill 3"), or -1.
inline long cg_field(const std::string& text, const std::string& key) {
    std::istringstream in(text);
    std::string k;
    long v = 0;
    while (in >> k >> v)
        if (k == key) return v;
    return -1;
}

/// /proc/PID/oom_score_adj, or nullopt when the process is gone.
inline std::optional<int> oom_adj_of(pid_t pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/oom_score_adj");
    int v = 0;
    if (!(f >> v)) return std::nullopt;
    return v;
}

inline bool set_oom_adj(pid_t pid, int adj) {
    return write_text("/proc/" + std::to_string(pid) + "/oom_score_adj", std::to_string(adj));
}

/// A cgroup v1 memory group with `limit_mib` MiB and no swap, removed at the end of the test after
/// SIGKILLing what is still in it (tests check that it drained by itself first: drains()).
class MemCg {
public:
    explicit MemCg(const std::string& tag, long limit_mib = 64) {
        const std::string root = "/sys/fs/cgroup/memory";
        if (::access((root + "/memory.limit_in_bytes").c_str(), W_OK) != 0) {
            skip_ = "no writable cgroup v1 memory controller at " + root;
            return;
        }
        dir_ = root + "/prockit-fault-oom-" + tag + "-" + std::to_string(::getpid());
        if (::mkdir(dir_.c_str(), 0755) != 0 && errno != EEXIST) {
            skip_ = "cannot create a memory cgroup: " + std::string(std::strerror(errno));
            dir_.clear();
            return;
        }
        if (!write_text(dir_ + "/memory.limit_in_bytes", std::to_string(limit_mib) + "M")) {
            skip_ = "cannot set memory.limit_in_bytes of " + dir_;
            return;
        }
        (void)write_text(dir_ + "/memory.swappiness", "0");  // no swap to escape into, where allowed
        (void)write_text(dir_ + "/memory.memsw.limit_in_bytes", std::to_string(limit_mib) + "M");
        if (cg_field(read_text(dir_ + "/memory.oom_control"), "oom_kill") < 0) skip_ = "memory.oom_control has no oom_kill count";
        if (cg_field(read_text(dir_ + "/memory.oom_control"), "oom_kill_disable") != 0) skip_ = "the OOM killer is disabled in " + dir_;
    }
    MemCg(const MemCg&) = delete;
    MemCg& operator=(const MemCg&) = delete;
    ~MemCg() {
        if (dir_.empty()) return;
        using namespace std::chrono_literals;
        for (int round = 0; round < 1000; ++round) {
            auto p = procs();
            if (p.empty() && ::rmdir(dir_.c_str()) == 0) return;
            for (pid_t pid : p) ::kill(pid, SIGKILL);
            std::this_thread::sleep_for(10ms);
        }
    }

    /// Why the group cannot be used (empty when it can).
    const std::string& skip_reason() const { return skip_; }
    const std::string& dir() const { return dir_; }
    long oom_kills() const { return cg_field(read_text(dir_ + "/memory.oom_control"), "oom_kill"); }
    bool add(pid_t pid) const { return write_text(dir_ + "/cgroup.procs", std::to_string(pid)); }
    std::vector<pid_t> procs() const {
        std::istringstream in(read_text(dir_ + "/cgroup.procs"));
        std::vector<pid_t> v;
        pid_t p;
        while (in >> p) v.push_back(p);
        return v;
    }
    bool holds(pid_t pid) const {
        for (pid_t p : procs())
            if (p == pid) return true;
        return false;
    }
    /// Waits (at most `limit`) until no process is left in the group; true if none is.
    bool drains(std::chrono::milliseconds limit = std::chrono::seconds(10)) const {
        return eventually([&] { return procs().empty(); }, limit);
    }
    std::string procs_text() const {
        std::string s;
        for (pid_t p : procs()) {
            std::string cmd = read_text("/proc/" + std::to_string(p) + "/cmdline");
            for (char& c : cmd)
                if (c == '\0') c = ' ';
            s += std::to_string(p) + " (" + cmd + ") ";
        }
        return s.empty() ? "none" : s;
    }
    /// A `sh -c` script that moves the shell into the group (and sets its oom_score_adj when `adj`
    /// is given), then execs "$0" "$@": `sh -c SCRIPT PROGRAM ARGS...`.
    std::string enter(std::optional<int> adj = std::nullopt) const {
        std::string s = "echo $$ > " + dir_ + "/cgroup.procs && ";
        if (adj) s += "echo " + std::to_string(*adj) + " > /proc/self/oom_score_adj && ";
        return s + "exec \"$0\" \"$@\"";
    }

private:
    std::string dir_, skip_;
};

#define PROCKIT_NEED_MEMCG(cg) \
    if (!(cg).skip_reason().empty()) GTEST_SKIP() << (cg).skip_reason()

/// How a hog holds its memory. `file`: pages of a memfd filled with write(2) — charged to the group
/// like any memory, but counted in no process's RSS, so the OOM killer's choice among the group's
/// processes is decided by their oom_score_adj, whatever the hog holds. (An anonymous hog that fills
/// a 64 MiB group has ~65 MiB of RSS, more than the 62.5 MiB that adj 1000 adds to a small victim's
/// score in such a group: the kernel would take the hog.) `anon`: touched anonymous memory, counted
/// in the hog's RSS as a real program's heap is.
enum class HogKind { file, anon };

/// A cgroup file read again and again through one descriptor opened before the group is full: the
/// hog's checks then allocate nothing in the group near its limit.
class CgCounter {
public:
    explicit CgCounter(const std::string& path) : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) { (void)text(); }
    ~CgCounter() {
        if (fd_ >= 0) ::close(fd_);
    }
    CgCounter(const CgCounter&) = delete;
    CgCounter& operator=(const CgCounter&) = delete;
    bool ok() const { return fd_ >= 0; }
    /// The whole file; empty on error.
    std::string text() {
        ssize_t n = fd_ < 0 ? -1 : ::pread(fd_, buf_, sizeof buf_ - 1, 0);
        return n > 0 ? std::string(buf_, static_cast<std::size_t>(n)) : std::string();
    }
    long number() { return std::atol(text().c_str()); }
    long field(const std::string& key) { return cg_field(text(), key); }

private:
    int fd_;
    char buf_[1024];
};

/// The oom_score_adj that makes a process of `rss_pages` the OOM killer's next choice after any
/// process at 1000, in a group of `limit_bytes`: the kernel scores a process as its resident and
/// page-table pages plus adj x (the group's pages / 1000), so this stays 256 pages below the score
/// of a victim at 1000 with nothing resident, and above every process at 0 the group can hold.
inline int second_choice_adj(long limit_bytes, long rss_pages) {
    const long unit = std::max(1L, limit_bytes / 4096 / 1000);
    return static_cast<int>(std::clamp((1000 * unit - rss_pages - 256) / unit, 0L, 999L));
}

/// The resident and page-table pages the kernel's OOM score counts for this process.
inline long own_oom_pages() {
    long size = 0, resident = 0, pte_kib = 0;
    std::istringstream(read_text("/proc/self/statm")) >> size >> resident;
    std::istringstream st(read_text("/proc/self/status"));
    for (std::string line; std::getline(st, line);)
        if (line.rfind("VmPTE:", 0) == 0) pte_kib = std::atol(line.c_str() + 6);
    return resident + pte_kib / 4;
}

/// The body of a hog process: joins `dir`, takes oom_score_adj `adj` (none: the OOM killer's next
/// choice after the test's victim at 1000, see below), then takes memory — in 256 KiB steps while
/// the group has 4 MiB to spare, then page by page — until the group's oom_kill count grows (with
/// `stop_at_kill`: then frees it all and returns 0) or 4x the limit was had without a kill (returns
/// 3). Without `stop_at_kill` it goes on until it is killed itself.
///
/// The kernel may kill twice for one shortage: a victim's freed pages can sit for a moment in
/// another CPU's charge cache, and the charge that set off the first kill then sets off a second
/// before the hog sees the first (two to five times in a hundred runs on two busy CPUs). So that
/// the second is never a bystander the test means to survive (a database, a pjobs job), the hog
/// makes itself that second choice; tests accept the hog's own SIGKILL with exactly two kills.
inline int hog_main(const std::string& dir, std::optional<int> adj, bool stop_at_kill, HogKind kind) {
    if (!write_text(dir + "/cgroup.procs", std::to_string(::getpid()))) return 4;
    const long limit = std::atol(read_text(dir + "/memory.limit_in_bytes").c_str());
    static char page[256 << 10];
    std::memset(page, 'h', sizeof page);
    CgCounter usage(dir + "/memory.usage_in_bytes"), oom(dir + "/memory.oom_control");
    if (!usage.ok() || !oom.ok()) return 8;
    if (!set_oom_adj(::getpid(), adj ? *adj : second_choice_adj(limit, own_oom_pages()))) return 5;
    const long base = oom.field("oom_kill");
    const std::size_t cap = static_cast<std::size_t>(limit) * 4;
    int fd = -1;
    volatile char* p = nullptr;
    if (kind == HogKind::file) {
        fd = ::memfd_create("prockit-oom-hog", MFD_CLOEXEC);
        if (fd < 0) return 6;
    } else {
        void* m = ::mmap(nullptr, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (m == MAP_FAILED) return 6;
        p = static_cast<char*>(m);
    }
    int failures = 0;
    for (std::size_t at = 0; at < cap;) {
        std::size_t step = usage.number() + (4L << 20) < limit ? sizeof page : 4096u;
        if (kind == HogKind::file) {
            ssize_t n = ::write(fd, page, step);
            if (n > 0) at += static_cast<std::size_t>(n);
            else if (++failures > 1000) return 7;  // ENOMEM while the kernel is still freeing a victim
        } else {
            for (std::size_t k = 0; k < step; k += 4096) p[at + k] = 1;
            at += step;
        }
        if (stop_at_kill && oom.field("oom_kill") > base) {
            if (fd >= 0) ::close(fd);
            if (p) ::munmap(const_cast<char*>(p), cap);
            return 0;
        }
    }
    return 3;
}

/// A hog in its own process (a child of the test).
class Hog {
public:
    explicit Hog(const MemCg& cg, std::optional<int> adj = std::nullopt, bool stop_at_kill = true, HogKind kind = HogKind::file)
        : proc_(std::make_unique<Process>(
              [dir = cg.dir(), adj, stop_at_kill, kind] { std::_Exit(hog_main(dir, adj, stop_at_kill, kind)); })) {
        proc_->start();
    }
    /// Its end within `limit`: the exit status, or nullopt when it did not end (then it is killed).
    std::optional<ExitStatus> end(std::chrono::seconds limit = std::chrono::seconds(60)) {
        if (!proc_->join(limit)) {
            proc_->kill();
            proc_->join();
            return std::nullopt;
        }
        return proc_->status();
    }
    pid_t pid() const { return proc_->pid().value_or(0); }

private:
    std::unique_ptr<Process> proc_;
};

/// The kernel's last OOM-kill lines (for failure messages; empty where dmesg cannot be read).
inline std::string kernel_oom_log() {
    std::string out;
    if (FILE* f = ::popen("dmesg 2>/dev/null | grep -E 'Killed process|invoked oom-killer' | tail -n 6", "re")) {
        char buf[512];
        while (std::fgets(buf, sizeof buf, f)) out += buf;
        ::pclose(f);
    }
    return out;
}

/// What a hog's end says, for messages.
inline std::string describe(const std::optional<ExitStatus>& st) {
    if (!st) return "did not end";
    if (st->signal()) return "killed by signal " + std::to_string(*st->signal());
    return "exited " + std::to_string(st->code().value_or(-1)) +
           (st->code() == 3 ? " (no OOM kill within 4x the limit)" : st->code() == 0 ? " (saw the kill)" : " (set-up failed)");
}

}  // namespace prockit::test
