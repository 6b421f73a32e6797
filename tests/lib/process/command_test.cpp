// Every spawn option, observed from inside the child through prockit-test-helper.
#include "support.hpp"

#include <prockit/process/command.hpp>
#include <prockit/sys/signals.hpp>
#include <prockit/sys/syscall.hpp>

#include <atomic>
#include <pthread.h>

#include <filesystem>
#include <fstream>
#include <sys/resource.h>
#include <sys/stat.h>

using namespace prockit;
using namespace prockit::test;
using namespace std::chrono_literals;

class Spawn : public NoLeaks {};

TEST_F(Spawn, ArgvAndArgv0) {
    auto r = run(helper_cmd({"argv", "--"}).arg("two words").arg("").arg("-dash").arg("quote'\"$x"));
    EXPECT_TRUE(r.status.success());
    EXPECT_EQ(r.kv["argv[0]"], helper());
    EXPECT_EQ(r.kv["argv[1]"], "argv");
    EXPECT_EQ(r.kv["argv[3]"], "two words");
    EXPECT_EQ(r.kv["argv[4]"], "");
    EXPECT_EQ(r.kv["argv[5]"], "-dash");
    EXPECT_EQ(r.kv["argv[6]"], "quote'\"$x");
    auto named = run(helper_cmd({"argv"}).argv0("custom-name"));
    EXPECT_EQ(named.kv["argv[0]"], "custom-name");
}

TEST_F(Spawn, PathSearch) {
    std::string dir = std::filesystem::path(helper()).parent_path();
    auto r = run(Command("prockit-test-helper").env("PATH", "/nonexistent:" + dir).arg("echo").arg("found"));
    EXPECT_TRUE(r.status.success());
    EXPECT_EQ(r.out, "found\n");
}

TEST_F(Spawn, NotFoundAndNotExecutableAreToldApart) {
    auto missing = Command("prockit-no-such-command").spawn();
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().stage(), SpawnStage::exec);
    EXPECT_TRUE(missing.error().not_found());
    EXPECT_FALSE(missing.error().not_executable());
    EXPECT_EQ(missing.error().message(), "cannot find 'prockit-no-such-command' in PATH: No such file or directory");

    auto missing_path = Command("/nonexistent/cmd").spawn();
    ASSERT_FALSE(missing_path);
    EXPECT_TRUE(missing_path.error().not_found());

    std::string file = ::testing::TempDir() + "prockit-not-exec";
    std::ofstream(file) << "#!/bin/sh\necho hi\n";
    chmod(file.c_str(), 0644);
    auto noexec = Command(file).spawn();
    ASSERT_FALSE(noexec);
    EXPECT_TRUE(noexec.error().not_executable());
    EXPECT_EQ(noexec.error().errno_value(), EACCES);
    EXPECT_NE(noexec.error().message().find(file), std::string::npos);
    std::remove(file.c_str());

    auto empty = Command("").own_cgroup().spawn();
    ASSERT_FALSE(empty);
    EXPECT_TRUE(empty.error().not_found());

    auto dir = Command("/").spawn();
    ASSERT_FALSE(dir);
    EXPECT_TRUE(dir.error().not_executable());

    EXPECT_THROW((void)Command("prockit-no-such-command").spawn().value(), SpawnError);
    try {
        (void)Command("prockit-no-such-command").spawn().value();
    } catch (const SpawnError& e) {
        EXPECT_EQ(e.stage(), SpawnStage::exec);
        EXPECT_EQ(e.code().value(), ENOENT);
    }
}

TEST_F(Spawn, EnvironmentInheritSetUnsetClear) {
    setenv("PROCKIT_TEST_INHERITED", "yes", 1);
    setenv("PROCKIT_TEST_REMOVED", "x", 1);
    auto r = run(helper_cmd({"env"}).env("PROCKIT_TEST_SET", "v=1").env_remove("PROCKIT_TEST_REMOVED"));
    EXPECT_NE(r.out.find("env:PROCKIT_TEST_INHERITED=yes\n"), std::string::npos);
    EXPECT_NE(r.out.find("env:PROCKIT_TEST_SET=v=1\n"), std::string::npos);
    EXPECT_EQ(r.out.find("PROCKIT_TEST_REMOVED"), std::string::npos);

    auto clear = run(helper_cmd({"env"}).env_clear().env("ONLY", "1"));
    EXPECT_EQ(clear.out, "env:ONLY=1\n");
    auto replaced = run(helper_cmd({"env"}).env("PROCKIT_TEST_INHERITED", "no"));
    EXPECT_NE(replaced.out.find("env:PROCKIT_TEST_INHERITED=no\n"), std::string::npos);
    EXPECT_EQ(replaced.out.find("PROCKIT_TEST_INHERITED=yes"), std::string::npos);
    unsetenv("PROCKIT_TEST_INHERITED");
    unsetenv("PROCKIT_TEST_REMOVED");
}

TEST_F(Spawn, Cwd) {
    auto r = run(helper_cmd({"cwd"}).cwd("/tmp"));
    EXPECT_EQ(r.kv["cwd"], "/tmp");
    auto bad = helper_cmd({"cwd"}).cwd("/nonexistent-dir").spawn();
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().stage(), SpawnStage::chdir);
    EXPECT_EQ(bad.error().errno_value(), ENOENT);
    EXPECT_EQ(bad.error().message(), "cannot change directory to /nonexistent-dir: No such file or directory");
}

TEST_F(Spawn, ChildSeesExactlyItsDescriptors) {
    // An fd the parent opened without O_CLOEXEC must still not reach the child.
    int leaky = ::open("/dev/null", O_RDONLY);
    ASSERT_GE(leaky, 0);
    auto r = run(helper_cmd({"fds"}));
    EXPECT_EQ(r.kv["fds"], "0,1,2");
    auto passed = run(helper_cmd({"fds"}).pass_fd(leaky));
    EXPECT_EQ(passed.kv["fds"], "0,1,2," + std::to_string(leaky));
    auto mapped = run(helper_cmd({"fds"}).fd(7, Stdio::null()));
    EXPECT_EQ(mapped.kv["fds"], "0,1,2,7");
    auto no_stdin = run(helper_cmd({"fds"}).in(Stdio::null()));
    EXPECT_EQ(no_stdin.kv["fds"], "0,1,2");
    ::close(leaky);
}

TEST_F(Spawn, FdMappingsThatCrossEachOther) {
    // The child's 1 comes from our pipe; its 3 from what will be its 1 — the shuffle must not clobber.
    int p[2];
    ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
    unique_fd r(p[0]), w(p[1]);
    auto child = helper_cmd({"write-fd", "3", "to-three", "write-fd", "4", "to-four"})
                     .fd(3, Stdio::fd(w.get()))
                     .fd(4, Stdio::fd(w.get()))
                     .spawn();
    ASSERT_TRUE(child) << child.error().message();
    w.reset();
    EXPECT_EQ(read_all(r.get()), "to-three\nto-four\n");
    EXPECT_TRUE(child->wait()->success());
}

TEST_F(Spawn, StdioFileNullPipeAndMerge) {
    std::string path = ::testing::TempDir() + "prockit-spawn-out";
    auto st = helper_cmd({"echo", "to-file", "echo-err", "to-err"})
                  .out(Stdio::write_file(path))
                  .err(Stdio::to_stdout())
                  .status();
    ASSERT_TRUE(st);
    EXPECT_TRUE(st->success());
    EXPECT_EQ(read_file(path).value(), "to-file\nto-err\n");
    ASSERT_TRUE(helper_cmd({"echo", "again"}).out(Stdio::append_file(path)).status());
    EXPECT_EQ(read_file(path).value(), "to-file\nto-err\nagain\n");
    std::remove(path.c_str());

    auto c = helper_cmd({"cat"}).in(Stdio::pipe()).out(Stdio::pipe()).err(Stdio::null()).spawn();
    ASSERT_TRUE(c);
    ASSERT_TRUE(write_all(c->stdin_pipe().get(), "through the pipe"));
    c->stdin_pipe().reset();
    EXPECT_EQ(read_all(c->stdout_pipe().get()), "through the pipe");
    EXPECT_TRUE(c->wait()->success());

    auto err = helper_cmd({"echo-err", "oops"}).err(Stdio::pipe()).spawn();
    ASSERT_TRUE(err);
    EXPECT_EQ(read_all(err->stderr_pipe().get()), "oops\n");
    EXPECT_TRUE(err->wait()->success());

    auto bad = helper_cmd({}).out(Stdio::file("/nonexistent/x", O_WRONLY | O_CREAT)).spawn();
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().stage(), SpawnStage::prepare);
    EXPECT_NE(bad.error().message().find("/nonexistent/x"), std::string::npos);
}

TEST_F(Spawn, SessionAndProcessGroup) {
    auto plain = run(helper_cmd({"ids"}));
    EXPECT_EQ(plain.kv["pgid"], std::to_string(getpgrp()));
    auto group = run(helper_cmd({"ids"}).new_process_group());
    EXPECT_EQ(group.kv["pgid"], group.kv["pid"]);
    EXPECT_EQ(group.kv["sid"], std::to_string(getsid(0)));
    auto session = run(helper_cmd({"ids", "tty"}).new_session());
    EXPECT_EQ(session.kv["sid"], session.kv["pid"]);
    EXPECT_EQ(session.kv["pgid"], session.kv["pid"]);
    EXPECT_EQ(session.kv["tty"], "no");

    auto leader = helper_cmd({"ready", "pause"}).new_process_group().out(Stdio::pipe()).spawn();
    ASSERT_TRUE(leader);
    ASSERT_EQ(read_line(leader->stdout_pipe().get()), "ready");
    auto joined = run(helper_cmd({"ids"}).join_process_group(leader->pid()));
    EXPECT_EQ(joined.kv["pgid"], std::to_string(leader->pid()));
    EXPECT_TRUE(leader->kill());
    EXPECT_EQ(leader->wait()->signal(), SIGKILL);

    auto bad = helper_cmd({}).join_process_group(999999).spawn();
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().stage(), SpawnStage::session);
}

TEST_F(Spawn, SignalMaskAndDispositionsAreReset) {
    // The parent blocks USR1 and ignores PIPE; the child starts clean unless asked.
    SignalMaskGuard block{SIGUSR1};
    struct sigaction ign {}, old {};
    ign.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ign, &old);
    auto clean = run(helper_cmd({"sigmask"}));
    EXPECT_EQ(clean.kv["sigblk"], "0000000000000000");
    EXPECT_EQ(clean.kv["sigign"], "0000000000000000");
    auto kept = run(helper_cmd({"sigmask"}).keep_ignored_signals());
    EXPECT_EQ(kept.kv["sigign"], "0000000000001000");  // bit 12 = SIGPIPE (13)
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGUSR2);
    auto masked = run(helper_cmd({"sigmask"}).signal_mask(mask));
    EXPECT_EQ(masked.kv["sigblk"], "0000000000000800");  // bit 11 = SIGUSR2 (12)
    sigaction(SIGPIPE, &old, nullptr);
}

TEST_F(Spawn, ResourceLimits) {
    auto r = run(helper_cmd({"rlimit", "nofile", "rlimit", "core"})
                     .rlimit(RLIMIT_NOFILE, 64, 128)
                     .rlimit(RLIMIT_CORE, 0, 0));
    EXPECT_EQ(r.kv["rlimit.nofile"], "64:128");
    EXPECT_EQ(r.kv["rlimit.core"], "0:0");
    auto bad = helper_cmd({}).rlimit(RLIMIT_NOFILE, 256, 128).spawn();  // soft above hard
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().stage(), SpawnStage::rlimit);
    EXPECT_EQ(bad.error().errno_value(), EINVAL);
}

TEST_F(Spawn, RaisingAHardLimitNeedsCapSysResource) {
    rlimit cur{};
    getrlimit(RLIMIT_NOFILE, &cur);
    if (cur.rlim_max == RLIM_INFINITY) GTEST_SKIP() << "the hard nofile limit is already unlimited";
    auto r = helper_cmd({"rlimit", "nofile"}).rlimit(RLIMIT_NOFILE, cur.rlim_max + 1, cur.rlim_max + 1).spawn();
    if (!r) {
        EXPECT_EQ(r.error().stage(), SpawnStage::rlimit);
        EXPECT_EQ(r.error().errno_value(), EPERM);
        GTEST_SKIP() << "raising a hard limit needs CAP_SYS_RESOURCE, which this process lacks (EPERM checked)";
    }
    EXPECT_TRUE(r->wait()->success());
}

TEST_F(Spawn, NiceAffinityOomScoreUmask) {
    CpuSet one{static_cast<unsigned>(sched_getcpu())};
    auto r = run(helper_cmd({"nice", "affinity", "oom", "umask"}).nice(7).affinity(one).oom_score_adj(345).umask(027));
    EXPECT_EQ(r.kv["nice"], "7");
    EXPECT_EQ(r.kv["cpus"], std::to_string(one.cpus().front()));
    EXPECT_EQ(r.kv["oom_score_adj"], "345");
    EXPECT_EQ(r.kv["umask"], "0027");

    auto empty = helper_cmd({}).affinity(CpuSet{}).spawn();
    ASSERT_FALSE(empty);
    EXPECT_EQ(empty.error().stage(), SpawnStage::prepare);
    auto out_of_range = helper_cmd({}).oom_score_adj(1001).spawn();
    ASSERT_FALSE(out_of_range);
    EXPECT_NE(out_of_range.error().message().find("1001"), std::string::npos);
    auto offline = helper_cmd({}).affinity(CpuSet{4095}).spawn();
    ASSERT_FALSE(offline);
    EXPECT_EQ(offline.error().stage(), SpawnStage::affinity);
}

TEST_F(Spawn, NegativeOomScoreNeedsCapSysResource) {
    auto r = helper_cmd({"oom"}).oom_score_adj(-500).out(Stdio::pipe()).spawn();
    if (!r) {
        EXPECT_EQ(r.error().stage(), SpawnStage::oom_score_adj);
        EXPECT_EQ(r.error().errno_value(), EACCES);
        GTEST_SKIP() << "a negative oom_score_adj needs CAP_SYS_RESOURCE, which this process lacks (EACCES checked)";
    }
    EXPECT_EQ(read_all(r->stdout_pipe().get()), "oom_score_adj=-500\n");
    EXPECT_TRUE(r->wait()->success());
}

TEST_F(Spawn, CredentialsAndNoNewPrivs) {
    auto nnp = run(helper_cmd({"status", "NoNewPrivs"}).no_new_privs());
    EXPECT_EQ(nnp.kv["NoNewPrivs"], "1");
    if (geteuid() != 0) GTEST_SKIP() << "changing uid/gid needs root";
    auto r = run(helper_cmd({"ids"}).groups({65534, 100}).group(65534).user(65534));
    EXPECT_EQ(r.kv["uid"], "65534");
    EXPECT_EQ(r.kv["gid"], "65534");
    EXPECT_EQ(r.kv["groups"], "100,65534");  // the kernel keeps them sorted
}

TEST_F(Spawn, ParentDeathSignal) {
    // The kernel sends the signal when the spawning *thread* ends: spawn from a thread that then
    // exits, and watch the child through a second handle.
    std::optional<Child> watch;
    std::thread t([&] {
        auto c = helper_cmd({"pause"}).parent_death_signal(SIGUSR2).on_destroy(DestroyPolicy::detach).spawn().value();
        watch.emplace(Child::adopt(c.pid()).value());
        c.detach();
    });
    t.join();
    ASSERT_TRUE(watch);
    auto st = watch->wait_for(30s);
    ASSERT_TRUE(st && st->has_value()) << "the child did not get its parent-death signal";
    EXPECT_EQ((*st)->signal(), SIGUSR2);
}

TEST_F(Spawn, CommandIsReusable) {
    Command c = helper_cmd({"exit", "3"});
    for (int i = 0; i < 3; ++i) {
        auto st = c.status();
        ASSERT_TRUE(st);
        EXPECT_EQ(st->code(), 3);
    }
}

TEST_F(Spawn, ManyInFlight) {
    std::vector<Child> kids;
    for (int i = 0; i < 50; ++i) kids.push_back(helper_cmd({"exit", std::to_string(i % 7)}).spawn().value());
    for (int i = 0; i < 50; ++i) EXPECT_EQ(kids[static_cast<size_t>(i)].wait()->code(), i % 7);
}

TEST_F(Spawn, ConcurrentlyFromSeveralThreads) {
    // Each thread keeps its own child stack between spawns (command.cpp): threads spawning at the
    // same time must never share one, or children would run on each other's frames.
    constexpr int kThreads = 4, kEach = 30;
    std::atomic<int> wrong{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
        threads.emplace_back([&, t] {
            for (int i = 0; i < kEach; ++i) {
                int code = (t * kEach + i) % 100;
                auto st = helper_cmd({"exit", std::to_string(code)}).status();
                if (!st || st->code() != code) wrong.fetch_add(1);
            }
        });
    for (auto& th : threads) th.join();
    EXPECT_EQ(wrong.load(), 0);
}

TEST_F(Spawn, FromAThreadWhileAnotherSignalsUs) {
    // Signals arriving while spawning must not run our handlers on the child's side.
    static std::atomic<int> hits{0};
    struct sigaction sa {}, old {};
    sa.sa_handler = [](int) { hits.fetch_add(1); };
    sigaction(SIGUSR1, &sa, &old);
    std::atomic<bool> stop{false};
    pthread_t self = pthread_self();
    std::thread noise([&] {
        while (!stop) pthread_kill(self, SIGUSR1), std::this_thread::yield();
    });
    for (int i = 0; i < 100; ++i) {
        auto st = helper_cmd({"exit", "0"}).status();
        ASSERT_TRUE(st) << st.error().message();
        EXPECT_TRUE(st->success());
    }
    stop = true;
    noise.join();
    sigaction(SIGUSR1, &old, nullptr);
    EXPECT_GT(hits.load(), 0);
}
