// Pipe and Connection: values, any size, timeouts, EOF on a closed or dead peer, fd passing.
#include "ipc_support.hpp"

#include <prockit/ipc/lock.hpp>
#include <prockit/ipc/pipe.hpp>
#include <prockit/ipc/shared_memory.hpp>
#include <prockit/sys/syscall.hpp>

#include <csignal>
#include <cstring>
#include <sys/mman.h>
#include <unistd.h>

using namespace prockit;
using namespace prockit::test;
using namespace std::chrono_literals;

class PipeTest : public NoLeaks {};

TEST_F(PipeTest, SendsValuesBothWaysBetweenProcesses) {
    Pipe pipe_;
    auto& a = pipe_.first;
    auto& b = pipe_.second;
    auto p = spawn_fn([&] {
        a.close();
        auto v = b.recv<std::vector<int>>(30s);
        int sum = 0;
        for (int x : v) sum += x;
        b.send(std::make_pair(sum, std::string("done")));
        return 0;
    });
    b.close();
    a.send(std::vector<int>{1, 2, 3, 4});
    auto r = a.recv<std::pair<int, std::string>>(30s);
    EXPECT_EQ(r.first, 10);
    EXPECT_EQ(r.second, "done");
    EXPECT_EQ(join_code(*p), 0);
}

TEST_F(PipeTest, CarriesA64MiBMessage) {
    Pipe pipe_;
    auto& a = pipe_.first;
    auto& b = pipe_.second;
    std::string big(64u << 20, '\0');
    for (std::size_t i = 0; i < big.size(); i += 4096) big[i] = static_cast<char>(i / 4096);
    auto p = spawn_fn([&] {
        a.close();
        std::string got = b.recv_bytes(60s);
        b.send(got == big ? 1 : 0);
        return 0;
    });
    b.close();
    a.send_bytes(big, 60s);
    EXPECT_EQ(a.recv<int>(60s), 1);
    EXPECT_EQ(join_code(*p), 0);
}

TEST_F(PipeTest, PollAndRecvTimeOut) {
    Pipe pipe_;
    auto& a = pipe_.first;
    auto& b = pipe_.second;
    EXPECT_FALSE(a.poll());
    EXPECT_FALSE(a.poll(10ms));
    EXPECT_THROW(a.recv<int>(10ms), TimeoutError);
    b.send(7);
    EXPECT_TRUE(a.poll(1s));
    EXPECT_EQ(a.recv<int>(), 7);
}

TEST_F(PipeTest, DeadPeerIsEofForRecvPollAndSend) {
    Pipe pipe_;
    auto& a = pipe_.first;
    auto& b = pipe_.second;
    auto p = spawn_fn([&] {
        a.close();
        b.send(1);
        ::raise(SIGKILL);  // dies without closing anything
        return 0;
    });
    b.close();
    EXPECT_EQ(a.recv<int>(30s), 1);
    EXPECT_TRUE(a.poll(30s));  // EOF is "ready"
    EXPECT_THROW(a.recv<int>(30s), EofError);
    EXPECT_THROW(a.recv<int>(), EofError);  // no timeout: still no hang
    EXPECT_THROW(
        {
            for (int i = 0; i < 1000; ++i) a.send_bytes(std::string(65536, 'x'), 30s);
        },
        EofError);
    join_code(*p);
}

TEST_F(PipeTest, PeerDyingMidMessageIsEof) {
    Pipe pipe_;
    auto& a = pipe_.first;
    auto& b = pipe_.second;
    auto p = spawn_fn([&] {
        a.close();
        b.send_bytes(std::string(16u << 20, 'x'));  // blocks part-way: nobody reads yet
        return 0;
    });
    b.close();
    ASSERT_TRUE(eventually([&] { return proc_state(*p->pid()) == 'S'; }));
    p->kill();  // dies in the middle of the message
    join_code(*p);
    EXPECT_THROW(a.recv_bytes(30s), EofError);
}

TEST_F(PipeTest, SendBlockedOnAFullPeerTimesOut) {
    Pipe pipe_;
    auto& a = pipe_.first;
    auto& b = pipe_.second;
    (void)b;
    EXPECT_THROW(
        {
            for (int i = 0; i < 100000; ++i) a.send_bytes(std::string(65536, 'x'), 20ms);
        },
        TimeoutError);
}

TEST_F(PipeTest, OneWayPipe) {
    Pipe pipe_(false);
    auto& r = pipe_.first;
    auto& w = pipe_.second;
    w.send(std::string("one way"));
    EXPECT_EQ(r.recv<std::string>(1s), "one way");
    EXPECT_THROW(r.send(1), ClosedError);
    EXPECT_THROW(w.recv<int>(0ms), ClosedError);
    w.close();
    EXPECT_THROW(r.recv<int>(1s), EofError);
    EXPECT_THROW(w.send(1), ClosedError);
}

TEST_F(PipeTest, CorruptMessageIsACodecError) {
    Pipe pipe_;
    auto& a = pipe_.first;
    auto& b = pipe_.second;
    b.send(std::string("abc"));
    EXPECT_THROW(a.recv<std::vector<std::string>>(1s), CodecError);
    b.send(5);
    EXPECT_EQ(a.recv<int>(1s), 5);  // framing survives a decode error
}

// A header announcing a huge message (here 512 GiB) that never comes: the receiver sees the end
// of the stream, and allocates memory only as bytes arrive (found by fuzzing: tests/fuzz/codec).
TEST_F(PipeTest, HugeAnnouncedLengthIsEofNotAnAllocation) {
    unique_fd fd(::memfd_create("pipe-test", MFD_CLOEXEC));
    ASSERT_TRUE(fd);
    std::uint64_t len = std::uint64_t{1} << 39;
    std::string bytes(reinterpret_cast<const char*>(&len), sizeof len);
    bytes += "only these bytes";
    ASSERT_EQ(::write(fd.get(), bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
    ASSERT_EQ(::lseek(fd.get(), 0, SEEK_SET), 0);
    Connection c(std::move(fd), unique_fd(), unique_fd());
    EXPECT_THROW(c.recv_bytes(1s), EofError);
}

// Same size, other type: a CodecError (the bytes of an int are not read as a float).
TEST_F(PipeTest, SameSizeOtherTypeIsACodecError) {
    Pipe pipe_;
    auto& a = pipe_.first;
    auto& b = pipe_.second;
    b.send(5);
    EXPECT_THROW(a.recv<float>(1s), CodecError);
    b.send(std::vector<int>{1, 2});
    EXPECT_THROW(a.recv<std::vector<unsigned>>(1s), CodecError);
    b.send(std::string("x"));
    EXPECT_THROW(a.recv<std::vector<char>>(1s), CodecError);
    b.send(2.5f);
    EXPECT_EQ(a.recv<float>(1s), 2.5f);
}

// A lock shared with a process that was not forked after the lock was made: the fd is passed
// over a Pipe created before, and attached on the other side.
TEST_F(PipeTest, PassesASyncObjectToANonForkedProcess) {
    Pipe pipe_;
    auto& a = pipe_.first;
    auto& b = pipe_.second;
    auto p = spawn_fn([&] {
        a.close();
        Lock lock = Lock::attach(b.recv_fd(30s));
        auto shm = SharedMemory::from_fd(b.recv_fd(30s)).value();
        if (lock.acquire(30s) != LockStatus::acquired) return 2;
        std::memcpy(shm.data(), "from the child", 15);
        b.send(1);
        ::raise(SIGKILL);  // dies holding the lock
        return 0;
    });
    b.close();
    Lock lock;  // made after the child was forked
    auto shm = SharedMemory::anonymous(4096).value();
    a.send_fd(lock.fd());
    a.send_fd(shm.fd());
    EXPECT_EQ(a.recv<int>(30s), 1);
    EXPECT_STREQ(static_cast<char*>(shm.data()), "from the child");
    EXPECT_EQ(join_code(*p), -SIGKILL);
    EXPECT_EQ(lock.acquire(30s), LockStatus::owner_died);
    lock.release();
    EXPECT_EQ(lock.acquire(0s), LockStatus::acquired);
    lock.release();
}

TEST_F(PipeTest, SharedMemoryByProcPathForAnUnrelatedProcess) {
    auto shm = SharedMemory::anonymous(4096).value();
    std::strcpy(static_cast<char*>(shm.data()), "by path");
    auto fd = open_fd(shm.path(), O_RDWR);
    ASSERT_TRUE(fd);
    auto other = SharedMemory::from_fd(std::move(*fd)).value();
    EXPECT_STREQ(static_cast<char*>(other.data()), "by path");
}

TEST_F(PipeTest, RecvFdFromADeadPeerIsEof) {
    Pipe pipe_;
    auto& a = pipe_.first;
    auto& b = pipe_.second;
    auto p = spawn_fn([&] {
        a.close();
        ::raise(SIGKILL);
        return 0;
    });
    b.close();
    join_code(*p);
    EXPECT_THROW(a.recv_fd(30s), EofError);
    EXPECT_THROW(a.send_fd(0), EofError);
}

namespace prockit {
void detail_pipe_use_rwf_nosignal(bool on);  // lib/src/ipc/pipe.cpp's test hook
}

// Kernels before 6.18 have no RWF_NOSIGNAL: SIGPIPE is blocked around the write and discarded.
TEST_F(PipeTest, DeadReaderWithoutRwfNosignalIsEofAndNoSigpipeIsLeft) {
    detail_pipe_use_rwf_nosignal(false);
    struct Restore {
        ~Restore() { detail_pipe_use_rwf_nosignal(true); }
    } restore;
    Pipe pipe_;
    pipe_.first.close();  // the only reader of second's messages
    EXPECT_THROW(pipe_.second.send(1), EofError);  // the test is still alive: no SIGPIPE delivered
    sigset_t pending;
    sigpending(&pending);
    EXPECT_EQ(sigismember(&pending, SIGPIPE), 0);
    sigset_t mask;
    pthread_sigmask(SIG_SETMASK, nullptr, &mask);
    EXPECT_EQ(sigismember(&mask, SIGPIPE), 0) << "the thread's mask is restored";
}
