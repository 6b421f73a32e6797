// The bad-input matrix's own checks fail when they should: a row that leaves a process behind
// (in its group, or escaped with setsid), a row that hangs, and a line not in the house form.
#include "tools/common/bad_input_matrix.hpp"

#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

namespace prockit::test {
namespace {

using matrix::Row;

const std::string line = R"(echo "sh: cannot use x: y" >&2; )";

TEST(BadInputMatrix, AProcessLeftInTheGroupIsAFailure) {
    EXPECT_NONFATAL_FAILURE(matrix::run_table({"sh", "/bin/sh"}, {Row{{"-c", "sleep 30 & " + line + "exit 2"}, 2, "cannot use x: y"}}),
                            "its process group still has members");
}

TEST(BadInputMatrix, AProcessThatEscapedTheGroupIsFound) {
    EXPECT_NONFATAL_FAILURE(
        matrix::run_table({"sh", "/bin/sh"}, {Row{{"-c", "setsid sleep 30 & " + line + "exit 2"}, 2, "cannot use x: y"}}),
        "behind");
}

TEST(BadInputMatrix, AHangIsAFailureAndItsGroupIsKilled) {
    matrix::Table t{"sh", "/bin/sh"};
    t.limit = std::chrono::seconds(1);
    EXPECT_NONFATAL_FAILURE(matrix::run_table(t, {Row{{"-c", "sleep 30"}, 2, "cannot use x: y"}}), "a hang");
}

TEST(BadInputMatrix, ALineNotInTheHouseFormIsAFailure) {
    EXPECT_NONFATAL_FAILURE(matrix::run_table({"sh", "/bin/sh"}, {Row{{"-c", R"(echo "sh: oops" >&2; exit 2)"}, 2, "oops"}}),
                            "not one line in the house form");
}

TEST(BadInputMatrix, AGoodRowPasses) {
    EXPECT_EQ(matrix::run_table({"sh", "/bin/sh"}, {Row{{"-c", line + "exit 2"}, 2, "cannot use x: y$"}}), 1u);
}

}  // namespace
}  // namespace prockit::test
