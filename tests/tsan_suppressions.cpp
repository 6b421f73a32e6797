// ThreadSanitizer's built-in suppressions for the test binaries: compiled into every one of them in
// -fsanitize=thread builds only (tests/CMakeLists.txt); the function is a weak hook TSan calls at
// start-up.
//
// prockit's locks are robust, process-shared mutexes in shared memory. TSan models a mutex within
// one process: it cannot know that another process holds one, or that one came back EOWNERDEAD from
// a timed lock after its holder died, so it reports the later unlock as "unlock of an unlocked
// mutex". The tests also release a lock from the wrong thread on purpose (expecting EPERM). Those
// *mutex-misuse* reports are suppressed for prockit's own code; data races are still reported.
extern "C" const char* __tsan_default_suppressions() {
    return "mutex:prockit::Lock::release\n"
           "mutex:prockit::RLock::release\n"
           "mutex:prockit::detail::QueueImpl\n"
           "mutex:prockit::detail::lock_robust\n"
           "mutex:prockit::detail::trylock_robust\n";
}
