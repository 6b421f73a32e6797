// Runs the programs of examples/ (built in $PROCKIT_BUILD_DIR/examples) and checks what they print,
// how they end, and that nothing they started outlives them.
//
// The test process makes itself a child subreaper, so any descendant of an example that is still
// there (even as a zombie) when the example has ended is re-parented to the test, where
// no_children() sees it.
#include "support.hpp"

#include <prockit/process/child.hpp>
#include <prockit/process/command.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <dirent.h>
#include <poll.h>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace prockit::test {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::UnorderedElementsAreArray;

struct ExampleRun {
    ExitStatus status = ExitStatus::exited(0);
    bool timed_out = false;
    std::string out;
    std::string err;
    std::vector<std::string> lines;  // of out

    /// The lines that start with `prefix`, in order.
    std::vector<std::string> starting_with(const std::string& prefix) const {
        std::vector<std::string> r;
        for (const auto& l : lines)
            if (l.rfind(prefix, 0) == 0) r.push_back(l);
        return r;
    }
    /// Index of the first line equal to `line`, or -1.
    long index_of(const std::string& line) const {
        auto it = std::find(lines.begin(), lines.end(), line);
        return it == lines.end() ? -1 : it - lines.begin();
    }
};

std::vector<std::string> split_lines(const std::string& s) {
    std::vector<std::string> out;
    std::istringstream in(s);
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
}

/// Every "pid=N" in the text.
std::vector<pid_t> pids_in(const std::string& text) {
    std::vector<pid_t> pids;
    std::regex re("pid=([0-9]+)");
    for (std::sregex_iterator it(text.begin(), text.end(), re), end; it != end; ++it)
        pids.push_back(static_cast<pid_t>(std::stol((*it)[1].str())));
    return pids;
}

/// The children of the calling process, from /proc (for cleaning up after a failed test).
std::vector<pid_t> own_children() {
    std::vector<pid_t> kids;
    DIR* d = opendir("/proc");
    if (!d) return kids;
    while (dirent* e = readdir(d)) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        std::string path = std::string("/proc/") + e->d_name + "/stat";
        FILE* f = std::fopen(path.c_str(), "re");
        if (!f) continue;
        char buf[512] = {};
        size_t n = std::fread(buf, 1, sizeof buf - 1, f);
        std::fclose(f);
        std::string s(buf, n);
        auto rp = s.rfind(')');
        if (rp == std::string::npos) continue;
        int ppid = 0;
        char state = 0;
        if (std::sscanf(s.c_str() + rp + 1, " %c %d", &state, &ppid) == 2 && ppid == getpid())
            kids.push_back(static_cast<pid_t>(std::atoi(e->d_name)));
    }
    closedir(d);
    return kids;
}

class Example : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(set_child_subreaper(true));
        fds_ = open_fds();
    }
    void TearDown() override {
        EXPECT_EQ(open_fds(), fds_) << "the test leaked a file descriptor";
        bool clean = no_children();
        EXPECT_TRUE(clean) << "an example left a process (or a zombie) behind";
        if (!clean) {  // end and reap the leftovers, so that later tests start clean
            for (pid_t p : own_children()) ::kill(p, SIGKILL);
            siginfo_t info{};
            while (waitid(P_ALL, 0, &info, WEXITED) == 0 || errno == EINTR) {
            }
        }
        (void)set_child_subreaper(false);
    }

    /// Runs build/examples/<name> with stdout and stderr piped, for at most `timeout`.
    static ExampleRun run_example(const std::string& name, std::chrono::milliseconds timeout = 60s) {
        ExampleRun r;
        // $PROCKIT_BUILD_DIR as CTest sets it, else the build tree this test was configured in.
        const char* dir = std::getenv("PROCKIT_BUILD_DIR");
        std::string path = std::string(dir && *dir ? dir : PROCKIT_EXAMPLES_BUILD_DIR) + "/examples/" + name;
        auto child = Command(path).in(Stdio::null()).out(Stdio::pipe()).err(Stdio::pipe()).spawn();
        EXPECT_TRUE(child) << (child ? "" : child.error().message());
        if (!child) return r;

        auto deadline = std::chrono::steady_clock::now() + timeout;
        auto left_ms = [&] {
            auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            return std::max<long long>(0, ms.count());
        };
        pollfd fds[2] = {{child->stdout_pipe().get(), POLLIN, 0}, {child->stderr_pipe().get(), POLLIN, 0}};
        std::string* sinks[2] = {&r.out, &r.err};
        while ((fds[0].fd >= 0 || fds[1].fd >= 0) && left_ms() > 0) {
            int n = ::poll(fds, 2, static_cast<int>(left_ms()));
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            for (int i = 0; i < 2; ++i) {
                if (fds[i].fd < 0 || fds[i].revents == 0) continue;
                char buf[4096];
                ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
                if (got > 0)
                    sinks[i]->append(buf, static_cast<size_t>(got));
                else if (got == 0 || errno != EINTR)
                    fds[i].fd = -1;  // EOF (the pipe itself is closed with the Child)
            }
        }
        auto st = child->wait_for(std::chrono::milliseconds(left_ms()));
        if (st && *st) {
            r.status = **st;
        } else {
            r.timed_out = true;
            ADD_FAILURE() << name << " did not finish within " << timeout.count() << " ms; output so far:\n"
                          << r.out << r.err;
            r.status = child->terminate_tree(1s).value();
        }
        r.lines = split_lines(r.out);
        return r;
    }

    /// Every PID the example printed belongs to a process that has ended.
    static void expect_all_gone(const ExampleRun& r) {
        auto pids = pids_in(r.out);
        EXPECT_FALSE(pids.empty()) << "the example printed no pid=N";
        for (pid_t p : pids) EXPECT_TRUE(eventually([p] { return !alive(p); }, 10s)) << "process " << p << " still runs";
    }

private:
    std::set<int> fds_;
};

#define EXPECT_RAN_OK(r)                                         \
    do {                                                         \
        EXPECT_FALSE((r).timed_out);                             \
        EXPECT_TRUE((r).status.success()) << (r).status.to_string() << "\nstderr:\n" << (r).err; \
    } while (0)

TEST_F(Example, ProcessNames) {
    auto r = run_example("process_names");
    EXPECT_RAN_OK(r);
    EXPECT_EQ(r.err, "");

    std::vector<std::string> expected = {"main: I am MainProcess"};
    for (std::string name : {"p1", "p2", "p3", "Process-4"}) {
        // The kernel's comm holds the name's first 15 bytes; these are shorter.
        expected.push_back(name + ": start (comm=" + name + ", parent=MainProcess)");
        expected.push_back(name + ": end");
        expected.push_back("main: " + name + " exited with 0");
        // Each worker starts before it ends, and ends before main reports it.
        auto s = r.index_of(name + ": start (comm=" + name + ", parent=MainProcess)");
        auto e = r.index_of(name + ": end");
        auto j = r.index_of("main: " + name + " exited with 0");
        EXPECT_TRUE(s >= 0 && s < e && e < j) << name << "\n" << r.out;
    }
    EXPECT_THAT(r.lines, UnorderedElementsAreArray(expected)) << r.out;
    ASSERT_FALSE(r.lines.empty());
    EXPECT_EQ(r.lines.front(), "main: I am MainProcess");
    // main reports in the order it joins.
    EXPECT_THAT(r.starting_with("main: "),
                ElementsAre("main: I am MainProcess", "main: p1 exited with 0", "main: p2 exited with 0",
                            "main: p3 exited with 0", "main: Process-4 exited with 0"));
}

TEST_F(Example, DaemonChildren) {
    auto r = run_example("daemon_children");
    EXPECT_RAN_OK(r);
    EXPECT_EQ(r.err, "");

    // Normalise the PIDs to compare the lines as a set.
    std::vector<std::string> lines;
    for (const auto& l : r.lines) lines.push_back(std::regex_replace(l, std::regex("pid=[0-9]+"), "pid=N"));
    EXPECT_THAT(lines, UnorderedElementsAreArray({
                           "p1: start (pid=N, daemon=no)",
                           "p2: start (pid=N, daemon=yes)",
                           "p3: start (pid=N, daemon=yes)",
                           "main: returning from main",
                           "p1: end",
                           "at exit: p1 exitcode=0",
                           "at exit: p2 exitcode=-15",
                           "at exit: p3 exitcode=-15",
                       }))
        << r.out;
    // Every child was up before main returned; the report comes last, after p1 has finished.
    ASSERT_EQ(lines.size(), 8u);
    auto main_at = r.index_of("main: returning from main");
    for (std::string p : {"p1", "p2", "p3"}) {
        auto it = std::find_if(r.lines.begin(), r.lines.end(), [&](const std::string& l) { return l.rfind(p + ": start", 0) == 0; });
        ASSERT_NE(it, r.lines.end());
        EXPECT_LT(it - r.lines.begin(), main_at) << r.out;
    }
    EXPECT_LT(r.index_of("p1: end"), r.index_of("at exit: p1 exitcode=0"));
    ASSERT_GE(r.lines.size(), 3u);
    EXPECT_THAT(std::vector<std::string>(r.lines.end() - 3, r.lines.end()),
                ElementsAre("at exit: p1 exitcode=0", "at exit: p2 exitcode=-15", "at exit: p3 exitcode=-15"));
    EXPECT_EQ(pids_in(r.out).size(), 3u);
    expect_all_gone(r);
}

TEST_F(Example, ProcessArgs) {
    auto r = run_example("process_args");
    EXPECT_RAN_OK(r);
    EXPECT_EQ(r.err, "");
    EXPECT_EQ(r.out,
              "greet: Hello, Alice! You are 30.\n"
              "sum: 1 + 2 + 3 + 4 = 10\n"
              "point: (3, -4) is 5 from the origin\n"
              "lambda: 3 x 'ab' = ababab\n"
              "copy: the child sees counter=1 and sets it to 100\n"
              "main: counter is still 2 in the parent\n"
              "main: exit codes: greet=0 sum=10 point=0 lambda=0 copy=0\n");
}

TEST_F(Example, ProcessSubclass) {
    auto r = run_example("process_subclass");
    EXPECT_RAN_OK(r);
    EXPECT_EQ(r.out,
              "countdown: 3\n"
              "countdown: 2\n"
              "countdown: 1\n"
              "countdown: liftoff\n"
              "main: countdown exitcode=0\n"
              "checker: 7 is odd, leaving with code 7\n"
              "main: checker exitcode=7\n"
              "main: broken exitcode=1\n");
    EXPECT_EQ(r.err, "Process broken: std::runtime_error: the widget is missing\n");
}

TEST_F(Example, JoinTimeout) {
    auto r = run_example("join_timeout");
    EXPECT_RAN_OK(r);
    EXPECT_EQ(r.err, "");
    EXPECT_EQ(r.out,
              "slow: waiting for the go-ahead\n"
              "main: join(200ms) -> false; is_alive=yes exitcode=none\n"
              "main: sending the go-ahead\n"
              "slow: done\n"
              "main: join(30s) -> true; is_alive=no exitcode=0\n"
              "stuck: running for ever\n"
              "main: join(200ms) -> false; terminating stuck\n"
              "main: stuck exitcode=-15\n");
}

TEST_F(Example, TerminateTree) {
    auto r = run_example("terminate_tree");
    EXPECT_RAN_OK(r);
    EXPECT_EQ(r.err, "");
    EXPECT_EQ(std::regex_replace(r.out, std::regex("pid=[0-9]+"), "pid=N"),
              "round 1: terminate()\n"
              "middle pid=N started grandchild pid=N\n"
              "middle exitcode=-15\n"
              "grandchild still running: yes (orphaned)\n"
              "cleanup: grandchild exitcode=-15\n"
              "round 2: terminate_tree()\n"
              "middle pid=N started grandchild pid=N\n"
              "middle exitcode=-15\n"
              "grandchild still running: no\n"
              "grandchild reaped: killed by SIGTERM\n");
    EXPECT_EQ(pids_in(r.out).size(), 4u);
    expect_all_gone(r);
}

TEST_F(Example, FirstWorker) {
    auto r = run_example("first_worker");
    EXPECT_RAN_OK(r);
    EXPECT_EQ(r.err, "");
    EXPECT_EQ(r.out, "0\n1\n2\n");  // main returned at once, and still the worker finished
}

TEST_F(Example, DownloadUpload) {
    auto r = run_example("download_upload");
    EXPECT_RAN_OK(r);
    EXPECT_EQ(r.err, "");
    EXPECT_THAT(r.lines, UnorderedElementsAreArray({"--main finished--", "download: start", "upload: start",
                                                    "download: done", "upload: done"}))
        << r.out;
    for (std::string task : {"download", "upload"})
        EXPECT_LT(r.index_of(task + ": start"), r.index_of(task + ": done")) << r.out;
}

TEST_F(Example, WorkerJoin) {
    auto r = run_example("worker_join");
    EXPECT_RAN_OK(r);
    EXPECT_EQ(r.err, "");
    EXPECT_THAT(r.lines, UnorderedElementsAreArray({"Worker A is starting", "Worker B is starting", "Worker A is done",
                                                    "Worker B is done", "Both processes are done"}))
        << r.out;
    for (std::string w : {"A", "B"})
        EXPECT_LT(r.index_of("Worker " + w + " is starting"), r.index_of("Worker " + w + " is done")) << r.out;
    ASSERT_FALSE(r.lines.empty());
    EXPECT_EQ(r.lines.back(), "Both processes are done");
}

TEST_F(Example, CountProcesses) {
    auto r = run_example("count_processes", 120s);
    EXPECT_RAN_OK(r);
    EXPECT_EQ(r.err, "");
    ASSERT_EQ(r.lines.size(), 6u) << r.out;
    std::vector<std::string> counts(r.lines.begin(), r.lines.end() - 1);
    EXPECT_THAT(counts, UnorderedElementsAreArray({"0 100000000", "1 100000000", "2 100000000", "3 100000000",
                                                   "4 100000000"}));
    EXPECT_TRUE(std::regex_match(r.lines.back(), std::regex("elapsed: [0-9]+\\.[0-9]{3} s"))) << r.lines.back();
}

TEST_F(Example, ManagerSharedDict) {
    auto r = run_example("manager_shared_dict");
    EXPECT_RAN_OK(r);
    EXPECT_EQ(r.err, "");
    std::string out = std::regex_replace(r.out, std::regex("pid=[0-9]+"), "pid=N");
    auto lines = split_lines(out);
    std::vector<std::string> workers(lines.begin() + std::min<std::size_t>(1, lines.size()),
                                     lines.begin() + std::min<std::size_t>(5, lines.size()));
    EXPECT_THAT(workers, UnorderedElementsAreArray({"worker 0: 0..24 squared sums to 4900",
                                                    "worker 1: 25..49 squared sums to 35525",
                                                    "worker 2: 50..74 squared sums to 97400",
                                                    "worker 3: 75..99 squared sums to 190525"}))
        << r.out;
    std::vector<std::string> main_lines;
    for (const auto& l : lines)
        if (l.rfind("main: ", 0) == 0) main_lines.push_back(l);
    EXPECT_THAT(main_lines,
                ElementsAre("main: manager server pid=N", "main: queue: 4 workers reported",
                            "main: dict: worker-0=4900 worker-1=35525 worker-2=97400 worker-3=190525",
                            "main: list (sorted): 0 1 2 3", "main: counter: 100 (expected 100)",
                            "main: manager shut down, server pid=N reaped"))
        << r.out;
    expect_all_gone(r);  // the manager's server too
}

}  // namespace
}  // namespace prockit::test
