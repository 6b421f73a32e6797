// tests/tools/prun/side_by_side.hpp — running a command line with prun and with GNU parallel on the
// same stdin and comparing what they print (the prun_parallel*_test.cpp cases). Call
// SKIP_WITHOUT_GNU_PARALLEL() before the first comparison.
#pragma once

#include "prun_support.hpp"

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

namespace prockit::test {

#define SKIP_WITHOUT_GNU_PARALLEL() \
    if (!have_gnu_parallel()) GTEST_SKIP() << "GNU parallel is not installed (Debian package parallel)"

/// Where GNU parallel is.
inline std::string gnu_parallel() {
    return access("/usr/bin/parallel", X_OK) == 0 ? "/usr/bin/parallel" : "/usr/local/bin/parallel";
}

struct Both {
    PrunResult ours, theirs;
};

/// Runs `args` with prun and with GNU parallel (--will-cite: no citation notice), same stdin.
inline Both both(const std::vector<std::string>& args, const std::string& input = {}) {
    Both b;
    b.ours = prun(args, input);
    std::vector<std::string> gnu{"--will-cite"};
    gnu.insert(gnu.end(), args.begin(), args.end());
    b.theirs = run_program(gnu_parallel(), gnu, input, std::chrono::seconds(120));
    return b;
}

/// Same stdout and exit status as GNU parallel.
inline void expect_same(const std::vector<std::string>& args, const std::string& input = {}) {
    auto b = both(args, input);
    EXPECT_EQ(b.ours.out, b.theirs.out) << ::testing::PrintToString(args) << "\nprun: " << b.ours.err;
    EXPECT_EQ(b.ours.code, b.theirs.code) << ::testing::PrintToString(args) << "\nprun: " << b.ours.err
                                          << "\nparallel: " << b.theirs.err;
}

/// The lines of `out`, sorted (for output whose order is the scheduler's).
inline std::vector<std::string> sorted_lines(const std::string& out) {
    auto l = lines(out);
    std::sort(l.begin(), l.end());
    return l;
}

}  // namespace prockit::test
