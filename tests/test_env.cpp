// Linked into every test binary: sets PROCKIT_TEST_HELPER, PROCKIT_BUILD_DIR and PROCKIT_SOURCE_DIR
// (unless the environment already has them) from paths fixed at configure time, before main().
// (gtest_discover_tests cannot pass more than one ENVIRONMENT entry through CMake 3.25's list
// handling, so the binaries carry them themselves.)
#include <cstdlib>

namespace {
struct TestEnvironment {
    TestEnvironment() {
        setenv("PROCKIT_TEST_HELPER", PROCKIT_TEST_HELPER_PATH, 0);
        setenv("PROCKIT_BUILD_DIR", PROCKIT_BUILD_DIR_PATH, 0);
        setenv("PROCKIT_SOURCE_DIR", PROCKIT_SOURCE_DIR_PATH, 0);
    }
} const test_environment;
}  // namespace
