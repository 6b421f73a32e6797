// prockit/sys/result.hpp — Result<T, E>: a value or an error, in the spirit of std::expected
// (which g++ 12 has but clang 14 cannot compile, hence our own small type).
//
// Fallible prockit functions return Result. `.value()` is the throwing convenience form: it
// returns the value or throws the exception matching the error (SystemError for Error).
#pragma once

#include <prockit/sys/error.hpp>

#include <cassert>
#include <type_traits>
#include <utility>
#include <variant>

namespace prockit {

template <class E>
struct Unexpected {
    E error;
};
template <class E>
Unexpected(E) -> Unexpected<E>;

/// Convenience: `return fail(Error::from_errno(errno, "open x"));`
template <class E>
Unexpected<std::decay_t<E>> fail(E&& e) {
    return {std::forward<E>(e)};
}

template <class T, class E = Error>
class [[nodiscard]] Result {
public:
    using value_type = T;
    using error_type = E;

    template <class U = T, std::enable_if_t<std::is_constructible_v<T, U&&>, int> = 0>
    Result(U&& v) : v_(std::in_place_index<0>, std::forward<U>(v)) {}  // NOLINT: implicit by design
    template <class G>
    Result(Unexpected<G> u) : v_(std::in_place_index<1>, std::move(u.error)) {}  // NOLINT

    bool has_value() const noexcept { return v_.index() == 0; }
    explicit operator bool() const noexcept { return has_value(); }

    T& value() & {
        if (!has_value()) throw_error(error());
        return std::get<0>(v_);
    }
    const T& value() const& {
        if (!has_value()) throw_error(error());
        return std::get<0>(v_);
    }
    T&& value() && {
        if (!has_value()) throw_error(error());
        return std::get<0>(std::move(v_));
    }
    template <class U>
    T value_or(U&& fallback) const& {
        return has_value() ? std::get<0>(v_) : static_cast<T>(std::forward<U>(fallback));
    }

    const E& error() const& {
        assert(!has_value());
        return std::get<1>(v_);
    }
    E&& error() && {
        assert(!has_value());
        return std::get<1>(std::move(v_));
    }

    T& operator*() & { return std::get<0>(v_); }
    const T& operator*() const& { return std::get<0>(v_); }
    T&& operator*() && { return std::get<0>(std::move(v_)); }
    T* operator->() { return &std::get<0>(v_); }
    const T* operator->() const { return &std::get<0>(v_); }

private:
    std::variant<T, E> v_;
};

template <class E>
class [[nodiscard]] Result<void, E> {
public:
    using value_type = void;
    using error_type = E;

    Result() = default;
    template <class G>
    Result(Unexpected<G> u) : err_(std::move(u.error)), ok_(false) {}  // NOLINT

    bool has_value() const noexcept { return ok_; }
    explicit operator bool() const noexcept { return ok_; }
    void value() const {
        if (!ok_) throw_error(err_);
    }
    const E& error() const& {
        assert(!ok_);
        return err_;
    }

private:
    E err_{};
    bool ok_ = true;
};

using Status = Result<void>;

}  // namespace prockit
