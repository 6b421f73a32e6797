// demo_parallel — prockit's first demo: several named processes run in parallel through the
// library, then a summary of what ran where (PID, CPU, name) and how each one ended.
//
// Four workers count primes in forked children (prockit::Process), one exec'd command runs beside
// them (prockit::Command), and one worker that would run far too long is stopped by a join timeout.
#include <prockit/process/command.hpp>
#include <prockit/process/process.hpp>
#include <prockit/sys/syscall.hpp>

#include <chrono>
#include <cstdio>
#include <fcntl.h>
#include <map>
#include <sched.h>
#include <string>
#include <unistd.h>
#include <vector>

using namespace std::chrono_literals;

namespace {

long count_primes(long limit) {
    long n = 0;
    for (long i = 2; i < limit; ++i) {
        bool prime = true;
        for (long d = 2; d * d <= i; ++d)
            if (i % d == 0) {
                prime = false;
                break;
            }
        n += prime;
    }
    return n;
}

// Each child reports "name cpu result" on a shared pipe: one write() under PIPE_BUF is atomic.
void report(int fd, const std::string& what) {
    std::string line = prockit::current_process().name + " " + std::to_string(sched_getcpu()) + " " + what + "\n";
    (void)prockit::write_all(fd, line);
}

}  // namespace

int main() {
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) return 1;
    prockit::unique_fd rd(p[0]), wr(p[1]);

    std::printf("prockit demo: %u CPUs usable, parent PID %d\n\n", prockit::cpu_count(), getpid());
    auto t0 = std::chrono::steady_clock::now();

    std::vector<prockit::Process> workers;
    for (long limit : {200'000L, 300'000L, 400'000L, 500'000L}) {
        std::string name = "primes<" + std::to_string(limit / 1000) + "k";
        workers.emplace_back(prockit::ProcessOptions{.name = name},
                             [fd = wr.get()](long l) { report(fd, std::to_string(count_primes(l)) + " primes"); }, limit);
    }
    workers.emplace_back(prockit::ProcessOptions{.name = "sleepy"}, [fd = wr.get()] {
        report(fd, "started, will not finish in time");
        for (;;) pause();
    });
    for (auto& w : workers) w.start();

    // An exec'd command beside them, its output captured through a pipe.
    auto uname = prockit::Command("uname").arg("-sr").out(prockit::Stdio::pipe()).spawn();

    struct Row {
        std::string name;
        pid_t pid;
        std::string cpu = "-";
        std::string said;
        std::string ended;
    };
    std::vector<Row> rows;
    for (auto& w : workers) {
        bool done = w.join(w.name() == "sleepy" ? 300ms : 60s);
        if (!done) {
            w.terminate();
            w.join();
        }
        rows.push_back({w.name(), *w.pid(), "-", "", w.status()->to_string() + (done ? "" : " (join timed out, terminated)")});
    }
    wr.reset();
    std::string lines;
    char buf[4096];
    for (ssize_t n; (n = read(rd.get(), buf, sizeof buf)) > 0;) lines.append(buf, static_cast<size_t>(n));
    for (size_t pos = 0; pos < lines.size();) {
        size_t nl = lines.find('\n', pos);
        std::string l = lines.substr(pos, nl - pos);
        pos = nl + 1;
        size_t s1 = l.find(' '), s2 = l.find(' ', s1 + 1);
        for (auto& r : rows)
            if (r.name == l.substr(0, s1)) {
                r.cpu = l.substr(s1 + 1, s2 - s1 - 1);
                r.said = l.substr(s2 + 1);
            }
    }
    if (uname) {
        std::string out;
        for (ssize_t n; (n = read(uname->stdout_pipe().get(), buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
        if (!out.empty() && out.back() == '\n') out.pop_back();
        auto st = uname->wait();
        rows.push_back({"uname -sr", uname->pid(), "-", out, st ? st->to_string() + " (exec'd command)" : st.error().message()});
    } else {
        std::printf("could not run uname: %s\n", uname.error().message().c_str());
    }

    std::printf("%-14s %7s %4s  %-34s %s\n", "NAME", "PID", "CPU", "SAID", "ENDED");
    for (const auto& r : rows)
        std::printf("%-14s %7d %4s  %-34s %s\n", r.name.c_str(), r.pid, r.cpu.c_str(), r.said.c_str(), r.ended.c_str());
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("\n%zu processes in %.2f s; active children left: %zu\n", rows.size(), secs, prockit::active_children().size());
    return 0;
}
