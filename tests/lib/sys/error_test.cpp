#include <prockit/sys/result.hpp>
#include <prockit/sys/syscall.hpp>

#include <gtest/gtest.h>

using namespace prockit;

TEST(Error, MessageNamesContextAndReason) {
    Error e = Error::from_errno(ENOENT, "open /nope");
    EXPECT_EQ(e.errno_value(), ENOENT);
    EXPECT_EQ(e.message(), "cannot open /nope: No such file or directory");
}

TEST(Error, ProckitCategory) {
    Error e(Errc::parse_error, "parse x");
    EXPECT_EQ(e.errno_value(), 0);
    EXPECT_EQ(e.code(), Errc::parse_error);
    EXPECT_EQ(e.message(), "cannot parse x: malformed input");
}

TEST(Result, ValueAndError) {
    Result<int> ok = 5;
    ASSERT_TRUE(ok);
    EXPECT_EQ(*ok, 5);
    EXPECT_EQ(ok.value(), 5);
    Result<int> bad = fail(Error::from_errno(EACCES, "write x"));
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().errno_value(), EACCES);
    EXPECT_EQ(bad.value_or(7), 7);
    try {
        (void)bad.value();
        FAIL() << "value() of an error must throw";
    } catch (const SystemError& e) {
        EXPECT_EQ(e.code().value(), EACCES);
        EXPECT_STREQ(e.what(), "cannot write x: Permission denied");
    }
}

TEST(Result, Void) {
    Status ok;
    EXPECT_TRUE(ok);
    EXPECT_NO_THROW(ok.value());
    Status bad = fail(Error::from_errno(EPERM, "kill 1"));
    EXPECT_FALSE(bad);
    EXPECT_THROW(bad.value(), SystemError);
}

TEST(Syscall, ReadFileReportsPath) {
    auto r = read_file("/nonexistent/prockit");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().errno_value(), ENOENT);
    EXPECT_NE(r.error().message().find("/nonexistent/prockit"), std::string::npos);
    auto self = read_file("/proc/self/comm");
    ASSERT_TRUE(self) << self.error().message();
    EXPECT_FALSE(self->empty());
}
