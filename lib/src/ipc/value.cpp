#include <prockit/ipc/value.hpp>

#include "ipc/sync_internal.hpp"

namespace prockit::detail {

namespace {
struct TypedFlags {
    std::uint32_t has_lock;
};
TypedFlags* flags(const SharedMemory& shm) { return reinterpret_cast<TypedFlags*>(static_cast<char*>(shm.data()) + 128); }
}  // namespace

SharedMemory new_typed_block(bool array, std::size_t elem, std::size_t count, bool with_lock) {
    std::size_t bytes = kTypedDataOffset + elem * (count ? count : 1);
    auto shm = new_object(array ? Kind::array : Kind::value, bytes, elem, count);
    flags(shm)->has_lock = with_lock ? 1 : 0;
    if (with_lock) (void)lock_in(shm, reinterpret_cast<LockCell*>(static_cast<char*>(shm.data()) + kTypedLockOffset), true);
    return shm;
}

SharedMemory attach_typed_block(unique_fd fd, bool array, std::size_t elem) {
    auto shm = SharedMemory::from_fd(std::move(fd)).value();
    auto* h = check_object(shm, array ? Kind::array : Kind::value, kTypedDataOffset);
    if (h->a != elem) throw_ipc(IpcErrc::bad_handle, "attach a shared value (element size differs)");
    if (shm.size() < kTypedDataOffset + elem * h->b) throw_ipc(IpcErrc::bad_handle, "attach a shared value (too small)");
    return shm;
}

std::size_t typed_count(const SharedMemory& shm) { return static_cast<std::size_t>(static_cast<ObjectHeader*>(shm.data())->b); }
bool typed_has_lock(const SharedMemory& shm) { return flags(shm)->has_lock != 0; }

}  // namespace prockit::detail
