// Value<T>, Array<T> and SharedMemory.
#include "ipc_support.hpp"

#include <prockit/ipc/shared_memory.hpp>
#include <prockit/ipc/value.hpp>

#include <csignal>
#include <cstring>
#include <dirent.h>
#include <sys/stat.h>
#include <mutex>

using namespace prockit;
using namespace prockit::test;
using namespace std::chrono_literals;

class ValueTest : public NoLeaks {};

namespace {
std::set<std::string> dev_shm() {
    std::set<std::string> s;
    if (DIR* d = opendir("/dev/shm")) {
        while (dirent* e = readdir(d))
            if (std::string(e->d_name).starts_with("prockit")) s.insert(e->d_name);
        closedir(d);
    }
    return s;
}
}  // namespace

TEST_F(ValueTest, LockedIncrementsFromFourProcessesLoseNothing) {
    Value<long> v(0);
    constexpr int kN = 20000;
    std::vector<std::unique_ptr<Process>> ps;
    for (int i = 0; i < 4; ++i)
        ps.push_back(spawn_fn([&] {
            for (int k = 0; k < kN; ++k) {
                std::lock_guard g(v.get_lock());
                v.ref() += 1;
            }
            return 0;
        }));
    for (auto& p : ps) EXPECT_EQ(join_code(*p), 0);
    EXPECT_EQ(v.load(), 4L * kN);
}

TEST_F(ValueTest, AtomicOperations) {
    Value<std::uint64_t> v(10, false);
    EXPECT_FALSE(v.has_lock());
    EXPECT_THROW(v.get_lock(), std::logic_error);
    std::vector<std::unique_ptr<Process>> ps;
    for (int i = 0; i < 3; ++i)
        ps.push_back(spawn_fn([&] {
            for (int k = 0; k < 10000; ++k) v.fetch_add(1);
            return 0;
        }));
    for (auto& p : ps) EXPECT_EQ(join_code(*p), 0);
    EXPECT_EQ(v.atomic_load(), 30010u);
    std::uint64_t expect = 30010;
    EXPECT_TRUE(v.compare_exchange(expect, 5));
    EXPECT_EQ(v.exchange(6), 5u);
    EXPECT_EQ(v.load(), 6u);
}

TEST_F(ValueTest, StructValueAndArray) {
    struct P {
        int x;
        double y;
    };
    Value<P> v(P{1, 2.0});
    Array<int> a(std::vector<int>{1, 2, 3});
    auto p = spawn_fn([&] {
        v.store(P{7, 8.5});
        for (auto& e : a) e *= 10;
        a.fetch_add(0, 1);
        return 0;
    });
    EXPECT_EQ(join_code(*p), 0);
    EXPECT_EQ(v.load().x, 7);
    EXPECT_EQ(v.load().y, 8.5);
    EXPECT_EQ(a.to_vector(), (std::vector<int>{11, 20, 30}));
    EXPECT_EQ(a.size(), 3u);
    EXPECT_THROW(a.at(3), std::out_of_range);
}

TEST_F(ValueTest, AttachChecksTheType) {
    Value<int> v(5);
    auto w = Value<int>::attach(unique_fd(::dup(v.fd())));
    EXPECT_EQ(w.load(), 5);
    w.get_lock().lock();  // the same lock
    EXPECT_FALSE(v.get_lock().try_lock());
    w.get_lock().unlock();
    EXPECT_THROW(Value<double>::attach(unique_fd(::dup(v.fd()))), IpcError);
    EXPECT_THROW(Array<int>::attach(unique_fd(::dup(v.fd()))), IpcError);
    Array<double> a(4);
    EXPECT_EQ(Array<double>::attach(unique_fd(::dup(a.fd()))).size(), 4u);
}

TEST_F(ValueTest, ValueLockHolderDyingIsReported) {
    Value<int> v(0);
    auto p = spawn_fn([&] {
        v.get_lock().lock();
        v.ref() = 99;
        ::raise(SIGKILL);
        return 0;
    });
    join_code(*p);
    EXPECT_EQ(v.get_lock().acquire(30s), LockStatus::owner_died);
    v.get_lock().release();
    EXPECT_EQ(v.load(), 99);
}

TEST_F(ValueTest, SharedMemoryAnonymousAndNamed) {
    auto shm = SharedMemory::anonymous(8192).value();
    EXPECT_EQ(shm.size(), 8192u);
    auto p = spawn_fn([&] {
        std::strcpy(static_cast<char*>(shm.data()), "child wrote");
        return 0;
    });
    EXPECT_EQ(join_code(*p), 0);
    EXPECT_STREQ(static_cast<char*>(shm.data()), "child wrote");

    std::string name = "prockit-test-" + std::to_string(::getpid());
    {
        auto named = SharedMemory::create(name, 4096).value();
        EXPECT_TRUE(dev_shm().count(name));
        auto other = SharedMemory::open(name).value();
        std::strcpy(static_cast<char*>(named.data()), "named");
        EXPECT_STREQ(static_cast<char*>(other.data()), "named");
        EXPECT_FALSE(SharedMemory::create(name, 4096));
        EXPECT_TRUE(named.unlink());
        EXPECT_FALSE(dev_shm().count(name));
        EXPECT_STREQ(static_cast<char*>(other.data()), "named");  // mappings stay valid
    }
}

// As in Python: the name lives until unlink(), past the creator's handle, so a consumer may
// attach after the creator let go of it.
TEST_F(ValueTest, NamedSharedMemoryLivesUntilUnlink) {
    std::string name = "prockit-test-life-" + std::to_string(::getpid());
    {
        auto named = SharedMemory::create(name, 4096).value();
        std::strcpy(static_cast<char*>(named.data()), "kept");
        EXPECT_EQ(named.name(), name);
    }
    EXPECT_TRUE(dev_shm().count(name));
    auto p = spawn_fn([&] {
        auto r = SharedMemory::open(name);
        if (!r) return 1;
        return std::strcmp(static_cast<char*>(r->data()), "kept") == 0 ? 0 : 2;
    });
    EXPECT_EQ(join_code(*p), 0);
    auto other = SharedMemory::open("/" + name).value();
    EXPECT_EQ(other.name(), "/" + name);  // the name as given
    EXPECT_TRUE(other.unlink());
    auto again = other.unlink();
    ASSERT_FALSE(again) << "a second unlink() succeeded";
    EXPECT_EQ(again.error().errno_value(), ENOENT);
    EXPECT_FALSE(SharedMemory::unlink(name));
    EXPECT_FALSE(dev_shm().count(name));
}

// Names with a NUL byte (which would name a truncated, other block), size 0 and bad names are
// refused with EINVAL.
TEST_F(ValueTest, SharedMemoryRefusesBadNamesAndSizeZero) {
    std::string base = "prockit-test-nul-" + std::to_string(::getpid());
    auto plain = SharedMemory::create(base, 4096).value();
    std::string with_nul = base + std::string(1, '\0') + "tail";
    auto c = SharedMemory::create(with_nul, 4096);
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().errno_value(), EINVAL);
    auto o = SharedMemory::open(with_nul);
    ASSERT_FALSE(o) << "open() of a name with a NUL opened " << base;
    EXPECT_EQ(o.error().errno_value(), EINVAL);
    auto u = SharedMemory::unlink(with_nul);
    ASSERT_FALSE(u);
    EXPECT_EQ(u.error().errno_value(), EINVAL);
    EXPECT_TRUE(dev_shm().count(base)) << "unlink() of a name with a NUL removed " << base;

    auto z = SharedMemory::create(base + "-zero", 0);
    ASSERT_FALSE(z);
    EXPECT_EQ(z.error().errno_value(), EINVAL);
    EXPECT_FALSE(dev_shm().count(base + "-zero"));
    for (const char* bad : {"", "/", "a/b", "/a/b"}) {
        auto r = SharedMemory::create(bad, 4096);
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(r.error().errno_value(), EINVAL) << bad;
    }
    EXPECT_TRUE(plain.unlink());
}

// A creator killed before unlink(): its block does not stay in /dev/shm for good. The next
// create() (of any block) or open() (of that one) removes it.
TEST_F(ValueTest, BlocksOfADeadCreatorAreRemoved) {
    std::string a = "prockit-test-dead-a-" + std::to_string(::getpid());
    std::string b = "prockit-test-dead-b-" + std::to_string(::getpid());
    auto p = spawn_fn([&] {
        if (!SharedMemory::create(a, 1 << 16) || !SharedMemory::create(b, 1 << 16)) return 1;
        ::raise(SIGKILL);
        return 0;
    });
    join_code(*p);
    ASSERT_TRUE(dev_shm().count(a));
    auto o = SharedMemory::open(a);
    ASSERT_FALSE(o);
    EXPECT_EQ(o.error().errno_value(), ENOENT);
    EXPECT_FALSE(dev_shm().count(a));
    ASSERT_TRUE(dev_shm().count(b));
    std::string c = "prockit-test-dead-c-" + std::to_string(::getpid());
    auto mine = SharedMemory::create(c, 4096).value();
    EXPECT_FALSE(dev_shm().count(b)) << "create() left a dead creator's block";
    // A live creator's block is left alone by another process's create() and open().
    auto q = spawn_fn([&] {
        auto r = SharedMemory::create(c + "-x", 4096);
        if (!r || !r->unlink()) return 1;
        return SharedMemory::open(c) ? 0 : 2;
    });
    EXPECT_EQ(join_code(*q), 0);
    EXPECT_TRUE(dev_shm().count(c));
    EXPECT_TRUE(mine.unlink());
    struct stat st {};
    EXPECT_NE(::stat(("/dev/shm/.prockit-owner." + c).c_str(), &st), 0) << "unlink() left the owner file";
}

TEST_F(ValueTest, NothingLeftInDevShmWhenUsersCrash) {
    // Named blocks of other tests ("prockit-test-...", running at the same time) come and go.
    auto library_names = [] {
        auto s = dev_shm();
        std::erase_if(s, [](const std::string& n) { return n.starts_with("prockit-test-"); });
        return s;
    };
    auto before = library_names();
    auto p = spawn_fn([&] {
        Value<int> v(1);
        Array<char> a(1 << 20);
        auto s = SharedMemory::anonymous(1 << 20).value();
        (void)v.get_lock().acquire();
        ::raise(SIGKILL);
        return 0;
    });
    join_code(*p);
    EXPECT_EQ(library_names(), before);
}
