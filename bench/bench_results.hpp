// bench/bench_results.hpp — shared helpers for ipc_bench and pool_bench: scaled sizes and a small
// results file (case, seconds, rate) that the Python peer scripts (ipc_bench.sh, pool_bench.sh)
// read to print prockit-vs-Python ratios.
#pragma once

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace prockit::bench {

/// n scaled by $PROCKIT_BENCH_SCALE (default 1: the sizes; e.g. 0.1 for a quick run).
inline std::size_t scaled(std::size_t n) {
    const char* s = std::getenv("PROCKIT_BENCH_SCALE");
    double f = s ? std::atof(s) : 1.0;
    if (f <= 0) f = 1.0;
    auto r = static_cast<std::size_t>(static_cast<double>(n) * f);
    return r ? r : 1;
}

/// Where results go: $PROCKIT_BENCH_RESULTS or /tmp/prockit-<bench>.results.
inline std::string results_path(const char* bench) {
    const char* p = std::getenv("PROCKIT_BENCH_RESULTS");
    return p ? std::string(p) : std::string("/tmp/prockit-") + bench + ".results";
}

/// Appends "case seconds rate unit" to the results file (rate: items or bytes per second).
inline void record(const char* bench, const std::string& name, double seconds, double rate, const char* unit) {
    if (FILE* f = std::fopen(results_path(bench).c_str(), "a")) {
        std::fprintf(f, "%s %.6f %.3f %s\n", name.c_str(), seconds, rate, unit);
        std::fclose(f);
    }
}

struct Stopwatch {
    std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
    double seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); }
};

}  // namespace prockit::bench
