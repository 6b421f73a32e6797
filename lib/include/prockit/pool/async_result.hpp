// prockit/pool/async_result.hpp — AsyncResult<R>: the future a Pool hands back for a task.
//
// get(timeout) returns the value, throws TaskError when the task threw (code IpcErrc::task_failed,
// the message carries the exception's type and what()) or when its worker died (worker_lost) or the
// pool was terminated (closed), and TimeoutError when it is not ready in time. wait(timeout),
// ready() and successful() as in Python. Results are filled in by the pool's result-handler thread;
// every method is thread-safe.
#pragma once

#include <prockit/ipc/errors.hpp>

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace prockit {

namespace detail {
template <class R>
struct ResultState {
    using Stored = std::conditional_t<std::is_void_v<R>, bool, R>;
    std::mutex m;
    std::condition_variable cv;
    bool done = false;
    std::optional<Stored> value;
    std::error_code error_code;
    std::string error;

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
    bool finish_error(std::error_code code, std::string message) {
        {
            std::lock_guard g(m);
            if (done) return false;
            error_code = code;
            error = std::move(message);
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
        if (!s_->value) throw TaskError(Error(s_->error_code, s_->error));
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
