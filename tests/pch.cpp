// The translation unit that makes the test suite's precompiled header (tests/CMakeLists.txt).
