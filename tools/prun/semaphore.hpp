// tools/prun/semaphore.hpp — prun --semaphore (GNU parallel's sem): a counting semaphore shared by
// every prun of the same user and name. Each of its N slots is a file holding a POSIX record lock
// (fcntl F_SETLK) of the process that holds the slot: the kernel drops the lock when that process
// ends, however it ends (SIGKILL included), so a slot never leaks; and F_GETLK names the holder,
// so a waiter sleeps on the holders' pidfds until one ends — no polling, no timer.
#pragma once

#include <prockit/sys/result.hpp>
#include <prockit/sys/unique_fd.hpp>

#include <string>
#include <vector>

namespace prockit::prun {

class SlotSemaphore {
public:
    /// The semaphore `name` (no '/'; not "." or "..") with `slots` slots, in the user's own
    /// directory: $XDG_RUNTIME_DIR/prun-semaphores, else /tmp/prun-semaphores-UID (created 0700,
    /// refused unless it is the user's own directory).
    static Result<SlotSemaphore> open(const std::string& name, unsigned slots);

    /// Takes a free slot for this process, waiting for one while all are held. The slot stays
    /// taken until this process ends (or the object is destroyed). Locks are per process: call
    /// it in the process that lives as long as the slot is needed.
    Status acquire();
    /// Waits until no slot of the first `slots` is held by any process.
    Status wait_all();
    /// The slot held (0-based), or -1.
    int held() const noexcept { return held_; }

private:
    SlotSemaphore() = default;
    Result<unique_fd> open_slot(unsigned k) const;
    /// The PID holding slot `fd`'s lock, 0 when it is free.
    Result<pid_t> holder(int fd) const;
    /// Sleeps until one of `pids` ends (at once when one has ended already).
    static Status wait_any(const std::vector<pid_t>& pids);

    std::string dir_;
    unsigned slots_ = 1;
    unique_fd slot_fd_;  // the slot held: closing it releases the lock
    int held_ = -1;
};

/// The directory the semaphores of this user live in (see SlotSemaphore::open).
std::string semaphore_base();

}  // namespace prockit::prun
