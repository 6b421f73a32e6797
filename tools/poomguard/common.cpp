// What poomguard's subcommands share (common.hpp).
// g++ 12 sees a null dereference in CLI11's name splitting (CLI::detail::split) inlined here that
// is not there (tools/common/cli.hpp says the same of add_version_flag).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wnull-dereference"
#endif
#include "common.hpp"

#include "common/cli.hpp"
#include "common/selection.hpp"

#include <prockit/oom/score.hpp>
#include <prockit/proc/cgroup.hpp>
#include <prockit/sys/syscall.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

namespace prockit::poomguard {

using tools::bad_value;
using tools::non_empty;
using tools::number;

using tools::UsageError;

namespace {

constexpr unsigned long max_pid = 0x3fffffff;  // a PID fits in 30 bits

Error failure(Errc code, std::string context) { return Error(make_error_code(code), std::move(context)); }

}  // namespace

// --- command line --------------------------------------------------------------------------------

int parse_adj_arg(const std::string& text, const std::string& what) {
    auto v = oom::parse_adj(text);
    if (!v) bad_value(what, text, "expected a number from -1000 to 1000");
    return *v;
}

void add_selection(CLI::App& sub, SelectionOptions& o, bool positional) {
    auto* sel = "Selection (criteria AND together; repeat one to OR its values)";
    if (positional)
        sub.add_option("pid", o.positional, "Process IDs (like --pid)")->type_name("PID")->check(number("PID", 1, max_pid));
    sub.add_option("-p,--pid", o.pids, "Select the process with this PID")
        ->group(sel)
        ->type_name("PID")
        ->check(number("--pid", 1, max_pid));
    sub.add_option("-n,--name", o.names, "Select processes whose name (comm) is NAME")
        ->group(sel)
        ->type_name("NAME")
        ->check(non_empty("--name", "name"));
    sub.add_option("-m,--match", o.patterns, "Select processes whose command line matches REGEX (POSIX ERE)")
        ->group(sel)
        ->type_name("REGEX")
        ->check(non_empty("--match", "pattern (it would match every process)"));
    sub.add_option("-e,--exe", o.exes, "Select processes running the executable PATH")
        ->group(sel)
        ->type_name("PATH")
        ->check(non_empty("--exe", "path"));
    sub.add_option("-u,--user", o.users, "Select processes of USER (name or UID)")
        ->group(sel)
        ->type_name("USER")
        ->check(non_empty("--user", "user"));
    sub.add_option("--cgroup", o.cgroups, "Select processes in cgroup PATH or below it")
        ->group(sel)
        ->type_name("PATH")
        ->check(non_empty("--cgroup", "path"));
    sub.add_option("--pidfile", o.pidfiles, "Select the process whose PID FILE holds")
        ->group(sel)
        ->type_name("FILE")
        ->check(non_empty("--pidfile", "path"));
    sub.add_option("--unit", o.units, "Select the processes of systemd unit NAME (NAME.service unless a suffix is given)")
        ->group(sel)
        ->type_name("NAME")
        ->check(non_empty("--unit", "unit name"));
    sub.add_flag("--allow-none", o.allow_none, "A selection that matches nothing is not an error")->group(sel);
}

// --- selection -----------------------------------------------------------------------------------

namespace {

bool is_dir_entry(const dirent* e, const std::string& parent) {
    if (e->d_type == DT_DIR) return true;
    if (e->d_type != DT_UNKNOWN) return false;
    auto fd = open_fd(parent + "/" + e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return static_cast<bool>(fd);
}

bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Depth-first through the slices (and user managers) below `dir`, whose cgroup path is `path`.
bool find_unit(const std::string& dir, const std::string& path, const std::string& unit, int depth, std::string& found) {
    if (depth > 8) return false;
    DIR* d = ::opendir(dir.c_str());
    if (!d) return false;
    std::vector<std::string> descend;
    while (const dirent* e = ::readdir(d)) {
        std::string_view name(e->d_name);
        if (name == "." || name == ".." || !is_dir_entry(e, dir)) continue;
        if (name == unit) {
            found = (path == "/" ? "" : path) + "/" + std::string(name);
            ::closedir(d);
            return true;
        }
        if (ends_with(name, ".slice") || (name.substr(0, 5) == "user@" && ends_with(name, ".service")))
            descend.emplace_back(name);
    }
    ::closedir(d);
    std::sort(descend.begin(), descend.end());
    for (const std::string& sub : descend)
        if (find_unit(dir + "/" + sub, (path == "/" ? "" : path) + "/" + sub, unit, depth + 1, found)) return true;
    return false;
}

}  // namespace

Result<std::string> unit_cgroup(const std::string& unit_arg, const FsRoot& fs) {
    std::string unit = unit_arg;
    if (unit.find('/') != std::string::npos)
        return fail(failure(Errc::parse_error, "use unit \"" + unit_arg + "\": a unit name has no '/'"));
    if (unit.find('.') == std::string::npos) unit += ".service";
    auto mounts = proc::read_cgroup_mounts(fs);
    if (mounts) {
        // The v2 hierarchy first, then systemd's named v1 hierarchy, then the rest.
        std::stable_sort(mounts->begin(), mounts->end(), [](const proc::CgroupMount& a, const proc::CgroupMount& b) {
            auto rank = [](const proc::CgroupMount& m) { return m.version == 2 ? 0 : m.has("name=systemd") ? 1 : 2; };
            return rank(a) < rank(b);
        });
        for (const proc::CgroupMount& m : *mounts) {
            std::string found;
            if (find_unit(fs.root() + m.mountpoint, m.root, unit, 0, found)) return found;
        }
    }
    return fail(failure(Errc::not_found, "find unit \"" + unit + "\": no cgroup of that name in any cgroup hierarchy"));
}

Result<pid_t> read_pidfile(const std::string& path) {
    // Only the first line counts: at most 4 KiB is read, so that /dev/zero, a huge file or a FIFO
    // (opened non-blocking) ends in a clear error, not in a hang or growing memory.
    auto fd = open_fd(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (!fd) return fail(Error(fd.error().code(), "read pidfile " + path));
    char buf[4096];
    std::size_t got = 0;
    while (got < sizeof buf) {
        ssize_t n = ::read(fd->get(), buf + got, sizeof buf - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail(Error::from_errno(errno, "read pidfile " + path));
        if (n == 0) break;
        got += static_cast<std::size_t>(n);
        if (std::memchr(buf, '\n', got)) break;
    }
    std::string_view t(buf, got);
    t = t.substr(0, t.find('\n'));
    while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
    while (!t.empty() && (t.back() == ' ' || t.back() == '\t' || t.back() == '\r')) t.remove_suffix(1);
    auto v = tools::parse_unsigned(t);
    if (!v || *v == 0 || *v > max_pid)
        return fail(failure(Errc::parse_error, "parse pidfile \"" + path + "\": expected a PID on its first line"));
    return static_cast<pid_t>(*v);
}

std::vector<proc::ProcessRef> select(const SelectionOptions& o, const FsRoot& fs, bool& failed) {
    proc::Selector s;
    for (const std::string& p : o.positional) {
        auto v = tools::parse_unsigned(p);
        if (!v || *v == 0 || *v > max_pid) throw UsageError("cannot parse PID \"" + p + "\": expected a number from 1");
        s.pids.push_back(static_cast<pid_t>(*v));
    }
    for (pid_t p : o.pids) s.pids.push_back(p);
    for (const std::string& f : o.pidfiles) {
        auto pid = read_pidfile(f);
        if (!pid) throw SystemError(pid.error());
        s.pids.push_back(*pid);
    }
    s.names = o.names;
    s.patterns = o.patterns;
    s.exes = o.exes;
    s.cgroups = o.cgroups;
    for (const std::string& u : o.units) {
        auto cg = unit_cgroup(u, fs);
        if (!cg) throw SystemError(cg.error());
        s.cgroups.push_back(*cg);
    }
    for (const std::string& u : o.users) {
        auto uid = proc::resolve_user(u);
        if (!uid) throw UsageError("cannot use --user \"" + u + "\": " + tools::error_reason(uid.error()));
        s.users.push_back(*uid);
    }
    return tools::select_processes(s, o.allow_none, fs, failed);
}

// --- per-process facts ---------------------------------------------------------------------------

namespace {

long long status_kib(std::string_view status, std::string_view key) {
    std::size_t at = 0;
    while (at < status.size()) {
        std::size_t nl = status.find('\n', at);
        std::string_view line = status.substr(at, nl == std::string_view::npos ? std::string_view::npos : nl - at);
        if (line.size() > key.size() && line.substr(0, key.size()) == key && line[key.size()] == ':') {
            long long v = 0;
            for (char c : line.substr(key.size() + 1))
                if (c >= '0' && c <= '9') v = v * 10 + (c - '0');
                else if (c == 'k') break;
            return v;
        }
        if (nl == std::string_view::npos) break;
        at = nl + 1;
    }
    return -1;
}

Result<int> read_int(proc::ProcReader& r, pid_t pid, const char* file) {
    auto text = r.read(pid, file);
    if (!text) return fail(text.error());
    std::string_view t = *text;
    bool neg = !t.empty() && t.front() == '-';
    if (neg) t.remove_prefix(1);
    int v = 0;
    for (char c : t) {
        if (c < '0' || c > '9') break;
        v = v * 10 + (c - '0');
    }
    return neg ? -v : v;
}

}  // namespace

namespace {

// The rest of a process's facts: scores, sizes and command line (and the name from status when
// `name_from_status`). False when it vanished meanwhile, or when `user_only` and it has no memory
// of its own (a kernel thread or a zombie: no VmRSS line).
bool fill(proc::ProcReader& r, Facts& f, bool name_from_status, bool user_only) {
    if (auto status = r.read(f.pid, "status")) {
        f.rss_kib = status_kib(*status, "VmRSS");
        f.swap_kib = status_kib(*status, "VmSwap");
        if (name_from_status) {
            std::string_view st = *status;
            if (st.substr(0, 6) == "Name:\t") f.name = std::string(st.substr(6, st.find('\n') - 6));
        }
    } else {
        return false;
    }
    if (user_only && f.rss_kib < 0) return false;
    auto score = read_int(r, f.pid, "oom_score");
    if (!score) return false;
    f.oom_score = *score;
    auto adj = read_int(r, f.pid, "oom_score_adj");
    if (!adj) return false;
    f.oom_score_adj = *adj;
    auto cmd = r.cmdline(f.pid);
    if (cmd && !cmd->empty()) f.command.assign(cmd->data(), cmd->size());
    if (f.command.empty()) f.command = "[" + f.name + "]";
    return true;
}

}  // namespace

Result<Facts> read_facts(proc::ProcReader& r, const proc::ProcessRef& ref) {
    Facts f;
    f.pid = ref.pid;
    f.name = ref.comm;
    if (!fill(r, f, false, false)) return fail(Error::from_errno(ESRCH, "read pid " + std::to_string(ref.pid)));
    return f;
}

std::vector<Facts> scan_all(const FsRoot& fs) {
    auto pids = proc::list_pids(fs);
    if (!pids) throw SystemError(pids.error());
    proc::ProcReader r(fs);
    std::vector<Facts> out;
    out.reserve(pids->size());
    for (pid_t p : *pids) {
        Facts f;
        f.pid = p;
        if (fill(r, f, true, true)) out.push_back(std::move(f));
    }
    return out;
}

std::string human_kib(long long kib) {
    if (kib < 0) return "-";
    char buf[32];
    if (kib < 10 * 1024) std::snprintf(buf, sizeof buf, "%lldK", kib);
    else if (kib < 10LL * 1024 * 1024) std::snprintf(buf, sizeof buf, "%lldM", kib / 1024);
    else std::snprintf(buf, sizeof buf, "%.1fG", static_cast<double>(kib) / (1024.0 * 1024.0));
    return buf;
}

// --- output --------------------------------------------------------------------------------------

void out(const std::string& s) { std::fwrite(s.data(), 1, s.size(), stdout); }
void out_line(const std::string& s) {
    out(s);
    std::fputc('\n', stdout);
}

std::string describe(const Error& e) {
    if (e.errno_value() != 0 && e.context().find(": ") != std::string::npos) return "cannot " + e.context();
    return tools::error_text(e);
}

std::string who(pid_t pid, const std::string& comm) { return "pid " + std::to_string(pid) + " (" + comm + ")"; }

}  // namespace prockit::poomguard
