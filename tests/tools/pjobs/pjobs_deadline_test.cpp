// pjobs requests and their deadlines: a client sends the CLOCK_MONOTONIC time after which the
// server must not carry its request out (its give-up time, PJOBS_TIMEOUT from the send, less a
// margin of 250 ms, or a quarter of a timeout under 1 s), with its time namespace; the server
// leaves a request it reads after that time undone and answers "expired". Driven at the protocol
// level: a fake server reads what the real client sends, raw requests reach the real server, and
// a client runs in a time namespace of its own (unshare --time) with its clock behind the
// server's. The stopped server itself is FaultStop.PjobsRequestsThatTimedOutAreNotCarriedOutLater.
#include "pjobs_support.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cstring>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>

using namespace prockit;
using namespace prockit::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

std::int64_t monotonic_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

std::uint64_t own_time_namespace() {
    struct stat st {};
    return ::stat("/proc/self/ns/time", &st) == 0 ? static_cast<std::uint64_t>(st.st_ino) : 0;
}

sockaddr_un address(const std::string& path) {
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::memcpy(a.sun_path, path.c_str(), std::min(path.size() + 1, sizeof a.sun_path));
    return a;
}

bool send_json_frame(int fd, const json& j) {
    std::string payload = j.dump();
    uint32_t len = htonl(static_cast<uint32_t>(payload.size() + 1));
    std::string frame(reinterpret_cast<const char*>(&len), 4);
    frame += 'j';
    frame += payload;
    return ::send(fd, frame.data(), frame.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(frame.size());
}

/// One frame's JSON, read within `limit` (null on EOF, a timeout or garbage).
json recv_json_frame(int fd, std::chrono::milliseconds limit = 30s) {
    std::string buf;
    const auto end = std::chrono::steady_clock::now() + limit;
    auto need = [&](std::size_t n) {
        while (buf.size() < n) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now()).count();
            pollfd p{fd, POLLIN, 0};
            if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0) return false;
            char tmp[4096];
            ssize_t r = ::recv(fd, tmp, std::min(sizeof tmp, n - buf.size()), 0);
            if (r <= 0) return false;
            buf.append(tmp, static_cast<std::size_t>(r));
        }
        return true;
    };
    if (!need(5)) return nullptr;
    uint32_t len = 0;
    std::memcpy(&len, buf.data(), 4);
    len = ntohl(len);
    if (len == 0 || !need(4 + len)) return nullptr;
    json j = json::parse(buf.substr(5), nullptr, false);
    return j.is_discarded() ? json(nullptr) : j;
}

/// A request straight to the running server, and its answer.
json ask(const Pjobs& pj, const json& request) {
    unique_fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    auto a = address(pj.rundir() + "/pjobs.sock");
    if (!fd || ::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return nullptr;
    if (!send_json_frame(fd.get(), request)) return nullptr;
    return recv_json_frame(fd.get());
}

}  // namespace

// What the client sends: its deadline lies between the send's bounds plus PJOBS_TIMEOUT less the
// margin (250 ms, or a quarter of a timeout under 1 s), on its own time namespace's clock; and the
// answer it gets is what it reports.
TEST(PjobsDeadline, TheClientSendsTheTimeByWhichItMustBeCarriedOut) {
    Pjobs pj;
    ASSERT_EQ(::mkdir(pj.runtime().c_str(), 0700), 0);
    ASSERT_EQ(::mkdir(pj.rundir().c_str(), 0700), 0);
    const std::string sock = pj.rundir() + "/pjobs.sock";
    struct Case {
        std::string timeout;
        std::chrono::milliseconds less;  // the deadline's distance from the send
        bool answered;  // the test answers within the timeout (400 ms may pass before it does)
    };
    for (const Case& k : {Case{"30s", 30000ms - 250ms, true}, Case{"400ms", 300ms, false}}) {
        const std::string& timeout = k.timeout;
        SCOPED_TRACE("PJOBS_TIMEOUT=" + timeout);
        unique_fd listener(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        ASSERT_TRUE(listener);
        auto a = address(sock);
        ::unlink(sock.c_str());
        ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0) << std::strerror(errno);
        ASSERT_EQ(::listen(listener.get(), 4), 0);
        const std::int64_t before = monotonic_ns();
        Command c(pjobs_path());
        c.args({"group", "g"}).env("XDG_RUNTIME_DIR", pj.runtime()).env("XDG_STATE_HOME", pj.state()).env("PJOBS_TIMEOUT", timeout);
        c.out(Stdio::null()).err(Stdio::null()).on_destroy(DestroyPolicy::kill_tree, 0s);
        auto client = c.spawn();
        ASSERT_TRUE(client) << client.error().message();
        pollfd p{listener.get(), POLLIN, 0};
        ASSERT_EQ(::poll(&p, 1, 30000), 1) << "the client did not connect";
        unique_fd conn(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
        ASSERT_TRUE(conn);
        json req = recv_json_frame(conn.get());
        const std::int64_t after = monotonic_ns();
        ASSERT_TRUE(req.is_object()) << "no request read";
        EXPECT_EQ(req.value("op", ""), "group");
        ASSERT_TRUE(req.contains("deadline") && req["deadline"].is_number_integer()) << req.dump();
        const std::int64_t deadline = req["deadline"].get<std::int64_t>(), ns = std::chrono::nanoseconds(k.less).count();
        EXPECT_GE(deadline, before + ns) << req.dump();
        EXPECT_LE(deadline, after + ns) << req.dump();
        EXPECT_EQ(req.value("timens", std::uint64_t{1}), own_time_namespace()) << req.dump();
        // The answer decides the client's status.
        bool sent = send_json_frame(conn.get(), {{"ok", false}, {"error", "cannot serve the request: refused by the test"}, {"exit", 3}});
        auto st = client->wait();
        ASSERT_TRUE(st);
        if (k.answered) {
            EXPECT_TRUE(sent);
            EXPECT_EQ(st->shell_code(), 3);
        }
    }
    ::unlink(sock.c_str());
}

// The server's side: a request read after its deadline is not carried out and is answered
// "expired"; one without a deadline (an older client), with one still ahead, or with one on
// another time namespace's clock (not comparable) is carried out; a deadline that is no number is
// refused as a field of the wrong type.
TEST(PjobsDeadline, TheServerLeavesARequestPastItsDeadlineUndone) {
    Pjobs pj;
    ASSERT_EQ(pj({"group", "g"}).code, 0);  // starts the server
    const std::uint64_t ns = own_time_namespace();
    auto parallel_of = [&](const std::string& g) {
        json r = ask(pj, {{"v", 1}, {"op", "group"}, {"group", g}});
        return r.is_object() ? r.value("parallel", 0) : -1;
    };
    json past = ask(pj, {{"v", 1}, {"op", "group"}, {"group", "g"}, {"parallel", 3}, {"deadline", monotonic_ns() - 1}, {"timens", ns}});
    ASSERT_TRUE(past.is_object());
    EXPECT_FALSE(past.value("ok", true)) << past.dump();
    EXPECT_TRUE(past.value("expired", false)) << past.dump();
    EXPECT_EQ(past.value("error", ""), "cannot talk to the server: it read the request too late to carry it out (is it stopped? see PJOBS_TIMEOUT)");
    EXPECT_EQ(parallel_of("g"), 1) << "a request past its deadline was carried out";
    // A run past its deadline starts nothing.
    json late_run = {{"v", 1},
                     {"op", "run"},
                     {"argv", json::array({"sleep", "60"})},
                     {"env", json::array({"PATH=/usr/bin:/bin"})},
                     {"cwd", "/"},
                     {"tty", false},
                     {"deadline", monotonic_ns() - 1000000},
                     {"timens", ns}};
    json r = ask(pj, late_run);
    EXPECT_TRUE(r.value("expired", false)) << r.dump();
    EXPECT_TRUE(pj.list().empty()) << pj.list().dump();

    json ahead = ask(pj, {{"v", 1}, {"op", "group"}, {"group", "g"}, {"parallel", 2}, {"deadline", monotonic_ns() + 60'000'000'000}, {"timens", ns}});
    EXPECT_TRUE(ahead.value("ok", false)) << ahead.dump();
    EXPECT_EQ(parallel_of("g"), 2);
    json older = ask(pj, {{"v", 1}, {"op", "group"}, {"group", "g"}, {"parallel", 4}});
    EXPECT_TRUE(older.value("ok", false)) << older.dump();
    EXPECT_EQ(parallel_of("g"), 4);
    json other = ask(pj, {{"v", 1}, {"op", "group"}, {"group", "g"}, {"parallel", 5}, {"deadline", 1}, {"timens", ns + 1}});
    EXPECT_TRUE(other.value("ok", false)) << other.dump();
    EXPECT_EQ(parallel_of("g"), 5);
    json bad = ask(pj, {{"v", 1}, {"op", "group"}, {"group", "g"}, {"parallel", 6}, {"deadline", "soon"}, {"timens", ns}});
    EXPECT_FALSE(bad.value("ok", true)) << bad.dump();
    EXPECT_EQ(bad.value("error", ""), "cannot read the request: a field has the wrong type");
    EXPECT_EQ(parallel_of("g"), 5);
    // The server says in its log what it left undone.
    std::string log = slurp(pj.statedir() + "/pjobs-server.log");
    EXPECT_NE(log.find("pjobs server: cannot carry out a request ('group'): it was read "), std::string::npos) << log;
    EXPECT_NE(log.find("pjobs server: cannot carry out a request ('run'): it was read "), std::string::npos) << log;
}

// A client in another time namespace, whose CLOCK_MONOTONIC runs behind the server's: its
// deadline is on a clock the server cannot compare, so its requests are carried out as before
// (compared, every one would be read as long past its deadline and refused).
TEST(PjobsDeadline, AClientInAnotherTimeNamespaceIsServed) {
    const std::int64_t now_s = monotonic_ns() / 1000000000;
    if (now_s < 120) GTEST_SKIP() << "the machine's clock is too young for an offset";
    if (::access("/usr/bin/unshare", X_OK) != 0) GTEST_SKIP() << "no /usr/bin/unshare";
    Pjobs pj;
    ASSERT_EQ(pj({"group", "g"}).code, 0);  // the server, in this time namespace
    const std::string behind = std::to_string(-(now_s - 60));  // the client's clock at about 60 s
    auto r = run_program("/usr/bin/unshare", {"--time", "--monotonic=" + behind, pjobs_path(), "group", "g", "--parallel", "3"}, {}, 60s,
                         [&](Command& c) { c.env("XDG_RUNTIME_DIR", pj.runtime()).env("XDG_STATE_HOME", pj.state()).cwd(pj.dir.path); });
    if (r.code != 0 && r.err.rfind("unshare:", 0) == 0) GTEST_SKIP() << "cannot make a time namespace here: " << r.err;
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, "group g: parallel 3, 0 running, 0 queued\n");
    json g = ask(pj, {{"v", 1}, {"op", "group"}, {"group", "g"}});
    EXPECT_EQ(g.value("parallel", 0), 3) << g.dump();
}
