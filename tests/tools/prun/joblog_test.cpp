// prun's joblog: the lines it writes and the reader behind --resume / --resume-failed.
#include "joblog.hpp"

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

namespace prockit::prun {
namespace {

JobLogEntry entry() {
    JobLogEntry e;
    e.seq = 3;
    e.name = "job \"three\"";
    e.start = 1700000000.125;
    e.runtime = 0.1;
    e.sent = 0;
    e.received = 12;
    e.exitval = 0;
    e.slot = 2;
    e.attempts = 1;
    e.usage = ResourceUsage{std::chrono::microseconds(100000), std::chrono::microseconds(3), 2048};
    e.command = "echo 'a\tb'";
    e.argv = {"echo", "a\tb"};
    return e;
}

TEST(JobLogLines, TsvColumns) {
    auto l = JobLog::tsv_line(entry());
    EXPECT_EQ(l, "3\t:\t1700000000.125\t     0.100\t0\t12\t0\t0\techo 'a b'\n");
}

TEST(JobLogLines, JsonlIsValidJsonWithShortestDoubles) {
    auto l = JobLog::jsonl_line(entry());
    ASSERT_EQ(l.back(), '\n');
    EXPECT_NE(l.find("\"runtime\":0.1,"), std::string::npos) << "shortest round-trip text: " << l;
    EXPECT_NE(l.find("\"user_cpu\":0.1,"), std::string::npos) << l;
    EXPECT_NE(l.find("\"sys_cpu\":3e-06,"), std::string::npos) << l;
    auto j = nlohmann::json::parse(l);
    EXPECT_EQ(j["seq"], 3);
    EXPECT_EQ(j["name"], "job \"three\"");
    EXPECT_EQ(j["start"].get<double>(), 1700000000.125);
    EXPECT_EQ(j["runtime"].get<double>(), 0.1) << "reads back as the same double";
    EXPECT_EQ(j["receive"], 12);
    EXPECT_EQ(j["max_rss_kb"], 2048);
    EXPECT_EQ(j["argv"][1], "a\tb");
    auto e = entry();
    e.usage.reset();
    EXPECT_TRUE(nlohmann::json::parse(JobLog::jsonl_line(e))["user_cpu"].is_null());
}

TEST(JobLogReader, TsvAndJsonlGiveTheSameJobs) {
    auto a = entry();
    auto b = entry();
    b.seq = 4;
    b.exitval = 2;
    auto c = entry();
    c.seq = 5;
    c.exitval = -1;
    c.signal = 9;
    std::string tsv = "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n" + JobLog::tsv_line(a) +
                      JobLog::tsv_line(b) + JobLog::tsv_line(c);
    std::string jsonl = JobLog::jsonl_line(a) + "\n" + JobLog::jsonl_line(b) + JobLog::jsonl_line(c);
    for (auto [text, json] : {std::pair{tsv, false}, std::pair{jsonl, true}}) {
        auto r = parse_joblog(text, json);
        ASSERT_TRUE(r) << r.error().message();
        EXPECT_EQ(r->all, (std::set<std::uint64_t>{3, 4, 5}));
        EXPECT_EQ(r->succeeded, (std::set<std::uint64_t>{3}));
    }
}

TEST(JobLogReader, KeyOrderAndSpacingDoNotMatter) {
    // A real parser: a log rewritten by another tool (jq) still reads.
    auto r = parse_joblog("{ \"signal\" : 0, \"exitval\": 0,\n", true);
    EXPECT_FALSE(r);
    r = parse_joblog("{ \"signal\" : 0, \"exitval\": 0, \"name\": \"\\\"seq\\\": 9\", \"seq\" : 7 }\n", true);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->all, (std::set<std::uint64_t>{7}));
}

TEST(JobLogReader, AMalformedLineIsAnErrorNamingItsNumber) {
    std::string good = JobLog::jsonl_line(entry());
    auto r = parse_joblog(good + good + "{\"seq\": 4, \"exitval\": 0\n", true);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), make_error_code(Errc::parse_error));
    EXPECT_EQ(r.error().context().rfind("line 3: invalid JSON at column ", 0), 0U) << r.error().context();

    r = parse_joblog(good + "{\"seq\": \"four\", \"exitval\": 0, \"signal\": 0}\n", true);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().context(), "line 2: expected an object with integer seq, exitval and signal");

    r = parse_joblog("[1, 2]\n", true);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().context(), "line 1: expected an object with integer seq, exitval and signal");

    r = parse_joblog("Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n1\t:\tx\n", false);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().context(), "line 2: expected 9 tab-separated columns");

    r = parse_joblog("1\t:\t0\t0\t0\t0\tzero\t0\tcmd\n", false);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().context(), "line 1: Seq, Exitval and Signal must be integers");

    // A number too large for a double is an error, not an exception out of the reader (found by
    // fuzzing: tests/fuzz/joblog).
    r = parse_joblog("{\"seq\": 11e400, \"exitval\": 0, \"signal\": 0}\n", true);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().context().rfind("line 1: invalid JSON", 0), 0U) << r.error().context();
}

TEST(JobLogReader, AMissingFileHoldsNoJobs) {
    auto r = read_joblog("/nonexistent/prun-joblog", false);
    ASSERT_TRUE(r);
    EXPECT_TRUE(r->all.empty());
}

}  // namespace
}  // namespace prockit::prun
