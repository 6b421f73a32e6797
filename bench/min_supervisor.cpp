// bench/min_supervisor.cpp — the floor for "a program that runs one command and passes its exit
// status on": posix_spawn + waitpid and nothing else, no C++ runtime (linked --as-needed).
// prun_bench measures it beside `prun -- CMD` and `CMD`, so prun's own overhead can be read
// against what any separate supervising process costs on the same machine.
#include <spawn.h>
#include <sys/wait.h>

extern char** environ;

int main(int argc, char** argv) {
    if (argc < 2) return 2;
    pid_t pid;
    if (posix_spawn(&pid, argv[1], nullptr, nullptr, argv + 1, environ) != 0) return 127;
    int st = 0;
    while (waitpid(pid, &st, 0) < 0) {
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
