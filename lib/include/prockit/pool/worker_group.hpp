// prockit/pool/worker_group.hpp — WorkerGroup: N long-running workers, supervised (the nginx-style
// prefork master/worker model).
//
//   prockit::WorkerGroup group({.workers = 4, .pin = true}, [&](const prockit::WorkerInfo& w) {
//       serve(listen_fd);            // the worker's life; the fd was opened before start()
//       return 0;
//   });
//   group.start();
//   while (group.supervise(1s) != prockit::SuperviseResult::stop_requested) { /* master work */ }
//   group.stop();
//
// Each worker is a forked Process running the body (a closure is fine here: the fork copies it).
// A worker that fails (a non-zero exit code, or killed by a signal) is restarted by supervise(); one
// that ends with exit code 0 has finished its work and its slot stays empty, so a group whose
// workers all finish ends (supervise() returns all_exited). `restart` selects the policy:
// WorkerRestart::on_failure (the default), ::always (a worker is restarted however it ended, for
// workers that must keep running), ::never. Restarts happen at most `max_restarts` times within
// `restart_window` across the group; past that supervise() reports restart_limit and leaves the
// slot empty (a crash loop is not hidden). With `pin`, worker i is pinned to its own CPU: one
// hardware thread of every core first (SMT-aware, from the sysfs topology), then the siblings,
// within the master's affinity. The workers get `parent_death_signal` when the master dies
// (PR_SET_PDEATHSIG, tied to the thread that forked them: call start() and supervise() from the
// master's long-lived thread). stop(grace) sends SIGTERM to all, SIGKILL after the grace, and
// reaps them; the destructor does the same. request_stop() is async-signal-safe (for a SIGTERM
// handler the caller installs): it makes supervise() return stop_requested.
// No threads: supervision happens inside supervise(), in the caller's thread.
#pragma once

#include <prockit/ipc/errors.hpp>
#include <prockit/sys/unique_fd.hpp>

#include <chrono>
#include <csignal>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

namespace prockit {

class Process;

/// Which ended workers supervise() starts again.
enum class WorkerRestart {
    never,       ///< none: a slot stays empty once its worker ended
    on_failure,  ///< those that exited with a non-zero code or were killed by a signal
    always,      ///< every one, also those that exited with code 0
};

struct WorkerGroupOptions {
    /// Number of workers (0: cpu_count()).
    unsigned workers = 0;
    /// Pin each worker to its own CPU (SMT-aware order).
    bool pin = false;
    /// Which ended workers are restarted.
    WorkerRestart restart = WorkerRestart::on_failure;
    /// Restarts allowed within restart_window, across the group.
    unsigned max_restarts = 10;
    std::chrono::nanoseconds restart_window = std::chrono::seconds(60);
    /// Signal the workers get when the master dies (0: none).
    int parent_death_signal = SIGTERM;
    /// Process names: "<name>-<index>".
    std::string name = "worker";
};

/// What the body is told about the worker it runs in.
struct WorkerInfo {
    unsigned index = 0;             ///< 0 .. workers-1, kept across restarts
    unsigned generation = 0;        ///< 0 for the first start, +1 per restart of this slot
    std::optional<unsigned> cpu;    ///< the CPU it is pinned to, if pinned
};

enum class SuperviseResult {
    timeout,         ///< the timeout passed (workers restarted on the way if they died)
    stop_requested,  ///< request_stop() was called
    restart_limit,   ///< a worker died and the restart-rate limit forbids a restart
    all_exited,      ///< no worker is running any more
};

class WorkerGroup {
public:
    using Body = std::function<int(const WorkerInfo&)>;
    WorkerGroup(WorkerGroupOptions options, Body body);
    ~WorkerGroup();
    WorkerGroup(const WorkerGroup&) = delete;
    WorkerGroup& operator=(const WorkerGroup&) = delete;

    /// Forks every worker.
    void start();
    /// Waits up to `timeout` for events, restarting ended workers as `restart` says. See SuperviseResult.
    SuperviseResult supervise(Timeout timeout);
    /// Async-signal-safe: makes the current or next supervise() return stop_requested.
    void request_stop() noexcept;
    /// SIGTERM to every worker, SIGKILL after `grace`, reap them all.
    void stop(std::chrono::nanoseconds grace = std::chrono::seconds(5));

    /// PIDs of the running workers (0 for an empty slot).
    std::vector<pid_t> pids() const;
    /// The CPU each slot is pinned to (empty optionals without pinning).
    std::vector<std::optional<unsigned>> cpus() const;
    unsigned restarts() const noexcept { return restarts_; }
    std::size_t running() const;
    std::size_t size() const noexcept { return slots_.size(); }

    /// The CPUs workers are pinned to, in order: one thread of each core first, then siblings,
    /// within the calling process's affinity.
    static std::vector<unsigned> pinning_order();

private:
    struct Slot {
        std::unique_ptr<Process> proc;
        unsigned generation = 0;
        std::optional<unsigned> cpu;
    };
    void launch(unsigned i);
    WorkerGroupOptions opt_;
    Body body_;
    std::vector<Slot> slots_;
    std::deque<std::chrono::steady_clock::time_point> restart_times_;
    unsigned restarts_ = 0;
    unique_fd stop_fd_;
    bool started_ = false;
};

}  // namespace prockit
