// process_bench — starting and joining a Process that runs a trivial callable, against the raw
// fork() + _exit(0) + waitpid() it is built on. Target (a note, never asserted): >= 0.8x raw fork.
//
// Python's multiprocessing.Process (fork and spawn start methods) is the other peer: bench/
// process_bench.sh measures it right after this binary and compares it with the per-iteration
// times this binary leaves in $PROCKIT_BUILD_DIR/bench/process_bench.<case>.ns (when that
// variable is set, as bench/run.sh does).
//
// On a busy machine the load drifts between cases; for steadier numbers run the binary with
//   --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true
// and compare the _median rows.
#include "ratio.hpp"
#include "wait.hpp"

#include <prockit/process/process.hpp>

#include <benchmark/benchmark.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

namespace {

constexpr double kMinTime = 1.0;  // seconds per case

// Leaves the measured ns per iteration for process_bench.sh. Every run of a case overwrites the
// file, so what stays is the final (reported) run's number.
void leave_result(const char* key, std::chrono::steady_clock::duration elapsed, benchmark::IterationCount n) {
    const char* dir = std::getenv("PROCKIT_BUILD_DIR");
    if (!dir || !*dir || n == 0) return;
    std::string path = std::string(dir) + "/bench/process_bench." + key + ".ns";
    if (FILE* f = std::fopen(path.c_str(), "we")) {
        double ns = static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count()) /
                    static_cast<double>(n);
        std::fprintf(f, "%.0f\n", ns);
        std::fclose(f);
    }
}

void trivial() {}

void prockit_start_join(benchmark::State& st) {
    auto t0 = std::chrono::steady_clock::now();
    for (auto _ : st) {
        prockit::Process p(trivial);
        p.start();
        p.join();
        if (p.exitcode() != 0) {
            st.SkipWithError("the Process did not exit 0");
            return;
        }
    }
    leave_result("prockit", std::chrono::steady_clock::now() - t0, st.iterations());
    // Google Benchmark appends the settings to the name: the peer is named in full.
    char peer[128];
    std::snprintf(peer, sizeof peer, "vs:process/raw/fork_exit_waitpid/min_time:%0.3f/real_time", kMinTime);
    st.SetLabel(peer);
}

void raw_fork(benchmark::State& st) {
    auto t0 = std::chrono::steady_clock::now();
    for (auto _ : st) {
        pid_t pid = ::fork();
        if (pid < 0) {
            st.SkipWithError(std::strerror(errno));
            return;
        }
        if (pid == 0) {
            trivial();
            ::_exit(0);
        }
        if (!prockit::bench::wait_exit0(st, pid, "the child")) return;
    }
    leave_result("raw_fork", std::chrono::steady_clock::now() - t0, st.iterations());
}

BENCHMARK(prockit_start_join)->Name("process/prockit/start_join")->MinTime(kMinTime)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(raw_fork)->Name("process/raw/fork_exit_waitpid")->MinTime(kMinTime)->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace

int main(int argc, char** argv) { return prockit::bench::run_with_ratios(argc, argv); }
