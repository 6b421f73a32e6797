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
#include <optional>
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

// Fields 23 (vsize, bytes) and 24 (rss, pages) of a stat line, and the name (field 2).
struct StatMemory {
    std::string_view name;
    unsigned long long vsize = 0;
    unsigned long long rss_pages = 0;
};

std::optional<StatMemory> parse_stat_memory(std::string_view line) {
    std::size_t open = line.find('(');
    std::size_t close = line.rfind(')');
    if (open == std::string_view::npos || close == std::string_view::npos || close < open) return std::nullopt;
    StatMemory m;
    m.name = line.substr(open + 1, close - open - 1);
    // After ") " comes field 3; fields 23 and 24 are the 21st and 22nd after it.
    std::size_t i = close + 1;
    auto next_field = [&]() -> std::string_view {
        while (i < line.size() && line[i] == ' ') ++i;
        std::size_t start = i;
        while (i < line.size() && line[i] != ' ' && line[i] != '\n') ++i;
        return line.substr(start, i - start);
    };
    auto number = [](std::string_view f, unsigned long long& v) {
        if (f.empty()) return false;
        v = 0;
        for (char c : f) {
            if (c < '0' || c > '9') return false;
            v = v * 10 + static_cast<unsigned long long>(c - '0');
        }
        return true;
    };
    for (int field = 3; field < 23; ++field)
        if (next_field().empty()) return std::nullopt;
    if (!number(next_field(), m.vsize) || !number(next_field(), m.rss_pages)) return std::nullopt;
    return m;
}

long long page_kib() {
    static const long long kib = ::sysconf(_SC_PAGESIZE) / 1024;
    return kib;
}

// Whether the machine has no swap space at all (SwapTotal 0 in meminfo): then every process's
// VmSwap is 0 and stat, cheaper than status, gives the rest. False when it cannot be told.
bool no_swap(const FsRoot& fs) {
    auto text = read_file(fs.root() + "/proc/meminfo");
    if (!text) return false;
    std::size_t at = text->find("\nSwapTotal:");
    if (at == std::string::npos) return false;
    std::size_t i = at + 11;
    while (i < text->size() && ((*text)[i] == ' ' || (*text)[i] == '\t')) ++i;
    return text->compare(i, 5, "0 kB\n") == 0;
}

// The rest of a process's facts: scores, sizes and command line (and the name when
// `name_from_file`). False when it vanished meanwhile, or when `user_only` and it has no memory of
// its own (a kernel thread or a zombie). `from_stat`: name and RSS from stat, swap 0 (no swap).
bool fill(proc::ProcReader& r, Facts& f, bool name_from_file, bool user_only, bool from_stat = false) {
    if (from_stat) {
        auto text = r.read(f.pid, "stat");
        if (!text) return false;
        auto m = parse_stat_memory(*text);
        if (!m) return false;
        if (m->vsize == 0) {  // no memory map: a kernel thread or a zombie (status has no VmRSS)
            if (user_only) return false;
        } else {
            f.rss_kib = static_cast<long long>(m->rss_pages) * page_kib();
            f.swap_kib = 0;
        }
        if (name_from_file) f.name = std::string(m->name);
    } else if (auto status = r.read(f.pid, "status")) {
        f.rss_kib = status_kib(*status, "VmRSS");
        f.swap_kib = status_kib(*status, "VmSwap");
        if (name_from_file) {
            std::string_view st = *status;
            if (st.substr(0, 6) == "Name:\t") f.name = std::string(st.substr(6, st.find('\n') - 6));
        }
        if (user_only && f.rss_kib < 0) return false;
    } else {
        return false;
    }
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

// RSS in KiB of a process with a memory map of its own; -1 without one (a kernel thread, a
// zombie) or when it is gone. statm where there is one (a cheap file), else status.
long long mm_rss_kib(proc::ProcReader& r, pid_t pid, bool have_statm) {
    if (!have_statm) {
        auto status = r.read(pid, "status");
        return status ? status_kib(*status, "VmRSS") : -1;
    }
    auto text = r.read(pid, "statm");
    if (!text) return -1;
    std::string_view t = *text;
    unsigned long long size = 0, resident = 0;
    std::size_t i = 0;
    for (; i < t.size() && t[i] >= '0' && t[i] <= '9'; ++i) size = size * 10 + static_cast<unsigned long long>(t[i] - '0');
    for (++i; i < t.size() && t[i] >= '0' && t[i] <= '9'; ++i)
        resident = resident * 10 + static_cast<unsigned long long>(t[i] - '0');
    if (size == 0) return -1;
    return static_cast<long long>(resident) * page_kib();
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
    bool from_stat = no_swap(fs);
    std::vector<Facts> out;
    out.reserve(pids->size());
    for (pid_t p : *pids) {
        Facts f;
        f.pid = p;
        if (fill(r, f, true, true, from_stat)) out.push_back(std::move(f));
    }
    return out;
}

bool ranks_before(const Facts& a, const Facts& b) {
    if (a.oom_score != b.oom_score) return a.oom_score > b.oom_score;
    if (a.rss_kib != b.rss_kib) return a.rss_kib > b.rss_kib;
    return a.pid < b.pid;
}

std::vector<Facts> scan_ranked(const FsRoot& fs, std::size_t count, std::size_t& total) {
    auto pids = proc::list_pids(fs);
    if (!pids) throw SystemError(pids.error());
    proc::ProcReader r(fs);
    const bool have_statm = ::access((fs.root() + "/proc/self/statm").c_str(), R_OK) == 0;
    const bool from_stat = no_swap(fs);
    // Every process's oom_score. A positive score means a memory map of its own (the kernel
    // scores only those); 0 is also a kernel thread's or a zombie's, which its RSS tells apart.
    struct Candidate {
        pid_t pid;
        int score;
        long long rss_kib;  // -2: not read yet
    };
    std::vector<Candidate> all;
    all.reserve(pids->size());
    for (pid_t p : *pids) {
        auto score = read_int(r, p, "oom_score");
        if (!score) continue;
        Candidate c{p, *score, -2};
        if (c.score <= 0) {
            c.rss_kib = mm_rss_kib(r, p, have_statm);
            if (c.rss_kib < 0) continue;
        }
        all.push_back(c);
    }
    total = all.size();
    std::vector<Facts> out;
    auto take = [&](const Candidate& c) {
        Facts f;
        f.pid = c.pid;
        if (fill(r, f, true, true, from_stat)) out.push_back(std::move(f));
    };
    if (count == 0 || count >= all.size()) {
        out.reserve(all.size());
        for (const Candidate& c : all) take(c);
    } else {
        // By score, then PID; groups of one score are read whole while they fit, and the group
        // the cut falls in is ordered by RSS first. A process that vanishes gives its place to the next.
        std::sort(all.begin(), all.end(), [](const Candidate& a, const Candidate& b) {
            return a.score != b.score ? a.score > b.score : a.pid < b.pid;
        });
        out.reserve(count);
        std::size_t i = 0;
        while (i < all.size() && out.size() < count) {
            std::size_t end = i;
            while (end < all.size() && all[end].score == all[i].score) ++end;
            if (end - i > count - out.size()) {
                for (std::size_t k = i; k < end; ++k)
                    if (all[k].rss_kib == -2) all[k].rss_kib = mm_rss_kib(r, all[k].pid, have_statm);
                std::sort(all.begin() + static_cast<std::ptrdiff_t>(i), all.begin() + static_cast<std::ptrdiff_t>(end),
                          [](const Candidate& a, const Candidate& b) {
                              return a.rss_kib != b.rss_kib ? a.rss_kib > b.rss_kib : a.pid < b.pid;
                          });
            }
            for (std::size_t k = i; k < end && out.size() < count; ++k) take(all[k]);
            i = end;
        }
    }
    std::sort(out.begin(), out.end(), ranks_before);
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
