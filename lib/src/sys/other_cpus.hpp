#pragma once
// The CPUs a helper thread may use to keep off its creator's CPU.

#include <sched.h>

namespace prockit::detail {

/// The CPUs the calling thread may use other than the one it is running on; false if there are
/// none (or more CPUs than a cpu_set_t holds). Allocates nothing.
inline bool other_cpus(cpu_set_t& cpus) {
    CPU_ZERO(&cpus);
    if (::sched_getaffinity(0, sizeof cpus, &cpus) != 0) return false;
    int here = ::sched_getcpu();
    if (here >= 0 && here < CPU_SETSIZE) CPU_CLR(here, &cpus);
    return CPU_COUNT(&cpus) > 0;
}

}  // namespace prockit::detail
