// pool_bench: Pool.map of a trivial function (1,000,000 items with the default chunking; 20,000
// items with chunksize 1) against a raw C equivalent in the same binary (pre-forked workers taking
// chunk descriptors from a pipe and writing into shared memory). bench/pool_bench.sh compares with
// Python's multiprocessing.Pool. PROCKIT_BENCH_SCALE=0.1 for a quick run.
#include "bench_results.hpp"
#include "ratio.hpp"

#include <prockit/pool/pool.hpp>
#include <prockit/process/process.hpp>

#include <fcntl.h>
#include <memory>
#include <numeric>
#include <sys/mman.h>
#include <unistd.h>
#include <vector>

using namespace prockit;
using prockit::bench::record;
using prockit::bench::scaled;
using prockit::bench::Stopwatch;

namespace {

constexpr const char* kBench = "pool_bench";

int trivial(int x) { return x + 1; }

void finish(benchmark::State& st, const char* name, double secs, double items, const char* peer) {
    st.SetIterationTime(secs);
    st.counters["items/s"] = benchmark::Counter(items / secs);
    if (peer) st.SetLabel(std::string("vs:") + peer + "/iterations:1/manual_time");  // the run name of the peer case
    record(kBench, name, secs, items / secs, "items/s");
}

void pool_map(benchmark::State& st, std::size_t n, std::size_t chunksize, const char* name, const char* peer) {
    Pool pool;  // cpu_count() workers, started before the clock
    std::vector<int> in(n);
    std::iota(in.begin(), in.end(), 0);
    (void)pool.map(trivial, std::vector<int>{1, 2, 3, 4});  // workers are up
    for (auto _ : st) {
        Stopwatch sw;
        std::vector<int> out = pool.map(trivial, in, chunksize);
        double s = sw.seconds();
        if (out.size() != n || out.back() != static_cast<int>(n)) st.SkipWithError("wrong result");
        finish(st, name, s, static_cast<double>(n), peer);
    }
}

// Raw: pre-forked workers read (first, count) descriptors from one pipe, compute into a shared
// output array, and report each finished chunk on another pipe.
void raw_map(benchmark::State& st, std::size_t n, std::size_t chunksize, const char* name) {
    unsigned workers = cpu_count();
    auto* in = static_cast<int*>(::mmap(nullptr, n * sizeof(int), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
    auto* out = static_cast<int*>(::mmap(nullptr, n * sizeof(int), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
    for (std::size_t i = 0; i < n; ++i) in[i] = static_cast<int>(i);
    int tasks[2], done[2];
    if (::pipe2(tasks, O_CLOEXEC) < 0 || ::pipe2(done, O_CLOEXEC) < 0) st.SkipWithError("pipe");
    // Room for every descriptor and every reply, so that neither side blocks the other.
    (void)::fcntl(tasks[1], F_SETPIPE_SZ, 1 << 20);
    (void)::fcntl(done[1], F_SETPIPE_SZ, 1 << 20);
    struct Desc {
        std::uint64_t first, count;
    };
    std::vector<std::unique_ptr<Process>> ps;
    for (unsigned w = 0; w < workers; ++w) {
        ps.push_back(std::make_unique<Process>([&] {
            Desc d;
            while (::read(tasks[0], &d, sizeof d) == sizeof d && d.count) {
                for (std::uint64_t i = d.first; i < d.first + d.count; ++i) out[i] = trivial(in[i]);
                if (::write(done[1], &d.first, sizeof d.first) != sizeof d.first) return;
            }
        }));
        ps.back()->start();
    }
    for (auto _ : st) {
        Stopwatch sw;
        std::size_t chunks = 0;
        for (std::size_t i = 0; i < n; i += chunksize, ++chunks) {
            Desc d{i, std::min(chunksize, n - i)};
            if (::write(tasks[1], &d, sizeof d) != sizeof d) st.SkipWithError("write");
        }
        for (std::size_t c = 0; c < chunks; ++c) {
            std::uint64_t f;
            if (::read(done[0], &f, sizeof f) != sizeof f) st.SkipWithError("read");
        }
        double s = sw.seconds();
        if (out[n - 1] != static_cast<int>(n)) st.SkipWithError("wrong result");
        finish(st, name, s, static_cast<double>(n), nullptr);
    }
    for (unsigned w = 0; w < workers; ++w) {
        Desc stop{0, 0};
        (void)!::write(tasks[1], &stop, sizeof stop);
    }
    for (auto& p : ps) p->join();
    for (int fd : {tasks[0], tasks[1], done[0], done[1]}) ::close(fd);
    ::munmap(in, n * sizeof(int));
    ::munmap(out, n * sizeof(int));
}

std::size_t default_chunks(std::size_t n) {
    std::size_t d = std::size_t{cpu_count()} * 4;
    return n / d + (n % d ? 1 : 0);
}

void map_1m_prockit(benchmark::State& st) { pool_map(st, scaled(1'000'000), 0, "pool_map_1m/prockit", "pool_map_1m/raw"); }
void map_1m_raw(benchmark::State& st) { raw_map(st, scaled(1'000'000), default_chunks(scaled(1'000'000)), "pool_map_1m/raw"); }
void map_20k_prockit(benchmark::State& st) { pool_map(st, scaled(20'000), 1, "pool_map_20k_chunksize1/prockit", "pool_map_20k_chunksize1/raw"); }
void map_20k_raw(benchmark::State& st) { raw_map(st, scaled(20'000), 1, "pool_map_20k_chunksize1/raw"); }

#define CASE(fn, name) BENCHMARK(fn)->Name(name)->Iterations(1)->Unit(benchmark::kMillisecond)->UseManualTime()
CASE(map_1m_raw, "pool_map_1m/raw");
CASE(map_1m_prockit, "pool_map_1m/prockit");
CASE(map_20k_raw, "pool_map_20k_chunksize1/raw");
CASE(map_20k_prockit, "pool_map_20k_chunksize1/prockit");

}  // namespace

int main(int c, char** v) {
    std::remove(prockit::bench::results_path(kBench).c_str());
    return prockit::bench::run_with_ratios(c, v);
}
