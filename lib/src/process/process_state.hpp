// lib/src/process/process_state.hpp — what a Process shares with the registry of live children.
#pragma once

#include <prockit/process/process.hpp>

#include <mutex>
#include <vector>

namespace prockit {

struct Process::State {
    ProcessOptions options;
    Child child;
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

/// The calling process's identity as a prockit child (empty name in the first process).
struct Identity {
    std::string name = "MainProcess";
    bool daemon = false;
    bool is_child = false;
    std::string parent_name;
    pid_t parent_pid = 0;
    int parent_pidfd = -1;
};
Identity& identity();

}  // namespace detail
}  // namespace prockit
