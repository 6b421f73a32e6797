#include <prockit/ipc/errors.hpp>

namespace prockit {

namespace {
class IpcCategory final : public std::error_category {
public:
    const char* name() const noexcept override { return "prockit.ipc"; }
    std::string message(int c) const override {
        switch (static_cast<IpcErrc>(c)) {
            case IpcErrc::empty: return "empty";
            case IpcErrc::full: return "full";
            case IpcErrc::eof: return "the peer closed its end or died (end of file)";
            case IpcErrc::closed: return "the handle is closed";
            case IpcErrc::owner_died: return "the previous owner died while holding it";
            case IpcErrc::broken_barrier: return "the barrier is broken";
            case IpcErrc::not_owner: return "not held by the caller";
            case IpcErrc::too_many_releases: return "released too many times";
            case IpcErrc::bad_handle: return "not a shared object of the expected kind";
            case IpcErrc::worker_lost: return "the worker running it died";
            case IpcErrc::task_failed: return "the task raised an exception";
        }
        return "unknown ipc error " + std::to_string(c);
    }
};
}  // namespace

const std::error_category& ipc_category() noexcept {
    static const IpcCategory c;
    return c;
}

void throw_ipc(std::error_code code, std::string context) {
    Error e(code, std::move(context));
    if (code == make_error_code(Errc::timed_out)) throw TimeoutError(std::move(e));
    if (code.category() == ipc_category()) {
        switch (static_cast<IpcErrc>(code.value())) {
            case IpcErrc::empty: throw QueueEmpty(std::move(e));
            case IpcErrc::full: throw QueueFull(std::move(e));
            case IpcErrc::eof: throw EofError(std::move(e));
            case IpcErrc::closed: throw ClosedError(std::move(e));
            case IpcErrc::owner_died: throw OwnerDiedError(std::move(e));
            case IpcErrc::broken_barrier: throw BrokenBarrierError(std::move(e));
            case IpcErrc::worker_lost:
            case IpcErrc::task_failed: throw TaskError(std::move(e));
            default: break;
        }
        throw IpcError(std::move(e));
    }
    throw SystemError(std::move(e));
}

}  // namespace prockit
