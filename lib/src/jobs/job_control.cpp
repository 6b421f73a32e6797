// lib/src/jobs/job_control.cpp — job specs, the shell's terminal, jobs and the job table.
#include <prockit/jobs/job_control.hpp>

#include <prockit/sys/signals.hpp>
#include <prockit/sys/syscall.hpp>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

namespace prockit {

// ================================================================ job specs

namespace {

class JobSpecCategory final : public std::error_category {
public:
    const char* name() const noexcept override { return "prockit.jobspec"; }
    std::string message(int c) const override {
        switch (static_cast<JobSpecErrc>(c)) {
            case JobSpecErrc::malformed: return "malformed job spec";
            case JobSpecErrc::no_such_job: return "no such job";
            case JobSpecErrc::ambiguous: return "ambiguous job spec";
            case JobSpecErrc::no_current_job: return "no current job";
        }
        return "unknown job spec error";
    }
};

Error spec_error(JobSpecErrc e, std::string_view text) {
    return Error(make_error_code(e), "find job " + std::string(text));
}

std::optional<long> decimal(std::string_view s) {
    if (s.empty() || s.size() > 10) return std::nullopt;
    long v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
    return v;
}

}  // namespace

const std::error_category& job_spec_category() noexcept {
    static const JobSpecCategory cat;
    return cat;
}

Result<JobSpec> parse_job_spec(std::string_view text, bool allow_pid) {
    JobSpec s;
    if (text.empty()) return fail(spec_error(JobSpecErrc::malformed, "''"));
    if (text[0] != '%') {
        auto v = allow_pid ? decimal(text) : std::nullopt;
        if (!v || *v <= 0 || *v > 0x7fffffff) return fail(spec_error(JobSpecErrc::malformed, text));
        s.kind = JobSpec::Kind::pid;
        s.pid = static_cast<pid_t>(*v);
        return s;
    }
    std::string_view rest = text.substr(1);
    if (rest.empty() || rest == "+" || rest == "%") {
        s.kind = JobSpec::Kind::current;
    } else if (rest == "-") {
        s.kind = JobSpec::Kind::previous;
    } else if (rest[0] == '?') {
        if (rest.size() == 1) return fail(spec_error(JobSpecErrc::malformed, text));
        s.kind = JobSpec::Kind::contains;
        s.text = std::string(rest.substr(1));
    } else if (rest[0] >= '0' && rest[0] <= '9') {
        auto v = decimal(rest);
        if (!v || *v <= 0 || *v > 0x7fffffff) return fail(spec_error(JobSpecErrc::malformed, text));
        s.kind = JobSpec::Kind::number;
        s.number = static_cast<int>(*v);
    } else {
        s.kind = JobSpec::Kind::prefix;
        s.text = std::string(rest);
    }
    return s;
}

std::string to_string(const JobSpec& s) {
    switch (s.kind) {
        case JobSpec::Kind::number: return "%" + std::to_string(s.number);
        case JobSpec::Kind::current: return "%+";
        case JobSpec::Kind::previous: return "%-";
        case JobSpec::Kind::prefix: return "%" + s.text;
        case JobSpec::Kind::contains: return "%?" + s.text;
        case JobSpec::Kind::pid: return std::to_string(s.pid);
    }
    return "%";
}

CurrentJobs current_jobs(const std::vector<JobEntry>& jobs) {
    std::vector<const JobEntry*> order;
    for (const auto& j : jobs)
        if (!j.finished) order.push_back(&j);
    // Stopped jobs first, then by recency; the job number breaks ties (later jobs first).
    std::sort(order.begin(), order.end(), [](const JobEntry* a, const JobEntry* b) {
        if (a->stopped != b->stopped) return a->stopped;
        if (a->seq != b->seq) return a->seq > b->seq;
        return a->number > b->number;
    });
    CurrentJobs c;
    if (!order.empty()) c.current = order[0]->number;
    if (order.size() > 1) c.previous = order[1]->number;
    return c;
}

Result<int> resolve_job_spec(const JobSpec& spec, const std::vector<JobEntry>& jobs) {
    const std::string typed = to_string(spec);
    switch (spec.kind) {
        case JobSpec::Kind::number:
            for (const auto& j : jobs)
                if (j.number == spec.number) return j.number;
            return fail(spec_error(JobSpecErrc::no_such_job, typed));
        case JobSpec::Kind::current:
        case JobSpec::Kind::previous: {
            CurrentJobs c = current_jobs(jobs);
            if (spec.kind == JobSpec::Kind::previous && c.previous) return *c.previous;
            if (c.current) return *c.current;
            return fail(spec_error(JobSpecErrc::no_current_job, typed));
        }
        case JobSpec::Kind::prefix:
        case JobSpec::Kind::contains: {
            std::optional<int> found;
            for (const auto& j : jobs) {
                bool match = spec.kind == JobSpec::Kind::prefix ? j.command.rfind(spec.text, 0) == 0
                                                                : j.command.find(spec.text) != std::string::npos;
                if (!match) continue;
                if (found) return fail(spec_error(JobSpecErrc::ambiguous, typed));
                found = j.number;
            }
            if (found) return *found;
            return fail(spec_error(JobSpecErrc::no_such_job, typed));
        }
        case JobSpec::Kind::pid:
            for (const auto& j : jobs)
                if (std::find(j.pids.begin(), j.pids.end(), spec.pid) != j.pids.end()) return j.number;
            return fail(spec_error(JobSpecErrc::no_such_job, typed));
    }
    return fail(spec_error(JobSpecErrc::malformed, typed));
}

Result<int> find_job(std::string_view text, const std::vector<JobEntry>& jobs, bool allow_pid) {
    auto spec = parse_job_spec(text, allow_pid);
    if (!spec) return fail(spec.error());
    auto n = resolve_job_spec(*spec, jobs);
    if (!n) return fail(Error(n.error().code(), "find job " + std::string(text)));  // as typed
    return *n;
}

// ================================================================ Terminal

Result<Terminal> Terminal::open(int fd) {
    Terminal t;
    if (!::isatty(fd)) return fail(last_error("use descriptor " + std::to_string(fd) + " as the shell's terminal"));
    t.fd_ = fd;
    t.shell_pgid_ = ::getpgrp();
    for (;;) {
        pid_t fg = ::tcgetpgrp(fd);
        if (fg < 0) return fail(last_error("read the foreground process group of the terminal"));
        if (fg == t.shell_pgid_) break;
        ::kill(-t.shell_pgid_, SIGTTIN);  // stops us until someone puts us in the foreground
    }
    if (::tcgetattr(fd, &t.shell_modes_) != 0) return fail(last_error("read the terminal modes"));
    return t;
}

Status Terminal::save_shell_modes() {
    if (::tcgetattr(fd_, &shell_modes_) != 0) return fail(last_error("read the terminal modes"));
    return {};
}

Status Terminal::give_to(pid_t pgid, const struct termios* modes) {
    SignalMaskGuard no_ttou{SIGTTOU};
    if (modes && retry_eintr([&] { return ::tcsetattr(fd_, TCSADRAIN, modes); }) != 0)
        return fail(last_error("set the terminal modes of a job"));
    if (::tcsetpgrp(fd_, pgid) != 0)
        return fail(last_error("give the terminal to process group " + std::to_string(pgid)));
    return {};
}

Result<struct termios> Terminal::reclaim() {
    SignalMaskGuard no_ttou{SIGTTOU};
    if (::tcsetpgrp(fd_, shell_pgid_) != 0) return fail(last_error("take the terminal back"));
    struct termios job {};
    if (::tcgetattr(fd_, &job) != 0) return fail(last_error("read the terminal modes"));
    if (retry_eintr([&] { return ::tcsetattr(fd_, TCSADRAIN, &shell_modes_); }) != 0)
        return fail(last_error("restore the shell's terminal modes"));
    return job;
}

Result<pid_t> Terminal::foreground_group() const {
    pid_t pg = ::tcgetpgrp(fd_);
    if (pg < 0) return fail(last_error("read the foreground process group of the terminal"));
    return pg;
}

// ================================================================ Job

const char* to_string(JobState s) noexcept {
    switch (s) {
        case JobState::running: return "Running";
        case JobState::stopped: return "Stopped";
        case JobState::done: return "Done";
    }
    return "?";
}

std::vector<pid_t> Job::pids() const {
    std::vector<pid_t> p;
    for (const auto& m : members_) p.push_back(m.pid());
    return p;
}

JobEntry Job::entry() const {
    JobEntry e;
    e.number = number_;
    e.command = command_;
    e.pids = pids();
    e.stopped = state_ == JobState::stopped;
    e.finished = state_ == JobState::done;
    e.seq = seq_;
    return e;
}

// The group can be signalled only while one of our unreaped members is in it: then its ID cannot
// have been given to anyone else (an unreaped process keeps its PID and its group's).
bool Job::holds_group() const {
    for (std::size_t i = 0; i < members_.size(); ++i)
        if (member_state_[i] != Member::ended && ::getpgid(members_[i].pid()) == pgid_) return true;
    return false;
}

Status Job::signal(int sig) {
    if (state_ == JobState::done) return {};
    const bool also_cont = state_ == JobState::stopped && sig != SIGKILL && sig != SIGCONT && sig != 0;
    auto send = [&](int s) -> Status {
        if (holds_group()) {
            if (::kill(-pgid_, s) != 0 && errno != ESRCH)
                return fail(last_error("send signal " + signal_name(s) + " to job %" + std::to_string(number_)));
            return {};
        }
        for (std::size_t i = 0; i < members_.size(); ++i)
            if (member_state_[i] != Member::ended) {
                if (auto r = members_[i].send_signal(s); !r) return r;
            }
        return {};
    };
    if (auto r = send(sig); !r) return r;
    if (also_cont) return send(SIGCONT);
    return {};
}

Result<bool> Job::collect() {
    const JobState before = state_;
    for (std::size_t i = 0; i < members_.size(); ++i) {
        // A member may have a stop and then a continue pending (the kernel keeps the latest):
        // read until nothing is pending or it has ended.
        for (int k = 0; k < 4 && member_state_[i] != Member::ended; ++k) {
            auto st = members_[i].try_wait_state();
            if (!st) return fail(st.error());
            if (!*st) break;
            if ((*st)->ended())
                member_state_[i] = Member::ended;
            else if ((*st)->is_stopped()) {
                member_state_[i] = Member::stopped;
                status_ = **st;  // how it stopped, until recompute() decides
            } else
                member_state_[i] = Member::running;
        }
    }
    recompute();
    if (state_ == before) return false;
    notified = false;  // news for the user, whoever collected it
    return true;
}

void Job::recompute() {
    bool all_ended = true, any_stopped = false;
    for (auto s : member_state_) {
        if (s != Member::ended) all_ended = false;
        if (s == Member::stopped) any_stopped = true;
    }
    if (all_ended) {
        state_ = JobState::done;
        status_ = members_.back().status();  // the last member's, as the shell's $?
    } else if (any_stopped) {
        state_ = JobState::stopped;
        if (!status_ || !status_->is_stopped()) status_ = ExitStatus::stopped(SIGTSTP);
    } else {
        state_ = JobState::running;
        status_.reset();
    }
}

// ================================================================ JobTable

JobTable::JobTable(Terminal* terminal) : terminal_(terminal) {}

JobTable::~JobTable() {
    for (auto& j : jobs_) {
        if (j->state_ == JobState::done) continue;
        (void)j->signal(SIGHUP);
        (void)j->signal(SIGCONT);
        for (auto& m : j->members_) m.set_destroy_policy(DestroyPolicy::terminate_tree, std::chrono::seconds(2));
    }
}

Result<Job*, SpawnFailure> JobTable::start(std::vector<Command> pipeline, std::string text, Launch launch) {
    if (pipeline.empty()) return fail(SpawnFailure(SpawnStage::prepare, EINVAL, "start an empty pipeline"));
    auto job = std::make_unique<Job>();
    job->command_ = std::move(text);
    std::vector<unique_fd> pipes;  // the parent's copies of every pipe end, closed once all started
    for (std::size_t i = 0; i + 1 < pipeline.size(); ++i) {
        int p[2];
        if (::pipe2(p, O_CLOEXEC) != 0)
            return fail(SpawnFailure(SpawnStage::prepare, errno, "create a pipe for " + job->command_));
        pipes.emplace_back(p[0]);
        pipes.emplace_back(p[1]);
        pipeline[i].out(Stdio::fd(p[1]));
        pipeline[i + 1].in(Stdio::fd(p[0]));
    }
    const bool fg = launch == Launch::foreground && terminal_;
    for (std::size_t i = 0; i < pipeline.size(); ++i) {
        Command& c = pipeline[i];
        if (i == 0)
            c.new_process_group();
        else
            c.join_process_group(job->pgid_);
        if (fg && i == 0) c.foreground(terminal_->fd());
        auto child = c.spawn();
        if (!child) {
            if (!job->members_.empty()) ::kill(-job->pgid_, SIGKILL);  // the leader is unreaped: safe
            for (auto& m : job->members_) (void)m.wait();
            // A leader that failed after taking the terminal (at exec) leaves it to a dead group.
            if (fg) (void)terminal_->reclaim();
            return fail(std::move(child).error());
        }
        if (i == 0) job->pgid_ = child->pid();
        job->members_.push_back(std::move(*child));
        job->member_state_.push_back(Job::Member::running);
    }
    pipes.clear();
    int highest = 0;
    for (const auto& j : jobs_) highest = std::max(highest, j->number_);
    job->number_ = highest + 1;
    job->seq_ = next_seq_++;
    jobs_.push_back(std::move(job));
    return jobs_.back().get();
}

Result<void, Error> JobTable::block_until_change(Job& job) {
    // Something of the job's group changed (WNOWAIT: it stays to be collected through the pidfd).
    siginfo_t info{};
    int r = ::waitid(P_PGID, static_cast<id_t>(job.pgid_), &info, WEXITED | WSTOPPED | WCONTINUED | WNOWAIT);
    if (r == 0 || errno == EINTR) return {};
    if (errno != ECHILD) return fail(last_error("wait for job %" + std::to_string(job.number_)));
    // No member is in the group any more (each moved itself out): only ends can be seen now.
    std::vector<pollfd> fds;
    for (std::size_t i = 0; i < job.members_.size(); ++i)
        if (job.member_state_[i] != Job::Member::ended) fds.push_back({job.members_[i].pidfd(), POLLIN, 0});
    if (fds.empty()) return {};
    if (::poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR)
        return fail(last_error("wait for job %" + std::to_string(job.number_)));
    return {};
}

Result<JobState> JobTable::wait(Job& job) {
    const JobState before = job.state_;
    for (;;) {
        auto changed = job.collect();
        if (!changed) return fail(changed.error());
        if (job.state_ != JobState::running) break;
        if (auto r = block_until_change(job); !r) return fail(r.error());
    }
    if (job.state_ == JobState::stopped && before != JobState::stopped) job.seq_ = next_seq_++;  // now the current job
    return job.state_;
}

Result<JobState> JobTable::wait_foreground(Job& job) {
    auto st = wait(job);
    if (!st) return st;
    if (terminal_) {
        auto modes = terminal_->reclaim();
        if (!modes) return fail(modes.error());
        if (*st == JobState::stopped) job.saved_modes_ = *modes;
    }
    return st;
}

Status JobTable::send_continue(Job& job) {
    if (auto c = job.collect(); !c) return fail(c.error());  // stops not yet seen are taken first
    if (job.state_ == JobState::done)
        return fail(Error::from_errno(ESRCH, "continue job %" + std::to_string(job.number_)));
    if (auto r = job.signal(SIGCONT); !r) return r;
    // Optimistic: the continue events follow; a stop seen later is a new stop.
    for (auto& s : job.member_state_)
        if (s == Job::Member::stopped) s = Job::Member::running;
    job.recompute();
    return {};
}

Result<JobState> JobTable::continue_foreground(Job& job) {
    if (auto c = job.collect(); !c) return fail(c.error());  // it may have ended meanwhile
    if (job.state_ == JobState::done)
        return fail(Error::from_errno(ESRCH, "continue job %" + std::to_string(job.number_)));
    if (terminal_) {
        const struct termios* modes = job.saved_modes_ ? &*job.saved_modes_ : nullptr;
        if (auto r = terminal_->give_to(job.pgid_, modes); !r) return fail(r.error());
    }
    if (auto r = send_continue(job); !r) {
        if (terminal_) (void)terminal_->reclaim();
        return fail(r.error());
    }
    return wait_foreground(job);
}

Status JobTable::continue_background(Job& job) {
    if (auto r = send_continue(job); !r) return r;
    job.seq_ = next_seq_++;
    return {};
}

Result<std::vector<Job*>> JobTable::update() {
    std::vector<Job*> changed;
    for (auto& j : jobs_) {
        if (j->state_ == JobState::done) continue;
        auto c = j->collect();
        if (!c) return fail(c.error());
        if (*c) {
            if (j->state_ == JobState::stopped) j->seq_ = next_seq_++;
            changed.push_back(j.get());
        }
    }
    return changed;
}

std::vector<Job*> JobTable::jobs() {
    std::vector<Job*> v;
    for (auto& j : jobs_) v.push_back(j.get());
    std::sort(v.begin(), v.end(), [](Job* a, Job* b) { return a->number_ < b->number_; });
    return v;
}

Job* JobTable::find(int number) {
    for (auto& j : jobs_)
        if (j->number_ == number) return j.get();
    return nullptr;
}

Result<Job*> JobTable::find(std::string_view spec) {
    auto n = find_job(spec, entries());
    if (!n) return fail(n.error());
    return find(*n);
}

void JobTable::remove(int number) {
    std::erase_if(jobs_, [&](const std::unique_ptr<Job>& j) { return j->number_ == number; });
}

std::vector<JobEntry> JobTable::entries() const {
    std::vector<JobEntry> v;
    for (const auto& j : jobs_) v.push_back(j->entry());
    return v;
}

}  // namespace prockit
