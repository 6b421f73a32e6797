// prockit/supervise/event_loop.hpp — one thread's event loop: ppoll over a signalfd, the
// descriptors a client registers (pidfds, output pipes, an input, a "guardian lost" pipe) and
// timers, each with a callback. No threads, no signal handlers: signals are blocked and read from
// a signalfd, and what a signal means is the client's business (it gets the whole siginfo, sender
// included).
#pragma once

#include <prockit/sys/result.hpp>
#include <prockit/sys/unique_fd.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <vector>

#include <csignal>
#include <sys/signalfd.h>

namespace prockit {

class EventLoop {
public:
    using Clock = std::chrono::steady_clock;
    using Id = std::uint64_t;
    /// Called with the poll events that fired (POLLIN, POLLHUP, POLLERR, ...).
    using FdCallback = std::function<void(short revents)>;
    using TimerCallback = std::function<void()>;
    using SignalCallback = std::function<void(const signalfd_siginfo&)>;

    EventLoop() = default;
    EventLoop(const EventLoop&) = delete;
    EventLoop& operator=(const EventLoop&) = delete;
    /// Restores the signal mask that was in force before watch_signals(), unless told to keep it.
    ~EventLoop();

    /// What the destructor does with the signals watch_signals() blocked.
    enum class MaskOnExit {
        restore,  ///< unblock them again (a pending one is then delivered)
        keep,     ///< leave them blocked: a program about to exit is not killed by a late signal
    };

    /// Blocks `signals` in the calling thread and delivers them to `cb` through a signalfd
    /// (created here, O_CLOEXEC). Children spawned by Command reset their mask, so they still see
    /// them. Called again, it adds to the set and replaces the callback.
    Status watch_signals(const std::vector<int>& signals, SignalCallback cb, MaskOnExit on_exit = MaskOnExit::restore);
    /// The signalfd, or -1 before watch_signals().
    int signal_fd() const noexcept { return sigfd_.get(); }

    /// Calls `cb` whenever `fd` (borrowed: the caller keeps it open until unwatch) has `events`.
    Id watch(int fd, short events, FdCallback cb);
    /// Stops watching; safe from inside any callback, also for the registration that is running.
    void unwatch(Id id) noexcept;

    /// Calls `cb` once at `when` (or at the first round after it).
    Id at(Clock::time_point when, TimerCallback cb);
    Id after(Clock::duration d, TimerCallback cb) { return at(Clock::now() + d, std::move(cb)); }
    void cancel(Id id) noexcept;

    /// One round: waits until a watched descriptor is ready, a signal arrives, a timer is due or
    /// `wake_by` passes, then runs the callbacks of what fired (signals first, then descriptors in
    /// registration order, then due timers). Returns at once when a timer is already due.
    Status run_once(std::optional<Clock::time_point> wake_by = std::nullopt);

    /// Number of watched descriptors and pending timers (the signalfd not counted).
    std::size_t watched() const noexcept { return fds_.size(); }
    std::size_t timers() const noexcept { return timers_.size(); }

private:
    struct Watch {
        int fd;
        short events;
        FdCallback cb;
    };
    struct Timer {
        Clock::time_point when;
        TimerCallback cb;
    };
    Id next_id_ = 1;
    std::map<Id, Watch> fds_;
    std::map<Id, Timer> timers_;
    unique_fd sigfd_;
    SignalCallback on_signal_;
    sigset_t old_mask_{};
    bool mask_changed_ = false;
    MaskOnExit mask_on_exit_ = MaskOnExit::restore;
};

}  // namespace prockit
