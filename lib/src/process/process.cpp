#include <prockit/process/process.hpp>

#include "process/process_state.hpp"

#include <prockit/sys/syscall.hpp>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdexcept>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace prockit {

namespace detail {
Registry& registry() {
    // Intentionally immortal. The mutex is taken around every fork() in the process (ours and
    // anyone else's), so a child never starts with it held by a thread that does not exist there.
    static Registry* r = [] {
        auto* reg = new Registry;
        pthread_atfork([] { registry().mu.lock(); }, [] { registry().mu.unlock(); },
                       [] { registry().mu.unlock(); });
        return reg;
    }();
    return *r;
}
Identity& identity() {
    static Identity* id = new Identity;  // intentionally immortal
    return *id;
}
}  // namespace detail

namespace {

constexpr auto kDaemonGrace = std::chrono::seconds(5);
std::once_flag g_exit_hook_once;

void forget(Process::State* s) {
    auto& r = detail::registry();
    std::lock_guard lock(r.mu);
    std::erase(r.live, s);
}

// Ends a child the way its Process's lifetime rules say: join a non-daemon, end a daemon.
// A copy inherited through fork (s.owner is another process) is not ours to end.
void finish(Process::State& s) {
    if (!s.started || s.closed || s.child.status() || s.owner != getpid()) return;
    if (s.options.daemon)
        (void)s.child.terminate_tree(kDaemonGrace);
    else
        (void)s.child.wait();
}

}  // namespace

void finish_children_at_exit() noexcept {
    auto& r = detail::registry();
    // Held throughout, so a Process destroyed by another thread meanwhile waits for the hook.
    std::lock_guard lock(r.mu);
    // Python's order: daemon children are terminated first, then the others are joined.
    for (auto* s : r.live)
        if (s->options.daemon) finish(*s);
    for (auto* s : r.live)
        if (!s->options.daemon) finish(*s);
}

Process::Process(ProcessOptions options) : state_(std::make_unique<State>()) {
    // Python's _identity: the creating process's own identity plus a counter of its own, so the
    // first child of Process-1 is Process-1:1 (the counter starts again in every child).
    auto& id = detail::identity();
    unsigned n = ++id.counter;
    state_->identity = id.self_identity ? *id.self_identity + ":" + std::to_string(n) : std::to_string(n);
    if (options.name.empty()) options.name = "Process-" + state_->identity;
    state_->options = std::move(options);
}

Process::Process(Process&& o) noexcept : target_(std::move(o.target_)), state_(std::move(o.state_)), run_code_(o.run_code_) {}

Process::~Process() {
    if (!state_) return;  // moved from
    finish(*state_);
    forget(state_.get());
}

Process::State& Process::state() const {
    if (!state_) throw std::logic_error("use of a moved-from Process");
    return *state_;
}

Process::State& Process::open_state(const char* verb) const {
    State& s = state();
    if (s.closed) throw std::logic_error(std::string("cannot ") + verb + " process " + s.options.name + ": the process object is closed");
    return s;
}

void Process::run() {
    if (target_) run_code_ = target_();
}

void Process::start() {
    State& s = open_state("start");
    if (s.started) throw std::logic_error("cannot start process " + s.options.name + " twice");
    std::call_once(g_exit_hook_once, [] { std::atexit(finish_children_at_exit); });

    // Buffered output would otherwise be printed by both processes.
    std::cout.flush();
    std::cerr.flush();
    std::fflush(nullptr);

    (void)detail::registry();  // installs its fork handlers before the first fork
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) throw SystemError(last_error("start process " + s.options.name));
    if (pid == 0) process_child_main(*this, parent);  // never returns

    int fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
    if (fd < 0) {
        Error e = last_error("open a pidfd for process " + s.options.name);
        ::kill(pid, SIGKILL);  // our unreaped child: the PID is still its own
        siginfo_t info;
        (void)retry_eintr([&] { return waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED); });
        throw SystemError(e);
    }
    s.child = Child(pid, unique_fd(fd));
    s.child.set_destroy_policy(DestroyPolicy::detach);  // the Process decides, not the handle
    s.owner = parent;
    s.started = true;
    auto& r = detail::registry();
    std::lock_guard lock(r.mu);
    r.live.push_back(&s);
}

void Process::join() {
    State& s = open_state("join");
    if (!s.started) throw std::logic_error("cannot join process " + s.options.name + ": it was not started");
    (void)s.child.wait().value();
}

bool Process::join(Duration timeout) {
    State& s = open_state("join");
    if (!s.started) throw std::logic_error("cannot join process " + s.options.name + ": it was not started");
    return s.child.wait_for(timeout).value().has_value();
}

bool Process::is_alive() {
    State& s = open_state("check");
    if (!s.started) return false;
    return !s.child.try_wait().value().has_value();
}

std::optional<pid_t> Process::pid() const {
    const State& s = open_state("get the pid of");
    if (!s.started) return std::nullopt;
    return s.child.pid();
}

std::optional<ExitStatus> Process::status() {
    State& s = open_state("get the status of");
    if (!s.started) return std::nullopt;
    (void)s.child.try_wait();
    return s.child.status();
}

std::optional<int> Process::exitcode() {
    auto st = status();
    if (!st) return std::nullopt;
    return st->python_exitcode();
}

int Process::sentinel() const {
    const State& s = open_state("get the sentinel of");
    return s.started ? s.child.pidfd() : -1;
}

void Process::terminate() {
    State& s = open_state("terminate");
    if (s.started) s.child.terminate().value();
}

void Process::kill() {
    State& s = open_state("kill");
    if (s.started) s.child.kill().value();
}

ExitStatus Process::terminate_tree(Duration grace) {
    State& s = open_state("terminate");
    if (!s.started) throw std::logic_error("cannot terminate process " + s.options.name + ": it was not started");
    return s.child.terminate_tree(grace).value();
}

void Process::close() {
    State& s = state();
    if (s.closed) return;
    if (s.started && !s.child.status() && !s.child.try_wait().value())
        throw std::logic_error("cannot close process " + s.options.name + ": it is still running");
    s.closed = true;
    forget(&s);
}

const std::string& Process::name() const { return state().options.name; }
void Process::set_name(std::string name) {
    State& s = state();
    std::lock_guard lock(detail::registry().mu);  // active_children() may be reading it
    s.options.name = std::move(name);
}
bool Process::daemon() const { return state().options.daemon; }
void Process::set_daemon(bool on) {
    State& s = open_state("change daemon of");
    if (s.started) throw std::logic_error("cannot change daemon of process " + s.options.name + " after start");
    s.options.daemon = on;
}

ProcessInfo current_process() {
    const auto& id = detail::identity();
    if (!id.self) return {"MainProcess", getpid(), false};
    return {id.self->name, getpid(), id.self->daemon};
}

bool ParentProcess::is_alive() const { return !join(Duration::zero()); }

bool ParentProcess::join(Duration timeout) const {
    if (pidfd_ < 0) return true;
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(timeout).count();
    timespec ts{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
    pollfd p{pidfd_, POLLIN, 0};
    int r;
    do {
        r = ppoll(&p, 1, &ts, nullptr);  // (an EINTR restart waits the whole time again; bounded)
    } while (r < 0 && errno == EINTR);
    return r > 0;
}

std::optional<ParentProcess> parent_process() {
    auto& id = detail::identity();
    if (!id.self) return std::nullopt;
    // Opened on first use. While getppid() still names the parent, the PID is the parent's (a
    // dead parent re-parents us first); checking again after opening closes the window between.
    if (id.parent_pidfd < 0 && getppid() == id.parent_pid) {
        int fd = static_cast<int>(syscall(SYS_pidfd_open, id.parent_pid, 0));
        if (fd >= 0 && getppid() != id.parent_pid) {
            ::close(fd);
            fd = -1;
        }
        id.parent_pidfd = fd;
    }
    ParentProcess p;
    p.name_ = id.parent_name ? *id.parent_name : "MainProcess";
    p.pid_ = id.parent_pid;
    p.pidfd_ = id.parent_pidfd;
    return p;
}

std::vector<ProcessInfo> active_children() {
    // Only what cannot change under another thread is read here: the pidfd (closed only after its
    // State leaves the registry, which needs this lock) and fields fixed at start(). A pidfd is
    // readable once its process has ended; nothing is reaped here, so a join running in another
    // thread is never raced.
    auto& r = detail::registry();
    std::lock_guard lock(r.mu);
    std::vector<ProcessInfo> out;
    for (auto* s : r.live) {
        pollfd p{s->child.pidfd(), POLLIN, 0};
        if (::poll(&p, 1, 0) == 0) out.push_back({s->options.name, s->child.pid(), s->options.daemon});
    }
    return out;
}

unsigned cpu_count() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0) return static_cast<unsigned>(n);
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? static_cast<unsigned>(n) : 1;
}

}  // namespace prockit
