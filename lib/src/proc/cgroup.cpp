#include <prockit/proc/cgroup.hpp>

#include <prockit/sys/syscall.hpp>

#include <algorithm>
#include <cstdlib>

namespace prockit::proc {

namespace {

std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> out;
    std::size_t start = 0;
    for (std::size_t i = 0; i <= s.size(); ++i) {
        if (i == s.size() || s[i] == sep) {
            out.push_back(s.substr(start, i - start));
            start = i + 1;
        }
    }
    return out;
}

// mountinfo escapes blanks and backslashes as \ooo.
std::string unescape(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        auto oct = [](char c) { return c >= '0' && c <= '7'; };
        if (s[i] == '\\' && i + 3 < s.size() && oct(s[i + 1]) && oct(s[i + 2]) && oct(s[i + 3])) {
            out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
            i += 3;
            continue;
        }
        out += s[i];
    }
    return out;
}

bool contains(const std::vector<std::string>& v, std::string_view x) {
    return std::find(v.begin(), v.end(), x) != v.end();
}

}  // namespace

bool CgroupEntry::has(std::string_view controller) const { return contains(controllers, controller); }
bool CgroupMount::has(std::string_view controller) const { return contains(controllers, controller); }

std::vector<CgroupEntry> parse_cgroups(std::string_view text) {
    std::vector<CgroupEntry> out;
    for (std::string_view line : split(text, '\n')) {
        if (line.empty()) continue;
        std::size_t a = line.find(':');
        if (a == std::string_view::npos) continue;
        std::size_t b = line.find(':', a + 1);
        if (b == std::string_view::npos) continue;
        CgroupEntry e;
        e.hierarchy = std::atoi(std::string(line.substr(0, a)).c_str());
        std::string_view ctl = line.substr(a + 1, b - a - 1);
        if (!ctl.empty())
            for (std::string_view c : split(ctl, ',')) e.controllers.emplace_back(c);
        e.path = std::string(line.substr(b + 1));
        out.push_back(std::move(e));
    }
    return out;
}

Result<std::vector<CgroupEntry>> read_cgroups(pid_t pid, const FsRoot& fs) {
    auto text = pid == 0 ? fs.read_proc("self/cgroup") : read_file(fs.proc_pid(pid, "cgroup"));
    if (!text) return fail(text.error());
    return parse_cgroups(*text);
}

std::vector<CgroupMount> parse_cgroup_mounts(std::string_view text) {
    std::vector<CgroupMount> out;
    for (std::string_view line : split(text, '\n')) {
        if (line.empty()) continue;
        std::vector<std::string_view> f = split(line, ' ');
        // id parent maj:min root mountpoint options [optional...] - fstype source superopts
        auto dash = std::find(f.begin(), f.end(), std::string_view("-"));
        if (f.size() < 6 || dash == f.end() || f.end() - dash < 4) continue;
        std::string_view fstype = dash[1];
        if (fstype != "cgroup" && fstype != "cgroup2") continue;
        CgroupMount m;
        m.version = fstype == "cgroup2" ? 2 : 1;
        m.root = unescape(f[3]);
        m.mountpoint = unescape(f[4]);
        if (m.version == 1)
            for (std::string_view o : split(dash[3], ','))
                if (o != "rw" && o != "ro" && !o.empty()) m.controllers.emplace_back(o);
        out.push_back(std::move(m));
    }
    return out;
}

Result<std::vector<CgroupMount>> read_cgroup_mounts(const FsRoot& fs) {
    auto text = fs.read_proc("self/mountinfo");
    if (!text) return fail(text.error());
    return parse_cgroup_mounts(*text);
}

std::string cgroup_dir(const CgroupMount& mount, const std::string& path, const FsRoot& fs) {
    // The part of `path` below the mount's root ("" for the root itself).
    std::string_view rel;
    std::string_view p(path);
    std::string_view root(mount.root);
    if (root == "/") {
        rel = p == "/" ? std::string_view() : p;
    } else if (p == root) {
        rel = std::string_view();
    } else if (p.size() > root.size() && p.substr(0, root.size()) == root && p[root.size()] == '/') {
        rel = p.substr(root.size());
    } else {
        return {};
    }
    std::string dir = fs.root();
    dir += mount.mountpoint;
    dir += rel;
    return dir;
}

}  // namespace prockit::proc
