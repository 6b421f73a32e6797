// prockit/security/seccomp.hpp — seccomp filters built with libseccomp in the parent and handed to
// spawned children as a ready BPF program (Command::seccomp), so the child only has to install it.
//
//   prockit::SeccompFilter f;                       // default: allow everything not named
//   f.add_profile("no-network").value();           // built-in rule sets, see profile_names()
//   f.deny("ptrace", EPERM);
//   auto prog = f.compile().value();                // libseccomp → BPF (seccomp_export_bpf)
//   prockit::Command("curl").arg("example.com").seccomp(prog).spawn();
//
// Built-in profiles (each makes the named calls fail with EPERM):
//   no-network   socket()/socketpair() for every address family except AF_UNIX (and AF_NETLINK
//                is refused too: only local UNIX sockets remain)
//   no-ptrace    ptrace, process_vm_readv, process_vm_writev, pidfd_getfd
//   no-mount     mount, umount2, pivot_root, and the new mount API (fsopen, fsmount, move_mount,
//                open_tree, fsconfig, fspick, mount_setattr)
//   no-modules   init_module, finit_module, delete_module, kexec_load, kexec_file_load
//   no-fork      fork, vfork, clone3 (ENOSYS, so libc falls back to clone) and clone without
//                CLONE_THREAD: the process may start threads but no new processes
//
// Rules files (add_rules_file), one rule per line, '#' starts a comment:
//   default allow | default deny [ERRNO] | default kill
//   allow SYSCALL...            deny SYSCALL... [errno=ERRNO]        kill SYSCALL...
//   profile NAME
// ERRNO is a number or a name such as EPERM, EACCES, ENOSYS. A filter whose default is not
// "allow" always allows execve, execveat and rt_sigprocmask, which the child needs to start.
// Syscalls of other architectures (e.g. 32-bit calls on x86-64) kill the process.
#pragma once

#include <prockit/sys/result.hpp>

#include <cerrno>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <linux/filter.h>

namespace prockit {

/// A compiled filter: classic BPF instructions for SECCOMP_SET_MODE_FILTER.
struct SeccompProgram {
    std::vector<struct sock_filter> instructions;
};

class SeccompFilter {
public:
    enum class Action { allow, error, kill };
    enum class Compare { eq, ne, masked_eq_zero };  ///< masked_eq_zero: (arg & value) == 0
    struct Condition {
        unsigned arg;
        Compare op;
        std::uint64_t value;
    };
    struct Rule {
        int syscall;  ///< native syscall number (resolved when the rule is added)
        std::string name;
        Action action;
        int err = EPERM;
        std::vector<Condition> conditions;  ///< all must hold
    };

    /// What happens to syscalls no rule names (default: allow).
    SeccompFilter& default_action(Action a, int err = EPERM);
    Action default_action() const noexcept { return default_; }

    /// Rules by syscall name; unknown names are Errc::not_found (`resolve syscall "frob"`).
    Status allow(std::string_view syscall);
    Status deny(std::string_view syscall, int err = EPERM);
    Status kill(std::string_view syscall);
    Status add(std::string_view syscall, Action a, int err, std::vector<Condition> conditions);

    /// A built-in rule set by name (see above); unknown names are Errc::not_found.
    Status add_profile(std::string_view name);
    static std::vector<std::string> profile_names();

    /// Reads rules from a file (format above). Errors name the file and line.
    Status add_rules_file(const std::string& path);
    /// The same from text; `origin` names it in errors.
    Status add_rules_text(std::string_view text, const std::string& origin);

    const std::vector<Rule>& rules() const noexcept { return rules_; }

    /// Builds the BPF program with libseccomp.
    Result<SeccompProgram> compile() const;

private:
    Action default_ = Action::allow;
    int default_err_ = EPERM;
    std::vector<Rule> rules_;
};

/// An errno value by name ("EPERM") or number ("1"); Errc::not_found otherwise.
Result<int> parse_errno_name(std::string_view text);

}  // namespace prockit
