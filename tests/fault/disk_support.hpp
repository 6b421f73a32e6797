// tests/fault/disk_support.hpp — pieces of the full-disk and SIGSTOP fault cases (issue 18): a small
// tmpfs unmounted even when a test fails, filling a file system to the brim, a seeded generator
// whose seed a failure prints, and the "no process left behind" check (the test process is a
// child subreaper meanwhile, so whatever a tool started and left is reparented here and found).
#pragma once

#include "tools/common/bad_input_matrix.hpp"
#include "tools/prun/prun_support.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

namespace prockit::test::fault {

/// A tmpfs of `size` (a mount option: "16k") in a scratch directory, unmounted (lazily, so a
/// process still using it cannot keep it) by the destructor, on failure too. `path` is empty when
/// it cannot be had; `why` says why.
struct SmallTmpfs {
    TempDir d;
    std::string path, why;
    explicit SmallTmpfs(const std::string& size, const std::string& name = "small") {
        std::string mnt = d / name;
        ::mkdir(mnt.c_str(), 0755);
        if (::geteuid() != 0) why = "needs root to mount a tmpfs";
        else if (::mount("prockit-fault", mnt.c_str(), "tmpfs", 0, ("size=" + size + ",mode=0755").c_str()) == 0) path = mnt;
        else why = std::string("cannot mount a tmpfs: ") + std::strerror(errno);
    }
    ~SmallTmpfs() {
        if (!path.empty()) ::umount2(path.c_str(), MNT_DETACH);
    }
    SmallTmpfs(const SmallTmpfs&) = delete;
    SmallTmpfs& operator=(const SmallTmpfs&) = delete;
    std::string operator/(const std::string& name) const { return path + "/" + name; }
};

/// Bytes still free in the file system holding `dir` (as root sees it).
inline std::uint64_t free_bytes(const std::string& dir) {
    struct statfs sf {};
    if (::statfs(dir.c_str(), &sf) != 0) return 0;
    return static_cast<std::uint64_t>(sf.f_bfree) * static_cast<std::uint64_t>(sf.f_bsize);
}

/// Fills the file system of `dir` with the file `dir/name` until at most `leave` bytes are free
/// (to the brim with 0). Returns the filler's size.
inline std::uint64_t fill(const std::string& dir, const std::string& name, std::uint64_t leave = 0) {
    std::string path = dir + "/" + name;
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return 0;
    std::string block(4096, 'f');
    while (free_bytes(dir) > leave) {
        std::uint64_t over = free_bytes(dir) - leave;
        ssize_t w = ::write(fd, block.data(), static_cast<std::size_t>(std::min<std::uint64_t>(over, block.size())));
        if (w <= 0) break;
    }
    struct stat st {};
    ::fstat(fd, &st);
    ::close(fd);
    return static_cast<std::uint64_t>(st.st_size);
}

/// The seed of a test's generator: PROCKIT_FAULT_SEED to replay a failure, else a fresh one.
/// Put it in a SCOPED_TRACE so that a failure prints it.
inline std::uint64_t seed() {
    if (const char* s = std::getenv("PROCKIT_FAULT_SEED")) return std::strtoull(s, nullptr, 10);
    return std::random_device{}();
}
inline std::string seed_trace(std::uint64_t s) { return "seed " + std::to_string(s) + " (replay: PROCKIT_FAULT_SEED=" + std::to_string(s) + ")"; }

inline std::string cmdline_of(pid_t pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/cmdline");
    std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    for (char& c : s)
        if (c == '\0') c = ' ';
    return s;
}

/// The test process is a child subreaper for the object's life. check() waits (with a deadline)
/// until every child that appeared meanwhile has ended, reaps it, and names those still there
/// (then kills them, so one failure does not spoil the next case). Call it only when no Child of
/// the test is still running (those are children too).
struct NoneLeftBehind {
    std::set<pid_t> before = matrix::detail::own_children();
    NoneLeftBehind() { ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); }
    ~NoneLeftBehind() { ::prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0); }
    NoneLeftBehind(const NoneLeftBehind&) = delete;
    NoneLeftBehind& operator=(const NoneLeftBehind&) = delete;

    /// The new children still there (zombies are reaped as they are found).
    std::set<pid_t> left() {
        std::set<pid_t> out;
        for (pid_t p : matrix::detail::own_children()) {
            if (before.count(p)) continue;
            if (::waitpid(p, nullptr, WNOHANG) == p) continue;
            out.insert(p);
        }
        return out;
    }
    void check(const std::string& what, std::chrono::seconds limit = std::chrono::seconds(20)) {
        std::set<pid_t> l;
        bool gone = eventually([&] { return (l = left()).empty(); }, limit);
        if (gone) return;
        std::string names;
        for (pid_t p : l) names += " " + std::to_string(p) + " (" + cmdline_of(p) + ")";
        ADD_FAILURE() << what << ": processes left behind:" << names;
        for (pid_t p : l) {
            ::kill(p, SIGKILL);
            ::kill(p, SIGCONT);
            ::waitpid(p, nullptr, 0);
        }
    }
};

/// Whether a process is stopped (state T), as /proc/PID/stat says.
inline bool is_stopped(pid_t pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string stat;
    if (!std::getline(f, stat)) return false;
    auto close = stat.rfind(')');
    return close != std::string::npos && close + 2 < stat.size() && (stat[close + 2] == 'T' || stat[close + 2] == 't');
}

/// The lines of `text` that do not end with '\n' count as torn: true when every line is whole.
inline bool whole_lines(const std::string& text) { return text.empty() || text.back() == '\n'; }

}  // namespace prockit::test::fault
