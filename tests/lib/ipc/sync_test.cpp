// Lock, RLock, Semaphore, BoundedSemaphore, Event, Condition, Barrier across processes,
// with timeouts and a holder or waiter dying.
#include "ipc_support.hpp"

#include <prockit/ipc/barrier.hpp>
#include <prockit/ipc/condition.hpp>
#include <prockit/ipc/event.hpp>
#include <prockit/ipc/lock.hpp>
#include <prockit/ipc/semaphore.hpp>
#include <prockit/ipc/value.hpp>

#include <csignal>
#include <mutex>
#include <thread>

using namespace prockit;
using namespace prockit::test;
using namespace std::chrono_literals;

class SyncTest : public NoLeaks {};

TEST_F(SyncTest, LockTimesOutAndIsReleasedByItsHolderOnly) {
    Lock l;
    EXPECT_EQ(l.acquire(), LockStatus::acquired);
    std::thread other([&] {
        EXPECT_EQ(l.acquire(20ms), LockStatus::timed_out);
        EXPECT_FALSE(l.try_lock());
        EXPECT_THROW(l.release(), IpcError);
    });
    other.join();
    l.release();
    EXPECT_TRUE(l.try_lock());
    l.unlock();
}

TEST_F(SyncTest, LockHolderDyingGivesOwnerDiedNotAHang) {
    Lock l;
    Event held;
    auto p = spawn_fn([&] {
        if (l.acquire(30s) != LockStatus::acquired) return 2;
        held.set();
        ::pause();  // holds it until killed
        return 0;
    });
    ASSERT_TRUE(held.wait(30s));
    EXPECT_EQ(l.acquire(10ms), LockStatus::timed_out);
    p->kill();
    join_code(*p);
    EXPECT_EQ(l.acquire(30s), LockStatus::owner_died);
    l.release();
    EXPECT_EQ(l.acquire(0s), LockStatus::acquired);
    l.release();
}

TEST_F(SyncTest, LockGuardFormReportsOwnerDeathOnce) {
    Lock l;
    auto p = spawn_fn([&] {
        l.lock();
        ::raise(SIGKILL);
        return 0;
    });
    join_code(*p);
    EXPECT_THROW(std::lock_guard<Lock> g(l), OwnerDiedError);
    { std::lock_guard<Lock> g(l); }
}

TEST_F(SyncTest, WaiterOnALockWhoseHolderDiesGetsOwnerDied) {
    Lock l;
    Event held;
    auto holder = spawn_fn([&] {
        (void)l.acquire();
        held.set();
        ::pause();
        return 0;
    });
    ASSERT_TRUE(held.wait(30s));
    Value<int> seen(0);
    auto waiter = spawn_fn([&] {
        LockStatus s = l.acquire(60s);  // blocked until the holder dies
        seen.store(s == LockStatus::owner_died ? 1 : 2);
        l.release();
        return 0;
    });
    ASSERT_TRUE(eventually([&] { return proc_state(*waiter->pid()) == 'S'; }));
    holder->kill();
    join_code(*holder);
    EXPECT_EQ(join_code(*waiter), 0);
    EXPECT_EQ(seen.load(), 1);
}

TEST_F(SyncTest, RLockIsReentrantAndRobust) {
    RLock r;
    EXPECT_EQ(r.acquire(), LockStatus::acquired);
    EXPECT_EQ(r.acquire(), LockStatus::acquired);
    EXPECT_EQ(r.count(), 2u);
    auto p = spawn_fn([&] { return r.acquire(20ms) == LockStatus::timed_out ? 0 : 1; });
    EXPECT_EQ(join_code(*p), 0);
    r.release();
    r.release();
    EXPECT_FALSE(r.is_owned());
    EXPECT_THROW(r.release(), IpcError);
    auto q = spawn_fn([&] {
        (void)r.acquire();
        (void)r.acquire();
        ::raise(SIGKILL);
        return 0;
    });
    join_code(*q);
    EXPECT_EQ(r.acquire(30s), LockStatus::owner_died);
    EXPECT_EQ(r.count(), 1u);
    r.release();
}

TEST_F(SyncTest, SemaphoreAcrossProcesses) {
    Semaphore s(0);
    EXPECT_FALSE(s.acquire(10ms));
    EXPECT_FALSE(s.try_acquire());
    auto p = spawn_fn([&] {
        s.release(3);
        return 0;
    });
    EXPECT_TRUE(s.acquire(30s));
    EXPECT_TRUE(s.acquire(30s));
    EXPECT_TRUE(s.acquire(30s));
    EXPECT_EQ(join_code(*p), 0);
    EXPECT_EQ(s.get_value(), 0u);
    // A waiter that dies leaves nothing behind.
    auto w = spawn_fn([&] { return s.acquire() ? 0 : 1; });
    ASSERT_TRUE(eventually([&] { return proc_state(*w->pid()) == 'S'; }));
    w->kill();
    join_code(*w);
    s.release();
    EXPECT_TRUE(s.acquire(0s));
}

TEST_F(SyncTest, BoundedSemaphoreRefusesExtraReleases) {
    BoundedSemaphore s(2);
    EXPECT_THROW(s.release(), IpcError);
    EXPECT_TRUE(s.acquire());
    s.release();
    EXPECT_EQ(s.get_value(), 2u);
}

TEST_F(SyncTest, EventAcrossProcesses) {
    Event e;
    EXPECT_FALSE(e.is_set());
    EXPECT_FALSE(e.wait(10ms));
    auto p = spawn_fn([&] { return e.wait(60s) ? 0 : 1; });
    e.set();
    EXPECT_EQ(join_code(*p), 0);
    EXPECT_TRUE(e.wait(0s));
    e.clear();
    EXPECT_FALSE(e.is_set());
}

TEST_F(SyncTest, ConditionNotifyAcrossProcesses) {
    Condition c;
    Value<int> ready(0, false);
    auto p = spawn_fn([&] {
        std::lock_guard g(c);
        return c.wait_for([&] { return ready.ref() == 1; }, 60s) ? 0 : 1;
    });
    {
        std::lock_guard g(c);
        ready.ref() = 1;
        c.notify_all();
    }
    EXPECT_EQ(join_code(*p), 0);
    std::lock_guard g(c);
    EXPECT_FALSE(c.wait(10ms));  // nobody notifies: times out, lock held again
    EXPECT_FALSE(c.wait_for([] { return false; }, 10ms));
}

TEST_F(SyncTest, ConditionWaiterDyingDoesNotWedgeOthers) {
    Condition c(Lock{});
    Value<int> go(0, false);
    auto dying = spawn_fn([&] {
        std::lock_guard g(c);
        (void)c.wait();
        return 0;
    });
    ASSERT_TRUE(eventually([&] { return proc_state(*dying->pid()) == 'S'; }));
    dying->kill();
    join_code(*dying);
    auto live = spawn_fn([&] {
        std::lock_guard g(c);
        return c.wait_for([&] { return go.ref() == 1; }, 60s) ? 0 : 1;
    });
    {
        std::lock_guard g(c);
        go.ref() = 1;
        c.notify();
    }
    EXPECT_EQ(join_code(*live), 0);
}

TEST_F(SyncTest, BarrierReleasesAllPartiesWithDistinctIndexes) {
    Barrier b(3);
    Array<int> idx(3);
    std::vector<std::unique_ptr<Process>> ps;
    for (int i = 0; i < 2; ++i)
        ps.push_back(spawn_fn([&, i] {
            idx[static_cast<std::size_t>(i)] = static_cast<int>(b.wait(60s));
            return 0;
        }));
    idx[2] = static_cast<int>(b.wait(60s));
    for (auto& p : ps) EXPECT_EQ(join_code(*p), 0);
    std::vector<int> v = idx.to_vector();
    std::sort(v.begin(), v.end());
    EXPECT_EQ(v, (std::vector<int>{0, 1, 2}));
    EXPECT_FALSE(b.broken());
}

TEST_F(SyncTest, BarrierWithADeadPartyBreaksAtTheTimeout) {
    Barrier b(3);
    auto dead = spawn_fn([&] {
        ::raise(SIGKILL);  // never arrives
        return 0;
    });
    join_code(*dead);
    auto other = spawn_fn([&] {
        try {
            b.wait(60s);
        } catch (const BrokenBarrierError&) {
            return 0;
        }
        return 1;
    });
    ASSERT_TRUE(eventually([&] { return b.n_waiting() == 1; }));
    EXPECT_THROW(b.wait(50ms), BrokenBarrierError);
    EXPECT_EQ(join_code(*other), 0);
    EXPECT_TRUE(b.broken());
    EXPECT_THROW(b.wait(1s), BrokenBarrierError);
    b.reset();
    EXPECT_FALSE(b.broken());
    Barrier one(1);
    EXPECT_EQ(one.wait(), 0u);
}

TEST_F(SyncTest, SyncObjectsAttachThroughDuplicatedFds) {
    Semaphore s(1);
    Semaphore s2 = Semaphore::attach(unique_fd(::dup(s.fd())));
    EXPECT_TRUE(s2.acquire(0s));
    EXPECT_FALSE(s.acquire(0s));
    Event e;
    Event e2 = Event::attach(unique_fd(::dup(e.fd())));
    e2.set();
    EXPECT_TRUE(e.is_set());
    Barrier b(1);
    EXPECT_EQ(Barrier::attach(unique_fd(::dup(b.fd()))).parties(), 1u);
    RLock r;
    RLock r2 = RLock::attach(unique_fd(::dup(r.fd())));
    EXPECT_EQ(r2.acquire(), LockStatus::acquired);
    EXPECT_TRUE(r.is_owned());
    Condition c = Condition::attach(unique_fd(::dup(Condition(r).fd())), r);
    c.notify_all();
    r2.release();
    EXPECT_THROW(Event::attach(unique_fd(::dup(s.fd()))), IpcError);
    EXPECT_THROW(BoundedSemaphore::attach(unique_fd(::dup(s.fd()))), IpcError);
}

// Death of the peer that should have released or set: bounded by the timeout, never a hang.
TEST_F(SyncTest, DeadHolderOrSetterIsATimeoutNotAHang) {
    Semaphore s(1);
    Event e;
    auto p = spawn_fn([&] {
        (void)s.acquire();  // takes the only unit and dies with it
        ::raise(SIGKILL);
        e.set();  // never reached
        return 0;
    });
    join_code(*p);
    EXPECT_FALSE(s.acquire(20ms));
    EXPECT_FALSE(e.wait(20ms));
}
