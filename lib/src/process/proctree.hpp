// lib/src/process/proctree.hpp — finding a process's relatives in /proc, and holding them by pidfd.
#pragma once

#include <prockit/sys/unique_fd.hpp>

#include <sys/types.h>
#include <vector>

namespace prockit::detail {

struct ProcEntry {
    pid_t pid;
    pid_t ppid;
    pid_t pgrp;
    char state;
};

/// Every process in /proc (through FsRoot::system() and proc::ProcReader), with parent, group and state.
std::vector<ProcEntry> scan_processes();
/// Living descendants of `root`, nearest first. Zombies are skipped.
std::vector<pid_t> descendants(const std::vector<ProcEntry>& all, pid_t root);
/// Living members of process group `pgrp`.
std::vector<pid_t> group_members(const std::vector<ProcEntry>& all, pid_t pgrp);

/// A process held by pidfd, so it can be signalled and waited for (by poll) without PID reuse races.
struct HeldProcess {
    pid_t pid;
    unique_fd pidfd;
};
/// Opens pidfds for `pids` (those already gone are dropped).
std::vector<HeldProcess> hold(const std::vector<pid_t>& pids);
/// Sends `sig` to each held process.
void signal_all(const std::vector<HeldProcess>& held, int sig);
/// Waits until every held process has exited, or until `timeout_ns` passes. Returns true when all exited.
bool wait_all_exited(const std::vector<HeldProcess>& held, long long timeout_ns);

}  // namespace prockit::detail
