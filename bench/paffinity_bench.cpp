// paffinity against its peers, measured in the same run (ratios printed at the end):
//   1. setting every thread of a 1,000-thread process:  paffinity -a --set  vs  taskset -a -p
//   2. selecting by command line among 2,000 extra processes and setting the match:
//      paffinity --match RE --set  vs  pgrep -f RE + taskset -p
// Both sides are whole commands started with posix_spawn, so each pays one process start (two for
// the pgrep pipeline, as a script would), and they run in pairs (see paired()). The library call
// alone is shown too, and the floor for the first case: a raw C loop doing only the kernel work, as
// its own process (bench/raw_setaffinity.cpp). Benchmarks never assert timing.
#include "ratio.hpp"

#include <prockit/proc/select.hpp>
#include <prockit/sched/affinity.hpp>
#include <prockit/sched/cpuset.hpp>

#include <benchmark/benchmark.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <string>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

extern char** environ;

namespace {

std::string g_self;  // this binary

std::string paffinity_path() {
    if (const char* b = std::getenv("PROCKIT_BUILD_DIR"); b && *b) return std::string(b) + "/tools/paffinity/paffinity";
    std::string dir = g_self.substr(0, g_self.rfind('/'));
    return dir + "/../tools/paffinity/paffinity";
}

// Runs argv with stdout and stderr on /dev/null (or stdout into `out`); returns the exit status.
int run(const std::vector<std::string>& args, std::string* out = nullptr) {
    std::vector<char*> argv;
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    int p[2] = {-1, -1};
    if (out) {
        if (pipe2(p, O_CLOEXEC) != 0) return -1;
        posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    } else {
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    }
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (out) {
        close(p[1]);
        if (rc == 0) {
            char buf[4096];
            ssize_t n;
            while ((n = read(p[0], buf, sizeof buf)) > 0) out->append(buf, static_cast<size_t>(n));
        }
        close(p[0]);
    }
    if (rc != 0) return -1;
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

// Child processes the benchmarks create, killed at exit.
struct Children {
    std::vector<pid_t> pids;
    ~Children() {
        for (pid_t p : pids) kill(p, SIGKILL);
        for (pid_t p : pids) waitpid(p, nullptr, 0);
    }
};
Children g_children;

void* sleeper(void*) {
    for (;;) pause();
    return nullptr;
}

// A process with `threads` extra threads (so threads+1 tasks), ready when this returns.
pid_t many_threads(int threads) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) std::abort();
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the benchmark
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setstacksize(&a, 32 * 1024);
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        for (int i = 0; i < threads; ++i) {
            pthread_t t;
            if (pthread_create(&t, &a, sleeper, nullptr) != 0) _exit(99);
        }
        char c = 'r';
        if (write(p[1], &c, 1) != 1) _exit(98);
        for (;;) pause();
    }
    close(p[1]);
    char c;
    if (read(p[0], &c, 1) != 1) std::abort();
    close(p[0]);
    g_children.pids.push_back(pid);
    return pid;
}

prockit::CpuSet allowed() { return prockit::get_affinity(0).value(); }

// Two masks to alternate between, so every run really changes something.
std::pair<prockit::CpuSet, prockit::CpuSet> two_masks() {
    prockit::CpuSet all = allowed();
    prockit::CpuSet last{all.cpus().back()};
    return {all, last};
}

pid_t thousand_thread_process() {
    static pid_t pid = many_threads(1000);
    return pid;
}

// --- paired measurement ----------------------------------------------------------------------------
// Each iteration runs the case and its peer back to back, in alternating order, so that the
// machine's drift from moment to moment (a shared VM moves by 10-20 % within a minute) hits both
// alike; timing them in separate blocks let that drift decide ratios near a target. The case's time
// is the reported (manual) time; the peer's mean is the counter peer_ms, and `ratio` is the peer's
// total over the case's for the repetition (bench/ratio.cpp prints its median over repetitions).
//
// `mine(to_b)` and `peer(to_b)` change the target to mask b (to_b) or back to mask a. Even
// iterations run mine→b then peer→a, odd ones peer→b then mine→a: every run really changes the
// mask, and each side makes both changes equally often (BM_library_select's own side only
// selects, so there the peer alone changes the mask, in both directions).

using Clock = std::chrono::steady_clock;

template <typename F>
double timed(F&& f) {
    auto t0 = Clock::now();
    bool ok = f();
    double s = std::chrono::duration<double>(Clock::now() - t0).count();
    return ok ? s : -1;
}

template <typename Mine, typename Peer>
void paired(benchmark::State& state, const std::string& peer_name, Mine&& mine, Peer&& peer) {
    double mine_total = 0, peer_total = 0;
    long i = 0;
    for (auto _ : state) {
        double m, p;
        if (i++ % 2 == 0) {
            m = timed([&] { return mine(true); });
            p = timed([&] { return peer(false); });
        } else {
            p = timed([&] { return peer(true); });
            m = timed([&] { return mine(false); });
        }
        if (m < 0 || p < 0) {
            state.SkipWithError(m < 0 ? "the case's command failed" : "the peer's command failed");
            break;
        }
        mine_total += m;
        peer_total += p;
        state.SetIterationTime(m);
    }
    if (i == 0 || mine_total <= 0) return;
    state.counters["peer_ms"] = peer_total * 1e3 / static_cast<double>(i);
    state.counters["ratio"] = peer_total / mine_total;
    state.SetLabel("paired:" + peer_name);
}

// --- 1. all threads of a 1,000-thread process ---------------------------------------------------------

// The peer: taskset -a -p MASK PID.
auto taskset_all(pid_t pid, const prockit::CpuSet& a, const prockit::CpuSet& b) {
    return [=](bool to_b) {
        return run({"taskset", "-a", "-p", (to_b ? b : a).to_mask(), std::to_string(pid)}) == 0;
    };
}

// Every case starts from mask a (see paired()).
void reset_all_threads(pid_t pid, const prockit::CpuSet& a) {
    if (!prockit::set_affinity_all_threads(pid, a)) std::abort();
}

void BM_paffinity_all_threads(benchmark::State& state) {
    pid_t pid = thousand_thread_process();
    const auto masks = two_masks();  // (clang 14 cannot capture structured bindings)
    const prockit::CpuSet& a = masks.first;
    const prockit::CpuSet& b = masks.second;
    reset_all_threads(pid, a);
    std::string path = paffinity_path();
    paired(
        state, "taskset -a -p",
        [&](bool to_b) {
            return run({path, "-q", "-a", "--set", (to_b ? b : a).to_list(), "--pid", std::to_string(pid)}) == 0;
        },
        taskset_all(pid, a, b));
}

// The floor: a C loop doing only the kernel work (bench/raw_setaffinity.cpp), as its own process.
void BM_raw_loop_all_threads(benchmark::State& state) {
    pid_t pid = thousand_thread_process();
    const auto masks = two_masks();  // (clang 14 cannot capture structured bindings)
    const prockit::CpuSet& a = masks.first;
    const prockit::CpuSet& b = masks.second;
    reset_all_threads(pid, a);
    std::string raw = g_self.substr(0, g_self.rfind('/')) + "/raw_setaffinity";
    paired(
        state, "taskset -a -p",
        [&](bool to_b) { return run({raw, std::to_string(pid), (to_b ? b : a).to_mask()}) == 0; },
        taskset_all(pid, a, b));
}

void BM_library_all_threads(benchmark::State& state) {
    pid_t pid = thousand_thread_process();
    const auto masks = two_masks();  // (clang 14 cannot capture structured bindings)
    const prockit::CpuSet& a = masks.first;
    const prockit::CpuSet& b = masks.second;
    reset_all_threads(pid, a);
    paired(
        state, "taskset -a -p",
        [&](bool to_b) {
            auto r = prockit::set_affinity_all_threads(pid, to_b ? b : a);
            return r && r->ok();
        },
        taskset_all(pid, a, b));
}

// --- 2. selection by command line among 2,000 extra processes --------------------------------------------

std::string g_marker;

pid_t populated_target() {
    static pid_t target = [] {
        // 2,000 bystanders (forks of this binary, so their command lines do not hold the marker)...
        for (int i = 0; i < 2000; ++i) {
            pid_t pid = fork();
            if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the benchmark
                for (;;) pause();
            }
            if (pid < 0) {
                std::perror("fork");
                break;
            }
            g_children.pids.push_back(pid);
        }
        // ...and one target whose command line holds it.
        g_marker = "prockit-bench-target-" + std::to_string(getpid());
        std::vector<std::string> args{g_self, "--sleeper", g_marker};
        std::vector<char*> argv;
        for (auto& s : args) argv.push_back(s.data());
        argv.push_back(nullptr);
        pid_t pid;
        if (posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) std::abort();
        g_children.pids.push_back(pid);
        // Wait until it has exec'd (its command line shows the marker).
        for (int k = 0; k < 5000; ++k) {
            prockit::proc::ProcReader r;
            auto c = r.cmdline(pid);
            if (c && c->find(g_marker) != std::string_view::npos) break;
            usleep(1000);
        }
        return pid;
    }();
    return target;
}

// The peer: pgrep -f RE, then taskset -p MASK on the PID it printed (as a script would).
auto pgrep_taskset(pid_t target, const prockit::CpuSet& a, const prockit::CpuSet& b) {
    return [=](bool to_b) {
        std::string out;
        run({"pgrep", "-f", g_marker}, &out);
        pid_t pid = std::atoi(out.c_str());
        if (pid != target) return false;
        return run({"taskset", "-p", (to_b ? b : a).to_mask(), std::to_string(pid)}) == 0;
    };
}

void BM_paffinity_match(benchmark::State& state) {
    pid_t target = populated_target();
    const auto masks = two_masks();  // (clang 14 cannot capture structured bindings)
    const prockit::CpuSet& a = masks.first;
    const prockit::CpuSet& b = masks.second;
    if (!prockit::set_affinity(target, a)) std::abort();
    std::string path = paffinity_path();
    paired(
        state, "pgrep -f + taskset -p",
        [&](bool to_b) { return run({path, "-q", "--match", g_marker, "--set", (to_b ? b : a).to_list()}) == 0; },
        pgrep_taskset(target, a, b));
}

void BM_library_select(benchmark::State& state) {
    pid_t target = populated_target();
    const auto masks = two_masks();  // (clang 14 cannot capture structured bindings)
    const prockit::CpuSet& a = masks.first;
    const prockit::CpuSet& b = masks.second;
    if (!prockit::set_affinity(target, a)) std::abort();
    prockit::proc::Selector sel;
    sel.patterns = {g_marker};
    auto matcher = prockit::proc::Matcher::compile(sel).value();
    paired(
        state, "pgrep -f + taskset -p",
        [&](bool) {
            auto r = matcher.select();
            return r && r->processes.size() == 1 && r->processes[0].pid == target;
        },
        pgrep_taskset(target, a, b));
}

}  // namespace

BENCHMARK(BM_paffinity_all_threads)->Unit(benchmark::kMillisecond)->UseManualTime()->Iterations(100);
BENCHMARK(BM_raw_loop_all_threads)->Unit(benchmark::kMillisecond)->UseManualTime()->Iterations(100);
BENCHMARK(BM_library_all_threads)->Unit(benchmark::kMillisecond)->UseManualTime()->Iterations(100);
BENCHMARK(BM_paffinity_match)->Unit(benchmark::kMillisecond)->UseManualTime()->Iterations(20);
BENCHMARK(BM_library_select)->Unit(benchmark::kMillisecond)->UseManualTime()->Iterations(20);

int main(int argc, char** argv) {
    if (argc >= 2 && std::strcmp(argv[1], "--sleeper") == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() == 1) return 0;
        for (;;) pause();
    }
    char buf[4096];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    g_self = n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string(argv[0]);
    // The all-threads cases first: the selection cases leave 2,000 extra processes behind, which
    // slow everything on this machine and are no part of the all-threads scenario.
    return prockit::bench::run_with_ratios(argc, argv, {"all_threads", "match|select"});
}
