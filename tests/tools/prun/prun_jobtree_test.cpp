// A pool job that is ended (here by --timeout) loses its whole tree when it is reported ended,
// not only its process group: a descendant that called setsid is gone too, while prun runs on
// with another job. Every wait has a deadline.
#include "prun_support.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <string>
#include <thread>

namespace prockit::test {
namespace {

using namespace std::chrono_literals;

// Gone: no such process, or a zombie waiting for its (new) parent to reap it.
bool gone(pid_t pid) {
    auto stat = read_file("/proc/" + std::to_string(pid) + "/stat");
    if (!stat) return true;
    auto close = stat->rfind(')');
    return close == std::string::npos || close + 2 >= stat->size() || (*stat)[close + 2] == 'Z' ||
           (*stat)[close + 2] == 'X';
}

TEST(PrunJobTree, TimedOutJobLosesItsSetsidDescendantsWhenReportedEnded) {
    TempDir dir;
    const std::string gc = dir / "gc", joblog = dir / "joblog";
    // Job 1 starts a grandchild in its own session and waits; job 2 ignores SIGTERM (inherited
    // by its sleep), so after the timeout's TERM it lives on until the KILL 20 s later, and prun
    // with it.
    const std::string job1 = "setsid sleep 300 & echo $! > " + gc + "; wait";
    const std::string job2 = "trap '' TERM; sleep 60";
    TempDir io;
    Command c(prun_path());
    c.args({"-j", "2", "--timeout", "1s", "--kill-after", "20s", "--joblog", joblog, "sh", "-c", "{}", ":::", job1, job2})
        .out(Stdio::write_file(io / "out"))
        .err(Stdio::write_file(io / "err"))
        .new_process_group()
        .on_destroy(DestroyPolicy::kill_tree, 0s);
    auto prun = c.spawn();
    ASSERT_TRUE(prun) << prun.error().message();

    ASSERT_TRUE(eventually([&] { return slurp(gc).find('\n') != std::string::npos; }, 10s)) << slurp(io / "err");
    pid_t grandchild = std::stoi(slurp(gc));
    // The joblog has a header line and then one line per ended job: job 1's comes at its timeout.
    ASSERT_TRUE(eventually([&] { return lines(slurp(joblog)).size() >= 2; }, 10s)) << slurp(io / "err");
    EXPECT_EQ(prun->try_wait().value(), std::nullopt) << "prun ended with job 1; the test needs it running";
    // The grandchild had the TERM before job 1 was reaped; allow its own death a moment.
    bool ended = eventually([&] { return gone(grandchild); }, 3s);
    if (!ended) ::kill(grandchild, SIGKILL);
    EXPECT_TRUE(ended) << "the setsid'd grandchild of a timed-out job outlived the job's end";
    (void)prun->terminate_tree(0s);
}

}  // namespace
}  // namespace prockit::test
