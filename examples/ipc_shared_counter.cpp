// A counter in a shared Value, incremented by 4 processes: with its lock every increment counts;
// without it, read-modify-write races lose updates (how many depends on the machine and the load).
//   $ ipc_shared_counter
//   with lock: 400000 (expected 400000)
//   without lock: 231577 (expected 400000; lost updates: 168423)
#include <prockit/ipc/barrier.hpp>
#include <prockit/ipc/value.hpp>
#include <prockit/process/process.hpp>

#include <atomic>
#include <cstdio>
#include <memory>
#include <mutex>
#include <vector>

constexpr int kProcesses = 4;
constexpr int kIncrements = 100000;

// A little work between the read and the write, as an interpreter does between the two halves of
// `counter.value += 1`: it widens the window in which another process's update is overwritten.
void interpreter_work() {
    volatile int sink = 0;
    for (int k = 0; k < 20; ++k) sink = k;
    (void)sink;
}

// Runs body in kProcesses processes that start counting together.
template <class Body>
void run_all(Body body) {
    prockit::Barrier start(kProcesses);
    std::vector<std::unique_ptr<prockit::Process>> ps;
    for (int i = 0; i < kProcesses; ++i) {
        ps.push_back(std::make_unique<prockit::Process>([&] {
            start.wait(std::chrono::seconds(30));
            body();
        }));
        ps.back()->start();
    }
    for (auto& p : ps) p->join();
}

int main() {
    prockit::Value<long> locked(0);
    run_all([&] {
        for (int i = 0; i < kIncrements; ++i) {
            std::lock_guard g(locked.get_lock());
            long x = locked.ref();
            interpreter_work();
            locked.ref() = x + 1;
        }
    });
    prockit::Value<long> unlocked(0, /*lock=*/false);
    run_all([&] {
        // An unsynchronised read, then a write: what `counter.value += 1` does in Python.
        std::atomic_ref<long> v(unlocked.ref());
        for (int i = 0; i < kIncrements; ++i) {
            long x = v.load(std::memory_order_relaxed);
            interpreter_work();
            v.store(x + 1, std::memory_order_relaxed);
        }
    });
    long want = long{kProcesses} * kIncrements;
    std::printf("with lock: %ld (expected %ld)\n", locked.load(), want);
    std::printf("without lock: %ld (expected %ld; lost updates: %ld)\n", unlocked.load(), want, want - unlocked.load());
    return locked.load() == want ? 0 : 1;
}
