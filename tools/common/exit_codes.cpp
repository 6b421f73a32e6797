#include "exit_codes.hpp"

#include <cerrno>
#include <sys/wait.h>

namespace prockit::tools {

int exit_status_of(int wait_status) {
    if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
    if (WIFSIGNALED(wait_status)) return exit_signal_base + WTERMSIG(wait_status);
    return exit_failure;
}

int exit_status_for_exec_errno(int err) {
    return (err == ENOENT || err == ENOTDIR) ? exit_not_found : exit_cannot_execute;
}

}  // namespace prockit::tools
