// prockit/process/command.hpp — exec a command: an options builder and spawn().
//
//   auto child = prockit::Command("tar").args({"-czf", "out.tgz", "dir"})
//                    .cwd("/srv").out(prockit::Stdio::file("log", O_WRONLY | O_CREAT | O_APPEND))
//                    .new_process_group().nice(10)
//                    .spawn().value();          // .value() throws SpawnError on failure
//   auto status = child.wait().value();
//
// How it spawns: clone(CLONE_VM | CLONE_VFORK | CLONE_PIDFD) on a small private stack, so the cost
// does not grow with the parent's memory (no page tables are copied) and the pidfd is had
// atomically. The parent is suspended until the child calls execve or exits. The child runs only
// the allocation-free code in lib/src/child/, reading a plan the parent built; when a step fails it
// records the stage and errno in the plan (shared memory: the parent reads them once it resumes)
// and exits with 127. All signals are blocked in the parent around the clone; the child resets
// every signal disposition to the default and sets its own mask before exec.
//
// PATH search happens in the parent (it needs memory): the candidates are tried in order by the
// child, as execvp(3) would; a command that is nowhere gives ENOENT ("not found"), one that exists
// but cannot be executed gives EACCES ("not executable"). The PATH searched is the one the child
// gets when the command sets it, else the caller's, else "/usr/local/bin:/usr/bin:/bin".
#pragma once

#include <prockit/process/child.hpp>
#include <prockit/sched/cpuset.hpp>
#include <prockit/security/capabilities.hpp>
#include <prockit/security/seccomp.hpp>
#include <prockit/sys/error.hpp>
#include <prockit/sys/result.hpp>

#include <fcntl.h>
#include <initializer_list>
#include <memory>
#include <optional>
#include <signal.h>
#include <string>
#include <sys/resource.h>
#include <sys/types.h>
#include <vector>

namespace prockit {

/// Where one of the child's file descriptors comes from.
class Stdio {
public:
    enum class Kind { inherit, null, pipe, file, fd, stdout_ };

    /// The child gets the parent's descriptor with that number (for 0, 1, 2: the default).
    static Stdio inherit() { return Stdio(Kind::inherit); }
    /// /dev/null, opened for reading (stdin) or writing (other fds).
    static Stdio null() { return Stdio(Kind::null); }
    /// A new pipe; the parent's end is in Child::stdin_pipe()/stdout_pipe()/stderr_pipe().
    static Stdio pipe() { return Stdio(Kind::pipe); }
    /// A file opened by the parent (relative paths are relative to the parent's cwd).
    static Stdio file(std::string path, int flags = O_RDONLY, mode_t mode = 0666) {
        Stdio s(Kind::file);
        s.path_ = std::move(path);
        s.flags_ = flags;
        s.mode_ = mode;
        return s;
    }
    /// Shorthands: truncate-or-create, and append-or-create, for writing.
    static Stdio write_file(std::string path) { return file(std::move(path), O_WRONLY | O_CREAT | O_TRUNC); }
    static Stdio append_file(std::string path) { return file(std::move(path), O_WRONLY | O_CREAT | O_APPEND); }
    /// A copy of one of the parent's descriptors (the caller keeps its own open until spawn returns).
    static Stdio fd(int parent_fd) {
        Stdio s(Kind::fd);
        s.fd_ = parent_fd;
        return s;
    }
    /// For stderr only: the same as the child's stdout (2>&1).
    static Stdio to_stdout() { return Stdio(Kind::stdout_); }

    Kind kind() const noexcept { return kind_; }
    const std::string& path() const noexcept { return path_; }
    int flags() const noexcept { return flags_; }
    mode_t mode() const noexcept { return mode_; }
    int parent_fd() const noexcept { return fd_; }

private:
    explicit Stdio(Kind k) : kind_(k) {}
    Kind kind_;
    std::string path_;
    int flags_ = 0;
    mode_t mode_ = 0;
    int fd_ = -1;
};

/// The step of spawning that failed.
enum class SpawnStage {
    prepare,              ///< in the parent, before the clone (opening files, pipes, the cgroup)
    clone,                ///< clone() itself
    signals,              ///< resetting signal dispositions or setting the mask
    session,              ///< setsid / setpgid
    parent_death_signal,  ///< PR_SET_PDEATHSIG (or the parent was already gone)
    cgroup,               ///< joining the cgroup
    rlimit,               ///< setrlimit
    nice,                 ///< setpriority
    affinity,             ///< sched_setaffinity
    oom_score_adj,        ///< writing /proc/self/oom_score_adj
    chdir,                ///< changing to the working directory
    fds,                  ///< arranging file descriptors
    umask,                ///< (cannot fail; kept for completeness)
    groups,               ///< setgroups
    gid,                  ///< setresgid
    uid,                  ///< setresuid
    no_new_privs,         ///< PR_SET_NO_NEW_PRIVS
    exec,                 ///< execve: not found (ENOENT), not executable (EACCES, ENOEXEC, ...)
    capabilities,         ///< bounding-set drop, capset, ambient raise
    seccomp,              ///< installing the seccomp filter
    terminal,             ///< tcsetpgrp (foreground) or TIOCSCTTY (controlling_terminal)
};
/// "chdir", "exec", ...
const char* to_string(SpawnStage s) noexcept;

/// Why a spawn failed: the stage, the errno (in code()), and a context such as
/// "execute frobnicate" or "change directory to /srv/missing".
class SpawnFailure : public Error {
public:
    SpawnFailure() = default;
    SpawnFailure(SpawnStage stage, int err, std::string context)
        : Error(Error::from_errno(err, std::move(context))), stage_(stage) {}
    SpawnFailure(SpawnStage stage, Error e) : Error(std::move(e)), stage_(stage) {}
    SpawnStage stage() const noexcept { return stage_; }
    /// The command does not exist (exit code 127 in shells).
    bool not_found() const noexcept;
    /// The command exists but cannot be executed (exit code 126 in shells).
    bool not_executable() const noexcept;

private:
    SpawnStage stage_ = SpawnStage::prepare;
};

/// The exception Result<Child, SpawnFailure>::value() throws.
class SpawnError : public SystemError {
public:
    explicit SpawnError(SpawnFailure f) : SystemError(f), failure_(std::move(f)) {}
    const SpawnFailure& failure() const noexcept { return failure_; }
    SpawnStage stage() const noexcept { return failure_.stage(); }

private:
    SpawnFailure failure_;
};
[[noreturn]] void throw_error(const SpawnFailure& f);

/// A resource limit for the child: RLIMIT_* plus soft and hard values (RLIM_INFINITY allowed).
struct ResourceLimit {
    int resource;
    rlim_t soft;
    rlim_t hard;
};

/// What to exec and how: a builder. Copyable; spawn() does not change it, so one Command can be
/// spawned many times.
class Command {
public:
    explicit Command(std::string program);

    // --- what runs
    /// Replaces the program (keeps every other setting): one prepared Command serves many runs.
    Command& program(std::string p);
    /// Removes the arguments given so far.
    Command& clear_args();
    Command& arg(std::string a);
    Command& args(std::initializer_list<std::string> as);
    Command& args(const std::vector<std::string>& as);
    /// The argv[0] the program sees (default: the program as given).
    Command& argv0(std::string name);

    // --- environment: inherited by default
    Command& env(std::string key, std::string value);
    Command& env_remove(std::string key);
    /// Start from an empty environment (then add with env()).
    Command& env_clear();

    // --- where and with what
    Command& cwd(std::string dir);
    Command& in(Stdio s) { return fd(0, std::move(s)); }
    Command& out(Stdio s) { return fd(1, std::move(s)); }
    Command& err(Stdio s) { return fd(2, std::move(s)); }
    /// The child's descriptor `child_fd` comes from `s`. Descriptors not named here (other than
    /// 0, 1, 2, which are inherited unless set) are closed in the child: it gets exactly these.
    Command& fd(int child_fd, Stdio s);
    /// Passes the parent's descriptor under the same number.
    Command& pass_fd(int parent_fd) { return fd(parent_fd, Stdio::fd(parent_fd)); }

    // --- session and process group
    /// setsid(): a new session and process group, no controlling terminal.
    Command& new_session();
    /// setpgid(0, 0): leads a new process group (tree operations then use the group).
    Command& new_process_group();
    /// setpgid(0, pgid): joins an existing group.
    Command& join_process_group(pid_t pgid);
    // The group is set from both sides, as shells do: by the child before anything else, and by
    // the parent once clone() returns (setpgid(pid, pgid); EACCES, "has exec'd", is expected and
    // ignored). With CLONE_VFORK the child's call has always happened by then; the parent's keeps
    // the rule "no one sees the child outside its group" true whatever the spawn path.

    /// Makes the child's process group the foreground process group of the terminal open at the
    /// caller's descriptor `tty_fd` (borrowed: it must stay open until spawn() returns): the child
    /// calls tcsetpgrp() right after setsid()/setpgid(), with every signal still blocked, so a
    /// caller in the background of that terminal is not stopped by SIGTTOU and the program finds
    /// itself in the foreground from its first instruction. Use it with new_process_group() or
    /// join_process_group(); the caller takes the terminal back itself (jobs/job_control.hpp).
    /// Not needed with controlling_terminal(): a session leader that acquires a terminal is its
    /// foreground group already.
    Command& foreground(int tty_fd);
    /// Gives the child the terminal at its own descriptor `child_fd` (after the descriptors are
    /// arranged) as its controlling terminal (TIOCSCTTY). Needs new_session(); spawn() fails at
    /// SpawnStage::prepare (EINVAL) without it. With a pty slave on 0, 1 and 2 this starts a
    /// program the way a terminal emulator does:
    ///
    ///   Command(shell).new_session().in(Stdio::fd(slave)).out(Stdio::fd(slave))
    ///       .err(Stdio::fd(slave)).controlling_terminal(0).spawn();
    ///
    /// The terminal must not be another session's controlling terminal (EPERM at
    /// SpawnStage::terminal; root may steal one with `steal = true`, TIOCSCTTY's argument 1).
    Command& controlling_terminal(int child_fd = 0, bool steal = false);

    // --- lifetime
    /// The child receives `sig` when the thread that spawned it exits (PR_SET_PDEATHSIG). Note: the
    /// kernel ties this to the spawning *thread*, not the process.
    Command& parent_death_signal(int sig);
    /// Places the child in this cgroup directory (v1 or v2) before exec. `open_dirfd`, when given,
    /// is that directory already open (O_DIRECTORY), borrowed: it must stay open until spawn()
    /// returns. A v2 child is then born in the group without a path lookup per spawn.
    Command& cgroup(std::string dir, int open_dirfd = -1);
    /// Creates a fresh cgroup v2 group for the child under `parent_dir` (default: the caller's own
    /// v2 cgroup), so its whole tree can be ended with cgroup.kill; removed after the tree ends.
    /// spawn() fails at SpawnStage::prepare when no writable cgroup v2 hierarchy is there.
    Command& own_cgroup(std::string parent_dir = {});
    /// What Child's destructor does while the process runs (default: terminate_tree, 5 s grace).
    Command& on_destroy(DestroyPolicy p, Duration grace = std::chrono::seconds(5));

    // --- resources and scheduling
    Command& rlimit(int resource, rlim_t soft, rlim_t hard);
    /// Sets the nice value (absolute, -20..19).
    Command& nice(int value);
    Command& affinity(CpuSet cpus);
    /// Sets /proc/<pid>/oom_score_adj (-1000..1000; negative values need CAP_SYS_RESOURCE).
    Command& oom_score_adj(int value);

    // --- credentials and privileges
    Command& user(uid_t uid);
    Command& group(gid_t gid);
    /// Supplementary groups (set before the gid and uid change).
    Command& groups(std::vector<gid_t> gids);
    Command& umask(mode_t mask);
    Command& no_new_privs(bool on = true);
    /// The child ends up with exactly `keep` (as far as the caller holds them): every other
    /// capability is dropped from its bounding set (needs CAP_SETPCAP), its permitted, effective
    /// and inheritable sets become keep ∩ the caller's permitted set, and those are raised in its
    /// ambient set too, so they survive execve of an ordinary program even after user() switched
    /// to a non-root user (PR_SET_KEEPCAPS is set around the uid change).
    Command& keep_capabilities(CapabilitySet keep);
    /// Installs a compiled seccomp filter just before execve (after every other step). Implies
    /// no_new_privs(), which the kernel requires of callers without CAP_SYS_ADMIN.
    Command& seccomp(SeccompProgram program);

    // --- signals
    /// The child's signal mask (default: empty).
    Command& signal_mask(const sigset_t& mask);
    /// Keep signals the caller ignores ignored in the child (default: every disposition is reset
    /// to SIG_DFL, so a parent that ignores SIGPIPE does not hand that on).
    Command& keep_ignored_signals(bool on = true);

    /// Starts the process.
    Result<Child, SpawnFailure> spawn() const;
    /// Starts the process and waits for it.
    Result<ExitStatus, SpawnFailure> status() const;

    const std::string& program() const noexcept { return program_; }
    const std::vector<std::string>& arguments() const noexcept { return args_; }

private:
    friend struct SpawnPlanBuilder;
    enum class Session { inherit, new_session, new_group, join_group };
    struct EnvOp {
        std::string key;
        std::optional<std::string> value;  // empty: remove
    };
    struct FdSpec {
        int child_fd;
        Stdio source;
    };

    std::string program_;
    std::optional<std::string> argv0_;
    std::vector<std::string> args_;
    bool env_clear_ = false;
    std::vector<EnvOp> env_ops_;
    std::optional<std::string> cwd_;
    std::vector<FdSpec> fds_;
    Session session_ = Session::inherit;
    pid_t pgid_ = 0;
    int foreground_tty_ = -1;
    int ctty_fd_ = -1;
    bool ctty_steal_ = false;
    int pdeathsig_ = 0;
    std::optional<std::string> cgroup_;
    int cgroup_dirfd_ = -1;
    std::optional<std::string> own_cgroup_parent_;
    DestroyPolicy policy_ = DestroyPolicy::terminate_tree;
    Duration grace_ = std::chrono::seconds(5);
    std::vector<ResourceLimit> rlimits_;
    std::optional<int> nice_;
    std::optional<CpuSet> affinity_;
    std::optional<int> oom_score_adj_;
    std::optional<uid_t> uid_;
    std::optional<gid_t> gid_;
    std::optional<std::vector<gid_t>> groups_;
    std::optional<mode_t> umask_;
    bool no_new_privs_ = false;
    std::optional<CapabilitySet> keep_caps_;
    std::shared_ptr<const SeccompProgram> seccomp_;
    std::optional<sigset_t> sigmask_;
    bool keep_ignored_ = false;
};

}  // namespace prockit
