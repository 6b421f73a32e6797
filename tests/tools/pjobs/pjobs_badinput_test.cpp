// Bad input: one line `pjobs: cannot <verb> <object>: <reason>` and the documented exit status.
#include "pjobs_support.hpp"
#include "tools/common/bad_input_matrix.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <pwd.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

using namespace prockit;
using namespace prockit::test;
using namespace std::chrono_literals;

TEST(PjobsBadInput, UnknownJobSpecs) {
    Pjobs pj;
    auto k = pj({"kill", "%9"});
    EXPECT_EQ(k.code, 1);
    EXPECT_EQ(k.err, "pjobs: cannot signal %9: no such job\n");
    auto w = pj({"wait", "%9"});
    EXPECT_EQ(w.code, 127);
    EXPECT_EQ(w.err, "pjobs: cannot wait for %9: no such job\n");
    auto f = pj({"fg"});
    EXPECT_EQ(f.code, 1);
    EXPECT_EQ(f.err, "pjobs: cannot attach the current job: there is no current job\n");
    ASSERT_EQ(pj({"run", "--", "sleep", "61"}).code, 0);
    ASSERT_EQ(pj({"run", "--", "sleep", "62"}).code, 0);
    auto amb = pj({"logs", "%sleep"});
    EXPECT_EQ(amb.code, 1);
    EXPECT_EQ(amb.err, "pjobs: cannot show the log of %sleep: ambiguous job spec\n");
}

TEST(PjobsBadInput, FgOnAFinishedJobAndWithoutATerminal) {
    Pjobs pj;
    ASSERT_EQ(pj({"run", "--", "true"}).code, 0);
    ASSERT_EQ(pj({"wait", "%1"}).code, 0);
    auto f = pj({"fg", "%1"});
    EXPECT_EQ(f.code, 1);
    EXPECT_EQ(f.err, "pjobs: cannot attach job 1: it has finished (Done)\n");
    ASSERT_EQ(pj({"run", "--", "sleep", "60"}).code, 0);
    auto t = pj({"fg", "%2"});  // stdin is a file here
    EXPECT_EQ(t.code, 1);
    EXPECT_EQ(t.err, "pjobs: cannot attach job 2: standard input is not a terminal\n");
}

TEST(PjobsBadInput, CommandNotFoundOrNotExecutable) {
    Pjobs pj;
    auto r = pj({"run", "--", "no-such-command-pjobs"});
    EXPECT_EQ(r.code, 127);
    EXPECT_NE(r.err.find("pjobs: cannot run no-such-command-pjobs: "), std::string::npos) << r.err;
    std::string plain = pj.file("plain");
    spit(plain, "not a program\n");
    chmod(plain.c_str(), 0644);
    auto x = pj({"run", "--", plain});
    EXPECT_EQ(x.code, 126);
    EXPECT_EQ(x.err, "pjobs: cannot run " + plain + ": Permission denied\n");
    chmod(plain.c_str(), 0755);  // executable, but not a program: the holder's spawn says why
    auto f = pj({"run", "--", plain});
    EXPECT_EQ(f.code, 126);
    EXPECT_EQ(f.err, "pjobs: cannot run " + plain + ": Exec format error\n");
    EXPECT_EQ(pj.list().size(), 0u);
    auto u = pj({"run", "--bogus", "--", "true"});
    EXPECT_EQ(u.code, 2);
    auto d = pj({"run", "--cwd", "missing", "--", "true"});
    EXPECT_EQ(d.code, 1);
    EXPECT_EQ(d.err, "pjobs: cannot change directory to " + pj.file("missing") + ": No such file or directory\n");
}

TEST(PjobsBadInput, ACorruptStateFileIsReportedAndWhatCanBeReadIsKept) {
    Pjobs pj;
    ASSERT_EQ(pj({"run", "--no-tty", "--", "echo", "one"}).code, 0);
    ASSERT_EQ(pj({"run", "--no-tty", "--", "echo", "two"}).code, 0);
    ASSERT_EQ(pj({"wait"}).code, 0);
    ASSERT_EQ(pj({"server", "stop"}).code, 0);
    std::string table = pj.statedir() + "/pjobs-jobs.jsonl";
    std::string text = slurp(table);
    auto second = text.find("\n{\"argv\":[\"echo\",\"two\"]");
    ASSERT_NE(second, std::string::npos) << text;
    spit(table, text.substr(0, second + 1) + "{\"argv\":[\"ec\x01 garbage\n");  // job 2's line torn
    auto l = pj({"list"});
    EXPECT_EQ(l.code, 0);
    EXPECT_NE(l.err.find("pjobs: warning: state file " + table + ": 1 of "), std::string::npos) << l.err;
    EXPECT_NE(l.out.find("echo one"), std::string::npos) << l.out;
    EXPECT_EQ(l.out.find("echo two"), std::string::npos) << l.out;
    EXPECT_EQ(access((table + ".corrupt").c_str(), F_OK), 0);
    EXPECT_EQ(pj({"logs", "%1"}).out, "one\n");
}

// A record whose fields have other types than pjobs writes ("touch" a string, an argv word a
// number) is dropped as unreadable, not thrown on by the server (found by fuzzing:
// tests/fuzz/pjobs_state).
TEST(PjobsBadInput, AStateFileRecordOfWrongTypesIsSkipped) {
    Pjobs pj;
    ASSERT_EQ(pj({"run", "--no-tty", "--", "echo", "one"}).code, 0);
    ASSERT_EQ(pj({"wait"}).code, 0);
    ASSERT_EQ(pj({"server", "stop"}).code, 0);
    std::string table = pj.statedir() + "/pjobs-jobs.jsonl";
    std::string text = slurp(table);
    spit(table, text + "{\"id\":7,\"argv\":[\"x\"],\"touch\":\"7\"}\n{\"id\":8,\"argv\":[8],\"state\":\"done\"}\n");
    auto l = pj({"list"});
    EXPECT_EQ(l.code, 0) << l.err;
    EXPECT_NE(l.err.find("pjobs: warning: state file " + table + ": 2 of "), std::string::npos) << l.err;
    EXPECT_NE(l.out.find("echo one"), std::string::npos) << l.out;
    EXPECT_EQ(l.out.find("[7]"), std::string::npos) << l.out;
    EXPECT_EQ(l.out.find("[8]"), std::string::npos) << l.out;
}

TEST(PjobsBadInput, ARuntimeDirectoryOpenToOthersIsRefused) {
    Pjobs pj;
    mkdir(pj.runtime().c_str(), 0700);
    mkdir(pj.rundir().c_str(), 0755);
    chmod(pj.rundir().c_str(), 0755);
    auto r = pj({"list"});
    EXPECT_EQ(r.code, 1);
    EXPECT_EQ(r.err, "pjobs: cannot use runtime directory " + pj.rundir() + ": its mode is 0755, not 0700\n");
    rmdir(pj.rundir().c_str());
    ASSERT_EQ(symlink("/tmp", pj.rundir().c_str()), 0);
    r = pj({"list"});
    EXPECT_EQ(r.code, 1);
    EXPECT_EQ(r.err, "pjobs: cannot use runtime directory " + pj.rundir() + ": it is a symbolic link\n");
    unlink(pj.rundir().c_str());
}

namespace {
// Sends one framed JSON request to the server's socket from a child process running as `uid`
// (when not 0) and returns the answer's text.
std::string raw_request(const std::string& socket, const std::string& json, uid_t uid, gid_t gid) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) return "pipe";
    std::string frame(4, '\0');
    uint32_t len = htonl(static_cast<uint32_t>(json.size() + 1));
    std::memcpy(frame.data(), &len, 4);
    frame += 'j';
    frame += json;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, socket.c_str(), sizeof addr.sun_path - 1);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        if (uid != 0 && (setresgid(gid, gid, gid) != 0 || setresuid(uid, uid, uid) != 0)) _exit(3);
        int s = ::socket(AF_UNIX, SOCK_STREAM, 0);
        if (connect(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
            dprintf(p[1], "connect: %s", strerror(errno));
            _exit(0);
        }
        // The server may refuse (answer and close) before the request is written: the answer
        // is read whether or not the write succeeds.
        signal(SIGPIPE, SIG_IGN);
        ssize_t w = write(s, frame.data(), frame.size());
        (void)w;
        char buf[4096];
        ssize_t n;
        while ((n = read(s, buf, sizeof buf)) > 0)
            if (write(p[1], buf, static_cast<size_t>(n)) != n) _exit(5);
        _exit(0);
    }
    close(p[1]);
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = read(p[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    close(p[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    if (out.empty()) return "(no answer; the child's status is " + std::to_string(st) + ")";
    return out.size() > 5 ? out.substr(5) : out;
}
}  // namespace

TEST(PjobsBadInput, AnotherProtocolVersionGetsAClearError) {
    Pjobs pj;
    ASSERT_EQ(pj({"list"}).code, 0);  // starts the server
    auto answer = raw_request(pj.rundir() + "/pjobs.sock", R"({"v":99,"op":"list"})", 0, 0);
    EXPECT_NE(answer.find("protocol version 99 is not supported (the server speaks version 1"), std::string::npos) << answer;
}

TEST(PjobsBadInput, ARequestFieldOfTheWrongTypeIsRefusedAndTheServerGoesOn) {
    Pjobs pj;
    ASSERT_EQ(pj({"run", "--no-tty", "--", "true"}).code, 0);  // starts the server, with one job
    // Each is answered and its connection closed (raw_request reads to the end).
    // A float anywhere (the protocol has none): converted to an integer field, one out of range
    // would be undefined behaviour.
    for (const char* bad : {R"({"v":"1","op":"list"})", R"({"v":1,"op":7})", R"({"v":1,"op":"run","argv":"true"})",
                            R"({"v":1,"op":"group","group":"g","parallel":1e30})", R"({"v":1,"op":"list","x":[{"y":-2.5}]})"}) {
        auto answer = raw_request(pj.rundir() + "/pjobs.sock", bad, 0, 0);
        EXPECT_NE(answer.find("cannot read the request: a field has the wrong type"), std::string::npos)
            << bad << " -> " << answer;
    }
    auto list = pj({"list"});
    EXPECT_EQ(list.code, 0) << list.err;
    EXPECT_NE(list.out.find("[1]"), std::string::npos) << list.out;
}

TEST(PjobsBadInput, AnotherUserIsRefused) {
    if (geteuid() != 0) GTEST_SKIP() << "needs root to act as another user";
    const char* name = "prockit-test-u";
    if (!getpwnam(name)) {
        std::string cmd = std::string("useradd --system --no-create-home --shell /usr/sbin/nologin ") + name + " >/dev/null 2>&1";
        if (std::system(cmd.c_str()) != 0) GTEST_SKIP() << "cannot create the test user";
    }
    passwd* pw = getpwnam(name);
    ASSERT_NE(pw, nullptr);
    Pjobs pj;
    ASSERT_EQ(pj({"run", "--", "sleep", "60"}).code, 0);
    // The socket's directory is 0700: let the other user reach the socket, so SO_PEERCRED decides.
    chmod(pj.dir.path.c_str(), 0755);
    chmod(pj.runtime().c_str(), 0755);
    chmod(pj.rundir().c_str(), 0711);
    chmod((pj.rundir() + "/pjobs.sock").c_str(), 0666);
    auto answer = raw_request(pj.rundir() + "/pjobs.sock", R"({"v":1,"op":"list"})", pw->pw_uid, pw->pw_gid);
    EXPECT_NE(answer.find("cannot talk to the server: permission denied (it belongs to uid 0, the client is uid " +
                          std::to_string(pw->pw_uid) + ")"),
              std::string::npos)
        << answer;
    EXPECT_EQ(answer.find("sleep"), std::string::npos);
    // pjobs itself, run as that user with our directories, refuses the directory first.
    if (access("/usr/bin/setpriv", X_OK) == 0) {
        auto r = run_program("/usr/bin/setpriv",
                             {"--reuid=" + std::to_string(pw->pw_uid), "--regid=" + std::to_string(pw->pw_gid), "--clear-groups",
                              pjobs_path(), "list"},
                             {}, 30s, [&](Command& c) { c.env("XDG_RUNTIME_DIR", pj.runtime()).env("XDG_STATE_HOME", pj.state()); });
        EXPECT_EQ(r.code, 1);
        EXPECT_NE(r.err.find("pjobs: cannot use runtime directory " + pj.rundir() + ": it belongs to uid 0, not to uid"), std::string::npos)
            << r.err;
    }
    chmod(pj.rundir().c_str(), 0700);
}

TEST(PjobsBadInput, AFullDiskTruncatesTheLogAndTheJobRunsOn) {
    if (geteuid() != 0) GTEST_SKIP() << "needs root to mount a small tmpfs";
    Pjobs pj;
    std::string state = pj.state();
    mkdir(state.c_str(), 0700);
    if (mount("tmpfs", state.c_str(), "tmpfs", 0, "size=128k") != 0) GTEST_SKIP() << "cannot mount a tmpfs: " << strerror(errno);
    struct Unmount {
        std::string p;
        ~Unmount() { umount2(p.c_str(), MNT_DETACH); }
    } unmount{state};
    std::string go = pj.file("go");
    ASSERT_EQ(pj({"run", "--no-tty", "--", "sh", "-c",
                  "head -c 400000 /dev/zero | tr '\\0' x; echo; while [ ! -e " + go + " ]; do sleep 0.02; done; echo done"}).code,
              0);
    EXPECT_TRUE(eventually([&] { return !pj.job(1).value("log_error", "").empty(); }));
    EXPECT_EQ(pj.state_of(1), "running");
    touch(go);
    EXPECT_EQ(pj({"wait", "%1"}).code, 0);
    auto l = pj({"logs", "--tail", "0", "%1"});
    EXPECT_EQ(l.err, "pjobs: warning: the log of job 1 is truncated: No space left on device\n");
    pj({"server", "stop"});
}

// The bad-input matrix: every subcommand and every option that takes a value, with empty,
// negative, overflowing, trailing-garbage and non-UTF-8 values; job specs that name no job, a
// finished one, two jobs, an unknown or a zombie PID; /dev/zero, a directory, a missing and a
// forbidden path as the working directory or the command; the runtime directory of another
// user; unknown options and subcommands. Each row: the exit status of pjobs(1) EXIT STATUS and
// one line `pjobs: cannot <verb> <object>: <reason>`. No row may add a job or disturb the server.
namespace prockit::test {
namespace {

using matrix::Row;

TEST(PjobsBadInput, EveryBadInputIsRefusedWithItsStatusAndOneHouseFormLine) {
    Pjobs pj;
    // Three jobs to aim at: %1 has finished, %2 and %3 run the same command (so %sleep is ambiguous).
    ASSERT_EQ(pj({"run", "--name", "done", "--", "true"}).code, 0);
    ASSERT_EQ(pj({"wait", "%1"}).code, 0);
    ASSERT_EQ(pj({"run", "--", "sleep", "600"}).code, 0);
    ASSERT_EQ(pj({"run", "--", "sleep", "601"}).code, 0);
    const std::size_t jobs = pj.list().size();
    ASSERT_EQ(jobs, 3u);
    const pid_t server = pj.server_pid();
    ASSERT_GT(server, 0);
    matrix::Zombie zombie;
    const std::string Z = zombie.str();
    const std::string U = matrix::unused_pid();
    const std::string plain = pj.file("plain");  // a file that is not a program
    spit(plain, "not a program\n");
    chmod(plain.c_str(), 0644);
    const std::string bad = "\xff\xfe";
    const std::string T = R"(; try 'pjobs --help')";
    const std::string own = pj.rundir();
    const std::vector<Row> rows = {
        // Unknown subcommands and options.
        {{"bogus"}, 2, R"(cannot parse the command line: the following argument was not expected: bogus)" + T},
        {{"--bogus"}, 2, R"(cannot parse the command line: the following argument was not expected: --bogus)" + T},
        {{bad}, 2, R"(cannot parse the command line: the following argument was not expected: )"},
        {{"list", "extra"}, 2, R"(cannot parse the command line: the following argument was not expected: extra)" + T},
        {{"list", "-J", "--bogus"}, 2, R"(cannot parse the command line: the following argument was not expected: --bogus)" + T},
        {{"clean", "extra"}, 2, R"(cannot parse the command line: the following argument was not expected: extra)" + T},
        {{"list", "--", "x"}, 2, R"(cannot use '--': it is only for 'pjobs run -- CMD ARGS')" + T},
        // run: the command.
        {{"run"}, 2, R"(cannot run a job: no command given)"},
        {{"run", "--"}, 2, R"(cannot run a job: no command given)"},
        {{"run", "--bogus", "--", "true"}, 2, R"(cannot parse the command line: the following argument was not expected: --bogus)" + T},
        {{"run", "--", "no-such-command-pjobs"}, 127, R"(cannot run no-such-command-pjobs: )"},
        {{"run", "--", ""}, 2, R"(cannot run a job: the command's name is empty)" + T},
        {{"run", "--", "/tmp"}, 126, R"(cannot run /tmp: Permission denied$)"},
        {{"run", "--", "/dev/zero"}, 126, R"(cannot run /dev/zero: Permission denied$)"},
        {{"run", "--", plain}, 126, "cannot run " + plain + ": Permission denied$"},
        // run's options: empty, out of range, overflow, garbage.
        {{"run", "--name", "", "--", "true"}, 2, R"(cannot parse --name "": empty name)" + T},
        {{"run", "--group", "", "--", "true"}, 2, R"(cannot parse --group "": empty group name)" + T},
        {{"run", "--after", "", "--", "true"}, 2, R"(cannot parse --after "": empty job spec)" + T},
        {{"run", "--after", "%9", "--", "true"}, 1, R"(cannot run after %9: no such job$)"},
        {{"run", "--cwd", "", "--", "true"}, 2, R"(cannot parse --cwd "": empty directory)" + T},
        {{"run", "--cwd", "/nonexistent/d", "--", "true"}, 1, R"(cannot change directory to /nonexistent/d: No such file or directory$)"},
        {{"run", "--cwd", "/dev/zero", "--", "true"}, 1, R"(cannot change directory to /dev/zero: Not a directory$)"},
        {{"run", "--cwd", plain, "--", "true"}, 1, "cannot change directory to " + plain + ": Not a directory$"},
        {{"run", "--env", "", "--", "true"}, 2, R"(cannot parse --env "": expected KEY=VALUE)"},
        {{"run", "--env", "=V", "--", "true"}, 2, R"(cannot parse --env "=V": expected KEY=VALUE)"},
        {{"run", "--cpus", "", "--", "true"}, 2, R"(cannot parse --cpus "": empty CPU list)" + T},
        {{"run", "--cpus", "1,", "--", "true"}, 2, R"(cannot parse --cpus "1,": list ends with ',' at character 3)" + T},
        {{"run", "--cpus", "0-", "--", "true"}, 2, R"(cannot parse --cpus "0-": expected a CPU number at character 3)" + T},
        {{"run", "--cpus", "-1", "--", "true"}, 2, R"(cannot parse --cpus "-1": )"},
        {{"run", "--cpus", "0x0", "--", "true"}, 2, R"(cannot use --cpus "0x0": it names no CPU)" + T},
        {{"run", "--cpus", "2147483648", "--", "true"}, 2, R"(cannot parse --cpus "2147483648": CPU number is not below the limit)"},
        {{"run", "--cpus", "18446744073709551616", "--", "true"}, 2, R"(cannot parse --cpus "18446744073709551616": )"},
        {{"run", "--cpus", bad, "--", "true"}, 2, R"(cannot parse --cpus "[^"]+": expected a CPU number at character 1)"},
        {{"run", "--nice", "", "--", "true"}, 2, R"(cannot parse --nice "": expected a number from -20 to 19)" + T},
        {{"run", "--nice", "20", "--", "true"}, 2, R"(cannot parse --nice "20": expected a number from -20 to 19)" + T},
        {{"run", "--nice", "-21", "--", "true"}, 2, R"(cannot parse --nice "-21": expected a number from -20 to 19)" + T},
        {{"run", "--nice", "3x", "--", "true"}, 2, R"(cannot parse --nice "3x": expected a number from -20 to 19)" + T},
        {{"run", "--nice", "2147483648", "--", "true"}, 2, R"(cannot parse --nice "2147483648": expected a number)"},
        {{"run", "--nice", "9223372036854775808", "--", "true"}, 2, R"(cannot parse --nice "9223372036854775808": expected a number)"},
        {{"run", "--nice", "1e999", "--", "true"}, 2, R"(cannot parse --nice "1e999": expected a number)"},
        {{"run", "--oom-score-adj", "", "--", "true"}, 2, R"(cannot parse --oom-score-adj "": expected a number from -1000 to 1000)" + T},
        {{"run", "--oom-score-adj", "1001", "--", "true"}, 2, R"(cannot parse --oom-score-adj "1001": expected a number from -1000 to 1000)" + T},
        {{"run", "--oom-score-adj", "1,", "--", "true"}, 2, R"(cannot parse --oom-score-adj "1,": expected a number)"},
        {{"run", "--oom-score-adj", "18446744073709551616", "--", "true"}, 2, R"(cannot parse --oom-score-adj "18446744073709551616": )"},
        // Job specs: none, empty, unknown, finished, ambiguous, a PID that is no job.
        {{"fg", ""}, 2, R"(cannot parse SPEC "": empty job spec)" + T},
        {{"fg", "%9"}, 1, R"(cannot attach %9: no such job$)"},
        {{"fg", "%1"}, 1, R"(cannot attach job 1: it has finished \(Done\)$)"},
        {{"fg", "%2"}, 1, R"(cannot attach job 2: standard input is not a terminal$)"},
        {{"fg", "%sleep"}, 1, R"(cannot attach %sleep: ambiguous job spec$)"},
        {{"fg", "%2", "%3"}, 2, R"(cannot parse the command line: spec: at most 1 required but received 2)" + T},
        {{"fg", "--detach-key", "", "%2"}, 2, R"(cannot parse --detach-key "": expected \^X, one character or none)"},
        {{"fg", "--detach-key", "abc", "%2"}, 2, R"(cannot parse --detach-key "abc": expected \^X, one character or none)"},
        {{"bg", ""}, 2, R"(cannot parse SPEC "": empty job spec)" + T},
        {{"bg", "%9"}, 1, R"(cannot continue %9: no such job$)"},
        {{"bg", "%1"}, 1, R"(cannot continue job 1: it has finished \(Done\)$)"},
        {{"stop"}, 2, R"(cannot parse the command line: spec is required)" + T},
        {{"stop", ""}, 2, R"(cannot parse SPEC "": empty job spec)" + T},
        {{"stop", "%9"}, 1, R"(cannot stop %9: no such job$)"},
        {{"stop", "%1"}, 1, R"(cannot stop job 1: it has finished \(Done\)$)"},
        {{"stop", "2147483648"}, 1, R"(cannot stop 2147483648: no such job$)"},
        {{"stop", "18446744073709551616"}, 1, R"(cannot stop 18446744073709551616: no such job$)"},
        {{"stop", "-5"}, 1, R"(cannot stop -5: no such job$)"},
        {{"stop", "%" + bad}, 1, R"(cannot stop %[^:]+: no such job$)"},
        {{"kill"}, 2, R"(cannot parse the command line: spec is required)" + T},
        {{"kill", "%9"}, 1, R"(cannot signal %9: no such job$)"},
        {{"kill", "%1"}, 1, R"(cannot signal job 1: it has finished \(Done\)$)"},
        {{"kill", U}, 1, "cannot signal " + U + ": no such job$"},
        {{"kill", Z}, 1, "cannot signal " + Z + ": no such job$"},
        {{"kill", "%sleep"}, 1, R"(cannot signal %sleep: ambiguous job spec$)"},
        {{"kill", "-s", "", "%2"}, 2, R"(cannot parse --signal "": unknown signal)"},
        {{"kill", "-s", "BOGUS", "%2"}, 2, R"(cannot parse --signal "BOGUS": unknown signal)"},
        {{"kill", "-s", "99", "%2"}, 2, R"(cannot parse --signal "99": unknown signal)"},
        {{"kill", "-s", "-1", "%2"}, 2, R"(cannot parse --signal "-1": unknown signal)"},
        {{"kill", "-s", "2147483648", "%2"}, 2, R"(cannot parse --signal "2147483648": unknown signal)"},
        {{"wait", ""}, 2, R"(cannot parse SPEC "": empty job spec)" + T},
        {{"wait", "%9"}, 127, R"(cannot wait for %9: no such job$)"},
        {{"wait", "3x"}, 127, R"(cannot wait for 3x: no such job$)"},
        {{"logs", ""}, 2, R"(cannot parse SPEC "": empty job spec)" + T},
        {{"logs", "%9"}, 1, R"(cannot show the log of %9: no such job$)"},
        {{"logs", "%sleep"}, 1, R"(cannot show the log of %sleep: ambiguous job spec$)"},
        {{"logs", "--tail", "", "%1"}, 2, R"(cannot parse --tail "": expected a number from 0)" },
        {{"logs", "--tail", "-1", "%1"}, 2, R"(cannot parse --tail "-1": expected a number from 0)"},
        {{"logs", "--tail", "3x", "%1"}, 2, R"(cannot parse --tail "3x": expected a number from 0)"},
        {{"logs", "--tail", "18446744073709551616", "%1"}, 2, R"(cannot parse --tail "18446744073709551616": expected a number)"},
        {{"rm"}, 2, R"(cannot parse the command line: spec is required)" + T},
        {{"rm", ""}, 2, R"(cannot parse SPEC "": empty job spec)" + T},
        {{"rm", "%9"}, 1, R"(cannot remove %9: no such job$)"},
        {{"rm", "%2"}, 1, R"(cannot remove job 2: it is running$)"},
        // group, server.
        {{"group"}, 2, R"(cannot parse the command line: group is required)" + T},
        {{"group", "", "--parallel", "2"}, 2, R"(cannot parse G "": empty group name)" + T},
        {{"group", "g", "--parallel", ""}, 2, R"(cannot parse --parallel "": expected a number from 1)"},
        {{"group", "g", "--parallel", "0"}, 2, R"(cannot parse --parallel "0": expected a number from 1)"},
        {{"group", "g", "--parallel", "-1"}, 2, R"(cannot parse --parallel "-1": expected a number from 1)"},
        {{"group", "g", "--parallel", "2147483648"}, 2, R"(cannot parse --parallel "2147483648": expected a number)"},
        {{"group", "g", "--parallel", "3x"}, 2, R"(cannot parse --parallel "3x": expected a number)"},
        {{"server"}, 2, R"(cannot parse the command line: action is required)" + T},
        {{"server", "bogus"}, 2, R"(cannot parse the command line: action: bogus not in \{status,stop,run\})" + T},
        {{"server", "stop", "extra"}, 2, R"(cannot parse the command line: the following argument was not expected: extra)" + T},
        // Another user, with our runtime directory: refused before anything is read.
        {{"list"}, 1, "cannot use runtime directory " + own + ": it belongs to uid 0, not to uid", {}, true},
        {{"kill", "%2"}, 1, "cannot use runtime directory " + own + ": it belongs to uid 0, not to uid", {}, true},
    };
    ASSERT_GE(rows.size(), 60u);
    matrix::Table t{"pjobs", pjobs_path()};
    t.tweak = [&](Command& c) { c.env("XDG_RUNTIME_DIR", pj.runtime()).env("XDG_STATE_HOME", pj.state()).cwd(pj.dir.path); };
    t.after_row = [&](const std::string& what) {
        EXPECT_EQ(pj.list().size(), jobs) << what << ": the job table changed";
        EXPECT_EQ(pj.server_pid(), server) << what << ": the server changed";
        EXPECT_TRUE(process_alive(server)) << what << ": the server is gone";
    };
    // The other user must reach the runtime directory's parent to be refused by the check.
    chmod(pj.dir.path.c_str(), 0755);
    chmod(pj.runtime().c_str(), 0755);
    matrix::run_table(t, rows);
    EXPECT_EQ(pj.state_of(2), "running");
    EXPECT_EQ(pj.state_of(3), "running");
}

}  // namespace
}  // namespace prockit::test
