// bench/wait.hpp — the raw peers' reaping: waitpid (EINTR retried) and a failed case unless the
// child exited 0.
#pragma once

#include <benchmark/benchmark.h>

#include <cerrno>
#include <string>
#include <sys/wait.h>

namespace prockit::bench {

/// Reaps `pid`; marks the case failed ("<what> did not exit 0") unless it exited 0.
inline bool wait_exit0(benchmark::State& st, pid_t pid, const char* what) {
    int status = 0;
    pid_t r;
    do {
        r = ::waitpid(pid, &status, 0);
    } while (r < 0 && errno == EINTR);
    if (r != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        st.SkipWithError((std::string(what) + " did not exit 0").c_str());
        return false;
    }
    return true;
}

}  // namespace prockit::bench
