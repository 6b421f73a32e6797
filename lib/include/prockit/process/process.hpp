// prockit/process/process.hpp — Python's multiprocessing.Process for C++: run a callable in a
// forked child.
//
//   void worker(int n) { std::printf("%s got %d\n", prockit::current_process().name.c_str(), n); }
//   prockit::Process p({.name = "worker-1"}, worker, 42);
//   p.start();
//   p.join();                         // or p.join(2s) → false while it still runs
//   int code = *p.exitcode();         // 0; 1 after an uncaught exception; -N when killed by signal N
//
// or subclass it and override run(). The callable may return int (the exit code) or void (0);
// `throw prockit::ProcessExit{3}` ends the child with code 3 from anywhere.
//
// How it starts: fork() (glibc's, so its atfork handlers run and malloc stays consistent), then
// pidfd_open() in the parent: the child stays our unreaped child until joined, so its PID cannot
// be reused in between (unless other code in the process reaps with waitpid(-1) or ignores
// SIGCHLD). stdout/stderr (C and C++ streams) are flushed before the fork so nothing is printed
// twice. In the child: the name is set with PR_SET_NAME (ps, top and /proc/PID/comm show its first
// 15 bytes), the callable runs, and the child leaves through exit(), cut short by a handler of its
// own (on_exit) once the handlers the child registered itself have run: the parent's atexit
// handlers and static destructors do not run in it (Python's children likewise run only their own
// atexit handlers). That handler flushes the standard streams (stdout/stderr, C and C++); other
// FILE streams the callable opened are not flushed for it (close them, or use RAII streams such
// as std::ofstream). An exception escaping the callable prints "Process <name>: <type>: <what()>"
// on stderr and gives exit code 1. Default names follow Python's identities: Process-N in the
// first process, Process-N:1, Process-N:2, ... for the Process objects made in child Process-N.
// After close(), every method that needs the child throws std::logic_error.
//
// Lifetime (Python's semantics, made deterministic):
//  * A Process destroyed while its child runs joins a non-daemon child, and terminates (SIGTERM,
//    then SIGKILL after 5 s) and joins a daemon child.
//  * At normal exit of the parent (std::exit or return from main) an atexit hook, installed by the
//    first start(), does the same for every Process still alive: daemon children are terminated,
//    then non-daemon children are joined. So by default nothing is left as a zombie or an orphan.
//  * ProcessOptions::parent_death_signal also covers a parent that is killed (PR_SET_PDEATHSIG;
//    the kernel ties it to the thread that called start()).
// A Process object is used from one thread at a time.
#pragma once

#include <prockit/process/child.hpp>
#include <prockit/process/exit_status.hpp>

#include <chrono>
#include <concepts>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace prockit {

struct ProcessOptions {
    /// Shown by current_process().name in the child and (first 15 bytes) by ps. Default "Process-N".
    std::string name;
    /// Daemon children are terminated, not joined, when their Process or the parent finishes.
    bool daemon = false;
    /// Signal the child gets if the parent dies first (0: none).
    int parent_death_signal = 0;
};

/// Throw from a child's callable to end it with `code`.
struct ProcessExit {
    int code = 0;
};

/// What current_process() and active_children() report.
struct ProcessInfo {
    std::string name;
    pid_t pid = 0;
    bool daemon = false;
};

class Process {
public:
    /// A process whose work is run(): for subclasses.
    explicit Process(ProcessOptions options = {});

    /// A process that calls f(args...) (copies of them, made now).
    template <class F, class... A>
        requires(!std::same_as<std::remove_cvref_t<F>, ProcessOptions> &&
                 std::invocable<std::decay_t<F>&, std::decay_t<A>&...>)
    explicit Process(F&& f, A&&... args) : Process(ProcessOptions{}, std::forward<F>(f), std::forward<A>(args)...) {}

    template <class F, class... A>
        requires std::invocable<std::decay_t<F>&, std::decay_t<A>&...>
    Process(ProcessOptions options, F&& f, A&&... args) : Process(std::move(options)) {
        target_ = [fn = std::forward<F>(f), ... as = std::forward<A>(args)]() mutable -> int {
            using R = std::invoke_result_t<decltype(fn)&, decltype(as)&...>;
            if constexpr (std::is_convertible_v<R, int>) {
                return static_cast<int>(std::invoke(fn, as...));
            } else {
                std::invoke(fn, as...);
                return 0;
            }
        };
    }

    Process(Process&&) noexcept;
    Process& operator=(Process&&) = delete;
    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;
    virtual ~Process();

    /// Forks the child, which calls run(). Throws SystemError if fork fails, std::logic_error if
    /// already started or closed.
    void start();
    /// The child's work: calls the callable given at construction. Override in subclasses.
    virtual void run();

    /// Waits for the child to end. Throws std::logic_error if it was never started.
    void join();
    /// Waits at most `timeout`; true when the child has ended.
    bool join(Duration timeout);
    /// Started and not yet ended (reaps it if it has ended).
    bool is_alive();

    /// The child's PID once started.
    std::optional<pid_t> pid() const;
    /// Empty while running (or before start); the exit code; or minus the signal that killed it.
    std::optional<int> exitcode();
    /// The full exit status, once ended.
    std::optional<ExitStatus> status();
    /// A pidfd that becomes readable when the child ends (Python's sentinel); -1 before start.
    int sentinel() const;

    /// SIGTERM to the child (its own children are not signalled: see terminate_tree()).
    void terminate();
    /// SIGKILL to the child.
    void kill();
    /// SIGTERM to the child and all its descendants, SIGKILL after `grace`, then joins.
    ExitStatus terminate_tree(Duration grace = std::chrono::seconds(5));
    /// Releases the child's resources. Throws std::logic_error while it still runs. Afterwards every
    /// method but name(), daemon() and close() throws std::logic_error ("... is closed").
    void close();

    const std::string& name() const;
    void set_name(std::string name);
    bool daemon() const;
    /// Only before start().
    void set_daemon(bool on);

    struct State;  // the implementation's (lib/src/process/process_state.hpp)

private:
    friend void process_child_main(Process&, pid_t) noexcept;  // [[noreturn]]
    friend void finish_children_at_exit() noexcept;
    State& state() const;
    /// state(), refusing (std::logic_error) once close() was called.
    State& open_state(const char* verb) const;

    std::function<int()> target_;
    std::unique_ptr<State> state_;
    int run_code_ = 0;  // what the target returned, in the child
};

/// The calling process: "MainProcess" in a program's first process, the Process name in a child.
ProcessInfo current_process();
/// The process that started the calling one, if it is a prockit Process child.
class ParentProcess {
public:
    const std::string& name() const noexcept { return name_; }
    pid_t pid() const noexcept { return pid_; }
    /// Whether the parent still runs (through a pidfd opened on the first parent_process() call
    /// in the child; a parent already gone by then reads as not alive).
    bool is_alive() const;
    /// Waits at most `timeout` for the parent to end; true when it has.
    bool join(Duration timeout) const;

private:
    friend std::optional<ParentProcess> parent_process();
    std::string name_;
    pid_t pid_ = 0;
    int pidfd_ = -1;  // owned by the child's process-wide state; lives as long as the process
};
std::optional<ParentProcess> parent_process();
/// The started, not yet ended Process children of the calling process. Unlike Python's, it does
/// not reap ended children (join, the destructor and the exit hook do), so it is safe to call
/// from any thread while others join.
std::vector<ProcessInfo> active_children();
/// Number of CPUs the calling process may run on (its affinity mask), at least 1.
unsigned cpu_count();

}  // namespace prockit
