// bench/poomguard_watch_bench.cpp — poomguard watch's reaction latency and its CPU use.
//
//  1. Latency from the exec of a matching process to its adjusted oom_score_adj, for N matching
//     processes (default 1,000) started one after another while two busy loops load both CPUs:
//     `poomguard watch` (proc connector) vs the polling loop a script would write (`pgrep -f` +
//     `choom` every second; fewer processes, default 30: each waits up to a second). The clock
//     starts when Command::spawn returns (the child has exec'd: vfork-style spawn) and stops when
//     the test sees the new value (polled every 20 us). p50/p99 and the ratio of medians.
//  2. watch's CPU time (utime + stime from /proc/PID/stat, and the nanosecond run time of
//     /proc/PID/schedstat) while 1,000 unrelated processes start per second for S seconds
//     (default 5), as a share of one core. With POOMGUARD_PEER=<another poomguard binary> (e.g.
//     an older build) it runs PAIRS pairs (default 5), this build and the peer back to back in
//     alternating order, and prints the median and range of the per-pair ratios.
//
// Not a Google Benchmark case: what matters is a distribution, not a mean of repetitions. Run as
// root (the proc connector); N = 0 skips part 1:
//     PROCKIT_BUILD_DIR=<build> [POOMGUARD_PEER=<binary>]
//         <build>/bench/poomguard_watch_bench [N] [N_POLL] [SECONDS] [PAIRS]
#include <prockit/process/command.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace prockit;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

std::string slurp(const std::string& path) {
    std::string out;
    FILE* f = std::fopen(path.c_str(), "re");
    if (!f) return out;
    char buf[4096];
    std::size_t got;
    while ((got = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, got);
    std::fclose(f);
    return out;
}

std::optional<int> adj_of(pid_t pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/oom_score_adj");
    int v = 0;
    if (!(f >> v)) return std::nullopt;
    return v;
}

// The run time the scheduler counted (user + system), in seconds, from /proc/PID/schedstat.
double run_seconds(pid_t pid) {
    std::string s = slurp("/proc/" + std::to_string(pid) + "/schedstat");
    return s.empty() ? 0 : static_cast<double>(std::stoull(s)) / 1e9;
}

double cpu_seconds(pid_t pid) {
    std::string s = slurp("/proc/" + std::to_string(pid) + "/stat");
    auto rp = s.rfind(')');
    if (rp == std::string::npos) return 0;
    std::istringstream in(s.substr(rp + 2));
    std::string field;
    unsigned long long ut = 0, st = 0;
    for (int i = 3; i <= 15 && in >> field; ++i) {
        if (i == 14) ut = std::stoull(field);
        if (i == 15) st = std::stoull(field);
    }
    return static_cast<double>(ut + st) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

Child spawn(const std::vector<std::string>& argv, Stdio err = Stdio::null()) {
    Command c(argv[0]);
    c.args(std::vector<std::string>(argv.begin() + 1, argv.end())).in(Stdio::null()).out(Stdio::null()).err(std::move(err));
    c.on_destroy(DestroyPolicy::kill_tree, 0s);
    return c.spawn().value();
}

// Latency of each of `n` matching processes reaching `target`.
std::vector<double> latencies(const std::string& prog, int n, int target, Clock::duration limit) {
    std::vector<double> out;
    for (int i = 0; i < n; ++i) {
        Child c = spawn({prog, "30"});
        auto t0 = Clock::now();
        for (;;) {
            auto v = adj_of(c.pid());
            auto now = Clock::now();
            if (v == target) {
                out.push_back(std::chrono::duration<double, std::milli>(now - t0).count());
                break;
            }
            if (now - t0 > limit) {
                std::fprintf(stderr, "process %d not adjusted within the limit\n", c.pid());
                break;
            }
            std::this_thread::sleep_for(20us);
        }
        (void)c.kill();
        (void)c.wait();
    }
    std::sort(out.begin(), out.end());
    return out;
}

double pct(const std::vector<double>& v, double p) {
    if (v.empty()) return 0;
    std::size_t i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
    return v[std::min(i, v.size() - 1)];
}

bool wait_for_text(const std::string& file, const std::string& text, Clock::duration limit) {
    auto end = Clock::now() + limit;
    while (Clock::now() < end) {
        std::string s = slurp(file);
        if (s.find(text) != std::string::npos) return true;
        std::this_thread::sleep_for(10ms);
    }
    return false;
}

}  // namespace

int main(int argc, char** argv) {
    const int n = argc > 1 ? std::atoi(argv[1]) : 1000;
    const int n_poll = argc > 2 ? std::atoi(argv[2]) : 30;
    const int seconds = argc > 3 ? std::atoi(argv[3]) : 5;
    const int pairs = argc > 4 ? std::atoi(argv[4]) : 5;
    const char* b = std::getenv("PROCKIT_BUILD_DIR");
    const std::string poomguard = std::string(b ? b : ".") + "/tools/poomguard/poomguard";
    char tmpl[] = "/tmp/poomguard-bench-XXXXXX";
    const std::string dir = ::mkdtemp(tmpl);
    const std::string prog = dir + "/pgb-match";
    if (std::system(("cp /bin/sleep " + prog).c_str()) != 0) return 1;
    std::ofstream(dir + "/rules.conf") << "[bench]\nmatch.exe = " + prog + "\nadj = 600\n";
    std::ofstream(dir + "/none.conf") << "[none]\nmatch.exe = " + dir + "/never\nadj = 600\n";

    if (n > 0) {
        std::vector<Child> load;
        for (int i = 0; i < 2; ++i) load.push_back(spawn({"/bin/sh", "-c", "while :; do :; done"}));

        // 1a. watch.
        std::vector<double> w;
        {
            Child watch = spawn({poomguard, "watch", "--config", dir + "/rules.conf"}, Stdio::write_file(dir + "/watch.err"));
            if (!wait_for_text(dir + "/watch.err", "watching", 30s)) return 1;
            w = latencies(prog, n, 600, 5s);
            (void)watch.terminate();
            (void)watch.wait();
        }
        // 1b. the polling loop.
        std::vector<double> p;
        {
            Child poll = spawn({"/bin/sh", "-c",
                                "while :; do for p in $(pgrep -f '^" + prog + "'); do choom -p $p -n 500 >/dev/null; done; sleep 1; done"});
            p = latencies(prog, n_poll, 500, 5s);
            (void)poll.terminate_tree(0s);
        }
        for (Child& l : load) (void)l.terminate_tree(0s);
        load.clear();

        std::printf("reaction latency, exec -> adjusted (2 busy loops of load)\n");
        std::printf("  watch        n=%zu  p50 %.3f ms  p99 %.3f ms  max %.3f ms\n", w.size(), pct(w, 0.5), pct(w, 0.99),
                    w.empty() ? 0.0 : w.back());
        std::printf("  pgrep+choom  n=%zu  p50 %.1f ms  p99 %.1f ms\n", p.size(), pct(p, 0.5), pct(p, 0.99));
        if (!w.empty() && pct(w, 0.5) > 0)
            std::printf("  ratio of medians %.0fx; polling median / watch p99 %.0fx\n", pct(p, 0.5) / pct(w, 0.5),
                        pct(p, 0.5) / pct(w, 0.99));
    }

    // 2. CPU use while 1,000 unrelated processes start per second.
    struct Use {
        double stat_pct = 0;   // utime + stime, clock ticks
        double sched_pct = 0;  // schedstat, nanoseconds
        double rate = 0;       // starts per second achieved
    };
    auto measure = [&](const std::string& binary, const std::string& tag) -> std::optional<Use> {
        std::string err = dir + "/watch-" + tag + ".err";
        Child watch = spawn({binary, "watch", "--config", dir + "/none.conf"}, Stdio::write_file(err));
        if (!wait_for_text(err, "watching", 30s)) return std::nullopt;
        double c0 = cpu_seconds(watch.pid()), r0 = run_seconds(watch.pid());
        auto t0 = Clock::now();
        int started = 0;
        for (int s = 0; s < seconds; ++s) {
            auto second_end = t0 + std::chrono::seconds(s + 1);
            std::vector<Child> batch;
            batch.reserve(50);
            for (int i = 0; i < 1000; ++i) {
                batch.push_back(spawn({"/bin/true"}));
                ++started;
                if (batch.size() == 50) {  // reap as we go: at most 50 at once
                    for (Child& t : batch) (void)t.wait();
                    batch.clear();
                }
            }
            for (Child& t : batch) (void)t.wait();
            std::this_thread::sleep_until(second_end);
        }
        double wall = std::chrono::duration<double>(Clock::now() - t0).count();
        double c1 = cpu_seconds(watch.pid()), r1 = run_seconds(watch.pid());
        (void)watch.terminate();
        (void)watch.wait();
        return Use{100.0 * (c1 - c0) / wall, 100.0 * (r1 - r0) / wall, started / wall};
    };
    const char* peer = std::getenv("POOMGUARD_PEER");
    if (!peer || !*peer) {
        auto u = measure(poomguard, "this");
        if (!u) return 1;
        std::printf("watch CPU while unrelated processes start (%.0f/s): %.2f %% of one core (stat), %.2f %% (schedstat)\n",
                    u->rate, u->stat_pct, u->sched_pct);
    } else {
        std::vector<double> ratios, mine, theirs, mine_stat, theirs_stat, rates, mine_us, theirs_us;
        for (int i = 0; i < pairs; ++i) {
            std::optional<Use> a, o;
            if (i % 2 == 0) {
                a = measure(poomguard, "this");
                o = measure(peer, "peer");
            } else {
                o = measure(peer, "peer");
                a = measure(poomguard, "this");
            }
            if (!a || !o) return 1;
            std::printf("  pair %d: this %.2f %% (stat %.2f %%), peer %.2f %% (stat %.2f %%) at %.0f/%.0f starts/s\n", i + 1,
                        a->sched_pct, a->stat_pct, o->sched_pct, o->stat_pct, a->rate, o->rate);
            std::fflush(stdout);
            mine.push_back(a->sched_pct);
            theirs.push_back(o->sched_pct);
            mine_stat.push_back(a->stat_pct);
            theirs_stat.push_back(o->stat_pct);
            mine_us.push_back(1e4 * a->sched_pct / a->rate);  // CPU microseconds per process start
            theirs_us.push_back(1e4 * o->sched_pct / o->rate);
            rates.push_back(a->rate);
            rates.push_back(o->rate);
            if (a->sched_pct > 0) ratios.push_back(theirs_us.back() / mine_us.back());
        }
        std::sort(ratios.begin(), ratios.end());
        std::sort(mine.begin(), mine.end());
        std::sort(theirs.begin(), theirs.end());
        std::sort(mine_stat.begin(), mine_stat.end());
        std::sort(theirs_stat.begin(), theirs_stat.end());
        std::sort(rates.begin(), rates.end());
        std::sort(mine_us.begin(), mine_us.end());
        std::sort(theirs_us.begin(), theirs_us.end());
        std::printf("watch CPU, %% of one core while ~%.0f unrelated processes start per second, %d pairs:\n", pct(rates, 0.5), pairs);
        std::printf("  this build  median %.2f %% (range %.2f-%.2f) schedstat; %.2f %% (%.2f-%.2f) stat\n", pct(mine, 0.5),
                    mine.front(), mine.back(), pct(mine_stat, 0.5), mine_stat.front(), mine_stat.back());
        std::printf("  peer        median %.2f %% (range %.2f-%.2f) schedstat; %.2f %% (%.2f-%.2f) stat\n", pct(theirs, 0.5),
                    theirs.front(), theirs.back(), pct(theirs_stat, 0.5), theirs_stat.front(), theirs_stat.back());
        std::printf("  per process start: this %.1f us (%.1f-%.1f), peer %.1f us (%.1f-%.1f); at 1,000 starts/s: %.2f %% vs %.2f %%\n",
                    pct(mine_us, 0.5), mine_us.front(), mine_us.back(), pct(theirs_us, 0.5), theirs_us.front(), theirs_us.back(),
                    pct(mine_us, 0.5) / 10, pct(theirs_us, 0.5) / 10);
        if (!ratios.empty())
            std::printf("  peer / this, CPU per start: median %.2fx (range %.2f-%.2f)\n", pct(ratios, 0.5), ratios.front(),
                        ratios.back());
    }
    (void)std::system(("rm -rf " + dir).c_str());
    return 0;
}
