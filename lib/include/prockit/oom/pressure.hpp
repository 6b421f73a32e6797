// prockit/oom/pressure.hpp — memory pressure and the OOM killer's record: PSI (pressure stall
// information) for the whole machine (/proc/pressure/memory) or one cgroup v2 group
// (memory.pressure), and the OOM-kill counters (/proc/vmstat oom_kill, memory.events). All read
// through FsRoot, so tests use fixture trees.
#pragma once

#include <prockit/sys/fsroot.hpp>
#include <prockit/sys/result.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace prockit::oom {

/// One PSI line: the share of time (percent) some / all tasks stalled on memory, averaged over
/// 10, 60 and 300 seconds, and the total stall time in microseconds.
struct PressureLine {
    double avg10 = 0;
    double avg60 = 0;
    double avg300 = 0;
    std::uint64_t total_us = 0;
};

struct Pressure {
    PressureLine some;
    PressureLine full;
    bool has_full = false;  ///< whether the text had a "full" line
};

/// Parses the text of a PSI file ("some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull ...").
/// Errc::parse_error when a line is malformed; unknown keys are ignored.
Result<Pressure> parse_pressure(std::string_view text);

/// /proc/pressure/memory. ENOENT (or EOPNOTSUPP) when the kernel has no PSI (CONFIG_PSI, psi=0).
Result<Pressure> read_memory_pressure(const FsRoot& fs = FsRoot::system());

/// memory.pressure of a cgroup v2 group, given as /proc/PID/cgroup names it ("/system.slice/x";
/// "/" for the root) below the v2 mount (/sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid
/// system).
Result<Pressure> read_cgroup_memory_pressure(std::string_view cgroup, const FsRoot& fs = FsRoot::system());

/// The oom_kill counter of /proc/vmstat: OOM kills since boot (Linux 4.13+). Errc::not_found when
/// the kernel does not count them.
Result<std::uint64_t> read_oom_kill_count(const FsRoot& fs = FsRoot::system());

/// The counters of a cgroup v2 group's memory.events.
struct MemoryEvents {
    std::uint64_t low = 0;
    std::uint64_t high = 0;
    std::uint64_t max = 0;
    std::uint64_t oom = 0;        ///< the group hit its limit and the OOM killer was invoked
    std::uint64_t oom_kill = 0;   ///< processes of the group the OOM killer killed
    std::uint64_t oom_group_kill = 0;
};

/// Parses the text of memory.events ("low 0\nhigh 0\n..."); unknown keys are ignored.
Result<MemoryEvents> parse_memory_events(std::string_view text);
/// memory.events of a cgroup v2 group (named as for read_cgroup_memory_pressure()).
Result<MemoryEvents> read_cgroup_memory_events(std::string_view cgroup, const FsRoot& fs = FsRoot::system());

}  // namespace prockit::oom
