// manager_shared_dict.cpp — a Manager: shared objects held by a server process, used by workers
// through proxies (Python's multiprocessing.Manager()).
//
// Four workers each compute a sum of squares and store it in a shared dict, append their index to
// a shared list, add their share to a counter in a shared Namespace (under the manager's Lock, so
// that no update is lost), and report on the manager's Queue. main reads it all back, then shuts
// the manager down: its server process is reaped and nothing is left behind.
//
// Output (the workers' lines in any order; main's lines last, in this order):
//   main: manager server pid=N
//   worker 0: 0..24 squared sums to 4900
//   worker 1: 25..49 squared sums to 35525
//   worker 2: 50..74 squared sums to 97400
//   worker 3: 75..99 squared sums to 190525
//   main: queue: 4 workers reported
//   main: dict: worker-0=4900 worker-1=35525 worker-2=97400 worker-3=190525
//   main: list (sorted): 0 1 2 3
//   main: counter: 100 (expected 100)
//   main: manager shut down, server pid=N reaped
#include <prockit/ipc/manager.hpp>
#include <prockit/process/process.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>
#include <vector>

int main() {
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    prockit::Manager manager;
    std::printf("main: manager server pid=%d\n", static_cast<int>(manager.pid()));

    auto results = manager.dict();
    auto order = manager.list();
    auto ns = manager.Namespace();
    auto lock = manager.Lock();
    auto reports = manager.Queue();
    ns.set("counter", 0);

    std::vector<prockit::Process> workers;
    workers.reserve(4);
    for (int w = 0; w < 4; ++w) {
        // Proxies are copied into each child; each child opens its own connection to the server.
        workers.emplace_back([=] {
            long sum = 0;
            for (long x = w * 25; x < (w + 1) * 25; ++x) sum += x * x;
            results.set("worker-" + std::to_string(w), sum);
            order.append(w);
            for (int i = 0; i < 25; ++i) {
                std::lock_guard guard(lock);  // read-modify-write of the counter, one at a time
                ns.set("counter", ns.get<int>("counter") + 1);
            }
            std::printf("worker %d: %d..%d squared sums to %ld\n", w, w * 25, w * 25 + 24, sum);
            reports.put(w);
        });
        workers.back().start();
    }
    int reported = 0;
    for (int i = 0; i < 4; ++i) {
        reports.get<int>(std::chrono::seconds(60));
        ++reported;
    }
    for (auto& p : workers) p.join();
    std::printf("main: queue: %d workers reported\n", reported);

    std::string line = "main: dict:";
    for (auto& [k, v] : results.items<long>()) line += " " + k + "=" + std::to_string(v);
    std::printf("%s\n", line.c_str());
    auto indexes = order.items<int>();
    std::sort(indexes.begin(), indexes.end());
    line = "main: list (sorted):";
    for (int i : indexes) line += " " + std::to_string(i);
    std::printf("%s\n", line.c_str());
    std::printf("main: counter: %d (expected 100)\n", ns.get<int>("counter"));

    pid_t server = manager.pid();
    manager.shutdown();
    std::printf("main: manager shut down, server pid=%d reaped\n", static_cast<int>(server));
    return 0;
}
