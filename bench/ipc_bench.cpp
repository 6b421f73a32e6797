// ipc_bench: prockit's Queue, Pipe and locked Value against raw C loops in the same binary (a raw
// shared-memory ring, raw pipes, a raw process-shared mutex). bench/ipc_bench.sh then compares with
// Python's multiprocessing. Sizes are the (PROCKIT_BENCH_SCALE=0.1 for a quick run).
#include "bench_results.hpp"
#include "ratio.hpp"

#include <prockit/ipc/lock.hpp>
#include <prockit/ipc/pipe.hpp>
#include <prockit/ipc/queue.hpp>
#include <prockit/ipc/value.hpp>
#include <prockit/process/process.hpp>

#include <atomic>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <mutex>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>
#include <vector>

using namespace prockit;
using prockit::bench::record;
using prockit::bench::scaled;
using prockit::bench::Stopwatch;

namespace {

constexpr const char* kBench = "ipc_bench";

void finish(benchmark::State& st, const char* name, double secs, double items, double bytes, const char* peer) {
    st.SetIterationTime(secs);
    st.counters["items/s"] = benchmark::Counter(items / secs);
    if (bytes > 0) st.counters["GB/s"] = benchmark::Counter(bytes / secs / 1e9);
    if (peer) st.SetLabel(std::string("vs:") + peer + "/iterations:1/manual_time");  // the run name of the peer case
    record(kBench, name, secs, bytes > 0 ? bytes / secs : items / secs, bytes > 0 ? "B/s" : "items/s");
}

template <class T>
T* shared_anon(std::size_t n = 1) {
    void* p = ::mmap(nullptr, sizeof(T) * n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? nullptr : new (p) T[n]();
}

// ---- Queue, 8-byte items

void queue_8byte_prockit(benchmark::State& st) {
    std::size_t n = scaled(10'000'000);
    for (auto _ : st) {
        Queue q;
        Process prod([&] {
            for (std::uint64_t i = 0; i < n; ++i) q.put(i);
        });
        Stopwatch sw;
        prod.start();
        std::uint64_t sum = 0;
        for (std::size_t i = 0; i < n; ++i) sum += q.get<std::uint64_t>();
        prod.join();
        double s = sw.seconds();
        if (sum != std::uint64_t{n} * (n - 1) / 2) st.SkipWithError("wrong sum");
        finish(st, "queue_8byte/prockit", s, static_cast<double>(n), 0, "queue_8byte/raw_ring");
    }
}

struct RawRing {
    static constexpr std::size_t kCap = 1 << 16;
    alignas(64) std::atomic<std::uint64_t> head;
    alignas(64) std::atomic<std::uint64_t> tail;
    alignas(64) std::uint64_t buf[kCap];
};

void queue_8byte_raw_ring(benchmark::State& st) {
    std::size_t n = scaled(10'000'000);
    for (auto _ : st) {
        RawRing* r = shared_anon<RawRing>();
        Process prod([&] {
            std::uint64_t tail = 0;
            for (std::uint64_t i = 0; i < n; ++i) {
                std::uint64_t h = r->head.load(std::memory_order_relaxed);
                while (h - tail == RawRing::kCap) tail = r->tail.load(std::memory_order_acquire);
                r->buf[h & (RawRing::kCap - 1)] = i;
                r->head.store(h + 1, std::memory_order_release);
            }
        });
        Stopwatch sw;
        prod.start();
        std::uint64_t sum = 0, head = 0;
        for (std::uint64_t t = 0; t < n; ++t) {
            while (head == t) head = r->head.load(std::memory_order_acquire);
            sum += r->buf[t & (RawRing::kCap - 1)];
            r->tail.store(t + 1, std::memory_order_release);
        }
        prod.join();
        double s = sw.seconds();
        if (sum != std::uint64_t{n} * (n - 1) / 2) st.SkipWithError("wrong sum");
        finish(st, "queue_8byte/raw_ring", s, static_cast<double>(n), 0, nullptr);
        ::munmap(r, sizeof(RawRing));
    }
}

// ---- Queue, 1 MiB items

void queue_1mib_prockit(benchmark::State& st) {
    std::size_t n = scaled(2000);
    const std::string item(1 << 20, 'q');
    for (auto _ : st) {
        Queue q;
        Process prod([&] {
            for (std::size_t i = 0; i < n; ++i) q.put_bytes(item);
        });
        Stopwatch sw;
        prod.start();
        std::size_t bytes = 0;
        for (std::size_t i = 0; i < n; ++i) bytes += q.get_bytes().size();
        prod.join();
        double s = sw.seconds();
        finish(st, "queue_1mib/prockit", s, static_cast<double>(n), static_cast<double>(bytes), "queue_1mib/raw_pipe_1mib");
    }
}

void raw_pipe_bulk(benchmark::State& st, int pipe_size, const char* name) {
    std::size_t n = scaled(2000);
    const std::string item(1 << 20, 'q');
    std::string buf(1 << 20, '\0');
    for (auto _ : st) {
        int p[2];
        if (::pipe2(p, O_CLOEXEC) < 0) st.SkipWithError("pipe");
        if (pipe_size) (void)::fcntl(p[1], F_SETPIPE_SZ, pipe_size);
        Process prod([&] {
            ::close(p[0]);
            for (std::size_t i = 0; i < n; ++i)
                for (std::size_t off = 0; off < item.size();) {
                    ssize_t w = ::write(p[1], item.data() + off, item.size() - off);
                    if (w <= 0) return;
                    off += static_cast<std::size_t>(w);
                }
        });
        Stopwatch sw;
        prod.start();
        ::close(p[1]);
        std::size_t bytes = 0;
        for (ssize_t r; (r = ::read(p[0], buf.data(), buf.size())) > 0;) bytes += static_cast<std::size_t>(r);
        prod.join();
        ::close(p[0]);
        finish(st, name, sw.seconds(), static_cast<double>(n), static_cast<double>(bytes), nullptr);
    }
}
void queue_1mib_raw_pipe_64k(benchmark::State& st) { raw_pipe_bulk(st, 0, "queue_1mib/raw_pipe_64k"); }
void queue_1mib_raw_pipe_1mib(benchmark::State& st) { raw_pipe_bulk(st, 1 << 20, "queue_1mib/raw_pipe_1mib"); }

// ---- Pipe ping-pong

void pingpong_prockit(benchmark::State& st) {
    std::size_t n = scaled(100'000);
    for (auto _ : st) {
        Pipe pipe;
        Process echo([&] {
            pipe.first.close();
            for (std::size_t i = 0; i < n; ++i) pipe.second.send(pipe.second.recv<std::uint64_t>());
        });
        echo.start();
        pipe.second.close();
        Stopwatch sw;
        for (std::uint64_t i = 0; i < n; ++i) {
            pipe.first.send(i);
            if (pipe.first.recv<std::uint64_t>() != i) st.SkipWithError("wrong echo");
        }
        double s = sw.seconds();
        echo.join();
        finish(st, "pipe_pingpong/prockit", s, static_cast<double>(n), 0, "pipe_pingpong/raw_pipe");
    }
}

void pingpong_raw(benchmark::State& st) {
    std::size_t n = scaled(100'000);
    for (auto _ : st) {
        int a[2], b[2];
        if (::pipe2(a, O_CLOEXEC) < 0 || ::pipe2(b, O_CLOEXEC) < 0) st.SkipWithError("pipe");
        Process echo([&] {
            std::uint64_t v;
            for (std::size_t i = 0; i < n; ++i) {
                if (::read(a[0], &v, sizeof v) != sizeof v) return;
                if (::write(b[1], &v, sizeof v) != sizeof v) return;
            }
        });
        echo.start();
        Stopwatch sw;
        for (std::uint64_t i = 0; i < n; ++i) {
            std::uint64_t v = i;
            if (::write(a[1], &v, sizeof v) != sizeof v || ::read(b[0], &v, sizeof v) != sizeof v || v != i) st.SkipWithError("io");
        }
        double s = sw.seconds();
        echo.join();
        for (int fd : {a[0], a[1], b[0], b[1]}) ::close(fd);
        finish(st, "pipe_pingpong/raw_pipe", s, static_cast<double>(n), 0, nullptr);
    }
}

// ---- Lock-protected Value increments, 4 processes

void lock_value_prockit(benchmark::State& st) {
    std::size_t n = scaled(100'000);
    for (auto _ : st) {
        Value<long> v(0);
        std::vector<std::unique_ptr<Process>> ps;
        Stopwatch sw;
        for (int i = 0; i < 4; ++i) {
            ps.push_back(std::make_unique<Process>([&] {
                for (std::size_t k = 0; k < n; ++k) {
                    std::lock_guard g(v.get_lock());
                    v.ref() += 1;
                }
            }));
            ps.back()->start();
        }
        for (auto& p : ps) p->join();
        double s = sw.seconds();
        if (v.load() != static_cast<long>(4 * n)) st.SkipWithError("lost updates");
        finish(st, "lock_value/prockit", s, 4.0 * static_cast<double>(n), 0, "lock_value/raw_mutex");
    }
}

struct RawCounter {
    pthread_mutex_t m;
    long value;
};

void lock_value_raw(benchmark::State& st) {
    std::size_t n = scaled(100'000);
    for (auto _ : st) {
        RawCounter* c = shared_anon<RawCounter>();
        pthread_mutexattr_t a;
        pthread_mutexattr_init(&a);
        pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
        pthread_mutex_init(&c->m, &a);
        std::vector<std::unique_ptr<Process>> ps;
        Stopwatch sw;
        for (int i = 0; i < 4; ++i) {
            ps.push_back(std::make_unique<Process>([&] {
                for (std::size_t k = 0; k < n; ++k) {
                    pthread_mutex_lock(&c->m);
                    c->value += 1;
                    pthread_mutex_unlock(&c->m);
                }
            }));
            ps.back()->start();
        }
        for (auto& p : ps) p->join();
        double s = sw.seconds();
        if (c->value != static_cast<long>(4 * n)) st.SkipWithError("lost updates");
        finish(st, "lock_value/raw_mutex", s, 4.0 * static_cast<double>(n), 0, nullptr);
        ::munmap(c, sizeof(RawCounter));
    }
}

void reset_results() { std::remove(prockit::bench::results_path(kBench).c_str()); }

#define CASE(fn, name) BENCHMARK(fn)->Name(name)->Iterations(1)->Unit(benchmark::kMillisecond)->UseManualTime()
CASE(queue_8byte_raw_ring, "queue_8byte/raw_ring");
CASE(queue_8byte_prockit, "queue_8byte/prockit");
CASE(queue_1mib_raw_pipe_64k, "queue_1mib/raw_pipe_64k");
CASE(queue_1mib_raw_pipe_1mib, "queue_1mib/raw_pipe_1mib");
CASE(queue_1mib_prockit, "queue_1mib/prockit");
CASE(pingpong_raw, "pipe_pingpong/raw_pipe");
CASE(pingpong_prockit, "pipe_pingpong/prockit");
CASE(lock_value_raw, "lock_value/raw_mutex");
CASE(lock_value_prockit, "lock_value/prockit");

}  // namespace

int main(int c, char** v) {
    reset_results();
    return prockit::bench::run_with_ratios(c, v);
}
