#include <prockit/ipc/queue.hpp>

#include "ipc/queue_internal.hpp"
#include "ipc/sync_internal.hpp"

#include <prockit/sys/syscall.hpp>

#include <algorithm>
#include <climits>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/stat.h>
#include <unistd.h>

namespace prockit {

namespace detail {

namespace {
constexpr std::size_t kHeaderBytes = 4096;
constexpr std::uint32_t kFirst = 1, kLast = 2, kAbort = 4;
constexpr int kSpin = 2048;
constexpr auto kLivenessSlice = std::chrono::milliseconds(50);
// The spill area: the same memfd, from this offset on (sparse: only what is waiting uses memory).
constexpr std::uint64_t kSpillBase = std::uint64_t{1} << 40;
// Consumed spill bytes are given back (hole punched) once this many have accumulated, or when the
// spill area empties.
constexpr std::uint64_t kPunchEvery = std::uint64_t{1} << 20;
// How long a put() waits for a full ring to drain before it spills.
constexpr auto kSpillAfter = std::chrono::milliseconds(10);
// A record in the spill area: the item's length, then its bytes (padded to 8).
struct SpillRec {
    std::uint64_t len;
};
std::uint64_t spill_size(std::uint64_t len) { return sizeof(SpillRec) + ((len + 7) & ~std::uint64_t{7}); }
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
    // The size grows with the spill area: the ring's capacity is read from the header.
    ObjectHeader oh{};
    if (::pread(fd.get(), &oh, sizeof oh, 0) != static_cast<ssize_t>(sizeof oh)) throw_ipc(IpcErrc::bad_handle, "attach a queue");
    std::size_t cap = static_cast<std::size_t>(oh.a);
    if (oh.magic != kMagic || cap < 64 * 1024 || (cap & (cap - 1)) || kHeaderBytes + cap > static_cast<std::size_t>(st.st_size))
        throw_ipc(IpcErrc::bad_handle, "attach a queue");
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

// Writes an item to the spill area and publishes it (holding the put lock). The bytes are written
// before ovf_head moves, so a producer that dies or stops half-way leaves nothing half-visible.
void QueueImpl::spill(const QueuePart* parts, std::size_t nparts, std::size_t total) {
    std::uint64_t head = h->ovf_head.load(std::memory_order_relaxed);
    SpillRec r{total};
    iovec iov[8];
    int n = 0;
    iov[n++] = {&r, sizeof r};
    for (std::size_t i = 0; i < nparts; ++i)
        if (parts[i].n) iov[n++] = {const_cast<void*>(parts[i].p), parts[i].n};
    static const char pad[8] = {};
    std::size_t padn = static_cast<std::size_t>(spill_size(total) - sizeof r - total);
    if (padn) iov[n++] = {const_cast<char*>(pad), padn};
    off_t off = static_cast<off_t>(kSpillBase + head);
    int first = 0;
    while (first < n) {
        ssize_t w = ::pwritev(fd.get(), iov + first, n - first, off);
        if (w < 0) {
            if (errno == EINTR) continue;
            throw SystemError(last_error("put on a queue (spill area)"));
        }
        off += w;
        auto left = static_cast<std::size_t>(w);
        while (first < n && left >= iov[first].iov_len) left -= iov[first++].iov_len;
        if (first < n) {
            iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + left;
            iov[first].iov_len -= left;
        }
    }
    if (h->joinable) h->unfinished.fetch_add(1, std::memory_order_relaxed);
    h->put_count.store(h->put_count.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    h->ovf_head.store(head + spill_size(total), std::memory_order_release);
    wake_consumer();
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

    // Only the item count bounds a queue (maxsize); bytes never do.
    if (!wait_space(d, nowait, [&] { return count_room(); })) throw_ipc(IpcErrc::full, "put on a queue");

    // The ring while nothing waits in the spill area (FIFO: once an item spilled, the items after
    // it spill too until consumers have emptied it) and the item fits whole; else the spill area.
    // A full ring is first given a moment (kSpillAfter) to drain: with a consumer at work it does
    // within microseconds, and spilling then would put every following item through two system
    // calls until the consumer catches up.
    auto spill_empty = [&] { return h->ovf_head.load(std::memory_order_relaxed) == h->ovf_tail.load(std::memory_order_acquire); };
    bool to_ring = total <= max_chunk && spill_empty();
    if (to_ring && free_bytes() < rec_size(total)) {
        Deadline brief = nowait ? Deadline{} : d.capped(kSpillAfter);
        to_ring = !nowait && wait_space(brief, false, [&] { return free_bytes() >= rec_size(total) || !spill_empty(); }) &&
                  spill_empty() && free_bytes() >= rec_size(total);
    }
    if (!to_ring) {
        spill(parts, nparts, total);
        return;
    }
    if (h->joinable) h->unfinished.fetch_add(1, std::memory_order_relaxed);
    h->put_count.store(h->put_count.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    std::size_t part = 0, part_off = 0;
    publish(static_cast<std::uint32_t>(total), kFirst | kLast, parts, nparts, part, part_off);
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
bool QueueImpl::data_ready() {
    return h->ovf_head.load(std::memory_order_acquire) != h->ovf_tail.load(std::memory_order_relaxed) || avail_bytes() >= sizeof(Rec);
}

bool QueueImpl::wait_data(const Deadline& d, bool nowait, bool& mid, Sink& sink) {
    for (int i = 0; i < kSpin; ++i) {
        if (data_ready()) return true;
        if (nowait && !mid) return false;
        cpu_relax();
    }
    int k = 0;
    for (;;) {
        std::uint32_t seq = h->data_seq.load(std::memory_order_acquire);
        h->data_waiting.exchange(1, std::memory_order_seq_cst);  // a full barrier before re-checking
        if (data_ready()) {
            h->data_waiting.store(0, std::memory_order_relaxed);
            return true;
        }
        auto sl = slice(k);
        int r = futex_wait(&h->data_seq, seq, d.capped(mid ? std::min<std::chrono::nanoseconds>(sl, kLivenessSlice) : sl));
        if (r == ETIMEDOUT && !d.passed() && !mid) r = 0;
        h->data_waiting.store(0, std::memory_order_relaxed);
        if (data_ready()) return true;
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
        // The spill area's head is read before the ring's: an item the ring shows later was put
        // after everything spilled so far was taken (see put), so the ring goes first.
        std::uint64_t oh = h->ovf_head.load(std::memory_order_acquire);
        if (!mid && avail_bytes() < sizeof(Rec) && oh != h->ovf_tail.load(std::memory_order_relaxed)) {
            get_spilled(sink, hook);
            return;
        }
        if (avail_bytes() < sizeof(Rec)) continue;
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
            if (hook) hook->fn(hook->ctx, ring + (tail & mask) + sizeof r, r.len, tail + h->ovf_tail.load(std::memory_order_relaxed));
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

// Takes the oldest spilled item (holding the get lock), then gives consumed pages back.
void QueueImpl::get_spilled(Sink& sink, const ClaimHook* hook) {
    std::uint64_t t = h->ovf_tail.load(std::memory_order_relaxed);
    auto read_at = [&](void* dst, std::size_t n, std::uint64_t off) {
        auto* p = static_cast<char*>(dst);
        while (n > 0) {
            ssize_t r = ::pread(fd.get(), p, n, static_cast<off_t>(kSpillBase + off));
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) throw SystemError(r < 0 ? last_error("get from a queue (spill area)")
                                                : Error(make_error_code(Errc::protocol), "get from a queue (spill area truncated)"));
            p += r;
            n -= static_cast<std::size_t>(r);
            off += static_cast<std::uint64_t>(r);
        }
    };
    SpillRec rec{};
    read_at(&rec, sizeof rec, t);
    std::uint64_t off = t + sizeof rec;
    std::size_t bufn = static_cast<std::size_t>(std::min<std::uint64_t>(rec.len, kPunchEvery));
    if (spill_buf_n < bufn || !spill_buf) {
        spill_buf.reset(new char[std::max<std::size_t>(bufn, 4096)]);
        spill_buf_n = std::max<std::size_t>(bufn, 4096);
    }
    char* buf = spill_buf.get();
    std::uint64_t left = rec.len;
    bool first = true;
    while (left > 0 || first) {
        std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(left, bufn));
        read_at(buf, n, off);
        if (first && hook) hook->fn(hook->ctx, buf, n, h->tail.load(std::memory_order_relaxed) + t);
        sink.append(sink.ctx, buf, n);
        off += n;
        left -= n;
        first = false;
    }
    std::uint64_t nt = t + spill_size(rec.len);
    h->get_count.store(h->get_count.load(std::memory_order_relaxed) + 1, std::memory_order_release);
    h->ovf_tail.store(nt, std::memory_order_release);
    // Give the memory of what was read back to the system, a page multiple at a time.
    bool now_empty = h->ovf_head.load(std::memory_order_acquire) == nt;
    if (now_empty || nt - h->ovf_punched >= kPunchEvery) {
        std::uint64_t page = static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
        std::uint64_t upto = nt & ~(page - 1);
        if (upto > h->ovf_punched &&
            ::fallocate(fd.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(kSpillBase + h->ovf_punched),
                        static_cast<off_t>(upto - h->ovf_punched)) == 0)
            h->ovf_punched = upto;
    }
    wake_producer();
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
    if (impl_->closed.load(std::memory_order_relaxed)) throw_ipc(IpcErrc::closed, "get from a queue");
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

void Queue::get_fixed(void* dst, std::size_t n, std::uint64_t tag, Timeout timeout) {
    if (impl_->closed.load(std::memory_order_relaxed)) throw_ipc(IpcErrc::closed, "get from a queue");
    // The tag and the value, read into a buffer first: bytes of another type must never be
    // copied into a T (a bool or enum member could take a value it cannot hold).
    char buf[sizeof tag + 256];
    std::unique_ptr<char[]> big;
    char* b = buf;
    if (n > 256) {
        big.reset(new char[sizeof tag + n]);
        b = big.get();
    }
    FixedSink s{b, sizeof tag + n, 0};
    detail::Sink sink{&s, fixed_append, fixed_reset};
    impl_->get(sink, timeout);
    if (s.seen < sizeof tag) throw CodecError("a " + std::to_string(s.seen) + "-byte item where a typed value was expected");
    std::uint64_t got;
    std::memcpy(&got, b, sizeof got);
    check_tag(got, tag);
    if (s.seen != sizeof tag + n)
        throw CodecError("a " + std::to_string(s.seen - sizeof tag) + "-byte item where " + std::to_string(n) + " bytes were expected");
    std::memcpy(dst, b + sizeof tag, n);
}

void Queue::check_tag(std::uint64_t got, std::uint64_t want) {
    if (got != want) throw CodecError("an item of another type than the one asked for");
}

bool Queue::empty() const {
    if (impl_->closed.load(std::memory_order_relaxed)) throw_ipc(IpcErrc::closed, "check a queue");
    return qsize() == 0;
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
