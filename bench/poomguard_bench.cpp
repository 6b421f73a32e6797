// poomguard against its peers, measured in the same run, in pairs (each iteration runs both, in
// alternating order), over 5,000 extra sleeping processes:
//   1. poomguard show              vs  ps -eo pid,oomadj (procps 4 spells oom_score_adj "oomadj")
//   2. poomguard top               vs  ps -eo pid,oomadj
//   3. poomguard show              vs  a pgrep + choom loop, as a script would write it
//   4. poomguard set N PID         vs  choom -p PID -n N  (one process; no target: both are
//                                      dominated by process start)
//   5. the floor, in this process: open + read of oom_score_adj alone (what `ps -eo pid,oomadj`
//      must read at least), and of the four files show needs (stat, oom_score, oom_score_adj,
//      cmdline), for every process; CPU time per scan.
// Each case prints the median of its per-pair ratios (peer time / poomguard time, above 1 means
// poomguard is faster) with their range, and poomguard's median time in ms (the target for show
// and top over 5,000 processes is 100 ms), and each side's median CPU time (user + system), which
// a loaded machine inflates less than the wall-clock time. Benchmarks never assert timing.
#include "ratio.hpp"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <spawn.h>
#include <string>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

extern char** environ;

namespace {

std::string g_self;

std::string poomguard_path() {
    if (const char* b = std::getenv("PROCKIT_BUILD_DIR"); b && *b) return std::string(b) + "/tools/poomguard/poomguard";
    std::string dir = g_self.substr(0, g_self.rfind('/'));
    return dir + "/../tools/poomguard/poomguard";
}

double g_last_cpu_s = 0;  // user + system CPU time of the last run() (its reaped descendants included)

// Runs argv with stdout and stderr on /dev/null; returns the exit status.
int run(const std::vector<std::string>& args) {
    std::vector<char*> argv;
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) return -1;
    int st = 0;
    rusage ru{};
    while (wait4(pid, &st, 0, &ru) < 0 && errno == EINTR) {
    }
    g_last_cpu_s = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                   static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

// The sleeping processes, killed at exit.
struct Children {
    std::vector<pid_t> pids;
    ~Children() {
        for (pid_t p : pids) kill(p, SIGKILL);
        for (pid_t p : pids) waitpid(p, nullptr, 0);
    }
};
Children g_children;

void populate(std::size_t n) {
    if (!g_children.pids.empty()) return;
    g_children.pids.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        pid_t pid = fork();
        if (pid < 0) {
            std::fprintf(stderr, "poomguard_bench: fork failed after %zu processes\n", i);
            std::abort();
        }
        if (pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the benchmark
            for (;;) pause();
        }
        g_children.pids.push_back(pid);
    }
}

constexpr std::size_t extra_processes = 5000;

// --- paired measurement ----------------------------------------------------------------------------

using Clock = std::chrono::steady_clock;

template <typename F>
double timed(F&& f) {
    auto t0 = Clock::now();
    bool ok = f();
    double s = std::chrono::duration<double>(Clock::now() - t0).count();
    return ok ? s : -1;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    std::size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// Runs `mine` and `peer` back to back each iteration (order alternating); records the ratio of
// each pair and reports their median and range, and each side's median time.
template <typename Mine, typename Peer>
void paired(benchmark::State& state, const std::string& peer_name, Mine&& mine, Peer&& peer) {
    std::vector<double> ratios, mine_s, peer_s, mine_cpu, peer_cpu;
    long i = 0;
    for (auto _ : state) {
        double m, p;
        if (i++ % 2 == 0) {
            m = timed(mine);
            mine_cpu.push_back(g_last_cpu_s);
            p = timed(peer);
            peer_cpu.push_back(g_last_cpu_s);
        } else {
            p = timed(peer);
            peer_cpu.push_back(g_last_cpu_s);
            m = timed(mine);
            mine_cpu.push_back(g_last_cpu_s);
        }
        if (m < 0 || p < 0) {
            state.SkipWithError(m < 0 ? "poomguard failed" : "the peer failed");
            return;
        }
        ratios.push_back(p / m);
        mine_s.push_back(m);
        peer_s.push_back(p);
        state.SetIterationTime(m);
    }
    if (ratios.empty()) return;
    state.counters["ratio"] = median(ratios);
    state.counters["ratio_lo"] = *std::min_element(ratios.begin(), ratios.end());
    state.counters["ratio_hi"] = *std::max_element(ratios.begin(), ratios.end());
    state.counters["ms_median"] = median(mine_s) * 1e3;
    state.counters["ms_max"] = *std::max_element(mine_s.begin(), mine_s.end()) * 1e3;
    state.counters["peer_ms"] = median(peer_s) * 1e3;
    state.counters["pairs"] = static_cast<double>(ratios.size());
    // CPU time (user + system) of each side: what the machine's load does not inflate.
    state.counters["cpu_ms"] = median(mine_cpu) * 1e3;
    state.counters["peer_cpu_ms"] = median(peer_cpu) * 1e3;
    state.SetLabel("paired:" + peer_name);
}

// --- cases ---------------------------------------------------------------------------------------------

void BM_show_vs_ps(benchmark::State& state) {
    populate(extra_processes);
    std::string path = poomguard_path();
    paired(
        state, "ps -eo pid,oomadj", [&] { return run({path, "show"}) == 0; },
        [] { return run({"ps", "-eo", "pid,oomadj"}) == 0; });
}

void BM_top_vs_ps(benchmark::State& state) {
    populate(extra_processes);
    std::string path = poomguard_path();
    paired(
        state, "ps -eo pid,oomadj", [&] { return run({path, "top"}) == 0; },
        [] { return run({"ps", "-eo", "pid,oomadj"}) == 0; });
}

void BM_show_vs_pgrep_choom_loop(benchmark::State& state) {
    populate(extra_processes);
    std::string path = poomguard_path();
    // What a script would write to list every process's value.
    std::string loop = "for p in $(pgrep .); do choom -p \"$p\"; done";
    paired(
        state, "pgrep + choom loop", [&] { return run({path, "show"}) == 0; },
        [&] { return run({"sh", "-c", loop + " >/dev/null 2>&1; exit 0"}) == 0; });
}

void BM_set_vs_choom(benchmark::State& state) {
    populate(extra_processes);
    pid_t target = g_children.pids.front();
    std::string pid = std::to_string(target);
    std::string path = poomguard_path();
    long n = 0;
    paired(
        state, "choom -p PID -n N", [&] { return run({path, "set", std::to_string(100 + (n++ % 2)), pid, "-q"}) == 0; },
        [&] { return run({"choom", "-p", pid, "-n", std::to_string(200 + (n % 2))}) == 0; });
}

// The floor: what any implementation pays in this process, without starting one: list /proc, then
// open + read + close the given files of every process (relative to /proc, one read each).
void scan_files(benchmark::State& state, const std::vector<const char*>& files) {
    populate(extra_processes);
    char buf[8192];
    std::size_t procs = 0;
    for (auto _ : state) {
        DIR* d = opendir("/proc");
        int proc_fd = dirfd(d);
        procs = 0;
        while (dirent* e = readdir(d)) {
            if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
            ++procs;
            for (const char* f : files) {
                char rel[sizeof e->d_name + 32];
                std::snprintf(rel, sizeof rel, "%s/%s", e->d_name, f);
                int fd = openat(proc_fd, rel, O_RDONLY | O_CLOEXEC);
                if (fd < 0) continue;
                benchmark::DoNotOptimize(read(fd, buf, sizeof buf));
                close(fd);
            }
        }
        closedir(d);
    }
    state.counters["processes"] = static_cast<double>(procs);
}

void BM_floor_one_file(benchmark::State& state) { scan_files(state, {"oom_score_adj"}); }
void BM_floor_show_files(benchmark::State& state) { scan_files(state, {"stat", "oom_score", "oom_score_adj", "cmdline"}); }

}  // namespace

BENCHMARK(BM_floor_one_file)->Unit(benchmark::kMillisecond)->Iterations(9);
BENCHMARK(BM_floor_show_files)->Unit(benchmark::kMillisecond)->Iterations(9);
BENCHMARK(BM_show_vs_ps)->Unit(benchmark::kMillisecond)->UseManualTime()->Iterations(9);
BENCHMARK(BM_top_vs_ps)->Unit(benchmark::kMillisecond)->UseManualTime()->Iterations(9);
BENCHMARK(BM_show_vs_pgrep_choom_loop)->Unit(benchmark::kMillisecond)->UseManualTime()->Iterations(5);
BENCHMARK(BM_set_vs_choom)->Unit(benchmark::kMillisecond)->UseManualTime()->Iterations(51);

int main(int argc, char** argv) {
    char buf[4096];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    g_self = n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string(argv[0]);
    return prockit::bench::run_with_ratios(argc, argv);
}
