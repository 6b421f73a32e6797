// prockit/ipc/semaphore.hpp — Semaphore and BoundedSemaphore shared between processes.
//
// A counter in shared memory with a futex to sleep on: acquire() takes one unit (waiting at most
// `timeout`), release() gives units back. Nothing is held while waiting, so a waiter that dies
// leaves nothing behind; a holder that dies without releasing keeps its units (as in Python — a
// semaphore has no owner). A BoundedSemaphore refuses to go above its initial value
// (IpcErrc::too_many_releases). Share with a non-forked process through fd() and attach().
#pragma once

#include <prockit/ipc/errors.hpp>
#include <prockit/ipc/shared_memory.hpp>
#include <prockit/sys/unique_fd.hpp>

namespace prockit {

class Semaphore {
public:
    explicit Semaphore(unsigned value = 1);
    static Semaphore attach(unique_fd fd);

    /// True when a unit was taken; false when `timeout` passed first.
    bool acquire(Timeout timeout = std::nullopt);
    bool try_acquire() { return acquire(std::chrono::nanoseconds(0)); }
    void release(unsigned n = 1);
    /// The current count (a snapshot).
    unsigned get_value() const;
    int fd() const noexcept { return shm_.fd(); }

    // BasicLockable, for guards.
    void lock() { (void)acquire(); }
    void unlock() { release(); }

protected:
    Semaphore(SharedMemory shm) : shm_(std::move(shm)) {}
    SharedMemory shm_;
};

class BoundedSemaphore : public Semaphore {
public:
    explicit BoundedSemaphore(unsigned value = 1);
    static BoundedSemaphore attach(unique_fd fd);

private:
    BoundedSemaphore(SharedMemory shm) : Semaphore(std::move(shm)) {}
};

}  // namespace prockit
