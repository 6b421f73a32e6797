// lib/src/ipc/queue_internal.hpp — the Queue's shared layout and its producer/consumer code.
#pragma once

#include <prockit/ipc/queue.hpp>

#include "ipc/sync_internal.hpp"

#include <atomic>
#include <pthread.h>

namespace prockit::detail {

struct QueueHeader {
    ObjectHeader obj;  // a = ring capacity, b = maxsize
    std::uint32_t joinable;
    // producers (under put_mu)
    alignas(64) pthread_mutex_t put_mu;
    alignas(64) std::atomic<std::uint64_t> head;  // bytes published
    std::atomic<std::uint64_t> put_count;         // whole items published
    std::uint64_t cached_tail;
    std::uint32_t prod_in_msg;  // a chunked item is half-published (older writers; never set now)
    std::atomic<std::uint64_t> ovf_head;  // bytes written to the spill area
    // consumers (under get_mu)
    alignas(64) pthread_mutex_t get_mu;
    alignas(64) std::atomic<std::uint64_t> tail;  // bytes consumed
    std::atomic<std::uint64_t> get_count;         // whole items consumed
    std::uint64_t cached_head;
    std::uint32_t cons_in_msg;  // a chunked item is half-read
    std::uint64_t ovf_punched;  // spill bytes [0, ovf_punched) have been given back (page multiple)
    alignas(64) std::atomic<std::uint64_t> ovf_tail;  // bytes consumed from the spill area
    // wake-ups
    alignas(64) std::atomic<std::uint32_t> data_seq;
    std::atomic<std::uint32_t> data_waiting;  // the get_mu holder sleeps on data_seq
    alignas(64) std::atomic<std::uint32_t> space_seq;
    std::atomic<std::uint32_t> space_waiting;  // the put_mu holder sleeps on space_seq
    // JoinableQueue
    alignas(64) std::atomic<std::uint64_t> unfinished;
    std::atomic<std::uint32_t> unfinished_seq;
};

/// Where a consumer copies an item's bytes (possibly in several chunks).
struct Sink {
    void* ctx;
    void (*append)(void* ctx, const char* p, std::size_t n);
    void (*reset)(void* ctx);
};

/// Called by a consumer, under the consumer lock, when it starts reading an item (its first
/// chunk, at ring position `pos`) and before that chunk is consumed (the Pool records claims with it).
struct ClaimHook {
    void* ctx;
    void (*fn)(void* ctx, const char* first_chunk, std::size_t len, std::uint64_t pos);
};

struct QueueImpl {
    unique_fd fd;
    char* base = nullptr;
    std::size_t map_len = 0;
    QueueHeader* h = nullptr;
    char* ring = nullptr;
    std::uint64_t cap = 0, mask = 0, max_chunk = 0;
    std::atomic<bool> closed{false};
    std::unique_ptr<char[]> spill_buf;  // get_spilled's copy buffer (used under the get lock), kept
    std::size_t spill_buf_n = 0;        // between gets: a fresh MiB per item cost page faults

    ~QueueImpl();
    static std::shared_ptr<QueueImpl> create(const QueueOptions& o, bool joinable);
    static std::shared_ptr<QueueImpl> attach(unique_fd fd, bool joinable);
    static std::shared_ptr<QueueImpl> map(unique_fd fd, std::size_t cap);

    void put(const QueuePart* parts, std::size_t nparts, Timeout timeout);
    void get(Sink& sink, Timeout timeout, const ClaimHook* hook = nullptr);
    /// Bytes consumed so far (ring and spill area): grows with every item taken. The Pool compares
    /// it with the position its ClaimHook was given.
    std::uint64_t tail() const { return h->tail.load(std::memory_order_seq_cst) + h->ovf_tail.load(std::memory_order_seq_cst); }
    std::string get_claimed(Timeout timeout, const ClaimHook& hook);

    // pieces
    void wake_consumer();
    void wake_producer();
    std::uint64_t free_bytes();
    std::uint64_t avail_bytes();
    bool count_room() const;
    template <class Pred>
    bool wait_space(const Deadline& d, bool nowait, Pred pred);
    bool wait_data(const Deadline& d, bool nowait, bool& mid, Sink& sink);
    bool data_ready();
    void spill(const QueuePart* parts, std::size_t nparts, std::size_t total);
    void get_spilled(Sink& sink, const ClaimHook* hook);
    void publish(std::uint32_t len, std::uint32_t flags, const QueuePart* parts, std::size_t nparts, std::size_t& part,
                 std::size_t& part_off);
    void recover_producer();
};

}  // namespace prockit::detail
