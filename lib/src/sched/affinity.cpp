#include <prockit/sched/affinity.hpp>

#include <prockit/proc/procfs.hpp>
#include <prockit/sys/syscall.hpp>
#include <prockit/sys/unique_fd.hpp>

#include "../proc/dirents.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
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
    unique_fd fd(::open("/proc/sys/kernel/ns_last_pid", O_RDONLY | O_CLOEXEC));
    if (!fd) return -1;
    char buf[32];
    ssize_t n = retry_eintr([&] { return ::read(fd.get(), buf, sizeof buf - 1); });
    if (n <= 0) return -1;
    buf[n] = '\0';
    return std::strtol(buf, nullptr, 10);
}

// --- listings of /proc/PID/task ------------------------------------------------------------------

constexpr std::size_t listing_chunk = 4096;  // bytes of dirents per getdents64 call (~128 TIDs)

// The process's thread count as the kernel keeps it in the link count of /proc/PID/task
// (2 + threads), or 0.
std::size_t thread_count(int task_dir_fd) {
    struct stat st {};
    return ::fstat(task_dir_fd, &st) == 0 && st.st_nlink > 2 ? st.st_nlink - 2 : 0;
}

// Whether no thread exited between two readings of the thread count and of ns_last_pid (taken
// in the order pid, count ... count, pid): the count grew by exactly the PIDs handed out meanwhile.
bool no_thread_exited(long pid_before, std::size_t count_before, std::size_t count_after, long pid_after) {
    return pid_before >= 0 && pid_after >= pid_before &&
           static_cast<long>(count_after) - static_cast<long>(count_before) == pid_after - pid_before;
}

// Lists /proc/PID/task (sorted) in one getdents64 call: the buffer has room for the threads the
// link count reports and a quarter more (an entry for a TID takes at most 32 bytes). Read in
// chunks, a listing can skip threads while others exit (see set_all_threads()). Should the threads
// outgrow the room, it is read again with more, twice at most, then the rest is taken as it comes.
// `count_before` and `count_after` are the thread counts around the last reading.
Result<std::vector<pid_t>> list_tasks_at_once(const std::string& task_dir, std::size_t& count_before,
                                              std::size_t& count_after) {
    unique_fd fd(retry_eintr([&] { return ::open(task_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); }));
    if (!fd) return fail(last_error("open " + task_dir));
    std::vector<pid_t> out;
    std::vector<char> buf;
    for (int attempt = 0;; ++attempt) {
        count_before = thread_count(fd.get());
        std::size_t room = std::max<std::size_t>((count_before + count_before / 4 + 64) * 32, listing_chunk)
                           << attempt;
        buf.resize(room);
        out.clear();
        if (::lseek(fd.get(), 0, SEEK_SET) < 0) return fail(last_error("read directory " + task_dir));
        bool whole = false;
        for (int call = 0;; ++call) {
            ssize_t n = retry_eintr([&] { return ::getdents64(fd.get(), buf.data(), buf.size()); });
            if (n < 0) return fail(last_error("read directory " + task_dir));
            if (n == 0) {
                whole = call <= 1;  // everything came in the first call
                break;
            }
            detail::for_each_numeric_dirent(buf.data(), n, [&](pid_t tid) {
                out.push_back(tid);
                return true;
            });
        }
        if (whole || attempt == 2) break;
    }
    count_after = thread_count(fd.get());
    if (!std::is_sorted(out.begin(), out.end())) std::sort(out.begin(), out.end());
    return out;
}

/// The work of both set_affinity_all_threads() overloads. `mask_of(tid)` returns the thread's mask
/// by reference: one mask for every thread costs no copy per thread. `uniform` says every thread
/// gets the same mask: the first pass then sets each chunk of the listing as it is read.
template <typename MaskOf>
Result<ThreadsResult> set_all_threads(pid_t pid, MaskOf&& mask_of, const FsRoot& fs, bool uniform) {
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
    // The first pass with one mask reads the listing in chunks and sets each chunk as it comes.
    const bool chunked = uniform && fs.is_real();
    long cursor = last_pid(fs);
    bool full_listing = true;
    bool whole = true;          // the last full listing is known to have missed no thread
    constexpr int max_relists = 3;
    int relists = 0;            // full listings made because the previous one was not whole
    long probe_from_now = -1;   // ns_last_pid as read right after that listing, when known
    for (;;) {
        bool any_new = false;
        if (full_listing && out.passes == 0 && chunked) {
            ++out.passes;
            unique_fd dir(retry_eintr([&] { return ::open(task_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); }));
            if (!dir) return errno == ENOENT || errno == ESRCH ? gone() : fail(last_error("open " + task_dir));
            std::size_t expected = thread_count(dir.get());
            alignas(dirent64) char buf[listing_chunk];
            for (;;) {
                ssize_t n = retry_eintr([&] { return ::getdents64(dir.get(), buf, sizeof buf); });
                if (n < 0) {
                    if (errno == ENOENT || errno == ESRCH) return gone();
                    return fail(last_error("read directory " + task_dir));
                }
                if (n == 0) break;
                detail::for_each_numeric_dirent(buf, n, [&](pid_t tid) {
                    seen.push_back(tid);
                    set_one(tid);
                    return true;
                });
            }
            // A listing read in chunks is only known whole if no thread exited meanwhile: when the
            // thread a chunk would resume at has exited, the kernel resumes by position instead,
            // and threads that exited before it shift the rest, so some are skipped. Proof of no
            // exit: the thread count grew by exactly the number of PIDs handed out meanwhile.
            // Without that proof the next pass lists again in one read.
            std::size_t after = thread_count(dir.get());
            long now = last_pid(fs);
            whole = no_thread_exited(cursor, expected, after, now);
            probe_from_now = whole ? now : -1;
            if (seen.empty()) return gone();
            any_new = true;
            if (!std::is_sorted(seen.begin(), seen.end())) std::sort(seen.begin(), seen.end());  // usually is
            seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
        } else if (full_listing) {
            // Listed in one read, and again (a few times at most) if threads exited meanwhile.
            Result<std::vector<pid_t>> tids = std::vector<pid_t>{};
            if (fs.is_real()) {
                long pid_before = last_pid(fs);
                std::size_t count_before = 0, count_after = 0;
                tids = list_tasks_at_once(task_dir, count_before, count_after);
                long pid_after = last_pid(fs);
                whole = no_thread_exited(pid_before, count_before, count_after, pid_after);
                // Every thread older than this listing is in it: the probe starts from there (and
                // reads ns_last_pid afresh, after the settings below, whose creators may be new).
                if (whole) cursor = pid_before;
            } else {
                tids = proc::list_numeric_dir(task_dir);
            }
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
            long now = probe_from_now >= 0 ? probe_from_now : last_pid(fs);
            probe_from_now = -1;
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
        // A listing that threads may have escaped (threads exited meanwhile) is followed by a
        // full listing even when it found nothing new, a few times at most (a process whose
        // threads never stop coming and going would otherwise keep the walk listing); after that,
        // and after a whole listing or a probe, the cheap probe confirms when the cursor is known,
        // and a pass that finds nothing new ends the walk.
        bool relist = !whole && relists < max_relists;
        if (!any_new && !relist) break;
        if (relist) ++relists;
        full_listing = cursor < 0 || relist;
        whole = true;
    }
    if (!std::is_sorted(out.changed.begin(), out.changed.end())) std::sort(out.changed.begin(), out.changed.end());
    std::sort(out.failed.begin(), out.failed.end(),
              [](const TaskFailure& a, const TaskFailure& b) { return a.tid < b.tid; });
    return out;
}

}  // namespace

Result<ThreadsResult> set_affinity_all_threads(pid_t pid, const CpuSet& cpus, const FsRoot& fs) {
    return set_all_threads(pid, [&](pid_t) -> const CpuSet& { return cpus; }, fs, true);
}

Result<ThreadsResult> set_affinity_all_threads(pid_t pid, const MaskForThread& mask_for, const FsRoot& fs) {
    CpuSet current;
    return set_all_threads(
        pid,
        [&](pid_t tid) -> const CpuSet& {
            current = mask_for(tid);
            return current;
        },
        fs, false);
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
