// prockit/pool/async_result.hpp — AsyncResult<R>: the future a Pool hands back for a task.
//
// get(timeout) returns the value or throws what the task threw: a standard exception type
// (std::invalid_argument, std::out_of_range, std::system_error with its code, std::bad_alloc, ...;
// see pool.hpp) as itself, with the same what(); any other exception as TaskError (code
// IpcErrc::task_failed, the message carries its type and what()). It throws TaskError too when the
// task's worker died (worker_lost) or the pool was terminated (closed), and TimeoutError when the
// result is not ready in time. wait(timeout),
// ready() and successful() as in Python. Results are filled in by the pool's result-handler thread;
// every method is thread-safe.
#pragma once

#include <prockit/ipc/errors.hpp>

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace prockit {

namespace detail {
/// Why a task failed: the code and message of its TaskError and, when the task threw a standard
/// exception, what it needs to be thrown again in the caller (then get() throws that instead).
/// Only the description is kept: raise_failure builds the exception on the thread that throws it,
/// so no exception object is ever shared between the result handler and a caller.
struct TaskFailure {
    TaskFailure() = default;
    TaskFailure(std::error_code c, std::string m) : code(c), message(std::move(m)) {}
    std::error_code code;
    std::string message;
    std::uint8_t std_kind = 0;      // which standard exception (0: none; TaskError is thrown)
    std::uint8_t std_category = 0;  // std::system_error: its code's category and value
    std::int32_t std_value = 0;
    std::string what;               // the task exception's what()
};

/// Throws the task's standard exception when it can be rebuilt, else TaskError.
[[noreturn]] void raise_failure(const TaskFailure& f);

template <class R>
struct ResultState {
    using Stored = std::conditional_t<std::is_void_v<R>, bool, R>;
    std::mutex m;
    std::condition_variable cv;
    bool done = false;
    std::optional<Stored> value;
    TaskFailure failure;

    /// Fills the state once; false when it was already filled.
    bool finish_value(Stored v) {
        {
            std::lock_guard g(m);
            if (done) return false;
            value.emplace(std::move(v));
            done = true;
        }
        cv.notify_all();
        return true;
    }
    bool finish_error(const TaskFailure& f) {
        {
            std::lock_guard g(m);
            if (done) return false;
            failure = f;
            done = true;
        }
        cv.notify_all();
        return true;
    }
    bool wait(Timeout t) {
        std::unique_lock l(m);
        if (!t) {
            cv.wait(l, [&] { return done; });
            return true;
        }
        return cv.wait_for(l, *t, [&] { return done; });
    }
};
}  // namespace detail

template <class R>
class AsyncResult {
public:
    AsyncResult() = default;
    explicit AsyncResult(std::shared_ptr<detail::ResultState<R>> s) : s_(std::move(s)) {}

    /// The result; see the header comment for what it throws.
    R get(Timeout timeout = std::nullopt) const {
        if (!s_->wait(timeout)) throw_ipc(make_error_code(Errc::timed_out), "get a pool result");
        std::lock_guard g(s_->m);
        if (!s_->value) detail::raise_failure(s_->failure);
        if constexpr (!std::is_void_v<R>) return *s_->value;
    }
    /// True once ready; false when `timeout` passed first.
    bool wait(Timeout timeout = std::nullopt) const { return s_->wait(timeout); }
    bool ready() const {
        std::lock_guard g(s_->m);
        return s_->done;
    }
    /// Whether it completed without error. Throws std::logic_error when not ready (as Python's ValueError).
    bool successful() const {
        std::lock_guard g(s_->m);
        if (!s_->done) throw std::logic_error("the result is not ready");
        return s_->value.has_value();
    }

private:
    std::shared_ptr<detail::ResultState<R>> s_;
};

}  // namespace prockit
