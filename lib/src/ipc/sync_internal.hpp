// lib/src/ipc/sync_internal.hpp — futex, deadline and robust-mutex helpers shared by the ipc objects.
#pragma once

#include <prockit/ipc/errors.hpp>
#include <prockit/ipc/shared_memory.hpp>

#include <atomic>
#include <cstdint>
#include <ctime>
#include <pthread.h>

namespace prockit::detail {

/// An absolute CLOCK_MONOTONIC deadline, or none.
struct Deadline {
    bool infinite = true;
    timespec abs{};
    static Deadline from(Timeout t);
    bool passed() const;
    const timespec* ts() const { return infinite ? nullptr : &abs; }
    /// A deadline `slice` from now, or this one if it comes first.
    Deadline capped(std::chrono::nanoseconds slice) const;
};

/// FUTEX_WAIT_BITSET (shared, absolute monotonic). 0 when woken or the value differed, ETIMEDOUT, EINTR.
int futex_wait(std::atomic<std::uint32_t>* w, std::uint32_t expected, const Deadline& d);
void futex_wake(std::atomic<std::uint32_t>* w, int n);

/// Initialises a process-shared robust mutex (PTHREAD_MUTEX_ROBUST, PTHREAD_PROCESS_SHARED).
void init_robust_mutex(pthread_mutex_t* m);
enum class LockRc { ok, owner_died, timed_out };
/// Locks with a deadline; on EOWNERDEAD marks the mutex consistent and reports owner_died (held).
LockRc lock_robust(pthread_mutex_t* m, const Deadline& d);
/// Non-blocking form: timed_out means busy.
LockRc trylock_robust(pthread_mutex_t* m);

/// Every shared object's memory starts with this header (64 bytes), checked when attached from an fd.
inline constexpr std::uint32_t kMagic = 0x31504b50;  // "PKP1"
enum class Kind : std::uint32_t { lock = 1, rlock, semaphore, event, condition, barrier, queue, value, array, pool };
struct alignas(64) ObjectHeader {
    std::uint32_t magic;
    Kind kind;
    std::uint64_t a;  // kind-specific (element size, parties, capacity...)
    std::uint64_t b;
};
/// A new zero-filled object of `bytes` (including the header), header filled in.
SharedMemory new_object(Kind kind, std::size_t bytes, std::uint64_t a = 0, std::uint64_t b = 0);
/// Checks an attached block; throws IpcError(bad_handle) when it is not a `kind`.
ObjectHeader* check_object(const SharedMemory& shm, Kind kind, std::size_t min_bytes);

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
}

}  // namespace prockit::detail
