// lib/src/child/process_child.cpp — what a Process child does after fork() until it leaves.
//
// Unlike the exec path (exec_child.cpp), this child is a full copy of the parent made by glibc's
// fork(), and it runs the user's callable: ordinary C++ is allowed here. What it must not do is
// act on the parent's behalf: the registry of the parent's children is emptied (their Process
// copies are inert here: never signalled or waited for), and the child leaves through exit() cut
// short by an on_exit() handler of its own (leave_here): the handlers the child registered run, the
// parent's atexit handlers and static destructors do not run twice. The child writes as little
// memory as it can: every page it touches is copied (copy-on-write) at a cost.
#include "process/process_state.hpp"

#include <prockit/process/process.hpp>

#include <cstdio>
#include <cstdlib>
#include <cxxabi.h>
#include <exception>
#include <typeinfo>
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

// The exit code the child leaves with, for leave_here() (set before exit() is called).
// leave_here() is registered with on_exit() in the child before the callable runs, so it sits
// above every handler the parent registered (and every static object the parent constructed) in
// glibc's exit list: exit() runs the handlers the child registered itself, then reaches this one,
// which ends the process before the parent's handlers and destructors would run in it. on_exit()
// (not atexit()) because it is told the status given to exit(): a callable that calls std::exit(3)
// itself ends with 3.
void leave_here(int status, void*) {
    flush_standard_streams();
    _exit(status & 0xff);
}

void print_uncaught(const char* name, const char* type, const char* what) {
    flush_standard_streams();
    if (type) {
        int st = 0;
        char* d = abi::__cxa_demangle(type, nullptr, nullptr, &st);
        std::fprintf(stderr, "Process %s: %s: %s\n", name, st == 0 && d ? d : type, what);
        std::free(d);
    } else {
        std::fprintf(stderr, "Process %s: %s\n", name, what);
    }
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
    id.self_identity = &s.identity;
    id.counter.store(0, std::memory_order_relaxed);  // this process's own children: <identity>:1, :2, ...
    if (id.parent_pidfd >= 0) ::close(id.parent_pidfd);  // a grandparent's, inherited
    id.parent_pidfd = -1;  // opened by parent_process() when first asked for

    prctl(PR_SET_NAME, s.options.name.substr(0, 15).c_str(), 0, 0, 0);
    if (s.options.parent_death_signal) {
        prctl(PR_SET_PDEATHSIG, s.options.parent_death_signal, 0, 0, 0);
        if (getppid() != parent_pid) _exit(128 + s.options.parent_death_signal);
    }

    // From here on the child leaves through exit() (see leave_here): the handlers the callable
    // registers with atexit()/on_exit() run, as in Python's children; the parent's do not.
    if (on_exit(leave_here, nullptr) != 0) _exit(1);  // (fails only when out of memory)

    int code = 0;
    try {
        self.run();
        code = self.run_code_;
    } catch (const ProcessExit& e) {
        code = e.code;
    } catch (const std::exception& e) {
        print_uncaught(s.options.name.c_str(), typeid(e).name(), e.what());
        code = 1;
    } catch (...) {
        const std::type_info* t = abi::__cxa_current_exception_type();
        print_uncaught(s.options.name.c_str(), t ? t->name() : nullptr, "unknown exception");
        code = 1;
    }
    std::exit(code & 0xff);
}

}  // namespace prockit
