// lib/src/process/command.cpp — the parent's side of spawning: build the child's plan, clone, read
// the verdict. The child's side is lib/src/child/exec_child.cpp.
#include <prockit/process/command.hpp>

#include "child/plan.hpp"
#include "process/cgroup.hpp"
#include "sys/sanitizers.hpp"

#include <prockit/sys/signals.hpp>
#include <prockit/sys/syscall.hpp>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstdint>
#include <cstring>
#include <linux/capability.h>
#include <memory>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

extern char** environ;

#if defined(__x86_64__)
#define PROCKIT_HAVE_CLONE3_TRAMPOLINE 1  // see clone3_call() below
#endif

namespace prockit {

const char* to_string(SpawnStage s) noexcept {
    switch (s) {
        case SpawnStage::prepare: return "prepare";
        case SpawnStage::clone: return "clone";
        case SpawnStage::signals: return "signals";
        case SpawnStage::session: return "session";
        case SpawnStage::parent_death_signal: return "parent_death_signal";
        case SpawnStage::cgroup: return "cgroup";
        case SpawnStage::rlimit: return "rlimit";
        case SpawnStage::nice: return "nice";
        case SpawnStage::affinity: return "affinity";
        case SpawnStage::oom_score_adj: return "oom_score_adj";
        case SpawnStage::chdir: return "chdir";
        case SpawnStage::fds: return "fds";
        case SpawnStage::umask: return "umask";
        case SpawnStage::groups: return "groups";
        case SpawnStage::gid: return "gid";
        case SpawnStage::uid: return "uid";
        case SpawnStage::no_new_privs: return "no_new_privs";
        case SpawnStage::exec: return "exec";
        case SpawnStage::capabilities: return "capabilities";
        case SpawnStage::seccomp: return "seccomp";
        case SpawnStage::terminal: return "terminal";
    }
    return "unknown";
}

bool SpawnFailure::not_found() const noexcept {
    return stage_ == SpawnStage::exec && errno_value() == ENOENT;
}
bool SpawnFailure::not_executable() const noexcept { return stage_ == SpawnStage::exec && errno_value() != ENOENT; }

void throw_error(const SpawnFailure& f) { throw SpawnError(f); }

// ---------------------------------------------------------------- builder

Command::Command(std::string program) : program_(std::move(program)) {}

Command& Command::program(std::string p) {
    program_ = std::move(p);
    return *this;
}
Command& Command::clear_args() {
    args_.clear();
    return *this;
}
Command& Command::arg(std::string a) {
    args_.push_back(std::move(a));
    return *this;
}
Command& Command::args(std::initializer_list<std::string> as) {
    args_.insert(args_.end(), as.begin(), as.end());
    return *this;
}
Command& Command::args(const std::vector<std::string>& as) {
    args_.insert(args_.end(), as.begin(), as.end());
    return *this;
}
Command& Command::argv0(std::string name) {
    argv0_ = std::move(name);
    return *this;
}
Command& Command::env(std::string key, std::string value) {
    env_ops_.push_back({std::move(key), std::move(value)});
    return *this;
}
Command& Command::env_remove(std::string key) {
    env_ops_.push_back({std::move(key), std::nullopt});
    return *this;
}
Command& Command::env_clear() {
    env_clear_ = true;
    env_ops_.clear();
    return *this;
}
Command& Command::cwd(std::string dir) {
    cwd_ = std::move(dir);
    return *this;
}
Command& Command::fd(int child_fd, Stdio s) {
    auto it = std::find_if(fds_.begin(), fds_.end(), [&](const FdSpec& f) { return f.child_fd == child_fd; });
    if (it != fds_.end())
        it->source = std::move(s);
    else
        fds_.push_back({child_fd, std::move(s)});
    return *this;
}
Command& Command::new_session() {
    session_ = Session::new_session;
    return *this;
}
Command& Command::new_process_group() {
    session_ = Session::new_group;
    return *this;
}
Command& Command::join_process_group(pid_t pgid) {
    session_ = Session::join_group;
    pgid_ = pgid;
    return *this;
}
Command& Command::foreground(int tty_fd) {
    foreground_tty_ = tty_fd;
    return *this;
}
Command& Command::controlling_terminal(int child_fd, bool steal) {
    ctty_fd_ = child_fd;
    ctty_steal_ = steal;
    return *this;
}
Command& Command::parent_death_signal(int sig) {
    pdeathsig_ = sig;
    return *this;
}
Command& Command::cgroup(std::string dir, int open_dirfd) {
    cgroup_ = std::move(dir);
    cgroup_dirfd_ = open_dirfd;
    return *this;
}
Command& Command::own_cgroup(std::string parent_dir) {
    own_cgroup_parent_ = std::move(parent_dir);
    return *this;
}
Command& Command::on_destroy(DestroyPolicy p, Duration grace) {
    policy_ = p;
    grace_ = grace;
    return *this;
}
Command& Command::rlimit(int resource, rlim_t soft, rlim_t hard) {
    rlimits_.push_back({resource, soft, hard});
    return *this;
}
Command& Command::nice(int value) {
    nice_ = value;
    return *this;
}
Command& Command::affinity(CpuSet cpus) {
    affinity_ = std::move(cpus);
    return *this;
}
Command& Command::oom_score_adj(int value) {
    oom_score_adj_ = value;
    return *this;
}
Command& Command::user(uid_t uid) {
    uid_ = uid;
    return *this;
}
Command& Command::group(gid_t gid) {
    gid_ = gid;
    return *this;
}
Command& Command::groups(std::vector<gid_t> gids) {
    groups_ = std::move(gids);
    return *this;
}
Command& Command::umask(mode_t mask) {
    umask_ = mask;
    return *this;
}
Command& Command::no_new_privs(bool on) {
    no_new_privs_ = on;
    return *this;
}
Command& Command::keep_capabilities(CapabilitySet keep) {
    keep_caps_ = keep;
    return *this;
}
Command& Command::seccomp(SeccompProgram program) {
    seccomp_ = std::make_shared<const SeccompProgram>(std::move(program));
    no_new_privs_ = true;
    return *this;
}
Command& Command::signal_mask(const sigset_t& mask) {
    sigmask_ = mask;
    return *this;
}
Command& Command::keep_ignored_signals(bool on) {
    keep_ignored_ = on;
    return *this;
}

// ---------------------------------------------------------------- the plan

namespace {

bool env_key_is(const char* entry, const std::string& key) {
    return std::strncmp(entry, key.c_str(), key.size()) == 0 && entry[key.size()] == '=';
}

}  // namespace

/// Everything the plan points into, owned by the parent for the duration of the spawn.
struct SpawnPlanBuilder {
    const Command& cmd;
    detail::ChildPlan plan;

    std::vector<std::string> candidate_store;
    std::vector<const char*> candidates;
    std::vector<char*> argv;
    std::string argv0_store;
    std::vector<std::string> env_store;
    std::vector<char*> envp;
    std::vector<unique_fd> owned;  // files and pipe ends the child gets; closed after the spawn
    std::vector<detail::FdMove> moves;
    std::vector<detail::FdRange> close_ranges;
    std::vector<struct ::rlimit> rlim_values;
    std::vector<int> rlim_resources;
    std::string oom_text;
    unique_fd cgroup_procs;
    unique_fd cgroup_dir_fd;  // for clone3(CLONE_INTO_CGROUP): born in the group, no migration
    int cgroup_dir_borrowed = -1;  // the caller's open directory (Command::cgroup(dir, dirfd))
    int cgroup_dirfd() const { return cgroup_dir_borrowed >= 0 ? cgroup_dir_borrowed : cgroup_dir_fd.get(); }
    std::string cgroup_path;
    std::string cgroup_dir;  // created for own_cgroup()
    unique_fd parent_stdin, parent_stdout, parent_stderr;
    std::vector<int> capbset_drop;
    std::vector<int> ambient_raise;
    __user_cap_header_struct cap_header{};
    __user_cap_data_struct cap_data[2]{};
    struct sock_fprog fprog {};

    explicit SpawnPlanBuilder(const Command& c) : cmd(c) {}

    SpawnFailure prep_error(Error e) { return SpawnFailure(SpawnStage::prepare, std::move(e)); }

    void build_env() {
        if (!cmd.env_clear_ && cmd.env_ops_.empty()) {
            plan.envp = environ;  // the fast path: nothing changes
            return;
        }
        if (!cmd.env_clear_)
            for (char** e = environ; *e; ++e) env_store.emplace_back(*e);
        for (const auto& op : cmd.env_ops_) {
            std::erase_if(env_store, [&](const std::string& s) { return env_key_is(s.c_str(), op.key); });
            if (op.value) env_store.push_back(op.key + "=" + *op.value);
        }
        envp.reserve(env_store.size() + 1);
        for (auto& s : env_store) envp.push_back(s.data());
        envp.push_back(nullptr);
        plan.envp = envp.data();
    }

    const char* child_path_variable() const {
        for (auto it = cmd.env_ops_.rbegin(); it != cmd.env_ops_.rend(); ++it)
            if (it->key == "PATH") return it->value ? it->value->c_str() : nullptr;
        if (cmd.env_clear_) return nullptr;
        return std::getenv("PATH");
    }

    void build_exec() {
        const std::string& prog = cmd.program_;
        if (prog.find('/') != std::string::npos) {
            candidates.push_back(prog.c_str());
        } else if (!prog.empty()) {
            const char* path = child_path_variable();
            std::string_view rest = path ? path : "/usr/local/bin:/usr/bin:/bin";
            for (;;) {
                auto colon = rest.find(':');
                std::string_view dir = rest.substr(0, colon);
                std::string c(dir.empty() ? "." : dir);
                c += '/';
                c += prog;
                candidate_store.push_back(std::move(c));
                if (colon == std::string_view::npos) break;
                rest.remove_prefix(colon + 1);
            }
            for (auto& c : candidate_store) candidates.push_back(c.c_str());
        }
        plan.candidates = candidates.data();
        plan.n_candidates = candidates.size();

        argv.reserve(cmd.args_.size() + 2);
        argv0_store = cmd.argv0_ ? *cmd.argv0_ : prog;
        argv.push_back(argv0_store.data());
        for (const auto& a : cmd.args_) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        plan.argv = argv.data();
    }

    Result<void, SpawnFailure> build_fds() {
        std::vector<int> kept = {0, 1, 2};  // inherited unless set
        for (const auto& spec : cmd.fds_) {
            int dst = spec.child_fd;
            if (dst < 0) return fail(prep_error(Error::from_errno(EBADF, "use descriptor " + std::to_string(dst))));
            const Stdio& s = spec.source;
            int src = -1;
            switch (s.kind()) {
                case Stdio::Kind::inherit:
                    src = dst;
                    break;
                case Stdio::Kind::null: {
                    auto fd = open_fd("/dev/null", dst == 0 ? O_RDONLY : O_WRONLY);
                    if (!fd) return fail(prep_error(fd.error()));
                    src = fd->get();
                    owned.push_back(std::move(*fd));
                    break;
                }
                case Stdio::Kind::file: {
                    auto fd = open_fd(s.path(), s.flags(), s.mode());
                    if (!fd) return fail(prep_error(fd.error()));
                    src = fd->get();
                    owned.push_back(std::move(*fd));
                    break;
                }
                case Stdio::Kind::pipe: {
                    int p[2];
                    if (pipe2(p, O_CLOEXEC) != 0) return fail(prep_error(last_error("create a pipe")));
                    unique_fd r(p[0]), w(p[1]);
                    bool child_reads = dst == 0;
                    src = child_reads ? r.get() : w.get();
                    unique_fd& parent_end = dst == 0 ? parent_stdin : dst == 1 ? parent_stdout : parent_stderr;
                    if (dst > 2)
                        return fail(prep_error(Error::from_errno(EINVAL, "make a pipe for descriptor " + std::to_string(dst) +
                                                                            " (pipes are for 0, 1 and 2)")));
                    parent_end = child_reads ? std::move(w) : std::move(r);
                    owned.push_back(child_reads ? std::move(r) : std::move(w));
                    break;
                }
                case Stdio::Kind::fd:
                    src = s.parent_fd();
                    if (fcntl(src, F_GETFD) < 0)
                        return fail(prep_error(last_error("pass descriptor " + std::to_string(src))));
                    break;
                case Stdio::Kind::stdout_:
                    src = -2;  // resolved below, once fd 1's source is known
                    break;
            }
            if (s.kind() != Stdio::Kind::inherit || dst > 2) moves.push_back({src, dst});
            if (std::find(kept.begin(), kept.end(), dst) == kept.end()) kept.push_back(dst);
        }
        for (auto& m : moves) {
            if (m.src != -2) continue;
            auto one = std::find_if(moves.begin(), moves.end(), [](const detail::FdMove& x) { return x.dst == 1; });
            m.src = one != moves.end() ? one->src : 1;
        }
        // Inherited descriptors that stay put are moved onto themselves (through the high
        // duplicate), which clears their close-on-exec flag.
        std::sort(kept.begin(), kept.end());
        plan.fd_floor = kept.back() + 1;
        unsigned next = 0;
        for (int k : kept) {
            if (static_cast<unsigned>(k) > next) close_ranges.push_back({next, static_cast<unsigned>(k) - 1});
            next = static_cast<unsigned>(k) + 1;
        }
        close_ranges.push_back({next, ~0U});
        plan.fd_moves = moves.data();
        plan.n_fd_moves = moves.size();
        plan.close_ranges = close_ranges.data();
        plan.n_close_ranges = close_ranges.size();
        return {};
    }

    Result<void, SpawnFailure> build_cgroup() {
        std::string dir;
        if (cmd.own_cgroup_parent_) {
            auto made = detail::make_child_cgroup(*cmd.own_cgroup_parent_);
            if (!made) return fail(prep_error(made.error()));
            dir = cgroup_dir = *made;
        } else if (cmd.cgroup_) {
            dir = *cmd.cgroup_;
        } else {
            return {};
        }
        cgroup_path = dir;
#ifdef PROCKIT_HAVE_CLONE3_TRAMPOLINE
        // clone3(CLONE_INTO_CGROUP) needs only the directory; cgroup.procs is opened if it fails.
        if (cmd.cgroup_dirfd_ >= 0 && !cmd.own_cgroup_parent_) {
            cgroup_dir_borrowed = cmd.cgroup_dirfd_;
            return {};
        }
        if (auto dfd = open_fd(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) {
            cgroup_dir_fd = std::move(*dfd);
            return {};
        }
#endif
        return open_cgroup_procs();
    }

    Result<void, SpawnFailure> open_cgroup_procs() {
        auto fd = open_fd(cgroup_path + "/cgroup.procs", O_WRONLY);
        if (!fd) {
            if (!cgroup_dir.empty()) detail::remove_cgroup(cgroup_dir);
            return fail(SpawnFailure(SpawnStage::cgroup, fd.error()));
        }
        cgroup_procs = std::move(*fd);
        plan.cgroup_procs_fd = cgroup_procs.get();
        return {};
    }

    Result<void, SpawnFailure> build() {
        build_exec();
        build_env();
        if (auto r = build_fds(); !r) return r;
        if (auto r = build_cgroup(); !r) return r;

        switch (cmd.session_) {
            case Command::Session::inherit: plan.session = 0; break;
            case Command::Session::new_session: plan.session = 1; break;
            case Command::Session::new_group: plan.session = 2; break;
            case Command::Session::join_group:
                plan.session = 3;
                plan.pgid = cmd.pgid_;
                break;
        }
        if (cmd.ctty_fd_ >= 0 && cmd.session_ != Command::Session::new_session)
            return fail(prep_error(Error::from_errno(
                EINVAL, "give a controlling terminal to a process that does not lead a new session")));
        plan.foreground_tty = cmd.foreground_tty_;
        plan.ctty_fd = cmd.ctty_fd_;
        plan.ctty_steal = cmd.ctty_steal_ ? 1 : 0;
        plan.pdeathsig = cmd.pdeathsig_;
        plan.parent_pid = getpid();
        for (const auto& r : cmd.rlimits_) {
            rlim_resources.push_back(r.resource);
            rlim_values.push_back({r.soft, r.hard});
        }
        plan.rlimit_resources = rlim_resources.data();
        plan.rlimit_values = rlim_values.data();
        plan.n_rlimits = rlim_values.size();
        if (cmd.nice_) {
            plan.set_nice = true;
            plan.nice = *cmd.nice_;
        }
        if (cmd.affinity_) {
            if (cmd.affinity_->empty())
                return fail(prep_error(Error::from_errno(EINVAL, "set CPU affinity to an empty CPU set")));
            plan.affinity = cmd.affinity_->words().data();
            plan.affinity_size = cmd.affinity_->byte_size();
        }
        if (cmd.oom_score_adj_) {
            if (*cmd.oom_score_adj_ < -1000 || *cmd.oom_score_adj_ > 1000)
                return fail(prep_error(Error::from_errno(
                    EINVAL, "set oom_score_adj to " + std::to_string(*cmd.oom_score_adj_) + " (range -1000..1000)")));
            oom_text = std::to_string(*cmd.oom_score_adj_);
            plan.oom_score_adj = oom_text.c_str();
        }
        if (cmd.cwd_) plan.cwd = cmd.cwd_->c_str();
        if (cmd.umask_) {
            plan.set_umask = true;
            plan.umask = *cmd.umask_;
        }
        if (cmd.groups_) {
            plan.set_groups = true;
            plan.groups = cmd.groups_->data();
            plan.n_groups = cmd.groups_->size();
        }
        if (cmd.gid_) {
            plan.set_gid = true;
            plan.gid = *cmd.gid_;
        }
        if (cmd.uid_) {
            plan.set_uid = true;
            plan.uid = *cmd.uid_;
        }
        plan.no_new_privs = cmd.no_new_privs_;
        if (cmd.keep_caps_) {
            if (auto r = build_caps(*cmd.keep_caps_); !r) return r;
        }
        if (cmd.seccomp_) {
            fprog.len = static_cast<unsigned short>(cmd.seccomp_->instructions.size());
            fprog.filter = const_cast<struct sock_filter*>(cmd.seccomp_->instructions.data());
            if (fprog.len == 0 || cmd.seccomp_->instructions.size() > BPF_MAXINSNS)
                return fail(SpawnFailure(SpawnStage::seccomp, EINVAL, "install a seccomp filter of " +
                                                                     std::to_string(cmd.seccomp_->instructions.size()) +
                                                                     " instructions"));
            plan.seccomp_fprog = &fprog;
        }
        plan.keep_ignored_signals = cmd.keep_ignored_;
        if (cmd.sigmask_)
            plan.sigmask = *cmd.sigmask_;
        else
            sigemptyset(&plan.sigmask);
        return {};
    }

    Result<void, SpawnFailure> build_caps(CapabilitySet keep) {
        auto bounding = CapabilitySet::current_bounding();
        if (!bounding) return fail(SpawnFailure(SpawnStage::capabilities, bounding.error()));
        auto permitted = CapabilitySet::current_permitted();
        if (!permitted) return fail(SpawnFailure(SpawnStage::capabilities, permitted.error()));
        capbset_drop = (*bounding - keep).caps();
        CapabilitySet have = keep & *permitted;
        ambient_raise = have.caps();
        cap_header.version = _LINUX_CAPABILITY_VERSION_3;
        cap_header.pid = 0;
        for (int c : ambient_raise) {
            auto& d = cap_data[c / 32];
            auto bit = 1U << (c % 32);
            d.effective |= bit;
            d.permitted |= bit;
            d.inheritable |= bit;
        }
        plan.set_caps = true;
        plan.capbset_drop = capbset_drop.data();
        plan.n_capbset_drop = capbset_drop.size();
        plan.cap_header = &cap_header;
        plan.cap_data = cap_data;
        plan.ambient_raise = ambient_raise.data();
        plan.n_ambient_raise = ambient_raise.size();
        return {};
    }

    SpawnFailure child_failure() const {
        auto stage = static_cast<SpawnStage>(plan.failed_stage);
        int err = plan.failed_errno;
        std::string ctx;
        switch (stage) {
            case SpawnStage::exec:
                if (err == ENOENT && cmd.program_.find('/') == std::string::npos)
                    ctx = "find '" + cmd.program_ + "' in PATH";
                else if (err == ENOENT)
                    ctx = "execute " + cmd.program_;
                else
                    ctx = "execute " + std::string(plan.n_candidates ? plan.candidates[plan.failed_candidate] : cmd.program_.c_str());
                break;
            case SpawnStage::chdir: ctx = "change directory to " + *cmd.cwd_; break;
            case SpawnStage::cgroup: ctx = "join cgroup " + (cgroup_dir.empty() ? cmd.cgroup_.value_or("") : cgroup_dir); break;
            case SpawnStage::rlimit: ctx = "set a resource limit"; break;
            case SpawnStage::nice: ctx = "set nice value " + std::to_string(plan.nice); break;
            case SpawnStage::affinity: ctx = "set CPU affinity"; break;
            case SpawnStage::oom_score_adj: ctx = "set oom_score_adj to " + oom_text; break;
            case SpawnStage::session: ctx = plan.session == 1 ? "start a new session" : "set the process group"; break;
            case SpawnStage::parent_death_signal: ctx = "set the parent-death signal"; break;
            case SpawnStage::fds: ctx = "arrange file descriptors"; break;
            case SpawnStage::groups: ctx = "set supplementary groups"; break;
            case SpawnStage::gid: ctx = "set group id " + std::to_string(plan.gid); break;
            case SpawnStage::uid: ctx = "set user id " + std::to_string(plan.uid); break;
            case SpawnStage::no_new_privs: ctx = "set no_new_privs"; break;
            case SpawnStage::signals: ctx = "set the signal mask"; break;
            case SpawnStage::capabilities: ctx = "set capabilities"; break;
            case SpawnStage::seccomp: ctx = "install the seccomp filter"; break;
            case SpawnStage::terminal:
                ctx = plan.ctty_fd >= 0 && cmd.foreground_tty_ < 0 ? "acquire the controlling terminal"
                      : "make the process group the terminal's foreground group";
                break;
            default: ctx = std::string("spawn ") + cmd.program_; break;
        }
        return SpawnFailure(stage, err, std::move(ctx));
    }
};

namespace {

/// The child's stack: a private mapping with a guard page below it.
class ChildStack {
public:
    static constexpr std::size_t kSize = 64 * 1024;
    ChildStack() {
        long page = sysconf(_SC_PAGESIZE);
        guard_ = static_cast<std::size_t>(page > 0 ? page : 4096);
        void* m = mmap(nullptr, kSize + guard_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
        if (m == MAP_FAILED) return;
        base_ = static_cast<char*>(m);
        mprotect(base_, guard_, PROT_NONE);
    }
    ~ChildStack() {
        if (base_) munmap(base_, kSize + guard_);
    }
    ChildStack(const ChildStack&) = delete;
    ChildStack& operator=(const ChildStack&) = delete;
    bool ok() const { return base_ != nullptr; }
    void* top() const { return base_ + guard_ + kSize; }  // stacks grow down on every Linux target we build for
    void* low() const { return base_ + guard_; }

private:
    char* base_ = nullptr;
    std::size_t guard_ = 4096;
};

#if defined(__SANITIZE_ADDRESS__)
#define PROCKIT_FRESH_CHILD_STACKS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PROCKIT_FRESH_CHILD_STACKS 1
#endif
#endif

/// The stack for this thread's next child. With CLONE_VFORK a child is off its stack once clone()
/// returns (it has exec'd or exited), so each thread keeps one and reuses it: that saves an mmap,
/// an munmap — whose TLB shoot-down interrupts the CPU the child ran on — and the faults on fresh
/// pages, per spawn. Signals are blocked around clone(), so a handler cannot spawn on it meanwhile.
/// ASan builds take a fresh stack each time (its shadow memory keeps the last child's frames).
class ThreadChildStack {
public:
    ThreadChildStack() {
#ifdef PROCKIT_FRESH_CHILD_STACKS
        fresh_ = std::make_unique<ChildStack>();
        stack_ = fresh_.get();
#else
        thread_local std::unique_ptr<ChildStack> cached;
        if (!cached || !cached->ok()) cached = std::make_unique<ChildStack>();
        stack_ = cached.get();
#endif
    }
    const ChildStack* operator->() const { return stack_; }

private:
    std::unique_ptr<ChildStack> fresh_;
    ChildStack* stack_ = nullptr;
};

#ifdef PROCKIT_HAVE_CLONE3_TRAMPOLINE
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif
/// struct clone_args, version 2 (Linux 5.7: the cgroup field).
struct CloneArgs {
    std::uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size,
        cgroup;
};

/// clone3() running fn(arg) on the child's own stack, then exit(2) with its result — what glibc's
/// clone() does for clone(2). Joining the cgroup at birth (CLONE_INTO_CGROUP) avoids a migration
/// through cgroup.procs, which takes a global lock and an RCU grace period on many kernels.
/// Returns the PID, or -errno.
__attribute__((noinline)) long clone3_call(CloneArgs* args, int (*fn)(void*), void* arg) {
    long ret;
    asm volatile(
        "syscall\n\t"
        "test %%rax, %%rax\n\t"
        "jnz 1f\n\t"
        "xor %%ebp, %%ebp\n\t"
        "mov %[arg], %%rdi\n\t"
        "call *%[fn]\n\t"
        "mov %%eax, %%edi\n\t"
        "mov $60, %%eax\n\t"  // SYS_exit
        "syscall\n\t"
        "hlt\n"
        "1:\n\t"
        : "=a"(ret)
        : "0"(435L /* SYS_clone3 */), "D"(args), "S"(sizeof(CloneArgs)), [fn] "r"(fn), [arg] "r"(arg)
        : "rcx", "r11", "memory", "cc");
    return ret;
}
#endif

}  // namespace

Result<Child, SpawnFailure> Command::spawn() const {
    // Checked first: build() may create a cgroup that an early return would leave behind.
    if (program_.empty()) return fail(SpawnFailure(SpawnStage::exec, ENOENT, "execute an empty command"));
    SpawnPlanBuilder b(*this);
    if (auto r = b.build(); !r) return fail(r.error());

    ThreadChildStack stack;
    if (!stack->ok()) return fail(SpawnFailure(SpawnStage::clone, errno, "allocate a stack for " + program_));

    int pidfd = -1;
    pid_t pid;
    int clone_errno = 0;
    {
        SignalMaskGuard block_all;  // no handler of ours may run on the child's side
        pid = -1;
        bool done = false;
        bool fallback_to_procs = false;
#ifdef PROCKIT_HAVE_CLONE3_TRAMPOLINE
        // ThreadSanitizer's clone() interceptor treats every clone as a fork: in a CLONE_VM child
        // its after-fork bookkeeping rewrites the parent's state (its internal locks, and, when the
        // parent has threads, "forked a multi-threaded process": interceptors ignored from then
        // on, and the next thread aborts the program). The trampoline is a raw system call that
        // TSan does not see; the child's code is not instrumented (child/exec_child.cpp).
#ifdef PROCKIT_TSAN
        constexpr bool avoid_clone_interceptor = true;
#else
        constexpr bool avoid_clone_interceptor = false;
#endif
        const bool into_cgroup = b.cgroup_dirfd() >= 0;
        if (into_cgroup || avoid_clone_interceptor) {
            CloneArgs ca{};
            ca.flags = CLONE_VM | CLONE_VFORK | CLONE_PIDFD;
            ca.pidfd = reinterpret_cast<std::uint64_t>(&pidfd);
            ca.exit_signal = SIGCHLD;
            ca.stack = reinterpret_cast<std::uint64_t>(stack->low());
            ca.stack_size = ChildStack::kSize;
            if (into_cgroup) {
                ca.flags |= CLONE_INTO_CGROUP;
                ca.cgroup = static_cast<std::uint64_t>(b.cgroup_dirfd());
                b.plan.cgroup_procs_fd = -1;  // already there
            }
            long r = clone3_call(&ca, detail::child_exec_main, &b.plan);
            if (r >= 0) {
                pid = static_cast<pid_t>(r);
                done = true;
            } else if (into_cgroup) {
                // ENOSYS, a v1 group (EBADF), no permission, ...: the old path reports it precisely.
                fallback_to_procs = true;
            }
            // Otherwise (TSan builds on a kernel without clone3) clone() below reports the error.
        }
#endif
        if (!done && fallback_to_procs) {
            // clone3 refused: join through cgroup.procs from the child instead.
            auto opened = b.open_cgroup_procs();
            if (!opened) return fail(opened.error());
        }
        if (!done) {
            pid = ::clone(detail::child_exec_main, stack->top(), CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD,
                          &b.plan, &pidfd);
            if (pid < 0) clone_errno = errno;
        }
    }
    if (pid < 0) {
        if (!b.cgroup_dir.empty()) detail::remove_cgroup(b.cgroup_dir);
        return fail(SpawnFailure(SpawnStage::clone, clone_errno, "start " + program_));
    }
    // The parent's half of setpgid (rule 7). The child's call came first (CLONE_VFORK), so this
    // normally fails with EACCES (the child has exec'd) or ESRCH/EPERM (it failed and exited).
    if (session_ == Session::new_group)
        (void)::setpgid(pid, pid);
    else if (session_ == Session::join_group)
        (void)::setpgid(pid, pgid_);

    Child child(pid, unique_fd(pidfd));
    if (b.plan.failed_stage >= 0) {
        // The child has exited already (it _exit()ed before clone returned): reap it now.
        SpawnFailure f = b.child_failure();
        child.set_destroy_policy(DestroyPolicy::wait);
        (void)child.wait();
        if (!b.cgroup_dir.empty()) detail::remove_cgroup(b.cgroup_dir);
        return fail(std::move(f));
    }
    child.stdin_ = std::move(b.parent_stdin);
    child.stdout_ = std::move(b.parent_stdout);
    child.stderr_ = std::move(b.parent_stderr);
    if (!b.cgroup_dir.empty()) {
        child.scope_ = TreeScope::cgroup;
        child.cgroup_ = b.cgroup_dir;
        child.own_cgroup_ = true;
    } else if (session_ == Session::new_session || session_ == Session::new_group) {
        child.scope_ = TreeScope::process_group;
    }
    child.set_destroy_policy(policy_, grace_);
    return child;
}

Result<ExitStatus, SpawnFailure> Command::status() const {
    auto c = spawn();
    if (!c) return fail(std::move(c).error());
    auto st = c->wait();
    if (!st) return fail(SpawnFailure(SpawnStage::exec, st.error()));
    return *st;
}

}  // namespace prockit
