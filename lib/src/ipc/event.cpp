#include <prockit/ipc/event.hpp>

#include "ipc/sync_internal.hpp"

#include <climits>

namespace prockit {

namespace {
constexpr std::size_t kEventOff = sizeof(detail::ObjectHeader);
std::atomic<std::uint32_t>* flag(const SharedMemory& shm) {
    return reinterpret_cast<std::atomic<std::uint32_t>*>(static_cast<char*>(shm.data()) + kEventOff);
}
}  // namespace

Event::Event() : shm_(detail::new_object(detail::Kind::event, kEventOff + 64)) {}

Event Event::attach(unique_fd fd) {
    auto shm = SharedMemory::from_fd(std::move(fd)).value();
    detail::check_object(shm, detail::Kind::event, kEventOff + 64);
    return Event(std::move(shm));
}

bool Event::is_set() const { return flag(shm_)->load(std::memory_order_acquire) != 0; }

void Event::set() {
    flag(shm_)->store(1, std::memory_order_release);
    detail::futex_wake(flag(shm_), INT_MAX);
}

void Event::clear() { flag(shm_)->store(0, std::memory_order_release); }

bool Event::wait(Timeout timeout) const {
    if (is_set()) return true;
    if (timeout && timeout->count() <= 0) return false;
    auto d = detail::Deadline::from(timeout);
    for (;;) {
        int r = detail::futex_wait(flag(shm_), 0, d);
        if (is_set()) return true;
        if (r == ETIMEDOUT || d.passed()) return false;
    }
}

}  // namespace prockit
