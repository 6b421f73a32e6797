#include "engine.hpp"

#include "common/cli.hpp"
#include "common/exit_codes.hpp"
#include "common/json.hpp"

#include <prockit/sys/signals.hpp>
#include <prockit/sys/syscall.hpp>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fcntl.h>
#include <map>
#include <memory>
#include <poll.h>
#include <set>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace prockit::prun {
namespace {

using Clock = std::chrono::steady_clock;
using Wall = std::chrono::system_clock;

// ---------------------------------------------------------------- output helpers

// Set when prun could not write something of its own (output it relays, the joblog): a full
// disk, an I/O error. The first such error is printed; the run then ends with exit status 1 even
// if every job succeeded, since what was lost cannot be told apart from what was not written.
bool g_write_failed = false;

void write_failed(const Error& e) {
    if (!g_write_failed) tools::print_error(e);
    g_write_failed = true;
}

void write_out(int fd, std::string_view data) {
    // A closed stdout ends prun through SIGPIPE, as for any filter; other errors are reported once.
    if (auto r = write_all(fd, data, "write output"); !r) write_failed(r.error());
}

/// Writes `data` prefixed line by line with `prefix`; a trailing partial line is kept in `partial`
/// unless `final`.
void emit_lines(int fd, std::string& partial, std::string_view data, const std::string& prefix, bool tag, bool final) {
    if (!tag) {
        if (!final) {
            // whole lines only: keep the tail
            partial.append(data);
            auto nl = partial.rfind('\n');
            if (nl == std::string::npos) return;
            write_out(fd, std::string_view(partial).substr(0, nl + 1));
            partial.erase(0, nl + 1);
        } else {
            partial.append(data);
            if (!partial.empty()) write_out(fd, partial);
            partial.clear();
        }
        return;
    }
    partial.append(data);
    std::string out;
    std::size_t pos = 0;
    for (;;) {
        auto nl = partial.find('\n', pos);
        if (nl == std::string::npos) break;
        out += prefix;
        out.append(partial, pos, nl + 1 - pos);
        pos = nl + 1;
    }
    partial.erase(0, pos);
    if (final && !partial.empty()) {
        out += prefix;
        out += partial;
        out += '\n';
        partial.clear();
    }
    if (!out.empty()) write_out(fd, out);
}

/// prun's stdout and stderr, when they are pipes and prun is about to copy a large buffered
/// output into one: its buffer grows to 1 MiB (the most an unprivileged process may ask for by
/// default, fs.pipe-max-size), so the reader gets 16 times as much per wakeup — and jobs writing
/// straight to it afterwards profit too. The pages count against the user's pipe-buffer quota
/// (fs.pipe-user-pages-soft), which is shared by all their programs, so prun grows a pipe only for
/// output of 1 MiB or more, and gives the old size back when the pool ends (if the reader has
/// drained the pipe far enough by then). Refusal leaves the pipe as it was.
class OutputPipes {
public:
    static constexpr int big = 1 << 20;
    OutputPipes() = default;
    OutputPipes(const OutputPipes&) = delete;
    OutputPipes& operator=(const OutputPipes&) = delete;
    ~OutputPipes() { restore(); }

    /// `bytes` of buffered output are about to be copied to fd (1 or 2).
    void copying(int fd, off_t bytes) {
        if (bytes < big || fd < 1 || fd > 2 || tried_[fd]) return;
        tried_[fd] = true;
        struct stat st {};
        if (fstat(fd, &st) != 0 || !S_ISFIFO(st.st_mode)) return;
        int now = fcntl(fd, F_GETPIPE_SZ);
        if (now > 0 && now < big && fcntl(fd, F_SETPIPE_SZ, big) >= 0) old_[fd] = now;
    }
    void restore() noexcept {
        for (int fd : {1, 2})
            if (old_[fd] > 0) {
                (void)fcntl(fd, F_SETPIPE_SZ, old_[fd]);  // EBUSY while more than that is unread
                old_[fd] = 0;
            }
    }

private:
    bool tried_[3] = {false, false, false};
    int old_[3] = {0, 0, 0};
};

/// Copies a temporary file's content to fd (with tags when asked).
void emit_file(int src, int dst, const std::string& prefix, bool tag, OutputPipes& pipes) {
    struct stat st {};
    if (fstat(src, &st) != 0 || st.st_size == 0) return;
    off_t size = st.st_size;
    pipes.copying(dst, size);
    if (!tag) {
        off_t off = 0;
        while (off < size) {
            ssize_t n = sendfile(dst, src, &off, static_cast<std::size_t>(std::min<off_t>(size - off, 1 << 30)));
            if (n > 0) continue;
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && errno != EINVAL && errno != ENOSYS) {
                write_failed(last_error("write output"));
                return;
            }
            break;  // EINVAL/ENOSYS (or a short file): fall back to read/write
        }
        if (off >= size) return;
        std::string buf(1 << 16, '\0');
        while (off < size) {
            ssize_t n = retry_eintr([&] { return pread(src, buf.data(), buf.size(), off); });
            if (n <= 0) return;
            write_out(dst, std::string_view(buf.data(), static_cast<std::size_t>(n)));
            off += n;
        }
        return;
    }
    std::string partial, buf(1 << 16, '\0');
    off_t off = 0;
    while (off < size) {
        ssize_t n = retry_eintr([&] { return pread(src, buf.data(), buf.size(), off); });
        if (n <= 0) break;
        emit_lines(dst, partial, std::string_view(buf.data(), static_cast<std::size_t>(n)), prefix, true, false);
        off += n;
    }
    emit_lines(dst, partial, {}, prefix, true, true);
}

/// Temporary files for --group output, reused between jobs.
class TmpFiles {
public:
    Result<unique_fd> acquire() {
        if (!free_.empty()) {
            unique_fd fd = std::move(free_.back());
            free_.pop_back();
            return fd;
        }
        return fresh();
    }
    /// A new file, never one used before (--pipe blocks: a reader the job left behind must not
    /// see another job's block).
    Result<unique_fd> fresh() {
        const char* dir = std::getenv("TMPDIR");
        std::string d = dir && *dir ? dir : "/tmp";
        int fd = ::open(d.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (fd < 0) fd = memfd_create("prun-output", MFD_CLOEXEC);
        if (fd < 0) return fail(last_error("create a temporary file in " + d));
        return unique_fd(fd);
    }
    void release(unique_fd fd) {
        if (!fd) return;
        struct stat st {};
        if (fstat(fd.get(), &st) == 0 && st.st_size > 0 && ftruncate(fd.get(), 0) != 0) return;  // dropped
        lseek(fd.get(), 0, SEEK_SET);
        if (free_.size() < 64) free_.push_back(std::move(fd));
    }

private:
    std::vector<unique_fd> free_;
};

struct LinePipe {
    unique_fd fd;
    std::string partial;
};

// ---------------------------------------------------------------- jobs

struct Job {
    std::uint64_t seq = 0;
    std::vector<std::string> inputs;
    std::vector<std::string> argv;  // what is exec'd
    std::string display;            // the command as a shell would read it (joblog, --dry-run)
    std::string name;
    std::string tag;  // --tagstring, expanded
    std::string block;  // --pipe: the job's stdin
    bool piped = false;
    unsigned attempts = 0;
};

struct Running {
    Job job;
    Child child;
    unsigned slot = 0;
    Clock::time_point start;
    Wall::time_point wall_start;
    std::optional<Clock::time_point> deadline;
    bool terminating = false;
    bool timed_out = false;
    std::size_t step = 0;
    Clock::time_point next_step;
    unique_fd in_file;             // --pipe: the block, in a temporary file
    unique_fd out_file, err_file;  // group
    LinePipe out_pipe, err_pipe;    // line buffer
    std::uint64_t received = 0;
    std::optional<CpuSet> cpus;
    std::string tree_cgroup;  // single mode: the guard's group is this job's tree
    bool direct = false;      // group mode: this job writes straight to prun's stdout/stderr
};

struct Finished {
    Job job;
    ExitStatus status = ExitStatus::exited(0);
    bool spawned = true;
    bool timed_out = false;
    double start = 0, runtime = 0;
    unsigned slot = 0;
    std::uint64_t received = 0;
    std::uint64_t sent = 0;  // --pipe: the block's size
    struct rusage ru {};
    bool have_ru = false;
    std::optional<CpuSet> cpus;
};

struct OrderEntry {
    std::uint64_t seq;
    bool done = false;
    unique_fd out, err;
    std::string prefix;
};

std::string fmt3(double v, int width = 0) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%*.3f", width, v);
    return buf;
}

// ---------------------------------------------------------------- joblog

class JobLog {
public:
    Status open(const std::string& path, bool append, bool jsonl) {
        jsonl_ = jsonl;
        int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC);
        auto fd = open_fd(path, flags, 0644);
        if (!fd) return fail(Error(fd.error().code(), "open joblog " + path));
        fd_ = std::move(*fd);
        struct stat st {};
        fstat(fd_.get(), &st);
        if (!jsonl_ && st.st_size == 0)
            return write_all(fd_.get(), "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n",
                             "write the joblog");
        return {};
    }
    bool active() const { return static_cast<bool>(fd_); }
    void record(const Finished& f) {
        if (!fd_) return;
        int exitval = f.status.is_exited() && !f.timed_out ? *f.status.code() : -1;
        int sig = f.status.is_killed() ? *f.status.signal() : 0;
        if (!f.spawned) exitval = f.status.shell_code(), sig = 0;
        std::string line;
        if (!jsonl_) {
            line = std::to_string(f.job.seq) + "\t:\t" + fmt3(f.start) + "\t" + fmt3(f.runtime, 10) + "\t" +
                   std::to_string(f.sent) + "\t" +
                   std::to_string(f.received) + "\t" + std::to_string(exitval) + "\t" + std::to_string(sig) + "\t";
            for (char c : f.job.display) line += (c == '\n' || c == '\t') ? ' ' : c;
            line += '\n';
        } else {
            tools::JsonWriter j;
            j.begin_object().key("seq").value(static_cast<unsigned long long>(f.job.seq));
            j.key("name").value(f.job.name).key("host").value(":");
            j.key("start").value(f.start).key("runtime").value(f.runtime);
            j.key("send").value(static_cast<unsigned long long>(f.sent));
            j.key("receive").value(static_cast<unsigned long long>(f.received));
            j.key("exitval").value(exitval).key("signal").value(sig);
            j.key("signal_name").value(sig ? signal_name(sig) : "");
            j.key("timed_out").value(f.timed_out).key("attempts").value(f.job.attempts);
            j.key("slot").value(f.slot);
            j.key("cpus").value(f.cpus ? f.cpus->to_list() : "");
            auto secs = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6; };
            if (f.have_ru) {
                j.key("user_cpu").value(secs(f.ru.ru_utime)).key("sys_cpu").value(secs(f.ru.ru_stime));
                j.key("max_rss_kb").value(static_cast<long long>(f.ru.ru_maxrss));
            } else {
                j.key("user_cpu").null().key("sys_cpu").null().key("max_rss_kb").null();
            }
            j.key("command").value(f.job.display);
            j.key("argv").begin_array();
            for (const auto& a : f.job.argv) j.value(a);
            j.end_array().end_object();
            line = j.str() + "\n";
        }
        if (auto r = write_all(fd_.get(), line, "write the joblog"); !r) write_failed(r.error());
    }

private:
    unique_fd fd_;
    bool jsonl_ = false;
};

/// Seqs recorded in an existing joblog: all of them, and those that succeeded.
void read_joblog(const std::string& path, bool jsonl, std::set<std::uint64_t>& all, std::set<std::uint64_t>& ok) {
    auto text = read_file(path);
    if (!text) return;
    std::size_t pos = 0;
    while (pos < text->size()) {
        auto nl = text->find('\n', pos);
        std::string line = text->substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
        pos = nl == std::string::npos ? text->size() : nl + 1;
        long long seq = -1, exitval = -1, sig = -1;
        if (!jsonl) {
            std::vector<std::string> cols;
            std::size_t p = 0;
            for (int i = 0; i < 8; ++i) {
                auto t = line.find('\t', p);
                if (t == std::string::npos) break;
                cols.push_back(line.substr(p, t - p));
                p = t + 1;
            }
            if (cols.size() < 8) continue;
            try {
                seq = std::stoll(cols[0]);
                exitval = std::stoll(cols[6]);
                sig = std::stoll(cols[7]);
            } catch (...) {
                continue;
            }
        } else {
            auto num = [&](const char* key) -> long long {
                auto k = line.find(std::string("\"") + key + "\":");
                if (k == std::string::npos) return -1;
                return std::atoll(line.c_str() + k + std::strlen(key) + 3);
            };
            seq = num("seq");
            exitval = num("exitval");
            sig = num("signal");
        }
        if (seq <= 0) continue;
        all.insert(static_cast<std::uint64_t>(seq));
        if (exitval == 0 && sig == 0) ok.insert(static_cast<std::uint64_t>(seq));
    }
}

// ---------------------------------------------------------------- tree signalling

// A job's tree is its Child's (process group in a pool), or the whole guard cgroup when prun
// runs one command (the group then holds that command's tree and nothing else).
void signal_tree(Child& c, int sig, const std::string& group = {}) {
    if (c.status() && group.empty()) return;
    if (!group.empty()) {
        (void)signal_cgroup(group, sig);
        return;
    }
    (void)c.signal_tree(sig);
}

// ---------------------------------------------------------------- the engine

class Engine {
public:
    explicit Engine(Plan& p) : plan_(p) {}
    int run();

private:
    Result<bool> next_job(Job& out);
    bool may_start(Clock::time_point now) const;
    void start(Job job);
    void finish(std::size_t i);
    void final_result(Finished f, unique_fd out, unique_fd err);
    void begin_termination(Running& r, Clock::time_point now);
    void advance_termination(Running& r, Clock::time_point now);
    void stop_all(bool kill_now);
    void on_signal(int sig);
    // The process-tree guard's hooks (plan_.guard): see TreeGuard.
    std::vector<pid_t> job_pids() const;
    void on_guardian_lost();
    void read_pipe(Running& r, LinePipe& lp, int dst, bool final);
    void flush_order();
    void progress(bool final);
    std::string prefix_of(const Job& j) const { return plan_.tag ? (plan_.tagstring ? j.tag : j.name) + "\t" : std::string(); }
    unsigned free_slot();
    int exit_code() const;
    int status_code() const;  // exit_code() before a failed write of prun's own is counted
    /// The input descriptor the next job waits for (nothing buffered yet), else -1.
    int input_wait_fd() const;
    Status fill_input();

    Plan& plan_;
    std::vector<std::unique_ptr<Running>> running_;
    std::deque<Job> retry_;
    std::deque<OrderEntry> order_;
    std::deque<OrderEntry> pending_;  // finished outputs held while a direct job runs
    bool fg_active_ = false;
    TmpFiles tmp_;
    OutputPipes pipes_;
    JobLog log_;
    std::set<std::uint64_t> skip_;
    std::uint64_t seq_ = 0;
    bool inputs_done_ = false;
    bool stopping_ = false;   // start nothing more
    int interrupted_ = 0;     // the signal that stopped us
    bool guardian_lost_ = false;
    unsigned signals_seen_ = 0;
    std::optional<int> halt_code_;
    std::uint64_t done_ = 0, failed_ = 0, succeeded_ = 0;
    std::optional<Clock::time_point> last_start_;
    std::optional<Clock::time_point> restart_at_;
    std::deque<Clock::time_point> restarts_;
    Duration backoff_{0};
    std::optional<Job> restart_job_;
    std::optional<ExitStatus> last_status_;
    bool single_timed_out_ = false;
    std::optional<int> single_spawn_error_;
    bool first_spawn_reported_ = false;
    Clock::time_point begun_ = Clock::now();
    Clock::time_point last_progress_{};
    std::optional<std::size_t> total_;
    bool tty_err_ = isatty(2) != 0;
    unique_fd sigfd_;
    unique_fd null_ = unique_fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));  // the pool's stdin
};

unsigned Engine::free_slot() {
    // The lowest slot no running job holds (slots are few: a linear scan).
    unsigned s = 1;
    for (;;) {
        bool used = false;
        for (const auto& r : running_) used = used || r->slot == s;
        if (!used) return s;
        ++s;
    }
}

Result<bool> Engine::next_job(Job& out) {
    if (!retry_.empty()) {
        out = std::move(retry_.front());
        retry_.pop_front();
        return true;
    }
    if (restart_job_) return false;
    if (inputs_done_) return false;
    if (!plan_.pool) {
        inputs_done_ = true;
        out.seq = ++seq_;
        out.argv = plan_.single_argv;
        out.display = shell_join(out.argv);
        out.name = plan_.fixed_name.empty() ? out.argv[0] : plan_.fixed_name;
        out.tag = plan_.fixed_tag;
        return true;
    }
    // The next input — a block with --pipe, else one value per source — skipping what --resume
    // says already ran.
    for (;;) {
        std::optional<std::string> block;
        std::optional<std::vector<std::string>> values;
        if (plan_.blocks) {
            auto b = plan_.blocks->next();
            if (!b) return fail(b.error());
            block = std::move(*b);
        } else {
            auto in = plan_.inputs->next();
            if (!in) return fail(in.error());
            values = std::move(*in);
        }
        if (!block && !values) {
            inputs_done_ = true;
            return false;
        }
        std::uint64_t seq = ++seq_;
        if (skip_.count(seq)) continue;
        out = Job{};
        out.seq = seq;
        if (block) {
            out.block = std::move(*block);
            out.piped = true;
            out.name = "block " + std::to_string(seq);
        } else {
            out.inputs = std::move(*values);
        }
        return true;
    }
}

int Engine::input_wait_fd() const {
    if (inputs_done_ || !retry_.empty() || restart_job_ || !plan_.pool) return -1;
    if (plan_.blocks) return plan_.blocks->waiting_fd();
    return plan_.inputs ? plan_.inputs->waiting_fd() : -1;
}

Status Engine::fill_input() {
    if (plan_.blocks) return plan_.blocks->fill();
    return plan_.inputs ? plan_.inputs->fill() : Status{};
}

bool Engine::may_start(Clock::time_point now) const {
    if (stopping_) return false;
    if (running_.size() >= plan_.jobs) return false;
    if (last_start_ && plan_.delay.count() > 0 && now < *last_start_ + plan_.delay) return false;
    if (plan_.keep_order && order_.size() >= std::max<std::size_t>(64, 4 * static_cast<std::size_t>(plan_.jobs)))
        return false;
    if (restart_at_ && now < *restart_at_) return false;
    return true;
}

void Engine::start(Job job) {
    unsigned slot = free_slot();
    JobValues v{&job.inputs, job.seq, slot};
    if (plan_.pool && job.attempts == 0) {
        if (plan_.shell || !plan_.have_template) {
            job.argv = {"/bin/sh", "-c", plan_.tmpl.expand_shell(v)};
            job.display = job.argv[2];
        } else {
            job.argv = plan_.tmpl.expand_argv(v);
            job.display = shell_join(job.argv);
        }
        if (plan_.tag_tmpl) job.tag = plan_.tag_tmpl->expand_text(v);
        if (plan_.name_tmpl)
            job.name = plan_.name_tmpl->expand_text(v);
        else if (!job.piped) {  // a --pipe job keeps "block N"
            job.name.clear();
            for (std::size_t i = 0; i < job.inputs.size(); ++i) job.name += (i ? " " : "") + job.inputs[i];
        }
    }
    if (plan_.dry_run) {
        write_out(1, job.display + "\n");
        ++done_;
        ++succeeded_;
        return;
    }
    ++job.attempts;
    last_start_ = Clock::now();

    auto r = std::make_unique<Running>();
    r->slot = slot;
    r->start = Clock::now();
    r->wall_start = Wall::now();
    if (plan_.timeout) r->deadline = r->start + *plan_.timeout;

    Finished fail_rec;
    fail_rec.slot = slot;
    fail_rec.start = std::chrono::duration<double>(r->wall_start.time_since_epoch()).count();
    auto fail_job = [&](int code, const Error& e) {
        tools::print_error(e);
        if (!first_spawn_reported_ && plan_.on_first_spawn) plan_.on_first_spawn(code, tools::tool_name() + ": " + e.message());
        first_spawn_reported_ = true;
        if (!plan_.pool) single_spawn_error_ = code;
        fail_rec.job = std::move(job);
        fail_rec.spawned = false;
        fail_rec.status = ExitStatus::exited(code);
        final_result(std::move(fail_rec), {}, {});
    };

    if (job.argv.empty() || job.argv[0].empty()) {
        fail_job(tools::exit_not_found,
                 Error::from_errno(EINVAL, "run job " + std::to_string(job.seq) + " (the template yields an empty command)"));
        return;
    }

    Command c = plan_.base;
    c.program(job.argv[0]).clear_args();
    for (std::size_t i = 1; i < job.argv.size(); ++i) c.arg(job.argv[i]);
    if (job.piped) {
        // The block goes in a temporary file the job reads as its stdin: no pipe to feed, nothing
        // lost or stuck when a job stops reading early.
        auto in = tmp_.fresh();
        if (in) {
            if (auto w = write_all(in->get(), job.block, "write a --pipe block to a temporary file"); !w)
                in = fail(w.error());
            else if (::lseek(in->get(), 0, SEEK_SET) != 0)
                in = fail(last_error("rewind the block for job " + std::to_string(job.seq)));
        }
        if (!in) {
            fail_job(tools::exit_failure, in.error());
            // The next blocks would fail alike (a full disk): start no more, let the running
            // jobs finish, end with exit status 1 — one message, not one per block.
            stopping_ = true;
            if (!halt_code_) halt_code_ = tools::exit_failure;
            return;
        }
        r->in_file = std::move(*in);
        c.in(Stdio::fd(r->in_file.get()));
    } else if (plan_.pool) {
        c.in(null_ ? Stdio::fd(null_.get()) : Stdio::null());
    }
    if (plan_.pool) {
        c.new_process_group();
    }
    if (!plan_.slot_cpus.empty()) {
        r->cpus = plan_.slot_cpus[(slot - 1) % plan_.slot_cpus.size()];
        c.affinity(*r->cpus);
    } else {
        r->cpus = plan_.cpus;
    }
    switch (plan_.output) {
        case OutputMode::ungroup: break;
        case OutputMode::group: {
            // One job at a time may write straight through (no copy) while nothing else is
            // printed; the others are buffered and printed whole after it.
            bool can_direct = !fg_active_ && !plan_.tag && plan_.retries == 1 &&
                              (plan_.keep_order ? order_.empty() : pending_.empty());
            if (can_direct) {
                r->direct = true;
                fg_active_ = true;
                break;
            }
            auto o = tmp_.acquire();
            if (!o) {
                fail_job(tools::exit_failure, o.error());
                return;
            }
            auto e = tmp_.acquire();
            if (!e) {
                fail_job(tools::exit_failure, e.error());
                return;
            }
            r->out_file = std::move(*o);
            r->err_file = std::move(*e);
            c.out(Stdio::fd(r->out_file.get())).err(Stdio::fd(r->err_file.get()));
            break;
        }
        case OutputMode::line_buffer: c.out(Stdio::pipe()).err(Stdio::pipe()); break;
    }

    auto child = c.spawn();
    if (!child && r->direct) fg_active_ = false;
    if (!child) {
        const SpawnFailure& f = child.error();
        int code = f.not_found() ? tools::exit_not_found : f.not_executable() ? tools::exit_cannot_execute : tools::exit_failure;
        tmp_.release(std::move(r->out_file));
        tmp_.release(std::move(r->err_file));
        fail_job(code, f);
        return;
    }
    if (!first_spawn_reported_ && plan_.on_first_spawn) plan_.on_first_spawn(0, "");
    first_spawn_reported_ = true;
    r->child = std::move(*child);
    r->child.set_destroy_policy(DestroyPolicy::kill_tree, Duration::zero());
    if (plan_.output == OutputMode::line_buffer) {
        r->out_pipe.fd = std::move(r->child.stdout_pipe());
        r->err_pipe.fd = std::move(r->child.stderr_pipe());
        for (int fd : {r->out_pipe.fd.get(), r->err_pipe.fd.get()}) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    }
    r->job = std::move(job);
    if (plan_.keep_order && r->job.attempts == 1) order_.push_back(OrderEntry{r->job.seq, false, {}, {}, {}});
    if (stopping_) begin_termination(*r, Clock::now());
    running_.push_back(std::move(r));
}

void Engine::read_pipe(Running& r, LinePipe& lp, int dst, bool final) {
    if (!lp.fd) return;
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(lp.fd.get(), buf, sizeof buf);
        if (n > 0) {
            r.received += static_cast<std::uint64_t>(n);
            emit_lines(dst, lp.partial, std::string_view(buf, static_cast<std::size_t>(n)), prefix_of(r.job), plan_.tag, false);
            if (!final) return;  // one chunk per wakeup keeps jobs fair
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN && !final) return;
        break;  // EOF, error, or drained at the end
    }
    emit_lines(dst, lp.partial, {}, prefix_of(r.job), plan_.tag, true);
    lp.fd.reset();
}

void Engine::begin_termination(Running& r, Clock::time_point now) {
    if (r.terminating) return;
    r.terminating = true;
    r.step = 0;
    advance_termination(r, now);
}

void Engine::advance_termination(Running& r, Clock::time_point now) {
    if (r.step >= plan_.term_seq.size()) return;
    const TermStep& s = plan_.term_seq[r.step++];
    signal_tree(r.child, s.sig, r.tree_cgroup);
    r.next_step = now + s.wait;
}

void Engine::stop_all(bool kill_now) {
    stopping_ = true;
    restart_at_.reset();
    restart_job_.reset();
    retry_.clear();
    auto now = Clock::now();
    for (auto& r : running_) {
        if (kill_now) {
            r->terminating = true;
            r->step = plan_.term_seq.size();
            signal_tree(r->child, SIGKILL, r->tree_cgroup);
        } else {
            begin_termination(*r, now);
        }
    }
}

void Engine::on_signal(int sig) {
    if (sig == SIGHUP && plan_.on_hangup) {
        plan_.on_hangup();
        return;
    }
    ++signals_seen_;
    if (!interrupted_) interrupted_ = sig;
    stop_all(signals_seen_ > 1);
}

std::vector<pid_t> Engine::job_pids() const {
    std::vector<pid_t> pids;
    for (const auto& r : running_) pids.push_back(r->child.pid());
    return pids;
}

void Engine::on_guardian_lost() {
    // Nothing would end the jobs' trees if we died now: end everything at once, as the run ends.
    guardian_lost_ = true;
    tools::print_error("cannot keep the process-tree guard: the guardian process has ended; killing every process of the run");
    stop_all(true);
    auto keep = job_pids();  // killed too, but reaped by finish() as usual
    TreeGuard::end_descendants(keep);
}

void Engine::finish(std::size_t i) {
    std::unique_ptr<Running> r = std::move(running_[i]);
    running_.erase(running_.begin() + static_cast<std::ptrdiff_t>(i));
    Finished f;
    f.slot = r->slot;
    f.timed_out = r->timed_out;
    f.cpus = r->cpus;
    f.sent = r->job.block.size();
    r->in_file.reset();  // closed, not reused (see TmpFiles::fresh)
    if (plan_.joblog_jsonl) {
        siginfo_t info{};
        if (syscall(SYS_waitid, P_PIDFD, r->child.pidfd(), &info, WEXITED | WNOHANG | WNOWAIT, &f.ru) == 0) f.have_ru = true;
    }
    // A job that was being ended loses whatever is left of its tree too.
    if (r->terminating) signal_tree(r->child, SIGKILL, r->tree_cgroup);
    auto st = r->child.try_wait();
    f.status = st && *st ? **st : ExitStatus::killed(SIGKILL);
    auto end = Clock::now();
    f.start = std::chrono::duration<double>(r->wall_start.time_since_epoch()).count();
    f.runtime = std::chrono::duration<double>(end - r->start).count();
    if (plan_.output == OutputMode::line_buffer) {
        read_pipe(*r, r->out_pipe, 1, true);
        read_pipe(*r, r->err_pipe, 2, true);
    }
    if (plan_.output == OutputMode::group) {
        struct stat stt {};
        if (fstat(r->out_file.get(), &stt) == 0) r->received = static_cast<std::uint64_t>(stt.st_size);
    }
    f.received = r->received;
    f.job = std::move(r->job);
    bool direct = r->direct;
    final_result(std::move(f), std::move(r->out_file), std::move(r->err_file));
    if (direct) {
        fg_active_ = false;
        while (!pending_.empty()) {
            OrderEntry e = std::move(pending_.front());
            pending_.pop_front();
            emit_file(e.out.get(), 1, e.prefix, plan_.tag, pipes_);
            emit_file(e.err.get(), 2, e.prefix, plan_.tag, pipes_);
            tmp_.release(std::move(e.out));
            tmp_.release(std::move(e.err));
        }
    }
}

void Engine::final_result(Finished f, unique_fd out, unique_fd err) {
    bool ok = f.spawned && f.status.success() && !f.timed_out;
    if (!plan_.pool) {
        last_status_ = f.status;
        single_timed_out_ = f.timed_out;
    }
    // Retries: a failed attempt is run again (its output dropped) while attempts remain.
    if (!ok && f.spawned && !stopping_ && (plan_.retries == 0 || f.job.attempts < plan_.retries)) {
        tmp_.release(std::move(out));
        tmp_.release(std::move(err));
        retry_.push_back(std::move(f.job));
        return;
    }
    log_.record(f);
    ++done_;
    if (ok) ++succeeded_; else ++failed_;

    std::string prefix = prefix_of(f.job);
    if (plan_.output == OutputMode::group) {
        if (plan_.keep_order) {
            for (auto& e : order_)
                if (e.seq == f.job.seq) {
                    e.done = true;
                    e.out = std::move(out);
                    e.err = std::move(err);
                    e.prefix = prefix;
                }
            flush_order();
        } else if (fg_active_ && out) {
            pending_.push_back(OrderEntry{f.job.seq, true, std::move(out), std::move(err), prefix});
        } else {
            if (out) emit_file(out.get(), 1, prefix, plan_.tag, pipes_);
            if (err) emit_file(err.get(), 2, prefix, plan_.tag, pipes_);
            tmp_.release(std::move(out));
            tmp_.release(std::move(err));
        }
    } else if (plan_.keep_order) {
        for (auto& e : order_)
            if (e.seq == f.job.seq) e.done = true;
        flush_order();
    }

    // Restart policy (single command).
    if (!plan_.pool && plan_.restart != Restart::no && !stopping_ && f.spawned &&
        (plan_.restart == Restart::always || !ok)) {
        auto now = Clock::now();
        while (!restarts_.empty() && now - restarts_.front() > plan_.restart_window) restarts_.pop_front();
        if (restarts_.size() >= plan_.restart_limit) {
            tools::print_error("cannot restart " + f.job.name + ": restart limit reached (" +
                               std::to_string(plan_.restart_limit) + " in " +
                               std::to_string(std::chrono::duration_cast<std::chrono::seconds>(plan_.restart_window).count()) +
                               "s)");
        } else {
            bool long_run = f.runtime >= 10.0;
            backoff_ = (long_run || backoff_.count() == 0) ? plan_.restart_delay
                                                          : std::min<Duration>(backoff_ * 2, std::chrono::seconds(60));
            restarts_.push_back(now);
            restart_at_ = now + backoff_;
            f.job.attempts = 0;
            restart_job_ = std::move(f.job);
            return;
        }
    }

    // Halt policy.
    const auto& h = plan_.halt;
    if (h.when != HaltPolicy::When::never && !halt_code_) {
        double count = h.why == HaltPolicy::Why::fail ? static_cast<double>(failed_)
                       : h.why == HaltPolicy::Why::success ? static_cast<double>(succeeded_)
                                                           : static_cast<double>(done_);
        bool relevant = h.why == HaltPolicy::Why::done || (h.why == HaltPolicy::Why::fail ? !ok : ok);
        double base = total_ ? static_cast<double>(*total_) : static_cast<double>(done_);
        bool hit = relevant && (h.percent ? count * 100.0 >= h.value * base : count >= h.value);
        if (hit) {
            if (h.why == HaltPolicy::Why::success)
                halt_code_ = 0;
            else if (h.when == HaltPolicy::When::now && h.why == HaltPolicy::Why::fail)
                halt_code_ = f.status.shell_code() == 0 ? 1 : f.status.shell_code();
            else
                halt_code_ = static_cast<int>(std::min<std::uint64_t>(failed_, 101));
            if (h.when == HaltPolicy::When::now)
                stop_all(false);
            else
                stopping_ = true;
        }
    }
}

void Engine::flush_order() {
    while (!order_.empty() && order_.front().done) {
        OrderEntry e = std::move(order_.front());
        order_.pop_front();
        if (e.out) emit_file(e.out.get(), 1, e.prefix, plan_.tag, pipes_);
        if (e.err) emit_file(e.err.get(), 2, e.prefix, plan_.tag, pipes_);
        tmp_.release(std::move(e.out));
        tmp_.release(std::move(e.err));
    }
}

void Engine::progress(bool final) {
    if (!plan_.bar && !plan_.eta) return;
    auto now = Clock::now();
    auto since = now - last_progress_;
    if (!final && since < (tty_err_ ? std::chrono::milliseconds(100) : std::chrono::milliseconds(1000))) return;
    last_progress_ = now;
    double elapsed = std::chrono::duration<double>(now - begun_).count();
    std::size_t total = total_.value_or(0);
    double frac = total ? static_cast<double>(done_) / static_cast<double>(total) : 0;
    double eta = done_ ? elapsed / static_cast<double>(done_) * static_cast<double>(total - std::min<std::size_t>(total, done_)) : 0;
    char line[256];
    if (!total_) {  // --pipe: the number of blocks is not known ahead, so no share and no ETA
        if (plan_.bar && tty_err_)
            std::snprintf(line, sizeof line, "\r%llu done, %zu running, %llu failed%s", static_cast<unsigned long long>(done_),
                          running_.size(), static_cast<unsigned long long>(failed_), final ? "\n" : "");
        else
            std::snprintf(line, sizeof line, "%s: %llu done, %zu running, %llu failed\n", tools::tool_name().c_str(),
                          static_cast<unsigned long long>(done_), running_.size(), static_cast<unsigned long long>(failed_));
    } else if (plan_.bar && tty_err_) {
        int width = 30, fill = static_cast<int>(frac * width);
        std::string bar(static_cast<std::size_t>(fill), '#');
        bar.resize(static_cast<std::size_t>(width), '.');
        std::snprintf(line, sizeof line, "\r[%s] %3d%% %llu/%zu running %zu ETA %.0fs%s", bar.c_str(),
                      static_cast<int>(frac * 100), static_cast<unsigned long long>(done_), total, running_.size(), eta,
                      final ? "\n" : "");
    } else {
        std::snprintf(line, sizeof line, "%s: %llu/%zu done (%d%%), %zu running, %llu failed, ETA %.0fs\n",
                      tools::tool_name().c_str(), static_cast<unsigned long long>(done_), total,
                      static_cast<int>(frac * 100), running_.size(), static_cast<unsigned long long>(failed_), eta);
    }
    (void)write_all(2, line);
}

int Engine::exit_code() const {
    int code = status_code();
    return g_write_failed && code == 0 ? tools::exit_failure : code;
}

int Engine::status_code() const {
    if (plan_.dry_run) return 0;
    if (guardian_lost_) return tools::exit_failure;
    if (!plan_.pool) {
        if (single_spawn_error_ && !last_status_) return *single_spawn_error_;
        if (single_timed_out_) return tools::exit_timeout;
        if (last_status_) return last_status_->shell_code();
        if (single_spawn_error_) return *single_spawn_error_;
        return interrupted_ ? 128 + interrupted_ : tools::exit_failure;
    }
    if (interrupted_) return 128 + interrupted_;
    if (halt_code_) return *halt_code_;
    return static_cast<int>(std::min<std::uint64_t>(failed_, 101));
}

int Engine::run() {
    // Signals arrive through a signalfd; the children reset their mask (Command's default).
    sigset_t set;
    sigemptyset(&set);
    for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) sigaddset(&set, s);
    if (plan_.guard) sigaddset(&set, SIGCHLD);  // a subreaper: adopted orphans are reaped as they exit
    sigprocmask(SIG_BLOCK, &set, nullptr);
    int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0) {
        tools::print_error(last_error("create a signalfd"));
        return tools::exit_failure;
    }
    sigfd_ = unique_fd(sfd);

    if (!plan_.joblog.empty()) {
        if (plan_.resume || plan_.resume_failed) {
            std::set<std::uint64_t> all, ok;
            read_joblog(plan_.joblog, plan_.joblog_jsonl, all, ok);
            skip_ = plan_.resume_failed ? ok : all;
        }
        if (auto r = log_.open(plan_.joblog, plan_.resume || plan_.resume_failed, plan_.joblog_jsonl); !r) {
            tools::print_error(r.error());
            return tools::exit_failure;
        }
    }
    if (plan_.inputs) total_ = plan_.inputs->total();
    if (total_ && !skip_.empty()) total_ = *total_ - std::min(*total_, skip_.size());

    std::vector<pollfd> fds;
    struct Ref {
        Running* r;
        int what;  // 0 pidfd, 1 stdout pipe, 2 stderr pipe, 3 input, 4 the guardian's descriptor
    };
    std::vector<Ref> refs;
    for (;;) {
        auto now = Clock::now();
        // Start what may start.
        while (may_start(now)) {
            if (restart_job_ && (!restart_at_ || now >= *restart_at_)) {
                Job j = std::move(*restart_job_);
                restart_job_.reset();
                restart_at_.reset();
                start(std::move(j));
                now = Clock::now();
                continue;
            }
            // Input that is not there yet (a slow pipe, a terminal) is waited for in ppoll below,
            // with the jobs, their deadlines and the signals — never in a blocking read here.
            if (input_wait_fd() >= 0) break;
            Job j;
            auto got = next_job(j);
            if (!got) {
                tools::print_error(got.error());
                stop_all(false);
                if (!interrupted_) halt_code_ = tools::exit_failure;
                break;
            }
            if (!*got) break;
            start(std::move(j));
            now = Clock::now();
        }
        bool more = !stopping_ && (!inputs_done_ || !retry_.empty() || restart_job_);
        if (running_.empty() && !more) break;

        // Deadlines.
        std::optional<Clock::time_point> wake;
        auto soonest = [&](Clock::time_point t) {
            if (!wake || t < *wake) wake = t;
        };
        for (auto& r : running_) {
            if (r->deadline && !r->terminating) {
                if (now >= *r->deadline) {
                    r->timed_out = true;
                    if (plan_.pool)
                        tools::print_warning("job " + std::to_string(r->job.seq) + " (" + r->job.name + ") timed out");
                    begin_termination(*r, now);
                } else {
                    soonest(*r->deadline);
                }
            }
            if (r->terminating && r->step < plan_.term_seq.size()) {
                if (now >= r->next_step) advance_termination(*r, now);
                if (r->step < plan_.term_seq.size()) soonest(r->next_step);
            }
        }
        if (restart_at_) soonest(*restart_at_);
        if (more && last_start_ && plan_.delay.count() > 0 && running_.size() < plan_.jobs) soonest(*last_start_ + plan_.delay);
        if ((plan_.bar || plan_.eta)) soonest(now + (tty_err_ ? std::chrono::milliseconds(100) : std::chrono::milliseconds(1000)));

        fds.clear();
        refs.clear();
        fds.push_back({sigfd_.get(), POLLIN, 0});
        refs.push_back({nullptr, -1});
        if (plan_.guard && !guardian_lost_) {
            fds.push_back({plan_.guard->guardian_fd(), POLLIN, 0});
            refs.push_back({nullptr, 4});
        }
        int input_fd = more && may_start(now) ? input_wait_fd() : -1;
        if (input_fd >= 0) {
            fds.push_back({input_fd, POLLIN, 0});
            refs.push_back({nullptr, 3});
        }
        for (auto& r : running_) {
            fds.push_back({r->child.pidfd(), POLLIN, 0});
            refs.push_back({r.get(), 0});
            if (r->out_pipe.fd) {
                fds.push_back({r->out_pipe.fd.get(), POLLIN, 0});
                refs.push_back({r.get(), 1});
            }
            if (r->err_pipe.fd) {
                fds.push_back({r->err_pipe.fd.get(), POLLIN, 0});
                refs.push_back({r.get(), 2});
            }
        }
        timespec ts{}, *tsp = nullptr;
        if (wake) {
            auto left = std::max<Duration>(Duration::zero(), std::chrono::duration_cast<Duration>(*wake - Clock::now()));
            ts.tv_sec = static_cast<time_t>(left.count() / 1000000000);
            ts.tv_nsec = static_cast<long>(left.count() % 1000000000);
            tsp = &ts;
        }
        int n = ppoll(fds.data(), fds.size(), tsp, nullptr);
        if (n < 0 && errno != EINTR) {
            tools::print_error(last_error("wait for jobs"));
            stop_all(true);
        }
        if (n > 0) {
            bool reap = false;
            if (fds[0].revents & POLLIN) {
                signalfd_siginfo si{};
                while (::read(sigfd_.get(), &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
                    if (si.ssi_signo == SIGCHLD)
                        reap = true;
                    else if (!plan_.guard || plan_.guard->should_act_on(si))
                        on_signal(static_cast<int>(si.ssi_signo));  // others come through guardian_fd()
                }
            }
            std::vector<Running*> ended;
            for (std::size_t i = 1; i < fds.size(); ++i) {
                if (!fds[i].revents) continue;
                Running* r = refs[i].r;
                if (refs[i].what == 4) {
                    // What was sent to prun's PID (or to its group: then once, not twice).
                    std::vector<int> sigs;
                    bool running = plan_.guard->read_guardian(sigs);
                    for (int sig : sigs) {
                        if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP || sig == SIGQUIT) {
                            on_signal(sig);
                        } else {
                            // SIGUSR1, SIGUSR2, SIGALRM: their default action, as before the split
                            // (the guardian then ends what is left and exits with 128+N).
                            ::signal(sig, SIG_DFL);
                            sigset_t one;
                            sigemptyset(&one);
                            sigaddset(&one, sig);
                            sigprocmask(SIG_UNBLOCK, &one, nullptr);
                            ::kill(::getpid(), sig);
                        }
                    }
                    if (!running) on_guardian_lost();
                } else if (refs[i].what == 3) {
                    if (auto st = fill_input(); !st) {
                        tools::print_error(st.error());
                        stop_all(false);
                        if (!interrupted_) halt_code_ = tools::exit_failure;
                    }
                } else if (refs[i].what == 0)
                    ended.push_back(r);
                else if (refs[i].what == 1)
                    read_pipe(*r, r->out_pipe, 1, false);
                else
                    read_pipe(*r, r->err_pipe, 2, false);
            }
            for (Running* r : ended)
                for (std::size_t i = 0; i < running_.size(); ++i)
                    if (running_[i].get() == r) {
                        finish(i);
                        break;
                    }
            // After the jobs that ended were reaped: then an exited orphan, if any, is usually the
            // first exited child and goes without a /proc listing.
            if (reap) TreeGuard::reap_adopted(job_pids());
        }
        progress(false);
    }
    flush_order();
    progress(true);
    pipes_.restore();
    // Nothing outlives prun: what the jobs left behind (adopted by this subreaper) ends here.
    if (plan_.guard) TreeGuard::end_descendants({});
    if (plan_.pool && seq_ == 0 && !plan_.no_run_if_empty && !interrupted_ && !halt_code_) {
        tools::print_error("cannot run jobs: the input is empty (-r allows that)");
        return tools::exit_failure;
    }
    return exit_code();
}

}  // namespace

int run_engine(Plan& plan) {
    Engine e(plan);
    return e.run();
}

}  // namespace prockit::prun
