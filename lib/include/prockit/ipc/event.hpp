// prockit/ipc/event.hpp — Event shared between processes: a flag others can wait for.
//
// A word in shared memory and a futex: set() wakes every waiter, wait(timeout) returns whether the
// flag is set. Nothing is held while waiting, so no peer's death can wedge it.
#pragma once

#include <prockit/ipc/errors.hpp>
#include <prockit/ipc/shared_memory.hpp>
#include <prockit/sys/unique_fd.hpp>

namespace prockit {

class Event {
public:
    Event();
    static Event attach(unique_fd fd);

    bool is_set() const;
    void set();
    void clear();
    /// True once set (at once if it is); false when `timeout` passed first.
    bool wait(Timeout timeout = std::nullopt) const;
    int fd() const noexcept { return shm_.fd(); }

private:
    explicit Event(SharedMemory shm) : shm_(std::move(shm)) {}
    SharedMemory shm_;
};

}  // namespace prockit
