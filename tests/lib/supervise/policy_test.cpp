// Halt and restart policies: pure decisions over counts and times.
#include <prockit/supervise/halt_policy.hpp>
#include <prockit/supervise/restart_policy.hpp>

#include <gtest/gtest.h>

using namespace prockit;
using namespace std::chrono_literals;

TEST(HaltTracker, NeverHalts) {
    HaltTracker t;
    for (int i = 0; i < 10; ++i) EXPECT_FALSE(t.record(false, 1));
    EXPECT_EQ(t.failed(), 10U);
    EXPECT_FALSE(t.halted());
}

TEST(HaltTracker, SoonFailCountHaltsOnceWithTheFailureCount) {
    HaltTracker t({HaltPolicy::When::soon, HaltPolicy::Why::fail, 2, false});
    EXPECT_FALSE(t.record(false, 3));
    EXPECT_FALSE(t.record(true, 0));
    auto d = t.record(false, 5);
    ASSERT_TRUE(d);
    EXPECT_FALSE(d->now);
    EXPECT_EQ(d->exit_code, 2);
    EXPECT_FALSE(t.record(false, 1)) << "the decision is given once";
    EXPECT_TRUE(t.halted());
}

TEST(HaltTracker, NowFailTakesTheFailedJobsStatus) {
    HaltTracker t({HaltPolicy::When::now, HaltPolicy::Why::fail, 1, false});
    auto d = t.record(false, 137);
    ASSERT_TRUE(d);
    EXPECT_TRUE(d->now);
    EXPECT_EQ(d->exit_code, 137);
    HaltTracker timed({HaltPolicy::When::now, HaltPolicy::Why::fail, 1, false});
    EXPECT_EQ(timed.record(false, 0)->exit_code, 1) << "a failure with $? 0 (a timeout) still fails";
}

TEST(HaltTracker, SuccessAndDone) {
    HaltTracker s({HaltPolicy::When::now, HaltPolicy::Why::success, 1, false});
    EXPECT_FALSE(s.record(false, 1));
    auto d = s.record(true, 0);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->exit_code, 0);
    HaltTracker done({HaltPolicy::When::soon, HaltPolicy::Why::done, 3, false});
    EXPECT_FALSE(done.record(true, 0));
    EXPECT_FALSE(done.record(false, 1));
    auto dd = done.record(true, 0);
    ASSERT_TRUE(dd);
    EXPECT_EQ(dd->exit_code, 1) << "done: the failures so far";
}

TEST(HaltTracker, PercentOfTheTotal) {
    HaltTracker t({HaltPolicy::When::soon, HaltPolicy::Why::fail, 30, true});
    t.set_total(10);
    EXPECT_FALSE(t.record(false, 1));
    EXPECT_FALSE(t.record(false, 1));
    EXPECT_TRUE(t.record(false, 1)) << "3 of 10 is 30 %";
}

TEST(HaltTracker, PercentWithoutATotalIsOfTheJobsDone) {
    HaltTracker t({HaltPolicy::When::soon, HaltPolicy::Why::fail, 50, true});
    EXPECT_FALSE(t.record(true, 0));
    EXPECT_TRUE(t.record(false, 1)) << "1 of 2 done";
}

TEST(HaltTracker, FailuresCapAt101) {
    HaltTracker t({HaltPolicy::When::soon, HaltPolicy::Why::fail, 150, false});
    std::optional<HaltTracker::Decision> d;
    for (int i = 0; i < 150 && !d; ++i) d = t.record(false, 1);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->exit_code, 101);
}

TEST(HaltTracker, ExitValuesFollowGnuParallel) {
    // fail=1 (soon or now): the failed job's own status.
    HaltTracker soon1({HaltPolicy::When::soon, HaltPolicy::Why::fail, 1, false});
    EXPECT_FALSE(soon1.record(true, 0));
    EXPECT_EQ(soon1.record(false, 3)->exit_code, 3);
    // done=1: the status of the job that was done first, 0 when it succeeded.
    HaltTracker done_ok({HaltPolicy::When::soon, HaltPolicy::Why::done, 1, false});
    EXPECT_EQ(done_ok.record(true, 0)->exit_code, 0);
    HaltTracker done_bad({HaltPolicy::When::now, HaltPolicy::Why::done, 1, false});
    EXPECT_EQ(done_bad.record(false, 7)->exit_code, 7);
    // now,fail=2: a count, so the number of failed jobs, not the last one's status.
    HaltTracker now2({HaltPolicy::When::now, HaltPolicy::Why::fail, 2, false});
    EXPECT_FALSE(now2.record(false, 9));
    EXPECT_EQ(now2.record(false, 9)->exit_code, 2);
}

TEST(HaltTracker, APercentageGivesTheFailedShareRoundedUp) {
    HaltTracker t({HaltPolicy::When::soon, HaltPolicy::Why::fail, 30, true});
    t.set_total(11);
    for (int i = 0; i < 3; ++i) EXPECT_FALSE(t.record(false, 1)) << "3 of 11 is under 30 %";
    auto d = t.record(false, 1);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->exit_code, 37) << "4 of 11 is 36.4 %, rounded up";
    HaltTracker done({HaltPolicy::When::soon, HaltPolicy::Why::done, 30, true});
    done.set_total(10);
    EXPECT_FALSE(done.record(true, 0));
    EXPECT_FALSE(done.record(false, 1));
    d = done.record(false, 1);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->exit_code, 20) << "done=30%: 3 of 10 done, 2 of 10 failed";
}

TEST(RetryPolicy, Attempts) {
    RetryPolicy once;
    EXPECT_FALSE(once.should_retry(false, 1));
    RetryPolicy three{3};
    EXPECT_TRUE(three.should_retry(false, 1));
    EXPECT_TRUE(three.should_retry(false, 2));
    EXPECT_FALSE(three.should_retry(false, 3));
    EXPECT_FALSE(three.should_retry(true, 1));
    RetryPolicy forever{0};
    EXPECT_TRUE(forever.should_retry(false, 1000));
}

TEST(RestartTracker, ModeDecidesWhatIsWanted) {
    auto t0 = RestartTracker::Clock::time_point{} + 1h;
    RestartTracker no;
    EXPECT_EQ(no.on_end(false, 1s, t0).verdict, RestartTracker::Verdict::not_wanted);
    RestartTracker onfail({RestartPolicy::Mode::on_failure});
    EXPECT_EQ(onfail.on_end(true, 1s, t0).verdict, RestartTracker::Verdict::not_wanted);
    EXPECT_EQ(onfail.on_end(false, 1s, t0).verdict, RestartTracker::Verdict::restart);
    RestartTracker always({RestartPolicy::Mode::always});
    EXPECT_EQ(always.on_end(true, 1s, t0).verdict, RestartTracker::Verdict::restart);
}

TEST(RestartTracker, BackoffDoublesToTheCapAndResetsAfterALongRun) {
    RestartPolicy p{RestartPolicy::Mode::always, 1s, 5s, 10s, 100, 60s};
    RestartTracker t(p);
    auto now = RestartTracker::Clock::time_point{} + 1h;
    std::vector<std::chrono::nanoseconds> delays;
    for (int i = 0; i < 5; ++i) {
        auto d = t.on_end(false, 100ms, now);
        ASSERT_EQ(d.verdict, RestartTracker::Verdict::restart);
        delays.push_back(d.delay);
        now += 1s;
    }
    EXPECT_EQ(delays, (std::vector<std::chrono::nanoseconds>{1s, 2s, 4s, 5s, 5s}));
    EXPECT_EQ(t.on_end(false, 10s, now).delay, std::chrono::nanoseconds(1s)) << "a long run resets the delay";
    EXPECT_EQ(t.on_end(false, 1s, now).delay, std::chrono::nanoseconds(2s));
}

TEST(RestartTracker, LimitPerWindow) {
    RestartPolicy p{RestartPolicy::Mode::always, 1s, 60s, 10s, 3, 60s};
    RestartTracker t(p);
    auto now = RestartTracker::Clock::time_point{} + 1h;
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(t.on_end(false, 1s, now).verdict, RestartTracker::Verdict::restart);
        now += 10s;
    }
    EXPECT_EQ(t.on_end(false, 1s, now).verdict, RestartTracker::Verdict::limit_reached);
    EXPECT_EQ(t.restarts_in_window(), 3U);
    now += 31s;  // the first restart (at +0) is now more than 60 s old
    EXPECT_EQ(t.on_end(false, 1s, now).verdict, RestartTracker::Verdict::restart);
}
