// prockit/ipc/lock.hpp — Lock and RLock shared between processes.
//
//   prockit::Lock lock;                       // before forking the processes that share it
//   prockit::Process p([&] { std::lock_guard g(lock); ... });
//   switch (lock.acquire(2s)) { case LockStatus::acquired: ...; case LockStatus::owner_died: ...
//                               case LockStatus::timed_out: ... }
//
// Both are robust, process-shared pthread mutexes (PTHREAD_MUTEX_ROBUST) in an anonymous memfd
// mapping: when a holder dies while holding one, the kernel releases it and the next acquirer gets
// LockStatus::owner_died — it then holds the lock, the lock is usable again, and it is told that the
// data the lock protects may be half-updated. Never a hang.
//  * acquire(timeout) returns the status; lock()/unlock() make them BasicLockable for lock_guard.
//    lock() on a lock whose owner died releases it again and throws OwnerDiedError (so a guard
//    never runs on possibly inconsistent data unknowingly); the next lock() succeeds.
//  * A Lock must be released by the thread that acquired it (unlike Python's Lock): a robust mutex
//    has an owner. release() by another thread fails with IpcErrc::not_owner.
//  * An RLock may be acquired again by its holder; it is free once released as many times.
// Sharing with a process that was not forked after the lock was made: send fd() over a
// Connection (send_fd) and call Lock::attach() on the received fd.
// Handles are cheap copies of one shared lock.
#pragma once

#include <prockit/ipc/errors.hpp>
#include <prockit/ipc/shared_memory.hpp>
#include <prockit/sys/unique_fd.hpp>

#include <cstdint>

namespace prockit {

enum class LockStatus {
    acquired,    ///< now held
    owner_died,  ///< now held; the previous holder died holding it (protected data may be inconsistent)
    timed_out,   ///< not held: the timeout passed
};

class Lock;
namespace detail {
/// Storage for one robust mutex inside a shared block.
struct alignas(64) LockCell {
    unsigned char raw[64];
};
Lock lock_in(const SharedMemory& shm, LockCell* cell, bool init);
}  // namespace detail

class Lock {
public:
    /// A new lock in its own shared block. Throws SystemError if memory cannot be had.
    Lock();
    /// Attaches to a lock whose fd() was passed from another process.
    static Lock attach(unique_fd fd);

    /// Waits at most `timeout` (nullopt: no limit; zero: try once).
    [[nodiscard]] LockStatus acquire(Timeout timeout = std::nullopt);
    /// Throws IpcErrc::not_owner when the calling thread does not hold it.
    void release();

    void lock();
    bool try_lock();
    void unlock() { release(); }

    /// The shared block's fd (to pass to another process).
    int fd() const noexcept { return shm_.fd(); }

private:
    friend Lock detail::lock_in(const SharedMemory&, detail::LockCell*, bool);
    Lock(SharedMemory shm, detail::LockCell* cell) : shm_(std::move(shm)), cell_(cell) {}
    SharedMemory shm_;
    detail::LockCell* cell_ = nullptr;
};

class RLock {
public:
    RLock();
    static RLock attach(unique_fd fd);

    [[nodiscard]] LockStatus acquire(Timeout timeout = std::nullopt);
    void release();
    void lock();
    bool try_lock();
    void unlock() { release(); }
    /// Whether the calling thread holds it, and how many times.
    bool is_owned() const;
    unsigned count() const;

    int fd() const noexcept { return shm_.fd(); }

private:
    friend class Condition;
    RLock(SharedMemory shm, void* state) : shm_(std::move(shm)), state_(state) {}
    // For Condition::wait: drop every level / take them back.
    unsigned release_all();
    LockStatus restore(unsigned levels);
    SharedMemory shm_;
    void* state_ = nullptr;
};

}  // namespace prockit
