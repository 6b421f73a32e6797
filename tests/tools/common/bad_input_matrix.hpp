// tests/tools/common/bad_input_matrix.hpp — the bad-input matrix every tool has: a table of command
// lines (with optional standard input, optionally run as the unprivileged test user), each with
// the exit status it must end with and the one line it must print on stderr.
//
// Every row runs the tool in a fresh process, in its own process group, with an address-space
// limit and a deadline: a hang is a failure and the group is killed. After each row the checks
// are: the status; stderr is exactly one line `TOOL: cannot <verb> <object>: <reason>` (usage
// errors add "; try 'TOOL --help'"); that line matches the row's pattern; nothing on stdout; a
// bounded peak RSS (a read of /dev/zero must stop early, not grow); and no process left behind —
// the test process is a child subreaper while the table runs, so anything the row started that
// outlives it (a daemon, a job) is reparented here and found.
#pragma once

#include "tools/prun/prun_support.hpp"

#include <prockit/process/command.hpp>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <dirent.h>
#include <fstream>
#include <functional>
#include <iostream>
#include <optional>
#include <pwd.h>
#include <regex>
#include <set>
#include <string>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define PROCKIT_MATRIX_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PROCKIT_MATRIX_ASAN 1
#endif
#endif

namespace prockit::test::matrix {

/// One command line and what must come of it.
struct Row {
    std::vector<std::string> args;
    int code;
    std::string re;          ///< a regex the stderr line must match from its start, after "TOOL: "
    std::string input = {};  ///< standard input (a file holding this text)
    bool as_test_user = false;  ///< run as prockit-test-u (no permission where root would have it)
    /// Another documented form of stderr (a regex for all of it) in place of the house form; `re`
    /// then matches the line from its start, without the "TOOL: " prefix.
    std::string form = {};
};

struct Table {
    std::string tool;     ///< "paffinity": the prefix of every message
    std::string program;  ///< path of the built tool
    std::chrono::seconds limit{20};
    /// Applied to every row's Command (environment, working directory).
    std::function<void(Command&)> tweak = {};
    /// Called after every row (extra invariants, such as an unchanged job table).
    std::function<void(const std::string& shown)> after_row = {};
};

/// The unprivileged test user (created when absent, as the other tool tests do): uid, gid.
inline std::optional<std::pair<uid_t, gid_t>> test_user() {
    const char* name = "prockit-test-u";
    if (geteuid() != 0 || access("/usr/bin/setpriv", X_OK) != 0) return std::nullopt;
    if (!getpwnam(name)) {
        std::string cmd = std::string("useradd --system --no-create-home --shell /usr/sbin/nologin ") + name + " >/dev/null 2>&1";
        if (std::system(cmd.c_str()) != 0) return std::nullopt;
    }
    passwd* pw = getpwnam(name);
    if (!pw) return std::nullopt;
    return std::make_pair(pw->pw_uid, pw->pw_gid);
}

/// A PID no process can have: the kernel's pid_max (PIDs are below it).
inline std::string unused_pid() {
    std::ifstream f("/proc/sys/kernel/pid_max");
    long max = 4194304;
    f >> max;
    return std::to_string(max);
}

/// A child that has exited and is not reaped (a zombie) until the end of the scope.
class Zombie {
public:
    Zombie() {
        pid_ = ::fork();
        if (pid_ == 0) ::_exit(0);
        EXPECT_GT(pid_, 0);
        EXPECT_TRUE(prockit::test::eventually([&] { return state() == 'Z'; })) << "the child did not become a zombie";
    }
    Zombie(const Zombie&) = delete;
    Zombie& operator=(const Zombie&) = delete;
    ~Zombie() {
        if (pid_ > 0) ::waitpid(pid_, nullptr, 0);
    }
    pid_t pid() const { return pid_; }
    std::string str() const { return std::to_string(pid_); }

private:
    char state() const {
        std::ifstream f("/proc/" + std::to_string(pid_) + "/stat");
        std::string stat;
        std::getline(f, stat);
        auto close = stat.rfind(')');
        return close != std::string::npos && close + 2 < stat.size() ? stat[close + 2] : '?';
    }
    pid_t pid_ = -1;
};

namespace detail {

/// The children of this process (every thread's), zombies included.
inline std::set<pid_t> own_children() {
    std::set<pid_t> out;
    DIR* d = opendir("/proc/self/task");
    if (!d) return out;
    while (dirent* e = readdir(d)) {
        if (e->d_name[0] == '.') continue;
        std::ifstream f(std::string("/proc/self/task/") + e->d_name + "/children");
        long pid;
        while (f >> pid) out.insert(static_cast<pid_t>(pid));
    }
    closedir(d);
    return out;
}

/// Makes the test process a child subreaper for the life of the object.
struct Subreaper {
    Subreaper() { ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); }
    ~Subreaper() { ::prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0); }
};

inline std::string shown(const std::string& tool, const Row& row) {
    std::string s = tool;
    for (const auto& a : row.args) {
        s += " '";
        for (unsigned char ch : a) {
            if (ch < 0x20 || ch >= 0x7f) {
                static const char* hex = "0123456789abcdef";
                s += "\\x";
                s += hex[ch >> 4];
                s += hex[ch & 15];
            } else {
                s += static_cast<char>(ch);
            }
        }
        s += "'";
    }
    if (row.as_test_user) s += " (as prockit-test-u)";
    return s;
}

}  // namespace detail

/// The house form of the one line on stderr.
inline std::regex house_form(const std::string& tool) {
    return std::regex("^" + tool + R"(: cannot [a-z][a-z-]* \S[^\n]*: \S[^\n]*\n$)");
}

/// Runs every row; returns how many rows ran (rows as the test user are skipped without one).
inline std::size_t run_table(const Table& t, const std::vector<Row>& rows) {
    detail::Subreaper subreaper;
    const std::set<pid_t> before = detail::own_children();
    const auto user = test_user();
    const std::regex form = house_form(t.tool);
    std::size_t ran = 0;
    for (const Row& row : rows) {
        const std::string what = detail::shown(t.tool, row);
        if (row.as_test_user && !user) {
            std::cerr << "skipped (needs root, setpriv and the user prockit-test-u): " << what << "\n";
            continue;
        }
        ++ran;
        TempDir io;
        spit(io / "in", row.input);
        std::vector<std::string> args = row.args;
        std::string program = t.program;
        if (row.as_test_user) {
            args = {"--reuid=" + std::to_string(user->first), "--regid=" + std::to_string(user->second), "--clear-groups",
                    "--inh-caps=-all", "--bounding-set=-all", t.program};
            args.insert(args.end(), row.args.begin(), row.args.end());
            program = "/usr/bin/setpriv";
        }
        Command c(program);
        c.args(args).in(Stdio::file(io / "in")).out(Stdio::write_file(io / "out")).err(Stdio::write_file(io / "err"));
        c.new_process_group().on_destroy(DestroyPolicy::kill_tree, std::chrono::seconds(0));
#ifndef PROCKIT_MATRIX_ASAN
        // An unbounded read fails here rather than in the machine's OOM killer.
        c.rlimit(RLIMIT_AS, rlim_t{1} << 30, rlim_t{1} << 30);
#endif
        if (t.tweak) t.tweak(c);
        auto child = c.spawn();
        if (!child) {
            ADD_FAILURE() << what << ": cannot spawn: " << child.error().message();
            continue;
        }
        const pid_t pgid = child->pid();
        auto st = child->wait_for(t.limit);
        if (!st || !*st) {
            ADD_FAILURE() << what << ": still running after " << t.limit.count() << "s (a hang); its group is killed";
            ::kill(-pgid, SIGKILL);
            (void)child->terminate_tree(std::chrono::seconds(0));
            continue;
        }
        const ExitStatus status = **st;
        const std::string out = slurp(io / "out"), err = slurp(io / "err");
        EXPECT_EQ(status.shell_code(), row.code) << what << "\n  stderr: " << err;
        if (row.form.empty()) {
            EXPECT_TRUE(std::regex_match(err, form)) << what << "\n  not one line in the house form: " << err;
        } else {
            EXPECT_TRUE(std::regex_match(err, std::regex(row.form))) << what << "\n  not one line of the form " << row.form << ": " << err;
        }
        const std::string line = err.substr(0, err.find('\n'));
        const std::string prefix = row.form.empty() ? t.tool + ": " : std::string();
        EXPECT_TRUE(std::regex_search(line, std::regex("^" + prefix + row.re)))
            << what << "\n  got:      " << line << "\n  expected: " << prefix << row.re;
        EXPECT_EQ(out, "") << what << ": printed on stdout";
#ifndef PROCKIT_MATRIX_ASAN
        if (auto usage = status.usage()) {
            EXPECT_LT(usage->max_rss_kb, 128 * 1024) << what << ": peak RSS " << usage->max_rss_kb << " KiB";
        }
#endif
        // Nothing of the row may be left: not in its process group, not reparented to us.
        EXPECT_TRUE(prockit::test::eventually([&] { return ::kill(-pgid, 0) == -1 && errno == ESRCH; }, std::chrono::seconds(5)))
            << what << ": its process group still has members";
        ::kill(-pgid, SIGKILL);
        std::set<pid_t> left;
        prockit::test::eventually(
            [&] {
                left.clear();
                for (pid_t p : detail::own_children()) {
                    if (before.count(p)) continue;
                    int ws;
                    if (::waitpid(p, &ws, WNOHANG) == p) continue;  // ended: reaped
                    left.insert(p);
                }
                return left.empty();
            },
            std::chrono::seconds(5));
        for (pid_t p : left) {
            ADD_FAILURE() << what << ": left process " << p << " behind";
            ::kill(p, SIGKILL);
            ::waitpid(p, nullptr, 0);
        }
        if (t.after_row) t.after_row(what);
    }
    return ran;
}

}  // namespace prockit::test::matrix
