#include <prockit/oom/pressure.hpp>

#include <prockit/sys/syscall.hpp>

#include <charconv>
#include <cstdlib>
#include <sys/stat.h>

namespace prockit::oom {

namespace {

Error malformed(std::string what) { return Error(make_error_code(Errc::parse_error), std::move(what)); }

bool parse_u64(std::string_view t, std::uint64_t& out) {
    auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), out);
    return !t.empty() && ec == std::errc() && end == t.data() + t.size();
}

bool parse_double(std::string_view t, double& out) {
    // from_chars for double is in libstdc++ 11+, but not in clang 14's libc++; strtod needs a NUL.
    if (t.empty() || t.size() > 31) return false;
    char buf[32];
    t.copy(buf, t.size());
    buf[t.size()] = '\0';
    char* end = nullptr;
    out = std::strtod(buf, &end);
    return end == buf + t.size();
}

// Calls fn(line) for each non-empty line.
template <class Fn>
bool each_line(std::string_view text, Fn fn) {
    while (!text.empty()) {
        std::size_t nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
        if (!line.empty() && !fn(line)) return false;
    }
    return true;
}

std::string cgroup_v2_dir(std::string_view cgroup, const FsRoot& fs) {
    std::string rel(cgroup);
    while (!rel.empty() && rel.front() == '/') rel.erase(0, 1);
    // A hybrid system mounts the v2 hierarchy at /sys/fs/cgroup/unified.
    for (const char* base : {"fs/cgroup/unified", "fs/cgroup"}) {
        std::string dir = fs.sys(base);
        struct stat st {};
        if (::stat((dir + "/cgroup.controllers").c_str(), &st) == 0) return rel.empty() ? dir : dir + "/" + rel;
    }
    std::string dir = fs.sys("fs/cgroup");
    return rel.empty() ? dir : dir + "/" + rel;
}

Result<std::string> read_text(const std::string& path) {
    auto text = read_file(path);
    if (!text) return fail(Error(text.error().code(), "read " + path));
    return text;
}

}  // namespace

Result<Pressure> parse_pressure(std::string_view text) {
    Pressure p;
    bool some = false;
    bool ok = each_line(text, [&](std::string_view line) {
        std::size_t sp = line.find(' ');
        std::string_view kind = line.substr(0, sp);
        PressureLine* target = kind == "some" ? &p.some : kind == "full" ? &p.full : nullptr;
        if (!target || sp == std::string_view::npos) return false;
        (kind == "some" ? some : p.has_full) = true;
        std::string_view rest = line.substr(sp + 1);
        while (!rest.empty()) {
            std::size_t end = rest.find(' ');
            std::string_view field = rest.substr(0, end);
            rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
            if (field.empty()) continue;
            std::size_t eq = field.find('=');
            if (eq == std::string_view::npos) return false;
            std::string_view key = field.substr(0, eq), val = field.substr(eq + 1);
            bool good = true;
            if (key == "avg10") good = parse_double(val, target->avg10);
            else if (key == "avg60") good = parse_double(val, target->avg60);
            else if (key == "avg300") good = parse_double(val, target->avg300);
            else if (key == "total") good = parse_u64(val, target->total_us);
            if (!good) return false;
        }
        return true;
    });
    if (!ok || !some) return fail(malformed("parse pressure \"" + std::string(text.substr(0, 80)) + "\": expected 'some avg10=... total=...' lines"));
    return p;
}

Result<Pressure> read_memory_pressure(const FsRoot& fs) {
    auto text = read_text(fs.proc("pressure/memory"));
    if (!text) return fail(text.error());
    return parse_pressure(*text);
}

Result<Pressure> read_cgroup_memory_pressure(std::string_view cgroup, const FsRoot& fs) {
    auto text = read_text(cgroup_v2_dir(cgroup, fs) + "/memory.pressure");
    if (!text) return fail(text.error());
    return parse_pressure(*text);
}

Result<std::uint64_t> read_oom_kill_count(const FsRoot& fs) {
    auto text = read_text(fs.proc("vmstat"));
    if (!text) return fail(text.error());
    std::uint64_t count = 0;
    bool found = false, bad = false;
    each_line(*text, [&](std::string_view line) {
        if (line.substr(0, 9) != "oom_kill ") return true;
        found = true;
        bad = !parse_u64(line.substr(9), count);
        return false;
    });
    if (bad) return fail(malformed("parse " + fs.proc("vmstat") + ": malformed oom_kill line"));
    if (!found) return fail(Error(make_error_code(Errc::not_found), "find oom_kill in " + fs.proc("vmstat")));
    return count;
}

Result<MemoryEvents> parse_memory_events(std::string_view text) {
    MemoryEvents e;
    bool ok = each_line(text, [&](std::string_view line) {
        std::size_t sp = line.find(' ');
        if (sp == std::string_view::npos) return false;
        std::string_view key = line.substr(0, sp);
        std::uint64_t v = 0;
        if (!parse_u64(line.substr(sp + 1), v)) return false;
        if (key == "low") e.low = v;
        else if (key == "high") e.high = v;
        else if (key == "max") e.max = v;
        else if (key == "oom") e.oom = v;
        else if (key == "oom_kill") e.oom_kill = v;
        else if (key == "oom_group_kill") e.oom_group_kill = v;
        return true;
    });
    if (!ok) return fail(malformed("parse memory.events \"" + std::string(text.substr(0, 80)) + "\": expected 'KEY N' lines"));
    return e;
}

Result<MemoryEvents> read_cgroup_memory_events(std::string_view cgroup, const FsRoot& fs) {
    auto text = read_text(cgroup_v2_dir(cgroup, fs) + "/memory.events");
    if (!text) return fail(text.error());
    return parse_memory_events(*text);
}

}  // namespace prockit::oom
