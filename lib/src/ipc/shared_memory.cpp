#include <prockit/ipc/shared_memory.hpp>

#include <prockit/sys/syscall.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace prockit {

struct SharedMemory::Impl {
    unique_fd fd;
    void* addr = nullptr;
    std::size_t size = 0;
    std::string name;
    bool creator = false;
    ~Impl() {
        if (addr) ::munmap(addr, size);
        if (creator && !name.empty()) ::shm_unlink(name.c_str());
    }
};

namespace {
std::string shm_name(const std::string& name) { return name.starts_with('/') ? name : "/" + name; }

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
    std::string n = shm_name(name);
    int fd = ::shm_open(n.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return fail(last_error("create shared memory " + n));
    unique_fd owned(fd);
    if (::ftruncate(fd, static_cast<off_t>(size)) < 0) {
        Error e = last_error("size shared memory " + n);
        ::shm_unlink(n.c_str());
        return fail(e);
    }
    auto r = map_fd(std::move(owned), size, "shared memory " + n);
    if (!r) {
        ::shm_unlink(n.c_str());
        return fail(r.error());
    }
    (*r)->name = n;
    (*r)->creator = true;
    return SharedMemory(std::shared_ptr<Impl>(*r));
}

Result<SharedMemory> SharedMemory::open(const std::string& name) {
    std::string n = shm_name(name);
    int fd = ::shm_open(n.c_str(), O_RDWR | O_CLOEXEC, 0);
    if (fd < 0) return fail(last_error("open shared memory " + n));
    unique_fd owned(fd);
    struct stat st {};
    if (::fstat(fd, &st) < 0) return fail(last_error("stat shared memory " + n));
    auto r = map_fd(std::move(owned), static_cast<std::size_t>(st.st_size), "shared memory " + n);
    if (!r) return fail(r.error());
    (*r)->name = n;
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
    std::string n = shm_name(name);
    if (::shm_unlink(n.c_str()) < 0) return fail(last_error("unlink shared memory " + n));
    return {};
}

Status SharedMemory::unlink() {
    if (!impl_ || impl_->name.empty()) return {};
    impl_->creator = false;
    if (::shm_unlink(impl_->name.c_str()) < 0 && errno != ENOENT) return fail(last_error("unlink shared memory " + impl_->name));
    return {};
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
