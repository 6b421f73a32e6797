// prockit/ipc/barrier.hpp — Barrier shared between processes.
//
// wait(timeout) blocks until `parties` processes (or threads) have called it, then all return,
// each with a distinct index in [0, parties). A wait that times out breaks the barrier: it and
// every current and later waiter get BrokenBarrierError until reset(). A party that dies before
// arriving cannot be told from a slow one: the others' timeouts break the barrier (give them one).
// A party that dies while holding the barrier's internal lock is recovered from (robust mutex).
#pragma once

#include <prockit/ipc/errors.hpp>
#include <prockit/ipc/shared_memory.hpp>
#include <prockit/sys/unique_fd.hpp>

namespace prockit {

class Barrier {
public:
    /// `timeout`: the default for wait() calls that give none.
    explicit Barrier(unsigned parties, Timeout timeout = std::nullopt);
    static Barrier attach(unique_fd fd, Timeout timeout = std::nullopt);

    /// Throws BrokenBarrierError when broken or when the timeout passes (which breaks it).
    unsigned wait(Timeout timeout = std::nullopt);
    /// Breaks the barrier (current waiters get BrokenBarrierError) and makes it usable again.
    void reset();
    /// Breaks it for good (until reset()).
    void abort();
    unsigned parties() const;
    unsigned n_waiting() const;
    bool broken() const;
    int fd() const noexcept { return shm_.fd(); }

private:
    Barrier(SharedMemory shm, Timeout t) : shm_(std::move(shm)), default_timeout_(t) {}
    SharedMemory shm_;
    Timeout default_timeout_;
};

}  // namespace prockit
