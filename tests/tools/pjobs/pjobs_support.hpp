// tests/tools/pjobs/pjobs_support.hpp — running the built pjobs from tests: every test gets its
// own runtime and state directories (so tests are isolated and may run in parallel), and its
// server is stopped and its jobs killed at the end.
#pragma once

#include "tools/prun/prun_support.hpp"

#include <nlohmann/json.hpp>

#include <csignal>
#include <fstream>
#include <string>
#include <vector>

namespace prockit::test {

inline std::string pjobs_path() {
    const char* b = std::getenv("PROCKIT_BUILD_DIR");
    return std::string(b ? b : ".") + "/tools/pjobs/pjobs";
}

struct Pjobs {
    TempDir dir;
    std::string runtime() const { return dir.path + "/run"; }
    std::string state() const { return dir.path + "/state"; }
    std::string rundir() const { return runtime() + "/prockit"; }
    std::string statedir() const { return state() + "/prockit"; }

    PrunResult operator()(const std::vector<std::string>& args, std::chrono::seconds limit = std::chrono::seconds(60)) const {
        return run_program(pjobs_path(), args, {}, limit, [&](Command& c) {
            c.env("XDG_RUNTIME_DIR", runtime()).env("XDG_STATE_HOME", state()).cwd(dir.path);
        });
    }

    nlohmann::json list() const {
        auto r = (*this)({"list", "-J"});
        auto j = nlohmann::json::parse(r.out, nullptr, false);
        return j.is_discarded() ? nlohmann::json::array() : j;
    }
    /// The job with that id in `pjobs list -J`, or null.
    nlohmann::json job(long id) const {
        for (const auto& j : list())
            if (j.value("id", 0L) == id) return j;
        return nullptr;
    }
    std::string state_of(long id) const {
        auto j = job(id);
        return j.is_null() ? std::string("absent") : j.value("state", "");
    }
    long pid_of(long id) const {
        auto j = job(id);
        return j.is_null() || j["pid"].is_null() ? 0 : j["pid"].get<long>();
    }
    pid_t server_pid() const {
        std::ifstream f(rundir() + "/pjobs.pid");
        long p = 0;
        f >> p;
        return static_cast<pid_t>(p);
    }
    /// A path in the test's directory for "release" files that jobs wait for.
    std::string file(const std::string& name) const { return dir.path + "/" + name; }

    ~Pjobs() {
        // Kill what is left, then stop the server (jobs' holders exit with their jobs).
        for (const auto& j : list())
            if (j.value("state", "") == "running" || j.value("state", "") == "stopped")
                (*this)({"kill", "-s", "KILL", "%" + std::to_string(j.value("id", 0L))});
        (*this)({"server", "stop"});
    }
};

/// A shell command that waits until `file` exists, then exits with `code`.
inline std::vector<std::string> wait_for_file(const std::string& file, int code = 0) {
    return {"sh", "-c", "while [ ! -e '" + file + "' ]; do sleep 0.02; done; exit " + std::to_string(code)};
}

inline void touch(const std::string& path) { std::ofstream(path) << "x"; }

/// Whether a process runs (a zombie nobody reaps does not count).
inline bool process_alive(long pid) {
    if (pid <= 0) return false;
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string stat;
    if (!std::getline(f, stat)) return false;
    auto close = stat.rfind(')');
    return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z';
}

/// The parent of a process (0 when unknown).
inline long parent_of(long pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string stat;
    if (!std::getline(f, stat)) return 0;
    auto close = stat.rfind(')');
    if (close == std::string::npos) return 0;
    std::istringstream rest(stat.substr(close + 2));
    char st;
    long ppid = 0;
    rest >> st >> ppid;
    return ppid;
}

}  // namespace prockit::test
