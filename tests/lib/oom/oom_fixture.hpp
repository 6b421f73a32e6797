// tests/lib/oom/oom_fixture.hpp — a /proc + /sys fixture tree for the oom/ tests and poomguard's
// (PROCKIT_FSROOT): processes with stat, status, cmdline, cgroup, oom_score and oom_score_adj
// files, memory PSI, /proc/vmstat, mountinfo and cgroup directories. Removed by the destructor.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

namespace prockit::test {

struct FakeProcess {
    pid_t pid = 0;
    std::string comm = "proc";
    pid_t ppid = 1;
    unsigned long long start_time = 1000;
    int oom_score = 666;
    int oom_score_adj = 0;
    long long rss_kib = 1024;    ///< -1: no VmRSS line (a kernel thread)
    long long swap_kib = 0;
    std::string cmdline;         ///< arguments separated by '\0'; "" for none
    std::string cgroup = "0::/\n";
    bool kernel_thread = false;
};

/// The whole content of a file ("" when it cannot be read).
inline std::string read_text(const std::string& path) {
    std::string out;
    if (std::FILE* f = std::fopen(path.c_str(), "re")) {
        char buf[4096];
        std::size_t n;
        while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
        std::fclose(f);
    }
    return out;
}

/// A process with the given PID, name and parent, and the defaults above for the rest.
inline FakeProcess fake(pid_t pid, std::string comm, pid_t ppid = 1) {
    FakeProcess p;
    p.pid = pid;
    p.comm = std::move(comm);
    p.ppid = ppid;
    p.cmdline = p.comm + std::string(1, '\0');
    return p;
}

class OomFixture {
public:
    OomFixture() {
        char tmpl[] = "/tmp/prockit-oom-fixture-XXXXXX";
        if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp");
        root_ = tmpl;
        dir("/proc");
        dir("/proc/self");
        dir("/proc/pressure");
        dir("/sys");
        dir("/sys/fs");
        dir("/sys/fs/cgroup");
        put("/sys/fs/cgroup/cgroup.controllers", "cpu memory pids\n");
        put("/proc/self/mountinfo", "30 24 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw\n");
    }
    ~OomFixture() { std::system(("rm -rf '" + root_ + "'").c_str()); }
    OomFixture(const OomFixture&) = delete;
    OomFixture& operator=(const OomFixture&) = delete;

    const std::string& root() const { return root_; }
    std::string env() const { return "PROCKIT_FSROOT=" + root_; }

    void put(const std::string& path, const std::string& text) const {
        std::ofstream f(root_ + path, std::ios::binary | std::ios::trunc);
        f << text;
        if (!f) throw std::runtime_error("cannot write fixture file " + path);
    }
    void dir(const std::string& path) const { ::mkdir((root_ + path).c_str(), 0755); }
    /// Creates the directories of a path below the root, one by one.
    void dirs(const std::string& path) const {
        for (std::size_t at = 1; at <= path.size(); ++at)
            if (at == path.size() || path[at] == '/') dir(path.substr(0, at));
    }
    std::string read(const std::string& path) const { return read_text(root_ + path); }

    void add(const FakeProcess& p) const {
        std::string s = std::to_string(p.pid);
        std::string d = "/proc/" + s;
        dir(d);
        dir(d + "/task");
        dir(d + "/task/" + s);
        unsigned flags = p.kernel_thread ? 0x00200000u : 0x00400100u;
        // Fields 23 (vsize, bytes) and 24 (rss, pages) as the kernel writes them: 0 without memory.
        const long long page_kib = ::sysconf(_SC_PAGESIZE) / 1024;
        const long long rss_pages = p.rss_kib >= 0 ? p.rss_kib / page_kib : 0;
        const long long vsize = p.rss_kib >= 0 ? (p.rss_kib + 4096) * 1024 : 0;
        std::string stat = s + " (" + p.comm + ") S " + std::to_string(p.ppid) + " " + s + " " + s + " 0 -1 " +
                           std::to_string(flags) + " 0 0 0 0 0 0 0 0 20 0 1 0 " + std::to_string(p.start_time) + " " +
                           std::to_string(vsize) + " " + std::to_string(rss_pages) +
                           " 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n";
        put(d + "/stat", stat);
        put(d + "/task/" + s + "/stat", stat);
        put(d + "/comm", p.comm + "\n");
        put(d + "/cmdline", p.cmdline);
        put(d + "/cgroup", p.cgroup);
        put(d + "/oom_score", std::to_string(p.oom_score) + "\n");
        put(d + "/oom_score_adj", std::to_string(p.oom_score_adj) + "\n");
        std::string status = "Name:\t" + p.comm + "\nState:\tS (sleeping)\nPid:\t" + s + "\nPPid:\t" +
                             std::to_string(p.ppid) + "\n";
        if (p.rss_kib >= 0)
            status += "VmRSS:\t" + std::to_string(p.rss_kib) + " kB\nVmSwap:\t" + std::to_string(p.swap_kib) + " kB\n";
        status += "Threads:\t1\n";
        put(d + "/status", status);
    }

    /// /proc/meminfo with this SwapTotal (kB), and statm files for every process added so far.
    void meminfo(long long swap_total_kib) const {
        put("/proc/meminfo", "MemTotal:       16000000 kB\nSwapTotal:      " + std::to_string(swap_total_kib) + " kB\n");
    }
    void statm(const FakeProcess& p) const {
        const long long page_kib = ::sysconf(_SC_PAGESIZE) / 1024;
        std::string size = p.rss_kib >= 0 ? std::to_string(p.rss_kib / page_kib + 1024) : "0";
        std::string resident = p.rss_kib >= 0 ? std::to_string(p.rss_kib / page_kib) : "0";
        put("/proc/" + std::to_string(p.pid) + "/statm", size + " " + resident + " 0 0 0 0 0\n");
    }

    void pressure(const std::string& text) const { put("/proc/pressure/memory", text); }
    void vmstat(const std::string& text) const { put("/proc/vmstat", text); }

private:
    std::string root_;
};

}  // namespace prockit::test
