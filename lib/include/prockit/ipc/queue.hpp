// prockit/ipc/queue.hpp — Queue, SimpleQueue and JoinableQueue between processes.
//
//   prockit::Queue q(100);                                   // at most 100 items waiting
//   prockit::Process producer([&] { for (int i = 0; i < 10; ++i) q.put(i); });
//   producer.start();
//   int x = q.get<int>(5s);                                   // QueueEmpty after 5 s
//
// Multi-producer, multi-consumer, any number of processes forked after the queue was made (or
// attached through fd()). Items are values of any type the codec supports (prockit/ipc/codec.hpp);
// the consumer names the type it expects (get<T>) and a mismatch is a CodecError.
//
// How it works: a ring buffer in an anonymous memfd, mapped twice back to back so every record is
// contiguous; one robust process-shared mutex serialises producers and another serialises
// consumers, so a producer and a consumer never wait for each other except when the queue is empty
// (or holds maxsize items) (futex waits, after a short spin). An item that finds the ring full
// for 10 ms (at once for put_nowait), or
// is bigger than a quarter of it, goes whole to a spill area in the same memfd (sparse, from offset
// 1 TiB; pwritev by the producer, pread and hole punching by the consumer), and so do the items
// after it until the spill area is empty again (FIFO). So maxsize 0 means unbounded (memory
// permitting): put() never waits for a reader. There is no feeder thread: put() copies the item into shared
// memory before it returns. So a child that put items can always be joined — its items stay in
// the queue after it exits (Python's join-thread trap does not exist).
//
// Each item put<T> carries a tag of T (detail::type_tag); get<U> of another type is a CodecError.
//
// Robustness: a process that dies holding either mutex is recovered from by the next one (robust
// mutexes). An item is published only once it is whole, so a producer killed or stopped (SIGSTOP)
// in the middle of a put leaves nothing half-visible, and get() keeps its timeout; a consumer
// that dies in the middle of reading an item loses that item; qsize() may then be off by one.
#pragma once

#include <prockit/ipc/codec.hpp>
#include <prockit/ipc/errors.hpp>
#include <prockit/sys/unique_fd.hpp>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace prockit {

struct QueueOptions {
    /// Most items waiting at once (0: no limit but memory; put() then never waits).
    std::size_t maxsize = 0;
    /// Ring size in bytes (rounded up to a power of two, at least 64 KiB). Not a limit: items that
    /// find the ring full, or are bigger than a quarter of it, go to the spill area (see above).
    std::size_t buffer_bytes = std::size_t{4} << 20;
};

class Queue;
namespace detail {
struct QueueImpl;
QueueImpl& queue_impl(const Queue& q);
struct QueuePart {
    const void* p;
    std::size_t n;
};
}  // namespace detail

class Queue {
public:
    explicit Queue(std::size_t maxsize = 0) : Queue(QueueOptions{.maxsize = maxsize}) {}
    explicit Queue(QueueOptions options);
    /// Attaches to a queue whose fd() another process passed on.
    static Queue attach(unique_fd fd);

    /// Puts a value; on a bounded queue waits at most `timeout` for room, then throws QueueFull.
    template <class T>
    void put(const T& v, Timeout timeout = std::nullopt);
    template <class T>
    void put_nowait(const T& v) { put(v, std::chrono::nanoseconds(0)); }
    /// Takes a value; waits at most `timeout` for one, then throws QueueEmpty.
    template <class T>
    T get(Timeout timeout = std::nullopt);
    template <class T>
    T get_nowait() { return get<T>(std::chrono::nanoseconds(0)); }

    /// Raw messages (no codec).
    void put_bytes(std::string_view bytes, Timeout timeout = std::nullopt);
    std::string get_bytes(Timeout timeout = std::nullopt);

    /// Items waiting (approximate while others put and get).
    std::size_t qsize() const;
    /// Whether no item is waiting; ClosedError after close().
    bool empty() const;
    bool full() const;
    std::size_t maxsize() const;
    /// This handle is done with the queue (as Python's close()): its later put(), get() and empty()
    /// throw ClosedError (IpcErrc::closed). Other handles and processes are not affected. Nothing
    /// needs flushing (there is no feeder thread), so there is no join_thread().
    void close();
    int fd() const;

protected:
    explicit Queue(std::shared_ptr<detail::QueueImpl> impl) : impl_(std::move(impl)) {}
    void put_parts(const detail::QueuePart* parts, std::size_t nparts, Timeout timeout);
    void get_fixed(void* dst, std::size_t n, std::uint64_t tag, Timeout timeout);
    static void check_tag(std::uint64_t got, std::uint64_t want);
    std::string get_message(Timeout timeout, std::size_t prefix, void* prefix_out);
    std::shared_ptr<detail::QueueImpl> impl_;
    friend struct detail::QueueImpl;
    friend class JoinableQueue;
    friend detail::QueueImpl& detail::queue_impl(const Queue& q);
};

template <class T>
void Queue::put(const T& v, Timeout timeout) {
    detail::require_codec<T>();
    static constexpr std::uint64_t tag = detail::type_tag<T>();
    if constexpr (detail::RawCodable<T>) {
        detail::QueuePart p[2] = {{&tag, sizeof tag}, {&v, sizeof(T)}};
        put_parts(p, 2, timeout);
    } else if constexpr (std::is_same_v<T, std::string>) {
        std::uint64_t n = v.size();
        detail::QueuePart p[3] = {{&tag, sizeof tag}, {&n, sizeof n}, {v.data(), v.size()}};
        put_parts(p, 3, timeout);
    } else {
        std::string buf = encode(v);
        detail::QueuePart p[2] = {{&tag, sizeof tag}, {buf.data(), buf.size()}};
        put_parts(p, 2, timeout);
    }
}

template <class T>
T Queue::get(Timeout timeout) {
    detail::require_codec<T>();
    static constexpr std::uint64_t tag = detail::type_tag<T>();
    if constexpr (detail::RawCodable<T>) {
        T v;
        get_fixed(&v, sizeof(T), tag, timeout);
        return v;
    } else if constexpr (std::is_same_v<T, std::string>) {
        std::uint64_t pre[2] = {0, 0};
        std::string s = get_message(timeout, sizeof pre, pre);
        check_tag(pre[0], tag);
        if (pre[1] != s.size()) throw CodecError("string length " + std::to_string(pre[1]) + " does not match the message");
        return s;
    } else {
        std::uint64_t got = 0;
        std::string s = get_message(timeout, sizeof got, &got);
        check_tag(got, tag);
        return decode_or_throw<T>(s);
    }
}

/// A Queue with only put/get/empty/close (Python's SimpleQueue): unbounded.
class SimpleQueue {
public:
    explicit SimpleQueue(std::size_t buffer_bytes = std::size_t{4} << 20) : q_(QueueOptions{.maxsize = 0, .buffer_bytes = buffer_bytes}) {}
    template <class T>
    void put(const T& v, Timeout timeout = std::nullopt) { q_.put(v, timeout); }
    template <class T>
    T get(Timeout timeout = std::nullopt) { return q_.get<T>(timeout); }
    bool empty() const { return q_.empty(); }
    void close() { q_.close(); }
    int fd() const { return q_.fd(); }

private:
    Queue q_;
};

/// A Queue that counts unfinished items: every put() adds one, task_done() removes one, and
/// join(timeout) waits until none are left. A consumer that dies before its task_done() leaves the
/// count up: join() then reports false at its timeout.
class JoinableQueue : public Queue {
public:
    explicit JoinableQueue(std::size_t maxsize = 0) : JoinableQueue(QueueOptions{.maxsize = maxsize}) {}
    explicit JoinableQueue(QueueOptions options);
    static JoinableQueue attach(unique_fd fd);
    /// Throws IpcError(too_many_releases) when called more times than items were put.
    void task_done();
    /// True when every item put has been marked done; false when `timeout` passed first.
    bool join(Timeout timeout = std::nullopt);
    std::size_t unfinished() const;

private:
    explicit JoinableQueue(Queue q) : Queue(std::move(q)) {}
};

}  // namespace prockit
