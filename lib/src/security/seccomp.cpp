#include <prockit/security/seccomp.hpp>

#include <prockit/sys/syscall.hpp>

#include <seccomp.h>

#include <charconv>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sched.h>
#include <unistd.h>

namespace prockit {
namespace {

Error not_found(std::string what) { return Error(make_error_code(Errc::not_found), std::move(what)); }
Error parse_error(std::string what) { return Error(make_error_code(Errc::parse_error), std::move(what)); }

struct ErrnoName {
    const char* name;
    int value;
};
constexpr ErrnoName kErrnos[] = {
    {"EPERM", EPERM},   {"ENOENT", ENOENT}, {"EIO", EIO},         {"EACCES", EACCES}, {"EFAULT", EFAULT},
    {"EBUSY", EBUSY},   {"EINVAL", EINVAL}, {"ENOSYS", ENOSYS},   {"ENOTSUP", ENOTSUP},
    {"EOPNOTSUPP", EOPNOTSUPP},             {"EAFNOSUPPORT", EAFNOSUPPORT},           {"EROFS", EROFS},
    {"EAGAIN", EAGAIN}, {"ENOMEM", ENOMEM}, {"ECONNREFUSED", ECONNREFUSED}, {"ENETUNREACH", ENETUNREACH},
};

std::vector<std::string_view> words(std::string_view line) {
    std::vector<std::string_view> out;
    std::size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
        std::size_t j = i;
        while (j < line.size() && line[j] != ' ' && line[j] != '\t' && line[j] != '\r') ++j;
        if (j > i) out.push_back(line.substr(i, j - i));
        i = j;
    }
    return out;
}

uint32_t action_of(SeccompFilter::Action a, int err) {
    switch (a) {
        case SeccompFilter::Action::allow: return SCMP_ACT_ALLOW;
        case SeccompFilter::Action::error: return SCMP_ACT_ERRNO(static_cast<uint16_t>(err));
        case SeccompFilter::Action::kill: return SCMP_ACT_KILL_PROCESS;
    }
    return SCMP_ACT_KILL_PROCESS;
}

}  // namespace

Result<int> parse_errno_name(std::string_view text) {
    int v = 0;
    auto r = std::from_chars(text.data(), text.data() + text.size(), v);
    if (r.ec == std::errc() && r.ptr == text.data() + text.size() && v > 0 && v < 4096) return v;
    for (const auto& e : kErrnos)
        if (text == e.name) return e.value;
    return fail(not_found("parse errno \"" + std::string(text) + "\""));
}

SeccompFilter& SeccompFilter::default_action(Action a, int err) {
    default_ = a;
    default_err_ = err;
    return *this;
}

Status SeccompFilter::add(std::string_view syscall, Action a, int err, std::vector<Condition> conditions) {
    std::string name(syscall);
    int nr = seccomp_syscall_resolve_name(name.c_str());
    if (nr == __NR_SCMP_ERROR) return fail(not_found("resolve syscall \"" + name + "\""));
    rules_.push_back(Rule{nr, std::move(name), a, err, std::move(conditions)});
    return {};
}
Status SeccompFilter::allow(std::string_view s) { return add(s, Action::allow, 0, {}); }
Status SeccompFilter::deny(std::string_view s, int err) { return add(s, Action::error, err, {}); }
Status SeccompFilter::kill(std::string_view s) { return add(s, Action::kill, 0, {}); }

std::vector<std::string> SeccompFilter::profile_names() {
    return {"no-network", "no-ptrace", "no-mount", "no-modules", "no-fork"};
}

Status SeccompFilter::add_profile(std::string_view name) {
    // Calls this libseccomp or kernel does not know are skipped in built-in profiles.
    auto deny_known = [&](std::initializer_list<const char*> names, int err = EPERM) {
        for (const char* n : names)
            if (seccomp_syscall_resolve_name(n) != __NR_SCMP_ERROR) (void)deny(n, err);
    };
    if (name == "no-network") {
        for (const char* call : {"socket", "socketpair"})
            if (auto r = add(call, Action::error, EPERM, {{0, Compare::ne, AF_UNIX}}); !r) return r;
    } else if (name == "no-ptrace") {
        deny_known({"ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd"});
    } else if (name == "no-mount") {
        deny_known({"mount", "umount2", "pivot_root", "fsopen", "fsmount", "move_mount", "open_tree", "fsconfig",
                    "fspick", "mount_setattr"});
    } else if (name == "no-modules") {
        deny_known({"init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load"});
    } else if (name == "no-fork") {
        deny_known({"fork", "vfork"});
        deny_known({"clone3"}, ENOSYS);
        if (auto r = add("clone", Action::error, EPERM, {{0, Compare::masked_eq_zero, CLONE_THREAD}}); !r) return r;
    } else {
        return fail(not_found("find seccomp profile \"" + std::string(name) + "\""));
    }
    return {};
}

Status SeccompFilter::add_rules_file(const std::string& path) {
    auto text = read_file(path);
    if (!text) return fail(text.error());
    return add_rules_text(*text, path);
}

Status SeccompFilter::add_rules_text(std::string_view text, const std::string& origin) {
    std::size_t lineno = 0;
    while (!text.empty()) {
        auto nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        ++lineno;
        if (auto hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
        auto w = words(line);
        if (w.empty()) continue;
        std::string where = "read seccomp rules " + origin + " line " + std::to_string(lineno);
        auto wrap = [&](const Error& e) { return Error(e.code(), where + ": " + e.context()); };
        std::string_view verb = w[0];
        if (verb == "default") {
            if (w.size() < 2) return fail(parse_error(where + ": \"default\" needs allow, deny or kill"));
            if (w[1] == "allow") {
                default_action(Action::allow);
            } else if (w[1] == "kill") {
                default_action(Action::kill);
            } else if (w[1] == "deny") {
                int err = EPERM;
                if (w.size() > 2) {
                    auto e = parse_errno_name(w[2]);
                    if (!e) return fail(wrap(e.error()));
                    err = *e;
                }
                default_action(Action::error, err);
            } else {
                return fail(parse_error(where + ": unknown default action \"" + std::string(w[1]) + "\""));
            }
        } else if (verb == "profile") {
            for (std::size_t i = 1; i < w.size(); ++i)
                if (auto r = add_profile(w[i]); !r) return fail(wrap(r.error()));
        } else if (verb == "allow" || verb == "deny" || verb == "kill") {
            Action a = verb == "allow" ? Action::allow : verb == "deny" ? Action::error : Action::kill;
            int err = EPERM;
            std::vector<std::string_view> names;
            for (std::size_t i = 1; i < w.size(); ++i) {
                if (w[i].rfind("errno=", 0) == 0) {
                    auto e = parse_errno_name(w[i].substr(6));
                    if (!e) return fail(wrap(e.error()));
                    err = *e;
                } else {
                    names.push_back(w[i]);
                }
            }
            if (names.empty()) return fail(parse_error(where + ": \"" + std::string(verb) + "\" names no syscall"));
            for (auto n : names)
                if (auto r = add(n, a, err, {}); !r) return fail(wrap(r.error()));
        } else {
            return fail(parse_error(where + ": unknown rule \"" + std::string(verb) + "\""));
        }
    }
    return {};
}

Result<SeccompProgram> SeccompFilter::compile() const {
    uint32_t def = action_of(default_, default_err_);
    scmp_filter_ctx ctx = seccomp_init(def);
    if (!ctx) return fail(Error::from_errno(ENOMEM, "create a seccomp filter"));
    struct Free {
        scmp_filter_ctx c;
        ~Free() { seccomp_release(c); }
    } guard{ctx};
    auto add_rule = [&](int nr, uint32_t act, const std::vector<Condition>& conds, const std::string& name) -> Status {
        if (act == def) return {};
        std::vector<scmp_arg_cmp> cmps;
        for (const auto& c : conds) {
            scmp_arg_cmp cmp{};
            cmp.arg = c.arg;
            cmp.datum_a = c.value;
            cmp.datum_b = 0;
            switch (c.op) {
                case Compare::eq: cmp.op = SCMP_CMP_EQ; break;
                case Compare::ne: cmp.op = SCMP_CMP_NE; break;
                case Compare::masked_eq_zero: cmp.op = SCMP_CMP_MASKED_EQ; break;  // (arg & a) == b
            }
            cmps.push_back(cmp);
        }
        int r = seccomp_rule_add_array(ctx, act, nr, static_cast<unsigned>(cmps.size()), cmps.data());
        if (r < 0) return fail(Error::from_errno(-r, "add a seccomp rule for " + name));
        return {};
    };
    for (const auto& rule : rules_)
        if (auto r = add_rule(rule.syscall, action_of(rule.action, rule.err), rule.conditions, rule.name); !r)
            return fail(r.error());
    if (default_ != Action::allow)
        for (const char* n : {"execve", "execveat", "rt_sigprocmask"}) {
            int nr = seccomp_syscall_resolve_name(n);
            if (nr == __NR_SCMP_ERROR) continue;
            bool named = false;
            for (const auto& rule : rules_) named = named || rule.syscall == nr;
            if (!named)
                if (auto r = add_rule(nr, SCMP_ACT_ALLOW, {}, n); !r) return fail(r.error());
        }

    int fd = memfd_create("prockit-seccomp", MFD_CLOEXEC);
    if (fd < 0) return fail(last_error("create a memfd for a seccomp program"));
    unique_fd mem(fd);
    if (int r = seccomp_export_bpf(ctx, fd); r < 0) return fail(Error::from_errno(-r, "export a seccomp program"));
    off_t size = lseek(fd, 0, SEEK_END);
    if (size < 0 || lseek(fd, 0, SEEK_SET) < 0) return fail(last_error("read back a seccomp program"));
    SeccompProgram prog;
    prog.instructions.resize(static_cast<std::size_t>(size) / sizeof(struct sock_filter));
    std::size_t want = prog.instructions.size() * sizeof(struct sock_filter), got = 0;
    auto* bytes = reinterpret_cast<char*>(prog.instructions.data());
    while (got < want) {
        ssize_t n = retry_eintr([&] { return ::read(fd, bytes + got, want - got); });
        if (n < 0) return fail(last_error("read back a seccomp program"));
        if (n == 0) break;
        got += static_cast<std::size_t>(n);
    }
    if (got != want || want == 0) return fail(Error::from_errno(EIO, "read back a seccomp program"));
    return prog;
}

}  // namespace prockit
