// lib/src/child/plan.hpp — what the spawned child does between clone() and execve(), decided
// entirely by the parent. The child only reads this (and writes `failure`); every pointer points
// into memory the parent owns and keeps alive until clone() returns (CLONE_VFORK).
#pragma once

#include <cstddef>
#include <signal.h>
#include <sys/resource.h>
#include <sys/types.h>

namespace prockit::detail {

struct FdMove {
    int src;  // parent descriptor (already open, any flags)
    int dst;  // the child's descriptor number
};

struct FdRange {
    unsigned first, last;  // inclusive, for close_range
};

struct ChildPlan {
    // exec
    const char* const* candidates = nullptr;  // paths to try in order
    std::size_t n_candidates = 0;
    char* const* argv = nullptr;
    char* const* envp = nullptr;

    // session: 0 inherit, 1 setsid, 2 setpgid(0,0), 3 setpgid(0,pgid)
    int session = 0;
    pid_t pgid = 0;
    int foreground_tty = -1;  // parent descriptor: tcsetpgrp(fd, own group) after the session step
    int ctty_fd = -1;         // child descriptor: TIOCSCTTY after the fds are arranged
    int ctty_steal = 0;

    int pdeathsig = 0;
    pid_t parent_pid = 0;
    int cgroup_procs_fd = -1;  // open for writing: the child writes "0" to join

    const struct ::rlimit* rlimit_values = nullptr;
    const int* rlimit_resources = nullptr;
    std::size_t n_rlimits = 0;

    bool set_nice = false;
    int nice = 0;
    const void* affinity = nullptr;  // a CPU mask
    std::size_t affinity_size = 0;
    const char* oom_score_adj = nullptr;  // decimal text, or null

    const char* cwd = nullptr;

    FdMove* fd_moves = nullptr;  // src is rewritten in the child (to a high duplicate)
    std::size_t n_fd_moves = 0;
    int fd_floor = 3;            // duplicates go at or above this (above every dst)
    const FdRange* close_ranges = nullptr;  // what to close afterwards (the gaps between kept fds)
    std::size_t n_close_ranges = 0;

    bool set_umask = false;
    mode_t umask = 022;
    const gid_t* groups = nullptr;
    std::size_t n_groups = 0;
    bool set_groups = false;
    bool set_gid = false;
    gid_t gid = 0;
    bool set_uid = false;
    uid_t uid = 0;
    bool no_new_privs = false;

    // capabilities (set_caps): bounding drops before the uid change (with PR_SET_KEEPCAPS when
    // the uid changes), then capset and ambient raises after it
    bool set_caps = false;
    const int* capbset_drop = nullptr;
    std::size_t n_capbset_drop = 0;
    const void* cap_header = nullptr;  // struct __user_cap_header_struct
    const void* cap_data = nullptr;    // struct __user_cap_data_struct[2]
    const int* ambient_raise = nullptr;
    std::size_t n_ambient_raise = 0;

    const void* seccomp_fprog = nullptr;  // struct sock_fprog, installed last

    bool keep_ignored_signals = false;
    sigset_t sigmask{};

    // written by the child on failure
    int failed_stage = -1;  // a SpawnStage, or -1
    int failed_errno = 0;
    std::size_t failed_candidate = 0;  // which exec candidate the errno belongs to
};

/// The child's entry point for clone(): never returns (execve or _exit(127)).
int child_exec_main(void* plan);

}  // namespace prockit::detail
