// prockit-test-helper: a small program the tests spawn to observe, from inside a child, what
// prockit set up. It runs its arguments as a list of commands, left to right; each prints
// "key=value" lines on stdout (flushed at once) or acts.
//
//   --                  stop: the remaining arguments are data, not commands
//   argv                print argv[i]=...            env           print every environment entry
//   cwd                 print cwd=...                fds           print fds=0,1,2,...
//   ids                 pid, ppid, pgid, sid, uid, gid, groups
//   sigmask             sigblk=<hex> sigign=<hex>    (from /proc/self/status)
//   rlimit NAME         rlimit.NAME=soft:hard        (nofile, nproc, core, as, cpu, fsize, stack)
//   affinity            cpus=0,1,...                 oom           oom_score_adj=N
//   nice                nice=N                       umask         umask=0NNN
//   status FIELD        FIELD=value from /proc/self/status (CapEff, NoNewPrivs, ...)
//   comm                comm=...                     tty           tty=yes|no (controlling tty)
//   ready               print ready (a synchronisation point for the test)
//   ignore SIG          ignore a signal (TERM, INT, ...)
//   sleep SECONDS       sleep (may be interrupted only by a fatal signal)
//   pause               wait forever
//   exit N              exit with N            raise SIG     kill itself with SIG
//   cat                 copy stdin to stdout   echo TEXT     print TEXT   echo-err TEXT   on stderr
//   write-fd FD TEXT    write TEXT to fd FD
//   fork-sleeper        fork a grandchild that ignores TERM and pauses; print grandchild=PID
//   daemon-sleeper      like fork-sleeper, but the grandchild leaves to a new session (setsid)
//   spawn-tree          start a background child and an orphaned grandchild in a session of its
//                       own (double fork + setsid), both pausing; print tree=ready once both run.
//                       They carry this argv, so a marker after "--" names the whole tree
//   alloc MIB           allocate and touch MIB MiB (kept until exit)
//   block SIG           block a signal (it stays pending, visible in /proc/PID/status)
//   exec-no-fork PROG ARGS...  exec PROG under a seccomp filter that fails every clone(2) without
//                       CLONE_VM (fork) with EAGAIN; vfork-style spawns still work
#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <string>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <cstddef>
#include <time.h>
#include <unistd.h>
#include <vector>

extern char** environ;

namespace {

void out(const std::string& line) {
    std::string l = line + "\n";
    ssize_t ignored = write(1, l.data(), l.size());
    (void)ignored;
}

[[noreturn]] void die(const std::string& why) {
    std::string l = "prockit-test-helper: " + why + "\n";
    ssize_t ignored = write(2, l.data(), l.size());
    (void)ignored;
    _exit(99);
}

int signal_from(const std::string& name) {
    static const struct {
        const char* n;
        int s;
    } table[] = {{"TERM", SIGTERM}, {"INT", SIGINT}, {"HUP", SIGHUP}, {"KILL", SIGKILL},
                 {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"PIPE", SIGPIPE}, {"QUIT", SIGQUIT},
                 {"ABRT", SIGABRT}, {"SEGV", SIGSEGV}, {"STOP", SIGSTOP}, {"TSTP", SIGTSTP},
                 {"TTOU", SIGTTOU}, {"TTIN", SIGTTIN}, {"CHLD", SIGCHLD}, {"ALRM", SIGALRM}};
    for (const auto& e : table)
        if (name == e.n) return e.s;
    die("unknown signal " + name);
}

std::string status_field(const std::string& field) {
    FILE* f = std::fopen("/proc/self/status", "re");
    if (!f) die("cannot open /proc/self/status");
    char line[512];
    std::string value;
    while (std::fgets(line, sizeof line, f)) {
        std::string l(line);
        if (l.rfind(field + ":", 0) == 0) {
            value = l.substr(field.size() + 1);
            value.erase(0, value.find_first_not_of(" \t"));
            while (!value.empty() && (value.back() == '\n' || value.back() == ' ')) value.pop_back();
        }
    }
    std::fclose(f);
    return value;
}

std::string fd_list() {
    DIR* d = opendir("/proc/self/fd");
    if (!d) die("cannot open /proc/self/fd");
    std::vector<int> fds;
    while (dirent* e = readdir(d)) {
        if (e->d_name[0] == '.') continue;
        int fd = std::atoi(e->d_name);
        if (fd != dirfd(d)) fds.push_back(fd);
    }
    closedir(d);
    std::sort(fds.begin(), fds.end());
    std::string s;
    for (int fd : fds) s += (s.empty() ? "" : ",") + std::to_string(fd);
    return s;
}

int rlimit_from(const std::string& n) {
    if (n == "nofile") return RLIMIT_NOFILE;
    if (n == "nproc") return RLIMIT_NPROC;
    if (n == "core") return RLIMIT_CORE;
    if (n == "as") return RLIMIT_AS;
    if (n == "cpu") return RLIMIT_CPU;
    if (n == "fsize") return RLIMIT_FSIZE;
    if (n == "stack") return RLIMIT_STACK;
    die("unknown rlimit " + n);
}

std::string lim(rlim_t v) { return v == RLIM_INFINITY ? "unlimited" : std::to_string(v); }

void fork_sleeper(bool new_session) {
    int p[2];
    if (pipe(p) != 0) die("pipe");
    pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
        close(p[0]);
        if (new_session) setsid();
        signal(SIGTERM, SIG_IGN);
        char c = 'x';
        if (write(p[1], &c, 1) != 1) _exit(98);
        close(p[1]);
        for (;;) pause();
    }
    close(p[1]);
    char c;
    if (read(p[0], &c, 1) != 1) die("grandchild did not start");
    close(p[0]);
    out("grandchild=" + std::to_string(pid));
}

// Forks a paused background child and, through a child that exits at once, a paused grandchild
// that setsid()s (reparented to the nearest subreaper). Returns once both run.
void spawn_tree() {
    int p[2];
    if (pipe(p) != 0) die("pipe");
    pid_t bg = fork();
    if (bg < 0) die("fork");
    if (bg == 0) {
        close(p[0]);
        char c = 'b';
        if (write(p[1], &c, 1) != 1) _exit(98);
        close(p[1]);
        for (;;) pause();
    }
    pid_t mid = fork();
    if (mid < 0) die("fork");
    if (mid == 0) {
        pid_t g = fork();
        if (g < 0) _exit(97);
        if (g == 0) {
            setsid();
            char c = 'g';
            if (write(p[1], &c, 1) != 1) _exit(98);
            close(p[1]);
            close(p[0]);
            for (;;) pause();
        }
        _exit(0);
    }
    close(p[1]);
    char c[2];
    std::size_t got = 0;
    while (got < 2) {
        ssize_t n = read(p[0], c + got, 2 - got);
        if (n <= 0) die("the tree did not start");
        got += static_cast<std::size_t>(n);
    }
    close(p[0]);
    int st = 0;
    (void)waitpid(mid, &st, 0);
    out("tree=ready");
}

[[noreturn]] void exec_no_fork(char** argv) {
#if defined(__x86_64__)
    constexpr unsigned arch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
    constexpr unsigned arch = AUDIT_ARCH_AARCH64;
#else
    die("exec-no-fork: no filter for this architecture");
#endif
    sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, arch, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone, 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[0])),  // the flags' low half
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_VM, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EAGAIN),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    sock_fprog prog{static_cast<unsigned short>(sizeof f / sizeof f[0]), f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) die("no_new_privs");
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) die("seccomp");
    execv(argv[0], argv);
    die(std::string("exec ") + argv[0]);
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> a(argv + 1, argv + argc);
    auto need = [&](size_t i, size_t n) {
        if (i + n >= a.size()) die("missing argument to " + a[i]);
    };
    for (size_t i = 0; i < a.size(); ++i) {
        const std::string& c = a[i];
        if (c == "--") break;  // the rest is data (for argv tests)
        if (c == "argv") {
            for (int k = 0; k < argc; ++k) out("argv[" + std::to_string(k) + "]=" + argv[k]);
        } else if (c == "env") {
            for (char** e = environ; *e; ++e) out(std::string("env:") + *e);
        } else if (c == "cwd") {
            char buf[4096];
            out(std::string("cwd=") + (getcwd(buf, sizeof buf) ? buf : "?"));
        } else if (c == "fds") {
            out("fds=" + fd_list());
        } else if (c == "ids") {
            out("pid=" + std::to_string(getpid()));
            out("ppid=" + std::to_string(getppid()));
            out("pgid=" + std::to_string(getpgid(0)));
            out("sid=" + std::to_string(getsid(0)));
            out("uid=" + std::to_string(getuid()));
            out("gid=" + std::to_string(getgid()));
            gid_t groups[256];
            int n = getgroups(256, groups);
            std::string g;
            for (int k = 0; k < n; ++k) g += (k ? "," : "") + std::to_string(groups[k]);
            out("groups=" + g);
        } else if (c == "sigmask") {
            out("sigblk=" + status_field("SigBlk"));
            out("sigign=" + status_field("SigIgn"));
        } else if (c == "rlimit") {
            need(i, 1);
            const std::string& n = a[++i];
            rlimit r{};
            getrlimit(rlimit_from(n), &r);
            out("rlimit." + n + "=" + lim(r.rlim_cur) + ":" + lim(r.rlim_max));
        } else if (c == "affinity") {
            cpu_set_t set;
            CPU_ZERO(&set);
            sched_getaffinity(0, sizeof set, &set);
            std::string s;
            for (int k = 0; k < CPU_SETSIZE; ++k)
                if (CPU_ISSET(k, &set)) s += (s.empty() ? "" : ",") + std::to_string(k);
            out("cpus=" + s);
        } else if (c == "oom") {
            FILE* f = std::fopen("/proc/self/oom_score_adj", "re");
            int v = 0;
            if (!f || std::fscanf(f, "%d", &v) != 1) die("cannot read oom_score_adj");
            std::fclose(f);
            out("oom_score_adj=" + std::to_string(v));
        } else if (c == "nice") {
            errno = 0;
            int v = getpriority(PRIO_PROCESS, 0);
            out("nice=" + std::to_string(v));
        } else if (c == "umask") {
            mode_t m = umask(0);
            umask(m);
            char buf[16];
            std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(m));
            out(std::string("umask=") + buf);
        } else if (c == "status") {
            need(i, 1);
            const std::string& f = a[++i];
            out(f + "=" + status_field(f));
        } else if (c == "comm") {
            FILE* f = std::fopen("/proc/self/comm", "re");
            char buf[64] = {};
            if (!f || !std::fgets(buf, sizeof buf, f)) die("cannot read comm");
            std::fclose(f);
            std::string s(buf);
            if (!s.empty() && s.back() == '\n') s.pop_back();
            out("comm=" + s);
        } else if (c == "tty") {
            int fd = open("/dev/tty", O_RDONLY | O_CLOEXEC | O_NOCTTY);
            out(std::string("tty=") + (fd >= 0 ? "yes" : "no"));
            if (fd >= 0) close(fd);
        } else if (c == "ready") {
            out("ready");
        } else if (c == "ignore") {
            need(i, 1);
            signal(signal_from(a[++i]), SIG_IGN);
        } else if (c == "sleep") {
            need(i, 1);
            double s = std::atof(a[++i].c_str());
            timespec ts{static_cast<time_t>(s), static_cast<long>((s - static_cast<double>(static_cast<time_t>(s))) * 1e9)};
            while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
            }
        } else if (c == "pause") {
            for (;;) pause();
        } else if (c == "exit") {
            need(i, 1);
            _exit(std::atoi(a[++i].c_str()));
        } else if (c == "raise") {
            need(i, 1);
            int s = signal_from(a[++i]);
            signal(s, SIG_DFL);
            sigset_t set;
            sigemptyset(&set);
            sigaddset(&set, s);
            sigprocmask(SIG_UNBLOCK, &set, nullptr);
            raise(s);
        } else if (c == "cat") {
            char buf[65536];
            ssize_t n;
            while ((n = read(0, buf, sizeof buf)) > 0)
                if (write(1, buf, static_cast<size_t>(n)) != n) die("write");
        } else if (c == "echo") {
            need(i, 1);
            out(a[++i]);
        } else if (c == "echo-err") {
            need(i, 1);
            std::string l = a[++i] + "\n";
            if (write(2, l.data(), l.size()) < 0) die("write stderr");
        } else if (c == "write-fd") {
            need(i, 2);
            int fd = std::atoi(a[++i].c_str());
            std::string t = a[++i] + "\n";
            if (write(fd, t.data(), t.size()) < 0) die("write fd " + std::to_string(fd));
        } else if (c == "fork-sleeper") {
            fork_sleeper(false);
        } else if (c == "daemon-sleeper") {
            fork_sleeper(true);
        } else if (c == "block") {
            need(i, 1);
            sigset_t set;
            sigemptyset(&set);
            sigaddset(&set, signal_from(a[++i]));
            sigprocmask(SIG_BLOCK, &set, nullptr);
        } else if (c == "exec-no-fork") {
            need(i, 1);
            exec_no_fork(argv + i + 2);
        } else if (c == "spawn-tree") {
            spawn_tree();
        } else if (c == "alloc") {
            need(i, 1);
            std::size_t bytes = static_cast<std::size_t>(std::atol(a[++i].c_str())) << 20;
            volatile char* m = static_cast<char*>(std::malloc(bytes));  // volatile: every page is touched
            if (!m) die("cannot allocate");
            for (std::size_t k = 0; k < bytes; k += 4096) m[k] = 1;
            out("alloc=done");
        } else {
            die("unknown command " + c);
        }
    }
    return 0;
}
