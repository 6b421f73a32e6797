// prockit/sched/topology.hpp — the machine's CPU topology, read from sysfs through FsRoot:
// online/offline/isolated/nohz_full CPUs, physical cores with their SMT siblings, packages (sockets)
// and NUMA nodes.
#pragma once

#include <prockit/sched/cpuset.hpp>
#include <prockit/sys/fsroot.hpp>
#include <prockit/sys/result.hpp>

#include <vector>

namespace prockit {

/// One physical core: the hardware threads (SMT siblings) that share it.
struct CpuCore {
    int package = -1;   ///< physical_package_id
    int core_id = -1;   ///< core_id (unique within a package only)
    CpuSet threads;     ///< thread_siblings_list (core_cpus_list)
};

struct CpuPackage {
    int id = -1;
    CpuSet cpus;
};

struct NumaNode {
    int id = -1;
    CpuSet cpus;
};

struct Topology {
    CpuSet possible;    ///< devices/system/cpu/possible
    CpuSet present;     ///< devices/system/cpu/present
    CpuSet online;      ///< devices/system/cpu/online
    CpuSet offline;     ///< devices/system/cpu/offline
    CpuSet isolated;    ///< devices/system/cpu/isolated (isolcpus=); empty when absent
    CpuSet nohz_full;   ///< devices/system/cpu/nohz_full; empty when absent
    std::vector<CpuCore> cores;         ///< online cores, ordered by their lowest CPU
    std::vector<CpuPackage> packages;   ///< ordered by id
    std::vector<NumaNode> nodes;        ///< ordered by id; one node 0 holding every online CPU
                                        ///< when the machine has no NUMA information
    bool numa_known = false;            ///< devices/system/node exists

    /// Reads the topology. Only "online" is required; everything else degrades gracefully
    /// (a CPU without topology files is its own core in package 0).
    static Result<Topology> read(const FsRoot& fs = FsRoot::system());
    /// Only the CPU lists (possible, present, online, offline): a few reads instead of several per
    /// CPU, for callers that need no cores or nodes. `cores` and `nodes` stay empty.
    static Result<Topology> read_cpu_lists(const FsRoot& fs = FsRoot::system());
    /// Only `online` and `possible`: two reads, for callers that check CPU lists against the
    /// machine and clip them to the online CPUs (paffinity --set). Every other member stays empty.
    static Result<Topology> read_online(const FsRoot& fs = FsRoot::system());

    /// The core holding `cpu`, or nullptr.
    const CpuCore* core_of(unsigned cpu) const;
    /// Hardware threads per core (the largest sibling count; 1 without SMT).
    unsigned threads_per_core() const;
    /// The CPUs of NUMA node `id`, or Errc::not_found.
    Result<CpuSet> node_cpus(int id) const;
    /// One hardware thread (the lowest of `within`) of every core that has one in `within`.
    CpuSet one_thread_per_core(const CpuSet& within) const;
    /// One hardware thread each of the first `n` cores with a CPU in `within` (cores in order of
    /// their lowest CPU). Errc::out_of_range when fewer than `n` cores qualify.
    Result<CpuSet> first_cores(unsigned n, const CpuSet& within) const;
};

}  // namespace prockit
