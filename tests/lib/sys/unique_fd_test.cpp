#include <prockit/sys/syscall.hpp>
#include <prockit/sys/unique_fd.hpp>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

using namespace prockit;

namespace {
bool is_open(int fd) { return fcntl(fd, F_GETFD) != -1; }
}  // namespace

TEST(UniqueFd, ClosesOnDestructionAndMoves) {
    int raw = -1;
    {
        auto fd = open_fd("/dev/null", O_RDONLY);
        ASSERT_TRUE(fd);
        raw = fd->get();
        EXPECT_TRUE(fcntl(raw, F_GETFD) & FD_CLOEXEC) << "open_fd must add O_CLOEXEC";
        unique_fd moved = std::move(*fd);
        EXPECT_FALSE(*fd);
        EXPECT_EQ(moved.get(), raw);
        EXPECT_TRUE(is_open(raw));
    }
    EXPECT_FALSE(is_open(raw));
}

TEST(UniqueFd, ReleaseAndReset) {
    int p[2];
    ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
    unique_fd a(p[0]), b(p[1]);
    int r = a.release();
    EXPECT_FALSE(a);
    EXPECT_TRUE(is_open(r));
    a.reset(r);
    b.reset();
    EXPECT_FALSE(is_open(p[1]));
    EXPECT_TRUE(is_open(p[0]));
}
