// The Pool's machinery: workers (forked Process children), a task queue and a result queue (shared
// memory rings), a slot per worker recording the task it holds, and the result-handler thread.
#include <prockit/pool/pool.hpp>

#include "ipc/queue_internal.hpp"

#include <prockit/ipc/queue.hpp>
#include <prockit/ipc/shared_memory.hpp>
#include <prockit/process/process.hpp>

#include <any>
#include <atomic>
#include <condition_variable>
#include <csignal>
#include <cstring>
#include <cxxabi.h>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <poll.h>
#include <stdexcept>
#include <system_error>
#include <variant>
#include <thread>
#include <typeinfo>
#include <unistd.h>

namespace prockit::detail {

namespace {

constexpr std::uint64_t kStopJob = ~std::uint64_t{0};
constexpr auto kIdleSlice = std::chrono::milliseconds(20);

// A task: this header, the callable's bytes (fn_size of them), the encoded argument tuples.
struct TaskHdr {
    std::uint64_t job;
    std::uint32_t chunk;
    std::uint32_t count;
    std::uint64_t fn_size;
    std::uint64_t tramp;
};
struct ResultHdr {
    std::uint64_t job;
    std::uint32_t chunk;
    std::uint32_t ok;  // 1 result, 0 exception (then an ErrHdr, the type's name, what())
};

// The standard exception types a task's exception is rebuilt as in the caller (exact types only:
// a class derived from one of them is not one of them, and reaches the caller as TaskError).
enum class StdKind : std::uint8_t {
    none,
    exception,
    logic_error,
    invalid_argument,
    domain_error,
    length_error,
    out_of_range,
    future_error_unused,
    runtime_error,
    range_error,
    overflow_error,
    underflow_error,
    system_error,
    bad_alloc,
    bad_array_new_length,
    bad_cast,
    bad_typeid,
    bad_optional_access,
    bad_variant_access,
    bad_function_call,
    bad_weak_ptr,
    bad_exception,
    bad_any_cast,
};
enum class StdCategory : std::uint8_t { other, generic, system };
struct ErrHdr {
    StdKind kind;
    StdCategory category;  // system_error: the code's category
    std::uint16_t pad;
    std::int32_t value;  // system_error: the code's value
    std::uint32_t type_len;
};

enum SlotState : std::uint32_t { kIdle = 0, kClaiming = 1, kRunning = 2, kStopped = 3, kStarting = 4 };
constexpr unsigned kMaxInitFailures = 3;  // initializer failures in a row that break the pool
struct alignas(64) WorkerSlot {
    std::atomic<std::uint64_t> job;
    std::atomic<std::uint64_t> pos;
    std::atomic<std::uint32_t> chunk;
    std::atomic<std::uint32_t> state;
};

std::string demangle(const char* name) {
    int st = 0;
    char* d = abi::__cxa_demangle(name, nullptr, nullptr, &st);
    std::string s = st == 0 && d ? d : name;
    std::free(d);
    return s;
}

StdKind kind_of(const std::exception& e, StdCategory& cat, std::int32_t& value) {
    static const std::pair<const std::type_info*, StdKind> kinds[] = {
        {&typeid(std::exception), StdKind::exception},
        {&typeid(std::logic_error), StdKind::logic_error},
        {&typeid(std::invalid_argument), StdKind::invalid_argument},
        {&typeid(std::domain_error), StdKind::domain_error},
        {&typeid(std::length_error), StdKind::length_error},
        {&typeid(std::out_of_range), StdKind::out_of_range},
        {&typeid(std::runtime_error), StdKind::runtime_error},
        {&typeid(std::range_error), StdKind::range_error},
        {&typeid(std::overflow_error), StdKind::overflow_error},
        {&typeid(std::underflow_error), StdKind::underflow_error},
        {&typeid(std::system_error), StdKind::system_error},
        {&typeid(std::bad_alloc), StdKind::bad_alloc},
        {&typeid(std::bad_array_new_length), StdKind::bad_array_new_length},
        {&typeid(std::bad_cast), StdKind::bad_cast},
        {&typeid(std::bad_typeid), StdKind::bad_typeid},
        {&typeid(std::bad_optional_access), StdKind::bad_optional_access},
        {&typeid(std::bad_variant_access), StdKind::bad_variant_access},
        {&typeid(std::bad_function_call), StdKind::bad_function_call},
        {&typeid(std::bad_weak_ptr), StdKind::bad_weak_ptr},
        {&typeid(std::bad_exception), StdKind::bad_exception},
        {&typeid(std::bad_any_cast), StdKind::bad_any_cast},
    };
    const std::type_info& t = typeid(e);
    for (const auto& [ti, kind] : kinds) {
        if (*ti != t) continue;
        if (kind != StdKind::system_error) return kind;
        // Only the codes of the two categories every process has the same object for.
        const std::error_code& ec = static_cast<const std::system_error&>(e).code();
        value = ec.value();
        if (ec.category() == std::generic_category())
            cat = StdCategory::generic;
        else if (ec.category() == std::system_category())
            cat = StdCategory::system;
        else
            return StdKind::none;
        return kind;
    }
    return StdKind::none;
}

void encode_failure(std::string& out, StdKind kind, StdCategory cat, std::int32_t value, const std::string& type, const char* what) {
    ErrHdr eh{kind, cat, 0, value, static_cast<std::uint32_t>(type.size())};
    out.append(reinterpret_cast<const char*>(&eh), sizeof eh);
    out += type;
    out += what;
}

// The caller's copy of a task's standard exception (null: not one of them; TaskError is thrown).
std::exception_ptr rebuild(const ErrHdr& h, const std::string& what) {
    switch (h.kind) {
        case StdKind::exception: return std::make_exception_ptr(std::exception());
        case StdKind::logic_error: return std::make_exception_ptr(std::logic_error(what));
        case StdKind::invalid_argument: return std::make_exception_ptr(std::invalid_argument(what));
        case StdKind::domain_error: return std::make_exception_ptr(std::domain_error(what));
        case StdKind::length_error: return std::make_exception_ptr(std::length_error(what));
        case StdKind::out_of_range: return std::make_exception_ptr(std::out_of_range(what));
        case StdKind::runtime_error: return std::make_exception_ptr(std::runtime_error(what));
        case StdKind::range_error: return std::make_exception_ptr(std::range_error(what));
        case StdKind::overflow_error: return std::make_exception_ptr(std::overflow_error(what));
        case StdKind::underflow_error: return std::make_exception_ptr(std::underflow_error(what));
        case StdKind::system_error: {
            if (h.category == StdCategory::other) return nullptr;
            std::error_code ec(h.value, h.category == StdCategory::generic ? std::generic_category() : std::system_category());
            // what() was "<what_arg>: <message>" (or just the message): give back the same what().
            std::string m = ec.message();
            if (what == m) return std::make_exception_ptr(std::system_error(ec));
            if (what.size() > m.size() + 2 && what.compare(what.size() - m.size() - 2, std::string::npos, ": " + m) == 0)
                return std::make_exception_ptr(std::system_error(ec, what.substr(0, what.size() - m.size() - 2)));
            return nullptr;  // a what() we could not reproduce: TaskError keeps it whole
        }
        case StdKind::bad_alloc: return std::make_exception_ptr(std::bad_alloc());
        case StdKind::bad_array_new_length: return std::make_exception_ptr(std::bad_array_new_length());
        case StdKind::bad_cast: return std::make_exception_ptr(std::bad_cast());
        case StdKind::bad_typeid: return std::make_exception_ptr(std::bad_typeid());
        case StdKind::bad_optional_access: return std::make_exception_ptr(std::bad_optional_access());
        case StdKind::bad_variant_access: return std::make_exception_ptr(std::bad_variant_access());
        case StdKind::bad_function_call: return std::make_exception_ptr(std::bad_function_call());
        case StdKind::bad_weak_ptr: return std::make_exception_ptr(std::bad_weak_ptr());
        case StdKind::bad_exception: return std::make_exception_ptr(std::bad_exception());
        case StdKind::bad_any_cast: return std::make_exception_ptr(std::bad_any_cast());
        default: return nullptr;
    }
}

void claim(void* ctx, const char* first, std::size_t len, std::uint64_t pos) {
    auto* slot = static_cast<WorkerSlot*>(ctx);
    TaskHdr h{};
    if (len >= sizeof h) std::memcpy(&h, first, sizeof h);
    slot->job.store(h.job, std::memory_order_relaxed);
    slot->chunk.store(h.chunk, std::memory_order_relaxed);
    slot->pos.store(pos, std::memory_order_relaxed);
    slot->state.store(kClaiming, std::memory_order_seq_cst);
}

// The worker's life, in the forked child.
int worker_main(Queue tasks, Queue results, WorkerSlot* slot, const std::function<void()>& init, unsigned maxtasks) {
    if (init) init();  // an exception ends the worker (exit code 1); it is replaced, up to a limit
    slot->state.store(kIdle, std::memory_order_seq_cst);
    QueueImpl& tq = queue_impl(tasks);
    ClaimHook hook{slot, claim};
    std::string out;
    for (unsigned done = 0; maxtasks == 0 || done < maxtasks; ++done) {
        std::string msg = tq.get_claimed(std::nullopt, hook);
        TaskHdr h{};
        if (msg.size() < sizeof h) continue;
        std::memcpy(&h, msg.data(), sizeof h);
        if (h.job == kStopJob) {
            slot->state.store(kStopped, std::memory_order_seq_cst);
            return 0;
        }
        slot->state.store(kRunning, std::memory_order_seq_cst);
        out.assign(sizeof(ResultHdr), '\0');
        ResultHdr rh{h.job, h.chunk, 1};
        try {
            if (msg.size() - sizeof h < h.fn_size) throw CodecError("task shorter than its callable");
            Reader r(std::string_view(msg).substr(sizeof h + h.fn_size));
            reinterpret_cast<Trampoline>(h.tramp)(msg.data() + sizeof h, r, h.count, out);
            if (r.remaining() != 0) throw CodecError("arguments left over");
        } catch (const std::exception& e) {
            rh.ok = 0;
            out.resize(sizeof rh);
            StdCategory cat = StdCategory::other;
            std::int32_t value = 0;
            StdKind kind = kind_of(e, cat, value);
            encode_failure(out, kind, cat, value, demangle(typeid(e).name()), e.what());
        } catch (...) {
            rh.ok = 0;
            out.resize(sizeof rh);
            const std::type_info* t = abi::__cxa_current_exception_type();
            encode_failure(out, StdKind::none, StdCategory::other, 0, t ? demangle(t->name()) : "unknown exception", "");
        }
        std::memcpy(out.data(), &rh, sizeof rh);
        results.put_bytes(out);
        slot->job.store(0, std::memory_order_relaxed);
        slot->state.store(kIdle, std::memory_order_seq_cst);
    }
    return 0;
}

}  // namespace

void raise_failure(const TaskFailure& f) {
    ErrHdr h{static_cast<StdKind>(f.std_kind), static_cast<StdCategory>(f.std_category), 0, f.std_value, 0};
    if (std::exception_ptr e = rebuild(h, f.what)) std::rethrow_exception(e);
    throw TaskError(Error(f.code, f.message));
}

struct PoolCore::Impl {
    PoolOptions opt;
    unsigned n = 0;
    Queue tasks;
    Queue results;
    SharedMemory slots_mem;
    WorkerSlot* slots = nullptr;

    // Shared between the caller's threads and the handler (under m).
    mutable std::mutex m;
    std::condition_variable cv;
    std::map<std::uint64_t, std::shared_ptr<JobBase>> jobs;
    std::uint64_t next_job = 1;
    bool closed = false;
    bool started = false;
    bool handler_done = false;
    std::exception_ptr start_error;
    std::vector<pid_t> pids;
    std::atomic<bool> terminating{false};
    bool broken = false;  // the initializer keeps failing: no more workers, no more tasks
    std::thread handler;
    bool joined = false;

    // Handler-thread only.
    unsigned init_failures = 0;
    std::vector<std::unique_ptr<Process>> workers;
    std::vector<bool> stopped;

    Impl(const PoolOptions& o, unsigned count)
        : opt(o), n(count), tasks(QueueOptions{.maxsize = 0, .buffer_bytes = o.buffer_bytes}),
          results(QueueOptions{.maxsize = 0, .buffer_bytes = o.buffer_bytes}) {
        slots_mem = SharedMemory::anonymous(sizeof(WorkerSlot) * count, "prockit-pool").value();
        slots = static_cast<WorkerSlot*>(slots_mem.data());
    }

    void start_worker(unsigned i) {
        WorkerSlot* slot = &slots[i];
        slot->job.store(0);
        slot->state.store(kStarting);
        Queue t = tasks, r = results;
        auto init = opt.initializer;
        unsigned maxtasks = opt.maxtasksperchild;
        auto p = std::make_unique<Process>(
            ProcessOptions{.name = "PoolWorker-" + std::to_string(i + 1), .daemon = true, .parent_death_signal = SIGKILL},
            [t, r, slot, init, maxtasks]() { return worker_main(t, r, slot, init, maxtasks); });
        p->start();
        workers[i] = std::move(p);
        std::lock_guard g(m);
        pids[i] = *workers[i]->pid();
    }

    void dispatch(const std::string& msg) {
        ResultHdr h{};
        if (msg.size() < sizeof h) return;
        std::memcpy(&h, msg.data(), sizeof h);
        std::shared_ptr<JobBase> job;
        {
            std::lock_guard g(m);
            auto it = jobs.find(h.job);
            if (it == jobs.end()) return;  // already failed (its worker was thought lost) or terminated
            job = it->second;
        }
        init_failures = 0;  // a worker got through its initializer
        std::string_view payload = std::string_view(msg).substr(sizeof h);
        bool finished = h.ok ? job->on_chunk(h.chunk, payload) : job->on_error(h.chunk, decode_failure(payload));
        if (finished) {
            std::lock_guard g(m);
            jobs.erase(h.job);
        }
    }

    static TaskFailure decode_failure(std::string_view payload) {
        ErrHdr eh{};
        if (payload.size() < sizeof eh) return {make_error_code(IpcErrc::task_failed), "run a pool task (it raised an exception)"};
        std::memcpy(&eh, payload.data(), sizeof eh);
        payload.remove_prefix(sizeof eh);
        std::string type(payload.substr(0, std::min<std::size_t>(eh.type_len, payload.size())));
        std::string what(payload.substr(type.size()));
        std::string message = "run a pool task (it raised " + type + (what.empty() ? "" : ": " + what) + ")";
        TaskFailure f(make_error_code(IpcErrc::task_failed), std::move(message));
        f.std_kind = static_cast<std::uint8_t>(eh.kind);
        f.std_category = static_cast<std::uint8_t>(eh.category);
        f.std_value = eh.value;
        f.what = std::move(what);
        return f;
    }

    bool drain(int max) {
        bool any = false;
        for (int i = 0; i < max; ++i) {
            try {
                dispatch(results.get_bytes(std::chrono::nanoseconds(0)));
                any = true;
            } catch (const QueueEmpty&) {
                break;
            }
        }
        return any;
    }

    void fail_task(std::uint64_t job_id, std::uint32_t chunk, std::error_code code, const std::string& why) {
        std::shared_ptr<JobBase> job;
        {
            std::lock_guard g(m);
            auto it = jobs.find(job_id);
            if (it == jobs.end()) return;
            job = it->second;
        }
        if (job->on_error(chunk, TaskFailure(code, why))) {
            std::lock_guard g(m);
            jobs.erase(job_id);
        }
    }

    void on_death(unsigned i) {
        Process& p = *workers[i];
        p.join();
        int code = p.exitcode().value_or(0);
        while (drain(1 << 20)) {
        }
        WorkerSlot& s = slots[i];
        std::uint32_t state = s.state.load();
        std::uint64_t job = s.job.load();
        std::uint32_t chunk = s.chunk.load();
        if (state == kStopped || (state == kClaiming && job == kStopJob)) {
            stopped[i] = true;
            return;
        }
        if (state == kStarting) {
            // Died in the initializer (or before it ended). A pool whose initializer keeps
            // failing would replace workers for ever and run nothing: after a few in a row, the
            // pool is broken and its tasks fail.
            if (++init_failures >= kMaxInitFailures) {
                stopped[i] = true;
                break_pool("run a pool task (the pool's initializer failed " + std::to_string(init_failures) +
                           " times in a row; last worker exit code " + std::to_string(code) + ")");
                return;
            }
            if (!terminating.load()) start_worker(i);
            return;
        }
        bool lost = false;
        if (state == kRunning) {
            lost = true;
        } else if (state == kClaiming) {
            // It died inside get(): lost if the item left the queue and no other worker holds it.
            lost = queue_impl(tasks).tail() > s.pos.load();
            for (unsigned k = 0; lost && k < n; ++k)
                if (k != i && slots[k].state.load() != kIdle && slots[k].job.load() == job && slots[k].chunk.load() == chunk) lost = false;
        }
        if (lost) {
            drain(1 << 20);
            std::string why = "run a pool task (worker " + p.name() + ", PID " + std::to_string(*p.pid()) + ", died: " +
                              (code < 0 ? "killed by signal " + std::to_string(-code) : "exit code " + std::to_string(code)) + ")";
            fail_task(job, chunk, make_error_code(IpcErrc::worker_lost), why);
        }
        s.state.store(kIdle);
        s.job.store(0);
        if (!terminating.load()) start_worker(i);
    }

    void break_pool(const std::string& why) {
        std::map<std::uint64_t, std::shared_ptr<JobBase>> left;
        {
            std::lock_guard g(m);
            broken = true;
            closed = true;
            left.swap(jobs);
        }
        for (auto& [id, job] : left) job->on_error(0, TaskFailure(make_error_code(IpcErrc::task_failed), why));
        for (unsigned k = 0; k < n; ++k)
            if (!stopped[k] && workers[k]) {
                workers[k]->kill();
                workers[k]->join();
                stopped[k] = true;
            }
    }

    void check_workers() {
        std::vector<pollfd> fds;
        std::vector<unsigned> idx;
        for (unsigned i = 0; i < n; ++i) {
            if (stopped[i]) continue;
            fds.push_back({workers[i]->sentinel(), POLLIN, 0});
            idx.push_back(i);
        }
        if (fds.empty()) return;
        if (::poll(fds.data(), fds.size(), 0) <= 0) return;
        for (std::size_t k = 0; k < fds.size(); ++k)
            if (fds[k].revents && !stopped[idx[k]]) on_death(idx[k]);
    }

    bool all_stopped() const {
        for (unsigned i = 0; i < n; ++i)
            if (!stopped[i]) return false;
        return true;
    }

    void run() {
        try {
            workers.resize(n);
            stopped.assign(n, false);
            for (unsigned i = 0; i < n; ++i) start_worker(i);
        } catch (...) {
            std::lock_guard g(m);
            start_error = std::current_exception();
        }
        {
            std::lock_guard g(m);
            started = true;
        }
        cv.notify_all();
        if (start_error) {
            kill_all();
            finish_handler();
            return;
        }
        int since_check = 0;
        while (!terminating.load()) {
            bool got = false;
            try {
                dispatch(results.get_bytes(kIdleSlice));
                got = true;
            } catch (const QueueEmpty&) {
            }
            if (!got || ++since_check >= 64) {
                since_check = 0;
                check_workers();
                if (all_stopped()) break;
            }
        }
        if (terminating.load()) kill_all();
        // Whatever is still unfinished now will never be.
        std::map<std::uint64_t, std::shared_ptr<JobBase>> left;
        {
            std::lock_guard g(m);
            left.swap(jobs);
        }
        for (auto& [id, job] : left) job->on_error(0, TaskFailure(make_error_code(IpcErrc::closed), "run a pool task (the pool was terminated)"));
        finish_handler();
    }

    void kill_all() {
        for (auto& w : workers)
            if (w) {
                w->kill();
                w->join();
            }
    }

    void finish_handler() {
        // Release the Process handles here, on the thread that created them.
        workers.clear();
        {
            std::lock_guard g(m);
            handler_done = true;
        }
        cv.notify_all();
    }
};

PoolCore::PoolCore(const PoolOptions& o) : n_(o.processes ? o.processes : cpu_count()) {
    impl_ = std::make_unique<Impl>(o, n_);
    impl_->pids.assign(n_, 0);
    try {
        impl_->handler = std::thread([this] { impl_->run(); });
    } catch (const std::system_error& e) {  // no thread to be had (a pids limit): say what failed
        throw SystemError(Error(e.code(), "start the pool's result-handler thread"));
    }
    std::unique_lock l(impl_->m);
    impl_->cv.wait(l, [&] { return impl_->started; });
    if (impl_->start_error) {
        auto e = impl_->start_error;
        l.unlock();
        impl_->handler.join();
        impl_->joined = true;
        std::rethrow_exception(e);
    }
}

PoolCore::~PoolCore() {
    if (!impl_->joined) {
        terminate();
        (void)join(std::nullopt);
    }
}

std::uint64_t PoolCore::add_job(std::shared_ptr<JobBase> job) {
    std::lock_guard g(impl_->m);
    if (impl_->broken) throw_ipc(IpcErrc::closed, "submit to a pool (it is broken: its initializer keeps failing)");
    if (impl_->closed || impl_->terminating.load()) throw_ipc(IpcErrc::closed, "submit to a pool (it was closed)");
    std::uint64_t id = impl_->next_job++;
    impl_->jobs.emplace(id, std::move(job));
    return id;
}

void PoolCore::put_task(std::uint64_t job, std::uint32_t chunk, std::uint32_t count, std::string_view fn, Trampoline t,
                        std::string_view args) {
    TaskHdr h{job, chunk, count, fn.size(), static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(t))};
    QueuePart parts[3] = {{&h, sizeof h}, {fn.data(), fn.size()}, {args.data(), args.size()}};
    // A full task ring waits for the workers; in slices, so that a pool that broke or was
    // terminated meanwhile (no one will ever read) is an error, not a hang.
    for (;;) {
        try {
            queue_impl(impl_->tasks).put(parts, 3, kIdleSlice * 5);
            return;
        } catch (const QueueFull&) {
            std::lock_guard g(impl_->m);
            if (impl_->broken || impl_->terminating.load() || impl_->handler_done)
                throw_ipc(IpcErrc::closed, "submit to a pool (it stopped while the task queue was full)");
        }
    }
}

void PoolCore::close() {
    {
        std::lock_guard g(impl_->m);
        if (impl_->closed) return;
        impl_->closed = true;
    }
    for (unsigned i = 0; i < n_; ++i) put_task(kStopJob, 0, 0, {}, nullptr, {});
}

void PoolCore::terminate() {
    {
        std::lock_guard g(impl_->m);
        impl_->closed = true;
    }
    impl_->terminating.store(true);
}

bool PoolCore::join(Timeout timeout) {
    {
        std::unique_lock l(impl_->m);
        if (!impl_->closed) throw std::logic_error("join a pool: close() or terminate() it first");
        if (impl_->joined) return true;
        auto done = [&] { return impl_->handler_done; };
        if (!timeout)
            impl_->cv.wait(l, done);
        else if (!impl_->cv.wait_for(l, *timeout, done))
            return false;
    }
    impl_->handler.join();
    std::lock_guard g(impl_->m);
    impl_->joined = true;
    return true;
}

std::vector<pid_t> PoolCore::pids() const {
    std::lock_guard g(impl_->m);
    return impl_->pids;
}

}  // namespace prockit::detail
