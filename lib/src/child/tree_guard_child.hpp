// lib/src/child/tree_guard_child.hpp — the TreeGuard watchdog's entry points (code that runs in
// the watchdog process; see tree_guard_child.cpp for what it may and may not do).
#pragma once

namespace prockit::detail {

/// What the watchdog needs, in memory the owner leaves alone while the watchdog runs.
struct TreeGuardArgs {
    int read_fd;              ///< EOF here: the owner ended
    const char* kill_path;    ///< the group's cgroup.kill
    const char* events_path;  ///< the group's cgroup.events
    const char* dir;          ///< the group's directory
};

/// Waits for EOF on `read_fd` (the owner ended), then kills everything in the cgroup `dir` through
/// `kill_path` (cgroup.kill), waits on `events_path` (cgroup.events) until it is empty, removes it
/// and its sub-groups, and exits. Starts with every signal blocked and leaves them so: only
/// SIGKILL stops it early.
[[noreturn]] void tree_guard_watchdog(const TreeGuardArgs& args) noexcept;

/// clone()'s entry point for the watchdog: `args` points to a TreeGuardArgs.
int tree_guard_entry(void* args) noexcept;

}  // namespace prockit::detail
