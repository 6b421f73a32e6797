// lib/src/child/process_child.cpp — what a Process child does after fork() until it _exit()s.
//
// Unlike the exec path (exec_child.cpp), this child is a full copy of the parent made by glibc's
// fork(), and it runs the user's callable: ordinary C++ is allowed here. What it must not do is
// act on the parent's behalf: the registry of the parent's children is emptied (their handles are
// detached, never signalled or waited for from here), and the child leaves through _exit() so the
// parent's atexit handlers and static destructors do not run twice.
#include "process/process_state.hpp"

#include <prockit/process/process.hpp>

#include <cstdio>
#include <exception>
#include <iostream>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace prockit {

void process_child_main(Process& self, pid_t parent_pid) noexcept {
    Process::State& s = *self.state_;
    auto& id = detail::identity();
    {
        auto& r = detail::registry();
        // The fork handlers released the registry's mutex in this child.
        std::lock_guard lock(r.mu);
        for (auto* other : r.live) {
            other->child.detach();
            other->closed = true;
        }
        r.live.clear();
    }
    id.parent_name = id.name;
    id.parent_pid = parent_pid;
    id.name = s.options.name;
    id.daemon = s.options.daemon;
    id.is_child = true;
    if (id.parent_pidfd >= 0) ::close(id.parent_pidfd);  // a grandparent's, inherited
    id.parent_pidfd = static_cast<int>(syscall(SYS_pidfd_open, parent_pid, 0));
    if (id.parent_pidfd >= 0 && getppid() != parent_pid) {
        ::close(id.parent_pidfd);  // the parent died before we opened it: whatever has the PID now is not it
        id.parent_pidfd = -1;
    }

    prctl(PR_SET_NAME, s.options.name.substr(0, 15).c_str(), 0, 0, 0);
    if (s.options.parent_death_signal) {
        prctl(PR_SET_PDEATHSIG, s.options.parent_death_signal, 0, 0, 0);
        if (getppid() != parent_pid) _exit(128 + s.options.parent_death_signal);
    }

    int code = 0;
    try {
        self.run();
        code = self.run_code_;
    } catch (const ProcessExit& e) {
        code = e.code;
    } catch (const std::exception& e) {
        std::cout.flush();
        std::fflush(stdout);
        std::fprintf(stderr, "Process %s: %s\n", s.options.name.c_str(), e.what());
        code = 1;
    } catch (...) {
        std::cout.flush();
        std::fflush(stdout);
        std::fprintf(stderr, "Process %s: unknown exception\n", s.options.name.c_str());
        code = 1;
    }
    std::cout.flush();
    std::cerr.flush();
    std::fflush(nullptr);
    _exit(code & 0xff);
}

}  // namespace prockit
