// tests/fault/limits_support.hpp — running the tools under a small descriptor limit or in a small
// pids cgroup, and the checks every such case makes afterwards: stderr holds at most one error
// line, in the house form; nothing the run started is left (the test process is a child
// subreaper meanwhile); a cgroup made for a case is emptied and removed even when the case fails.
#pragma once

#include "tools/common/bad_input_matrix.hpp"
#include "tools/pjobs/pjobs_support.hpp"

#include <prockit/process/command.hpp>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fstream>
#include <regex>
#include <set>
#include <string>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace prockit::test::limits {

/// `program args...` run to its end with RLIMIT_NOFILE set to `nofile` (soft and hard) in the
/// child before exec.
inline PrunResult run_with_nofile(const std::string& program, const std::vector<std::string>& args, rlim_t nofile,
                                  const std::string& input = {}, std::function<void(Command&)> tweak = {}) {
    return run_program(program, args, input, std::chrono::seconds(60), [&](Command& c) {
        c.rlimit(RLIMIT_NOFILE, nofile, nofile);
        if (tweak) tweak(c);
    });
}

/// The lines of `err` that are not warnings ("TOOL: warning: ...").
inline std::vector<std::string> error_lines(const std::string& tool, const std::string& err) {
    std::vector<std::string> out;
    for (const auto& l : lines(err))
        if (l.rfind(tool + ": warning: ", 0) != 0) out.push_back(l);
    return out;
}

/// Whether `line` is `TOOL: cannot <verb> <object>: <reason>`.
inline bool house_form(const std::string& tool, const std::string& line) {
    return std::regex_match(line + "\n", matrix::house_form(tool));
}

/// Checks a run that failed: exactly one error line, in the house form, with `code`.
inline void expect_clear_failure(const std::string& tool, const PrunResult& r, int code, const std::string& what) {
    EXPECT_EQ(r.code, code) << what << "\n" << r.err;
    auto errs = error_lines(tool, r.err);
    ASSERT_EQ(errs.size(), 1u) << what << ": not one error line:\n" << r.err;
    EXPECT_TRUE(house_form(tool, errs[0])) << what << ": not in the house form: " << errs[0];
}

/// The test process is a child subreaper while this lives; `left()` is what the cases started
/// that still runs (reaped when it has ended), waited for with a deadline.
class Leftovers {
public:
    Leftovers() : before_(matrix::detail::own_children()) {}
    /// Reaps what ended and was left to this subreaper (a daemon's orphans: pjobs' holders), as
    /// init would: a zombie still counts against a pids.max.
    void reap() {
        for (pid_t p : matrix::detail::own_children()) {
            int ws;
            if (!before_.count(p)) (void)::waitpid(p, &ws, WNOHANG);
        }
    }
    std::set<pid_t> left(std::chrono::seconds limit = std::chrono::seconds(10)) {
        std::set<pid_t> out;
        prockit::test::eventually(
            [&] {
                out.clear();
                for (pid_t p : matrix::detail::own_children()) {
                    if (before_.count(p)) continue;
                    int ws;
                    if (::waitpid(p, &ws, WNOHANG) == p) continue;
                    out.insert(p);
                }
                return out.empty();
            },
            limit);
        for (pid_t p : out) ::kill(p, SIGKILL);
        return out;
    }

private:
    matrix::detail::Subreaper subreaper_;
    std::set<pid_t> before_;
};

/// A cgroup v1 pids group with a pids.max, removed (after its members are killed) at the end.
class PidsGroup {
public:
    explicit PidsGroup(int max) {
        const std::string root = "/sys/fs/cgroup/pids";
        struct stat st {};
        if (::stat((root + "/cgroup.procs").c_str(), &st) != 0) {
            why_ = "no cgroup v1 pids controller at " + root;
            return;
        }
        path_ = root + "/prockit-fault-" + std::to_string(::getpid()) + "-" + std::to_string(++serial());
        if (::mkdir(path_.c_str(), 0755) != 0) {
            why_ = "cannot create " + path_ + ": " + std::strerror(errno);
            path_.clear();
            return;
        }
        if (!write("pids.max", std::to_string(max))) {
            why_ = "cannot write pids.max";
            remove();
        }
    }
    PidsGroup(const PidsGroup&) = delete;
    PidsGroup& operator=(const PidsGroup&) = delete;
    ~PidsGroup() { remove(); }

    bool ok() const { return !path_.empty(); }
    const std::string& why() const { return why_; }
    const std::string& path() const { return path_; }
    std::string procs_file() const { return path_ + "/cgroup.procs"; }
    bool write(const std::string& file, const std::string& value) const {
        std::ofstream f(path_ + "/" + file);
        f << value << "\n";
        f.flush();
        return static_cast<bool>(f);
    }
    /// The members (PIDs in cgroup.procs).
    std::vector<pid_t> members() const {
        std::vector<pid_t> out;
        std::ifstream f(procs_file());
        pid_t p;
        while (f >> p) out.push_back(p);
        return out;
    }
    /// A shell prefix that moves itself into the group and then execs the rest of the argv.
    std::vector<std::string> enter(const std::vector<std::string>& argv) const {
        std::vector<std::string> out{"/bin/sh", "-c", "echo $$ > '" + procs_file() + "' && exec \"$@\"", "sh"};
        out.insert(out.end(), argv.begin(), argv.end());
        return out;
    }
    /// Whether the group is empty within `limit`.
    bool empties(std::chrono::seconds limit = std::chrono::seconds(10)) const {
        return prockit::test::eventually([&] { return members().empty(); }, limit);
    }

private:
    static int& serial() {
        static int n = 0;
        return n;
    }
    void remove() {
        if (path_.empty()) return;
        prockit::test::eventually(
            [&] {
                auto m = members();
                for (pid_t p : m) ::kill(p, SIGKILL);
                return m.empty();
            },
            std::chrono::seconds(10));
        ::rmdir(path_.c_str());
        path_.clear();
    }
    std::string path_, why_;
};

}  // namespace prockit::test::limits
