#include <prockit/oom/rules.hpp>

#include <prockit/proc/cgroup.hpp>
#include <prockit/proc/select.hpp>

#include <algorithm>
#include <cerrno>
#include <cctype>
#include <charconv>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <fstream>
#include <map>
#include <regex.h>
#include <sstream>
#include <unistd.h>
#include <unordered_map>

namespace prockit::oom {

std::string Diagnostic::text() const {
    if (line == 0) return file + ": " + message;
    return file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + message;
}

std::optional<int> Assignment::target() const {
    const Rule& r = set->rules()[rule];
    if (role == Role::leader) return r.leader;
    if (r.children.inherit) return std::nullopt;
    return r.children.value;
}

namespace {

constexpr std::size_t kMaxFileSize = 1 << 20;  // a rules file is small; /dev/zero is not

class Regex {
public:
    Regex() = default;
    Regex(const Regex&) = delete;
    Regex& operator=(const Regex&) = delete;
    ~Regex() {
        if (ok_) ::regfree(&re_);
    }
    // "" when it compiles, else the regex library's reason.
    std::string compile(const std::string& pattern) {
        int rc = ::regcomp(&re_, pattern.c_str(), REG_EXTENDED | REG_NOSUB);
        if (rc != 0) {
            char why[256];
            ::regerror(rc, &re_, why, sizeof why);
            return why;
        }
        ok_ = true;
        return {};
    }
    bool search(const char* text) const { return ::regexec(&re_, text, 0, nullptr, 0) == 0; }

private:
    regex_t re_{};
    bool ok_ = false;
};

bool path_within(const std::string& path, const std::string& top) {
    if (top == "/") return true;
    return path == top ||
           (path.size() > top.size() && path.compare(0, top.size(), top) == 0 && path[top.size()] == '/');
}

bool has_component(const std::string& path, const std::string& name) {
    std::size_t pos = 0;
    while (pos < path.size()) {
        std::size_t next = path.find('/', pos);
        if (next == std::string::npos) next = path.size();
        if (path.compare(pos, next - pos, name) == 0 && next - pos == name.size()) return true;
        pos = next + 1;
    }
    return false;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    return s;
}

// An integer in -1000..1000; "" on success, else the reason.
std::string parse_value(std::string_view v, int& out) {
    long long n = 0;
    const char* b = v.data();
    const char* e = v.data() + v.size();
    if (b != e && *b == '+') ++b;
    auto [p, ec] = std::from_chars(b, e, n);
    if (ec == std::errc::result_out_of_range) return "value \"" + std::string(v) + "\" out of range (-1000 to 1000)";
    if (ec != std::errc() || p != e || b == e) return "expected a number from -1000 to 1000, not \"" + std::string(v) + "\"";
    if (n < -1000 || n > 1000) return "value " + std::string(v) + " out of range (-1000 to 1000)";
    out = static_cast<int>(n);
    return {};
}

std::optional<pid_t> read_pidfile(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) return std::nullopt;
    char buf[64];
    ssize_t n;
    do {
        n = ::read(fd, buf, sizeof buf - 1);
    } while (n < 0 && errno == EINTR);
    ::close(fd);
    if (n <= 0) return std::nullopt;
    std::string_view s(buf, static_cast<std::size_t>(n));
    std::size_t nl = s.find('\n');
    if (nl != std::string_view::npos) s = s.substr(0, nl);
    s = trim(s);
    long pid = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), pid);
    if (ec != std::errc() || p != s.data() + s.size() || pid <= 0 || pid > (1 << 22)) return std::nullopt;
    return static_cast<pid_t>(pid);
}

}  // namespace

struct RuleSet::Impl {
    struct Compiled {
        std::vector<std::unique_ptr<Regex>> cmdlines;
        std::vector<pid_t> pidfile_pids;
    };
    std::vector<Rule> rules;
    std::vector<Compiled> compiled;
    unsigned needs = 0;

    // "" when every regex compiles, else "regex \"x\": reason" for the first that does not.
    static std::string compile(const Rule& r, Compiled& c) {
        for (const std::string& pat : r.cmdlines) {
            auto re = std::make_unique<Regex>();
            std::string why = re->compile(pat);
            if (!why.empty()) return why;
            c.cmdlines.push_back(std::move(re));
        }
        return {};
    }
    void push(Rule r, Compiled c) {
        if (!r.exes.empty()) needs |= ProcessFacts::f_exe;
        if (!r.comms.empty()) needs |= ProcessFacts::f_comm;
        if (!r.cmdlines.empty()) needs |= ProcessFacts::f_cmdline;
        if (!r.users.empty()) needs |= ProcessFacts::f_uid;
        if (!r.cgroups.empty() || !r.units.empty()) needs |= ProcessFacts::f_cgroups;
        for (const std::string& f : r.pidfiles) {
            if (auto pid = read_pidfile(f)) c.pidfile_pids.push_back(*pid);
        }
        rules.push_back(std::move(r));
        compiled.push_back(std::move(c));
    }
    bool has_name(const std::string& name) const {
        return std::any_of(rules.begin(), rules.end(), [&](const Rule& r) { return r.name == name; });
    }
};

RuleSet::RuleSet() : impl_(std::make_unique<Impl>()) {}
RuleSet::RuleSet(RuleSet&&) noexcept = default;
RuleSet& RuleSet::operator=(RuleSet&&) noexcept = default;
RuleSet::~RuleSet() = default;

const std::vector<Rule>& RuleSet::rules() const { return impl_->rules; }
unsigned RuleSet::needs() const { return impl_->needs; }

Status RuleSet::add(Rule rule) {
    Impl::Compiled c;
    std::string why = Impl::compile(rule, c);
    if (!why.empty()) return fail(Error(make_error_code(Errc::parse_error), "compile regular expression (" + why + ")"));
    impl_->push(std::move(rule), std::move(c));
    return {};
}

namespace {

// One section being read.
struct Pending {
    Rule rule;
    bool bad = false;
    bool dropped = false;  // a section whose [name] line is broken: its keys are read and dropped
    bool has_match = false;
    int adj_line = 0, leader_line = 0, children_line = 0;
    int adj_col = 0;
    std::optional<int> adj;
    std::optional<int> leader;
    std::optional<ChildrenAdj> children;
};

}  // namespace

void RuleSet::parse(std::string_view text, const std::string& file, std::vector<Diagnostic>& diags) {
    std::optional<Pending> cur;
    std::vector<std::string> names_here;
    auto report = [&](int line, int col, std::string msg) {
        diags.push_back(Diagnostic{file, line, col, std::move(msg)});
        if (cur) cur->bad = true;
    };
    auto finish = [&]() {
        if (!cur) return;
        Pending& p = *cur;
        if (p.dropped) {  // already reported at its [ line; its keys have nothing to add
            cur.reset();
            return;
        }
        const int line = p.rule.line;
        if (!p.has_match) report(line, 1, "rule [" + p.rule.name + "] has no match.* criterion");
        if (p.adj && (p.leader || p.children)) {
            report(p.adj_line, p.adj_col, "rule [" + p.rule.name + "] sets adj together with leader/children (use one or the other)");
        } else if (p.adj) {
            p.rule.leader = *p.adj;
            p.rule.children = ChildrenAdj{false, *p.adj};
        } else if (p.leader) {
            p.rule.leader = *p.leader;
            p.rule.children = p.children.value_or(ChildrenAdj{});
        } else if (p.children) {
            report(p.children_line, 1, "rule [" + p.rule.name + "] sets children but no leader");
        } else {
            report(line, 1, "rule [" + p.rule.name + "] sets no value (adj, or leader and children)");
        }
        if (!p.bad) {
            Impl::Compiled c;
            std::string why = Impl::compile(p.rule, c);
            if (why.empty()) impl_->push(std::move(p.rule), std::move(c));
        }
        cur.reset();
    };

    int lineno = 0;
    std::size_t pos = 0;
    while (pos <= text.size()) {
        std::size_t nl = text.find('\n', pos);
        if (nl == std::string_view::npos) nl = text.size();
        std::string_view raw = text.substr(pos, nl - pos);
        pos = nl + 1;
        ++lineno;
        if (raw.size() > 0 && raw.back() == '\r') raw.remove_suffix(1);
        // Column of the first non-blank character.
        std::size_t first = raw.find_first_not_of(" \t");
        if (first == std::string_view::npos) {
            if (pos > text.size()) break;
            continue;
        }
        const int col0 = static_cast<int>(first) + 1;
        std::string_view line = raw.substr(first);
        if (line.front() == '#' || line.front() == ';') continue;

        if (line.front() == '[') {
            finish();
            std::size_t close = line.find(']');
            if (close == std::string_view::npos) {
                report(lineno, col0 + static_cast<int>(line.size()), "missing ']' after the rule name");
                cur.emplace();  // a bad section: its keys are read and dropped
                cur->bad = true;
                cur->dropped = true;
                continue;
            }
            std::string_view rest = trim(line.substr(close + 1));
            std::string_view name = trim(line.substr(1, close - 1));
            cur.emplace();
            cur->rule.name = std::string(name);
            cur->rule.file = file;
            cur->rule.line = lineno;
            if (!rest.empty() && rest.front() != '#' && rest.front() != ';') {
                report(lineno, col0 + static_cast<int>(line.find_first_not_of(" \t", close + 1)),
                       "unexpected text after [" + std::string(name) + "]");
            }
            bool name_ok = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
                return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == '@';
            });
            if (!name_ok) {
                report(lineno, col0 + 1,
                       name.empty() ? std::string("empty rule name")
                                    : "bad rule name \"" + std::string(name) + "\" (letters, digits, - _ . @)");
            } else if (impl_->has_name(cur->rule.name) ||
                       std::find(names_here.begin(), names_here.end(), cur->rule.name) != names_here.end()) {
                report(lineno, col0 + 1, "duplicate rule name [" + std::string(name) + "]");
            }
            names_here.push_back(cur->rule.name);
            continue;
        }

        std::size_t eq = line.find('=');
        if (eq == std::string_view::npos) {
            if (!cur) {
                diags.push_back(Diagnostic{file, lineno, col0, "expected [rule] or key = value"});
            } else {
                report(lineno, col0, "expected key = value");
            }
            continue;
        }
        std::string key(trim(line.substr(0, eq)));
        std::string_view after = line.substr(eq + 1);
        std::size_t vstart = after.find_first_not_of(" \t");
        const int vcol = col0 + static_cast<int>(eq) + 1 + (vstart == std::string_view::npos ? 0 : static_cast<int>(vstart));
        std::string value(trim(after));
        if (!cur) {
            diags.push_back(Diagnostic{file, lineno, col0, "\"" + key + "\" outside a rule (start one with [name])"});
            continue;
        }
        Pending& p = *cur;
        if (value.empty()) {
            report(lineno, vcol, "empty value for " + key);
            continue;
        }
        if (key.rfind("match.", 0) == 0) {
            std::string what = key.substr(6);
            p.has_match = true;
            if (what == "exe") {
                if (value.front() != '/') {
                    report(lineno, vcol, "match.exe must be an absolute path or glob, not \"" + value + "\"");
                    continue;
                }
                p.rule.exes.push_back(value);
            } else if (what == "comm") {
                if (value.size() > 15) value.resize(15);  // the kernel keeps 15 characters
                p.rule.comms.push_back(value);
            } else if (what == "cmdline") {
                Regex re;
                std::string why = re.compile(value);
                if (!why.empty()) {
                    report(lineno, vcol, "bad regular expression \"" + value + "\": " + why);
                    continue;
                }
                p.rule.cmdlines.push_back(value);
            } else if (what == "user") {
                auto uid = proc::resolve_user(value);
                if (!uid) {
                    report(lineno, vcol, "unknown user \"" + value + "\"");
                    continue;
                }
                p.rule.users.push_back(*uid);
            } else if (what == "cgroup") {
                if (value.front() != '/') {
                    report(lineno, vcol, "match.cgroup must start with '/', not \"" + value + "\"");
                    continue;
                }
                while (value.size() > 1 && value.back() == '/') value.pop_back();
                p.rule.cgroups.push_back(value);
            } else if (what == "unit") {
                if (value.find('/') != std::string::npos) {
                    report(lineno, vcol, "bad unit name \"" + value + "\" (no '/')");
                    continue;
                }
                if (value.find('.') == std::string::npos) value += ".service";
                p.rule.units.push_back(value);
            } else if (what == "pidfile") {
                if (value.front() != '/') {
                    report(lineno, vcol, "match.pidfile must be an absolute path, not \"" + value + "\"");
                    continue;
                }
                p.rule.pidfiles.push_back(value);
            } else {
                report(lineno, col0, "unknown criterion \"" + key +
                                         "\" (match.exe, match.comm, match.cmdline, match.user, match.cgroup, "
                                         "match.unit, match.pidfile)");
            }
            continue;
        }
        if (key == "adj" || key == "leader") {
            std::optional<int>& slot = key == "adj" ? p.adj : p.leader;
            if (slot) {
                report(lineno, col0, "duplicate key " + key);
                continue;
            }
            // Where the key is, also when its value is bad (then it still counts as given, and a
            // later "adj together with leader" names this line, not line 0).
            if (key == "adj") {
                p.adj_line = lineno;
                p.adj_col = col0;
            } else {
                p.leader_line = lineno;
            }
            int v = 0;
            std::string why = parse_value(value, v);
            if (!why.empty()) {
                report(lineno, vcol, why);
                slot = 0;  // keeps the later checks quiet
                continue;
            }
            slot = v;
            continue;
        }
        if (key == "children") {
            if (p.children) {
                report(lineno, col0, "duplicate key children");
                continue;
            }
            p.children_line = lineno;
            if (value == "inherit") {
                p.children = ChildrenAdj{true, 0};
            } else if (value == "reset") {
                p.children = ChildrenAdj{false, 0};
            } else {
                int v = 0;
                std::string why = parse_value(value, v);
                if (!why.empty()) {
                    report(lineno, vcol, why + " (or inherit, reset)");
                    p.children = ChildrenAdj{};
                    continue;
                }
                p.children = ChildrenAdj{false, v};
            }
            continue;
        }
        report(lineno, col0, "unknown key \"" + key + "\" (match.*, adj, leader, children)");
    }
    finish();
}

void RuleSet::load(const std::vector<std::string>& files, std::vector<Diagnostic>& diags) {
    for (const std::string& f : files) {
        std::ifstream in(f, std::ios::binary);
        if (!in) {
            diags.push_back(Diagnostic{f, 0, 0, std::string("cannot read: ") + std::strerror(errno)});
            continue;
        }
        std::string text;
        char buf[8192];
        bool too_big = false;
        while (in.read(buf, sizeof buf) || in.gcount() > 0) {
            text.append(buf, static_cast<std::size_t>(in.gcount()));
            if (text.size() > kMaxFileSize) {
                too_big = true;
                break;
            }
        }
        if (too_big) {
            diags.push_back(Diagnostic{f, 0, 0, "cannot read: larger than 1 MiB"});
            continue;
        }
        if (in.bad()) {
            diags.push_back(Diagnostic{f, 0, 0, std::string("cannot read: ") + std::strerror(errno)});
            continue;
        }
        if (text.find('\0') != std::string::npos) {
            diags.push_back(Diagnostic{f, 0, 0, "cannot read: not a text file"});
            continue;
        }
        parse(text, f, diags);
    }
}

namespace {

std::string without_deleted(const std::string& exe) {
    static constexpr std::string_view deleted = " (deleted)";
    if (exe.size() > deleted.size() && exe.compare(exe.size() - deleted.size(), deleted.size(), deleted) == 0)
        return exe.substr(0, exe.size() - deleted.size());  // a package upgrade replaced the binary
    return exe;
}

}  // namespace

bool RuleSet::every_rule_matches_exe() const {
    return !impl_->rules.empty() &&
           std::all_of(impl_->rules.begin(), impl_->rules.end(), [](const Rule& r) { return !r.exes.empty(); });
}

bool RuleSet::some_exe_glob_matches(const std::string& exe_in) const {
    std::string exe = without_deleted(exe_in);
    for (const Rule& r : impl_->rules)
        for (const std::string& g : r.exes)
            if (::fnmatch(g.c_str(), exe.c_str(), 0) == 0) return true;
    return false;
}

bool RuleSet::matches(std::size_t i, const ProcessFacts& p) const {
    const Rule& r = impl_->rules[i];
    const Impl::Compiled& c = impl_->compiled[i];
    if (!r.comms.empty() &&
        std::none_of(r.comms.begin(), r.comms.end(), [&](const std::string& n) { return p.comm == n; }))
        return false;
    if (!r.users.empty() && std::find(r.users.begin(), r.users.end(), p.uid) == r.users.end()) return false;
    if (!r.pids.empty() && std::find(r.pids.begin(), r.pids.end(), p.pid) == r.pids.end()) return false;
    if (!r.pidfiles.empty() &&
        std::find(c.pidfile_pids.begin(), c.pidfile_pids.end(), p.pid) == c.pidfile_pids.end())
        return false;
    if (!r.exes.empty()) {
        if (p.exe.empty()) return false;
        std::string exe = without_deleted(p.exe);
        if (std::none_of(r.exes.begin(), r.exes.end(),
                         [&](const std::string& g) { return ::fnmatch(g.c_str(), exe.c_str(), 0) == 0; }))
            return false;
    }
    if (!c.cmdlines.empty() &&
        std::none_of(c.cmdlines.begin(), c.cmdlines.end(),
                     [&](const std::unique_ptr<Regex>& re) { return re->search(p.cmdline.c_str()); }))
        return false;
    if (!r.cgroups.empty()) {
        bool any = false;
        for (const std::string& top : r.cgroups)
            for (const std::string& path : p.cgroups) any = any || path_within(path, top);
        if (!any) return false;
    }
    if (!r.units.empty()) {
        bool any = false;
        for (const std::string& u : r.units)
            for (const std::string& path : p.cgroups) any = any || has_component(path, u);
        if (!any) return false;
    }
    return true;
}

std::optional<std::size_t> RuleSet::first_match(const ProcessFacts& p) const {
    for (std::size_t i = 0; i < impl_->rules.size(); ++i)
        if (matches(i, p)) return i;
    return std::nullopt;
}

bool RuleSet::refresh_pidfiles() {
    bool changed = false;
    for (std::size_t i = 0; i < impl_->rules.size(); ++i) {
        std::vector<pid_t> now;
        for (const std::string& f : impl_->rules[i].pidfiles)
            if (auto pid = read_pidfile(f)) now.push_back(*pid);
        if (now != impl_->compiled[i].pidfile_pids) {
            impl_->compiled[i].pidfile_pids = std::move(now);
            changed = true;
        }
    }
    return changed;
}

const std::vector<pid_t>& RuleSet::pidfile_pids(std::size_t i) const { return impl_->compiled[i].pidfile_pids; }

std::vector<std::string> default_rule_files(const FsRoot& fs) {
    std::vector<std::string> out;
    std::string etc = fs.root() + "/etc";
    std::string main = etc + "/poomguard.conf";
    if (::access(main.c_str(), F_OK) == 0) out.push_back(main);
    std::string dir = etc + "/poomguard.d";
    std::vector<std::string> names;
    if (DIR* d = ::opendir(dir.c_str())) {
        while (dirent* e = ::readdir(d)) {
            std::string n = e->d_name;
            if (n.size() > 5 && n.compare(n.size() - 5, 5, ".conf") == 0 && n[0] != '.') names.push_back(n);
        }
        ::closedir(d);
    }
    std::sort(names.begin(), names.end());
    for (const std::string& n : names) out.push_back(dir + "/" + n);
    return out;
}

namespace {
// Errors that say nothing about the process but about the reader: out of descriptors or memory.
bool starved(const Error& e) {
    const int err = e.errno_value();
    return err == EMFILE || err == ENFILE || err == ENOMEM;
}
}  // namespace

Result<ProcessFacts> read_facts(proc::ProcReader& r, pid_t pid, unsigned need) {
    ProcessFacts f;
    auto st = r.stat(pid);
    if (!st) return fail(st.error());
    f.pid = pid;
    f.ppid = st->ppid;
    f.start_time = st->start_time;
    f.comm = std::move(st->comm);
    f.fields = ProcessFacts::f_comm;
    if (need & ProcessFacts::f_exe) {
        if (auto e = r.exe(pid)) f.exe = std::move(*e);
        else if (starved(e.error())) return fail(e.error());
        f.fields |= ProcessFacts::f_exe;
    }
    if (need & ProcessFacts::f_cmdline) {
        if (auto c = r.cmdline(pid)) f.cmdline = std::string(c->data());
        else if (starved(c.error())) return fail(c.error());
        f.fields |= ProcessFacts::f_cmdline;
    }
    if (need & ProcessFacts::f_uid) {
        auto u = r.owner(pid);
        if (!u) return fail(u.error());
        f.uid = *u;
        f.fields |= ProcessFacts::f_uid;
    }
    if (need & ProcessFacts::f_cgroups) {
        if (auto text = r.read(pid, "cgroup")) {
            for (proc::CgroupEntry& e : proc::parse_cgroups(*text)) f.cgroups.push_back(std::move(e.path));
        } else if (starved(text.error())) {
            return fail(text.error());
        }
        f.fields |= ProcessFacts::f_cgroups;
    }
    return f;
}

Result<std::vector<ProcessFacts>> snapshot(const RuleSet& rules, proc::ProcReader& r) {
    std::vector<ProcessFacts> out;
    auto pids = proc::list_pids(r.fs());
    if (!pids) return fail(pids.error());
    out.reserve(pids->size());
    for (pid_t pid : *pids) {
        auto f = read_facts(r, pid, rules.needs());
        if (f) out.push_back(std::move(*f));
        else if (starved(f.error())) return fail(f.error());
        // else: one that vanished meanwhile is simply not there
    }
    return out;
}

std::vector<Assignment> assign(const RuleSet& rules, const std::vector<ProcessFacts>& snap) {
    std::unordered_map<pid_t, std::size_t> index;
    index.reserve(snap.size());
    for (std::size_t i = 0; i < snap.size(); ++i) index.emplace(snap[i].pid, i);
    // matched[i]: the rules process i matches itself (bitmask over the first 64; beyond, a list).
    const std::size_t n_rules = rules.size();
    std::vector<std::vector<bool>> self(snap.size());
    for (std::size_t i = 0; i < snap.size(); ++i) {
        self[i].resize(n_rules);
        for (std::size_t k = 0; k < n_rules; ++k) self[i][k] = rules.matches(k, snap[i]);
    }
    std::vector<Assignment> out;
    for (std::size_t i = 0; i < snap.size(); ++i) {
        // Ancestors, nearest first (PID 1 and beyond excluded; a loop guard for torn snapshots).
        std::vector<std::size_t> anc;
        pid_t pp = snap[i].ppid;
        for (int depth = 0; pp > 1 && depth < 4096; ++depth) {
            auto it = index.find(pp);
            if (it == index.end()) break;
            anc.push_back(it->second);
            pp = snap[it->second].ppid;
        }
        for (std::size_t k = 0; k < n_rules; ++k) {
            bool ancestor = std::any_of(anc.begin(), anc.end(), [&](std::size_t a) { return self[a][k]; });
            if (ancestor || self[i][k]) {
                Assignment a;
                a.pid = snap[i].pid;
                a.start_time = snap[i].start_time;
                a.comm = snap[i].comm;
                a.rule = k;
                a.role = ancestor ? Role::child : Role::leader;
                a.set = &rules;
                out.push_back(std::move(a));
                break;
            }
        }
    }
    std::sort(out.begin(), out.end(), [](const Assignment& a, const Assignment& b) { return a.pid < b.pid; });
    return out;
}

}  // namespace prockit::oom
