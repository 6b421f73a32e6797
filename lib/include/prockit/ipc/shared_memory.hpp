// prockit/ipc/shared_memory.hpp — a block of memory shared between processes.
//
//   auto shm = prockit::SharedMemory::anonymous(1 << 20).value();   // memfd, nothing in /dev/shm
//   prockit::Process p([&] { std::memcpy(shm.data(), "hi", 3); });  // forked: same mapping
//
// Anonymous blocks are memfds (memfd_create, MFD_CLOEXEC) mapped MAP_SHARED: every process forked
// after the block was made sees the same bytes; the memory is freed when the last mapping and fd go,
// whatever way the processes end — nothing is ever left in /dev/shm. To share one with a process that
// was not forked from the creator, hand it the fd: over a Pipe (Connection::send_fd), or let it open
// /proc/<creator pid>/fd/<fd> (path()) while the creator runs, then SharedMemory::from_fd().
//
// Named blocks (create/open) live in /dev/shm under their name until unlink()ed, as in Python:
// destroying handles (the creator's too) leaves the name, so a consumer may attach later. A block
// whose creator died without unlinking it (killed, or simply exited) is removed by the next
// create() of any block or open() of that name, once the creator and every process forked from it
// are gone: the creator holds a lock on /dev/shm/.prockit-owner.<name> from create() until unlink().
// Names: an optional leading '/', then 1-240 bytes with no '/' and no NUL byte (EINVAL otherwise,
// ENAMETOOLONG when too long); create() refuses size 0 (EINVAL); unlink() of a name that is gone,
// a second one included, fails with ENOENT.
// A SharedMemory is a cheap, copyable handle (the mapping is reference counted in the process).
#pragma once

#include <prockit/sys/result.hpp>
#include <prockit/sys/unique_fd.hpp>

#include <cstddef>
#include <memory>
#include <string>

namespace prockit {

class SharedMemory {
public:
    SharedMemory() = default;

    /// A new zero-filled anonymous block of `size` bytes; `label` shows in /proc/PID/fd.
    static Result<SharedMemory> anonymous(std::size_t size, const char* label = "prockit-shm");
    /// A new named block /dev/shm/<name> of `size` > 0 bytes (EEXIST if the name exists).
    static Result<SharedMemory> create(const std::string& name, std::size_t size);
    /// Opens an existing named block (ENOENT if its creator died without unlinking it).
    static Result<SharedMemory> open(const std::string& name);
    /// Maps the block behind an fd received from another process (size from fstat).
    static Result<SharedMemory> from_fd(unique_fd fd);
    /// Removes a name from /dev/shm (existing mappings stay valid); ENOENT if it is not there.
    static Status unlink(const std::string& name);

    /// Removes this block's name (named blocks; no-op for anonymous ones); ENOENT the second time.
    Status unlink();

    void* data() const noexcept;
    std::size_t size() const noexcept;
    /// The block's fd (close-on-exec; stays owned by the handle).
    int fd() const noexcept;
    /// "/proc/<pid>/fd/<fd>": another process of the same user may open it while this one lives.
    std::string path() const;
    /// The name as given to create() or open(), empty for anonymous blocks.
    const std::string& name() const noexcept;
    explicit operator bool() const noexcept { return static_cast<bool>(impl_); }

    struct Impl;

private:
    explicit SharedMemory(std::shared_ptr<Impl> i) : impl_(std::move(i)) {}
    std::shared_ptr<Impl> impl_;
};

}  // namespace prockit
