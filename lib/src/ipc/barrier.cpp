#include <prockit/ipc/barrier.hpp>

#include "ipc/sync_internal.hpp"

#include <climits>

namespace prockit {

namespace {
constexpr std::size_t kBarrierOff = sizeof(detail::ObjectHeader);
struct BarrierState {
    pthread_mutex_t mu;
    std::atomic<std::uint32_t> generation;
    std::atomic<std::uint32_t> count;
    std::atomic<std::uint32_t> broken;
    std::atomic<std::uint32_t> broken_gen;  // the generation that was broken (waiters of it fail)
};
BarrierState* barrier_state(const SharedMemory& shm) { return reinterpret_cast<BarrierState*>(static_cast<char*>(shm.data()) + kBarrierOff); }
unsigned parties_of(const SharedMemory& shm) { return static_cast<unsigned>(static_cast<detail::ObjectHeader*>(shm.data())->a); }

struct Guard {
    pthread_mutex_t* m;
    explicit Guard(pthread_mutex_t* mm) : m(mm) { (void)detail::lock_robust(m, detail::Deadline{}); }
    ~Guard() { pthread_mutex_unlock(m); }
};

// Called with the mutex held.
void break_locked(BarrierState* s) {
    s->broken.store(1);
    s->broken_gen.store(s->generation.load());
    s->count.store(0);
    s->generation.fetch_add(1);
    detail::futex_wake(&s->generation, INT_MAX);
}
}  // namespace

Barrier::Barrier(unsigned parties, Timeout timeout) : default_timeout_(timeout) {
    if (parties == 0) throw std::invalid_argument("a barrier needs at least one party");
    shm_ = detail::new_object(detail::Kind::barrier, kBarrierOff + sizeof(BarrierState), parties);
    auto* s = barrier_state(shm_);
    detail::init_robust_mutex(&s->mu);
    s->broken_gen.store(UINT32_MAX);
}

Barrier Barrier::attach(unique_fd fd, Timeout timeout) {
    auto shm = SharedMemory::from_fd(std::move(fd)).value();
    detail::check_object(shm, detail::Kind::barrier, kBarrierOff + sizeof(BarrierState));
    return Barrier(std::move(shm), timeout);
}

unsigned Barrier::wait(Timeout timeout) {
    if (!timeout) timeout = default_timeout_;
    auto d = detail::Deadline::from(timeout);
    auto* s = barrier_state(shm_);
    std::uint32_t gen;
    unsigned index;
    {
        Guard g(&s->mu);
        if (s->broken.load()) throw_ipc(IpcErrc::broken_barrier, "wait at a barrier");
        gen = s->generation.load();
        index = s->count.fetch_add(1);
        if (index + 1 == parties_of(shm_)) {
            s->count.store(0);
            s->generation.fetch_add(1);
            detail::futex_wake(&s->generation, INT_MAX);
            return index;
        }
    }
    for (;;) {
        int r = detail::futex_wait(&s->generation, gen, d);
        if (s->generation.load() != gen) {
            if (s->broken_gen.load() == gen) throw_ipc(IpcErrc::broken_barrier, "wait at a barrier");
            return index;
        }
        if (r == ETIMEDOUT || d.passed()) {
            Guard g(&s->mu);
            if (s->generation.load() != gen) {
                if (s->broken_gen.load() == gen) throw_ipc(IpcErrc::broken_barrier, "wait at a barrier");
                return index;
            }
            break_locked(s);
            throw_ipc(IpcErrc::broken_barrier, "wait at a barrier (timed out)");
        }
    }
}

void Barrier::reset() {
    auto* s = barrier_state(shm_);
    Guard g(&s->mu);
    if (s->count.load() > 0) break_locked(s);
    s->broken.store(0);
}

void Barrier::abort() {
    auto* s = barrier_state(shm_);
    Guard g(&s->mu);
    break_locked(s);
}

unsigned Barrier::parties() const { return parties_of(shm_); }
unsigned Barrier::n_waiting() const { return barrier_state(shm_)->count.load(); }
bool Barrier::broken() const { return barrier_state(shm_)->broken.load() != 0; }

}  // namespace prockit
