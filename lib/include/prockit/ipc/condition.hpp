// prockit/ipc/condition.hpp — Condition variable shared between processes.
//
//   prockit::Condition cond;                         // with its own RLock (Python's default)
//   { std::lock_guard g(cond); cond.wait_for([&] { return shared->ready; }, 5s); }
//
// Built on a sequence word and a futex (not a pthread condvar, whose internal state a waiter killed
// mid-wait can wedge): wait() notes the sequence, releases the lock, sleeps until notify() bumps it
// or the timeout passes, and takes the lock back. Waiters hold nothing while asleep, so a dead
// waiter harms no one; a dead lock holder is reported by the lock (owner_died) — wait() then
// returns holding the lock. Waits may wake spuriously: use wait_for(predicate).
// Sharing with a non-forked process: attach(condition fd, lock fd).
#pragma once

#include <prockit/ipc/errors.hpp>
#include <prockit/ipc/lock.hpp>
#include <prockit/ipc/shared_memory.hpp>

#include <variant>

namespace prockit {

class Condition {
public:
    Condition();
    explicit Condition(Lock lock);
    explicit Condition(RLock lock);
    static Condition attach(unique_fd fd, Lock lock);
    static Condition attach(unique_fd fd, RLock lock);

    [[nodiscard]] LockStatus acquire(Timeout timeout = std::nullopt);
    void release();
    void lock();
    void unlock() { release(); }

    /// The lock must be held. False when `timeout` passed (the lock is held again either way).
    bool wait(Timeout timeout = std::nullopt);
    /// Waits until pred() is true or the timeout passes; returns pred()'s last value.
    template <class Pred>
    bool wait_for(Pred pred, Timeout timeout = std::nullopt);

    void notify(unsigned n = 1);
    void notify_all();
    int fd() const noexcept { return shm_.fd(); }

private:
    Condition(SharedMemory shm, std::variant<Lock, RLock> lock) : shm_(std::move(shm)), lock_(std::move(lock)) {}
    SharedMemory shm_;
    std::variant<Lock, RLock> lock_;
};

template <class Pred>
bool Condition::wait_for(Pred pred, Timeout timeout) {
    auto start = std::chrono::steady_clock::now();
    while (!pred()) {
        Timeout left;
        if (timeout) {
            auto spent = std::chrono::steady_clock::now() - start;
            if (spent >= *timeout) return pred();
            left = *timeout - std::chrono::duration_cast<std::chrono::nanoseconds>(spent);
        }
        wait(left);
    }
    return true;
}

}  // namespace prockit
