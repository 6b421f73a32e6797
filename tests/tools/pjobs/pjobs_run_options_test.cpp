// pjobs run's process options checked on the running job through /proc (not through what the
// job prints): --cpus, --nice, --oom-score-adj, with and without a pty; and `pjobs list` after
// finished jobs were forgotten and their ids reused (the server keeps finished jobs' lines).
#include "pjobs_support.hpp"

#include <gtest/gtest.h>

#include <sched.h>

using namespace prockit;
using namespace prockit::test;
using namespace std::chrono_literals;

namespace {

std::string read_text(const std::string& path) {
    std::ifstream f(path);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

/// A line of /proc/PID/status ("Cpus_allowed_list:\t1" -> "1"), "" when absent.
std::string status_field(long pid, const std::string& name) {
    std::istringstream in(read_text("/proc/" + std::to_string(pid) + "/status"));
    std::string line;
    while (std::getline(in, line))
        if (line.rfind(name + ":", 0) == 0) {
            auto v = line.substr(name.size() + 1);
            v.erase(0, v.find_first_not_of(" \t"));
            return v;
        }
    return {};
}

/// Field `n` (1-based, as in proc(5)) of /proc/PID/stat.
std::string stat_field(long pid, int n) {
    std::string stat = read_text("/proc/" + std::to_string(pid) + "/stat");
    auto close = stat.rfind(')');
    if (close == std::string::npos) return {};
    std::istringstream rest(stat.substr(close + 2));
    std::string f;
    for (int k = 3; k <= n && rest >> f; ++k) {
    }
    return f;
}

/// Waits (deadline) until the job's process has exec'd `comm`: what /proc shows is then the job's.
bool wait_for_comm(long pid, const std::string& comm, std::chrono::seconds limit = 20s) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
        if (read_text("/proc/" + std::to_string(pid) + "/comm") == comm + "\n") return true;
        std::this_thread::sleep_for(10ms);
    }
    return false;
}

/// The highest CPU this test may use (so --cpus names one that is allowed, not always CPU 0).
int last_allowed_cpu() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0) return 0;
    for (int c = CPU_SETSIZE - 1; c >= 0; --c)
        if (CPU_ISSET(c, &set)) return c;
    return 0;
}

void check_options_reach_the_job(bool tty) {
    Pjobs pj;
    int cpu = last_allowed_cpu();
    std::vector<std::string> args = {"run", "--cpus", std::to_string(cpu), "--nice", "6", "--oom-score-adj", "345"};
    if (!tty) args.push_back("--no-tty");
    for (const char* a : {"--", "sleep", "60"}) args.emplace_back(a);
    auto r = pj(args);
    ASSERT_EQ(r.code, 0) << r.err;
    long pid = 0;
    ASSERT_EQ(std::sscanf(r.out.c_str(), "[1] %ld", &pid), 1) << r.out;
    ASSERT_TRUE(wait_for_comm(pid, "sleep"));
    EXPECT_EQ(status_field(pid, "Cpus_allowed_list"), std::to_string(cpu));
    EXPECT_EQ(stat_field(pid, 19), "6");  // nice
    EXPECT_EQ(read_text("/proc/" + std::to_string(pid) + "/oom_score_adj"), "345\n");
    // The job's own terminal, or none.
    std::string tty_nr = stat_field(pid, 7);
    if (tty)
        EXPECT_NE(tty_nr, "0");
    else
        EXPECT_EQ(tty_nr, "0");
    // A plain job gets none of them: the server's own values, not the last job's.
    auto plain = pj({"run", "--", "sleep", "60"});
    ASSERT_EQ(plain.code, 0) << plain.err;
    long pid2 = 0;
    ASSERT_EQ(std::sscanf(plain.out.c_str(), "[2] %ld", &pid2), 1) << plain.out;
    ASSERT_TRUE(wait_for_comm(pid2, "sleep"));
    EXPECT_EQ(stat_field(pid2, 19), stat_field(getpid(), 19));
    EXPECT_EQ(read_text("/proc/" + std::to_string(pid2) + "/oom_score_adj"),
              read_text("/proc/" + std::to_string(getpid()) + "/oom_score_adj"));
}

}  // namespace

TEST(PjobsRunOptions, CpusNiceAndOomScoreAdjAreSetOnTheJobWithAPty) { check_options_reach_the_job(true); }

TEST(PjobsRunOptions, CpusNiceAndOomScoreAdjAreSetOnTheJobWithoutAPty) { check_options_reach_the_job(false); }

TEST(PjobsRunOptions, NameAndGroupAreKeptAndShown) {
    Pjobs pj;
    ASSERT_EQ(pj({"run", "--name", "web", "--group", "g1", "--", "sleep", "60"}).code, 0);
    auto j = pj.job(1);
    ASSERT_FALSE(j.is_null());
    EXPECT_EQ(j.value("name", ""), "web");
    EXPECT_EQ(j.value("group", ""), "g1");
    EXPECT_NE(pj({"list"}).out.find("sleep 60  (web)"), std::string::npos);
    EXPECT_EQ(pj({"kill", "%web"}).code, 0);
}

TEST(PjobsRunOptions, BadOptionValuesAreRefusedBeforeAJobStarts) {
    Pjobs pj;
    for (auto args : std::vector<std::vector<std::string>>{{"run", "--nice", "20", "--", "true"},
                                                           {"run", "--oom-score-adj", "1001", "--", "true"},
                                                           {"run", "--cpus", "x", "--", "true"}}) {
        auto r = pj(args);
        EXPECT_EQ(r.code, 2) << args[1] << ": " << r.err;
        EXPECT_EQ(r.err.rfind("pjobs: ", 0), 0u) << r.err;
    }
    EXPECT_EQ(pj({"list", "-J"}).out, "[]\n");
}

TEST(PjobsList, MarksAndLinesStayRightAsFinishedJobsAreForgottenAndIdsReused) {
    Pjobs pj;
    ASSERT_EQ(pj({"run", "--no-tty", "--", "sh", "-c", "exit 4"}).code, 0);
    ASSERT_EQ(pj({"run", "--no-tty", "--", "true"}).code, 0);
    ASSERT_EQ(pj({"wait", "%1", "%2"}).code, 0);
    auto l = pj({"list"}).out;
    EXPECT_NE(l.find("[1]- "), std::string::npos) << l;
    EXPECT_NE(l.find("Exit 4"), std::string::npos) << l;
    EXPECT_NE(l.find("[2]+ "), std::string::npos) << l;
    // Job 2 forgotten; the next job gets its id and must be shown as itself.
    ASSERT_EQ(pj({"rm", "%2"}).code, 0);
    ASSERT_EQ(pj({"run", "--no-tty", "--", "sh", "-c", "exit 5"}).code, 0);
    ASSERT_EQ(pj({"wait", "%2"}).code, 5);
    l = pj({"list"}).out;
    EXPECT_EQ(l.find("true"), std::string::npos) << l;
    EXPECT_NE(l.find("[2]+ "), std::string::npos) << l;
    EXPECT_NE(l.find("Exit 5"), std::string::npos) << l;
    EXPECT_NE(l.find("[1]- "), std::string::npos) << l;
    // A running job takes the mark; finished jobs lose theirs, as in a shell.
    ASSERT_EQ(pj({"run", "--", "sleep", "60"}).code, 0);
    l = pj({"list"}).out;
    EXPECT_NE(l.find("[3]+ "), std::string::npos) << l;
    EXPECT_NE(l.find("[1]  "), std::string::npos) << l;
    EXPECT_NE(l.find("[2]  "), std::string::npos) << l;
    EXPECT_EQ(pj({"clean"}).code, 0);
    l = pj({"list"}).out;
    EXPECT_EQ(l.find("[1]"), std::string::npos) << l;
    EXPECT_NE(l.find("[3]+ "), std::string::npos) << l;
}
