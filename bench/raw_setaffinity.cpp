// bench/raw_setaffinity.cpp — the floor for "set the affinity of every thread of a process": one
// listing of /proc/PID/task and one sched_setaffinity per thread, nothing else: no C++ runtime
// (linked --as-needed), no option parsing, no checks, and no second pass for threads created
// meanwhile (so it is not safe against thread creation). paffinity_bench runs it beside
// `paffinity -a --set` and `taskset -a -p`, so paffinity's own cost can be read against the kernel
// work any tool pays on the same machine.
//   raw_setaffinity PID HEXMASK     (at most 64 CPUs; exit 0 if at least one thread was set)
#include <cerrno>
#include <dirent.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char** argv) {
    if (argc != 3) return 2;
    char* end = nullptr;
    errno = 0;
    unsigned long long bits = strtoull(argv[2], &end, 16);
    if (errno != 0 || end == argv[2] || *end != '\0' || bits == 0) return 2;  // 64 CPUs at most
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int cpu = 0; cpu < 64; ++cpu)
        if ((bits >> cpu) & 1) CPU_SET(cpu, &set);
    char path[64];
    snprintf(path, sizeof path, "/proc/%s/task", argv[1]);
    DIR* dir = opendir(path);
    if (!dir) return 1;
    int changed = 0;
    while (dirent* e = readdir(dir)) {
        if (e->d_name[0] == '.') continue;
        if (sched_setaffinity(atoi(e->d_name), sizeof set, &set) == 0) ++changed;
    }
    closedir(dir);
    return changed > 0 ? 0 : 1;
}
