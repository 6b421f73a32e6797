#include <prockit/ipc/lock.hpp>

#include "ipc/sync_internal.hpp"

#include <pthread.h>
#include <unistd.h>

namespace prockit {

using detail::Kind;
using detail::LockRc;

namespace {
static_assert(sizeof(pthread_mutex_t) <= sizeof(detail::LockCell));
pthread_mutex_t* mx(detail::LockCell* c) { return reinterpret_cast<pthread_mutex_t*>(c->raw); }

LockStatus to_status(LockRc r) {
    switch (r) {
        case LockRc::ok: return LockStatus::acquired;
        case LockRc::owner_died: return LockStatus::owner_died;
        case LockRc::timed_out: break;
    }
    return LockStatus::timed_out;
}

LockStatus acquire_cell(detail::LockCell* c, Timeout t) {
    if (t && t->count() <= 0) return to_status(detail::trylock_robust(mx(c)));
    return to_status(detail::lock_robust(mx(c), detail::Deadline::from(t)));
}

struct RLockState {
    detail::LockCell cell;
    std::atomic<pid_t> owner;  // gettid() of the holder, 0 when free
    unsigned count;            // only touched by the holder
};
constexpr std::size_t kStateOffset = sizeof(detail::ObjectHeader);
}  // namespace

Lock detail::lock_in(const SharedMemory& shm, LockCell* cell, bool init) {
    if (init) init_robust_mutex(mx(cell));
    return Lock(shm, cell);
}

Lock::Lock() {
    shm_ = detail::new_object(Kind::lock, kStateOffset + sizeof(detail::LockCell));
    cell_ = reinterpret_cast<detail::LockCell*>(static_cast<char*>(shm_.data()) + kStateOffset);
    detail::init_robust_mutex(mx(cell_));
}

Lock Lock::attach(unique_fd fd) {
    auto shm = SharedMemory::from_fd(std::move(fd)).value();
    detail::check_object(shm, Kind::lock, kStateOffset + sizeof(detail::LockCell));
    auto* cell = reinterpret_cast<detail::LockCell*>(static_cast<char*>(shm.data()) + kStateOffset);
    return Lock(std::move(shm), cell);
}

LockStatus Lock::acquire(Timeout timeout) { return acquire_cell(cell_, timeout); }

void Lock::release() {
    int r = pthread_mutex_unlock(mx(cell_));
    if (r == EPERM) throw_ipc(IpcErrc::not_owner, "release a lock");
    if (r != 0) throw SystemError(Error::from_errno(r, "release a lock"));
}

void Lock::lock() {
    if (acquire() == LockStatus::owner_died) {
        release();
        throw_ipc(IpcErrc::owner_died, "acquire a lock");
    }
}

bool Lock::try_lock() {
    LockStatus s = acquire(std::chrono::nanoseconds(0));
    if (s == LockStatus::owner_died) {
        release();
        throw_ipc(IpcErrc::owner_died, "acquire a lock");
    }
    return s == LockStatus::acquired;
}

// ---- RLock

RLock::RLock() {
    shm_ = detail::new_object(Kind::rlock, kStateOffset + sizeof(RLockState));
    state_ = static_cast<char*>(shm_.data()) + kStateOffset;
    detail::init_robust_mutex(mx(&static_cast<RLockState*>(state_)->cell));
}

RLock RLock::attach(unique_fd fd) {
    auto shm = SharedMemory::from_fd(std::move(fd)).value();
    detail::check_object(shm, Kind::rlock, kStateOffset + sizeof(RLockState));
    void* st = static_cast<char*>(shm.data()) + kStateOffset;
    return RLock(std::move(shm), st);
}

LockStatus RLock::acquire(Timeout timeout) {
    auto* s = static_cast<RLockState*>(state_);
    pid_t me = gettid();
    if (s->owner.load(std::memory_order_relaxed) == me) {
        ++s->count;
        return LockStatus::acquired;
    }
    LockStatus r = acquire_cell(&s->cell, timeout);
    if (r == LockStatus::timed_out) return r;
    s->owner.store(me, std::memory_order_relaxed);
    s->count = 1;
    return r;
}

void RLock::release() {
    auto* s = static_cast<RLockState*>(state_);
    if (s->owner.load(std::memory_order_relaxed) != gettid()) throw_ipc(IpcErrc::not_owner, "release an rlock");
    if (--s->count == 0) {
        s->owner.store(0, std::memory_order_relaxed);
        pthread_mutex_unlock(mx(&s->cell));
    }
}

void RLock::lock() {
    if (acquire() == LockStatus::owner_died) {
        release();
        throw_ipc(IpcErrc::owner_died, "acquire an rlock");
    }
}

bool RLock::try_lock() {
    LockStatus st = acquire(std::chrono::nanoseconds(0));
    if (st == LockStatus::owner_died) {
        release();
        throw_ipc(IpcErrc::owner_died, "acquire an rlock");
    }
    return st == LockStatus::acquired;
}

bool RLock::is_owned() const { return static_cast<RLockState*>(state_)->owner.load(std::memory_order_relaxed) == gettid(); }
unsigned RLock::count() const { return is_owned() ? static_cast<RLockState*>(state_)->count : 0; }

unsigned RLock::release_all() {
    auto* s = static_cast<RLockState*>(state_);
    if (s->owner.load(std::memory_order_relaxed) != gettid()) throw_ipc(IpcErrc::not_owner, "wait on a condition");
    unsigned n = s->count;
    s->count = 0;
    s->owner.store(0, std::memory_order_relaxed);
    pthread_mutex_unlock(mx(&s->cell));
    return n;
}

LockStatus RLock::restore(unsigned levels) {
    auto* s = static_cast<RLockState*>(state_);
    LockStatus r = acquire_cell(&s->cell, std::nullopt);
    s->owner.store(gettid(), std::memory_order_relaxed);
    s->count = levels;
    return r;
}

}  // namespace prockit
