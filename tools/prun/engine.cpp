#include "engine.hpp"
#include "compress.hpp"
#include "joblog.hpp"
#include "output.hpp"

#include "common/cli.hpp"
#include "common/exit_codes.hpp"

#include <prockit/supervise/event_loop.hpp>
#include <prockit/supervise/restart_policy.hpp>
#include <prockit/supervise/supervisor.hpp>
#include <prockit/sys/signals.hpp>
#include <prockit/sys/syscall.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fcntl.h>
#include <limits>
#include <map>
#include <optional>
#include <memory>
#include <poll.h>
#include <queue>
#include <utility>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <csignal>
#include <ctime>
#include <sys/stat.h>
#include <dirent.h>
#include <set>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <unistd.h>

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

// prun's stdout and stderr (the engine's, set while it runs): nothing is written to them but
// through these queues, so a reader that stops never blocks the event loop (output.hpp).
OutputSink* g_sink[3] = {nullptr, nullptr, nullptr};

void write_out(int fd, std::string_view data) {
    if (g_sink[fd]) g_sink[fd]->write(data);
}

/// Writes `data` prefixed line by line with `prefix`; a trailing partial line is kept in `partial`
/// unless `final`.
void emit_lines(int fd, std::string& partial, std::string_view data, const std::string& prefix, bool tag, bool final) {
    std::string out;
    cut_lines(out, partial, data, prefix, tag, final);
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
        std::string d = dir();
        if (auto f = open_fd(d, O_TMPFILE | O_RDWR, 0600)) return f;
        int fd = memfd_create("prun-output", MFD_CLOEXEC);
        if (fd < 0) return fail(last_error("create a temporary file in " + d));
        return unique_fd(fd);
    }
    static std::string dir() {
        const char* dir = std::getenv("TMPDIR");
        return dir && *dir ? dir : "/tmp";
    }
    void release(unique_fd fd) {
        if (!fd) return;
        struct stat st {};
        if (fstat(fd.get(), &st) == 0 && st.st_size > 0 && ftruncate(fd.get(), 0) != 0) return;  // dropped
        lseek(fd.get(), 0, SEEK_SET);
        if (free_.size() < kept) free_.push_back(std::move(fd));
    }

    /// Files kept for reuse at most (each a descriptor: see the descriptor budget).
    static constexpr std::size_t kept = 8;

private:
    std::vector<unique_fd> free_;
};

/// A job's output pipe: line-buffered (--line-buffer), or relayed as it comes (ungrouped output
/// with a joblog, so that its bytes are counted).
struct LinePipe {
    unique_fd fd;
    std::string partial;
    EventLoop::Id watch = 0;
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
    std::optional<PartCutter::Range> part;  // --pipepart: the job's stdin, a range of the file
    bool piped = false;
    bool stream = false;  // --round-robin, --tee: blocks go to the job's stdin through a pipe while it runs
    unsigned attempts = 0;
};

struct Running {
    Job job;
    Supervisor::JobId id = 0;
    unsigned slot = 0;
    Clock::time_point start;
    Wall::time_point wall_start;
    unique_fd in_file;             // --pipe: the block, in a temporary file
    // --pipepart: the pipe's end that the range is spliced into, while some of it is left.
    unique_fd feed;
    off_t feed_off = 0;
    std::size_t feed_left = 0;
    EventLoop::Id feed_watch = 0;
    // --round-robin, --tee: the pipe to the job's stdin (closed when the input has ended and all
    // was written, or when the job stopped reading), and the blocks waiting for it: --tee's are
    // shared by all jobs, so a block is in memory once however many jobs still need it.
    unique_fd stream;
    std::deque<std::shared_ptr<const std::string>> stream_q;
    std::size_t stream_pos = 0;  // in stream_q.front()
    EventLoop::Id stream_watch = 0;
    std::uint64_t stream_sent = 0;
    bool compress = false;  // --compress: out_pipe/err_pipe are read into out_file/err_file as zstd frames
    std::string z_out, z_err;  // --compress: what waits to fill a frame
    bool z_cut[3] = {false, false, false};  // --compress: a frame of this stream could not be kept
    unique_fd out_file, err_file;  // group
    LinePipe out_pipe, err_pipe;   // line buffer; out_pipe alone when relayed
    bool relay = false;            // out_pipe is copied through unbuffered
    std::uint64_t received = 0;    // bytes of stdout
    std::optional<CpuSet> cpus;
    unique_fd res_out, res_err;  // --results DIR, --files: the files kept
    std::string res_name;        // --files: the stdout file's name, printed when the job ends
    std::string kept_in;         // --results DIR, --files: the directory of res_out
    bool direct = false;  // group mode: this job writes straight to prun's stdout/stderr
    bool maybe_lost = false;  // its buffer files' file system was seen full while it ran
    bool share_timed_out = false;  // --timeout N%: ended for running too long
};

struct Finished {
    Job job;
    std::string res_name;  // --files
    ExitStatus status = ExitStatus::exited(0);  // with its resource usage when spawned
    bool spawned = true;
    bool timed_out = false;
    double start = 0, runtime = 0;
    unsigned slot = 0;
    std::uint64_t received = 0;
    std::uint64_t sent = 0;  // --pipe: the block's size
    std::optional<CpuSet> cpus;
    bool compressed = false;  // its buffer files hold zstd frames
};

struct OrderEntry {
    std::uint64_t seq;
    bool done = false;
    std::string text;  // --files: printed before the outputs
    unique_fd out, err;
    std::string prefix;
    bool compressed = false;
    std::string name;  // the job's, to name it should its kept output not decode
    std::optional<JobLogEntry> log;  // --joblog -: the job's line, printed after its output
};

JobLogEntry log_entry(const Finished& f) {
    JobLogEntry e;
    e.seq = f.job.seq;
    e.name = f.job.name;
    e.start = f.start;
    e.runtime = f.runtime;
    e.sent = f.sent;
    e.received = f.received;
    e.exitval = f.status.is_exited() && !f.timed_out ? *f.status.code() : -1;
    e.signal = f.status.is_killed() ? *f.status.signal() : 0;
    if (!f.spawned) e.exitval = f.status.shell_code(), e.signal = 0;
    e.timed_out = f.timed_out;
    e.attempts = f.job.attempts;
    e.slot = f.slot;
    e.cpus = f.cpus ? f.cpus->to_list() : "";
    e.usage = f.spawned ? f.status.usage() : std::nullopt;
    e.command = f.job.display;
    e.argv = f.job.argv;
    return e;
}

unique_fd open_null() {
    auto fd = open_fd("/dev/null", O_RDONLY);
    return fd ? std::move(*fd) : unique_fd();
}

RestartPolicy restart_policy(const Plan& p) {
    RestartPolicy r;
    r.mode = p.restart == Restart::always       ? RestartPolicy::Mode::always
             : p.restart == Restart::on_failure ? RestartPolicy::Mode::on_failure
                                                : RestartPolicy::Mode::no;
    r.delay = p.restart_delay;
    r.limit = p.restart_limit;
    r.window = p.restart_window;
    return r;
}

// ---------------------------------------------------------------- the engine

class Engine {
public:
    explicit Engine(Plan& p)
        : plan_(p),
          sup_(loop_, p.term_seq,
               {[this](Supervisor::Exit& e) { on_exit(e); }, [this](Supervisor::JobId id) { on_timeout(id); }}),
          halt_(p.halt),
          restart_(restart_policy(p)),
          retry_{p.retries} {}
    int run();

private:
    Result<bool> next_job(Job& out);
    bool may_start(Clock::time_point now) const;
    bool machine_has_room() const;  // --load, --memfree
    mutable bool held_back_ = false;  // the last may_start() found the machine busy
    void start(Job job);
    void on_exit(Supervisor::Exit& e);
    void on_timeout(Supervisor::JobId id);
    void final_result(Finished f, unique_fd out, unique_fd err);
    void stop_all(bool kill_now);
    void on_signal(int sig);
    // The process-tree guard's hooks (plan_.guard): see TreeGuard.
    void on_guardian(short events);
    void on_guardian_lost();
    std::vector<pid_t> job_pids();
    void watch_pipe(Running& r, LinePipe& lp, int dst);
    void read_pipe(Running& r, LinePipe& lp, int dst, bool final);
    void watch_input(int fd);
    void feed(Running& r);
    void end_feed(Running& r);
    // --round-robin, --tee
    bool streaming() const { return plan_.blocks && plan_.spread != Plan::Spread::per_block; }
    void pump_streams();
    void write_stream(Running& r);
    void end_stream(Running& r);
    Running* idle_stream();
    bool stream_eof_ = false;     // no more blocks will come (the input ended, or the run is stopping)
    int stream_wait_fd_ = -1;     // the input descriptor pump_streams() waits on, else -1
    Supervisor::JobId rr_last_ = 0;  // --round-robin: the job that got the last block
    void compress_chunk(Running& r, int dst, std::string_view chunk, bool final);
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
    EventLoop loop_;
    Supervisor sup_;
    HaltTracker halt_;
    RestartTracker restart_;
    RetryPolicy retry_;
    std::map<Supervisor::JobId, std::unique_ptr<Running>> running_;
    std::deque<Job> retry_queue_;
    std::deque<OrderEntry> order_;
    // Output (output.hpp): prun's stdout and stderr, and while a job writes straight through
    // (group mode), the outputs finished meanwhile, merged into one spill file per stream.
    OutputSink out1_{1, [](const Error& e) { write_failed(e); }};
    OutputSink out2_{2, [](const Error& e) { write_failed(e); }};
    OutputSink& sink(int fd) { return fd == 1 ? out1_ : out2_; }
    unique_fd spill_[3];
    // --compress in effect: every buffered output file (and so the spill files) holds zstd frames.
    bool compress_on_ = false;
    EventLoop::Id out_watch_[3] = {0, 0, 0};
    bool reading_paused_ = false;
    bool output_full() const;
    void sync_output();
    void queue_file(int fd, unique_fd f, const std::string& prefix, bool compressed = false, std::vector<FilePart> parts = {});
    /// A compressed file's part holding job `seq`'s output from `start`: named should it not decode.
    FilePart part_of(std::uint64_t seq, const std::string& name, off_t start);
    std::vector<FilePart> spill_parts_[3];  // --compress: the jobs' parts of the spill files
    void spill(int fd, unique_fd f, const Job& job);
    void flush_spill();
    bool check_tmp_full(int fd);
    void release_tmp(unique_fd f) {
        if (f) check_tmp_full(f.get());  // before truncating frees the space
        tmp_.release(std::move(f));
    }
    void lost_output(const Job& job, const Error& e);
    void lost_output(std::uint64_t seq, const std::string& message);
    Status keep_output(Running& r, const Job& job, Command& c);
    void table_row_of(const Finished& f, unique_fd& out, unique_fd& err);
    unique_fd table_;             // --results FILE.csv/.tsv
    bool table_header_ = false;   // the table's header was written
    void fit_descriptors();
    std::size_t order_window_ = 64;
    std::set<std::uint64_t> lost_;  // jobs whose output was reported incomplete  // -k: jobs started and not yet printed, at most
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
    EventLoop::Id guardian_watch_ = 0;
    unsigned signals_seen_ = 0;
    std::optional<int> halt_code_;
    // --timeout N%: the runtimes of the jobs that succeeded, as two heaps around the median.
    std::priority_queue<double> ok_low_;
    std::priority_queue<double, std::vector<double>, std::greater<double>> ok_high_;
    void add_ok_runtime(double seconds);
    /// Ends the jobs that ran longer than the share of the median allows; the next such deadline.
    std::optional<Clock::time_point> check_share_timeouts(Clock::time_point now);
    unsigned jobs_cap_ = std::numeric_limits<unsigned>::max();  // what the descriptor limit holds
    std::uint64_t done_ = 0, failed_ = 0, succeeded_ = 0;
    std::optional<Clock::time_point> last_start_;
    std::optional<Clock::time_point> restart_at_;
    std::optional<Job> restart_job_;
    std::optional<ExitStatus> last_status_;
    bool single_timed_out_ = false;
    std::optional<int> single_spawn_error_;
    bool first_spawn_reported_ = false;
    Clock::time_point begun_ = Clock::now();
    Clock::time_point last_progress_{};
    std::optional<std::size_t> total_;
    Result<std::optional<std::vector<std::string>>> next_batch();
    std::optional<std::string> pending_;  // batching: the value read that did not fit the last job
    std::size_t batch_base_ = 0;          // batching: the command line's length without arguments
    std::size_t batch_limit_ = 0;         // batching: values per job at most (0: as many as fit)
    bool tty_err_ = isatty(2) != 0;
    int input_fd_ = -1;  // the input descriptor being watched
    EventLoop::Id input_watch_ = 0;
    unique_fd null_ = open_null();  // the pool's stdin
};

unsigned Engine::free_slot() {
    // The lowest slot no running job holds (slots are few: a linear scan).
    unsigned s = 1;
    for (;;) {
        bool used = false;
        for (const auto& [id, r] : running_) used = used || r->slot == s;
        if (!used) return s;
        ++s;
    }
}

Result<std::optional<std::vector<std::string>>> Engine::next_batch() {
    // The input was read whole (materialize()), so next() does not block here.
    std::vector<std::string> batch;
    const bool shell = plan_.shell || !plan_.have_template;
    std::size_t chars = batch_base_;
    for (;;) {
        if (!pending_) {
            auto in = plan_.inputs->next();
            if (!in) return fail(in.error());
            if (!*in) break;
            pending_ = std::move((**in)[0]);
        }
        if (plan_.no_run_if_empty && pending_->find_first_not_of(" \t\n\r\v\f") == std::string::npos) {
            pending_.reset();
            continue;
        }
        std::size_t cost = plan_.tmpl.arg_chars(*pending_, plan_.multi, shell);
        // One argument goes alone however long it is (the kernel then has the last word).
        if (!batch.empty() && chars + cost > plan_.max_chars) break;
        chars += cost;
        batch.push_back(std::move(*pending_));
        pending_.reset();
        if (batch_limit_ && batch.size() >= batch_limit_) break;
    }
    if (batch.empty()) return std::optional<std::vector<std::string>>();
    return std::optional<std::vector<std::string>>(std::move(batch));
}

Result<bool> Engine::next_job(Job& out) {
    if (!retry_queue_.empty()) {
        out = std::move(retry_queue_.front());
        retry_queue_.pop_front();
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
        std::optional<PartCutter::Range> part;
        std::optional<std::vector<std::string>> values;
        if (plan_.parts) {
            part = plan_.parts->next();
        } else if (plan_.blocks && plan_.spread != Plan::Spread::tee) {
            // --round-robin reads on only while the input has a block ready (the start loop waits
            // for the input only before the first read), and gives it to a running job that is
            // free to take it rather than starting one.
            if (plan_.spread == Plan::Spread::round_robin && plan_.blocks->waiting_fd() >= 0) return false;
            auto b = plan_.blocks->next();
            if (!b) return fail(b.error());
            block = std::move(*b);
            if (block && plan_.spread == Plan::Spread::round_robin) {
                if (Running* idle = idle_stream()) {
                    idle->stream_q.push_back(std::make_shared<const std::string>(std::move(*block)));
                    write_stream(*idle);
                    continue;
                }
            }
            if (!block) stream_eof_ = true;
        } else if (plan_.batch) {
            auto b = next_batch();
            if (!b) return fail(b.error());
            values = std::move(*b);
        } else {
            auto in = plan_.inputs->next();
            if (!in) return fail(in.error());
            values = std::move(*in);
        }
        if (!block && !values && !part) {
            inputs_done_ = true;
            return false;
        }
        // -r: a combination with an empty or whitespace-only value is skipped, and gets no number.
        if (values && plan_.no_run_if_empty &&
            std::any_of(values->begin(), values->end(),
                        [](const std::string& x) { return x.find_first_not_of(" \t\n\r\v\f") == std::string::npos; }))
            continue;
        std::uint64_t seq = ++seq_;
        if (skip_.count(seq)) continue;
        out = Job{};
        out.seq = seq;
        if (block || part) {
            if (block) out.block = std::move(*block);
            out.part = part;
            out.piped = true;
            out.stream = plan_.spread == Plan::Spread::round_robin;
            out.name = (out.stream ? "stream " : "block ") + std::to_string(seq);
        } else {
            out.inputs = std::move(*values);
            out.stream = plan_.spread == Plan::Spread::tee;
        }
        return true;
    }
}

int Engine::input_wait_fd() const {
    if (inputs_done_ || !retry_queue_.empty() || restart_job_ || !plan_.pool) return -1;
    if (plan_.blocks && plan_.spread != Plan::Spread::tee) return plan_.blocks->waiting_fd();
    return plan_.inputs ? plan_.inputs->waiting_fd() : -1;
}

Status Engine::fill_input() {
    // The watched descriptor is the blocks' (--pipe; --tee once its jobs run) or the inputs'.
    if (plan_.blocks && (plan_.spread != Plan::Spread::tee || input_fd_ == plan_.blocks->waiting_fd())) return plan_.blocks->fill();
    return plan_.inputs ? plan_.inputs->fill() : Status{};
}

void Engine::watch_input(int fd) {
    if (fd == input_fd_) return;
    if (input_watch_) loop_.unwatch(input_watch_);
    input_watch_ = 0;
    input_fd_ = fd;
    if (fd < 0) return;
    input_watch_ = loop_.watch(fd, POLLIN, [this](short) {
        if (auto st = fill_input(); !st) {
            tools::print_error(st.error());
            stop_all(false);
            if (!interrupted_) halt_code_ = plan_.own_failure;
        }
    });
}

bool Engine::may_start(Clock::time_point now) const {
    if (stopping_) return false;
    // --tee: the start loop forms every job (run() checked that -j holds them all), so that the
    // input's end is known to have been reached before the first block goes out.
    if (running_.size() >= plan_.jobs && !(streaming() && plan_.spread == Plan::Spread::tee)) return false;
    if (last_start_ && plan_.delay.count() > 0 && now < *last_start_ + plan_.delay) return false;
    if (plan_.keep_order && order_.size() >= order_window_)
        return false;
    if (restart_at_ && now < *restart_at_) return false;
    if (output_full()) return false;  // the reader is behind: start nothing until it catches up
    if ((plan_.max_load || plan_.memfree) && !machine_has_room()) return false;
    return true;
}

bool Engine::machine_has_room() const {
    // Read afresh for each start (a few microseconds): a job that just started is not in the load
    // average yet, which is why GNU parallel's users pair --load with --delay.
    held_back_ = false;
    if (plan_.max_load) {
        auto text = read_file("/proc/loadavg");
        double load = 0;
        if (text && std::sscanf(text->c_str(), "%lf", &load) == 1 && load >= *plan_.max_load) held_back_ = true;
    }
    if (plan_.memfree && !held_back_) {
        auto text = read_file("/proc/meminfo");
        if (text) {
            auto at = text->find("MemAvailable:");
            unsigned long long kib = 0;
            if (at != std::string::npos && std::sscanf(text->c_str() + at + 13, "%llu", &kib) == 1 && kib * 1024 < *plan_.memfree)
                held_back_ = true;
        }
    }
    return !held_back_;
}

void Engine::start(Job job) {
    unsigned slot = free_slot();
    JobValues v{&job.inputs, job.seq, slot, plan_.batch ? plan_.multi : Multi::none, plan_.total_jobs, plan_.jobs};
    if (plan_.pool && job.attempts == 0) {
        if (plan_.shell || !plan_.have_template) {
            job.argv = {plan_.shell_path, "-c", plan_.tmpl.expand_shell(v)};
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

    Finished fail_rec;
    fail_rec.slot = slot;
    fail_rec.start = std::chrono::duration<double>(r->wall_start.time_since_epoch()).count();
    auto fail_job = [&](int code, const Error& e) {
        // Out of descriptors (a limit the budget of fit_descriptors() misjudged, or descriptors
        // other processes took) or out of processes (fork's EAGAIN: RLIMIT_NPROC or a pids
        // cgroup's pids.max): a pool fails no job for want of either. While jobs run, this one
        // waits for one of them to end, and fewer run at once from now on; with none running
        // nothing would free any, so prun stops with its own error (255).
        const int err = e.errno_value();
        const bool no_fds = err == EMFILE || err == ENFILE;
        if (plan_.pool && (no_fds || err == EAGAIN)) {
            // --tee: every job must run at once from the first block, so one that cannot start
            // cannot wait for another to end (that would start it late, and may_start does not
            // hold --tee jobs back): the run stops with its own error.
            if (!running_.empty() && plan_.spread != Plan::Spread::tee) {
                auto now_running = static_cast<unsigned>(running_.size());
                if (now_running < plan_.jobs) {
                    std::string limit = "the process limit (ulimit -u, or the cgroup's pids.max)";
                    if (no_fds) {
                        rlimit rl{};
                        getrlimit(RLIMIT_NOFILE, &rl);
                        limit = "the descriptor limit (ulimit -n " + std::to_string(rl.rlim_cur) + ")";
                    }
                    tools::print_warning("running " + std::to_string(now_running) + (now_running == 1 ? " job" : " jobs") +
                                         " at once, not " + std::to_string(plan_.jobs) + ": " + limit + " holds no more");
                    plan_.jobs = now_running;
                    jobs_cap_ = now_running;
                }
                job.attempts = 0;
                retry_queue_.push_front(std::move(job));
                return true;
            }
            stopping_ = true;
            if (!halt_code_) halt_code_ = plan_.own_failure;
        }
        tools::print_error(e);
        if (!first_spawn_reported_ && plan_.on_first_spawn) plan_.on_first_spawn(code, tools::tool_name() + ": " + e.message());
        first_spawn_reported_ = true;
        if (!plan_.pool) single_spawn_error_ = code;
        fail_rec.job = std::move(job);
        fail_rec.spawned = false;
        fail_rec.status = ExitStatus::exited(code);
        final_result(std::move(fail_rec), {}, {});
        return false;
    };

    if (job.argv.empty() || job.argv[0].empty()) {
        fail_job(tools::exit_not_found,
                 Error::from_errno(EINVAL, "run job " + std::to_string(job.seq) + " (the template yields an empty command)"));
        return;
    }

    Command c = plan_.base;
    c.program(job.argv[0]).clear_args();
    for (std::size_t i = 1; i < job.argv.size(); ++i) c.arg(job.argv[i]);
    unique_fd feed_end;  // --pipepart, --round-robin, --tee: the pipe's end prun writes into
    if (job.stream || job.part) {
        // --round-robin, --tee: blocks are written into a pipe while the job runs; its end is
        // closed when the input has ended and the job has taken all it was given.
        // --pipepart: the range is spliced from the file into the pipe as the job reads it: the
        // data never passes through prun's memory, and a job that stops reading early costs
        // nothing more.
        int p[2];
        if (::pipe2(p, O_CLOEXEC) != 0) {
            fail_job(tools::exit_failure, last_error("create a pipe for job " + std::to_string(job.seq)));
            return;
        }
        r->in_file = unique_fd(p[0]);
        feed_end = unique_fd(p[1]);
        (void)fcntl(p[1], F_SETFL, fcntl(p[1], F_GETFL) | O_NONBLOCK);
        c.in(Stdio::fd(r->in_file.get()));
    } else if (job.piped) {
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
            if (fail_job(tools::exit_failure, in.error())) return;
            // The next blocks would fail alike (a full disk): start no more, let the running
            // jobs finish, end with exit status 1 — one message, not one per block.
            stopping_ = true;
            if (!halt_code_) halt_code_ = plan_.own_failure;
            return;
        }
        r->in_file = std::move(*in);
        c.in(Stdio::fd(r->in_file.get()));
    } else if (plan_.pool) {
        c.in(null_ ? Stdio::fd(null_.get()) : Stdio::null());
    }
    Supervisor::JobOptions opts;
    opts.timeout = plan_.timeout;
    if (plan_.pool) c.new_process_group();
    if (!plan_.slot_cpus.empty()) {
        r->cpus = plan_.slot_cpus[(slot - 1) % plan_.slot_cpus.size()];
        c.affinity(*r->cpus);
    } else {
        r->cpus = plan_.cpus;
    }
    const bool kept = plan_.results == Plan::Results::dir || plan_.files;
    if (kept) {
        if (auto st = keep_output(*r, job, c); !st) {
            if (fail_job(tools::exit_failure, st.error())) return;
            stopping_ = true;  // the next jobs' files would fail alike: start no more
            if (!halt_code_) halt_code_ = plan_.own_failure;
            return;
        }
    }
    if (!kept) switch (plan_.output) {
        case OutputMode::ungroup:
            // With a joblog the job's stdout passes through prun, unbuffered, so that its bytes
            // are counted (Receive); stderr still goes straight through.
            if (log_.active()) {
                c.out(Stdio::pipe());
                r->relay = true;
            }
            break;
        case OutputMode::group: {
            // One job at a time may write straight through (no copy) while nothing else is
            // printed; the others are buffered and printed whole after it. With a joblog every
            // job is buffered: the buffer's size is the job's Receive.
            // -v: the command line goes first into the job's buffer, so no job writes straight through.
            bool can_direct = !fg_active_ && !plan_.tag && plan_.retries == 1 && !log_.active() && !plan_.verbose &&
                              plan_.results == Plan::Results::none &&
                              (plan_.keep_order ? order_.empty() : true);
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
            if (compress_on_) {
                // --compress: prun reads the job's output and writes it into the files compressed.
                r->compress = true;
                c.out(Stdio::pipe()).err(Stdio::pipe());
            } else {
                c.out(Stdio::fd(r->out_file.get())).err(Stdio::fd(r->err_file.get()));
            }
            break;
        }
        case OutputMode::line_buffer: c.out(Stdio::pipe()).err(Stdio::pipe()); break;
    }

    if (plan_.verbose) {
        // -v: the command goes with the job's output (into its buffer when it has one).
        std::string line = job.display + "\n";
        if (r->compress) {
            compress_chunk(*r, 1, line, false);
        } else if (r->out_file) {
            if (auto w = write_all(r->out_file.get(), line, "write a job's output to a temporary file"); !w) write_failed(w.error());
        } else {
            write_out(1, prefix_of(job) + line);
        }
    }
    auto id = sup_.start(c, opts);
    if (!id && r->direct) fg_active_ = false;
    if (!id) {
        const SpawnFailure& f = id.error();
        int code = f.not_found() ? tools::exit_not_found : f.not_executable() ? tools::exit_cannot_execute : tools::exit_failure;
        release_tmp(std::move(r->out_file));
        release_tmp(std::move(r->err_file));
        fail_job(code, f);
        return;
    }
    if (!first_spawn_reported_ && plan_.on_first_spawn) plan_.on_first_spawn(0, "");
    first_spawn_reported_ = true;
    r->id = *id;
    if (job.stream) {
        r->in_file.reset();  // the job's end only: when it exits, writing fails with EPIPE
        r->stream = std::move(feed_end);
        if (!job.block.empty()) r->stream_q.push_back(std::make_shared<const std::string>(std::move(job.block)));
        job.block.clear();
    }
    if (job.part) {
        r->in_file.reset();  // the job's end only: when it exits, splicing fails with EPIPE
        r->feed = std::move(feed_end);
        r->feed_off = job.part->offset;
        r->feed_left = job.part->length;
    }
    Child& child = *sup_.child(*id);
    if (child.stdout_pipe()) {
        r->out_pipe.fd = std::move(child.stdout_pipe());
        watch_pipe(*r, r->out_pipe, 1);
    }
    if (child.stderr_pipe()) {
        r->err_pipe.fd = std::move(child.stderr_pipe());
        watch_pipe(*r, r->err_pipe, 2);
    }
    r->job = std::move(job);
    if (plan_.keep_order && r->job.attempts == 1) order_.push_back(OrderEntry{r->job.seq, false, {}, {}, {}, {}, false, {}, std::nullopt});
    if (stopping_) sup_.stop(*id);
    Running& rr = *r;
    running_.emplace(*id, std::move(r));
    if (rr.feed) feed(rr);
    if (rr.stream) {
        if (plan_.spread == Plan::Spread::round_robin) rr_last_ = rr.id;
        write_stream(rr);
    }
}

// ---------------------------------------------------------------- --round-robin, --tee

Running* Engine::idle_stream() {
    // --round-robin: a running job that has taken all it was given; the search begins after the
    // job that got the last block, so that blocks go round the jobs that are free.
    Running* first = nullptr;
    for (auto& [id, r] : running_) {
        if (!r->stream || !r->stream_q.empty()) continue;
        if (id > rr_last_) {
            rr_last_ = id;
            return r.get();
        }
        if (!first) first = r.get();
    }
    if (first) rr_last_ = first->id;
    return first;
}

void Engine::pump_streams() {
    // Reads blocks while some job can take one, gives them out, writes what the pipes take, and
    // closes a pipe once the input has ended and its job has all it was given. A job's pipe that
    // is full keeps its blocks queued: --round-robin then gives new blocks to other jobs, and
    // --tee reads on only while every job has fewer than two blocks waiting, so a slow job holds
    // the input back instead of making prun buffer it.
    stream_wait_fd_ = -1;
    if (!streaming()) return;
    if (stopping_) stream_eof_ = true;  // a halt, a signal: the jobs get end-of-file and finish
    while (!stream_eof_) {
        Running* target = nullptr;  // --round-robin: the job the next block goes to
        if (plan_.spread == Plan::Spread::tee) {
            if (!inputs_done_) break;  // blocks go out only when every job runs, from the first byte
            bool any = false, room = true;
            for (auto& [id, r] : running_)
                if (r->stream) {
                    any = true;
                    room = room && r->stream_q.size() < 2;
                }
            if (!any || !room) break;
        } else if (!(target = idle_stream())) {
            break;  // no free job: the start loop starts one (up to -j) when a block is ready
        }
        if (int fd = plan_.blocks->waiting_fd(); fd >= 0) {
            stream_wait_fd_ = fd;
            break;
        }
        auto b = plan_.blocks->next();
        if (!b) {
            tools::print_error(b.error());
            stop_all(false);
            if (!interrupted_) halt_code_ = plan_.own_failure;
            stream_eof_ = true;
            break;
        }
        if (!*b) {
            stream_eof_ = true;
            inputs_done_ = inputs_done_ || plan_.spread == Plan::Spread::round_robin;
            break;
        }
        auto block = std::make_shared<const std::string>(std::move(**b));
        // Written at once: a job whose pipe takes it all is free again for the next block.
        if (plan_.spread == Plan::Spread::tee) {
            for (auto& [id, r] : running_)
                if (r->stream) {
                    r->stream_q.push_back(block);
                    if (!r->stream_watch) write_stream(*r);
                }
        } else {
            target->stream_q.push_back(block);
            if (!target->stream_watch) write_stream(*target);
        }
    }
    for (auto& [id, r] : running_)
        if (r->stream && !r->stream_watch) write_stream(*r);
}

void Engine::write_stream(Running& r) {
    sigset_t pipe_sig, old;
    sigemptyset(&pipe_sig);
    sigaddset(&pipe_sig, SIGPIPE);
    while (r.stream && !r.stream_q.empty()) {
        const std::string& b = *r.stream_q.front();
        if (r.stream_pos >= b.size()) {
            r.stream_q.pop_front();
            r.stream_pos = 0;
            continue;
        }
        // SIGPIPE is held while writing: a job that stops reading early is no error of prun's
        // (the signal it raised is taken back), and the other jobs go on.
        pthread_sigmask(SIG_BLOCK, &pipe_sig, &old);
        ssize_t n = ::write(r.stream.get(), b.data() + r.stream_pos, b.size() - r.stream_pos);
        int e = errno;
        if (n < 0 && e == EPIPE) {
            struct timespec zero {};
            (void)sigtimedwait(&pipe_sig, nullptr, &zero);
        }
        pthread_sigmask(SIG_SETMASK, &old, nullptr);
        if (n > 0) {
            r.stream_pos += static_cast<std::size_t>(n);
            r.stream_sent += static_cast<std::uint64_t>(n);
            continue;
        }
        if (n < 0 && e == EINTR) continue;
        if (n < 0 && e == EAGAIN) {
            if (!r.stream_watch)
                r.stream_watch = loop_.watch(r.stream.get(), POLLOUT, [this, &r](short) { write_stream(r); });
            return;
        }
        if (n < 0 && e != EPIPE)
            tools::print_error(Error::from_errno(e, "give job " + std::to_string(r.job.seq) + " its input"));
        end_stream(r);  // EPIPE: the job stopped reading
        return;
    }
    if (r.stream_watch) loop_.unwatch(r.stream_watch);
    r.stream_watch = 0;
    if (stream_eof_ && r.stream_q.empty()) r.stream.reset();  // the job reads end-of-file
}

void Engine::end_stream(Running& r) {
    if (r.stream_watch) loop_.unwatch(r.stream_watch);
    r.stream_watch = 0;
    r.stream.reset();
    r.stream_q.clear();
    r.stream_pos = 0;
}

void Engine::compress_chunk(Running& r, int dst, std::string_view chunk, bool final) {
    // --compress: output gathers into frames of up to 64 KiB (a frame per pipe read would cost
    // more than it saves on small writes); the last one when the job's pipe ends.
    constexpr std::size_t frame = 1 << 16;
    std::string& z = dst == 1 ? r.z_out : r.z_err;
    if (r.z_cut[dst]) return;  // cut and named: what follows is not kept (a gap would read as whole)
    z.append(chunk);
    if (z.size() < frame && !(final && !z.empty())) return;
    const unique_fd& f = dst == 1 ? r.out_file : r.err_file;
    if (auto st = write_frame(f.get(), z); !st) {
        // The file keeps the whole frames before this one (write_frame cuts a torn one off).
        lost_output(r.job, Error(st.error().code(), "keep the output of job " + std::to_string(r.job.seq) + " (" + r.job.name +
                                                        ") in " + tmp_.dir()));
        r.z_cut[dst] = true;
    }
    z.clear();
}

Status Engine::keep_output(Running& r, const Job& job, Command& c) {
    // --results DIR: DIR/1/VALUE/.../{stdout,stderr,seq}, rewritten by each attempt. --files alone:
    // stdout in a new file of TMPDIR that stays, stderr buffered and printed as in --group.
    if (plan_.results == Plan::Results::dir) {
        std::string dir = results_dir(plan_.results_path, job.inputs);
        if (auto st = make_dirs(dir); !st) return st;
        {
            auto q = open_fd(dir + "/seq", O_WRONLY | O_CREAT | O_TRUNC, 0666);
            if (!q) return fail(Error(q.error().code(), "create " + dir + "/seq"));
            if (auto st = write_all(q->get(), std::to_string(job.seq)); !st)
                return fail(Error(st.error().code(), "write " + dir + "/seq"));
        }
        auto o = open_fd(dir + "/stdout", O_WRONLY | O_CREAT | O_TRUNC, 0666);
        if (!o) return fail(Error(o.error().code(), "create " + dir + "/stdout"));
        auto e = open_fd(dir + "/stderr", O_WRONLY | O_CREAT | O_TRUNC, 0666);
        if (!e) return fail(Error(e.error().code(), "create " + dir + "/stderr"));
        r.res_out = std::move(*o);
        r.res_err = std::move(*e);
        r.kept_in = dir;
        if (plan_.files) r.res_name = dir + "/stdout";
        c.out(Stdio::fd(r.res_out.get())).err(Stdio::fd(r.res_err.get()));
        return {};
    }
    std::string name = TmpFiles::dir() + "/prunXXXXXX.par";
    int fd = ::mkostemps(name.data(), 4, O_CLOEXEC);
    if (fd < 0) return fail(last_error("create a file for the output of job " + std::to_string(job.seq) + " in " + TmpFiles::dir()));
    r.res_out = unique_fd(fd);
    r.res_name = name;
    r.kept_in = TmpFiles::dir();
    auto e = tmp_.acquire();
    if (!e) return fail(e.error());
    r.err_file = std::move(*e);
    c.out(Stdio::fd(r.res_out.get())).err(Stdio::fd(r.err_file.get()));
    return {};
}

void Engine::table_row_of(const Finished& f, unique_fd& out, unique_fd& err) {
    // --results FILE.csv/.tsv: one row per job, its output in the last two columns.
    auto slurp = [this](unique_fd& fd) {
        std::string data;
        if (!fd) return data;
        struct stat st {};
        if (fstat(fd.get(), &st) == 0 && st.st_size > 0) {
            data.resize(static_cast<std::size_t>(st.st_size));
            ssize_t n = ::pread(fd.get(), data.data(), data.size(), 0);
            data.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
        }
        release_tmp(std::move(fd));
        return data;
    };
    std::vector<std::string> row;
    if (!table_header_) {
        table_header_ = true;
        row = {"Seq", "Host", "Starttime", "JobRuntime", "Send", "Receive", "Exitval", "Signal", "Command"};
        for (std::size_t i = 0; i < f.job.inputs.size(); ++i) row.push_back("V" + std::to_string(i + 1));
        row.push_back("Stdout");
        row.push_back("Stderr");
        std::string head = table_row(row, plan_.table_sep);
        if (table_) {
            if (auto st = write_all(table_.get(), head, "write the --results table"); !st) write_failed(st.error());
        } else {
            write_out(1, head);
        }
        row.clear();
    }
    JobLogEntry e = log_entry(f);
    char start[64], runtime[64];
    std::snprintf(start, sizeof start, "%.3f", e.start);
    std::snprintf(runtime, sizeof runtime, "%.3f", e.runtime);
    row = {std::to_string(e.seq), ":", start, runtime, std::to_string(e.sent), std::to_string(e.received),
           std::to_string(e.exitval), std::to_string(e.signal), e.command};
    for (const auto& v : f.job.inputs) row.push_back(v);
    row.push_back(slurp(out));
    row.push_back(slurp(err));
    std::string line = table_row(row, plan_.table_sep);
    if (table_) {
        if (auto st = write_all(table_.get(), line, "write the --results table"); !st) write_failed(st.error());
    } else {
        write_out(1, line);
    }
}

void Engine::feed(Running& r) {
    // Splice what the pipe takes now; the rest when it has room again.
    sigset_t pipe_sig, old;
    sigemptyset(&pipe_sig);
    sigaddset(&pipe_sig, SIGPIPE);
    while (r.feed && r.feed_left > 0) {
        // SIGPIPE is held while splicing: a job that exits before reading its range is no error
        // of prun's (the signal it raised is taken back).
        pthread_sigmask(SIG_BLOCK, &pipe_sig, &old);
        ssize_t n = ::splice(plan_.parts->fd(), &r.feed_off, r.feed.get(), nullptr, std::min<std::size_t>(r.feed_left, 1 << 20),
                             SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
        int e = errno;
        if (n < 0 && e == EPIPE) {
            struct timespec zero {};
            (void)sigtimedwait(&pipe_sig, nullptr, &zero);
        }
        pthread_sigmask(SIG_SETMASK, &old, nullptr);
        if (n > 0) {
            r.feed_left -= static_cast<std::size_t>(n);
            continue;
        }
        if (n < 0 && e == EINTR) continue;
        if (n < 0 && e == EAGAIN) {
            if (!r.feed_watch) r.feed_watch = loop_.watch(r.feed.get(), POLLOUT, [this, &r](short) { feed(r); });
            return;
        }
        if (n < 0 && e != EPIPE)
            tools::print_error(Error::from_errno(e, "give job " + std::to_string(r.job.seq) + " its part of the input file"));
        break;  // 0: the file is shorter than it was; EPIPE: the job stopped reading
    }
    end_feed(r);
}

void Engine::end_feed(Running& r) {
    if (r.feed_watch) loop_.unwatch(r.feed_watch);
    r.feed_watch = 0;
    r.feed.reset();  // the job reads end-of-file
}

void Engine::watch_pipe(Running& r, LinePipe& lp, int dst) {
    int fd = lp.fd.get();
    (void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    lp.watch = loop_.watch(fd, POLLIN, [this, &r, &lp, dst](short) { read_pipe(r, lp, dst, false); });
}

void Engine::read_pipe(Running& r, LinePipe& lp, int dst, bool final) {
    if (!lp.fd) return;
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(lp.fd.get(), buf, sizeof buf);
        if (n > 0) {
            std::string_view chunk(buf, static_cast<std::size_t>(n));
            if (dst == 1) r.received += static_cast<std::uint64_t>(n);
            if (r.compress)
                compress_chunk(r, dst, chunk, false);
            else if (r.relay)
                write_out(dst, chunk);
            else
                emit_lines(dst, lp.partial, chunk, prefix_of(r.job), plan_.tag, false);
            if (!final) return;  // one chunk per wakeup keeps jobs fair
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN && !final) return;
        break;  // EOF, error, or drained at the end
    }
    if (r.compress)
        compress_chunk(r, dst, {}, true);
    else if (!r.relay)
        emit_lines(dst, lp.partial, {}, prefix_of(r.job), plan_.tag, true);
    loop_.unwatch(lp.watch);
    lp.watch = 0;
    lp.fd.reset();
}

void Engine::stop_all(bool kill_now) {
    stopping_ = true;
    restart_at_.reset();
    restart_job_.reset();
    retry_queue_.clear();
    sup_.stop_all(kill_now);
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

std::vector<pid_t> Engine::job_pids() {
    std::vector<pid_t> pids;
    for (const auto& [id, r] : running_)
        if (const Child* c = sup_.child(id)) pids.push_back(c->pid());
    return pids;
}

void Engine::on_guardian(short) {
    // What was sent to prun's PID (or to its group: then once, not twice).
    std::vector<int> sigs;
    bool running = plan_.guard->read_guardian(sigs);
    for (int sig : sigs) {
        if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP || sig == SIGQUIT) {
            on_signal(sig);
        } else {
            // SIGUSR1, SIGUSR2, SIGALRM: their default action, as before the split (the guardian
            // then ends what is left and exits with 128+N).
            ::signal(sig, SIG_DFL);
            sigset_t one;
            sigemptyset(&one);
            sigaddset(&one, sig);
            sigprocmask(SIG_UNBLOCK, &one, nullptr);
            ::kill(::getpid(), sig);
        }
    }
    if (!running) on_guardian_lost();
}

void Engine::on_guardian_lost() {
    // Nothing would end the jobs' trees if we died now: end everything at once, as the run ends.
    guardian_lost_ = true;
    loop_.unwatch(guardian_watch_);
    guardian_watch_ = 0;
    tools::print_error("cannot keep the process-tree guard: the guardian process has ended; killing every process of the run");
    stop_all(true);
    TreeGuard::end_descendants(job_pids());  // the jobs are killed too, and reaped as usual
}

void Engine::on_timeout(Supervisor::JobId id) {
    auto it = running_.find(id);
    if (plan_.pool && it != running_.end())
        tools::print_warning("job " + std::to_string(it->second->job.seq) + " (" + it->second->job.name + ") timed out");
}

void Engine::on_exit(Supervisor::Exit& e) {
    auto it = running_.find(e.id);
    if (it == running_.end()) return;
    std::unique_ptr<Running> r = std::move(it->second);
    running_.erase(it);
    Finished f;
    f.slot = r->slot;
    f.timed_out = e.timed_out || r->share_timed_out;
    f.cpus = r->cpus;
    f.sent = r->job.part ? r->job.part->length : r->job.stream ? r->stream_sent : r->job.block.size();
    end_feed(*r);
    end_stream(*r);
    r->in_file.reset();  // closed, not reused (see TmpFiles::fresh)
    f.status = e.status;
    f.start = std::chrono::duration<double>(r->wall_start.time_since_epoch()).count();
    f.runtime = std::chrono::duration<double>(e.ended - r->start).count();
    read_pipe(*r, r->out_pipe, 1, true);
    read_pipe(*r, r->err_pipe, 2, true);
    f.compressed = r->compress;
    if (plan_.output == OutputMode::group && r->out_file && !r->compress) {
        struct stat stt {};
        if (fstat(r->out_file.get(), &stt) == 0) r->received = static_cast<std::uint64_t>(stt.st_size);
    }
    f.received = r->received;
    // A compressed job's files are written by prun itself, each failure seen (compress_chunk).
    if (r->out_file && !r->compress && check_tmp_full(r->out_file.get())) r->maybe_lost = true;
    if (r->res_out && check_tmp_full(r->res_out.get())) r->maybe_lost = true;
    if (r->res_err && check_tmp_full(r->res_err.get())) r->maybe_lost = true;
    if (r->maybe_lost)
        lost_output(r->job, Error::from_errno(ENOSPC, "keep the output of job " + std::to_string(r->job.seq) + " (" +
                                                          r->job.name + ") in " + (r->kept_in.empty() ? tmp_.dir() : r->kept_in)));
    f.job = std::move(r->job);
    f.res_name = std::move(r->res_name);
    r->res_out.reset();
    r->res_err.reset();
    bool direct = r->direct;
    final_result(std::move(f), std::move(r->out_file), std::move(r->err_file));
    if (direct) {
        fg_active_ = false;
        flush_spill();
    }
}

void Engine::final_result(Finished f, unique_fd out, unique_fd err) {
    bool ok = f.spawned && f.status.success() && !f.timed_out;
    if (!plan_.pool) {
        last_status_ = f.status;
        single_timed_out_ = f.timed_out;
    }
    // Retries: a failed attempt is run again (its output dropped) while attempts remain.
    // A --round-robin or --tee job is not retried: the input it was given cannot be given again.
    if (f.spawned && !stopping_ && !f.job.stream && retry_.should_retry(ok, f.job.attempts)) {
        release_tmp(std::move(out));
        release_tmp(std::move(err));
        retry_queue_.push_back(std::move(f.job));
        return;
    }
    // --joblog -: the line follows the job's output on stdout, as GNU parallel writes it.
    if (!plan_.joblog_stdout)
        if (auto r = log_.record(log_entry(f)); !r) write_failed(r.error());
    std::optional<JobLogEntry> log_after;
    if (plan_.joblog_stdout) log_after = log_entry(f);
    ++done_;
    if (ok) ++succeeded_; else ++failed_;
    if (ok && plan_.timeout_share) add_ok_runtime(f.runtime);
    if (plan_.jobs_reload)
        if (auto n = plan_.jobs_reload()) plan_.jobs = std::max(1U, std::min(*n, jobs_cap_));

    std::string prefix = prefix_of(f.job);
    if (plan_.results == Plan::Results::table) table_row_of(f, out, err);
    std::string text = f.res_name.empty() ? std::string() : f.res_name + "\n";
    if (plan_.output == OutputMode::group) {
        if (plan_.keep_order) {
            for (auto& e : order_)
                if (e.seq == f.job.seq) {
                    e.done = true;
                    e.out = std::move(out);
                    e.err = std::move(err);
                    e.prefix = prefix;
                    e.text = std::move(text);
                    e.compressed = f.compressed;
                    e.name = f.job.name;
                    e.log = std::exchange(log_after, std::nullopt);
                }
            flush_order();
        } else if (!text.empty()) {
            write_out(1, text);
            if (err) queue_file(2, std::move(err), prefix);
        } else if (fg_active_ && out) {
            // Behind the job that writes straight through: merged into the spill files, so that
            // waiting outputs hold two descriptors in all, not two each.
            spill(1, std::move(out), f.job);
            spill(2, std::move(err), f.job);
        } else {
            if (f.compressed) {
                if (out) queue_file(1, std::move(out), prefix, true, {part_of(f.job.seq, f.job.name, 0)});
                if (err) queue_file(2, std::move(err), prefix, true, {part_of(f.job.seq, f.job.name, 0)});
            } else {
                if (out) queue_file(1, std::move(out), prefix);
                if (err) queue_file(2, std::move(err), prefix);
            }
        }
    } else if (plan_.keep_order) {
        for (auto& e : order_)
            if (e.seq == f.job.seq) {
                e.done = true;
                e.log = std::exchange(log_after, std::nullopt);
            }
        flush_order();
    }
    if (log_after) (void)log_.record(*log_after);

    // Restart policy (single command).
    if (!plan_.pool && !stopping_ && f.spawned) {
        auto now = Clock::now();
        auto runtime = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(f.runtime));
        auto d = restart_.on_end(ok, runtime, now);
        if (d.verdict == RestartTracker::Verdict::limit_reached) {
            tools::print_error("cannot restart " + f.job.name + ": restart limit reached (" +
                               std::to_string(plan_.restart_limit) + " in " +
                               std::to_string(std::chrono::duration_cast<std::chrono::seconds>(plan_.restart_window).count()) +
                               "s)");
        } else if (d.verdict == RestartTracker::Verdict::restart) {
            restart_at_ = now + d.delay;
            f.job.attempts = 0;
            restart_job_ = std::move(f.job);
            return;
        }
    }

    // Halt policy.
    if (plan_.halt.when != HaltPolicy::When::never) {
        auto d = halt_.record(ok, f.status.shell_code());
        if (d && !halt_code_) {
            halt_code_ = d->exit_code;  // GNU parallel's rule, in HaltTracker
            if (d->now)
                stop_all(false);
            else
                stopping_ = true;
        }
    }
}

void Engine::add_ok_runtime(double seconds) {
    if (ok_low_.empty() || seconds <= ok_low_.top())
        ok_low_.push(seconds);
    else
        ok_high_.push(seconds);
    // Keep ok_low_ the larger by at most one: its top is the (lower) median.
    if (ok_low_.size() > ok_high_.size() + 1) {
        ok_high_.push(ok_low_.top());
        ok_low_.pop();
    } else if (ok_high_.size() > ok_low_.size()) {
        ok_low_.push(ok_high_.top());
        ok_high_.pop();
    }
}

std::optional<Clock::time_point> Engine::check_share_timeouts(Clock::time_point now) {
    // GNU parallel's rule: no limit until a job has succeeded; then every running job may run for
    // the share of the median runtime of the jobs that succeeded so far.
    if (!plan_.timeout_share || ok_low_.empty()) return std::nullopt;
    auto limit = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(*plan_.timeout_share * ok_low_.top()));
    std::optional<Clock::time_point> next;
    for (auto& [id, r] : running_) {
        if (r->share_timed_out) continue;
        if (now - r->start >= limit) {
            r->share_timed_out = true;
            on_timeout(id);
            sup_.stop(id);
        } else if (!next || r->start + limit < *next) {
            next = r->start + limit;
        }
    }
    return next;
}

void Engine::flush_order() {
    while (!order_.empty() && order_.front().done) {
        OrderEntry e = std::move(order_.front());
        order_.pop_front();
        if (!e.text.empty()) write_out(1, e.text);
        if (e.compressed) {
            if (e.out) queue_file(1, std::move(e.out), e.prefix, true, {part_of(e.seq, e.name, 0)});
            if (e.err) queue_file(2, std::move(e.err), e.prefix, true, {part_of(e.seq, e.name, 0)});
        } else {
            if (e.out) queue_file(1, std::move(e.out), e.prefix);
            if (e.err) queue_file(2, std::move(e.err), e.prefix);
        }
        if (e.log) (void)log_.record(*e.log);  // -k: a job's line after its output, in order
    }
}

bool Engine::output_full() const {
    // Memory held for prun's stdout and stderr, and buffer files waiting to be written (each a
    // descriptor): past these, job pipes are not read and no job starts until the reader catches up.
    constexpr std::size_t most_bytes = 1 << 20, most_files = 8;
    return out1_.buffered() + out2_.buffered() > most_bytes || out1_.files() + out2_.files() > most_files;
}

void Engine::sync_output() {
    // Poll prun's stdout/stderr for room while something waits for it.
    for (int fd : {1, 2}) {
        OutputSink& o = sink(fd);
        if (o.waiting() && !out_watch_[fd]) {
            out_watch_[fd] = loop_.watch(o.poll_fd(), POLLOUT, [this, fd](short) { sink(fd).flush(); });
        } else if (!o.waiting() && out_watch_[fd]) {
            loop_.unwatch(out_watch_[fd]);
            out_watch_[fd] = 0;
        }
    }
    // Back-pressure: job pipes are read only while the queue has room.
    bool pause = output_full();
    if (pause == reading_paused_) return;
    reading_paused_ = pause;
    for (auto& [id, r] : running_)
        for (auto [lp, dst] : {std::pair{&r->out_pipe, 1}, std::pair{&r->err_pipe, 2}}) {
            if (!lp->fd) continue;
            if (pause && lp->watch) {
                loop_.unwatch(lp->watch);
                lp->watch = 0;
            } else if (!pause && !lp->watch) {
                watch_pipe(*r, *lp, dst);
            }
        }
}

void Engine::queue_file(int fd, unique_fd f, const std::string& prefix, bool compressed, std::vector<FilePart> parts) {
    struct stat st {};
    if (fstat(f.get(), &st) == 0) pipes_.copying(fd, st.st_size);
    sink(fd).file(std::move(f), prefix, plan_.tag, [this](unique_fd done) { release_tmp(std::move(done)); }, compressed,
                  std::move(parts));
}

FilePart Engine::part_of(std::uint64_t seq, const std::string& name, off_t start) {
    return {start, [this, seq, name](const std::string& why) {
                lost_output(seq, "cannot write the output of job " + std::to_string(seq) + " (" + name + ") kept in " + tmp_.dir() +
                                     ": " + why);
            }};
}

void Engine::spill(int fd, unique_fd f, const Job& job) {
    if (!f) return;
    struct stat st {};
    if (fstat(f.get(), &st) == 0 && st.st_size > 0) {
        if (!spill_[fd]) {
            auto s = tmp_.fresh();
            if (!s) {
                lost_output(job, Error(s.error().code(), "keep the output of job " + std::to_string(job.seq) + " (" + job.name +
                                                             ") in " + tmp_.dir()));
                release_tmp(std::move(f));
                return;
            }
            spill_[fd] = std::move(*s);
        }
        struct stat sst {};
        const off_t base = fstat(spill_[fd].get(), &sst) == 0 ? sst.st_size : 0;  // where this job's bytes start
        bool whole = true;
        off_t in = 0;
        while (in < st.st_size) {
            ssize_t n = copy_file_range(f.get(), &in, spill_[fd].get(), nullptr, static_cast<std::size_t>(st.st_size - in), 0);
            if (n > 0) continue;
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)) {
                // through memory
                std::string buf(1 << 16, '\0');
                ssize_t r = retry_eintr([&] { return pread(f.get(), buf.data(), buf.size(), in); });
                if (r > 0) {
                    if (auto w = write_all(spill_[fd].get(), std::string_view(buf.data(), static_cast<std::size_t>(r)),
                                           "write a spill file");
                        !w) {
                        errno = w.error().code().value();
                        n = -1;
                    } else {
                        in += r;
                        continue;
                    }
                } else if (r == 0) {
                    break;
                }
            }
            if (n == 0) break;
            lost_output(job, Error::from_errno(errno, "keep the output of job " + std::to_string(job.seq) + " (" +
                                                         job.name + ") in " + tmp_.dir()));
            whole = false;
            break;
        }
        off_t kept = in;
        if (compress_on_ && !whole) {
            // Never a torn frame in the spill: it is cut back to the end of this job's last whole
            // frame, so the jobs appended after it decode (and fail, if they do, on their own).
            auto w = whole_frames(f.get(), in);
            kept = w ? *w : 0;
            (void)ftruncate(spill_[fd].get(), base + kept);
            (void)lseek(spill_[fd].get(), base + kept, SEEK_SET);
        }
        if (compress_on_ && kept > 0) spill_parts_[fd].push_back(part_of(job.seq, job.name, base));
    }
    release_tmp(std::move(f));
}

void Engine::flush_spill() {
    for (int fd : {1, 2})
        if (spill_[fd]) {
            (void)lseek(spill_[fd].get(), 0, SEEK_SET);
            // Not reused: dropped once written (a spill file can be large).
            struct stat st {};
            if (fstat(spill_[fd].get(), &st) == 0) pipes_.copying(fd, st.st_size);
            sink(fd).file(std::move(spill_[fd]), {}, false, [](unique_fd) {}, compress_on_, std::exchange(spill_parts_[fd], {}));
            spill_[fd].reset();
        }
}

bool Engine::check_tmp_full(int fd) {
    // A job writes its buffered or kept output (--results DIR, --files) into a file itself: a
    // full file system fails the job's write, which prun cannot see, and a job may ignore it. So
    // prun looks whenever a job ends or a file is truncated: a full file system means every job
    // writing to it meanwhile may have lost bytes.
    struct statfs sf {};
    if (fstatfs(fd, &sf) != 0 || sf.f_blocks == 0) return false;  // a memfd: no such limit
    bool full = (geteuid() == 0 ? sf.f_bfree : sf.f_bavail) == 0;
    if (!full) return false;
    struct stat full_st {};
    const bool known = fstat(fd, &full_st) == 0;
    auto on_it = [&](const unique_fd& f) {
        struct stat st {};
        return f && (!known || (fstat(f.get(), &st) == 0 && st.st_dev == full_st.st_dev));
    };
    for (auto& [id, r] : running_)
        if ((!r->compress && on_it(r->out_file)) || on_it(r->res_out) || on_it(r->res_err)) r->maybe_lost = true;
    return true;
}

void Engine::lost_output(const Job& job, const Error& e) {
    // Every job whose output is incomplete is named; the run then fails as for prun's own write
    // errors (exit status 1, a pool's 255).
    if (!lost_.insert(job.seq).second) return;
    tools::print_error(e);
    g_write_failed = true;
}

void Engine::lost_output(std::uint64_t seq, const std::string& message) {
    if (!lost_.insert(seq).second) return;
    tools::print_error(message);
    g_write_failed = true;
}

std::size_t open_descriptors() {
    std::size_t n = 0;
    if (DIR* d = opendir("/proc/self/fd")) {
        while (dirent* e = readdir(d)) n += e->d_name[0] != '.';
        closedir(d);
        return n > 0 ? n - 1 : 0;  // the listing's own
    }
    return 64;  // no /proc: a guess on the safe side
}

void Engine::fit_descriptors() {
    // A pool never fails a job for want of prun's own descriptors: the soft RLIMIT_NOFILE is raised
    // to the hard one (the jobs get the original back), and the concurrency (and -k's window of
    // jobs waiting to be printed) is capped to what the limit holds.
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
    rlim_t want = std::min<rlim_t>(rl.rlim_max, rlim_t{1} << 20);
    if (rl.rlim_cur < want) {
        rlimit raised{want, rl.rlim_max};
        for (; raised.rlim_cur > rl.rlim_cur; raised.rlim_cur /= 2)  // nr_open may be lower
            if (setrlimit(RLIMIT_NOFILE, &raised) == 0) break;
        if (raised.rlim_cur > rl.rlim_cur) {
            if (!plan_.jobs_nofile) plan_.base.rlimit(RLIMIT_NOFILE, rl.rlim_cur, rl.rlim_max);
            rl.rlim_cur = raised.rlim_cur;
        }
    }
    // What a running job holds: its pidfd, its buffer files or pipes, a --pipe block's file; and
    // for prun as a whole: the reusable buffer files, the spill files, files queued for a slow
    // reader, and the descriptors a spawn opens for a moment (pipes, a cgroup's).
    std::size_t per_job = 1;
    bool buffered = plan_.output == OutputMode::group || plan_.output == OutputMode::line_buffer;
    if (buffered) per_job += 2;
    if (compress_on_) per_job += 2;  // the pipes prun reads the output from
    else if (log_.active()) per_job += 1;
    if (plan_.blocks || plan_.parts) per_job += 1;
    std::size_t reserve = TmpFiles::kept + 2 + 8 + 2 + 8 + 8;
    std::size_t used = open_descriptors() + reserve;
    std::size_t budget = rl.rlim_cur > used ? static_cast<std::size_t>(rl.rlim_cur) - used : 0;
    std::size_t fit = std::max<std::size_t>(1, budget / per_job);
    jobs_cap_ = static_cast<unsigned>(std::min<std::size_t>(fit, std::numeric_limits<unsigned>::max()));
    if (fit < plan_.jobs) {
        if (!plan_.jobs_as_many)
            tools::print_warning("running " + std::to_string(fit) + (fit == 1 ? " job" : " jobs") + " at once, not " + std::to_string(plan_.jobs) +
                                 ": the descriptor limit (ulimit -n " + std::to_string(rl.rlim_cur) + ") holds no more");
        plan_.jobs = static_cast<unsigned>(fit);
    }
    // -k: a job done and waiting for an earlier one holds its two buffer files.
    std::size_t window = std::max<std::size_t>(64, 4 * static_cast<std::size_t>(plan_.jobs));
    if (plan_.keep_order) {
        std::size_t left = budget > plan_.jobs * per_job ? budget - plan_.jobs * per_job : 0;
        window = std::min(window, plan_.jobs + (plan_.output == OutputMode::group ? left / 2 : window));
    }
    order_window_ = std::max<std::size_t>(window, plan_.jobs);
}

void Engine::progress(bool final) {
    if (!plan_.bar && !plan_.eta && !plan_.progress) return;
    auto now = Clock::now();
    auto since = now - last_progress_;
    if (!final && since < (tty_err_ ? std::chrono::milliseconds(100) : std::chrono::milliseconds(1000))) return;
    last_progress_ = now;
    double elapsed = std::chrono::duration<double>(now - begun_).count();
    std::size_t total = total_.value_or(0);
    double frac = total ? static_cast<double>(done_) / static_cast<double>(total) : 0;
    double eta = done_ ? elapsed / static_cast<double>(done_) * static_cast<double>(total - std::min<std::size_t>(total, done_)) : 0;
    char line[256];
    if (plan_.progress && !plan_.bar && !plan_.eta) {
        // --progress: one line; on a terminal rewritten in place (a carriage return), else a
        // line now and then.
        char of[32] = "";
        if (total_) std::snprintf(of, sizeof of, "/%zu", total);
        std::snprintf(line, sizeof line, "%s%s: %llu%s done, %zu running, %llu failed%s", tty_err_ ? "\r" : "",
                      tools::tool_name().c_str(), static_cast<unsigned long long>(done_), of, running_.size(),
                      static_cast<unsigned long long>(failed_), tty_err_ && !final ? "" : "\n");
    } else if (!total_) {  // --pipe: the number of blocks is not known ahead, so no share and no ETA
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
    write_out(2, line);
}

int Engine::exit_code() const {
    int code = status_code();
    return g_write_failed && code == 0 ? plan_.own_failure : code;
}

int Engine::status_code() const {
    if (plan_.dry_run) return 0;
    if (guardian_lost_) return plan_.own_failure;
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
    // Signals arrive through the loop's signalfd; the children reset their mask (Command's default).
    // They stay blocked after the run: a late one must not kill prun on its way out (after the
    // exit status was decided, and before the guard was released).
    // Under the process-tree guard prun is a subreaper: SIGCHLD says an adopted orphan may have
    // exited, and user signals come through the guardian (see on_guardian()).
    std::vector<int> signals{SIGINT, SIGTERM, SIGHUP, SIGQUIT};
    if (plan_.guard) signals.push_back(SIGCHLD);
    if (auto st = loop_.watch_signals(
            signals,
            [this](const signalfd_siginfo& si) {
                if (si.ssi_signo == SIGCHLD)
                    sup_.reap_orphans();
                else if (!plan_.guard || plan_.guard->should_act_on(si))
                    on_signal(static_cast<int>(si.ssi_signo));
            },
            EventLoop::MaskOnExit::keep);
        !st) {
        tools::print_error(st.error());
        return plan_.own_failure;
    }
    g_sink[1] = &out1_;
    g_sink[2] = &out2_;
    if (plan_.guard) guardian_watch_ = loop_.watch(plan_.guard->guardian_fd(), POLLIN, [this](short ev) { on_guardian(ev); });

    if (plan_.joblog_stdout && !plan_.dry_run) log_.open_writer([](std::string_view line) { write_out(1, line); }, plan_.joblog_jsonl);
    if (!plan_.joblog.empty()) {
        if (plan_.resume || plan_.resume_failed) {
            auto logged = read_joblog(plan_.joblog, plan_.joblog_jsonl);
            if (!logged) {
                // The context names the line and what is wrong with it.
                tools::print_error("cannot " + logged.error().context());
                return plan_.own_failure;
            }
            skip_ = plan_.resume_failed ? logged->succeeded : logged->all;
        }
        // A dry run leaves the joblog as it is: a later --resume must still know what ran.
        if (auto r = plan_.dry_run ? Status{} : log_.open(plan_.joblog, plan_.resume || plan_.resume_failed || plan_.joblog_append, plan_.joblog_jsonl); !r) {
            tools::print_error(r.error());
            return plan_.own_failure;
        }
    }
    if (plan_.results == Plan::Results::table && plan_.results_path != "-" && !plan_.dry_run) {
        auto t = open_fd(plan_.results_path, O_WRONLY | O_CREAT | O_TRUNC, 0666);
        if (!t) {
            tools::print_error(Error(t.error().code(), "create " + plan_.results_path));
            return plan_.own_failure;
        }
        table_ = std::move(*t);
    }
    compress_on_ = plan_.compress && plan_.pool && plan_.output == OutputMode::group && plan_.results == Plan::Results::none && !plan_.files;
    if (plan_.pool) fit_descriptors();
    if (plan_.inputs) total_ = plan_.inputs->total();
    if (plan_.batch) {
        batch_base_ = plan_.tmpl.base_chars(plan_.multi, plan_.shell || !plan_.have_template);
        batch_limit_ = plan_.batch_args;
        // -m, -X: the arguments are spread evenly over the job slots when they would fit in fewer
        // command lines than there are slots (GNU parallel's rule).
        if (!batch_limit_ && total_ && *total_ > 0) batch_limit_ = (*total_ + plan_.jobs - 1) / plan_.jobs;
        total_.reset();  // the number of jobs is known only as they are formed
    }
    if (total_ && !skip_.empty()) total_ = *total_ - std::min(*total_, skip_.size());
    if (streaming() && plan_.spread == Plan::Spread::tee && total_ && *total_ > plan_.jobs) {
        // Every --tee job gets the input from its first byte, so all must run at once.
        tools::print_error("cannot run --tee's " + std::to_string(*total_) + " jobs: they must all run at once, and only " +
                           std::to_string(plan_.jobs) + " may (-j, or the descriptor limit)");
        return plan_.own_failure;
    }
    if (total_) halt_.set_total(*total_);

    for (;;) {
        pump_streams();
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
            // Input that is not there yet (a slow pipe, a terminal) is waited for by the loop,
            // with the jobs, their deadlines and the signals — never in a blocking read here.
            if (input_wait_fd() >= 0) break;
            Job j;
            auto got = next_job(j);
            if (!got) {
                tools::print_error(got.error());
                stop_all(false);
                if (!interrupted_) halt_code_ = plan_.own_failure;
                break;
            }
            if (!*got) break;
            start(std::move(j));
            now = Clock::now();
        }
        bool more = !stopping_ && (!inputs_done_ || !retry_queue_.empty() || restart_job_);
        if (running_.empty() && !more) break;

        // Wake-ups of the engine's own (the jobs' deadlines are the supervisor's timers).
        std::optional<Clock::time_point> wake;
        auto soonest = [&](Clock::time_point t) {
            if (!wake || t < *wake) wake = t;
        };
        if (restart_at_) soonest(*restart_at_);
        if (auto t = check_share_timeouts(now)) soonest(*t);
        if (more && last_start_ && plan_.delay.count() > 0 && running_.size() < plan_.jobs) soonest(*last_start_ + plan_.delay);
        if (more && held_back_) soonest(now + std::chrono::seconds(1));  // --load, --memfree: look again
        if ((plan_.bar || plan_.eta || plan_.progress)) soonest(now + (tty_err_ ? std::chrono::milliseconds(100) : std::chrono::milliseconds(1000)));
        pump_streams();  // the jobs just started get their blocks (--tee: once all run)
        int in_fd = more && may_start(now) ? input_wait_fd() : -1;
        watch_input(in_fd >= 0 ? in_fd : stream_wait_fd_);
        sync_output();

        if (auto st = loop_.run_once(wake); !st) {
            tools::print_error(st.error());
            stop_all(true);
        }
        progress(false);
    }
    watch_input(-1);
    flush_order();
    progress(true);
    // What is queued for a slow reader is written before prun ends, still in the loop: a signal
    // ends the wait (the rest is dropped), as it ends a run.
    while (!interrupted_ && !guardian_lost_ && !(out1_.empty() && out2_.empty())) {
        sync_output();
        if (!out1_.waiting() && !out2_.waiting()) {
            out1_.flush();
            out2_.flush();
            continue;
        }
        if (auto st = loop_.run_once(); !st) {
            tools::print_error(st.error());
            break;
        }
    }
    if (interrupted_ || guardian_lost_) {
        if (!out1_.empty() || !out2_.empty()) tools::print_error("cannot write the rest of the output: prun was stopped");
        out1_.drop();
        out2_.drop();
    }
    sync_output();
    pipes_.restore();
    // Nothing outlives prun: what the jobs left behind (adopted by this subreaper) ends here.
    if (plan_.guard) TreeGuard::end_descendants({});
    if (plan_.pool && seq_ == 0 && !plan_.no_run_if_empty && !interrupted_ && !halt_code_) {
        tools::print_error("cannot run jobs: the input is empty (-r allows that)");
        return plan_.own_failure;
    }
    return exit_code();
}

}  // namespace

int run_engine(Plan& plan) {
    Engine e(plan);
    int code = e.run();
    g_sink[1] = g_sink[2] = nullptr;
    return code;
}

}  // namespace prockit::prun
