// prockit/ipc/value.hpp — Value<T> and Array<T>: typed shared memory with an optional lock.
//
//   prockit::Value<long> counter(0);                   // before forking the users
//   { std::lock_guard g(counter.get_lock()); counter.ref() += 1; }   // the lock makes it atomic
//   counter.fetch_add(1);                              // or an atomic instruction (integral T)
//   prockit::Array<double> a(1000);                    // zero-filled
//
// T must be trivially copyable (its bytes are shared, not its pointers). Each object is one
// anonymous memfd mapping holding a robust Lock (unless made with `lock = false`) and the data.
// load()/store() take the lock when there is one; ref()/operator[] give raw, unsynchronised access
// (as Python's `.value` on a lock=False Value); fetch_add/fetch_sub/exchange/compare_exchange use
// std::atomic_ref where T is lock-free atomic. Sharing with a non-forked process: pass fd() and
// call Value<T>::attach(fd) / Array<T>::attach(fd) (type size and count are checked).
#pragma once

#include <prockit/ipc/errors.hpp>
#include <prockit/ipc/lock.hpp>
#include <prockit/ipc/shared_memory.hpp>
#include <prockit/sys/unique_fd.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <optional>
#include <type_traits>
#include <vector>

namespace prockit {

namespace detail {
/// Creates (count elements of `elem` bytes, aligned to `align`) or checks an attached block; returns
/// the data's offset. Layout: ObjectHeader (64) | LockCell (64) | flags (64) | data.
SharedMemory new_typed_block(bool array, std::size_t elem, std::size_t count, bool with_lock);
SharedMemory attach_typed_block(unique_fd fd, bool array, std::size_t elem);
inline constexpr std::size_t kTypedLockOffset = 64;
inline constexpr std::size_t kTypedDataOffset = 192;
std::size_t typed_count(const SharedMemory& shm);
bool typed_has_lock(const SharedMemory& shm);

template <class T>
class TypedShared {
    static_assert(std::is_trivially_copyable_v<T>, "prockit::Value/Array need a trivially copyable T");
    static_assert(alignof(T) <= 64, "prockit::Value/Array: T's alignment must be at most 64");

public:
    /// The lock; throws std::logic_error when made with lock = false.
    Lock& get_lock() {
        if (!lock_) throw std::logic_error("this shared value was made without a lock");
        return *lock_;
    }
    bool has_lock() const noexcept { return lock_.has_value(); }
    int fd() const noexcept { return shm_.fd(); }

protected:
    explicit TypedShared(SharedMemory shm) : shm_(std::move(shm)) {
        if (typed_has_lock(shm_))
            lock_ = lock_in(shm_, reinterpret_cast<LockCell*>(static_cast<char*>(shm_.data()) + kTypedLockOffset), false);
    }
    T* base() const noexcept { return reinterpret_cast<T*>(static_cast<char*>(shm_.data()) + kTypedDataOffset); }
    template <class F>
    auto locked(F&& f) const {
        if (!lock_) return f();
        std::lock_guard g(*lock_);
        return f();
    }
    static constexpr bool atomic_ok = std::atomic_ref<T>::is_always_lock_free;

    SharedMemory shm_;
    mutable std::optional<Lock> lock_;
};
}  // namespace detail

template <class T>
class Value : public detail::TypedShared<T> {
    using Base = detail::TypedShared<T>;

public:
    explicit Value(T initial = T{}, bool lock = true) : Base(detail::new_typed_block(false, sizeof(T), 1, lock)) {
        std::memcpy(static_cast<void*>(this->base()), &initial, sizeof(T));
    }
    static Value attach(unique_fd fd) { return Value(detail::attach_typed_block(std::move(fd), false, sizeof(T))); }

    /// A copy, read under the lock (if any).
    T load() const {
        return this->locked([&] { return *this->base(); });
    }
    void store(const T& v) {
        this->locked([&] {
            *this->base() = v;
            return 0;
        });
    }
    /// Unsynchronised access to the shared object.
    T& ref() noexcept { return *this->base(); }

    T fetch_add(T d) requires(Base::atomic_ok && (std::is_integral_v<T> || std::is_floating_point_v<T>)) {
        return std::atomic_ref<T>(*this->base()).fetch_add(d);
    }
    T fetch_sub(T d) requires(Base::atomic_ok && (std::is_integral_v<T> || std::is_floating_point_v<T>)) {
        return std::atomic_ref<T>(*this->base()).fetch_sub(d);
    }
    T exchange(T v) requires Base::atomic_ok { return std::atomic_ref<T>(*this->base()).exchange(v); }
    bool compare_exchange(T& expected, T desired) requires Base::atomic_ok {
        return std::atomic_ref<T>(*this->base()).compare_exchange_strong(expected, desired);
    }
    T atomic_load() const requires Base::atomic_ok { return std::atomic_ref<T>(*this->base()).load(); }

private:
    explicit Value(SharedMemory shm) : Base(std::move(shm)) {}
};

template <class T>
class Array : public detail::TypedShared<T> {
    using Base = detail::TypedShared<T>;

public:
    /// `n` zero-filled elements.
    explicit Array(std::size_t n, bool lock = true) : Base(detail::new_typed_block(true, sizeof(T), n, lock)) {}
    /// A copy of `init`.
    explicit Array(const std::vector<T>& init, bool lock = true) : Array(init.size(), lock) {
        if (!init.empty()) std::memcpy(static_cast<void*>(this->base()), init.data(), init.size() * sizeof(T));
    }
    static Array attach(unique_fd fd) { return Array(detail::attach_typed_block(std::move(fd), true, sizeof(T))); }

    std::size_t size() const noexcept { return detail::typed_count(this->shm_); }
    /// Unsynchronised element access (throws std::out_of_range past the end for at()).
    T& operator[](std::size_t i) noexcept { return this->base()[i]; }
    const T& operator[](std::size_t i) const noexcept { return this->base()[i]; }
    T& at(std::size_t i) {
        if (i >= size()) throw std::out_of_range("prockit::Array index");
        return this->base()[i];
    }
    T* data() noexcept { return this->base(); }
    T* begin() noexcept { return this->base(); }
    T* end() noexcept { return this->base() + size(); }

    /// A copy of every element, under the lock (if any).
    std::vector<T> to_vector() const {
        return this->locked([&] { return std::vector<T>(this->base(), this->base() + size()); });
    }
    T fetch_add(std::size_t i, T d) requires(Base::atomic_ok && (std::is_integral_v<T> || std::is_floating_point_v<T>)) {
        return std::atomic_ref<T>(at(i)).fetch_add(d);
    }

private:
    explicit Array(SharedMemory shm) : Base(std::move(shm)) {}
};

}  // namespace prockit
