// queue_spill_bench: 1 GiB put on an unbounded Queue before the first get, against Python's
// multiprocessing.Queue doing the same in the same run: time (put all + get all) and peak RSS.
//
//   build/bench/queue_spill_bench [pairs=5] [MiB=1024]
//
// Each case runs in its own process (this binary with --case, or python3), so its peak RSS
// (ru_maxrss) is its own; the pairs run back to back in alternating order (docs/design.md,
// "Benchmarks run in pairs") and the ratios are taken per pair. prockit's queued bytes live in the
// queue's memfd (shared memory, not the process's RSS): the bench prints them too ("spill"), read
// from the memfd's allocated blocks when every item has been put.
#include <prockit/ipc/queue.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <sys/resource.h>
#include <sys/stat.h>
#include <vector>

namespace {

constexpr std::size_t kItem = std::size_t{1} << 20;

struct Run {
    double secs = 0;
    double rss_mib = 0;
    double spill_mib = 0;
};

int run_prockit(std::size_t items) {
    prockit::Queue q;
    std::string item(kItem, 'x');
    auto t0 = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < items; ++i) {
        item[0] = static_cast<char>(i);
        q.put(item);
    }
    struct stat st {};
    ::fstat(q.fd(), &st);
    std::size_t got = 0;
    for (std::size_t i = 0; i < items; ++i) got += q.get<std::string>().size();
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (got != items * kItem) return 1;
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    std::printf("%.6f %.1f %.1f\n", secs, ru.ru_maxrss / 1024.0, static_cast<double>(st.st_blocks) * 512 / (1 << 20));
    return 0;
}

const char* kPython = R"PY(
import multiprocessing as mp, resource, sys, time
n = int(sys.argv[1]); size = 1 << 20
if __name__ == "__main__":
    q = mp.Queue()
    t0 = time.perf_counter()
    for i in range(n):
        b = bytearray(size); b[0] = i & 255
        q.put(b)
    got = 0
    for i in range(n):
        got += len(q.get())
    secs = time.perf_counter() - t0
    assert got == n * size
    print("%.6f %.1f 0" % (secs, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0))
)PY";

bool read_run(const std::string& cmd, Run& r) {
    FILE* f = ::popen(cmd.c_str(), "r");
    if (!f) return false;
    int n = std::fscanf(f, "%lf %lf %lf", &r.secs, &r.rss_mib, &r.spill_mib);
    return ::pclose(f) == 0 && n == 3;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc >= 3 && std::string(argv[1]) == "--case") return run_prockit(std::strtoul(argv[2], nullptr, 10));
    int pairs = argc > 1 ? std::atoi(argv[1]) : 5;
    std::size_t mib = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 1024;
    std::string self = std::string(argv[0]) + " --case " + std::to_string(mib);
    std::string script = "/tmp/queue_spill_bench." + std::to_string(::getpid()) + ".py";
    if (FILE* f = std::fopen(script.c_str(), "we")) {
        std::fputs(kPython, f);
        std::fclose(f);
    }
    std::string py = "python3 " + script + " " + std::to_string(mib);
    std::vector<double> speed, rss;
    std::printf("%zu MiB in 1 MiB items, put before the first get\n", mib);
    std::printf("%4s %10s %10s %10s %10s %10s %10s %10s\n", "pair", "prockit_s", "python_s", "speedup", "prockit_MiB", "python_MiB",
                "rss_ratio", "spill_MiB");
    for (int i = 0; i < pairs; ++i) {
        Run a, b;
        bool ok = i % 2 ? read_run(py, b) && read_run(self, a) : read_run(self, a) && read_run(py, b);
        if (!ok) {
            std::fprintf(stderr, "queue_spill_bench: cannot run pair %d\n", i);
            std::remove(script.c_str());
            return 1;
        }
        speed.push_back(b.secs / a.secs);
        rss.push_back(b.rss_mib / a.rss_mib);
        std::printf("%4d %10.3f %10.3f %9.2fx %11.1f %10.1f %9.1fx %10.1f\n", i, a.secs, b.secs, speed.back(), a.rss_mib, b.rss_mib,
                    rss.back(), a.spill_mib);
    }
    std::remove(script.c_str());
    auto [smin, smax] = std::minmax_element(speed.begin(), speed.end());
    auto [rmin, rmax] = std::minmax_element(rss.begin(), rss.end());
    std::printf("throughput prockit/python: median %.2fx (range %.2f-%.2f)\n", median(speed), *smin, *smax);
    std::printf("peak RSS python/prockit:   median %.1fx (range %.1f-%.1f)\n", median(rss), *rmin, *rmax);
    return 0;
}
