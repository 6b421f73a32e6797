#include <prockit/process/exit_status.hpp>

#include <prockit/sys/signals.hpp>

#include <sys/resource.h>
#include <sys/wait.h>

namespace prockit {

ResourceUsage ResourceUsage::from_rusage(const struct rusage& ru) {
    auto us = [](const timeval& tv) {
        return std::chrono::microseconds(static_cast<long long>(tv.tv_sec) * 1000000 + tv.tv_usec);
    };
    return ResourceUsage{us(ru.ru_utime), us(ru.ru_stime), ru.ru_maxrss};
}

ExitStatus ExitStatus::from_siginfo(const siginfo_t& info) {
    switch (info.si_code) {
        case CLD_EXITED: return exited(info.si_status);
        case CLD_KILLED: return killed(info.si_status, false);
        case CLD_DUMPED: return killed(info.si_status, true);
        case CLD_STOPPED:
        case CLD_TRAPPED: return stopped(info.si_status);
        case CLD_CONTINUED: return continued();
        default: return exited(info.si_status);
    }
}

ExitStatus ExitStatus::from_wait_status(int status) {
    if (WIFEXITED(status)) return exited(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return killed(WTERMSIG(status), WCOREDUMP(status));
    if (WIFSTOPPED(status)) return stopped(WSTOPSIG(status));
    return continued();
}

std::string ExitStatus::to_string() const {
    auto sig = [this] {
        std::string n = signal_name(value_);
        return n.empty() ? "signal " + std::to_string(value_) : "SIG" + n;
    };
    switch (kind_) {
        case Kind::exited: return "exited " + std::to_string(value_);
        case Kind::killed: return "killed by " + sig() + (core_ ? " (core dumped)" : "");
        case Kind::stopped: return "stopped by " + sig();
        case Kind::continued: return "continued";
    }
    return "unknown";
}

}  // namespace prockit
