// manager_bench: dict set/get round trips per second through prockit's Manager and through
// Python's multiprocessing.Manager().dict(), in pairs (each pair runs both, in alternating order),
// printing each pair's ratio and the median and range of the ratios. Target: 20x.
//   manager_bench [pairs=7]        PROCKIT_BENCH_SCALE=0.1 for a quick run (bench/run.sh runs it too)
#include <prockit/ipc/manager.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

double scale() {
    const char* s = std::getenv("PROCKIT_BENCH_SCALE");
    double v = s ? std::atof(s) : 1.0;
    return v > 0 ? v : 1.0;
}

// Alternating d[key] = i and d[key] reads; each is one request/reply round trip to the server.
double prockit_rate(long n) {
    prockit::Manager m;
    auto d = m.dict();
    d.set("warm", 0);  // the connection is opened outside the timed part, as Python's is
    auto t0 = std::chrono::steady_clock::now();
    long sum = 0;
    for (long i = 0; i < n / 2; ++i) {
        d.set("key", i);
        sum += d.get<long>("key");
    }
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (sum != (n / 2) * (n / 2 - 1) / 2) std::fprintf(stderr, "manager_bench: wrong sum\n");
    return static_cast<double>(n / 2 * 2) / s;
}

const char* kPython = R"PY(
import multiprocessing as mp, sys, time
n = int(sys.argv[1])
if __name__ == "__main__":
    with mp.Manager() as m:
        d = m.dict()
        d["warm"] = 0
        t0 = time.perf_counter()
        s = 0
        for i in range(n // 2):
            d["key"] = i
            s += d["key"]
        t = time.perf_counter() - t0
        assert s == (n // 2) * (n // 2 - 1) // 2
        print((n // 2 * 2) / t)
)PY";

double python_rate(long n) {
    std::string cmd = "python3 -c '" + std::string(kPython) + "' " + std::to_string(n);
    FILE* f = ::popen(cmd.c_str(), "r");
    if (!f) return 0;
    char buf[128] = {};
    bool ok = std::fgets(buf, sizeof buf, f) != nullptr;
    int rc = ::pclose(f);
    return ok && rc == 0 ? std::atof(buf) : 0;
}

}  // namespace

int main(int argc, char** argv) {
    // bench/run.sh passes Google Benchmark flags to every bench: only a plain number counts here.
    int pairs = 7;
    for (int i = 1; i < argc; ++i)
        if (argv[i][0] >= '0' && argv[i][0] <= '9') pairs = std::max(1, std::atoi(argv[i]));
    long n_prockit = static_cast<long>(400000 * scale()), n_python = static_cast<long>(40000 * scale());
    std::printf("manager_bench: dict set/get round trips per second, %d pairs (prockit %ld, Python %ld per run)\n",
                pairs, n_prockit, n_python);
    std::vector<double> ratios;
    for (int i = 0; i < pairs; ++i) {
        double p, py;
        if (i % 2 == 0) {
            p = prockit_rate(n_prockit);
            py = python_rate(n_python);
        } else {
            py = python_rate(n_python);
            p = prockit_rate(n_prockit);
        }
        if (py <= 0) {
            std::fprintf(stderr, "manager_bench: cannot run python3's multiprocessing.Manager\n");
            return 1;
        }
        ratios.push_back(p / py);
        std::printf("  pair %d (%s first): prockit %.0f/s  Python %.0f/s  ratio %.1fx\n", i + 1,
                    i % 2 == 0 ? "prockit" : "Python", p, py, p / py);
    }
    std::vector<double> sorted = ratios;
    std::sort(sorted.begin(), sorted.end());
    double median = sorted.size() % 2 ? sorted[sorted.size() / 2]
                                      : (sorted[sorted.size() / 2 - 1] + sorted[sorted.size() / 2]) / 2;
    std::printf("manager dict round trips vs Python Manager().dict(): median %.1fx, range %.1fx-%.1fx (target 20x)\n",
                median, sorted.front(), sorted.back());
    return 0;
}
