// manager_bench: dict set/get round trips per second through prockit's Manager and through
// Python's multiprocessing.Manager().dict(), in pairs (each pair runs both, in alternating order),
// printing each pair's ratio and the median and range of the ratios. Target: 20x. Each pair also
// runs the floor of any one-round-trip design: a bare C pipe ping-pong between two processes
// (16-byte messages, write + read on each side), and reports CPU time (user + sys, both sides) per
// round trip, which the machine's load disturbs less than wall time.
//   manager_bench [pairs=7]        PROCKIT_BENCH_SCALE=0.1 for a quick run (bench/run.sh runs it too)
#include <prockit/ipc/manager.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace {

double scale() {
    const char* s = std::getenv("PROCKIT_BENCH_SCALE");
    double v = s ? std::atof(s) : 1.0;
    return v > 0 ? v : 1.0;
}

double cpu_seconds(int who) {
    rusage u{};
    ::getrusage(who, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

struct Rate {
    double per_s = 0;   // round trips per second (wall)
    double cpu_us = 0;  // CPU time per round trip, both processes, in microseconds
};

// Alternating d[key] = i and d[key] reads; each is one request/reply round trip to the server.
Rate prockit_rate(long n) {
    double kids0 = cpu_seconds(RUSAGE_CHILDREN), self0 = 0, self1 = 0;
    double s = 0;
    {
        prockit::Manager m;
        auto d = m.dict();
        d.set("warm", 0);  // the connection is opened outside the timed part, as Python's is
        self0 = cpu_seconds(RUSAGE_SELF);
        auto t0 = std::chrono::steady_clock::now();
        long sum = 0;
        for (long i = 0; i < n / 2; ++i) {
            d.set("key", i);
            sum += d.get<long>("key");
        }
        s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        self1 = cpu_seconds(RUSAGE_SELF);
        if (sum != (n / 2) * (n / 2 - 1) / 2) std::fprintf(stderr, "manager_bench: wrong sum\n");
    }  // the server is reaped here: its CPU time joins RUSAGE_CHILDREN
    double ops = static_cast<double>(n / 2 * 2);
    return {ops / s, (self1 - self0 + cpu_seconds(RUSAGE_CHILDREN) - kids0) / ops * 1e6};
}

// The floor: a 16-byte request and a 16-byte reply through two pipes, write + read on each side.
Rate pipe_rate(long n) {
    int req[2], rep[2];
    if (::pipe(req) < 0 || ::pipe(rep) < 0) return {};
    double kids0 = cpu_seconds(RUSAGE_CHILDREN);
    pid_t pid = ::fork();
    if (pid == 0) {
        ::close(req[1]);
        ::close(rep[0]);
        char buf[16];
        while (::read(req[0], buf, sizeof buf) == static_cast<ssize_t>(sizeof buf))
            if (::write(rep[1], buf, sizeof buf) != static_cast<ssize_t>(sizeof buf)) break;
        ::_exit(0);
    }
    ::close(req[0]);
    ::close(rep[1]);
    char buf[16] = {};
    double self0 = cpu_seconds(RUSAGE_SELF);
    auto t0 = std::chrono::steady_clock::now();
    for (long i = 0; i < n; ++i) {
        std::memcpy(buf, &i, sizeof i);
        if (::write(req[1], buf, sizeof buf) != static_cast<ssize_t>(sizeof buf) ||
            ::read(rep[0], buf, sizeof buf) != static_cast<ssize_t>(sizeof buf))
            break;
    }
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    double self1 = cpu_seconds(RUSAGE_SELF);
    ::close(req[1]);
    ::close(rep[0]);
    int st = 0;
    ::waitpid(pid, &st, 0);
    return {static_cast<double>(n) / s, (self1 - self0 + cpu_seconds(RUSAGE_CHILDREN) - kids0) / static_cast<double>(n) * 1e6};
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

// CPU time here includes the interpreter's start (about 0.05 s of the 1-3 s a run takes).
Rate python_rate(long n) {
    std::string cmd = "python3 -c '" + std::string(kPython) + "' " + std::to_string(n);
    double kids0 = cpu_seconds(RUSAGE_CHILDREN);
    FILE* f = ::popen(cmd.c_str(), "r");
    if (!f) return {};
    char buf[128] = {};
    bool ok = std::fgets(buf, sizeof buf, f) != nullptr;
    int rc = ::pclose(f);
    if (!ok || rc != 0) return {};
    return {std::atof(buf), (cpu_seconds(RUSAGE_CHILDREN) - kids0) / static_cast<double>(n / 2 * 2) * 1e6};
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

void summary(const char* what, std::vector<double> v, const char* unit) {
    std::sort(v.begin(), v.end());
    std::printf("%s: median %.1f%s, range %.1f%s-%.1f%s\n", what, median(v), unit, v.front(), unit, v.back(), unit);
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
    std::vector<double> ratios, floor_ratios, of_floor, cpu_ratios, cpu_p, cpu_f, cpu_py;
    for (int i = 0; i < pairs; ++i) {
        Rate p, py, fl;
        // The order rotates, so that no side always runs first (or right after Python's exit).
        switch (i % 3) {
            case 0: p = prockit_rate(n_prockit); fl = pipe_rate(n_prockit); py = python_rate(n_python); break;
            case 1: py = python_rate(n_python); p = prockit_rate(n_prockit); fl = pipe_rate(n_prockit); break;
            default: fl = pipe_rate(n_prockit); py = python_rate(n_python); p = prockit_rate(n_prockit); break;
        }
        if (py.per_s <= 0) {
            std::fprintf(stderr, "manager_bench: cannot run python3's multiprocessing.Manager\n");
            return 1;
        }
        ratios.push_back(p.per_s / py.per_s);
        floor_ratios.push_back(fl.per_s / py.per_s);
        of_floor.push_back(100 * p.per_s / fl.per_s);
        cpu_ratios.push_back(py.cpu_us / p.cpu_us);
        cpu_p.push_back(p.cpu_us);
        cpu_f.push_back(fl.cpu_us);
        cpu_py.push_back(py.cpu_us);
        std::printf("  run %d: prockit %.0f/s (%.1f us CPU)  pipe floor %.0f/s (%.1f us CPU)  Python %.0f/s (%.1f us CPU)"
                    "  ratio %.1fx (floor %.1fx)\n",
                    i + 1, p.per_s, p.cpu_us, fl.per_s, fl.cpu_us, py.per_s, py.cpu_us, p.per_s / py.per_s,
                    fl.per_s / py.per_s);
    }
    summary("manager dict round trips vs Python Manager().dict() (target 20x)", ratios, "x");
    summary("bare pipe ping-pong (the floor) vs Python", floor_ratios, "x");
    summary("manager rate as a share of the floor's", of_floor, "%");
    summary("CPU per round trip, Python's over prockit's", cpu_ratios, "x");
    summary("CPU per round trip, prockit (both processes)", cpu_p, " us");
    summary("CPU per round trip, pipe floor (both processes)", cpu_f, " us");
    summary("CPU per round trip, Python (both processes)", cpu_py, " us");
    return 0;
}
