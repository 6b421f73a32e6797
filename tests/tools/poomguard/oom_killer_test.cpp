// The real OOM killer: in a cgroup v1 memory group with a 96 MiB limit and no swap, a "database"
// (60 MiB, the larger process) and an expendable job that allocates until the limit is hit. Both
// start at oom_score_adj 500; poomguard watch gives the database a low value and the job 1000 by
// rule. Without the rules the kernel would kill the database (it is the larger); with them it must
// kill the job. Skipped where no memory cgroup can be created.
#include "watch_support.hpp"

#include <prockit/oom/score.hpp>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

using namespace prockit;
using namespace prockit::test;
using namespace std::chrono_literals;

namespace {

bool put(const std::string& path, const std::string& v) {
    std::ofstream f(path);
    f << v;
    f.flush();
    return static_cast<bool>(f);
}

}  // namespace

TEST(PoomguardOomKiller, KillsTheJobNotTheProtectedDatabase) {
    const std::string root = "/sys/fs/cgroup/memory";
    if (::access((root + "/memory.limit_in_bytes").c_str(), W_OK) != 0)
        GTEST_SKIP() << "no writable cgroup v1 memory controller at " << root;
    const std::string cg = root + "/prockit-test-poom-" + std::to_string(::getpid());
    if (::mkdir(cg.c_str(), 0755) != 0) GTEST_SKIP() << "cannot create a memory cgroup: " << std::strerror(errno);
    struct Cleanup {
        std::string dir;
        ~Cleanup() {
            for (int i = 0; i < 1000 && ::rmdir(dir.c_str()) != 0 && errno == EBUSY; ++i) std::this_thread::sleep_for(10ms);
        }
    } cleanup{cg};
    ASSERT_TRUE(put(cg + "/memory.limit_in_bytes", "96M"));
    (void)put(cg + "/memory.swappiness", "0");
    (void)put(cg + "/memory.memsw.limit_in_bytes", "96M");
    auto oom_kills = [&] {
        std::string c = slurp_file(cg + "/memory.oom_control");
        auto at = c.find("oom_kill ");
        return at == std::string::npos ? -1L : std::atol(c.c_str() + at + 9);
    };
    ASSERT_EQ(oom_kills(), 0) << "memory.oom_control has no oom_kill count";

    Scratch d;
    std::string db = d.copy_program(helper(), "pgw-db");
    std::string job = d.copy_program(helper(), "pgw-job");
    const int low = oom::has_cap_sys_resource() ? -900 : 0;
    write_file(d / "rules.conf", "[database]\nmatch.exe = " + db + "\nadj = " + std::to_string(low) +
                                     "\n[batch]\nmatch.exe = " + job + "\nadj = 1000\n");
    Background w(d, {"watch", "--config", d / "rules.conf"});
    ASSERT_TRUE(w.ready()) << w.err();

    const std::string enter = "echo $$ > " + cg + "/cgroup.procs && echo 500 > /proc/self/oom_score_adj && exec \"$0\" \"$@\"";
    Command dbc("/bin/sh");
    dbc.args({"-c", enter, db, "alloc", "60", "ready", "pause"}).in(Stdio::null()).out(Stdio::pipe());
    dbc.on_destroy(DestroyPolicy::kill_tree, 0s);
    Child dbp = dbc.spawn().value();
    ASSERT_EQ(read_line(dbp.stdout_pipe().get()), "alloc=done");
    ASSERT_EQ(read_line(dbp.stdout_pipe().get()), "ready");
    ASSERT_TRUE(eventually([&] { return adj_of(dbp.pid()) == low; }, 20s)) << w.out() << w.err();

    // The job waits on its stdin (cat) until poomguard has given it its value, then allocates.
    Command jc("/bin/sh");
    jc.args({"-c", enter, job, "cat", "alloc", "150", "pause"}).in(Stdio::pipe()).out(Stdio::null());
    jc.on_destroy(DestroyPolicy::kill_tree, 0s);
    Child jp = jc.spawn().value();
    ASSERT_TRUE(eventually([&] { return adj_of(jp.pid()) == 1000; }, 20s)) << w.out() << w.err();
    jp.stdin_pipe().reset();  // EOF: allocate now

    auto st = jp.wait_for(60s);
    ASSERT_TRUE(st && *st) << "the job did not end: the OOM killer did not fire";
    EXPECT_EQ((*st)->signal(), std::optional<int>(SIGKILL)) << "the job ended otherwise";
    EXPECT_GE(oom_kills(), 1);
    EXPECT_TRUE(alive(dbp.pid())) << "the kernel killed the protected database";
    EXPECT_FALSE(dbp.try_wait().value().has_value());
    (void)dbp.terminate_tree(0s);
    EXPECT_EQ(w.stop(SIGTERM), 0);
    EXPECT_TRUE(eventually([&] { return slurp_file(cg + "/cgroup.procs").empty(); }, 10s));
}
