// Manager: shared dict/list/Namespace/Value/Queue/Lock/Event across processes, blocking requests
// that do not block other clients, errors (never hangs) when the server is gone, and nothing left
// behind when the manager or its owner ends.
#include "ipc_support.hpp"

#include <prockit/ipc/connection.hpp>
#include <prockit/ipc/manager.hpp>
#include <prockit/ipc/pipe.hpp>
#include <prockit/ipc/queue.hpp>
#include <prockit/pool/pool.hpp>
#include <prockit/sys/syscall.hpp>

#include <csignal>
#include <cstring>
#include <fstream>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <thread>

using namespace prockit;
using namespace prockit::test;
using namespace std::chrono_literals;

namespace {

class ManagerTest : public NoLeaks {};

bool path_exists(const std::string& p) {
    struct stat st{};
    return ::lstat(p.c_str(), &st) == 0;
}

// Waits (at most `d`) for a process that is not our child to end.
bool wait_gone(pid_t pid, std::chrono::seconds d) {
    int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    if (fd < 0) return errno == ESRCH;
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(std::chrono::milliseconds(d).count()));
    ::close(fd);
    return r == 1;
}

ManagerOptions at(const std::string& path) {
    ManagerOptions o;
    o.address = path;
    return o;
}

}  // namespace

TEST_F(ManagerTest, SharesADictListNamespaceAndValueWithChildren) {
    Manager m;
    auto d = m.dict();
    auto l = m.list();
    auto ns = m.Namespace();
    auto v = m.Value(10);
    d.set("from-parent", std::string("hello"));
    std::vector<std::unique_ptr<Process>> kids;
    for (int i = 0; i < 3; ++i)
        kids.push_back(spawn_fn([=] {
            d.set("child-" + std::to_string(i), i * i);
            l.append(i);
            ns.set("last", i);
            return d.get<std::string>("from-parent") == "hello" ? 0 : 3;
        }));
    for (auto& k : kids) EXPECT_EQ(join_code(*k), 0);
    EXPECT_EQ(d.size(), 4u);
    EXPECT_EQ(d.get<int>("child-2"), 4);
    EXPECT_THROW(d.items<int>(), CodecError);  // "from-parent" holds a string
    EXPECT_EQ(d.find<int>("child-1"), 1);
    EXPECT_EQ(d.find<int>("nothing"), std::nullopt);
    EXPECT_THROW(d.get<int>("nothing"), std::out_of_range);
    EXPECT_TRUE(d.erase("from-parent"));
    EXPECT_FALSE(d.contains("from-parent"));
    auto items = d.items<int>();
    EXPECT_EQ(items, (std::map<std::string, int>{{"child-0", 0}, {"child-1", 1}, {"child-2", 4}}));
    auto got = l.items<int>();
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, (std::vector<int>{0, 1, 2}));
    l.set(0, 100);
    EXPECT_EQ(l.get<int>(0), 100);
    EXPECT_THROW(l.get<int>(3), std::out_of_range);
    EXPECT_EQ(l.size(), 3u);
    EXPECT_TRUE(ns.has("last"));
    EXPECT_THROW(ns.get<int>("first"), std::out_of_range);
    EXPECT_EQ(v.get(), 10);
    v.set(11);
    EXPECT_EQ(v.get(), 11);
}

TEST_F(ManagerTest, AParkedQueueGetDoesNotBlockOtherClients) {
    Manager m;
    auto q = m.Queue();
    auto d = m.dict();
    Pipe started(false);
    auto p = spawn_fn([&] {
        started.first.close();
        started.second.send(1);
        return q.get<std::string>() == "item" ? 0 : 3;  // parks in the server, no timeout
    });
    started.second.close();
    EXPECT_EQ(started.first.recv<int>(30s), 1);
    // While the child's get is parked, the server answers everyone else.
    for (int i = 0; i < 100; ++i) d.set("k", i);
    EXPECT_EQ(d.get<int>("k"), 99);
    EXPECT_THROW(q.get<std::string>(20ms), QueueEmpty);  // our own get times out in the server
    q.put(std::string("item"));
    EXPECT_EQ(join_code(*p), 0);
    EXPECT_EQ(q.qsize(), 0u);
}

TEST_F(ManagerTest, ABoundedQueueParksPutsUntilThereIsRoom) {
    Manager m;
    auto q = m.Queue(1);
    q.put(1);
    EXPECT_THROW(q.put(2, 20ms), QueueFull);
    auto p = spawn_fn([=] {
        q.put(2);  // waits for room
        return 0;
    });
    EXPECT_EQ(q.get<int>(30s), 1);
    EXPECT_EQ(q.get<int>(30s), 2);
    EXPECT_EQ(join_code(*p), 0);
}

TEST_F(ManagerTest, ALockExcludesTimesOutAndSurvivesItsHoldersDeath) {
    Manager m;
    auto lock = m.Lock();
    EXPECT_EQ(lock.acquire(), LockStatus::acquired);
    auto p = spawn_fn([=] {
        if (lock.acquire(20ms) != LockStatus::timed_out) return 3;
        try {
            lock.release();  // not ours
            return 4;
        } catch (const IpcError& e) {
            if (e.code() != make_error_code(IpcErrc::not_owner)) return 5;
        }
        return 0;
    });
    EXPECT_EQ(join_code(*p), 0);
    lock.release();
    // A holder that dies: the next acquirer is told.
    auto q = spawn_fn([=] {
        lock.acquire();
        ::raise(SIGKILL);
        return 0;
    });
    EXPECT_EQ(join_code(*q), -SIGKILL);
    EXPECT_EQ(lock.acquire(30s), LockStatus::owner_died);
    lock.release();
    EXPECT_EQ(lock.acquire(0ns), LockStatus::acquired);
    lock.release();
}

TEST_F(ManagerTest, AnEventWakesAParkedWaiter) {
    Manager m;
    auto e = m.Event();
    EXPECT_FALSE(e.is_set());
    EXPECT_FALSE(e.wait(20ms));
    Pipe started(false);
    auto p = spawn_fn([&] {
        started.first.close();
        started.second.send(1);
        return e.wait() ? 0 : 3;
    });
    started.second.close();
    EXPECT_EQ(started.first.recv<int>(30s), 1);
    e.set();
    EXPECT_EQ(join_code(*p), 0);
    EXPECT_TRUE(e.is_set());
    e.clear();
    EXPECT_FALSE(e.is_set());
}

TEST_F(ManagerTest, AChildGetsItsOwnConnectionAfterFork) {
    Manager m;
    auto d = m.dict();
    d.set("n", 1);  // the parent's connection exists before the fork
    auto p = spawn_fn([=] {
        for (int i = 0; i < 50; ++i) d.set("n", d.get<int>("n") + 1);
        return 0;
    });
    EXPECT_EQ(join_code(*p), 0);
    EXPECT_EQ(d.get<int>("n"), 51);  // and the parent's still works, in step
}

TEST_F(ManagerTest, AnUnrelatedProcessReachesObjectsByAddressKeyAndId) {
    Manager m;
    auto d = m.dict();
    d.set("x", 5);
    std::string addr = m.address(), key = m.authkey();
    std::uint64_t id = d.id();
    auto p = spawn_fn([=] {
        Manager other = Manager::connect(addr, key);
        DictProxy same(other, id);
        if (same.get<int>("x") != 5) return 3;
        try {
            ListProxy wrong(other, id);
            wrong.size();
            return 4;
        } catch (const IpcError&) {
        }
        Manager bad = Manager::connect(addr, "not the key");
        try {
            DictProxy(bad, id).size();
            return 5;
        } catch (const AuthenticationError&) {
        }
        return 0;
    });
    EXPECT_EQ(join_code(*p), 0);
}

TEST_F(ManagerTest, ProxiesOfADeadServerThrowInsteadOfHanging) {
    Manager m;
    auto d = m.dict();
    auto q = m.Queue();
    d.set("a", 1);
    Pipe started(false);
    auto p = spawn_fn([&] {
        started.first.close();
        started.second.send(1);
        try {
            q.get<int>();  // parked when the server dies
        } catch (const EofError&) {
            return 0;
        }
        return 3;
    });
    started.second.close();
    EXPECT_EQ(started.first.recv<int>(30s), 1);
    // Whether the child's get is parked in the server yet or still connecting, the outcome is the
    // same: EOF on its connection, or a refused connection — an EofError either way.
    ASSERT_EQ(::kill(m.pid(), SIGKILL), 0);
    EXPECT_EQ(join_code(*p), 0);
    EXPECT_THROW(d.get<int>("a"), EofError);
    EXPECT_THROW(d.set("a", 2), EofError);  // again: a refused connection is the same error
    EXPECT_THROW(m.dict(), EofError);
}

TEST_F(ManagerTest, ShutdownRemovesThePathAndReapsTheServer) {
    std::string path = "/tmp/prockit-mgr-test-" + std::to_string(::getpid()) + ".sock";
    pid_t server;
    {
        Manager m(at(path));
        EXPECT_EQ(m.address(), path);
        EXPECT_TRUE(path_exists(path));
        server = m.pid();
        m.dict().set("k", 1);
        m.shutdown();
        EXPECT_FALSE(path_exists(path));
        EXPECT_EQ(::kill(server, 0), -1);  // reaped (NoLeaks also checks that no child is left)
    }
    {
        Manager m(at(path));  // the address can be used again
        EXPECT_TRUE(path_exists(path));
    }  // the destructor shuts down too
    EXPECT_FALSE(path_exists(path));
}

TEST_F(ManagerTest, TheServerEndsWhenItsOwnerIsKilled) {
    std::string path = "/tmp/prockit-mgr-owner-" + std::to_string(::getpid()) + ".sock";
    Pipe report(false);
    auto owner = spawn_fn([&] {
        report.first.close();
        Manager m(at(path));
        report.second.send(static_cast<int>(m.pid()));
        for (;;) ::pause();
        return 0;
    });
    report.second.close();
    pid_t server = report.first.recv<int>(30s);
    ASSERT_TRUE(path_exists(path));
    owner->kill();
    EXPECT_EQ(join_code(*owner), -SIGKILL);
    EXPECT_TRUE(wait_gone(server, 30s)) << "the manager's server outlived its SIGKILLed owner";
    EXPECT_FALSE(path_exists(path)) << "the manager's server left its socket file behind";
}

TEST_F(ManagerTest, TheServerDoesNotKeepItsOwnersPipesOpen) {
    Pipe pipe_(false);  // made before the manager: the server is forked with both ends
    Manager m;
    auto p = spawn_fn([&] {
        pipe_.first.close();
        return 0;  // the write end closes with the child
    });
    pipe_.second.close();
    EXPECT_THROW(pipe_.first.recv<int>(30s), EofError);  // not a 30 s TimeoutError
    EXPECT_EQ(join_code(*p), 0);
}

TEST_F(ManagerTest, AForkedCopyOfTheManagerDoesNotEndTheServer) {
    Manager m;
    auto d = m.dict();
    auto p = spawn_fn([&] {
        m.shutdown();  // the child's copy: not the owner, so nothing happens
        return 0;
    });
    EXPECT_EQ(join_code(*p), 0);
    d.set("still", 1);
    EXPECT_EQ(d.get<int>("still"), 1);
}

// ---- references --------------------------------------------------------------------------------

namespace {

// Waits (at most `d`) until the server holds `n` objects; returns the last count seen.
std::size_t await_count(const Manager& m, std::size_t n, std::chrono::seconds d = 30s) {
    auto end = std::chrono::steady_clock::now() + d;
    std::size_t c = m.object_count();
    while (c != n && std::chrono::steady_clock::now() < end) {
        std::this_thread::sleep_for(2ms);
        c = m.object_count();
    }
    return c;
}

}  // namespace

TEST_F(ManagerTest, DroppingTheLastProxyFreesTheObject) {
    Manager m;
    const std::size_t start = m.object_count();
    auto kept = m.dict();
    kept.set("x", 1);
    for (int i = 0; i < 100000; ++i) {  // each make is a round trip; each drop a one-way release
        auto d = m.dict();
        auto copy = d;               // copies share the process's one reference
        DictProxy moved = std::move(copy);
        if (i % 1000 == 0) moved.set("i", i);
    }
    EXPECT_EQ(m.object_count(), start + 1);
    {
        auto l = m.list();
        auto q = m.Queue(3);
        auto v = m.Value(2.5);
        auto lk = m.Lock();
        auto e = m.Event();
        auto ns = m.Namespace();
        EXPECT_EQ(m.object_count(), start + 7);
    }
    EXPECT_EQ(m.object_count(), start + 1);
    EXPECT_EQ(kept.get<int>("x"), 1);  // a live proxy's object is untouched
    std::uint64_t id = kept.id();
    kept = DictProxy();
    EXPECT_EQ(m.object_count(), start);
    EXPECT_THROW(DictProxy(m, id), IpcError);  // freed: its id names nothing now
}

TEST_F(ManagerTest, AKilledClientsObjectsAreFreed) {
    Manager m;
    auto d = m.dict();
    const std::size_t start = m.object_count();
    Pipe made(false);
    auto p = spawn_fn([&] {
        made.first.close();
        std::vector<ListProxy> mine;
        for (int i = 0; i < 10; ++i) mine.push_back(m.list());
        d.set("child", 1);
        made.second.send(1);
        ::raise(SIGKILL);
        return 0;
    });
    made.second.close();
    EXPECT_EQ(made.first.recv<int>(30s), 1);
    EXPECT_EQ(join_code(*p), -SIGKILL);
    // The child's reference socket closed with it: its ten lists are freed, the dict (ours) is not.
    EXPECT_EQ(await_count(m, start), start);
    EXPECT_EQ(d.get<int>("child"), 1);
}

TEST_F(ManagerTest, AProxySentThroughAPipeOutlivesTheSendersCopy) {
    Manager m;
    const std::size_t start = m.object_count();
    Pipe to_child(false), from_child(false);
    auto p = spawn_fn([&] {
        to_child.second.close();
        from_child.first.close();
        auto d = to_child.first.recv<DictProxy>(30s);  // the sender dropped its own long ago
        from_child.second.send(d.get<int>("x"));
        d.set("y", 2);
        to_child.first.recv<int>(30s);  // hold it until told
        return 0;
    });
    to_child.first.close();
    from_child.second.close();
    {
        auto d = m.dict();
        d.set("x", 7);
        to_child.second.send(d);
    }  // our proxy is gone; the message in the pipe holds the object
    EXPECT_EQ(m.object_count(), start + 1);
    EXPECT_EQ(from_child.first.recv<int>(30s), 7);
    to_child.second.send(0);
    EXPECT_EQ(join_code(*p), 0);
    EXPECT_EQ(await_count(m, start), start);  // the receiver's reference ended with it
}

TEST_F(ManagerTest, AProxySentThroughAQueueAndAsAPoolArgumentKeepsItsObject) {
    Manager m;
    const std::size_t start = m.object_count();
    prockit::Queue q;
    {
        auto l = m.list();
        l.append(std::string("a"));
        q.put(l);
        q.put(l);  // twice: each message holds its own reference
    }
    EXPECT_EQ(m.object_count(), start + 1);
    {
        auto first = q.get<ListProxy>(30s);
        EXPECT_EQ(first.get<std::string>(0), "a");
    }
    EXPECT_EQ(m.object_count(), start + 1);  // the second message still holds it
    auto second = q.get<ListProxy>(30s);
    EXPECT_EQ(second.size(), 1u);
    {
        Pool pool({.processes = 1});
        auto r = pool.apply_async([](ListProxy l) {
            l.append(std::string("from a worker"));
            return static_cast<int>(l.size());
        }, std::tuple{second});
        EXPECT_EQ(r.get(30s), 2);
    }
    second = ListProxy();
    EXPECT_EQ(await_count(m, start), start);
}

TEST_F(ManagerTest, AForkedChildKeepsWhatItInheritedAfterTheParentDropsIt) {
    Manager m;
    const std::size_t start = m.object_count();
    auto held = std::make_shared<std::optional<DictProxy>>(m.dict());
    (*held)->set("x", 3);
    Pipe go(false), done(false);
    auto p = spawn_fn([held, &go, &done] {
        go.second.close();
        done.first.close();
        go.first.recv<int>(30s);  // the parent has dropped its proxy by now
        int x = (*held)->get<int>("x");
        done.second.send(x);
        go.first.recv<int>(30s);
        return 0;
    });
    go.first.close();
    done.second.close();
    held->reset();  // the parent's only proxy (the child's copy is in its own memory)
    EXPECT_EQ(m.object_count(), start + 1);
    go.second.send(1);
    EXPECT_EQ(done.first.recv<int>(30s), 3);
    go.second.send(2);
    EXPECT_EQ(join_code(*p), 0);
    EXPECT_EQ(await_count(m, start), start);
}

TEST_F(ManagerTest, AChildThatNeverUsesTheManagerReleasesWhatItInherited) {
    Manager m;
    const std::size_t start = m.object_count();
    auto held = std::make_shared<std::optional<QueueProxy>>(m.Queue());
    Pipe go(false);
    auto p = spawn_fn([held, &go] {
        go.second.close();
        go.first.recv<int>(30s);
        return 0;  // ends without a word to the manager: its hand-over ticket hangs up
    });
    go.first.close();
    held->reset();
    EXPECT_EQ(m.object_count(), start + 1);  // the child may still use it
    go.second.send(1);
    EXPECT_EQ(join_code(*p), 0);
    EXPECT_EQ(await_count(m, start), start);
}

// The reply to a call that gave up is set aside by the thread's next call, matched by its
// sequence number; when it shows that an acquire was carried out after all (the server took the
// lock just before the call's give-up time and answered after it), that next call first releases
// the lock. A stand-in server speaks the wire format (manager.cpp) so that its reply comes late
// on purpose: with a real one this happens only when the server is held up at that very moment.
namespace {

using WireRequest =
    std::tuple<std::uint32_t, std::uint64_t, std::int64_t, std::string, std::string, std::uint64_t, std::int64_t, std::uint64_t>;
using WireReply = std::tuple<std::uint32_t, std::string, std::uint64_t>;

// The two pipe ends a data connection hands over after the handshake ('P' and SCM_RIGHTS).
std::optional<Connection> take_pipes(Connection& sock) {
    char byte = 0;
    iovec iov{&byte, 1};
    alignas(cmsghdr) char ctl[CMSG_SPACE(2 * sizeof(int))] = {};
    msghdr m{};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = ctl;
    m.msg_controllen = sizeof ctl;
    if (::recvmsg(sock.fileno(), &m, MSG_CMSG_CLOEXEC) != 1 || byte != 'P') return std::nullopt;
    cmsghdr* c = CMSG_FIRSTHDR(&m);
    if (!c || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(2 * sizeof(int))) return std::nullopt;
    int fds[2];
    std::memcpy(fds, CMSG_DATA(c), sizeof fds);
    return Connection(unique_fd(fds[0]), unique_fd(fds[1]), unique_fd());
}

}  // namespace

TEST_F(ManagerTest, ALateReplyIsSetAsideAndALockItGaveIsReleased) {
    const std::string addr = "@prockit-test-late-reply-" + std::to_string(::getpid());
    const std::string key = "late-reply-key";
    constexpr std::uint64_t lock_id = 7;
    Pipe ready(false), gave_up(false);
    auto server = spawn_fn([&]() -> int {
        ready.first.close();
        gave_up.second.close();
        Listener l(addr, key);
        ready.second.send(1);
        // The client's reference socket: 'R', then its acquire of a reference to the lock.
        Connection refs = l.accept(30s);
        char byte = 0;
        std::uint64_t q[3] = {}, a[2] = {0, lock_id};
        if (::recv(refs.fileno(), &byte, 1, MSG_WAITALL) != 1 || byte != 'R') return 3;
        if (::recv(refs.fileno(), q, sizeof q, MSG_WAITALL) != static_cast<ssize_t>(sizeof q) || q[1] != lock_id) return 4;
        if (::send(refs.fileno(), a, sizeof a, MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof a)) return 5;
        Connection sock = l.accept(30s);
        std::optional<Connection> data = take_pipes(sock);
        if (!data) return 6;
        auto request = [&] { return decode_or_throw<WireRequest>(data->recv_bytes(30s)); };
        auto answer = [&](std::string payload, std::uint64_t seq) {
            data->send_bytes(encode(WireReply{0, std::move(payload), seq}));
        };
        auto op = [](const WireRequest& r) { return static_cast<detail::ManagerOp>(std::get<0>(r)); };
        WireRequest first = request();
        if (op(first) != detail::ManagerOp::lock_acquire || std::get<1>(first) != lock_id || std::get<6>(first) < 0) return 7;
        (void)gave_up.first.recv<int>(30s);  // the caller has given up: now the lock is "taken"
        answer("a", std::get<5>(first));
        WireRequest release = request();  // before anything else, the next call gives it back
        if (op(release) != detail::ManagerOp::lock_release || std::get<1>(release) != lock_id) return 8;
        if (std::get<5>(release) != std::get<5>(first) + 1 || std::get<6>(release) != -1) return 9;
        answer({}, std::get<5>(release));
        WireRequest again = request();  // then its own request
        if (op(again) != detail::ManagerOp::lock_acquire || std::get<5>(again) != std::get<5>(release) + 1) return 10;
        answer("a", std::get<5>(again));
        (void)refs.poll(30s);  // until the client lets go
        return 0;
    });
    ready.second.close();
    gave_up.first.close();
    ASSERT_EQ(ready.first.recv<int>(30s), 1);
    {
        Manager h = Manager::connect(addr, key);
        LockProxy lock(h, lock_id);
        EXPECT_THROW((void)lock.acquire(10ms), TimeoutError);  // after 10 ms plus the 2 s grace
        gave_up.second.send(1);
        EXPECT_EQ(lock.acquire(30s), LockStatus::acquired);
    }
    EXPECT_EQ(join_code(*server), 0);
}

// A client in a time namespace of its own (CLOCK_MONOTONIC about a minute since its boot, far
// behind the server's): its give-up times are on a clock the server cannot compare with its own,
// so its timed calls are carried out as before (compared, every one would be read as long past its
// give-up time and answered `expired`). The client is a grandchild: unshare(CLONE_NEWTIME) takes
// effect in the children of the process that calls it.
TEST_F(ManagerTest, AClientInAnotherTimeNamespaceIsServed) {
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec < 300) GTEST_SKIP() << "the machine's clock is too young for an offset";
    Manager m;
    auto q = m.Queue();
    q.put(5);
    auto lock = m.Lock();
    auto p = spawn_fn([&q, &lock, behind = now.tv_sec - 60]() -> int {
        if (::unshare(CLONE_NEWTIME) != 0) return errno == EPERM || errno == EINVAL ? 77 : 2;
        {
            std::ofstream offsets("/proc/self/timens_offsets");
            offsets << "monotonic -" << behind << " 0\n";
            offsets.flush();
            if (!offsets) return 77;
        }
        pid_t c = ::fork();
        if (c < 0) return 3;
        if (c == 0) {
            timespec mine{};
            ::clock_gettime(CLOCK_MONOTONIC, &mine);
            if (mine.tv_sec > 120) ::_exit(4);  // not in the new namespace
            try {
                if (q.get<int>(5s) != 5) ::_exit(5);
                if (lock.acquire(5s) != LockStatus::acquired) ::_exit(6);
                lock.release();
            } catch (...) {
                ::_exit(7);
            }
            ::_exit(0);
        }
        int st = 0;
        if (::waitpid(c, &st, 0) != c) return 8;
        return WIFEXITED(st) ? WEXITSTATUS(st) : 9;
    });
    int code = join_code(*p);
    if (code == 77) GTEST_SKIP() << "cannot make a time namespace here";
    EXPECT_EQ(code, 0) << "4: not in the namespace, 5-7: a timed call failed";
}
