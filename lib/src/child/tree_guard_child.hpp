// lib/src/child/tree_guard_child.hpp — the TreeGuard watchdog's entry point (post-fork code).
#pragma once

namespace prockit::detail {

/// Runs in the forked watchdog: waits for EOF on `read_fd` (the owner ended), then kills
/// everything in the cgroup `dir` through `kill_path` (cgroup.kill), waits on `events_path`
/// (cgroup.events) until it is empty, removes it and its sub-groups, and _exit()s.
[[noreturn]] void tree_guard_watchdog(int read_fd, const char* kill_path, const char* events_path,
                                      const char* dir) noexcept;

}  // namespace prockit::detail
