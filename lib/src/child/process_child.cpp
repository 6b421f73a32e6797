// lib/src/child/process_child.cpp — what a Process child does after fork() until it _exit()s.
//
// Unlike the exec path (exec_child.cpp), this child is a full copy of the parent made by glibc's
// fork(), and it runs the user's callable: ordinary C++ is allowed here. What it must not do is
// act on the parent's behalf: the registry of the parent's children is emptied (their Process
// copies are inert here: never signalled or waited for), and the child leaves through _exit() so the
// parent's atexit handlers and static destructors do not run twice. The child writes as little
// memory as it can: every page it touches is copied (copy-on-write) at a cost.
#include "process/process_state.hpp"

#include <prockit/process/process.hpp>

#include <cstdio>
#include <exception>
#include <ext/stdio_sync_filebuf.h>
#include <iostream>
#include <stdio_ext.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace prockit {
namespace {

// Flushes what the child printed, writing no memory when there is nothing to flush: a flush that
// finds nothing still takes stdio locks, and every page the child writes is a copy-on-write fault
// (measured: ~10% of a start+join). __fpending() only reads the FILE.
void flush_standard_streams() {
    // The C++ standard streams normally write straight through to C's stdout/stderr
    // (sync_with_stdio); only when a program turned that off do they hold a buffer of their own.
    // libstdc++'s synchronised buffer type tells which (other libraries: always flush).
#ifdef __GLIBCXX__
    auto synced = [](std::ostream& os) {
        return dynamic_cast<__gnu_cxx::stdio_sync_filebuf<char>*>(os.rdbuf()) != nullptr;
    };
    if (!synced(std::cout)) std::cout.flush();
    if (!synced(std::cerr)) std::cerr.flush();
#else
    std::cout.flush();
    std::cerr.flush();
#endif
    if (__fpending(stdout) > 0) std::fflush(stdout);
    if (__fpending(stderr) > 0) std::fflush(stderr);
}

}  // namespace

void process_child_main(Process& self, pid_t parent_pid) noexcept {
    Process::State& s = *self.state_;
    auto& id = detail::identity();
    // The parent's children are not ours: forget them (their inherited Process copies are inert,
    // since State::owner is not this process). Nothing else is written, to spare COW faults.
    detail::registry().live.clear();  // the fork handlers released its mutex in this child
    id.parent_name = id.self ? &id.self->name : nullptr;
    id.parent_pid = parent_pid;
    id.self = &s.options;
    if (id.parent_pidfd >= 0) ::close(id.parent_pidfd);  // a grandparent's, inherited
    id.parent_pidfd = -1;  // opened by parent_process() when first asked for

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
        flush_standard_streams();
        std::fprintf(stderr, "Process %s: %s\n", s.options.name.c_str(), e.what());
        code = 1;
    } catch (...) {
        flush_standard_streams();
        std::fprintf(stderr, "Process %s: unknown exception\n", s.options.name.c_str());
        code = 1;
    }
    flush_standard_streams();
    _exit(code & 0xff);
}

}  // namespace prockit
