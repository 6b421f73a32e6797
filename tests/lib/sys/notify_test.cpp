// prockit/sys/notify.hpp: the datagrams a service manager receives, to a socket the test binds.
#include <prockit/sys/notify.hpp>
#include <prockit/sys/unique_fd.hpp>

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace prockit {
namespace {

/// A bound AF_UNIX datagram socket standing in for systemd's notify socket; NOTIFY_SOCKET names it
/// while the object lives.
class FakeManager {
public:
    explicit FakeManager(bool abstract) {
        fd_.reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
        EXPECT_TRUE(fd_);
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        name_ = (abstract ? "@prockit-notify-test-" : "/tmp/prockit-notify-test-") + std::to_string(::getpid());
        std::memcpy(a.sun_path, name_.data(), name_.size());
        if (abstract) a.sun_path[0] = '\0';
        else ::unlink(name_.c_str());
        auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name_.size() + (abstract ? 0 : 1));
        EXPECT_EQ(::bind(fd_.get(), reinterpret_cast<sockaddr*>(&a), len), 0) << std::strerror(errno);
        ::setenv("NOTIFY_SOCKET", name_.c_str(), 1);
    }
    ~FakeManager() {
        ::unsetenv("NOTIFY_SOCKET");
        if (name_[0] == '/') ::unlink(name_.c_str());
    }
    /// The next datagram, waiting up to 10 s; empty if none came.
    std::string receive() {
        pollfd p{fd_.get(), POLLIN, 0};
        if (::poll(&p, 1, 10000) != 1) return {};
        char buf[4096];
        auto n = ::recv(fd_.get(), buf, sizeof buf, 0);
        return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
    }

private:
    unique_fd fd_;
    std::string name_;
};

TEST(Notify, WithoutNotifySocketSendsNothing) {
    ::unsetenv("NOTIFY_SOCKET");
    auto r = notify_ready();
    ASSERT_TRUE(r);
    EXPECT_FALSE(*r);
}

TEST(Notify, ReadyStatusReloadingStoppingToAPathSocket) {
    FakeManager m(false);
    ASSERT_TRUE(notify_status("first scan\nrunning"));
    EXPECT_EQ(m.receive(), "STATUS=first scan running");
    auto r = notify_ready();
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_TRUE(*r);
    EXPECT_EQ(m.receive(), "READY=1");
    ASSERT_TRUE(notify_ready(4242));
    EXPECT_EQ(m.receive(), "READY=1\nMAINPID=4242");
    ASSERT_TRUE(notify_reloading());
    EXPECT_EQ(m.receive().rfind("RELOADING=1\nMONOTONIC_USEC=", 0), 0u);
    ASSERT_TRUE(notify_stopping());
    EXPECT_EQ(m.receive(), "STOPPING=1");
}

TEST(Notify, AbstractSocket) {
    FakeManager m(true);
    ASSERT_TRUE(notify_ready());
    EXPECT_EQ(m.receive(), "READY=1");
}

TEST(Notify, NobodyListeningIsAnErrorNamingTheSocket) {
    ::setenv("NOTIFY_SOCKET", "/nonexistent/notify", 1);
    auto r = notify_ready();
    ::unsetenv("NOTIFY_SOCKET");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message().rfind("cannot notify the service manager at /nonexistent/notify: ", 0), 0u)
        << r.error().message();
}

}  // namespace
}  // namespace prockit
