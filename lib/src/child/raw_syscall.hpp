// lib/src/child/raw_syscall.hpp — system calls that touch no thread-local state: for code running in
// a process that shares its parent's memory (CLONE_VM) while the parent keeps running. glibc's
// wrappers write errno and check cancellation through the parent thread's TLS, and that thread may
// be running, or gone, at the same time; these return -errno instead and read nothing but their
// arguments.
//
// PROCKIT_HAVE_RAW_SYSCALL is defined where they are written in assembly (x86-64, AArch64);
// elsewhere the fallback goes through syscall(3) and callers must not share memory with a
// running parent (TreeGuard forks there).
#pragma once

#include <cerrno>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__aarch64__)
#define PROCKIT_HAVE_RAW_SYSCALL 1
#endif

namespace prockit::detail {

#if defined(__x86_64__)
inline long raw_syscall(long n, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0, long f = 0) noexcept {
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}
#elif defined(__aarch64__)
inline long raw_syscall(long n, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0, long f = 0) noexcept {
    register long x8 __asm__("x8") = n;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d;
    register long x4 __asm__("x4") = e;
    register long x5 __asm__("x5") = f;
    __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5) : "memory", "cc");
    return x0;
}
#else
inline long raw_syscall(long n, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0, long f = 0) noexcept {
    long r = ::syscall(n, a, b, c, d, e, f);
    return r == -1 ? -errno : r;
}
#endif

}  // namespace prockit::detail
