#include <prockit/proc/select.hpp>

#include <prockit/proc/cgroup.hpp>
#include <prockit/sys/syscall.hpp>
#include <prockit/sys/unique_fd.hpp>

#include "dirents.hpp"
#include "select_test_hook.hpp"
#include "../sys/other_cpus.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <fcntl.h>
#include <memory>
#include <optional>
#include <poll.h>
#include <pwd.h>
#include <regex.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <thread>
#include <unistd.h>

namespace prockit::proc {

// One compiled POSIX regex, owned.
class Regex {
public:
    Regex() = default;
    Regex(const Regex&) = delete;
    Regex& operator=(const Regex&) = delete;
    ~Regex() {
        if (ok_) ::regfree(&re_);
    }
    Status compile(const std::string& pattern) {
        int rc = ::regcomp(&re_, pattern.c_str(), REG_EXTENDED | REG_NOSUB);
        if (rc != 0) {
            char why[256];
            ::regerror(rc, &re_, why, sizeof why);
            return fail(Error(make_error_code(Errc::parse_error),
                              "compile regular expression \"" + pattern + "\" (" + why + ")"));
        }
        ok_ = true;
        return {};
    }
    bool search(const char* text) const { return ::regexec(&re_, text, 0, nullptr, 0) == 0; }

private:
    regex_t re_{};
    bool ok_ = false;
};

namespace {

// A cgroup criterion: a path within a hierarchy, optionally tied to one hierarchy kind.
struct CgroupCriterion {
    std::string path;
    int version = 0;                   // 0: any hierarchy; 1 or 2: that kind
    std::vector<std::string> v1_controllers;  // for version 1: the hierarchy's controllers
};

bool path_within(const std::string& path, const std::string& top) {
    if (top == "/") return true;
    return path == top || (path.size() > top.size() && path.compare(0, top.size(), top) == 0 && path[top.size()] == '/');
}

}  // namespace

struct Matcher::Impl {
    const FsRoot* fs = nullptr;
    Selector sel;
    std::vector<std::unique_ptr<Regex>> regexes;
    std::vector<std::string> exes;  // resolved
    std::vector<CgroupCriterion> cgroups;
    pid_t self = 0;

    bool cgroup_matches(ProcReader& r, pid_t pid) const {
        auto text = r.read(pid, "cgroup");
        if (!text) return false;
        std::vector<CgroupEntry> entries = parse_cgroups(*text);
        for (const CgroupCriterion& c : cgroups) {
            for (const CgroupEntry& e : entries) {
                if (c.version == 2 && !e.is_v2()) continue;
                if (c.version == 1) {
                    if (e.is_v2()) continue;
                    bool same = !c.v1_controllers.empty() &&
                                std::all_of(c.v1_controllers.begin(), c.v1_controllers.end(),
                                            [&](const std::string& x) { return e.has(x); });
                    if (!same) continue;
                }
                if (path_within(e.path, c.path)) return true;
            }
        }
        return false;
    }
};

Matcher::Matcher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Matcher::Matcher(Matcher&&) noexcept = default;
Matcher& Matcher::operator=(Matcher&&) noexcept = default;
Matcher::~Matcher() = default;

Result<Matcher> Matcher::compile(const Selector& s, const FsRoot& fs) {
    auto impl = std::make_unique<Impl>();
    impl->fs = &fs;
    impl->sel = s;
    impl->self = ::getpid();
    for (const std::string& p : s.patterns) {
        auto re = std::make_unique<Regex>();
        if (auto st = re->compile(p); !st) return fail(st.error());
        impl->regexes.push_back(std::move(re));
    }
    for (const std::string& e : s.exes) {
        char buf[PATH_MAX];
        std::string real = fs.root() + e;
        if (::realpath(real.c_str(), buf)) {
            std::string r(buf);
            if (!fs.root().empty() && r.compare(0, fs.root().size(), fs.root()) == 0) r.erase(0, fs.root().size());
            impl->exes.push_back(r);
        } else {
            impl->exes.push_back(e);  // may name a deleted or not-yet-existing file: compare as given
        }
    }
    if (!s.cgroups.empty()) {
        std::vector<CgroupMount> mounts;
        if (auto m = read_cgroup_mounts(fs)) mounts = std::move(*m);
        for (const std::string& c : s.cgroups) {
            CgroupCriterion crit;
            crit.path = c;
            // A directory inside a mounted hierarchy: translate to that hierarchy's cgroup path.
            std::size_t best = 0;
            for (const CgroupMount& m : mounts) {
                const std::string& mp = m.mountpoint;
                if (!path_within(c, mp) || mp.size() <= best) continue;
                best = mp.size();
                std::string rest = c.substr(mp.size());
                std::string root = m.root == "/" ? "" : m.root;
                crit.path = root + (rest.empty() ? (root.empty() ? "/" : "") : rest);
                crit.version = m.version;
                crit.v1_controllers = m.controllers;
            }
            if (crit.path.size() > 1 && crit.path.back() == '/') crit.path.pop_back();
            impl->cgroups.push_back(std::move(crit));
        }
    }
    return Matcher(std::move(impl));
}

bool Matcher::match(ProcReader& r, pid_t pid, ProcessRef& out) const {
    return match_with(r, impl_->regexes, pid, out);
}

bool Matcher::match_with(ProcReader& r, const Regexes& regexes, pid_t pid, ProcessRef& out) const {
    const Impl& m = *impl_;
    const Selector& s = m.sel;
    if (pid == m.self && !s.include_self) return false;
    if (!s.users.empty()) {
        auto uid = r.owner(pid);
        if (!uid || std::find(s.users.begin(), s.users.end(), *uid) == s.users.end()) return false;
    }
    Stat st;
    bool have_stat = false;
    auto need_stat = [&]() {
        if (have_stat) return true;
        // Named PIDs are few and may be large processes: their leader's stat skips the per-thread
        // sums. A scan reads thousands of mostly single-threaded processes, where the plain
        // file's shorter path is cheaper (1,564 processes: 8.7-10.9 ms vs 11.2-11.9 ms).
        auto x = r.stat(pid, s.pids.empty() ? 0 : pid);
        if (!x) return false;
        st = std::move(*x);
        have_stat = true;
        return true;
    };
    if (!s.names.empty()) {
        if (!need_stat()) return false;
        bool any = false;
        for (const std::string& n : s.names)
            if (st.comm == (n.size() > 15 ? n.substr(0, 15) : n)) any = true;
        if (!any) return false;
    }
    if (!regexes.empty()) {
        auto cmd = r.cmdline(pid);
        if (!cmd) return false;
        std::string fallback;
        const char* text = cmd->data();
        if (cmd->empty()) {
            if (!need_stat()) return false;
            fallback = st.comm;
            text = fallback.c_str();
        }
        bool any = false;
        for (const auto& re : regexes)
            if (re->search(text)) {
                any = true;
                break;
            }
        if (!any) return false;
    }
    if (!m.exes.empty()) {
        auto exe = r.exe(pid);
        if (!exe || std::find(m.exes.begin(), m.exes.end(), *exe) == m.exes.end()) return false;
    }
    if (!m.cgroups.empty() && !m.cgroup_matches(r, pid)) return false;
    if (!need_stat()) return false;
    if (st.kernel_thread() && !s.include_kernel_threads) return false;
    out.pid = pid;
    out.start_time = st.start_time;
    out.comm = std::move(st.comm);
    out.threads = st.num_threads;
    out.kernel_thread = st.kernel_thread();
    return true;
}

namespace {

// Test hooks (select_test_hook.hpp).
std::atomic<bool> g_lister_waits{false};
std::atomic<unsigned> g_waits_for_listing{0};
std::atomic<std::size_t> g_min_per_thread{0};  // 0: the default
std::atomic<std::size_t> g_room{0};            // 0: from /proc's link count

// The PIDs a scan examines, handed out in blocks to the threads that examine them, possibly
// while the caller is still listing /proc: listing costs the kernel ~0.7 us per process (a dentry
// lookup each), a tenth of the scan, and the other threads need not wait for all of it. Blocks
// are handed out in order from a shared cursor, so a thread whose CPU is busy with something else
// takes fewer; each block's matches are kept apart and joined in block order.
class PidFeed {
public:
    static constexpr std::size_t block = 64;

    explicit PidFeed(std::size_t room) : room_(room), pids_(std::make_unique<pid_t[]>(room)) {}
    explicit PidFeed(const std::vector<pid_t>& all) : PidFeed(all.size()) {
        std::copy(all.begin(), all.end(), pids_.get());
        count_ = all.size();
        finish();
    }

    // The lister's side. False when out of room (the PID is not taken).
    bool push(pid_t pid) {
        if (count_ == room_) return false;
        pids_[count_++] = pid;
        return true;
    }
    void publish() { published_.store(count_, std::memory_order_release); }
    void finish() {
        publish();
        done_.store(true, std::memory_order_release);
    }

    // The examiners' side: claims the next block and waits until it is listed, or the listing has
    // ended. Returns its index and its listed PIDs; an empty range when nothing is left.
    std::size_t next(const pid_t*& first, const pid_t*& last) {
        std::size_t b = cursor_.fetch_add(1, std::memory_order_acq_rel);
        std::size_t lo = b * block;
        for (unsigned spins = 0;; ++spins) {
            bool ended = done_.load(std::memory_order_acquire);  // before the count: then it is final
            std::size_t have = published_.load(std::memory_order_acquire);
            if (have >= lo + block || ended) {
                first = pids_.get() + std::min(lo, have);
                last = pids_.get() + std::min(lo + block, have);
                return b;
            }
            if (spins == 0) g_waits_for_listing.fetch_add(1, std::memory_order_relaxed);
            if (spins > 64) ::sched_yield();  // the lister is a chunk behind
        }
    }
    // Test hook: whether a block was claimed that is not wholly listed (someone waits for it).
    bool awaited() const {
        return cursor_.load(std::memory_order_acquire) * block > published_.load(std::memory_order_acquire);
    }
    std::size_t blocks() const { return (room_ + block - 1) / block; }

private:
    const std::size_t room_;
    const std::unique_ptr<pid_t[]> pids_;
    std::size_t count_ = 0;  // the lister's own
    std::atomic<std::size_t> published_{0};
    std::atomic<bool> done_{false};
    std::atomic<std::size_t> cursor_{0};
};

}  // namespace

Result<Selection> Matcher::select(unsigned threads) const {
    const Impl& m = *impl_;
    if (m.sel.pids.empty() && m.sel.empty()) return Selection{};
    // The candidates: the named PIDs; /proc's, listed up front (a fixture tree, or one thread);
    // or /proc's, listed by this thread while the others examine what is listed so far.
    std::optional<PidFeed> feed;
    unique_fd proc_dir;
    std::size_t expected = 0;
    if (!m.sel.pids.empty()) {
        std::vector<pid_t> pids = m.sel.pids;
        std::sort(pids.begin(), pids.end());
        pids.erase(std::unique(pids.begin(), pids.end()), pids.end());
        feed.emplace(pids);
        expected = pids.size();
    } else if (threads <= 1 || !m.fs->is_real()) {
        auto pids = list_pids(*m.fs);
        if (!pids) return fail(pids.error());
        feed.emplace(*pids);
        expected = pids->size();
    } else {
        proc_dir.reset(retry_eintr([] { return ::open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC); }));
        if (!proc_dir) return fail(last_error("open /proc"));
        // /proc's link count is a few more than the number of processes: of the whole machine,
        // even in a PID namespace, where a scan may then start more threads than it needs.
        struct stat st {};
        expected = ::fstat(proc_dir.get(), &st) == 0 ? static_cast<std::size_t>(st.st_nlink) : 0;
        std::size_t room = g_room.load(std::memory_order_relaxed);  // test hook
        feed.emplace(room ? room : expected + expected / 4 + 256);
    }
    std::size_t min_per_thread = g_min_per_thread.load(std::memory_order_relaxed);  // test hook
    if (min_per_thread == 0) min_per_thread = 256;
    std::size_t n = std::max<std::size_t>(1, std::min<std::size_t>(threads, expected / min_per_thread));
    // Each thread has its own reader and its own compiled regexes (glibc serialises regexec calls
    // on one regex_t).
    std::vector<Regexes> own(n);
    for (std::size_t k = 1; k < n; ++k)
        for (const std::string& p : m.sel.patterns) {
            auto re = std::make_unique<Regex>();
            if (auto st = re->compile(p); !st) return fail(st.error());
            own[k].push_back(std::move(re));
        }
    std::vector<Selection> parts(feed->blocks() + 1);  // the last: PIDs listed past the room
    auto examine = [&](ProcReader& reader, const Regexes& regexes, const pid_t* first, const pid_t* last,
                       Selection& part) {
        for (const pid_t* p = first; p != last; ++p) {
            ProcessRef ref;
            if (match_with(reader, regexes, *p, ref)) {
                part.processes.push_back(std::move(ref));
            } else if (!m.sel.pids.empty()) {
                // A requested PID that does not exist (as opposed to one that fails a criterion).
                if (!reader.stat(*p)) part.missing.push_back(*p);
            }
        }
    };
    auto work = [&](const Regexes& regexes) {
        ProcReader reader(*m.fs);
        for (;;) {
            const pid_t *first, *last;
            std::size_t b = feed->next(first, last);
            if (first == last) return;
            examine(reader, regexes, first, last, parts[b]);
        }
    };
    // The other threads keep off this thread's CPU: left to the scheduler, a new thread often
    // starts on its creator's CPU and stays there for much of a scan this short, and the two then
    // share one CPU while another idles (measured: the scan took 6 or 11 ms by turns).
    cpu_set_t others;
    bool pin = n > 1 && detail::other_cpus(others);
    std::vector<std::thread> workers;
    struct Join {
        PidFeed& feed;
        std::vector<std::thread>& workers;
        ~Join() {  // also on an exception: the workers must stop before what they use goes
            feed.finish();
            for (std::thread& t : workers) t.join();
        }
    } join{*feed, workers};
    for (std::size_t k = 1; k < n; ++k)
        workers.emplace_back([&, k] {
            if (pin) ::sched_setaffinity(0, sizeof others, &others);
            work(own[k]);
        });
    // The kernel lists /proc in PID order (it resumes a listing by PID), so the feed, and the
    // PIDs listed past its room after it, are in PID order as they come.
    std::vector<pid_t> overflow;  // listed when the feed was full: examined last, by this thread
    if (proc_dir) {
        alignas(dirent64) char buf[4096];
        for (;;) {
            ssize_t got = retry_eintr([&] { return ::getdents64(proc_dir.get(), buf, sizeof buf); });
            if (got < 0 && errno != ENOENT) return fail(last_error("read directory /proc"));
            if (got <= 0) break;
            detail::for_each_numeric_dirent(buf, got, [&](pid_t pid) {
                if (!feed->push(pid)) overflow.push_back(pid);
                return true;
            });
            feed->publish();
            if (n > 1 && g_lister_waits.load(std::memory_order_relaxed)) {  // test hook
                auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(2);
                while (!feed->awaited() && std::chrono::steady_clock::now() < give_up) std::this_thread::yield();
            }
        }
    }
    feed->finish();
    work(m.regexes);
    for (std::thread& t : workers) t.join();
    workers.clear();
    if (!overflow.empty()) {
        ProcReader reader(*m.fs);
        examine(reader, m.regexes, overflow.data(), overflow.data() + overflow.size(), parts.back());
    }
    Selection out;
    for (Selection& p : parts) {
        for (ProcessRef& r : p.processes) out.processes.push_back(std::move(r));
        out.missing.insert(out.missing.end(), p.missing.begin(), p.missing.end());
    }
    return out;
}

Result<Selection> select_processes(const Selector& s, const FsRoot& fs) {
    auto m = Matcher::compile(s, fs);
    if (!m) return fail(m.error());
    return m->select();
}

Result<uid_t> resolve_user(std::string_view user) {
    if (user.empty()) return fail(Error(make_error_code(Errc::parse_error), "parse an empty user name"));
    uid_t uid = 0;
    auto r = std::from_chars(user.data(), user.data() + user.size(), uid);
    if (r.ec == std::errc() && r.ptr == user.data() + user.size()) return uid;
    std::string name(user);
    std::vector<char> buf(16384);
    passwd pw{};
    passwd* found = nullptr;
    int rc = ::getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found);
    if (rc != 0) return fail(Error::from_errno(rc, "look up user " + name));
    if (!found) return fail(Error(make_error_code(Errc::not_found), "find user " + name));
    return found->pw_uid;
}

Result<PinnedProcess> PinnedProcess::pin(const ProcessRef& ref, const FsRoot& fs) {
    PinnedProcess p;
    p.pid_ = ref.pid;
    auto gone = [&] {
        return fail(Error::from_errno(ESRCH, "find process " + std::to_string(ref.pid) + " (it exited)"));
    };
    if (fs.is_real()) {
        int fd = static_cast<int>(::syscall(SYS_pidfd_open, ref.pid, 0));
        if (fd < 0) {
            if (errno == ESRCH) return gone();
            // No pidfd support: fall back to the start-time check alone.
        } else {
            p.pidfd_.reset(fd);
        }
    }
    ProcReader r(fs);
    auto st = r.stat(ref.pid, ref.pid);  // the leader's file: no per-thread sums (procfs.hpp)
    if (!st || st->start_time != ref.start_time) return gone();
    return p;
}

bool PinnedProcess::alive() const {
    if (!pidfd_) return true;
    pollfd pfd{pidfd_.get(), POLLIN, 0};
    int rc = retry_eintr([&] { return ::poll(&pfd, 1, 0); });
    return rc == 0;
}

}  // namespace prockit::proc

namespace prockit::detail {

void set_scan_lister_waits(bool on) { proc::g_lister_waits.store(on, std::memory_order_relaxed); }

unsigned scan_waits_for_listing() { return proc::g_waits_for_listing.load(std::memory_order_relaxed); }

void set_scan_limits(std::size_t min_per_thread, std::size_t room) {
    proc::g_min_per_thread.store(min_per_thread, std::memory_order_relaxed);
    proc::g_room.store(room, std::memory_order_relaxed);
}

}  // namespace prockit::detail
