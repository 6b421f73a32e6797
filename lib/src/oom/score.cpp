#include <prockit/oom/score.hpp>

#include <prockit/proc/procfs.hpp>
#include <prockit/sys/syscall.hpp>
#include <prockit/sys/unique_fd.hpp>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <fcntl.h>
#include <sys/capability.h>
#include <unistd.h>
#include <unordered_map>
#include <unordered_set>

namespace prockit::oom {

namespace {

Result<int> parse_int(std::string_view text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
    std::string_view t = text;
    if (!t.empty() && t.front() == '+') t.remove_prefix(1);
    int v = 0;
    auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (t.empty() || ec != std::errc() || end != t.data() + t.size())
        return fail(Error(make_error_code(Errc::parse_error), "parse \"" + std::string(text) + "\": expected a number"));
    return v;
}

Result<int> read_number(pid_t pid, const char* file, const FsRoot& fs) {
    auto text = read_file(fs.proc_pid(pid, file));
    if (!text) {
        if (text.error().errno_value() == ENOENT) return fail(Error::from_errno(ESRCH, "read " + fs.proc_pid(pid, file)));
        return fail(text.error());
    }
    auto v = parse_int(*text);
    if (!v) return fail(Error(v.error().code(), "read " + fs.proc_pid(pid, file) + ": malformed \"" + *text + "\""));
    return *v;
}

// "set oom_score_adj of pid 42 (postgres) to -500"; `whom` is "pid 42 (postgres)" or the like.
std::string what(const std::string& whom, int adj) {
    return "set oom_score_adj of " + whom + " to " + std::to_string(adj);
}

std::string whom(const proc::ProcessRef& ref) {
    std::string w = "pid " + std::to_string(ref.pid);
    if (!ref.comm.empty()) w += " (" + ref.comm + ")";
    return w;
}

Result<void> check_range(int adj) {
    if (adj < adj_min || adj > adj_max)
        return fail(Error(make_error_code(Errc::out_of_range),
                          "use oom_score_adj " + std::to_string(adj) + ": expected -1000 to 1000"));
    return {};
}

// Writes `adj` to oom_score_adj opened relative to `dir` (a /proc/PID directory). `alive` says
// whether the process that directory names is still the pinned one.
template <class Alive>
Result<void> write_adj(int dir, const std::string& who, int adj, Alive alive) {
    int fd = retry_eintr([&] { return ::openat(dir, "oom_score_adj", O_WRONLY | O_CLOEXEC); });
    if (fd < 0) {
        int err = errno;
        if (err == ENOENT || err == ESRCH) return fail(Error::from_errno(ESRCH, what(who, adj) + ": the process exited"));
        if (err == EACCES || err == EPERM)
            return fail(Error::from_errno(err, what(who, adj) +
                                                   ": permission denied (the process belongs to another user; run "
                                                   "as that user or as root)"));
        return fail(Error::from_errno(err, what(who, adj)));
    }
    unique_fd file(fd);
    if (!alive()) return fail(Error::from_errno(ESRCH, what(who, adj) + ": the process exited"));
    char buf[16];
    const std::size_t len = static_cast<std::size_t>(std::to_chars(buf, buf + sizeof buf, adj).ptr - buf);
    ssize_t n = retry_eintr([&] { return ::write(file.get(), buf, len); });
    if (n < 0) {
        int err = errno;
        if (err == ESRCH) return fail(Error::from_errno(ESRCH, what(who, adj) + ": the process exited"));
        if ((err == EACCES || err == EPERM) && !has_cap_sys_resource())
            return fail(Error::from_errno(err, what(who, adj) + ": " + cap_sys_resource_hint()));
        return fail(Error::from_errno(err, what(who, adj)));
    }
    return {};
}

}  // namespace

Result<int> parse_adj(std::string_view text) {
    auto v = parse_int(text);
    if (!v) {
        // A number too large for an int is out of range too, not malformed.
        std::string_view t = text;
        if (!t.empty() && (t.front() == '-' || t.front() == '+')) t.remove_prefix(1);
        bool digits = !t.empty() && std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; });
        if (digits)
            return fail(Error(make_error_code(Errc::out_of_range),
                              "use oom_score_adj \"" + std::string(text) + "\": expected -1000 to 1000"));
        return fail(Error(make_error_code(Errc::parse_error),
                          "parse oom_score_adj \"" + std::string(text) + "\": expected a number from -1000 to 1000"));
    }
    if (*v < adj_min || *v > adj_max)
        return fail(Error(make_error_code(Errc::out_of_range),
                          "use oom_score_adj \"" + std::string(text) + "\": expected -1000 to 1000"));
    return *v;
}

Result<int> read_oom_score(pid_t pid, const FsRoot& fs) { return read_number(pid, "oom_score", fs); }
Result<int> read_oom_score_adj(pid_t pid, const FsRoot& fs) { return read_number(pid, "oom_score_adj", fs); }

Result<void> set_oom_score_adj(const proc::ProcessRef& ref, int adj, const FsRoot& fs) {
    if (auto r = check_range(adj); !r) return r;
    // A process that exited is ESRCH; any other failure (no descriptor left) is that error.
    auto exited_or = [&](const Error& e) {
        int err = e.errno_value();
        if (err == ESRCH || err == ENOENT) return Error::from_errno(ESRCH, what(whom(ref), adj) + ": the process exited");
        return Error(e.code(), what(whom(ref), adj));
    };
    auto pinned = proc::PinnedProcess::pin(ref, fs);
    if (!pinned) return fail(exited_or(pinned.error()));
    // The directory is opened after the pin; if the pinned process is still alive after that, the
    // directory is its own (a PID is reused only once its process has been reaped).
    auto dir = open_fd(fs.proc_pid(ref.pid, ""), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (!dir) return fail(exited_or(dir.error()));
    if (!pinned->alive()) return fail(Error::from_errno(ESRCH, what(whom(ref), adj) + ": the process exited"));
    return write_adj(dir->get(), whom(ref), adj, [&] { return pinned->alive(); });
}

Result<void> set_own_oom_score_adj(int adj, const FsRoot& fs) {
    if (auto r = check_range(adj); !r) return r;
    auto dir = open_fd(fs.proc("self"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (!dir) return fail(dir.error());
    return write_adj(dir->get(), "the calling process", adj, [] { return true; });
}

bool has_cap_sys_resource() {
    cap_t caps = cap_get_proc();
    if (!caps) return false;
    cap_flag_value_t v = CAP_CLEAR;
    bool has = cap_get_flag(caps, CAP_SYS_RESOURCE, CAP_EFFECTIVE, &v) == 0 && v == CAP_SET;
    cap_free(caps);
    return has;
}

std::string cap_sys_resource_hint() {
    return "lowering it below the process's minimum needs CAP_SYS_RESOURCE (run as root, give the program "
           "the capability with 'setcap cap_sys_resource+ep PROGRAM', or set OOMScoreAdjust= in the "
           "service's systemd unit)";
}

namespace {

Result<std::vector<proc::ProcessRef>> family(const std::vector<pid_t>& roots, const FsRoot& fs, bool all_generations) {
    auto pids = proc::list_pids(fs);
    if (!pids) return fail(pids.error());
    proc::ProcReader r(fs);
    std::unordered_multimap<pid_t, proc::ProcessRef> by_parent;
    by_parent.reserve(pids->size());
    for (pid_t p : *pids) {
        auto st = r.stat(p);
        if (!st || st->ppid == 0) continue;
        proc::ProcessRef ref;
        ref.pid = p;
        ref.start_time = st->start_time;
        ref.comm = std::move(st->comm);
        ref.threads = st->num_threads;
        ref.kernel_thread = st->kernel_thread();
        by_parent.emplace(st->ppid, std::move(ref));
    }
    std::vector<proc::ProcessRef> out;
    std::vector<pid_t> level(roots);
    std::unordered_set<pid_t> seen;
    while (!level.empty()) {
        std::vector<pid_t> next;
        std::size_t first = out.size();
        for (pid_t parent : level) {
            auto [b, e] = by_parent.equal_range(parent);
            for (auto it = b; it != e; ++it)
                if (seen.insert(it->second.pid).second) out.push_back(it->second);
        }
        std::sort(out.begin() + static_cast<std::ptrdiff_t>(first), out.end(),
                  [](const proc::ProcessRef& a, const proc::ProcessRef& b) { return a.pid < b.pid; });
        if (!all_generations) break;
        for (std::size_t i = first; i < out.size(); ++i) next.push_back(out[i].pid);
        level = std::move(next);
    }
    return out;
}

}  // namespace

Result<std::vector<proc::ProcessRef>> descendants_of(pid_t pid, const FsRoot& fs) { return family({pid}, fs, true); }
Result<std::vector<proc::ProcessRef>> descendants_of(const std::vector<pid_t>& roots, const FsRoot& fs) {
    return family(roots, fs, true);
}
Result<std::vector<proc::ProcessRef>> children_of(pid_t pid, const FsRoot& fs) { return family({pid}, fs, false); }

}  // namespace prockit::oom
