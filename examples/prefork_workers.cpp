// The prefork master/worker model: a WorkerGroup of 2 workers, one per CPU if pinned; the master
// restarts a worker that dies, then stops them all.
//   $ prefork_workers
//   worker 0 ready (generation 0)
//   worker 1 ready (generation 0)
//   master: killed worker 0
//   worker 0 ready (generation 1)
//   master: restarts=1, stopping
//   master: all workers stopped
#include <prockit/ipc/queue.hpp>
#include <prockit/pool/worker_group.hpp>

#include <csignal>
#include <cstdio>
#include <set>
#include <unistd.h>

using namespace std::chrono_literals;

struct Ready {
    unsigned index, generation;
};

int main() {
    prockit::Queue ready;
    prockit::WorkerGroup group({.workers = 2, .pin = true}, [&](const prockit::WorkerInfo& w) {
        ready.put(Ready{w.index, w.generation});  // a real worker would accept() on a shared socket
        ::pause();
        return 0;
    });
    group.start();
    std::set<unsigned> up;
    while (up.size() < 2) {
        Ready r = ready.get<Ready>(30s);
        up.insert(r.index);
        std::printf("worker %u ready (generation %u)\n", r.index, r.generation);
    }
    std::fflush(stdout);
    ::kill(group.pids()[0], SIGKILL);
    std::printf("master: killed worker 0\n");
    while (group.restarts() == 0) (void)group.supervise(1s);
    Ready again = ready.get<Ready>(30s);
    std::printf("worker %u ready (generation %u)\n", again.index, again.generation);
    std::printf("master: restarts=%u, stopping\n", group.restarts());
    group.stop();
    std::printf("master: all workers stopped\n");
}
