#include <prockit/sched/affinity.hpp>

#include <prockit/proc/procfs.hpp>
#include <prockit/sys/syscall.hpp>

#include "../proc/dirents.hpp"
#include "../sys/other_cpus.hpp"
#include "affinity_test_hook.hpp"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <memory>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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

// --- the first pass over many threads: listing and setting overlap -------------------------------
//
// Listing /proc/PID/task costs the kernel about as much per thread as sched_setaffinity does
// (~0.45 us each per thread on a 2-vCPU VM, 1,000 threads: the listing looks up a dentry per
// thread). With one mask for every thread, the first pass reads the listing in 4 KiB getdents64
// chunks (~128 TIDs each) and sets each chunk as it comes; when the caller allows it
// (AllThreadsOptions::helper_thread), a helper thread on another CPU reads the listing on while the
// calling thread sets. Without a second CPU, without enough threads to pay for the helper's start
// (~0.1 ms), or if no thread can be made, the calling thread alternates listing and setting.

constexpr std::size_t overlap_min_threads = 512;
constexpr std::size_t listing_chunk = 4096;  // bytes of dirents per getdents64 call

// Test hooks (affinity_test_hook.hpp): a helper made late or stalled on purpose, and how often the
// caller's ways out ran.
std::atomic<int> g_helper_fault{0};
std::atomic<unsigned> g_taken_back{0};   // the caller took the listing back from a late helper
std::atomic<unsigned> g_left_behind{0};  // the caller left a stalled helper behind
constexpr auto hook_patience = std::chrono::seconds(2);

// Test hook: naps while `waiting()` holds, for `hook_patience` at most. Allocates nothing (the
// helper thread uses it).
template <class Pred>
void nap_while(Pred waiting) {
    const auto give_up = std::chrono::steady_clock::now() + hook_patience;
    while (waiting() && std::chrono::steady_clock::now() < give_up) {
        timespec ts{0, 20'000};
        ::nanosleep(&ts, nullptr);
    }
}

// The process's thread count as the kernel keeps it in the link count of /proc/PID/task
// (2 + threads), or 0.
std::size_t thread_count(int task_dir_fd) {
    struct stat st {};
    return ::fstat(task_dir_fd, &st) == 0 && st.st_nlink > 2 ? st.st_nlink - 2 : 0;
}

// Whether no thread exited between two readings of the thread count and of ns_last_pid (taken
// in the order pid, count ... count, pid): the count grew by exactly the PIDs handed out
// meanwhile, less `own` PIDs this process took itself.
bool no_thread_exited(long pid_before, std::size_t count_before, std::size_t count_after, long pid_after, long own) {
    return pid_before >= 0 && pid_after >= pid_before &&
           static_cast<long>(count_after) - static_cast<long>(count_before) == pid_after - pid_before - own;
}

// Lists /proc/PID/task (sorted) in one getdents64 call: the buffer has room for the threads the
// link count reports and a quarter more (an entry for a TID takes at most 32 bytes). Read in
// chunks, a listing can skip threads while others exit (see list_and_set()). Should the threads
// outgrow the room, it is read again with more, twice at most, then the rest is taken as it comes.
// `count_before` and `count_after` are the thread counts around the last reading.
Result<std::vector<pid_t>> list_tasks_at_once(const std::string& task_dir, std::size_t& count_before,
                                              std::size_t& count_after) {
    int fd = retry_eintr([&] { return ::open(task_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); });
    if (fd < 0) return fail(last_error("open " + task_dir));
    unique_fd owner(fd);
    std::vector<pid_t> out;
    std::vector<char> buf;
    for (int attempt = 0;; ++attempt) {
        count_before = thread_count(fd);
        std::size_t room = std::max<std::size_t>((count_before + count_before / 4 + 64) * 32, listing_chunk)
                           << attempt;
        buf.resize(room);
        out.clear();
        if (::lseek(fd, 0, SEEK_SET) < 0) return fail(last_error("read directory " + task_dir));
        bool whole = false;
        for (int call = 0;; ++call) {
            ssize_t n = retry_eintr([&] { return ::getdents64(fd, buf.data(), buf.size()); });
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
    count_after = thread_count(fd);
    if (!std::is_sorted(out.begin(), out.end())) std::sort(out.begin(), out.end());
    return out;
}

// The listing a helper thread reads on while the caller sets what is listed. The caller reads the
// first chunk; then the helper, once it runs, claims the rest of the listing, and the caller only
// sets. Only the caller ever sets, so the helper's work has no effect outside this state and the
// caller never has to wait for it: a helper that has not claimed the listing 0.2 ms after the
// first chunk loses it to the caller (who lists on by itself), and one that stalls after claiming it
// (the scheduler stopped it on a busy CPU) is left behind: the caller lists everything itself,
// sets what it had not, and returns. The state stays alive for a helper left behind until it lets
// go (`owners`: the last one out deletes it and closes its descriptor). Nothing on the helper's
// side allocates, and it frees only in that case: a thread's first malloc or free makes glibc set
// up an arena for it (a 128 MiB reservation and an munmap, whose TLB shoot-down interrupts the
// other thread).
struct SharedListing {
    // Who lists after the first chunk. The helper claims with open → helper_lists, the caller
    // takes it back with open → caller_lists; both by compare-and-swap, so exactly one wins.
    enum Phase : int { first_chunk = 0, open = 1, helper_lists = 2, caller_lists = 3 };

    SharedListing(std::size_t room_, int fd_, detail::ListingHelperFault fault_)
        : room(room_), tids(new pid_t[room_]), fd(fd_), fault(fault_) {}
    ~SharedListing() { ::close(fd); }

    const std::size_t room;
    const std::unique_ptr<pid_t[]> tids;
    const int fd;                               // a duplicate of the caller's: one file position
    const detail::ListingHelperFault fault;     // test hook: read once, for both threads
    std::atomic<std::size_t> published{0};      // tids[0, published) are listed
    std::atomic<int> phase{first_chunk};
    std::atomic<bool> done{false};              // the helper has stopped listing
    std::atomic<int> list_errno{0};             // why listing stopped early (EOVERFLOW: out of room)
    std::atomic<int> owners{1};                 // the caller, and the helper once started

    // Reads one chunk into `tids`; false at the end (or on an error, kept in list_errno).
    bool read_chunk(std::size_t& count) {
        alignas(dirent64) char buf[listing_chunk];
        ssize_t n = retry_eintr([&] { return ::getdents64(fd, buf, sizeof buf); });
        if (n <= 0) {
            if (n < 0) list_errno.store(errno, std::memory_order_relaxed);
            return false;
        }
        bool fits = true;
        detail::for_each_numeric_dirent(buf, n, [&](pid_t tid) {
            if (count == room) return fits = false;
            tids[count++] = tid;
            return true;
        });
        published.store(count, std::memory_order_release);
        if (!fits) list_errno.store(EOVERFLOW, std::memory_order_relaxed);
        return fits;
    }

    void release() {
        if (owners.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
    }
};

void* listing_helper(void* arg) {
    auto* state = static_cast<SharedListing*>(arg);
    for (unsigned spins = 0; state->phase.load(std::memory_order_acquire) == SharedListing::first_chunk; ++spins)
        if (spins > 2000) ::sched_yield();  // the caller is reading the first chunk
    using detail::ListingHelperFault;
    if (state->fault == ListingHelperFault::never_claims)  // test hook: late until the caller takes over
        nap_while([&] {
            return state->phase.load(std::memory_order_acquire) == SharedListing::open &&
                   state->owners.load(std::memory_order_acquire) > 1;
        });
    int open = SharedListing::open;
    if (state->phase.compare_exchange_strong(open, SharedListing::helper_lists, std::memory_order_acq_rel)) {
        std::size_t count = state->published.load(std::memory_order_acquire);
        for (bool first = true; state->read_chunk(count); first = false)
            if (first && state->fault == ListingHelperFault::stalls)  // test hook: until the caller returns
                nap_while([&] { return state->owners.load(std::memory_order_acquire) > 1; });
        state->done.store(true, std::memory_order_release);
    }
    state->release();
    return nullptr;
}

// Starts the helper, detached, on the CPUs this process may use other than the one the caller runs
// on, with every signal blocked (signals for the process stay with the caller's threads). False
// when there is no other CPU or no thread could be made.
bool start_helper(SharedListing& state) {
    cpu_set_t cpus;
    if (!detail::other_cpus(cpus)) return false;
    pthread_attr_t attr;
    if (::pthread_attr_init(&attr) != 0) return false;
    ::pthread_attr_setstacksize(&attr, 256 * 1024);
    ::pthread_attr_setaffinity_np(&attr, sizeof cpus, &cpus);
    ::pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    sigset_t all, old;
    sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &old);
    state.owners.store(2, std::memory_order_relaxed);
    pthread_t thread;
    bool started = ::pthread_create(&thread, &attr, listing_helper, &state) == 0;
    if (!started) state.owners.store(1, std::memory_order_relaxed);
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    ::pthread_attr_destroy(&attr);
    return started;
}

struct OverlapResult {
    bool helped = false;       // a helper thread was started (it may have come too late to list)
    std::vector<pid_t> tids;   // listed, in listing order
    std::vector<int> errors;   // per TID in `tids`: 0 (set) or sched_setaffinity's errno
    int list_errno = 0;        // why the listing stopped early, 0 if it completed
};

// Lists the open /proc/PID/task `dir` (about `expected` threads) and sets each thread to `mask`,
// chunk by chunk. With a helper (`want_helper`, if one can be started) the helper claims the
// listing after the first chunk and the caller only sets; a helper that has not claimed it within
// `late` of the first chunk loses it, and one that then makes no progress for `stall` is left
// behind: the caller lists everything in one read and sets what it had not.
OverlapResult list_and_set(int dir, const std::string& task_dir, std::size_t expected, bool want_helper,
                           const CpuSet& mask) {
    constexpr auto late = std::chrono::microseconds(200);
    constexpr auto stall = std::chrono::microseconds(300);
    OverlapResult r;
    const auto* bits = reinterpret_cast<const cpu_set_t*>(mask.words().data());
    auto set = [&](pid_t tid) {
        r.tids.push_back(tid);
        r.errors.push_back(::sched_setaffinity(tid, mask.byte_size(), bits) == 0 ? 0 : errno);
    };
    unique_fd fd(::fcntl(dir, F_DUPFD_CLOEXEC, 0));
    if (!fd) {
        r.list_errno = errno;
        return r;
    }
    const std::size_t room = expected + expected / 4 + 64;
    r.tids.reserve(room);  // before the helper starts: nothing may throw while it waits
    r.errors.reserve(room);
    // The caller's share; also never leaves a helper waiting for the first chunk (an exception).
    struct Release {
        SharedListing* state;
        ~Release() {
            int first = SharedListing::first_chunk;
            state->phase.compare_exchange_strong(first, SharedListing::caller_lists, std::memory_order_acq_rel);
            state->release();
        }
    } owner{new SharedListing(room, fd.get(),
                              static_cast<detail::ListingHelperFault>(g_helper_fault.load(std::memory_order_relaxed)))};
    fd.release();  // the state owns it now
    SharedListing& state = *owner.state;
    r.helped = want_helper && start_helper(state);
    std::size_t count = 0, handled = 0;
    bool listing = true;  // this thread lists: the first chunk, and all if the helper lost it
    bool more = state.read_chunk(count);
    auto started_at = std::chrono::steady_clock::now();  // the helper's `late` counts from here
    if (r.helped) {
        // After the first chunk, the listing is open to the helper (or, if that chunk was all
        // there is, closed to it).
        state.phase.store(more ? SharedListing::open : SharedListing::caller_lists, std::memory_order_release);
        listing = !more;
    }
    bool left_behind = false;
    // Test hook: a helper made to stall is given longer to claim (it would lose the listing if it
    // started late, and then it could not stall).
    using Duration = std::chrono::steady_clock::duration;
    const Duration claim_within =
        state.fault == detail::ListingHelperFault::stalls ? Duration(hook_patience) : Duration(late);
    auto progress_at = std::chrono::steady_clock::now();
    bool claimed = false;
    for (unsigned spins = 0;;) {
        std::size_t ready = state.published.load(std::memory_order_acquire);
        if (handled < ready) {
            for (; handled < ready; ++handled) set(state.tids[handled]);
            progress_at = std::chrono::steady_clock::now();
            spins = 0;
            continue;
        }
        if (listing) {
            if (more && (more = state.read_chunk(count))) continue;
            break;
        }
        if (state.done.load(std::memory_order_acquire)) {
            if (handled < state.published.load(std::memory_order_acquire)) continue;
            break;
        }
        if (++spins % 64 == 0) {
            auto now = std::chrono::steady_clock::now();
            if (!claimed && state.phase.load(std::memory_order_acquire) == SharedListing::helper_lists) {
                claimed = true;
                progress_at = now;
            }
            if (!claimed && now - started_at > claim_within) {
                int open = SharedListing::open;
                if (state.phase.compare_exchange_strong(open, SharedListing::caller_lists,
                                                        std::memory_order_acq_rel)) {
                    listing = true;  // the helper never came: list on here
                    g_taken_back.fetch_add(1, std::memory_order_relaxed);
                    continue;
                }
            } else if (claimed && now - progress_at > stall) {
                left_behind = true;
                g_left_behind.fetch_add(1, std::memory_order_relaxed);
                break;
            }
        }
        if (spins > 2000) ::sched_yield();
    }
    if (left_behind || state.list_errno.load(std::memory_order_acquire) == EOVERFLOW) {
        // The helper stalled, or the threads outgrew the room: list everything at once and set
        // what was not set yet.
        std::size_t before = 0, after = 0;
        auto all = list_tasks_at_once(task_dir, before, after);
        if (!all) {
            r.list_errno = all.error().errno_value();
        } else {
            std::vector<pid_t> done_tids = r.tids;
            std::sort(done_tids.begin(), done_tids.end());
            for (pid_t tid : *all)
                if (!std::binary_search(done_tids.begin(), done_tids.end(), tid)) set(tid);
        }
    } else {
        r.list_errno = state.list_errno.load(std::memory_order_acquire);
    }
    return r;
}

/// The work of both set_affinity_all_threads() overloads. `mask_of(tid)` returns the thread's mask
/// by reference: one mask for every thread costs no copy per thread. `uniform` is that one mask
/// when every thread gets the same; with `helper_thread` it lets the first pass overlap listing
/// and setting.
template <typename MaskOf>
Result<ThreadsResult> set_all_threads(pid_t pid, MaskOf&& mask_of, const FsRoot& fs, const CpuSet* uniform,
                                      bool helper_thread) {
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
    // The first pass with one mask lists in small chunks (list_and_set()), with a helper thread
    // when allowed and the target is another process (a helper in the target itself would be
    // listed and set as one of its threads; tgkill with signal 0 finds any thread of ours).
    const bool chunked = uniform && fs.is_real();
    helper_thread = helper_thread && chunked && ::syscall(SYS_tgkill, ::getpid(), pid, 0) != 0;
    long cursor = last_pid(fs);
    bool full_listing = true;
    bool whole = true;          // the last full listing is known to have missed no thread
    constexpr int max_relists = 3;
    int relists = 0;            // full listings made because the previous one was not whole
    long probe_from_now = -1;   // ns_last_pid as read right after that listing, when known
    for (;;) {
        bool any_new = false;
        if (full_listing && out.passes == 0 && chunked) {
            // The first pass with one mask: listing and setting overlap if allowed (list_and_set()).
            ++out.passes;
            int dir = retry_eintr([&] { return ::open(task_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); });
            if (dir < 0) return errno == ENOENT || errno == ESRCH ? gone() : fail(last_error("open " + task_dir));
            std::size_t expected = thread_count(dir);
            OverlapResult r =
                list_and_set(dir, task_dir, expected, helper_thread && expected >= overlap_min_threads, *uniform);
            // A listing read in chunks is only known whole if no thread exited meanwhile: when the
            // thread a chunk would resume at has exited, the kernel resumes by position instead,
            // and threads that exited before it shift the rest, so some are skipped. Proof of no
            // exit: the thread count grew by exactly the number of PIDs handed out meanwhile (less
            // the helper's own). Without that proof the next pass lists again in one read.
            std::size_t after = thread_count(dir);
            long now = last_pid(fs);
            whole = no_thread_exited(cursor, expected, after, now, r.helped ? 1 : 0);
            probe_from_now = whole ? now : -1;
            ::close(dir);
            if (r.list_errno != 0) {
                if (r.list_errno == ENOENT || r.list_errno == ESRCH) return gone();
                return fail(Error::from_errno(r.list_errno, "read directory " + task_dir));
            }
            if (r.tids.empty()) return gone();
            out.overlapped = r.helped;
            any_new = true;
            out.changed.reserve(r.tids.size());
            for (std::size_t i = 0; i < r.tids.size(); ++i) {
                if (r.errors[i] == 0) {
                    out.changed.push_back(r.tids[i]);
                } else if (r.errors[i] == ESRCH) {
                    ++out.exited;
                } else {
                    out.failed.push_back({r.tids[i], Error::from_errno(r.errors[i], "set affinity of thread " +
                                                                                        std::to_string(r.tids[i]) +
                                                                                        " of process " +
                                                                                        std::to_string(pid))});
                }
            }
            seen = std::move(r.tids);
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
                whole = no_thread_exited(pid_before, count_before, count_after, pid_after, 0);
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

void detail::set_listing_helper_fault(ListingHelperFault fault) {
    g_helper_fault.store(static_cast<int>(fault), std::memory_order_relaxed);
}

detail::ListingHelperFallbacks detail::listing_helper_fallbacks() {
    return {g_taken_back.load(std::memory_order_relaxed), g_left_behind.load(std::memory_order_relaxed)};
}

Result<ThreadsResult> set_affinity_all_threads(pid_t pid, const CpuSet& cpus, const FsRoot& fs,
                                               const AllThreadsOptions& opts) {
    return set_all_threads(pid, [&](pid_t) -> const CpuSet& { return cpus; }, fs, &cpus, opts.helper_thread);
}

Result<ThreadsResult> set_affinity_all_threads(pid_t pid, const MaskForThread& mask_for, const FsRoot& fs) {
    CpuSet current;
    return set_all_threads(
        pid,
        [&](pid_t tid) -> const CpuSet& {
            current = mask_for(tid);
            return current;
        },
        fs, nullptr, false);
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
