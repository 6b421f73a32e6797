// tests/tools/prun/prun_support.hpp — running the built prun binary from tests: output captured
// in files, a deadline on every run (the process tree is killed if it is passed), a scratch dir.
#pragma once

#include "support.hpp"

#include <prockit/process/command.hpp>
#include <prockit/sys/syscall.hpp>

#include <gtest/gtest.h>

#include <sys/mount.h>
#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace prockit::test {

inline std::string prun_path() {
    const char* b = std::getenv("PROCKIT_BUILD_DIR");
    return std::string(b ? b : ".") + "/tools/prun/prun";
}

/// A scratch directory removed at the end of the test.
struct TempDir {
    std::string path;
    TempDir() {
        char tmpl[] = "/tmp/prun-test-XXXXXX";
        char* p = mkdtemp(tmpl);
        path = p ? p : "/tmp";
    }
    ~TempDir() {
        std::string cmd = "rm -rf '" + path + "'";
        int r = std::system(cmd.c_str());
        (void)r;
    }
    std::string operator/(const std::string& name) const { return path + "/" + name; }
};

inline std::string slurp(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}
inline void spit(const std::string& path, const std::string& data) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << data;
}

struct PrunResult {
    int code = -1;  // shell-style exit status
    std::string out, err;
};

/// Runs `program args...` with stdin from `input` (a string), output into files, within `limit`.
inline PrunResult run_program(const std::string& program, const std::vector<std::string>& args,
                              const std::string& input = {}, std::chrono::seconds limit = std::chrono::seconds(60),
                              std::function<void(Command&)> tweak = {}) {
    TempDir io;
    spit(io / "in", input);
    Command c(program);
    c.args(args).in(Stdio::file(io / "in")).out(Stdio::write_file(io / "out")).err(Stdio::write_file(io / "err"));
    c.new_process_group().on_destroy(DestroyPolicy::kill_tree, std::chrono::seconds(0));
    if (tweak) tweak(c);
    PrunResult r;
    auto child = c.spawn();
    if (!child) {
        ADD_FAILURE() << child.error().message();
        return r;
    }
    auto st = child->wait_for(limit);
    if (!st || !*st) {
        ADD_FAILURE() << program << " did not finish within " << limit.count() << "s";
        (void)child->terminate_tree(std::chrono::seconds(0));
        r.out = slurp(io / "out");
        r.err = slurp(io / "err");
        return r;
    }
    r.code = (*st)->shell_code();
    r.out = slurp(io / "out");
    r.err = slurp(io / "err");
    return r;
}

inline PrunResult prun(const std::vector<std::string>& args, const std::string& input = {},
                       std::chrono::seconds limit = std::chrono::seconds(60)) {
    return run_program(prun_path(), args, input, limit);
}

/// "key=value" lines.
inline std::map<std::string, std::string> kv(const std::string& out) {
    std::map<std::string, std::string> m;
    std::istringstream in(out);
    std::string line;
    while (std::getline(in, line)) {
        auto eq = line.find('=');
        if (eq != std::string::npos) m[line.substr(0, eq)] = line.substr(eq + 1);
    }
    return m;
}

inline std::vector<std::string> lines(const std::string& out) {
    std::vector<std::string> v;
    std::istringstream in(out);
    std::string line;
    while (std::getline(in, line)) v.push_back(line);
    return v;
}

/// The tab-separated columns of a joblog line.
inline std::vector<std::string> columns(const std::string& l) {
    std::vector<std::string> c;
    std::size_t p = 0;
    for (;;) {
        auto t = l.find('\t', p);
        c.push_back(l.substr(p, t == std::string::npos ? std::string::npos : t - p));
        if (t == std::string::npos) break;
        p = t + 1;
    }
    return c;
}

/// Polls `cond` until it holds or `limit` passes.
inline bool eventually(const std::function<bool()>& cond, std::chrono::milliseconds limit = std::chrono::seconds(20)) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
        if (cond()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return cond();
}

/// A small tmpfs for $TMPDIR, unmounted at the end; empty when it cannot be had.
struct SmallTmpfs {
    TempDir d;
    std::string path;
    SmallTmpfs() {
        std::string mnt = d / "small";
        mkdir(mnt.c_str(), 0700);
        if (mount("prun-test", mnt.c_str(), "tmpfs", 0, "size=64k") == 0) path = mnt;
        else why = std::strerror(errno);
    }
    ~SmallTmpfs() {
        if (!path.empty()) umount2(path.c_str(), MNT_DETACH);
    }
    std::string why;
};

/// Whether GNU parallel is installed (for side-by-side cases).
inline bool have_gnu_parallel() {
    return access("/usr/bin/parallel", X_OK) == 0 || access("/usr/local/bin/parallel", X_OK) == 0;
}

}  // namespace prockit::test
