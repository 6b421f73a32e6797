#include <prockit/ipc/queue.hpp>

#include "ipc/queue_internal.hpp"
#include "ipc/sync_internal.hpp"

#include <prockit/sys/syscall.hpp>

#include <algorithm>
#include <climits>
#include <cstring>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace prockit {

namespace detail {

namespace {
constexpr std::size_t kHeaderBytes = 4096;
constexpr std::uint32_t kFirst = 1, kLast = 2, kAbort = 4;
constexpr int kSpin = 2048;
constexpr auto kLivenessSlice = std::chrono::milliseconds(50);
// Successive sleep slices of a waiter (see wake_consumer): short at first, when a missed wake-up
// is most likely, then longer so an idle waiter costs little.
constexpr std::chrono::microseconds kSleepSlices[] = {std::chrono::microseconds(50), std::chrono::microseconds(200),
                                                      std::chrono::microseconds(1000), std::chrono::microseconds(5000),
                                                      std::chrono::microseconds(20000)};
std::chrono::nanoseconds slice(int& k) {
    auto s = kSleepSlices[k];
    if (k + 1 < static_cast<int>(std::size(kSleepSlices))) ++k;
    return s;
}

struct Rec {
    std::uint32_t len;
    std::uint32_t flags;
};
std::uint64_t rec_size(std::uint64_t len) { return sizeof(Rec) + ((len + 7) & ~std::uint64_t{7}); }

std::size_t round_capacity(std::size_t want) {
    std::size_t c = 64 * 1024;
    while (c < want) c <<= 1;
    long page = sysconf(_SC_PAGESIZE);
    return std::max<std::size_t>(c, static_cast<std::size_t>(page));
}
}  // namespace

QueueImpl::~QueueImpl() {
    if (base) ::munmap(base, map_len);
}

std::shared_ptr<QueueImpl> QueueImpl::map(unique_fd fd, std::size_t cap) {
    auto q = std::make_shared<QueueImpl>();
    q->map_len = kHeaderBytes + 2 * cap;
    void* r = ::mmap(nullptr, q->map_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (r == MAP_FAILED) throw SystemError(last_error("reserve queue memory"));
    q->base = static_cast<char*>(r);
    if (::mmap(q->base, kHeaderBytes + cap, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd.get(), 0) == MAP_FAILED ||
        ::mmap(q->base + kHeaderBytes + cap, cap, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd.get(),
               static_cast<off_t>(kHeaderBytes)) == MAP_FAILED)
        throw SystemError(last_error("map queue memory"));
    q->fd = std::move(fd);
    q->h = reinterpret_cast<QueueHeader*>(q->base);
    q->ring = q->base + kHeaderBytes;
    q->cap = cap;
    q->mask = cap - 1;
    q->max_chunk = cap / 4;
    return q;
}

std::shared_ptr<QueueImpl> QueueImpl::create(const QueueOptions& o, bool joinable) {
    static_assert(sizeof(QueueHeader) <= kHeaderBytes);
    std::size_t cap = round_capacity(o.buffer_bytes);
    int raw = ::memfd_create("prockit-queue", MFD_CLOEXEC);
    if (raw < 0) throw SystemError(last_error("create a queue"));
    unique_fd fd(raw);
    if (::ftruncate(raw, static_cast<off_t>(kHeaderBytes + cap)) < 0) throw SystemError(last_error("size a queue"));
    auto q = map(std::move(fd), cap);
    QueueHeader* h = q->h;
    h->obj.magic = kMagic;
    h->obj.kind = Kind::queue;
    h->obj.a = cap;
    h->obj.b = o.maxsize;
    h->joinable = joinable ? 1 : 0;
    init_robust_mutex(&h->put_mu);
    init_robust_mutex(&h->get_mu);
    return q;
}

std::shared_ptr<QueueImpl> QueueImpl::attach(unique_fd fd, bool joinable) {
    struct stat st {};
    if (::fstat(fd.get(), &st) < 0) throw SystemError(last_error("stat a queue fd"));
    if (static_cast<std::size_t>(st.st_size) < kHeaderBytes + 64 * 1024) throw_ipc(IpcErrc::bad_handle, "attach a queue");
    std::size_t cap = static_cast<std::size_t>(st.st_size) - kHeaderBytes;
    if (cap & (cap - 1)) throw_ipc(IpcErrc::bad_handle, "attach a queue");
    auto q = map(std::move(fd), cap);
    if (q->h->obj.magic != kMagic || q->h->obj.kind != Kind::queue || q->h->obj.a != cap)
        throw_ipc(IpcErrc::bad_handle, "attach a queue");
    if (joinable && !q->h->joinable) throw_ipc(IpcErrc::bad_handle, "attach a joinable queue (it is not joinable)");
    return q;
}

// ---------------------------------------------------------------- producer side

// No fence between the publishing store and this load (it would cost as much as the rest of a
// put): a sleeper that announced itself just as the store was still in this CPU's store buffer can
// be missed. Sleepers therefore sleep in slices (kSleepSlices) and re-check: a missed wake-up
// costs at most one slice, never a hang.
void QueueImpl::wake_consumer() {
    // The first waker clears the flag: later puts do not repeat the system call.
    if (h->data_waiting.load(std::memory_order_relaxed) && h->data_waiting.exchange(0, std::memory_order_acq_rel)) {
        h->data_seq.fetch_add(1, std::memory_order_release);
        futex_wake(&h->data_seq, 1);
    }
}

void QueueImpl::wake_producer() {
    if (h->space_waiting.load(std::memory_order_relaxed) && h->space_waiting.exchange(0, std::memory_order_acq_rel)) {
        h->space_seq.fetch_add(1, std::memory_order_release);
        futex_wake(&h->space_seq, 1);
    }
}

std::uint64_t QueueImpl::free_bytes() {
    std::uint64_t head = h->head.load(std::memory_order_relaxed);
    if (cap - (head - h->cached_tail) >= cap / 2) return cap - (head - h->cached_tail);
    h->cached_tail = h->tail.load(std::memory_order_acquire);
    return cap - (head - h->cached_tail);
}

bool QueueImpl::count_room() const {
    std::uint64_t maxsize = h->obj.b;
    if (!maxsize) return true;
    return h->put_count.load(std::memory_order_relaxed) - h->get_count.load(std::memory_order_acquire) < maxsize;
}

// Waits (holding the put lock) until pred() holds. False at the deadline.
template <class Pred>
bool QueueImpl::wait_space(const Deadline& d, bool nowait, Pred pred) {
    for (int i = 0; i < kSpin; ++i) {
        if (pred()) return true;
        if (nowait) return false;
        cpu_relax();
    }
    int k = 0;
    for (;;) {
        std::uint32_t seq = h->space_seq.load(std::memory_order_acquire);
        h->space_waiting.exchange(1, std::memory_order_seq_cst);  // a full barrier before re-checking
        if (pred()) {
            h->space_waiting.store(0, std::memory_order_relaxed);
            return true;
        }
        int r = futex_wait(&h->space_seq, seq, d.capped(slice(k)));
        if (r == ETIMEDOUT && !d.passed()) r = 0;
        h->space_waiting.store(0, std::memory_order_relaxed);
        if (pred()) return true;
        if (r == ETIMEDOUT || d.passed()) return false;
    }
}

void QueueImpl::publish(std::uint32_t len, std::uint32_t flags, const QueuePart* parts, std::size_t nparts, std::size_t& part,
                        std::size_t& part_off) {
    std::uint64_t head = h->head.load(std::memory_order_relaxed);
    char* at = ring + (head & mask);
    Rec r{len, flags};
    std::memcpy(at, &r, sizeof r);
    char* dst = at + sizeof r;
    std::size_t left = len;
    while (left > 0 && part < nparts) {
        std::size_t take = std::min(left, parts[part].n - part_off);
        std::memcpy(dst, static_cast<const char*>(parts[part].p) + part_off, take);
        dst += take;
        left -= take;
        part_off += take;
        if (part_off == parts[part].n) {
            ++part;
            part_off = 0;
        }
    }
    h->head.store(head + rec_size(len), std::memory_order_release);
    wake_consumer();
}

void QueueImpl::recover_producer() {
    h->space_waiting.store(0, std::memory_order_relaxed);
    if (h->prod_in_msg) {
        // The dead producer's partial item: tell consumers to drop it. There is room: every
        // non-final chunk leaves space for this record.
        std::size_t p = 0, o = 0;
        publish(0, kAbort, nullptr, 0, p, o);
        h->prod_in_msg = 0;
    }
}

void QueueImpl::put(const QueuePart* parts, std::size_t nparts, Timeout timeout) {
    if (closed.load(std::memory_order_relaxed)) throw_ipc(IpcErrc::closed, "put on a queue");
    std::size_t total = 0;
    for (std::size_t i = 0; i < nparts; ++i) total += parts[i].n;
    bool nowait = timeout && timeout->count() <= 0;
    Deadline d = nowait ? Deadline{} : Deadline::from(timeout);

    LockRc lr = nowait ? trylock_robust(&h->put_mu) : lock_robust(&h->put_mu, d);
    if (lr == LockRc::timed_out) throw_ipc(IpcErrc::full, "put on a queue (timed out)");
    struct Unlock {
        pthread_mutex_t* m;
        ~Unlock() { pthread_mutex_unlock(m); }
    } unlock{&h->put_mu};
    if (lr == LockRc::owner_died || h->prod_in_msg) recover_producer();

    if (!wait_space(d, nowait, [&] { return count_room(); })) throw_ipc(IpcErrc::full, "put on a queue");

    std::size_t part = 0, part_off = 0, done = 0;
    bool first = true;
    do {
        std::size_t c = std::min<std::size_t>(total - done, max_chunk);
        bool last = done + c == total;
        std::uint64_t need = rec_size(c) + (last ? 0 : sizeof(Rec));
        if (!wait_space(d, nowait && first, [&] { return free_bytes() >= need; })) {
            if (!first) {
                std::size_t p = 0, o = 0;
                publish(0, kAbort, nullptr, 0, p, o);  // room reserved by the previous chunk
                h->prod_in_msg = 0;
            }
            throw_ipc(IpcErrc::full, "put on a queue");
        }
        if (last) {
            if (h->joinable) h->unfinished.fetch_add(1, std::memory_order_relaxed);
            h->put_count.store(h->put_count.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
        }
        publish(static_cast<std::uint32_t>(c), (first ? kFirst : 0) | (last ? kLast : 0), parts, nparts, part, part_off);
        h->prod_in_msg = last ? 0 : 1;
        done += c;
        first = false;
    } while (done < total);
}

// ---------------------------------------------------------------- consumer side

std::uint64_t QueueImpl::avail_bytes() {
    std::uint64_t tail = h->tail.load(std::memory_order_relaxed);
    if (h->cached_head - tail >= sizeof(Rec)) return h->cached_head - tail;
    h->cached_head = h->head.load(std::memory_order_acquire);
    return h->cached_head - tail;
}

// Waits (holding the get lock) for a record. `mid` = in the middle of a chunked item: then the
// producer's liveness, not the deadline, bounds the wait. Returns false at the deadline.
bool QueueImpl::wait_data(const Deadline& d, bool nowait, bool& mid, Sink& sink) {
    for (int i = 0; i < kSpin; ++i) {
        if (avail_bytes() >= sizeof(Rec)) return true;
        if (nowait && !mid) return false;
        cpu_relax();
    }
    int k = 0;
    for (;;) {
        std::uint32_t seq = h->data_seq.load(std::memory_order_acquire);
        h->data_waiting.exchange(1, std::memory_order_seq_cst);  // a full barrier before re-checking
        if (avail_bytes() >= sizeof(Rec)) {
            h->data_waiting.store(0, std::memory_order_relaxed);
            return true;
        }
        auto sl = slice(k);
        int r = futex_wait(&h->data_seq, seq, d.capped(mid ? std::min<std::chrono::nanoseconds>(sl, kLivenessSlice) : sl));
        if (r == ETIMEDOUT && !d.passed() && !mid) r = 0;
        h->data_waiting.store(0, std::memory_order_relaxed);
        if (avail_bytes() >= sizeof(Rec)) return true;
        if (mid) {
            // Is the producer of this item still alive? It holds the put lock for the whole item.
            LockRc lr = trylock_robust(&h->put_mu);
            if (lr == LockRc::owner_died) {
                h->space_waiting.store(0, std::memory_order_relaxed);
                h->prod_in_msg = 0;
                pthread_mutex_unlock(&h->put_mu);
                sink.reset(sink.ctx);  // its partial item is dropped; orphan chunks are skipped
                mid = false;
                h->cons_in_msg = 0;
            } else if (lr == LockRc::ok) {
                pthread_mutex_unlock(&h->put_mu);
            }
            continue;
        }
        if (r == ETIMEDOUT || d.passed()) return false;
    }
}

void QueueImpl::get(Sink& sink, Timeout timeout, const ClaimHook* hook) {
    bool nowait = timeout && timeout->count() <= 0;
    Deadline d = nowait ? Deadline{} : Deadline::from(timeout);
    LockRc lr = nowait ? trylock_robust(&h->get_mu) : lock_robust(&h->get_mu, d);
    if (lr == LockRc::timed_out) throw_ipc(IpcErrc::empty, "get from a queue (timed out)");
    struct Unlock {
        pthread_mutex_t* m;
        ~Unlock() { pthread_mutex_unlock(m); }
    } unlock{&h->get_mu};
    if (lr == LockRc::owner_died) {
        h->data_waiting.store(0, std::memory_order_relaxed);
        h->cons_in_msg = 0;  // a dead consumer's half-read item: its remaining chunks are skipped
    }
    bool mid = false;
    for (;;) {
        if (!wait_data(d, nowait, mid, sink)) throw_ipc(IpcErrc::empty, "get from a queue");
        std::uint64_t tail = h->tail.load(std::memory_order_relaxed);
        Rec r;
        std::memcpy(&r, ring + (tail & mask), sizeof r);
        bool drop = false, done = false;
        if (r.flags & kAbort) {
            if (mid) sink.reset(sink.ctx);
            mid = false;
            drop = true;
        } else if (r.flags & kFirst) {
            if (mid) sink.reset(sink.ctx);
            mid = true;
            if (hook) hook->fn(hook->ctx, ring + (tail & mask) + sizeof r, r.len, tail);
        } else if (!mid) {
            drop = true;  // an orphan chunk of an item whose producer or consumer died
        }
        if (!drop) {
            sink.append(sink.ctx, ring + (tail & mask) + sizeof r, r.len);
            if (r.flags & kLast) {
                done = true;
                mid = false;
            }
        }
        if (done) {
            h->get_count.store(h->get_count.load(std::memory_order_relaxed) + 1, std::memory_order_release);
        }
        h->cons_in_msg = mid ? 1 : 0;
        h->tail.store(tail + rec_size(r.len), std::memory_order_release);
        wake_producer();
        if (done) return;
    }
}

}  // namespace detail

detail::QueueImpl& detail::queue_impl(const Queue& q) { return *q.impl_; }

// ---------------------------------------------------------------- public API

using detail::QueueImpl;

Queue::Queue(QueueOptions options) : impl_(QueueImpl::create(options, false)) {}
Queue Queue::attach(unique_fd fd) { return Queue(QueueImpl::attach(std::move(fd), false)); }

void Queue::put_parts(const detail::QueuePart* parts, std::size_t nparts, Timeout timeout) { impl_->put(parts, nparts, timeout); }

void Queue::put_bytes(std::string_view bytes, Timeout timeout) {
    detail::QueuePart p{bytes.data(), bytes.size()};
    impl_->put(&p, 1, timeout);
}

namespace {
struct StringSink {
    std::string* out;
    std::size_t prefix;
    char* prefix_out;
    std::size_t seen;
};
void string_append(void* c, const char* p, std::size_t n) {
    auto* s = static_cast<StringSink*>(c);
    if (s->seen < s->prefix) {
        std::size_t take = std::min(n, s->prefix - s->seen);
        std::memcpy(s->prefix_out + s->seen, p, take);
        s->seen += take;
        p += take;
        n -= take;
        if (s->seen < s->prefix) return;
    }
    s->out->append(p, n);
}
void string_reset(void* c) {
    auto* s = static_cast<StringSink*>(c);
    s->out->clear();
    s->seen = 0;
}
struct FixedSink {
    char* dst;
    std::size_t n;
    std::size_t seen;
};
void fixed_append(void* c, const char* p, std::size_t n) {
    auto* s = static_cast<FixedSink*>(c);
    if (s->seen < s->n) std::memcpy(s->dst + s->seen, p, std::min(n, s->n - s->seen));
    s->seen += n;
}
void fixed_reset(void* c) { static_cast<FixedSink*>(c)->seen = 0; }
}  // namespace

std::string Queue::get_message(Timeout timeout, std::size_t prefix, void* prefix_out) {
    std::string out;
    StringSink s{&out, prefix, static_cast<char*>(prefix_out), 0};
    detail::Sink sink{&s, string_append, string_reset};
    impl_->get(sink, timeout);
    if (s.seen < prefix) throw CodecError("message shorter than its length prefix");
    return out;
}

std::string Queue::get_bytes(Timeout timeout) { return get_message(timeout, 0, nullptr); }

std::string detail::QueueImpl::get_claimed(Timeout timeout, const ClaimHook& hook) {
    std::string out;
    StringSink s{&out, 0, nullptr, 0};
    Sink sink{&s, string_append, string_reset};
    get(sink, timeout, &hook);
    return out;
}

void Queue::get_fixed(void* dst, std::size_t n, Timeout timeout) {
    FixedSink s{static_cast<char*>(dst), n, 0};
    detail::Sink sink{&s, fixed_append, fixed_reset};
    impl_->get(sink, timeout);
    if (s.seen != n) throw CodecError("a " + std::to_string(s.seen) + "-byte item where " + std::to_string(n) + " bytes were expected");
}

std::size_t Queue::qsize() const {
    auto* h = impl_->h;
    std::uint64_t g = h->get_count.load(std::memory_order_acquire);
    std::uint64_t p = h->put_count.load(std::memory_order_acquire);
    return p > g ? static_cast<std::size_t>(p - g) : 0;
}

bool Queue::full() const {
    std::size_t m = maxsize();
    return m != 0 && qsize() >= m;
}

std::size_t Queue::maxsize() const { return static_cast<std::size_t>(impl_->h->obj.b); }
void Queue::close() { impl_->closed.store(true, std::memory_order_relaxed); }
int Queue::fd() const { return impl_->fd.get(); }

// ---------------------------------------------------------------- JoinableQueue

JoinableQueue::JoinableQueue(QueueOptions options) : Queue(QueueImpl::create(options, true)) {}
JoinableQueue JoinableQueue::attach(unique_fd fd) { return JoinableQueue(Queue(QueueImpl::attach(std::move(fd), true))); }

void JoinableQueue::task_done() {
    auto* h = impl_->h;
    std::uint64_t u = h->unfinished.load(std::memory_order_relaxed);
    do {
        if (u == 0) throw_ipc(IpcErrc::too_many_releases, "mark a queue task done");
    } while (!h->unfinished.compare_exchange_weak(u, u - 1, std::memory_order_acq_rel, std::memory_order_relaxed));
    if (u == 1) {
        h->unfinished_seq.fetch_add(1, std::memory_order_seq_cst);
        detail::futex_wake(&h->unfinished_seq, INT_MAX);
    }
}

bool JoinableQueue::join(Timeout timeout) {
    auto* h = impl_->h;
    auto d = detail::Deadline::from(timeout);
    for (;;) {
        std::uint32_t seq = h->unfinished_seq.load(std::memory_order_seq_cst);
        if (h->unfinished.load(std::memory_order_seq_cst) == 0) return true;
        if (timeout && timeout->count() <= 0) return false;
        int r = detail::futex_wait(&h->unfinished_seq, seq, d);
        if (h->unfinished.load(std::memory_order_seq_cst) == 0) return true;
        if (r == ETIMEDOUT || d.passed()) return false;
    }
}

std::size_t JoinableQueue::unfinished() const { return static_cast<std::size_t>(impl_->h->unfinished.load()); }

}  // namespace prockit
