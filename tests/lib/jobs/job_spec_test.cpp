// Job specs as a shell reads them, and the current/previous job rules (pure functions).
#include <prockit/jobs/job_control.hpp>

#include <gtest/gtest.h>

using namespace prockit;

namespace {

JobEntry entry(int n, std::string cmd, std::uint64_t seq, bool stopped = false, bool finished = false,
               std::vector<pid_t> pids = {}) {
    JobEntry e;
    e.number = n;
    e.command = std::move(cmd);
    e.seq = seq;
    e.stopped = stopped;
    e.finished = finished;
    e.pids = std::move(pids);
    return e;
}

JobSpec spec(JobSpec::Kind k, int n = 0, std::string text = {}, pid_t pid = 0) {
    JobSpec s;
    s.kind = k;
    s.number = n;
    s.text = std::move(text);
    s.pid = pid;
    return s;
}

JobSpecErrc reason(const Error& e) { return static_cast<JobSpecErrc>(e.code().value()); }

}  // namespace

TEST(JobSpec, ParsesEveryForm) {
    EXPECT_EQ(parse_job_spec("%3").value(), spec(JobSpec::Kind::number, 3));
    EXPECT_EQ(parse_job_spec("%12").value(), spec(JobSpec::Kind::number, 12));
    EXPECT_EQ(parse_job_spec("%+").value(), spec(JobSpec::Kind::current));
    EXPECT_EQ(parse_job_spec("%%").value(), spec(JobSpec::Kind::current));
    EXPECT_EQ(parse_job_spec("%").value(), spec(JobSpec::Kind::current));
    EXPECT_EQ(parse_job_spec("%-").value(), spec(JobSpec::Kind::previous));
    EXPECT_EQ(parse_job_spec("%vim").value(), spec(JobSpec::Kind::prefix, 0, "vim"));
    EXPECT_EQ(parse_job_spec("%?data.csv").value(), spec(JobSpec::Kind::contains, 0, "data.csv"));
    EXPECT_EQ(parse_job_spec("4242").value(), spec(JobSpec::Kind::pid, 0, {}, 4242));
}

TEST(JobSpec, RefusesMalformedOnes) {
    for (const char* bad : {"", "%0", "%?", "%3x", "%99999999999", "abc", "-1", "0", "12x"}) {
        auto r = parse_job_spec(bad);
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(reason(r.error()), JobSpecErrc::malformed) << bad;
        EXPECT_EQ(r.error().code().category().name(), std::string("prockit.jobspec"));
    }
    EXPECT_FALSE(parse_job_spec("4242", /*allow_pid=*/false));
    EXPECT_EQ(parse_job_spec("%3x").error().message(), "cannot find job %3x: malformed job spec");
}

TEST(JobSpec, PrintsAsTyped) {
    EXPECT_EQ(to_string(spec(JobSpec::Kind::number, 7)), "%7");
    EXPECT_EQ(to_string(spec(JobSpec::Kind::previous)), "%-");
    EXPECT_EQ(to_string(spec(JobSpec::Kind::contains, 0, "x")), "%?x");
    EXPECT_EQ(to_string(spec(JobSpec::Kind::pid, 0, {}, 9)), "9");
}

TEST(CurrentJobs, StoppedJobsComeFirstThenTheMostRecent) {
    std::vector<JobEntry> jobs = {entry(1, "sleep 1", 1), entry(2, "sleep 2", 2), entry(3, "sleep 3", 3)};
    auto c = current_jobs(jobs);
    EXPECT_EQ(c.current, 3);
    EXPECT_EQ(c.previous, 2);
    jobs[0].stopped = true;  // a stopped job beats any running one
    c = current_jobs(jobs);
    EXPECT_EQ(c.current, 1);
    EXPECT_EQ(c.previous, 3);
    jobs[1].stopped = true;
    jobs[1].seq = 9;  // stopped later
    c = current_jobs(jobs);
    EXPECT_EQ(c.current, 2);
    EXPECT_EQ(c.previous, 1);
    jobs[1].finished = true;  // done jobs are neither
    jobs[1].stopped = false;
    c = current_jobs(jobs);
    EXPECT_EQ(c.current, 1);
    EXPECT_EQ(c.previous, 3);
    EXPECT_FALSE(current_jobs({}).current);
    EXPECT_FALSE(current_jobs({entry(1, "a", 1)}).previous);
}

TEST(JobSpec, ResolvesAgainstATable) {
    std::vector<JobEntry> jobs = {entry(1, "vim notes.txt", 1, true, false, {100}),
                                  entry(2, "make -j2 all", 2, false, false, {200, 201}),
                                  entry(4, "sleep 100", 3, false, true, {400})};
    EXPECT_EQ(find_job("%1", jobs).value(), 1);
    EXPECT_EQ(find_job("%4", jobs).value(), 4);  // done jobs are still named by number
    EXPECT_EQ(find_job("%+", jobs).value(), 1);  // the stopped one
    EXPECT_EQ(find_job("%%", jobs).value(), 1);
    EXPECT_EQ(find_job("%-", jobs).value(), 2);
    EXPECT_EQ(find_job("%vim", jobs).value(), 1);
    EXPECT_EQ(find_job("%?-j2", jobs).value(), 2);
    EXPECT_EQ(find_job("%sleep", jobs).value(), 4);
    EXPECT_EQ(find_job("201", jobs).value(), 2);

    auto none = find_job("%3", jobs);
    ASSERT_FALSE(none);
    EXPECT_EQ(reason(none.error()), JobSpecErrc::no_such_job);
    EXPECT_EQ(none.error().message(), "cannot find job %3: no such job");
    EXPECT_EQ(reason(find_job("%emacs", jobs).error()), JobSpecErrc::no_such_job);
    EXPECT_EQ(reason(find_job("999", jobs).error()), JobSpecErrc::no_such_job);
    auto amb = find_job("%?e", jobs);  // "vim notes.txt", "make -j2 all", "sleep 100"
    ASSERT_FALSE(amb);
    EXPECT_EQ(reason(amb.error()), JobSpecErrc::ambiguous);
    EXPECT_EQ(amb.error().message(), "cannot find job %?e: ambiguous job spec");
}

TEST(JobSpec, PreviousFallsBackToCurrentAndEmptyTablesHaveNone) {
    std::vector<JobEntry> one = {entry(5, "sleep 1", 1)};
    EXPECT_EQ(find_job("%-", one).value(), 5);
    EXPECT_EQ(find_job("%+", one).value(), 5);
    auto r = find_job("%%", {});
    ASSERT_FALSE(r);
    EXPECT_EQ(reason(r.error()), JobSpecErrc::no_current_job);
    std::vector<JobEntry> done = {entry(1, "true", 1, false, true)};
    EXPECT_EQ(reason(find_job("%+", done).error()), JobSpecErrc::no_current_job);
}
