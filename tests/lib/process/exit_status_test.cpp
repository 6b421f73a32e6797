#include <prockit/process/exit_status.hpp>

#include <gtest/gtest.h>

#include <sys/wait.h>

using namespace prockit;

TEST(ExitStatus, Exited) {
    auto s = ExitStatus::exited(3);
    EXPECT_TRUE(s.is_exited());
    EXPECT_TRUE(s.ended());
    EXPECT_FALSE(s.success());
    EXPECT_EQ(s.code(), 3);
    EXPECT_EQ(s.signal(), std::nullopt);
    EXPECT_EQ(s.python_exitcode(), 3);
    EXPECT_EQ(s.shell_code(), 3);
    EXPECT_EQ(s.to_string(), "exited 3");
    EXPECT_TRUE(ExitStatus::exited(0).success());
}

TEST(ExitStatus, Killed) {
    auto s = ExitStatus::killed(SIGKILL);
    EXPECT_TRUE(s.is_killed());
    EXPECT_EQ(s.code(), std::nullopt);
    EXPECT_EQ(s.signal(), SIGKILL);
    EXPECT_EQ(s.python_exitcode(), -9);
    EXPECT_EQ(s.shell_code(), 137);
    EXPECT_EQ(s.to_string(), "killed by SIGKILL");
    EXPECT_EQ(ExitStatus::killed(SIGSEGV, true).to_string(), "killed by SIGSEGV (core dumped)");
}

TEST(ExitStatus, StoppedAndContinued) {
    auto s = ExitStatus::stopped(SIGTSTP);
    EXPECT_TRUE(s.is_stopped());
    EXPECT_FALSE(s.ended());
    EXPECT_EQ(s.shell_code(), 128 + SIGTSTP);
    EXPECT_EQ(s.to_string(), "stopped by SIGTSTP");
    EXPECT_TRUE(ExitStatus::continued().is_continued());
    EXPECT_EQ(ExitStatus::continued().to_string(), "continued");
}

TEST(ExitStatus, FromSiginfoAndWaitStatus) {
    siginfo_t i{};
    i.si_code = CLD_DUMPED;
    i.si_status = SIGABRT;
    EXPECT_EQ(ExitStatus::from_siginfo(i), ExitStatus::killed(SIGABRT, true));
    i.si_code = CLD_EXITED;
    i.si_status = 7;
    EXPECT_EQ(ExitStatus::from_siginfo(i), ExitStatus::exited(7));
    i.si_code = CLD_STOPPED;
    i.si_status = SIGSTOP;
    EXPECT_EQ(ExitStatus::from_siginfo(i), ExitStatus::stopped(SIGSTOP));
    i.si_code = CLD_CONTINUED;
    EXPECT_EQ(ExitStatus::from_siginfo(i), ExitStatus::continued());
    EXPECT_EQ(ExitStatus::from_wait_status(5 << 8), ExitStatus::exited(5));
    EXPECT_EQ(ExitStatus::from_wait_status(SIGTERM), ExitStatus::killed(SIGTERM));
}
