// spawn_bench — the cost of starting /bin/true and waiting for it: prockit's Command::spawn()
// against a raw posix_spawn() loop and a raw fork()+execve() loop, all in this one binary.
//
// Each is measured one at a time (seq) and with two children in flight (both started, then both
// waited for), from a small parent and again from a parent holding 256 MiB of touched memory.
// fork() copies the parent's page tables, so its cost grows with the parent; prockit's
// clone(CLONE_VM|CLONE_VFORK) and glibc's posix_spawn (also CLONE_VM|CLONE_VFORK) should not.
// Target (a note, never asserted): prockit >= 0.9x raw posix_spawn, flat in the parent's size.
//
// Ratio table (printed after the results): peer time / case time.
//   spawn/prockit/...     vs spawn/posix_spawn/... (same mode and parent)
//   spawn/posix_spawn/... vs spawn/fork_exec/...   (what vfork-style spawning saves)
//   spawn/fork_exec/.../parent:256MiB vs .../parent:small (how fork slows down in a big parent)
//
// On a busy machine the load drifts between cases; for steadier numbers run the binary with
//   --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true
// and compare the _median rows.
#include "ratio.hpp"
#include "wait.hpp"

#include <prockit/process/command.hpp>

#include <benchmark/benchmark.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <spawn.h>
#include <string>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace {

constexpr double kMinTime = 1.0;  // seconds per case (12 cases: ~30 s in all)
constexpr size_t kBallastBytes = size_t{256} << 20;
constexpr const char* kProgram = "/bin/true";

// --- the big parent: 256 MiB of anonymous memory, every page touched, in 4 KiB pages (as most of
// a large program's heap is; transparent huge pages would make fork's page-table copy cheaper).
void* g_ballast = nullptr;

void add_ballast(const benchmark::State&) {
    g_ballast = ::mmap(nullptr, kBallastBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (g_ballast == MAP_FAILED) {
        g_ballast = nullptr;
        std::perror("spawn_bench: mmap 256 MiB");
        return;
    }
    (void)::madvise(g_ballast, kBallastBytes, MADV_NOHUGEPAGE);
    std::memset(g_ballast, 0x5a, kBallastBytes);
    benchmark::DoNotOptimize(g_ballast);
    benchmark::ClobberMemory();
}

void drop_ballast(const benchmark::State&) {
    if (g_ballast) ::munmap(g_ballast, kBallastBytes);
    g_ballast = nullptr;
}

// --- the three ways to start /bin/true. Each returns false (after SkipWithError) on failure.

char* const g_argv[] = {const_cast<char*>(kProgram), nullptr};

struct Prockit {
    prockit::Command cmd{kProgram};
    std::array<prockit::Child, 2> kids;
    bool start(benchmark::State& st, int i) {
        auto c = cmd.spawn();
        if (!c) {
            st.SkipWithError(c.error().message().c_str());
            return false;
        }
        kids[static_cast<size_t>(i)] = std::move(*c);
        return true;
    }
    bool wait(benchmark::State& st, int i) {
        auto s = kids[static_cast<size_t>(i)].wait();
        if (!s || !s->success()) {
            st.SkipWithError("prockit: /bin/true did not exit 0");
            return false;
        }
        return true;
    }
};

struct PosixSpawn {
    std::array<pid_t, 2> pids{};
    bool start(benchmark::State& st, int i) {
        int e = ::posix_spawn(&pids[static_cast<size_t>(i)], kProgram, nullptr, nullptr, g_argv, environ);
        if (e != 0) {
            st.SkipWithError(std::strerror(e));
            return false;
        }
        return true;
    }
    bool wait(benchmark::State& st, int i) { return prockit::bench::wait_exit0(st, pids[static_cast<size_t>(i)], "/bin/true"); }
};

struct ForkExec {
    std::array<pid_t, 2> pids{};
    bool start(benchmark::State& st, int i) {
        pid_t pid = ::fork();
        if (pid < 0) {
            st.SkipWithError(std::strerror(errno));
            return false;
        }
        if (pid == 0) {
            ::execve(kProgram, g_argv, environ);
            ::_exit(127);
        }
        pids[static_cast<size_t>(i)] = pid;
        return true;
    }
    bool wait(benchmark::State& st, int i) { return prockit::bench::wait_exit0(st, pids[static_cast<size_t>(i)], "/bin/true"); }
};

// Starts `in_flight` children, then waits for them all, once per iteration.
template <class Spawner>
void spawn_loop(benchmark::State& st, int in_flight, const std::string& label) {
    Spawner s;
    for (auto _ : st) {
        for (int i = 0; i < in_flight; ++i)
            if (!s.start(st, i)) return;
        for (int i = 0; i < in_flight; ++i)
            if (!s.wait(st, i)) return;
    }
    st.SetItemsProcessed(st.iterations() * in_flight);
    if (!label.empty()) st.SetLabel(label);
}

// Google Benchmark appends these settings to every case's name; peers are named in full.
std::string suffix() {
    char buf[64];
    std::snprintf(buf, sizeof buf, "/min_time:%0.3f/real_time", kMinTime);
    return buf;
}
std::string name(const char* impl, const char* mode, const char* parent) {
    return std::string("spawn/") + impl + "/" + mode + "/parent:" + parent;
}

template <class Spawner>
void add(const char* impl, const char* mode, const char* parent, std::string peer) {
    int in_flight = std::strcmp(mode, "seq") == 0 ? 1 : 2;
    std::string label = peer.empty() ? "" : "vs:" + peer + suffix();
    auto* b = benchmark::RegisterBenchmark(name(impl, mode, parent).c_str(), [in_flight, label](benchmark::State& st) {
        spawn_loop<Spawner>(st, in_flight, label);
    });
    b->MinTime(kMinTime)->UseRealTime()->Unit(benchmark::kMicrosecond);
    if (std::strcmp(parent, "256MiB") == 0) b->Setup(add_ballast)->Teardown(drop_ballast);
}

const bool registered = [] {
    for (const char* parent : {"small", "256MiB"}) {
        for (const char* mode : {"seq", "inflight:2"}) {
            add<Prockit>("prockit", mode, parent, name("posix_spawn", mode, parent));
            add<PosixSpawn>("posix_spawn", mode, parent, name("fork_exec", mode, parent));
            add<ForkExec>("fork_exec", mode, parent,
                          std::strcmp(parent, "small") == 0 ? "" : name("fork_exec", mode, "small"));
        }
    }
    return true;
}();

}  // namespace

int main(int argc, char** argv) { return prockit::bench::run_with_ratios(argc, argv); }
