// lib/src/process/process_state.hpp — what a Process shares with the registry of live children.
#pragma once

#include <prockit/process/process.hpp>

#include <atomic>
#include <mutex>
#include <string>
#include <vector>

namespace prockit {

struct Process::State {
    ProcessOptions options;
    std::string identity;  // Python's _identity: "2" in the first process, "2:1" for its first child
    Child child;
    pid_t owner = 0;  // the process that started it: copies inherited by a forked child are inert
    bool started = false;
    bool closed = false;
};

/// The forked child's side of Process::start() (lib/src/child/process_child.cpp); never returns.
void process_child_main(Process& self, pid_t parent_pid) noexcept;
/// The exit hook: terminates daemon children, then joins the others.
void finish_children_at_exit() noexcept;

namespace detail {

/// The started Process objects of this process, for active_children() and the exit hook.
struct Registry {
    std::mutex mu;
    std::vector<Process::State*> live;
};
/// Never destroyed, so the exit hook can use it whatever the order of static destruction.
Registry& registry();

/// The calling process's identity as a prockit child. The names point into the Process objects
/// of the fork's snapshot, which live until the child _exit()s: a child copies no string at start
/// (every page it writes costs a copy-on-write fault).
struct Identity {
    const ProcessOptions* self = nullptr;         // null in a program's first process
    const std::string* self_identity = nullptr;   // null in a program's first process
    std::atomic<unsigned> counter{0};             // Process objects made in this process so far
    const std::string* parent_name = nullptr;     // null: the parent is "MainProcess"
    pid_t parent_pid = 0;
    int parent_pidfd = -1;
};
Identity& identity();

}  // namespace detail
}  // namespace prockit
