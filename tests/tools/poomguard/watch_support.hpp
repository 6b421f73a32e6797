// tests/tools/poomguard/watch_support.hpp — running `poomguard watch` in the background for tests:
// its output in files, readiness and conditions waited for with deadlines, and a scratch directory
// with a copied program whose path a rule can match.
#pragma once

#include "support.hpp"

#include <prockit/process/command.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <pwd.h>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

namespace prockit::test {

inline std::string poomguard_path() {
    const char* b = std::getenv("PROCKIT_BUILD_DIR");
    return std::string(b ? b : ".") + "/tools/poomguard/poomguard";
}

inline std::string slurp_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}
inline void write_file(const std::string& path, const std::string& data) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << data;
}

/// A scratch directory removed at the end of the test.
struct Scratch {
    std::string path;
    Scratch() {
        char tmpl[] = "/tmp/poomguard-test-XXXXXX";
        char* p = ::mkdtemp(tmpl);
        path = p ? p : "/tmp";
    }
    ~Scratch() {
        std::string cmd = "rm -rf '" + path + "'";
        int r = std::system(cmd.c_str());
        (void)r;
    }
    std::string operator/(const std::string& name) const { return path + "/" + name; }
    /// Copies a program (e.g. /bin/sleep) here under `name`: a path only the test's processes have.
    std::string copy_program(const std::string& from, const std::string& name) const {
        std::string to = *this / name;
        std::string cmd = "cp '" + from + "' '" + to + "'";
        EXPECT_EQ(std::system(cmd.c_str()), 0);
        return to;
    }
};

/// /proc/PID/oom_score_adj, or nullopt when the process is gone.
inline std::optional<int> adj_of(pid_t pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/oom_score_adj");
    int v = 0;
    if (!(f >> v)) return std::nullopt;
    return v;
}

/// The direct children of `pid` (from /proc/PID/task/PID/children).
inline std::vector<pid_t> children_of_pid(pid_t pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
    std::vector<pid_t> out;
    pid_t c;
    while (f >> c) out.push_back(c);
    return out;
}

/// `poomguard ARGS...` in the background (stdout and stderr into files of the scratch directory);
/// SIGKILLed at destruction if still running.
class Background {
public:
    /// `prefix`: a program that runs poomguard (e.g. as_user's setpriv), poomguard's path appended.
    Background(const Scratch& dir, const std::vector<std::string>& args, const std::string& tag = "watch",
               const std::vector<std::pair<std::string, std::string>>& env = {},
               const std::vector<std::string>& prefix = {})
        : out_(dir / (tag + ".out")), err_(dir / (tag + ".err")) {
        std::vector<std::string> argv(prefix);
        argv.push_back(poomguard_path());
        argv.insert(argv.end(), args.begin(), args.end());
        Command c(argv.front());
        c.args(std::vector<std::string>(argv.begin() + 1, argv.end())).in(Stdio::null()).out(Stdio::write_file(out_)).err(Stdio::write_file(err_));
        for (const auto& [k, v] : env) c.env(k, v);
        c.on_destroy(DestroyPolicy::kill_tree, std::chrono::seconds(0));
        auto ch = c.spawn();
        EXPECT_TRUE(ch) << (ch ? "" : ch.error().message());
        if (ch) child_ = std::move(*ch);
    }
    /// Waits for the "watching N rules" line on stderr.
    bool ready(std::chrono::seconds limit = std::chrono::seconds(30)) {
        return eventually([&] { return err().find("watching ") != std::string::npos; }, limit);
    }
    std::string out() const { return slurp_file(out_); }
    std::string err() const { return slurp_file(err_); }
    Child& child() { return child_; }
    /// SIGTERM, then the shell-style exit status (or -1 when it did not end within the limit).
    int stop(int sig = SIGTERM) {
        if (!child_.valid()) return -1;
        EXPECT_TRUE(child_.send_signal(sig));
        auto st = child_.wait_for(std::chrono::seconds(30));
        if (!st || !*st) return -1;
        return (*st)->shell_code();
    }

private:
    std::string out_, err_;
    Child child_;
};

/// The unprivileged test user prockit-test-u (created when absent): uid and gid; nullopt when it
/// cannot be had (not root, no useradd).
inline std::optional<std::pair<uid_t, gid_t>> unprivileged_user() {
    const char* name = "prockit-test-u";
    if (::geteuid() != 0) return std::nullopt;
    if (!::getpwnam(name)) {
        std::string cmd = std::string("useradd --system --no-create-home --shell /usr/sbin/nologin ") + name + " >/dev/null 2>&1";
        if (std::system(cmd.c_str()) != 0) return std::nullopt;
    }
    passwd* pw = ::getpwnam(name);
    if (!pw) return std::nullopt;
    return std::make_pair(pw->pw_uid, pw->pw_gid);
}

/// `argv` run as `user` through setpriv, without any capability.
inline std::vector<std::string> as_user(const std::pair<uid_t, gid_t>& user, std::vector<std::string> argv) {
    std::vector<std::string> out{"/usr/bin/setpriv", "--reuid=" + std::to_string(user.first),
                                 "--regid=" + std::to_string(user.second), "--clear-groups", "--inh-caps=-all",
                                 "--bounding-set=-all"};
    out.insert(out.end(), argv.begin(), argv.end());
    return out;
}

/// Runs `poomguard ARGS...` to its end within a minute: status, stdout, stderr.
struct ToolRun {
    int code = -1;
    std::string out, err;
};
inline ToolRun poomguard(const Scratch& dir, const std::vector<std::string>& args) {
    ToolRun r;
    Command c(poomguard_path());
    c.args(args).in(Stdio::null()).out(Stdio::write_file(dir / "run.out")).err(Stdio::write_file(dir / "run.err"));
    c.on_destroy(DestroyPolicy::kill_tree, std::chrono::seconds(0));
    auto ch = c.spawn();
    if (!ch) {
        ADD_FAILURE() << ch.error().message();
        return r;
    }
    auto st = ch->wait_for(std::chrono::seconds(60));
    if (st && *st) r.code = (*st)->shell_code();
    r.out = slurp_file(dir / "run.out");
    r.err = slurp_file(dir / "run.err");
    return r;
}

}  // namespace prockit::test
