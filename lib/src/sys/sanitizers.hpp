// Which sanitizer this translation unit is built with, for the few places that must act
// differently under one (internal to libprockit).
#pragma once

// PROCKIT_TSAN: built with ThreadSanitizer (g++ says so with __SANITIZE_THREAD__, clang with
// __has_feature(thread_sanitizer)).
#if defined(__SANITIZE_THREAD__)
#define PROCKIT_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define PROCKIT_TSAN 1
#endif
#endif
