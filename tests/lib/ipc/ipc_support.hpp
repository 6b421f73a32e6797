// Helpers for the ipc tests: run a function in a Process and get its exit code.
#pragma once

#include "support.hpp"

#include <prockit/process/process.hpp>

#include <cstdio>

namespace prockit::test {

/// Starts f in a child; returns the Process.
template <class F>
std::unique_ptr<Process> spawn_fn(F f) {
    auto p = std::make_unique<Process>(std::move(f));
    p->start();
    return p;
}

/// Joins with a generous deadline; kills and fails if it does not end.
inline int join_code(Process& p, std::chrono::seconds d = std::chrono::seconds(60)) {
    if (!p.join(d)) {
        p.kill();
        p.join();
        ADD_FAILURE() << "child did not end in time";
    }
    return p.exitcode().value_or(-999);
}

/// The process state letter from /proc/PID/stat ('S' sleeping, 'R' running...).
inline char proc_state(pid_t pid) {
    std::string s;
    if (FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/stat").c_str(), "re")) {
        char buf[512];
        std::size_t n = std::fread(buf, 1, sizeof buf, f);
        s.assign(buf, n);
        std::fclose(f);
    }
    auto rp = s.rfind(')');
    return rp != std::string::npos && rp + 2 < s.size() ? s[rp + 2] : '?';
}

}  // namespace prockit::test
