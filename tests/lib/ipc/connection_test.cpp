// Listener/Client (paths, abstract names, HMAC authentication both ways, timeouts, peer death)
// and wait() over connections, processes and fds.
#include "ipc_support.hpp"

#include <prockit/ipc/connection.hpp>
#include <prockit/sys/syscall.hpp>

#include <csignal>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

using namespace prockit;
using namespace prockit::test;
using namespace std::chrono_literals;

namespace {

class ConnectionTest : public NoLeaks {};

std::string temp_socket_path() {
    return "/tmp/prockit-conn-test-" + std::to_string(::getpid()) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".sock";
}

bool path_exists(const std::string& p) {
    struct stat st{};
    return ::lstat(p.c_str(), &st) == 0;
}

}  // namespace

TEST_F(ConnectionTest, PathListenerTalksToAClientAndRemovesItsPath) {
    std::string path = temp_socket_path();
    {
        Listener server(path, "secret");
        EXPECT_EQ(server.address(), path);
        EXPECT_TRUE(path_exists(path));
        auto p = spawn_fn([&] {
            Connection c = Client(path, "secret", 30s);
            c.send(std::string("ping"));
            return c.recv<int>(30s) == 42 ? 0 : 3;
        });
        Connection c = server.accept(30s);
        EXPECT_EQ(c.recv<std::string>(30s), "ping");
        c.send(42);
        EXPECT_EQ(join_code(*p), 0);
    }
    EXPECT_FALSE(path_exists(path)) << "the Listener left its socket file behind";
}

TEST_F(ConnectionTest, ReplacesAStaleSocketFileButNotALiveListener) {
    std::string path = temp_socket_path();
    {
        // A socket file with nobody listening (its listener died without cleaning up).
        int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un sa{};
        sa.sun_family = AF_UNIX;
        std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path.c_str());
        ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
        ::close(fd);
    }
    ASSERT_TRUE(path_exists(path));
    Listener server(path);
    try {
        Listener second(path);
        ADD_FAILURE() << "a second listener took over a live one's address";
    } catch (const SystemError& e) {
        EXPECT_EQ(e.code(), std::errc::address_in_use);
    }
    server.close();
    EXPECT_FALSE(path_exists(path));
}

TEST_F(ConnectionTest, AbstractNamesLeaveNoFileAndDefaultToAFreshName) {
    Listener a, b;
    EXPECT_EQ(a.address().substr(0, 1), "@");
    EXPECT_NE(a.address(), b.address());
    auto p = spawn_fn([&] {
        Connection c = Client(a.address());
        c.send(7);
        return 0;
    });
    Connection c = a.accept(30s);
    EXPECT_EQ(c.recv<int>(30s), 7);
    EXPECT_EQ(join_code(*p), 0);
}

TEST_F(ConnectionTest, AWrongKeyIsRefusedAtBothEnds) {
    Listener server({}, "right key");
    auto p = spawn_fn([&] {
        try {
            Client(server.address(), "wrong key", 30s);
        } catch (const AuthenticationError&) {
            return 0;
        }
        return 3;
    });
    EXPECT_THROW(server.accept(30s), AuthenticationError);
    EXPECT_EQ(join_code(*p), 0);
    // And a client without a key against a server with one does not get through either.
    auto q = spawn_fn([&] {
        try {
            Connection c = Client(server.address(), {}, 30s);
            c.send(1);
            for (;;) c.recv_bytes(30s);  // the challenge, the refusal, then EOF: never a hang
        } catch (const EofError&) {
            return 0;
        }
    });
    EXPECT_THROW(server.accept(30s), SystemError);
    EXPECT_EQ(join_code(*q), 0);
}

TEST_F(ConnectionTest, AServerThatDoesNotKnowTheKeyIsRefusedByTheClient) {
    // The client checks the server too: a server with another key fails the client's challenge.
    Listener server({}, "server key");
    auto p = spawn_fn([&] {
        try {
            Client(server.address(), "client key", 30s);
        } catch (const AuthenticationError&) {
            return 0;
        }
        return 3;
    });
    EXPECT_THROW(server.accept(30s), AuthenticationError);
    EXPECT_EQ(join_code(*p), 0);
}

TEST_F(ConnectionTest, ASilentClientCannotHoldAcceptForEver) {
    Listener server({}, "key");
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::memcpy(sa.sun_path + 1, server.address().data() + 1, server.address().size() - 1);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&sa),
                        static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + server.address().size())),
              0);
    EXPECT_THROW(server.accept(300ms), TimeoutError);  // connected, never answered the challenge
    ::close(fd);
    EXPECT_THROW(server.accept(50ms), TimeoutError);  // nobody at all
}

TEST_F(ConnectionTest, APeerThatDiesIsEofNotAHang) {
    Listener server({}, "key");
    auto p = spawn_fn([&] {
        Connection c = Client(server.address(), "key", 30s);
        c.send(1);
        ::raise(SIGKILL);
        return 0;
    });
    Connection c = server.accept(30s);
    EXPECT_EQ(c.recv<int>(30s), 1);
    EXPECT_THROW(c.recv<int>(30s), EofError);
    EXPECT_THROW(c.send(2), EofError);  // and no SIGPIPE kills us
    EXPECT_EQ(join_code(*p), -SIGKILL);
}

TEST_F(ConnectionTest, RecvTimesOutAndNobodyListeningIsRefused) {
    Listener server;
    auto p = spawn_fn([&] {
        Connection c = Client(server.address());
        try {
            c.recv<int>(30s);  // until the parent closes
        } catch (const EofError&) {
            return 0;
        }
        return 3;
    });
    Connection c = server.accept(30s);
    EXPECT_THROW(c.recv<int>(50ms), TimeoutError);
    c.close();
    EXPECT_EQ(join_code(*p), 0);
    std::string addr = server.address();
    server.close();
    try {
        Client(addr, {}, 1s);
        ADD_FAILURE() << "connected to a closed listener";
    } catch (const SystemError& e) {
        EXPECT_EQ(e.code(), std::errc::connection_refused);
    }
}

TEST_F(ConnectionTest, WaitReturnsTheReadyConnectionsProcessesAndFds) {
    Pipe a, b;
    Pipe go(false);
    auto p = spawn_fn([&] {
        go.second.close();
        go.first.recv<int>(30s);  // until told to end
        return 0;
    });
    go.first.close();
    EXPECT_TRUE(wait({a.first, b.first, *p}, 0ns).empty());
    EXPECT_TRUE(wait({a.first, b.first, *p}, 20ms).empty());
    b.second.send(1);
    EXPECT_EQ(wait({a.first, b.first, *p}, 30s), (std::vector<std::size_t>{1}));
    EXPECT_EQ(b.first.recv<int>(), 1);
    go.second.send(0);
    EXPECT_EQ(wait({a.first, b.first, *p}, 30s), (std::vector<std::size_t>{2}));
    EXPECT_EQ(join_code(*p), 0);
    // A raw fd, for writing: a fresh pipe has room.
    EXPECT_TRUE(wait({Waitable::fd(-1), a.first}, 0ns).empty());  // a negative fd is never ready
}

TEST_F(ConnectionTest, WaitSeesAMessageAlreadyBufferedInsideAConnection) {
    Pipe pipe_;
    pipe_.second.send(1);
    pipe_.second.send(2);
    EXPECT_EQ(pipe_.first.recv<int>(), 1);  // one read took both messages off the pipe
    EXPECT_EQ(wait({pipe_.first}, 1s), (std::vector<std::size_t>{0}));
    EXPECT_EQ(pipe_.first.recv<int>(), 2);
    EXPECT_TRUE(wait({pipe_.first}, 0ns).empty());
}

TEST_F(ConnectionTest, WaitWatchesAListenerAndSeesAPeersEof) {
    Listener server;
    auto p = spawn_fn([&] {
        Connection c = Client(server.address());
        return 0;  // and closes it by exiting
    });
    EXPECT_EQ(wait({server}, 30s), (std::vector<std::size_t>{0}));
    Connection c = server.accept(30s);
    EXPECT_EQ(wait({c}, 30s), (std::vector<std::size_t>{0}));
    EXPECT_THROW(c.recv<int>(0ns), EofError);
    EXPECT_EQ(join_code(*p), 0);
}
