// Bad input: one line `pjobs: cannot <verb> <object>: <reason>` and the documented exit status.
#include "pjobs_support.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <pwd.h>
#include <sys/mount.h>
#include <sys/socket.h>
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
