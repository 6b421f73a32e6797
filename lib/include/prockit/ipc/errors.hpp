// prockit/ipc/errors.hpp — the conditions the ipc/ and pool/ calls report, and their exceptions.
//
// Every blocking ipc call takes a timeout (std::nullopt: no limit). Throwing forms raise a
// SystemError subclass whose code() is an IpcErrc (or Errc::timed_out), so callers can catch the
// specific condition (QueueEmpty, EofError, ...) or any prockit error (SystemError).
#pragma once

#include <prockit/sys/error.hpp>

#include <chrono>
#include <optional>
#include <string>

namespace prockit {

/// A timeout for a blocking call: std::nullopt waits without limit, zero does not wait.
using Timeout = std::optional<std::chrono::nanoseconds>;

enum class IpcErrc {
    empty = 1,       ///< a non-blocking get found nothing (Python's queue.Empty)
    full,            ///< a non-blocking put found no room (queue.Full)
    eof,             ///< the peer closed its end or died (EOFError)
    closed,          ///< this handle was closed
    owner_died,      ///< a lock's previous holder died while holding it
    broken_barrier,  ///< a barrier was broken (a party timed out or reset it)
    not_owner,       ///< released by a process or thread that does not hold it
    too_many_releases,  ///< a BoundedSemaphore released above its initial value
    bad_handle,      ///< a shared object attached from an fd is not what was expected
    worker_lost,     ///< a pool worker died while running the task
    task_failed,     ///< a pool task threw
};
const std::error_category& ipc_category() noexcept;
inline std::error_code make_error_code(IpcErrc e) noexcept { return {static_cast<int>(e), ipc_category()}; }

/// The base of every ipc exception.
class IpcError : public SystemError {
public:
    explicit IpcError(Error e) : SystemError(std::move(e)) {}
};
#define PROCKIT_IPC_ERROR(Name)                                    \
    class Name : public IpcError {                                 \
    public:                                                        \
        explicit Name(Error e) : IpcError(std::move(e)) {}         \
    }
PROCKIT_IPC_ERROR(QueueEmpty);
PROCKIT_IPC_ERROR(QueueFull);
PROCKIT_IPC_ERROR(EofError);
PROCKIT_IPC_ERROR(ClosedError);
PROCKIT_IPC_ERROR(OwnerDiedError);
PROCKIT_IPC_ERROR(BrokenBarrierError);
PROCKIT_IPC_ERROR(TimeoutError);
PROCKIT_IPC_ERROR(TaskError);  ///< a pool task threw, or its worker died (code() tells which)
#undef PROCKIT_IPC_ERROR

/// Throws the exception class that matches `code` (TimeoutError for Errc::timed_out).
[[noreturn]] void throw_ipc(std::error_code code, std::string context);
[[noreturn]] inline void throw_ipc(IpcErrc code, std::string context) { throw_ipc(make_error_code(code), std::move(context)); }

}  // namespace prockit

template <>
struct std::is_error_code_enum<prockit::IpcErrc> : std::true_type {};
