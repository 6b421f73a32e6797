#include <prockit/pool/worker_group.hpp>

#include <prockit/process/process.hpp>
#include <prockit/sched/affinity.hpp>
#include <prockit/sched/topology.hpp>
#include <prockit/sys/syscall.hpp>

#include <algorithm>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

namespace prockit {

WorkerGroup::WorkerGroup(WorkerGroupOptions options, Body body) : opt_(std::move(options)), body_(std::move(body)) {
    unsigned n = opt_.workers ? opt_.workers : cpu_count();
    slots_.resize(n);
    int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd < 0) throw SystemError(last_error("create a worker group"));
    stop_fd_.reset(fd);
    if (opt_.pin) {
        auto order = pinning_order();
        if (!order.empty())
            for (unsigned i = 0; i < n; ++i) slots_[i].cpu = order[i % order.size()];
    }
}

WorkerGroup::~WorkerGroup() {
    try {
        stop();
    } catch (...) {
    }
}

std::vector<unsigned> WorkerGroup::pinning_order() {
    CpuSet allowed;
    if (auto a = get_affinity(0)) allowed = *a;
    std::vector<unsigned> order;
    auto topo = Topology::read();
    if (topo) {
        CpuSet within = allowed.empty() ? topo->online : allowed;
        CpuSet firsts = topo->one_thread_per_core(within);
        for (unsigned c : firsts.cpus()) order.push_back(c);
        for (unsigned c : within.cpus())
            if (!firsts.test(c) && topo->online.test(c)) order.push_back(c);
    } else {
        for (unsigned c : allowed.cpus()) order.push_back(c);
    }
    return order;
}

void WorkerGroup::launch(unsigned i) {
    Slot& s = slots_[i];
    WorkerInfo info{i, s.generation, s.cpu};
    Body* body = &body_;
    auto p = std::make_unique<Process>(
        ProcessOptions{.name = opt_.name + "-" + std::to_string(i), .daemon = true, .parent_death_signal = opt_.parent_death_signal},
        [body, info]() -> int {
            if (info.cpu) {
                CpuSet one;
                one.set(*info.cpu);
                (void)set_affinity(0, one);  // best effort: a CPU taken away since is not fatal
            }
            return (*body)(info);
        });
    p->start();
    s.proc = std::move(p);
}

void WorkerGroup::start() {
    if (started_) throw std::logic_error("start a worker group: already started");
    started_ = true;
    for (unsigned i = 0; i < slots_.size(); ++i) launch(i);
}

void WorkerGroup::request_stop() noexcept {
    std::uint64_t one = 1;
    ssize_t r = ::write(stop_fd_.get(), &one, sizeof one);
    (void)r;
}

SuperviseResult WorkerGroup::supervise(Timeout timeout) {
    auto deadline = timeout ? std::chrono::steady_clock::now() + *timeout : std::chrono::steady_clock::time_point::max();
    for (;;) {
        std::vector<pollfd> fds{{stop_fd_.get(), POLLIN, 0}};
        std::vector<unsigned> idx;
        for (unsigned i = 0; i < slots_.size(); ++i)
            if (slots_[i].proc) {
                fds.push_back({slots_[i].proc->sentinel(), POLLIN, 0});
                idx.push_back(i);
            }
        if (idx.empty()) return SuperviseResult::all_exited;
        int ms = -1;
        if (timeout) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
            ms = static_cast<int>(std::clamp<long long>(left, 0, 1 << 30));
        }
        int r = ::poll(fds.data(), fds.size(), ms);
        if (r < 0 && errno != EINTR) throw SystemError(last_error("supervise workers"));
        if (r > 0 && fds[0].revents) {
            std::uint64_t v;
            ssize_t n = ::read(stop_fd_.get(), &v, sizeof v);
            (void)n;
            return SuperviseResult::stop_requested;
        }
        bool limit = false;
        for (std::size_t k = 1; r > 0 && k < fds.size(); ++k) {
            if (!fds[k].revents) continue;
            unsigned i = idx[k - 1];
            slots_[i].proc->join();
            bool failed = slots_[i].proc->exitcode().value_or(1) != 0;
            slots_[i].proc.reset();
            if (opt_.restart == WorkerRestart::never || (opt_.restart == WorkerRestart::on_failure && !failed)) continue;
            auto now = std::chrono::steady_clock::now();
            while (!restart_times_.empty() && now - restart_times_.front() > opt_.restart_window) restart_times_.pop_front();
            if (restart_times_.size() >= opt_.max_restarts) {
                limit = true;
                continue;
            }
            restart_times_.push_back(now);
            ++restarts_;
            ++slots_[i].generation;
            launch(i);
        }
        if (limit) return SuperviseResult::restart_limit;
        if (timeout && std::chrono::steady_clock::now() >= deadline) return SuperviseResult::timeout;
    }
}

void WorkerGroup::stop(std::chrono::nanoseconds grace) {
    for (auto& s : slots_)
        if (s.proc && s.proc->is_alive()) s.proc->terminate();
    auto deadline = std::chrono::steady_clock::now() + grace;
    for (auto& s : slots_) {
        if (!s.proc) continue;
        auto left = deadline - std::chrono::steady_clock::now();
        if (left < std::chrono::nanoseconds(0)) left = std::chrono::nanoseconds(0);
        if (!s.proc->join(std::chrono::duration_cast<std::chrono::nanoseconds>(left))) {
            s.proc->kill();
            s.proc->join();
        }
        s.proc.reset();
    }
}

std::vector<pid_t> WorkerGroup::pids() const {
    std::vector<pid_t> out;
    for (const auto& s : slots_) out.push_back(s.proc ? s.proc->pid().value_or(0) : 0);
    return out;
}

std::vector<std::optional<unsigned>> WorkerGroup::cpus() const {
    std::vector<std::optional<unsigned>> out;
    for (const auto& s : slots_) out.push_back(s.cpu);
    return out;
}

std::size_t WorkerGroup::running() const {
    return static_cast<std::size_t>(std::count_if(slots_.begin(), slots_.end(), [](const Slot& s) { return s.proc != nullptr; }));
}

}  // namespace prockit
