#include <prockit/ipc/condition.hpp>

#include "ipc/sync_internal.hpp"

#include <climits>

namespace prockit {

namespace {
constexpr std::size_t kCondOff = sizeof(detail::ObjectHeader);
struct CondState {
    std::atomic<std::uint32_t> seq;
    std::atomic<std::uint32_t> waiters;
};
CondState* cond_state(const SharedMemory& shm) { return reinterpret_cast<CondState*>(static_cast<char*>(shm.data()) + kCondOff); }
SharedMemory make() { return detail::new_object(detail::Kind::condition, kCondOff + sizeof(CondState)); }
SharedMemory check(unique_fd fd) {
    auto shm = SharedMemory::from_fd(std::move(fd)).value();
    detail::check_object(shm, detail::Kind::condition, kCondOff + sizeof(CondState));
    return shm;
}
}  // namespace

Condition::Condition() : Condition(make(), RLock()) {}
Condition::Condition(Lock lock) : Condition(make(), std::move(lock)) {}
Condition::Condition(RLock lock) : Condition(make(), std::move(lock)) {}
Condition Condition::attach(unique_fd fd, Lock lock) { return Condition(check(std::move(fd)), std::move(lock)); }
Condition Condition::attach(unique_fd fd, RLock lock) { return Condition(check(std::move(fd)), std::move(lock)); }

LockStatus Condition::acquire(Timeout timeout) {
    return std::visit([&](auto& l) { return l.acquire(timeout); }, lock_);
}
void Condition::release() {
    std::visit([](auto& l) { l.release(); }, lock_);
}
void Condition::lock() {
    std::visit([](auto& l) { l.lock(); }, lock_);
}

bool Condition::wait(Timeout timeout) {
    CondState* s = cond_state(shm_);
    auto d = detail::Deadline::from(timeout);
    std::uint32_t seq = s->seq.load(std::memory_order_acquire);
    s->waiters.fetch_add(1, std::memory_order_seq_cst);
    unsigned levels = 0;
    if (auto* r = std::get_if<RLock>(&lock_))
        levels = r->release_all();
    else
        std::get<Lock>(lock_).release();
    int rc = 0;
    if (!(timeout && timeout->count() <= 0)) {
        do {
            rc = detail::futex_wait(&s->seq, seq, d);
        } while (rc == EINTR);
    } else {
        rc = ETIMEDOUT;
    }
    s->waiters.fetch_sub(1, std::memory_order_relaxed);
    if (auto* r = std::get_if<RLock>(&lock_))
        (void)r->restore(levels);
    else
        (void)std::get<Lock>(lock_).acquire();
    return rc != ETIMEDOUT;
}

void Condition::notify(unsigned n) {
    CondState* s = cond_state(shm_);
    s->seq.fetch_add(1, std::memory_order_seq_cst);
    if (s->waiters.load(std::memory_order_seq_cst) > 0) detail::futex_wake(&s->seq, n >= INT_MAX ? INT_MAX : static_cast<int>(n));
}

void Condition::notify_all() { notify(INT_MAX); }

}  // namespace prockit
