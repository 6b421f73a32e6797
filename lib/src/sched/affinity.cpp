#include <prockit/sched/affinity.hpp>

#include <prockit/proc/procfs.hpp>
#include <prockit/sys/syscall.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

namespace prockit {

namespace {

// The mask size (in bytes) the kernel last accepted; starts at 1024 CPUs and only grows.
std::atomic<std::size_t> g_mask_bytes{1024 / 8};

std::string task_name(pid_t tid) { return tid == 0 ? std::string("this thread") : "thread " + std::to_string(tid); }

}  // namespace

Result<CpuSet> get_affinity(pid_t tid) {
    std::size_t bytes = g_mask_bytes.load(std::memory_order_relaxed);
    for (;;) {
        CpuSet s;
        s.words().assign(bytes / sizeof(CpuSet::word_type), 0);
        int rc = static_cast<int>(::sched_getaffinity(tid, bytes, reinterpret_cast<cpu_set_t*>(s.words().data())));
        if (rc == 0) return s;
        if (errno == EINVAL && bytes < (std::size_t{1} << 20)) {
            bytes *= 2;
            std::size_t cur = g_mask_bytes.load(std::memory_order_relaxed);
            while (cur < bytes && !g_mask_bytes.compare_exchange_weak(cur, bytes)) {
            }
            continue;
        }
        return fail(last_error("get affinity of " + task_name(tid)));
    }
}

Status set_affinity(pid_t tid, const CpuSet& cpus) {
    const auto& w = cpus.words();
    if (::sched_setaffinity(tid, cpus.byte_size(), reinterpret_cast<const cpu_set_t*>(w.data())) != 0)
        return fail(last_error("set affinity of " + task_name(tid)));
    return {};
}

namespace {

// The PID most recently allocated in this PID namespace (/proc/sys/kernel/ns_last_pid), or -1.
long last_pid(const FsRoot& fs) {
    if (!fs.is_real()) return -1;
    int fd = ::open("/proc/sys/kernel/ns_last_pid", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    char buf[32];
    ssize_t n = retry_eintr([&] { return ::read(fd, buf, sizeof buf - 1); });
    ::close(fd);
    if (n <= 0) return -1;
    buf[n] = '\0';
    return std::strtol(buf, nullptr, 10);
}

/// The work of both set_affinity_all_threads() overloads. `mask_of(tid)` returns the thread's mask
/// by reference: one mask for every thread costs no copy per thread.
template <typename MaskOf>
Result<ThreadsResult> set_all_threads(pid_t pid, MaskOf&& mask_of, const FsRoot& fs) {
    ThreadsResult out;
    std::vector<pid_t> seen;  // every TID handled so far (set, failed or exited), sorted
    std::string task_dir = fs.proc_pid(pid, "task");
    auto gone = [&] {
        return fail(Error::from_errno(ESRCH, "set affinity of process " + std::to_string(pid) + " (it exited)"));
    };
    auto set_one = [&](pid_t tid) {
        const CpuSet& mask = mask_of(tid);
        const auto& w = mask.words();
        if (::sched_setaffinity(tid, mask.byte_size(), reinterpret_cast<const cpu_set_t*>(w.data())) == 0) {
            out.changed.push_back(tid);
        } else if (errno == ESRCH) {
            ++out.exited;
        } else {
            out.failed.push_back({tid, Error::from_errno(errno, "set affinity of thread " + std::to_string(tid) +
                                                                    " of process " + std::to_string(pid))});
        }
    };
    // Each pass lists the threads and sets the new ones. A pass that finds no new thread ends it.
    // Shortcut for the confirming pass: new threads get new TIDs, and TIDs are handed out in
    // increasing order (until pid_max wraps). If the namespace's last allocated PID moved by only
    // a few numbers since the previous listing began, probing those few TIDs in /proc/PID/task
    // answers "did a new thread appear?" without listing every thread again.
    constexpr long probe_limit = 64;
    long cursor = last_pid(fs);
    bool full_listing = true;
    for (;;) {
        bool any_new = false;
        if (full_listing) {
            auto tids = proc::list_numeric_dir(task_dir);
            ++out.passes;
            if (!tids) {
                int e = tids.error().errno_value();
                if (e == ENOENT || e == ESRCH) return gone();
                return fail(tids.error());
            }
            if (tids->empty()) return gone();
            for (pid_t tid : *tids) {
                if (std::binary_search(seen.begin(), seen.end(), tid)) continue;
                any_new = true;
                set_one(tid);
            }
            std::vector<pid_t> merged;  // merge this pass's TIDs into `seen` (both sorted)
            merged.reserve(seen.size() + tids->size());
            std::set_union(seen.begin(), seen.end(), tids->begin(), tids->end(), std::back_inserter(merged));
            seen.swap(merged);
        } else {
            long now = last_pid(fs);
            ++out.passes;
            if (now < 0 || now < cursor || now - cursor > probe_limit) {
                full_listing = true;  // wrapped, unknown or too many: list everything
                cursor = now;
                continue;
            }
            std::string path = task_dir + "/";
            std::size_t base = path.size();
            for (long t = cursor + 1; t <= now; ++t) {
                path.resize(base);
                path += std::to_string(t);
                if (::access(path.c_str(), F_OK) != 0) continue;
                pid_t tid = static_cast<pid_t>(t);
                if (std::binary_search(seen.begin(), seen.end(), tid)) continue;
                any_new = true;
                set_one(tid);
                seen.insert(std::lower_bound(seen.begin(), seen.end(), tid), tid);
            }
            if (::access(task_dir.c_str(), F_OK) != 0) return gone();
            cursor = now;
        }
        if (!any_new) break;
        // Confirm with the cheap probe when the cursor is known, else with another full listing.
        full_listing = cursor < 0;
    }
    std::sort(out.changed.begin(), out.changed.end());
    return out;
}

}  // namespace

Result<ThreadsResult> set_affinity_all_threads(pid_t pid, const CpuSet& cpus, const FsRoot& fs) {
    return set_all_threads(pid, [&](pid_t) -> const CpuSet& { return cpus; }, fs);
}

Result<ThreadsResult> set_affinity_all_threads(pid_t pid, const MaskForThread& mask_for, const FsRoot& fs) {
    CpuSet current;
    return set_all_threads(
        pid,
        [&](pid_t tid) -> const CpuSet& {
            current = mask_for(tid);
            return current;
        },
        fs);
}

Result<std::vector<TaskAffinity>> get_affinity_all_threads(pid_t pid, const FsRoot& fs) {
    auto tids = proc::list_tasks(pid, fs);
    if (!tids) return fail(tids.error());
    std::vector<TaskAffinity> out;
    out.reserve(tids->size());
    for (pid_t tid : *tids) {
        auto s = get_affinity(tid);
        if (!s) {
            if (s.error().errno_value() == ESRCH) continue;
            return fail(s.error());
        }
        out.push_back({tid, std::move(*s)});
    }
    if (out.empty()) return fail(Error::from_errno(ESRCH, "get affinity of process " + std::to_string(pid)));
    return out;
}

}  // namespace prockit
