#include <prockit/ipc/semaphore.hpp>

#include "ipc/sync_internal.hpp"

#include <climits>

namespace prockit {

namespace {
struct SemState {
    std::atomic<std::uint32_t> count;
    std::atomic<std::uint32_t> waiters;
};
constexpr std::size_t kSemOff = sizeof(detail::ObjectHeader);
SemState* sem_state(const SharedMemory& shm) { return reinterpret_cast<SemState*>(static_cast<char*>(shm.data()) + kSemOff); }
detail::ObjectHeader* hdr(const SharedMemory& shm) { return static_cast<detail::ObjectHeader*>(shm.data()); }
}  // namespace

Semaphore::Semaphore(unsigned value) {
    shm_ = detail::new_object(detail::Kind::semaphore, kSemOff + sizeof(SemState), /*bounded*/ 0, value);
    sem_state(shm_)->count.store(value);
}

Semaphore Semaphore::attach(unique_fd fd) {
    auto shm = SharedMemory::from_fd(std::move(fd)).value();
    auto* h = detail::check_object(shm, detail::Kind::semaphore, kSemOff + sizeof(SemState));
    if (h->a != 0) throw_ipc(IpcErrc::bad_handle, "attach a semaphore (it is bounded)");
    return Semaphore(std::move(shm));
}

BoundedSemaphore::BoundedSemaphore(unsigned value) : Semaphore(detail::new_object(detail::Kind::semaphore, kSemOff + sizeof(SemState), 1, value)) {
    sem_state(shm_)->count.store(value);
}

BoundedSemaphore BoundedSemaphore::attach(unique_fd fd) {
    auto shm = SharedMemory::from_fd(std::move(fd)).value();
    auto* h = detail::check_object(shm, detail::Kind::semaphore, kSemOff + sizeof(SemState));
    if (h->a != 1) throw_ipc(IpcErrc::bad_handle, "attach a bounded semaphore (it is not bounded)");
    return BoundedSemaphore(std::move(shm));
}

bool Semaphore::acquire(Timeout timeout) {
    SemState* s = sem_state(shm_);
    detail::Deadline d;
    bool have_deadline = false;
    for (;;) {
        std::uint32_t c = s->count.load(std::memory_order_relaxed);
        while (c > 0) {
            if (s->count.compare_exchange_weak(c, c - 1, std::memory_order_acquire, std::memory_order_relaxed)) return true;
        }
        if (timeout && timeout->count() <= 0) return false;
        if (!have_deadline) {
            d = detail::Deadline::from(timeout);
            have_deadline = true;
        }
        s->waiters.fetch_add(1, std::memory_order_seq_cst);
        int r = detail::futex_wait(&s->count, 0, d);
        s->waiters.fetch_sub(1, std::memory_order_relaxed);
        if (r == ETIMEDOUT) {
            // one last try: a release may have raced with the timeout
            c = s->count.load(std::memory_order_relaxed);
            while (c > 0)
                if (s->count.compare_exchange_weak(c, c - 1, std::memory_order_acquire, std::memory_order_relaxed)) return true;
            return false;
        }
    }
}

void Semaphore::release(unsigned n) {
    SemState* s = sem_state(shm_);
    if (hdr(shm_)->a == 1) {
        auto max = static_cast<std::uint32_t>(hdr(shm_)->b);
        std::uint32_t c = s->count.load(std::memory_order_relaxed);
        do {
            if (c + n > max) throw_ipc(IpcErrc::too_many_releases, "release a bounded semaphore");
        } while (!s->count.compare_exchange_weak(c, c + n, std::memory_order_seq_cst, std::memory_order_relaxed));
    } else {
        s->count.fetch_add(n, std::memory_order_seq_cst);
    }
    // Seq-cst RMW above and load here pair with the waiter's seq-cst waiters increment.
    if (s->waiters.load(std::memory_order_seq_cst) > 0) detail::futex_wake(&s->count, n >= INT_MAX ? INT_MAX : static_cast<int>(n));
}

unsigned Semaphore::get_value() const { return sem_state(shm_)->count.load(std::memory_order_relaxed); }

}  // namespace prockit
