// Queue, SimpleQueue, JoinableQueue: across processes, timeouts, and peers dying at bad moments.
#include "ipc_support.hpp"

#include <prockit/ipc/event.hpp>
#include <prockit/ipc/pipe.hpp>
#include <prockit/ipc/queue.hpp>
#include <prockit/ipc/value.hpp>

#include <atomic>
#include <csignal>
#include <numeric>
#include <thread>

using namespace prockit;
using namespace prockit::test;
using namespace std::chrono_literals;

class QueueTest : public NoLeaks {};

TEST_F(QueueTest, FifoInOneProcess) {
    Queue q;
    EXPECT_TRUE(q.empty());
    for (int i = 0; i < 100; ++i) q.put(i);
    EXPECT_EQ(q.qsize(), 100u);
    for (int i = 0; i < 100; ++i) EXPECT_EQ(q.get<int>(0s), i);
    EXPECT_TRUE(q.empty());
    q.put(std::string("text"));
    q.put(std::vector<std::string>{"a", "b"});
    q.put_bytes("raw");
    EXPECT_EQ(q.get<std::string>(), "text");
    EXPECT_EQ(q.get<std::vector<std::string>>(), (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(q.get_bytes(), "raw");
}

TEST_F(QueueTest, EmptyAndFullWithTimeouts) {
    Queue q(2);
    EXPECT_EQ(q.maxsize(), 2u);
    EXPECT_THROW(q.get_nowait<int>(), QueueEmpty);
    EXPECT_THROW(q.get<int>(20ms), QueueEmpty);
    q.put(1);
    q.put_nowait(2);
    EXPECT_TRUE(q.full());
    EXPECT_THROW(q.put_nowait(3), QueueFull);
    EXPECT_THROW(q.put(3, 20ms), QueueFull);
    EXPECT_EQ(q.get<int>(), 1);
    q.put(3, 1s);
    EXPECT_EQ(q.get<int>(), 2);
    EXPECT_EQ(q.get<int>(), 3);
}

TEST_F(QueueTest, WrongTypeIsACodecErrorAndTheQueueGoesOn) {
    Queue q;
    q.put(std::int64_t{5});
    EXPECT_THROW(q.get<int>(), CodecError);
    q.put(6);
    EXPECT_EQ(q.get<int>(), 6);
}

TEST_F(QueueTest, ItemsBiggerThanTheRingGoThroughTheSpillArea) {
    Queue q(QueueOptions{.maxsize = 0, .buffer_bytes = 64 * 1024});
    std::string big(5u << 20, 'z');
    for (std::size_t i = 0; i < big.size(); i += 999) big[i] = static_cast<char>('a' + i % 26);
    auto p = spawn_fn([&] {
        for (int i = 0; i < 3; ++i) q.put(big, 60s);
        q.put(42, 60s);
        return 0;
    });
    for (int i = 0; i < 3; ++i) EXPECT_EQ(q.get<std::string>(60s), big);
    EXPECT_EQ(q.get<int>(60s), 42);
    EXPECT_EQ(join_code(*p), 0);
}

TEST_F(QueueTest, ManyProducersManyConsumers) {
    Queue q(QueueOptions{.maxsize = 50, .buffer_bytes = 64 * 1024});
    Queue results;
    constexpr int kProducers = 3, kConsumers = 2, kEach = 20000;
    std::vector<std::unique_ptr<Process>> ps;
    for (int w = 0; w < kProducers; ++w)
        ps.push_back(spawn_fn([&, w] {
            for (int i = 0; i < kEach; ++i) q.put(std::make_pair(w, i), 60s);
            return 0;
        }));
    for (int c = 0; c < kConsumers; ++c)
        ps.push_back(spawn_fn([&] {
            long long sum = 0;
            int n = 0;
            std::vector<int> last(kProducers, -1);
            for (;;) {
                auto [w, i] = q.get<std::pair<int, int>>(60s);
                if (w < 0) break;
                if (i <= last[static_cast<std::size_t>(w)]) return 3;  // per-producer order kept
                last[static_cast<std::size_t>(w)] = i;
                sum += i;
                ++n;
            }
            results.put(std::make_pair(n, sum));
            return 0;
        }));
    for (int w = 0; w < kProducers; ++w) EXPECT_EQ(join_code(*ps[static_cast<std::size_t>(w)]), 0);
    for (int c = 0; c < kConsumers; ++c) q.put(std::make_pair(-1, 0));
    long long n = 0, sum = 0;
    for (int c = 0; c < kConsumers; ++c) {
        auto [cn, cs] = results.get<std::pair<int, long long>>(60s);
        n += cn;
        sum += cs;
    }
    for (int c = 0; c < kConsumers; ++c) EXPECT_EQ(join_code(*ps[static_cast<std::size_t>(kProducers + c)]), 0);
    EXPECT_EQ(n, kProducers * kEach);
    EXPECT_EQ(sum, static_cast<long long>(kProducers) * kEach * (kEach - 1) / 2);
}

// Python's trap: a child that put items cannot be joined until they are read. Here it can.
TEST_F(QueueTest, ChildThatPutItemsCanBeJoinedBeforeTheyAreRead) {
    Queue q;
    auto p = spawn_fn([&] {
        for (int i = 0; i < 1000; ++i) q.put(std::string(1000, 'x'));
        return 0;
    });
    EXPECT_EQ(join_code(*p), 0);
    EXPECT_EQ(q.qsize(), 1000u);
    for (int i = 0; i < 1000; ++i) EXPECT_EQ(q.get<std::string>(0s).size(), 1000u);
}

// As Python's close(): the handle is done with, put, get and empty raise (ClosedError here).
TEST_F(QueueTest, CloseStopsPutsGetsAndEmpty) {
    Queue q;
    q.put(1);
    q.put(std::string("s"));
    auto p = spawn_fn([&] {
        q.close();  // only the child's handle
        try {
            (void)q.get<int>(0s);
            return 1;
        } catch (const ClosedError&) {
        }
        try {
            (void)q.empty();
            return 2;
        } catch (const ClosedError&) {
        }
        try {
            q.put(2);
            return 3;
        } catch (const ClosedError&) {
        }
        return 0;
    });
    EXPECT_EQ(join_code(*p), 0);
    EXPECT_FALSE(q.empty());
    q.close();
    EXPECT_THROW(q.put(2), ClosedError);
    EXPECT_THROW((void)q.get<int>(1s), ClosedError);  // timeouts: a get that waits is a failure, not a hang
    EXPECT_THROW((void)q.get<std::string>(1s), ClosedError);
    EXPECT_THROW((void)q.get_bytes(0s), ClosedError);
    EXPECT_THROW((void)q.empty(), ClosedError);
    EXPECT_EQ(q.qsize(), 2u);  // as in Python, qsize() still answers
}

// Python's put on an unbounded queue never blocks: 64 MiB put before anyone gets, without
// waiting (put_nowait), then read back in order.
TEST_F(QueueTest, UnboundedQueueNeverBlocksPut) {
    Queue q;
    std::string big(1u << 20, 'b');
    for (int i = 0; i < 64; ++i) {
        big[0] = static_cast<char>(i);
        ASSERT_NO_THROW(q.put_nowait(big)) << "item " << i;
    }
    for (int i = 0; i < 200000; ++i) ASSERT_NO_THROW(q.put_nowait(i)) << "small item " << i;
    EXPECT_EQ(q.qsize(), 64u + 200000u);
    for (int i = 0; i < 64; ++i) {
        std::string s = q.get<std::string>(0s);
        ASSERT_EQ(s.size(), big.size());
        EXPECT_EQ(s[0], static_cast<char>(i));
    }
    for (int i = 0; i < 200000; ++i) ASSERT_EQ(q.get<int>(0s), i);
    EXPECT_TRUE(q.empty());
}

// The deadlock of the issue: a child puts more than the ring holds and exits before anyone gets;
// joining it must not wait for a reader.
TEST_F(QueueTest, ChildPuttingMoreThanTheRingCanBeJoinedFirst) {
    Queue q;
    auto p = spawn_fn([&] {
        for (int i = 0; i < 24; ++i) q.put(std::vector<int>(1 << 18, i));  // 24 MiB
        return 0;
    });
    ASSERT_EQ(join_code(*p), 0);
    for (int i = 0; i < 24; ++i) {
        auto v = q.get<std::vector<int>>(30s);
        ASSERT_EQ(v.size(), 1u << 18);
        EXPECT_EQ(v.front(), i);
        EXPECT_EQ(v.back(), i);
    }
    EXPECT_THROW(q.get<int>(0s), QueueEmpty);
}

// Items keep their order while some go through the ring and some through the spill area.
TEST_F(QueueTest, FifoAcrossRingAndSpillArea) {
    Queue q(QueueOptions{.maxsize = 0, .buffer_bytes = 64 * 1024});
    auto p = spawn_fn([&] {
        for (int i = 0; i < 3000; ++i) {
            if (i % 100 == 7) q.put(std::string(100000, static_cast<char>('a' + i % 26)));
            else q.put(std::string(1 + i % 700, static_cast<char>('a' + i % 26)));
        }
        return 0;
    });
    for (int i = 0; i < 3000; ++i) {
        std::string s = q.get<std::string>(60s);
        std::size_t want = i % 100 == 7 ? 100000 : 1 + i % 700;
        ASSERT_EQ(s.size(), want) << "item " << i;
        ASSERT_EQ(s[0], static_cast<char>('a' + i % 26)) << "item " << i;
        if (i % 500 == 0) std::this_thread::yield();
    }
    EXPECT_EQ(join_code(*p), 0);
}

// maxsize still bounds a queue whose items overflow the ring.
TEST_F(QueueTest, BoundedQueueKeepsItsBoundPastTheRing) {
    Queue q(QueueOptions{.maxsize = 3, .buffer_bytes = 64 * 1024});
    for (int i = 0; i < 3; ++i) q.put_nowait(std::string(1u << 20, 'x'));
    EXPECT_TRUE(q.full());
    EXPECT_THROW(q.put_nowait(std::string(1u << 20, 'x')), QueueFull);
    EXPECT_THROW(q.put(1, 20ms), QueueFull);
    EXPECT_EQ(q.get<std::string>(0s).size(), 1u << 20);
    q.put_nowait(1);
    EXPECT_EQ(q.qsize(), 3u);
}

// Same size, other type: a CodecError, not the int's bytes read as a float.
TEST_F(QueueTest, SameSizeOtherTypeIsACodecError) {
    Queue q;
    q.put(5);
    EXPECT_THROW(q.get<float>(0s), CodecError);
    q.put(std::string("abc"));
    EXPECT_THROW(q.get<std::vector<char>>(0s), CodecError);
    q.put(std::vector<int>{1, 2});
    EXPECT_THROW(q.get<std::vector<unsigned>>(0s), CodecError);
    q.put(2.5f);
    EXPECT_EQ(q.get<float>(0s), 2.5f);
    EXPECT_TRUE(q.empty());
}

// A producer killed while it holds the put lock (blocked on a full queue) does not wedge others.
TEST_F(QueueTest, ProducerDyingWithThePutLockHeld) {
    Queue q(1);
    Event started;
    q.put(0);
    auto p = spawn_fn([&] {
        started.set();
        q.put(1);  // blocks: the queue is full, and it holds the put lock while it waits
        return 0;
    });
    ASSERT_TRUE(started.wait(30s));
    ASSERT_TRUE(eventually([&] { return proc_state(*p->pid()) == 'S'; }));
    p->kill();
    join_code(*p);
    EXPECT_EQ(q.get<int>(30s), 0);
    q.put(2, 30s);  // the next producer recovers the lock
    EXPECT_EQ(q.get<int>(30s), 2);
}

// A producer stopped (SIGSTOP) in the middle of putting a big item, holding the put lock: get()
// still takes the items already put and returns at its timeout, and the queue goes on once the
// producer is killed.
TEST_F(QueueTest, StoppedProducerDoesNotStallGet) {
    Queue q(QueueOptions{.maxsize = 0, .buffer_bytes = 64 * 1024});
    Event put_one;
    auto p = spawn_fn([&] {
        q.put(std::string(1u << 20, 'p'));
        put_one.set();
        q.put(std::string(1u << 20, 'q'));
        ::raise(SIGSTOP);  // stands for a stop at any point of a put: it holds the put lock
        return 0;
    });
    if (!put_one.wait(60s)) {
        p->kill();
        join_code(*p);
        FAIL() << "put() of an item bigger than the ring waited for a reader";
    }
    ::kill(*p->pid(), SIGSTOP);
    ASSERT_TRUE(eventually([&] { return proc_state(*p->pid()) == 'T'; }));
    // Run the gets in a thread bounded by a deadline, so a stall is a failure, not a hung test.
    std::atomic<int> stage{0};
    std::string first;
    std::thread consumer([&] {
        try {
            first = q.get<std::string>(2s);
            stage = 1;
            (void)q.get<std::string>(2s);  // the second item may or may not be complete yet
            (void)q.get<std::string>(200ms);
            stage = 2;
        } catch (const QueueEmpty&) {
            stage = 3;
        } catch (const std::exception&) {
            stage = 4;
        }
    });
    bool ended = eventually([&] { return stage.load() >= 3 || stage.load() == 2; }, 60s);
    p->kill();
    join_code(*p);
    consumer.join();
    ASSERT_TRUE(ended) << "get() did not return while the producer was stopped";
    EXPECT_EQ(first, std::string(1u << 20, 'p'));
    EXPECT_EQ(stage.load(), 3);
    q.put(std::string("after"), 30s);
    EXPECT_EQ(q.get<std::string>(30s), "after");
}

// A consumer killed while it holds the get lock (blocked on an empty queue) does not wedge others.
TEST_F(QueueTest, ConsumerDyingWithTheGetLockHeld) {
    Queue q;
    Event started;
    auto p = spawn_fn([&] {
        started.set();
        (void)q.get<int>();  // blocks holding the get lock
        return 0;
    });
    ASSERT_TRUE(started.wait(30s));
    ASSERT_TRUE(eventually([&] { return proc_state(*p->pid()) == 'S'; }));
    p->kill();
    join_code(*p);
    q.put(9);
    EXPECT_EQ(q.get<int>(30s), 9);
}

// The consumer dies while reading a big item: the queue goes on.
TEST_F(QueueTest, ConsumerDyingMidItem) {
    Queue q(QueueOptions{.maxsize = 0, .buffer_bytes = 64 * 1024});
    auto prod = spawn_fn([&] {
        q.put(std::string(1u << 20, 'p'), 60s);
        q.put(std::string("next"), 60s);
        return 0;
    });
    auto cons = spawn_fn([&] {
        // Reads raw bytes through a wrongly sized fixed get? No: reads normally, but is killed below.
        (void)q.get<std::string>(60s);
        return 0;
    });
    // Kill the consumer while the big item is in flight (either before, during or after it read it).
    ASSERT_TRUE(eventually([&] { return proc_state(*cons->pid()) == 'S' || !cons->is_alive(); }));
    cons->kill();
    join_code(*cons);
    // Whatever state the kill left, the queue still delivers "next" (or the big item, if the
    // consumer had not started it).
    std::string s = q.get<std::string>(60s);
    if (s.size() == (1u << 20)) s = q.get<std::string>(60s);
    EXPECT_EQ(s, "next");
    EXPECT_EQ(join_code(*prod), 0);
}

TEST_F(QueueTest, JoinableQueueJoinsWhenAllTasksAreDone) {
    JoinableQueue q;
    for (int i = 0; i < 10; ++i) q.put(i);
    EXPECT_EQ(q.unfinished(), 10u);
    EXPECT_FALSE(q.join(10ms));
    auto p = spawn_fn([&] {
        for (int i = 0; i < 10; ++i) {
            (void)q.get<int>(30s);
            q.task_done();
        }
        return 0;
    });
    EXPECT_TRUE(q.join(60s));
    EXPECT_EQ(join_code(*p), 0);
    EXPECT_THROW(q.task_done(), IpcError);
}

TEST_F(QueueTest, JoinableQueueConsumerDeathIsATimeoutNotAHang) {
    JoinableQueue q;
    q.put(1);
    auto p = spawn_fn([&] {
        (void)q.get<int>(30s);
        ::raise(SIGKILL);  // never calls task_done
        return 0;
    });
    join_code(*p);
    EXPECT_FALSE(q.join(50ms));
}

TEST_F(QueueTest, SimpleQueue) {
    SimpleQueue q;
    EXPECT_TRUE(q.empty());
    auto p = spawn_fn([&] {
        q.put(std::string("hi"));
        return 0;
    });
    EXPECT_EQ(q.get<std::string>(30s), "hi");
    EXPECT_EQ(join_code(*p), 0);
}

TEST_F(QueueTest, AttachedThroughAnFdByANonForkedProcess) {
    Pipe pipe_;
    auto& a = pipe_.first;
    auto& b = pipe_.second;
    auto p = spawn_fn([&] {
        a.close();
        Queue q = Queue::attach(b.recv_fd(30s));
        q.put(std::string("attached"), 30s);
        return 0;
    });
    b.close();
    Queue q;  // after the fork
    a.send_fd(q.fd());
    EXPECT_EQ(q.get<std::string>(30s), "attached");
    EXPECT_EQ(join_code(*p), 0);
    Lock l;
    EXPECT_THROW(Queue::attach(unique_fd(::dup(l.fd()))), IpcError);
}

// A full queue whose consumer died: put() reports QueueFull at its timeout.
TEST_F(QueueTest, PutOnAFullQueueWhoseConsumerDiedTimesOut) {
    Queue q(1);
    q.put(1);
    auto consumer = spawn_fn([&] {
        ::raise(SIGKILL);  // the only consumer, gone
        return 0;
    });
    join_code(*consumer);
    EXPECT_THROW(q.put(2, 20ms), QueueFull);
}
