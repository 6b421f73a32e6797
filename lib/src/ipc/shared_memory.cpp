#include <prockit/ipc/shared_memory.hpp>

#include <prockit/sys/syscall.hpp>

#include <climits>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <map>
#include <mutex>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace prockit {

struct SharedMemory::Impl {
    unique_fd fd;
    void* addr = nullptr;
    std::size_t size = 0;
    std::string name;  // as the caller gave it
    ~Impl() {
        if (addr) ::munmap(addr, size);
    }
};

namespace {
// A named block's owner file, /dev/shm/.prockit-owner.<name>: its creator holds an open file
// description lock (F_OFD_SETLK) on it from create() until unlink(), through a descriptor kept
// for the process (and inherited by its forked children). When the lock is free, every process
// that could still unlink the block is gone: the next create() or open() removes it.
constexpr const char* kOwnerPrefix = ".prockit-owner.";
constexpr const char* kShmDir = "/dev/shm/";

Error invalid(const std::string& what) { return Error::from_errno(EINVAL, what); }

// The name without its optional leading '/', or an error naming what is wrong with it.
Result<std::string> base_name(const std::string& name, const std::string& verb) {
    std::string ctx = verb + " shared memory";
    if (name.find('\0') != std::string::npos) return fail(invalid(ctx + " (the name contains a NUL byte)"));
    std::string b = name.starts_with('/') ? name.substr(1) : name;
    if (b.empty()) return fail(invalid(ctx + " (empty name)"));
    if (b.find('/') != std::string::npos) return fail(invalid(ctx + " " + name + " (a name has no '/' after the first character)"));
    if (b == "." || b == ".." || b.starts_with(kOwnerPrefix)) return fail(invalid(ctx + " " + name + " (reserved name)"));
    if (b.size() + std::strlen(kOwnerPrefix) > NAME_MAX) return fail(Error::from_errno(ENAMETOOLONG, ctx + " " + name));
    return b;
}

std::string owner_name(const std::string& base) { return "/" + std::string(kOwnerPrefix) + base; }

bool lock_owner(int fd) {
    struct flock fl {};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = 0;
    fl.l_len = 1;
    return ::fcntl(fd, F_OFD_SETLK, &fl) == 0;
}

// The owner file's descriptor still names the path (not a file a cleaner unlinked meanwhile).
bool still_linked(int fd, const std::string& owner) {
    struct stat a {}, b {};
    return ::fstat(fd, &a) == 0 && ::stat((std::string(kShmDir) + owner.substr(1)).c_str(), &b) == 0 && a.st_ino == b.st_ino &&
           a.st_dev == b.st_dev;
}

// The owner locks this process holds, by base name.
std::mutex owners_mu;
std::map<std::string, unique_fd>& owners() {
    static auto* m = new std::map<std::string, unique_fd>;  // never destroyed: used from atexit paths
    return *m;
}

// Removes the block `base` if its owner file exists and no live process holds its lock.
// True when it was stale and is gone.
bool remove_if_stale(const std::string& base) {
    std::string owner = owner_name(base);
    int raw = ::shm_open(owner.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC, 0);
    if (raw < 0) return false;
    unique_fd fd(raw);
    if (!lock_owner(fd.get()) || !still_linked(fd.get(), owner)) return false;
    ::shm_unlink(("/" + base).c_str());
    ::shm_unlink(owner.c_str());
    return true;  // the lock goes with fd
}

void remove_stale_blocks() {
    DIR* d = ::opendir(kShmDir);
    if (!d) return;
    std::size_t plen = std::strlen(kOwnerPrefix);
    while (dirent* e = ::readdir(d)) {
        std::string_view n = e->d_name;
        if (n.size() > plen && n.starts_with(kOwnerPrefix)) remove_if_stale(std::string(n.substr(plen)));
    }
    ::closedir(d);
}

Result<SharedMemory::Impl*> map_fd(unique_fd fd, std::size_t size, const std::string& what) {
    void* p = size ? ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0) : nullptr;
    if (p == MAP_FAILED) return fail(last_error("map " + what));
    auto* impl = new SharedMemory::Impl;
    impl->fd = std::move(fd);
    impl->addr = p;
    impl->size = size;
    return impl;
}
}  // namespace

Result<SharedMemory> SharedMemory::anonymous(std::size_t size, const char* label) {
    int fd = ::memfd_create(label, MFD_CLOEXEC);
    if (fd < 0) return fail(last_error("create shared memory"));
    unique_fd owned(fd);
    if (::ftruncate(fd, static_cast<off_t>(size)) < 0) return fail(last_error("size shared memory"));
    auto r = map_fd(std::move(owned), size, "shared memory");
    if (!r) return fail(r.error());
    return SharedMemory(std::shared_ptr<Impl>(*r));
}

Result<SharedMemory> SharedMemory::create(const std::string& name, std::size_t size) {
    auto b = base_name(name, "create");
    if (!b) return fail(b.error());
    std::string n = "/" + *b, owner = owner_name(*b);
    if (size == 0) return fail(invalid("create shared memory " + name + " (size 0)"));
    remove_stale_blocks();

    // Take the owner lock first, then make the block: a cleaner never sees a block without it.
    unique_fd lock;
    for (int attempt = 0; !lock; ++attempt) {
        int raw = ::shm_open(owner.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (raw < 0) return fail(last_error("create shared memory " + name + " (owner file)"));
        unique_fd fd(raw);
        if (!lock_owner(fd.get())) {
            if (errno == EAGAIN || errno == EACCES) return fail(Error::from_errno(EEXIST, "create shared memory " + name));
            return fail(last_error("lock shared memory " + name + " (owner file)"));
        }
        if (still_linked(fd.get(), owner)) lock = std::move(fd);
        else if (attempt > 100) return fail(Error::from_errno(EAGAIN, "create shared memory " + name + " (owner file keeps changing)"));
    }
    int fd = ::shm_open(n.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        Error e = last_error("create shared memory " + name);
        ::shm_unlink(owner.c_str());
        return fail(e);
    }
    unique_fd owned(fd);
    auto undo = [&](Error e) -> Result<SharedMemory> {
        ::shm_unlink(n.c_str());
        ::shm_unlink(owner.c_str());
        return fail(std::move(e));
    };
    if (::ftruncate(fd, static_cast<off_t>(size)) < 0) return undo(last_error("size shared memory " + name));
    auto r = map_fd(std::move(owned), size, "shared memory " + name);
    if (!r) return undo(r.error());
    (*r)->name = name;
    {
        std::lock_guard g(owners_mu);
        owners()[*b] = std::move(lock);
    }
    return SharedMemory(std::shared_ptr<Impl>(*r));
}

Result<SharedMemory> SharedMemory::open(const std::string& name) {
    auto b = base_name(name, "open");
    if (!b) return fail(b.error());
    std::string n = "/" + *b;
    if (remove_if_stale(*b)) return fail(Error::from_errno(ENOENT, "open shared memory " + name + " (its creator died)"));
    int fd = ::shm_open(n.c_str(), O_RDWR | O_CLOEXEC, 0);
    if (fd < 0) return fail(last_error("open shared memory " + name));
    unique_fd owned(fd);
    struct stat st {};
    if (::fstat(fd, &st) < 0) return fail(last_error("stat shared memory " + name));
    auto r = map_fd(std::move(owned), static_cast<std::size_t>(st.st_size), "shared memory " + name);
    if (!r) return fail(r.error());
    (*r)->name = name;
    return SharedMemory(std::shared_ptr<Impl>(*r));
}

Result<SharedMemory> SharedMemory::from_fd(unique_fd fd) {
    struct stat st {};
    if (::fstat(fd.get(), &st) < 0) return fail(last_error("stat shared memory fd"));
    auto r = map_fd(std::move(fd), static_cast<std::size_t>(st.st_size), "shared memory fd");
    if (!r) return fail(r.error());
    return SharedMemory(std::shared_ptr<Impl>(*r));
}

Status SharedMemory::unlink(const std::string& name) {
    auto b = base_name(name, "unlink");
    if (!b) return fail(b.error());
    if (::shm_unlink(("/" + *b).c_str()) < 0) return fail(last_error("unlink shared memory " + name));
    ::shm_unlink(owner_name(*b).c_str());
    std::lock_guard g(owners_mu);
    owners().erase(*b);
    return {};
}

Status SharedMemory::unlink() {
    if (!impl_ || impl_->name.empty()) return {};
    return unlink(impl_->name);
}

void* SharedMemory::data() const noexcept { return impl_ ? impl_->addr : nullptr; }
std::size_t SharedMemory::size() const noexcept { return impl_ ? impl_->size : 0; }
int SharedMemory::fd() const noexcept { return impl_ ? impl_->fd.get() : -1; }
std::string SharedMemory::path() const { return "/proc/" + std::to_string(::getpid()) + "/fd/" + std::to_string(fd()); }
const std::string& SharedMemory::name() const noexcept {
    static const std::string none;
    return impl_ ? impl_->name : none;
}

}  // namespace prockit
