#include "ipc/sync_internal.hpp"
#include "sys/sanitizers.hpp"

#include <prockit/sys/syscall.hpp>

#include <cerrno>
#include <climits>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace prockit::detail {

namespace {
timespec now_mono() {
    timespec t{};
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t;
}
timespec add(timespec t, std::chrono::nanoseconds d) {
    auto ns = d.count();
    if (ns < 0) ns = 0;
    t.tv_sec += static_cast<time_t>(ns / 1000000000);
    t.tv_nsec += static_cast<long>(ns % 1000000000);
    if (t.tv_nsec >= 1000000000) {
        t.tv_sec += 1;
        t.tv_nsec -= 1000000000;
    }
    return t;
}
bool before(const timespec& a, const timespec& b) { return a.tv_sec < b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec < b.tv_nsec); }
}  // namespace

Deadline Deadline::from(Timeout t) {
    Deadline d;
    if (t) {
        d.infinite = false;
        d.abs = add(now_mono(), *t);
    }
    return d;
}

bool Deadline::passed() const { return !infinite && !before(now_mono(), abs); }

Deadline Deadline::capped(std::chrono::nanoseconds slice) const {
    Deadline c;
    c.infinite = false;
    c.abs = add(now_mono(), slice);
    if (!infinite && before(abs, c.abs)) c.abs = abs;
    return c;
}

int futex_wait(std::atomic<std::uint32_t>* w, std::uint32_t expected, const Deadline& d) {
    static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t));
    long r = syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(w), FUTEX_WAIT_BITSET, expected, d.ts(), nullptr,
                     FUTEX_BITSET_MATCH_ANY);
    if (r == 0) return 0;
    int e = errno;
    if (e == EAGAIN) return 0;
    return e;  // ETIMEDOUT, EINTR
}

void futex_wake(std::atomic<std::uint32_t>* w, int n) {
    syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(w), FUTEX_WAKE, n, nullptr, nullptr, 0);
}

void init_robust_mutex(pthread_mutex_t* m) {
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(m, &a);
    pthread_mutexattr_destroy(&a);
}

namespace {

int timed_lock(pthread_mutex_t* m, const timespec& abs_mono) {
#ifdef PROCKIT_TSAN
    // ThreadSanitizer does not intercept pthread_mutex_clocklock: use timedlock on the realtime
    // clock there (a clock step during the wait moves the deadline; sanitizer builds only).
    timespec now_m{}, now_r{};
    clock_gettime(CLOCK_MONOTONIC, &now_m);
    clock_gettime(CLOCK_REALTIME, &now_r);
    long long left = (abs_mono.tv_sec - now_m.tv_sec) * 1000000000LL + (abs_mono.tv_nsec - now_m.tv_nsec);
    if (left < 0) left = 0;
    long long at = now_r.tv_sec * 1000000000LL + now_r.tv_nsec + left;
    timespec abs_r{static_cast<time_t>(at / 1000000000LL), static_cast<long>(at % 1000000000LL)};
    return pthread_mutex_timedlock(m, &abs_r);
#else
    return pthread_mutex_clocklock(m, CLOCK_MONOTONIC, &abs_mono);
#endif
}
}  // namespace

LockRc lock_robust(pthread_mutex_t* m, const Deadline& d) {
    int r = d.infinite ? pthread_mutex_lock(m) : timed_lock(m, d.abs);
    if (r == 0) return LockRc::ok;
    if (r == EOWNERDEAD) {
        pthread_mutex_consistent(m);
        return LockRc::owner_died;
    }
    if (r == ETIMEDOUT) return LockRc::timed_out;
    throw SystemError(Error::from_errno(r, "lock a shared mutex"));
}

LockRc trylock_robust(pthread_mutex_t* m) {
    int r = pthread_mutex_trylock(m);
    if (r == 0) return LockRc::ok;
    if (r == EOWNERDEAD) {
        pthread_mutex_consistent(m);
        return LockRc::owner_died;
    }
    if (r == EBUSY) return LockRc::timed_out;
    throw SystemError(Error::from_errno(r, "lock a shared mutex"));
}

SharedMemory new_object(Kind kind, std::size_t bytes, std::uint64_t a, std::uint64_t b) {
    static const char* const labels[] = {"prockit-?",     "prockit-lock",    "prockit-rlock", "prockit-semaphore",
                                         "prockit-event", "prockit-condition", "prockit-barrier", "prockit-queue",
                                         "prockit-value", "prockit-array",   "prockit-pool"};
    auto shm = SharedMemory::anonymous(bytes, labels[static_cast<unsigned>(kind)]).value();
    auto* h = static_cast<ObjectHeader*>(shm.data());
    h->magic = kMagic;
    h->kind = kind;
    h->a = a;
    h->b = b;
    return shm;
}

ObjectHeader* check_object(const SharedMemory& shm, Kind kind, std::size_t min_bytes) {
    if (shm.size() < sizeof(ObjectHeader) || shm.size() < min_bytes)
        throw_ipc(IpcErrc::bad_handle, "attach a shared object (too small)");
    auto* h = static_cast<ObjectHeader*>(shm.data());
    if (h->magic != kMagic || h->kind != kind) throw_ipc(IpcErrc::bad_handle, "attach a shared object (wrong kind)");
    return h;
}

}  // namespace prockit::detail
