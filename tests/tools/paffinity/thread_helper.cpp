// paffinity-test-threads: a helper process for paffinity's tests that makes threads and children.
//
//   paffinity-test-threads threads N     start N sleeping threads, print "ready", then obey stdin
//   paffinity-test-threads churn N       like threads N, plus a creator thread that keeps making
//                                        short-lived threads (and new sleepers up to 4*N) forever
//   paffinity-test-threads many N        N sleeping threads and print "ready", nothing else
//                                        (for the benchmark; exits when stdin closes)
//   paffinity-test-threads interleave N  N sleeping threads, each followed (in creation order, so
//                                        in /proc/PID/task order) by one that waits for "release"
//                                        and then exits
//
// Commands on stdin, one per line (answers on stdout, flushed at once):
//   spawn     a thread made while the main thread's affinity is reset to the CPUs this process
//             was started with (and put back after), so the new thread does NOT inherit a
//             later change; prints "tid=N"
//   fork      the same, forking a child that sleeps; prints "child=N"
//   release   (interleave) the waiting threads exit; prints "released" once they are gone
//   reuse R   puts the main thread back on the CPUs this process was started with, then makes
//             short-lived threads, 8 at a time, until R of them had a TID an earlier one had (the
//             kernel hands TIDs out again once it wraps at pid_max). Each waits up to 5 s for its
//             affinity to differ from the start mask (a follower set it) and then exits. Stops at
//             the first thread left unset, or after 64 * pid_max threads; prints
//             "threads=T reused=U missed=M missed_tid=X" (X: the first TID left unset, or 0)
//   quit      exit (stdin closing also exits)
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <string>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace {

cpu_set_t g_start_mask;
std::atomic<int> g_sleepers{0};

void say(const std::string& s) {
    std::string l = s + "\n";
    ssize_t ignored = write(1, l.data(), l.size());
    (void)ignored;
}

void* sleeper(void*) {
    for (;;) pause();
    return nullptr;
}

void* brief(void*) {
    usleep(1000);
    return nullptr;
}

pthread_t start_thread(void* (*fn)(void*), bool detach = true, void* arg = nullptr) {
    pthread_t t;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setstacksize(&a, 64 * 1024);
    if (detach) pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&t, &a, fn, arg);
    pthread_attr_destroy(&a);
    if (rc != 0) {
        std::fprintf(stderr, "paffinity-test-threads: pthread_create: %s\n", std::strerror(rc));
        _exit(99);
    }
    return t;
}

long g_churn_cap = 0;

// interleave: the threads that exit on "release" block reading this pipe; closing its write end
// wakes them all at once.
int g_release_pipe[2] = {-1, -1};
std::atomic<long> g_waiting{0};

void* exit_on_release(void*) {
    char c;
    while (read(g_release_pipe[0], &c, 1) < 0 && errno == EINTR) {
    }
    --g_waiting;
    return nullptr;
}

void* churner(void*) {
    for (;;) {
        if (g_sleepers.load() < g_churn_cap) {
            start_thread(sleeper);
            ++g_sleepers;
        }
        start_thread(brief);
        usleep(200);
    }
    return nullptr;
}

// Makes a thread (or forks a child) while the main thread's affinity is reset to the CPUs this
// process was started with, then puts the main thread's mask back. What is made does NOT inherit
// a change made before the request, and the main thread keeps it. (A fresh creator thread would
// not do: a follower may set it before it makes anything, and then everything inherits.) What is
// put back is the mask the kernel kept: inside a cpuset, the main thread then no longer remembers
// a wider request (kernels 6.2 and later widen a thread to its request when the cpuset grows).
long make(bool fork_child) {
    cpu_set_t saved;
    if (sched_getaffinity(0, sizeof saved, &saved) != 0 ||
        sched_setaffinity(0, sizeof g_start_mask, &g_start_mask) != 0) {
        std::fprintf(stderr, "paffinity-test-threads: reset the affinity: %s\n", std::strerror(errno));
        _exit(99);
    }
    long answer = 0;
    if (fork_child) {
        pid_t pid = fork();
        if (pid == 0) {
            for (;;) pause();
        }
        answer = pid;
    } else {
        struct Box {
            std::atomic<long> tid{0};
        } box;
        pthread_t t;
        auto fn = [](void* b) -> void* {
            static_cast<Box*>(b)->tid = static_cast<long>(syscall(SYS_gettid));
            for (;;) pause();
            return nullptr;
        };
        pthread_create(&t, nullptr, fn, &box);
        pthread_detach(t);
        while (box.tid.load() == 0) usleep(100);
        answer = box.tid.load();
    }
    if (sched_setaffinity(0, sizeof saved, &saved) != 0) {
        std::fprintf(stderr, "paffinity-test-threads: restore the affinity: %s\n", std::strerror(errno));
        _exit(99);
    }
    return answer;
}

// reuse: one short-lived thread's result.
struct Probe {
    std::atomic<long> tid{0};
    std::atomic<bool> set{false};
};

void* probe(void* arg) {
    auto* p = static_cast<Probe*>(arg);
    p->tid = static_cast<long>(syscall(SYS_gettid));
    timespec start{};
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        cpu_set_t now;
        if (sched_getaffinity(0, sizeof now, &now) == 0 && !CPU_EQUAL(&now, &g_start_mask)) {
            p->set = true;
            break;
        }
        timespec t{};
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (t.tv_sec - start.tv_sec >= 5) break;  // the deadline: this thread was not set
        usleep(50);
    }
    return nullptr;
}

std::string reuse(long wanted) {
    if (sched_setaffinity(0, sizeof g_start_mask, &g_start_mask) != 0) {
        std::fprintf(stderr, "paffinity-test-threads: reset the affinity: %s\n", std::strerror(errno));
        _exit(99);
    }
    long pid_max = 32768;
    if (FILE* f = std::fopen("/proc/sys/kernel/pid_max", "re")) {
        if (std::fscanf(f, "%ld", &pid_max) != 1) pid_max = 32768;
        std::fclose(f);
    }
    std::vector<unsigned char> had(static_cast<std::size_t>(pid_max) + 1, 0);
    long threads = 0, reused = 0, missed = 0, missed_tid = 0;
    while (reused < wanted && missed == 0 && threads < 64 * pid_max) {
        Probe probes[8];
        pthread_t ts[8];
        for (int k = 0; k < 8; ++k) ts[k] = start_thread(probe, false, &probes[k]);
        for (int k = 0; k < 8; ++k) pthread_join(ts[k], nullptr);
        for (const Probe& p : probes) {
            long tid = p.tid.load();
            ++threads;
            bool again = tid > 0 && tid <= pid_max && had[static_cast<std::size_t>(tid)];
            if (tid > 0 && tid <= pid_max) had[static_cast<std::size_t>(tid)] = 1;
            if (again) ++reused;
            if (!p.set.load()) {
                ++missed;
                if (missed_tid == 0) missed_tid = tid;
            }
        }
    }
    return "threads=" + std::to_string(threads) + " reused=" + std::to_string(reused) +
           " missed=" + std::to_string(missed) + " missed_tid=" + std::to_string(missed_tid);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: paffinity-test-threads threads|churn|many|interleave N\n");
        return 2;
    }
    signal(SIGCHLD, SIG_IGN);  // children are reaped automatically
    sched_getaffinity(0, sizeof g_start_mask, &g_start_mask);
    std::string mode = argv[1];
    long n = std::atol(argv[2]);
    if (mode == "interleave" && pipe2(g_release_pipe, O_CLOEXEC) != 0) return 99;
    for (long i = 0; i < n; ++i) {
        start_thread(sleeper);
        ++g_sleepers;
        if (mode == "interleave") {
            ++g_waiting;
            start_thread(exit_on_release);
        }
    }
    if (mode == "churn") {
        g_churn_cap = 4 * n;
        start_thread(churner);
    }
    say("ready");
    char line[256];
    std::string buf;
    for (;;) {
        ssize_t got = read(0, line, sizeof line);
        if (got <= 0) break;
        buf.append(line, static_cast<size_t>(got));
        std::size_t nl;
        while ((nl = buf.find('\n')) != std::string::npos) {
            std::string cmd = buf.substr(0, nl);
            buf.erase(0, nl + 1);
            if (cmd == "quit") return 0;
            if (mode == "many") continue;
            if (cmd == "release") {
                close(g_release_pipe[1]);
                while (g_waiting.load() > 0) usleep(100);
                say("released");
                continue;
            }
            if (cmd.rfind("reuse ", 0) == 0) {
                say(reuse(std::atol(cmd.c_str() + 6)));
                continue;
            }
            if (cmd == "spawn" || cmd == "fork") {
                bool fork_child = cmd == "fork";
                long made = make(fork_child);
                say(std::string(fork_child ? "child=" : "tid=") + std::to_string(made));
            }
        }
    }
    return 0;
}
