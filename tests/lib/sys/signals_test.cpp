#include <prockit/sys/signals.hpp>

#include <gtest/gtest.h>

#include <pthread.h>

using namespace prockit;

TEST(Signals, NamesRoundTrip) {
    for (int s = 1; s <= SIGRTMAX; ++s) {
        std::string n = signal_name(s);
        if (n.empty()) continue;  // 32 and 33 belong to glibc's threading implementation
        auto back = parse_signal(n);
        ASSERT_TRUE(back) << n;
        EXPECT_EQ(*back, s) << n;
    }
    EXPECT_EQ(signal_name(SIGTERM), "TERM");
    EXPECT_EQ(signal_name(SIGRTMIN + 2), "RTMIN+2");
    EXPECT_EQ(signal_name(SIGRTMAX - 1), "RTMAX-1");
}

TEST(Signals, ParseForms) {
    EXPECT_EQ(*parse_signal("SIGKILL"), SIGKILL);
    EXPECT_EQ(*parse_signal("kill"), SIGKILL);
    EXPECT_EQ(*parse_signal("9"), 9);
    EXPECT_EQ(*parse_signal("sigchld"), SIGCHLD);
    EXPECT_EQ(*parse_signal("CLD"), SIGCHLD);
    EXPECT_EQ(*parse_signal("RTMIN"), SIGRTMIN);
    EXPECT_EQ(*parse_signal("SIGRTMAX-0"), SIGRTMAX);
}

TEST(Signals, ParseErrors) {
    EXPECT_EQ(parse_signal("").error().code(), Errc::parse_error);
    EXPECT_EQ(parse_signal("NOPE").error().code(), Errc::not_found);
    EXPECT_EQ(parse_signal("0").error().code(), Errc::out_of_range);
    EXPECT_EQ(parse_signal("999").error().code(), Errc::out_of_range);
    EXPECT_EQ(parse_signal("RTMIN+999").error().code(), Errc::out_of_range);
    EXPECT_EQ(parse_signal("RTMIN-1").error().code(), Errc::parse_error);
    EXPECT_EQ(parse_signal("RTMIN+x").error().code(), Errc::parse_error);
    EXPECT_NE(parse_signal("NOPE").error().message().find("'NOPE'"), std::string::npos);
}

TEST(Signals, MaskGuardRestores) {
    sigset_t before, during, after;
    pthread_sigmask(SIG_SETMASK, nullptr, &before);
    ASSERT_FALSE(sigismember(&before, SIGUSR1));
    {
        SignalMaskGuard g{SIGUSR1, SIGUSR2};
        pthread_sigmask(SIG_SETMASK, nullptr, &during);
        EXPECT_TRUE(sigismember(&during, SIGUSR1));
        EXPECT_TRUE(sigismember(&during, SIGUSR2));
        {
            SignalMaskGuard all;
            pthread_sigmask(SIG_SETMASK, nullptr, &during);
            EXPECT_TRUE(sigismember(&during, SIGTERM));
        }
        pthread_sigmask(SIG_SETMASK, nullptr, &during);
        EXPECT_FALSE(sigismember(&during, SIGTERM));
    }
    pthread_sigmask(SIG_SETMASK, nullptr, &after);
    EXPECT_FALSE(sigismember(&after, SIGUSR1));
}
