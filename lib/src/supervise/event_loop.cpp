#include <prockit/supervise/event_loop.hpp>

#include <prockit/sys/syscall.hpp>

#include <algorithm>
#include <cerrno>
#include <poll.h>
#include <unistd.h>

namespace prockit {

EventLoop::~EventLoop() {
    if (mask_changed_ && mask_on_exit_ == MaskOnExit::restore) (void)sigprocmask(SIG_SETMASK, &old_mask_, nullptr);
}

Status EventLoop::watch_signals(const std::vector<int>& signals, SignalCallback cb, MaskOnExit on_exit) {
    sigset_t set;
    sigemptyset(&set);
    for (int s : signals)
        if (sigaddset(&set, s) != 0) return fail(last_error("watch signal " + std::to_string(s)));
    sigset_t old;
    if (sigprocmask(SIG_BLOCK, &set, &old) != 0) return fail(last_error("block signals"));
    if (!mask_changed_) {
        old_mask_ = old;
        mask_changed_ = true;
    }
    int fd = signalfd(sigfd_ ? sigfd_.get() : -1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (fd < 0) return fail(last_error("create a signalfd"));
    if (!sigfd_) sigfd_ = unique_fd(fd);
    on_signal_ = std::move(cb);
    mask_on_exit_ = on_exit;
    return {};
}

EventLoop::Id EventLoop::watch(int fd, short events, FdCallback cb) {
    Id id = next_id_++;
    fds_.emplace(id, Watch{fd, events, std::move(cb)});
    return id;
}

void EventLoop::unwatch(Id id) noexcept { fds_.erase(id); }

EventLoop::Id EventLoop::at(Clock::time_point when, TimerCallback cb) {
    Id id = next_id_++;
    timers_.emplace(id, Timer{when, std::move(cb)});
    return id;
}

void EventLoop::cancel(Id id) noexcept { timers_.erase(id); }

Status EventLoop::run_once(std::optional<Clock::time_point> wake_by) {
    std::optional<Clock::time_point> wake = wake_by;
    for (const auto& [id, t] : timers_)
        if (!wake || t.when < *wake) wake = t.when;

    std::vector<pollfd> pfds;
    std::vector<Id> ids;
    pfds.reserve(fds_.size() + 1);
    ids.reserve(fds_.size() + 1);
    if (sigfd_) {
        pfds.push_back({sigfd_.get(), POLLIN, 0});
        ids.push_back(0);
    }
    for (const auto& [id, w] : fds_) {
        pfds.push_back({w.fd, w.events, 0});
        ids.push_back(id);
    }
    timespec ts{}, *tsp = nullptr;
    if (wake) {
        auto left = std::max<Clock::duration>(Clock::duration::zero(), *wake - Clock::now());
        auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
        ts.tv_sec = static_cast<time_t>(ns / 1000000000);
        ts.tv_nsec = static_cast<long>(ns % 1000000000);
        tsp = &ts;
    }
    int n = ppoll(pfds.data(), pfds.size(), tsp, nullptr);
    if (n < 0 && errno != EINTR) return fail(last_error("wait for events"));
    if (n > 0) {
        for (std::size_t i = 0; i < pfds.size(); ++i) {
            if (!pfds[i].revents) continue;
            if (ids[i] == 0) {
                signalfd_siginfo si{};
                while (::read(sigfd_.get(), &si, sizeof si) == static_cast<ssize_t>(sizeof si))
                    if (on_signal_) on_signal_(si);
                continue;
            }
            auto it = fds_.find(ids[i]);
            if (it == fds_.end()) continue;  // unwatched by an earlier callback of this round
            FdCallback cb = it->second.cb;    // a copy: the callback may unwatch itself
            cb(pfds[i].revents);
        }
    }
    // Due timers, earliest first; a timer added by a callback waits for the next round.
    auto now = Clock::now();
    std::vector<std::pair<Clock::time_point, Id>> due;
    for (const auto& [id, t] : timers_)
        if (t.when <= now) due.emplace_back(t.when, id);
    std::sort(due.begin(), due.end());
    for (const auto& [when, id] : due) {
        auto it = timers_.find(id);
        if (it == timers_.end()) continue;  // cancelled meanwhile
        TimerCallback cb = std::move(it->second.cb);
        timers_.erase(it);
        cb();
    }
    return {};
}

}  // namespace prockit
