// bench/prun_bench.cpp — prun against its peers, all measured in this one run, ratios printed:
//   1. 10,000 trivial jobs (/bin/true N) at -j2: prun vs xargs -P2 -n1 vs GNU parallel -j2 vs a raw
//      posix_spawn loop keeping two children running (GNU parallel runs 1,000 jobs, scaled x10).
//   2. 4 jobs each writing 256 MiB through `prun --group` into a pipe vs cat of the same bytes.
//   3. Peak RSS of prun over 100,000 and 1,000,000 input lines (--dry-run: everything but the
//      spawns) and over 20,000 real jobs.
//   4. prun's own overhead on one command: `prun -- /bin/true` vs `/bin/true`, with the floor beside
//      them: min_supervisor (posix_spawn + waitpid, nothing else) running /bin/true.
//   5. --pipe: 100 MB of lines cut into blocks for wc -l at -j2, vs GNU parallel --pipe.
// The prun binary is $PROCKIT_BUILD_DIR/tools/prun/prun.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <spawn.h>
#include <string>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;

struct Outcome {
    double seconds = 0;
    long max_rss_kb = 0;
    int status = -1;
};

/// Runs argv with stdin from `in` (or /dev/null) and stdout/stderr to /dev/null; waits with wait4.
Outcome run(const std::vector<std::string>& args, const std::string& in = "/dev/null") {
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, in.c_str(), O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    Outcome o;
    auto t0 = Clock::now();
    pid_t pid = -1;
    if (posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), environ) != 0) {
        std::fprintf(stderr, "prun_bench: cannot run %s\n", argv[0]);
        posix_spawn_file_actions_destroy(&fa);
        return o;
    }
    int st = 0;
    struct rusage ru {};
    while (wait4(pid, &st, 0, &ru) < 0) {
    }
    o.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    o.max_rss_kb = ru.ru_maxrss;
    o.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    posix_spawn_file_actions_destroy(&fa);
    return o;
}

Outcome sh(const std::string& script) { return run({"/bin/sh", "-c", script}); }

/// The raw loop: `n` posix_spawn calls of /bin/true, `j` at a time. Each job gets its number as
/// the argument, as prun, xargs and GNU parallel give it its input line: every contender runs the
/// same 10,000 commands. (It matters: coreutils' true with one argument sets up its locale to look
/// for --help, ~15 more page faults and ~0.1 ms more per job than with none.)
double raw_loop(int n, int j) {
    char number[32];
    char* argv[] = {const_cast<char*>("/bin/true"), number, nullptr};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    auto t0 = Clock::now();
    int started = 0, running = 0;
    while (started < n || running > 0) {
        while (running < j && started < n) {
            pid_t pid;
            std::snprintf(number, sizeof number, "%d", started);
            if (posix_spawn(&pid, "/bin/true", &fa, nullptr, argv, environ) == 0) ++running;
            ++started;
        }
        int st;
        if (wait(&st) > 0) --running;
    }
    posix_spawn_file_actions_destroy(&fa);
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

bool have(const char* prog) {
    std::string cmd = std::string("command -v ") + prog + " >/dev/null 2>&1";
    return std::system(cmd.c_str()) == 0;
}

}  // namespace

int main() {
    const char* bd = std::getenv("PROCKIT_BUILD_DIR");
    std::string prun = std::string(bd ? bd : "build-bench") + "/tools/prun/prun";
    if (access(prun.c_str(), X_OK) != 0) {
        std::fprintf(stderr, "prun_bench: %s is not built\n", prun.c_str());
        return 1;
    }
    char dir_tmpl[] = "/tmp/prun-bench-XXXXXX";
    std::string dir = mkdtemp(dir_tmpl);
    auto write_lines = [&](const std::string& name, long n) {
        std::string path = dir + "/" + name;
        FILE* f = std::fopen(path.c_str(), "w");
        for (long i = 0; i < n; ++i) std::fprintf(f, "%ld\n", i);
        std::fclose(f);
        return path;
    };
    const int N = 10000;
    std::string lines20k = write_lines("20k", 20000), lines100k = write_lines("100k", 100000),
                lines1m = write_lines("1m", 1000000);

    // The machine is shared: every contender runs in 5 interleaved rounds, so load changes during
    // the run spread over all of them alike.
    const int rounds = 5;
    std::printf("== 1. %d x /bin/true N at -j2 (%d interleaved rounds of %d) ==\n", N, rounds, N / rounds);
    std::string round_lines = write_lines("round", N / rounds), gnu_lines = write_lines("gnu", 1000);
    run({"/bin/true"});  // warm the page cache
    bool gnu_present = have("parallel");
    double raw = 0, gnu_small = 0, gnu_startup = 0;
    Outcome p, x;
    for (int r = 0; r < rounds; ++r) {
        raw += raw_loop(N / rounds, 2);
        Outcome pr = run({prun, "-j2", "/bin/true", "::::", round_lines});
        p.seconds += pr.seconds;
        p.status = std::max(p.status, pr.status);
        x.seconds += sh("xargs -P2 -n1 /bin/true < " + round_lines).seconds;
        if (gnu_present && r == rounds / 2) {
            // GNU parallel is too slow for 10,000 jobs here: 1 job (its start-up) and 1,000 jobs,
            // and 10,000 estimated as start-up + 10 x the per-job part of the 1,000.
            double one = run({"parallel", "-j2", "/bin/true", ":::", "1"}).seconds;
            gnu_small = run({"parallel", "-j2", "/bin/true", "::::", gnu_lines}).seconds;
            gnu_startup = one;
        }
    }
    std::printf("  raw posix_spawn loop   %8.3f s\n", raw);
    std::printf("  prun -j2               %8.3f s   (exit %d)\n", p.seconds, p.status);
    std::printf("  xargs -P2 -n1          %8.3f s\n", x.seconds);
    double gnu = 0;
    if (gnu_present) {
        gnu = gnu_startup + (gnu_small - gnu_startup) * 10;
        std::printf("  GNU parallel -j2       %8.3f s   (estimated: 1 job %.3f s, 1,000 jobs %.3f s)\n", gnu, gnu_startup,
                    gnu_small);
    } else {
        std::printf("  GNU parallel -j2       not installed\n");
    }

    std::printf("== 2. 4 jobs x 256 MiB through --group into a pipe (3 interleaved rounds) ==\n");
    Outcome c, g4;
    for (int r = 0; r < 3; ++r) {
        c.seconds += sh("for i in 1 2 3 4; do head -c 256M /dev/zero; done | cat > /dev/null").seconds;
        Outcome o = sh("TMPDIR=" + dir + " " + prun + " -j4 --group sh -c 'head -c 256M /dev/zero' {} ::: 1 2 3 4 | cat > /dev/null");
        g4.seconds += o.seconds;
        g4.status = std::max(g4.status, o.status);
    }
    std::printf("  cat of the same bytes  %8.3f s\n", c.seconds);
    std::printf("  prun --group           %8.3f s   (exit %d)\n", g4.seconds, g4.status);

    std::printf("== 3. peak RSS over many inputs ==\n");
    Outcome m100k = run({prun, "-j2", "--dry-run", "/bin/true", "::::", lines100k});
    Outcome m1m = run({prun, "-j2", "--dry-run", "/bin/true", "::::", lines1m});
    Outcome m1mstdin = run({prun, "-j2", "--dry-run", "/bin/true"}, lines1m);
    Outcome m20k = run({prun, "-j2", "/bin/true", "::::", lines20k});
    std::printf("  100,000 lines (dry run)     %6ld KiB\n", m100k.max_rss_kb);
    std::printf("  1,000,000 lines (dry run)   %6ld KiB   (stdin: %ld KiB)\n", m1m.max_rss_kb, m1mstdin.max_rss_kb);
    std::printf("  20,000 jobs run             %6ld KiB   (%.3f s)\n", m20k.max_rss_kb, m20k.seconds);

    std::printf("== 4. overhead on one command (mean of 300 interleaved runs) ==\n");
    const int R = 300;
    std::string floor_bin = std::string(bd ? bd : "build-bench") + "/bench/min_supervisor";
    double bare = 0, wrapped = 0, floor = 0;
    for (int i = 0; i < R; ++i) {
        bare += run({"/bin/true"}).seconds;
        wrapped += run({prun, "--", "/bin/true"}).seconds;
        floor += run({floor_bin, "/bin/true"}).seconds;
    }
    bare /= R;
    wrapped /= R;
    floor /= R;
    std::printf("  /bin/true              %8.3f ms\n", bare * 1e3);
    std::printf("  prun -- /bin/true      %8.3f ms\n", wrapped * 1e3);
    std::printf("  min_supervisor (floor) %8.3f ms   (posix_spawn + waitpid, no C++ runtime)\n", floor * 1e3);

    std::printf("== 5. --pipe: 100 MB of lines in 1 MiB blocks to wc -l at -j2 (3 interleaved rounds) ==\n");
    std::string lines_big = dir + "/pipe-input";
    {
        FILE* f = std::fopen(lines_big.c_str(), "w");
        for (long i = 0; i < 12000000; ++i) std::fprintf(f, "%ld\n", i * 7919 % 100000007);
        std::fclose(f);
    }
    Outcome pp, gp;
    for (int r = 0; r < 3; ++r) {
        Outcome o = run({prun, "--pipe", "-j2", "wc", "-l"}, lines_big);
        pp.seconds += o.seconds;
        pp.status = std::max(pp.status, o.status);
        if (gnu_present) gp.seconds += run({"parallel", "--pipe", "-j2", "wc", "-l"}, lines_big).seconds;
    }
    std::printf("  prun --pipe            %8.3f s   (exit %d)\n", pp.seconds, pp.status);
    if (gnu_present) std::printf("  parallel --pipe        %8.3f s\n", gp.seconds);

    std::printf("== ratios (this run) ==\n");
    std::printf("  prun vs raw posix_spawn loop (speed)   %.2fx   (target >= 0.9)\n", raw / p.seconds);
    std::printf("  xargs vs raw posix_spawn loop (speed)  %.2fx\n", raw / x.seconds);
    std::printf("  prun vs xargs (speed)                  %.2fx   (target > 1)\n", x.seconds / p.seconds);
    if (gnu > 0) std::printf("  prun vs GNU parallel (speed)           %.2fx   (target >= 8)\n", gnu / p.seconds);
    std::printf("  prun --group vs cat (throughput)       %.2fx   (target >= 0.7; TMPDIR on disk)\n", c.seconds / g4.seconds);
    if (gnu_present) std::printf("  prun --pipe vs parallel --pipe (speed) %.2fx\n", gp.seconds / pp.seconds);
    std::printf("  peak RSS at 1,000,000 lines            %.1f MiB (target < 32; 100,000 lines: %.1f MiB)\n",
                static_cast<double>(m1m.max_rss_kb) / 1024, static_cast<double>(m100k.max_rss_kb) / 1024);
    std::printf("  prun's own overhead on one command     %.3f ms (target <= 1)\n", (wrapped - bare) * 1e3);
    std::printf("  the floor's overhead (any supervisor)  %.3f ms; prun above the floor %.3f ms\n", (floor - bare) * 1e3,
                (wrapped - floor) * 1e3);

    std::string rm = "rm -rf " + dir;
    return std::system(rm.c_str()) == 0 ? 0 : 1;
}
