// poomguard top [-n N] [--watch [--interval D]]: the processes the OOM killer would choose first,
// ranked by oom_score, under a header with the memory pressure (PSI) and the OOM-kill count.
// --watch redraws on a terminal (q or ^C ends it) and prints a new ranking each interval otherwise.
#include "common.hpp"
#include "subcommands.hpp"

#include "common/cli.hpp"
#include "common/duration.hpp"
#include "common/exit_codes.hpp"
#include "common/json.hpp"

#include <prockit/oom/pressure.hpp>
#include <prockit/supervise/event_loop.hpp>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <poll.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

namespace prockit::poomguard {

using tools::non_empty;
using tools::number;

using tools::UsageError;

void add_top(CLI::App& app, Options& o) {
    auto* sub = app.add_subcommand("top", "Rank processes by oom_score: who the kernel would kill next");
    sub->set_help_flag("-h,--help", "Print this help and exit");
    sub->add_option("-n,--count", o.top.count, "Show the first N processes (0: all; default 10, or a screenful)")
        ->type_name("N")
        ->check(number("--count", 0, 1000000));
    sub->add_flag("-w,--watch", o.top.watch, "Refresh every interval until q or ^C (on a terminal: redraw)");
    sub->add_option("-i,--interval", o.top.interval, "With --watch: time between refreshes (default 2s)")
        ->type_name("DURATION")
        ->check(non_empty("--interval", "duration"));
    sub->add_flag("-J,--json", o.top.json, "Machine-readable output on stdout (with --watch: one line per refresh)");
    sub->callback([&o] { o.subcommand = "top"; });
}

namespace {

struct Snapshot {
    std::optional<oom::Pressure> pressure;
    std::optional<std::uint64_t> oom_kills;
    std::size_t total = 0;
    std::vector<Facts> ranked;
};

Snapshot take(const FsRoot& fs, std::size_t count) {
    Snapshot s;
    if (auto p = oom::read_memory_pressure(fs)) s.pressure = *p;
    if (auto k = oom::read_oom_kill_count(fs)) s.oom_kills = *k;
    s.ranked = scan_ranked(fs, count, s.total);
    return s;
}

std::string fmt(const char* f, double a, double b, double c) {
    char buf[64];
    std::snprintf(buf, sizeof buf, f, a, b, c);
    return buf;
}

std::string header(const Snapshot& s) {
    std::string h = "memory pressure (avg10 avg60 avg300): ";
    if (s.pressure) {
        h += "some " + fmt("%.2f %.2f %.2f", s.pressure->some.avg10, s.pressure->some.avg60, s.pressure->some.avg300);
        if (s.pressure->has_full)
            h += ", full " + fmt("%.2f %.2f %.2f", s.pressure->full.avg10, s.pressure->full.avg60, s.pressure->full.avg300);
    } else {
        h += "unavailable";
    }
    h += "\nOOM kills since boot: " + (s.oom_kills ? std::to_string(*s.oom_kills) : std::string("unknown"));
    h += "; processes: " + std::to_string(s.total);
    return h;
}

std::string json_line(const Snapshot& s) {
    tools::JsonWriter j;
    j.begin_object().key("memory_pressure");
    if (s.pressure) {
        j.begin_object();
        auto line = [&](const char* k, const oom::PressureLine& l) {
            j.key(k).begin_object().key("avg10").value(l.avg10).key("avg60").value(l.avg60);
            j.key("avg300").value(l.avg300).key("total_us").value(static_cast<unsigned long long>(l.total_us)).end_object();
        };
        line("some", s.pressure->some);
        if (s.pressure->has_full) line("full", s.pressure->full);
        j.end_object();
    } else {
        j.null();
    }
    j.key("oom_kills");
    if (s.oom_kills) j.value(static_cast<unsigned long long>(*s.oom_kills)); else j.null();
    j.key("process_count").value(static_cast<unsigned long long>(s.total));
    j.key("processes").begin_array();
    for (const Facts& f : s.ranked) json_facts(j, f);
    j.end_array().end_object();
    return j.str();
}

void print_plain(const Snapshot& s, bool json) {
    if (json) {
        out_line(json_line(s));
        return;
    }
    out_line(header(s));
    print_table_header();
    for (const Facts& f : s.ranked) print_table_row(f);
}

// The terminal while --watch redraws: stdin without line buffering or echo (so 'q' is read at
// once), restored by the destructor.
class RawInput {
public:
    RawInput() {
        if (!::isatty(0) || ::tcgetattr(0, &saved_) != 0) return;
        termios raw = saved_;
        raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);
        raw.c_cc[VMIN] = 1;
        raw.c_cc[VTIME] = 0;
        active_ = ::tcsetattr(0, TCSANOW, &raw) == 0;
    }
    ~RawInput() {
        if (active_) ::tcsetattr(0, TCSANOW, &saved_);
    }
    RawInput(const RawInput&) = delete;
    RawInput& operator=(const RawInput&) = delete;
    bool active() const { return active_; }

private:
    termios saved_{};
    bool active_ = false;
};

std::size_t screen_rows() {
    winsize ws{};
    if (::ioctl(1, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0) return ws.ws_row;
    return 24;
}

int watch(const Options& o, const FsRoot& fs, tools::Duration interval) {
    const bool redraw = ::isatty(1) && !o.top.json;
    EventLoop loop;
    bool stop = false;
    if (auto st = loop.watch_signals({SIGINT, SIGTERM, SIGHUP}, [&](const signalfd_siginfo&) { stop = true; }); !st)
        throw SystemError(st.error());
    std::optional<RawInput> raw;
    if (redraw) {
        raw.emplace();
        if (raw->active())
            loop.watch(0, POLLIN, [&](short) {
                char c = 0;
                ssize_t n = ::read(0, &c, 1);
                if (n <= 0 || c == 'q' || c == 'Q') stop = true;
            });
    }
    auto draw = [&] {
        std::size_t count = o.top.count.value_or(10);
        if (redraw && !o.top.count) count = screen_rows() > 5 ? screen_rows() - 5 : 1;
        Snapshot s = take(fs, count);
        if (redraw) {
            out("\033[H\033[2J");
            char when[32];
            std::time_t now = std::time(nullptr);
            std::strftime(when, sizeof when, "%H:%M:%S", std::localtime(&now));
            out_line(std::string("poomguard top - ") + when + " - every " + tools::format_duration(interval) +
                     (raw && raw->active() ? " - q to quit" : ""));
            print_plain(s, false);
        } else {
            print_plain(s, o.top.json);
            if (!o.top.json) out_line("");
        }
        std::fflush(stdout);
    };
    std::function<void()> tick = [&] {
        draw();
        loop.after(std::chrono::duration_cast<EventLoop::Clock::duration>(interval), tick);
    };
    tick();
    while (!stop) {
        if (auto st = loop.run_once(); !st) throw SystemError(st.error());
        if (std::ferror(stdout)) break;  // a closed pipe: finish_output() reports it
    }
    return tools::exit_ok;
}

}  // namespace

int run_top(const Options& o, const FsRoot& fs) {
    auto interval = tools::parse_duration(o.top.interval);
    if (!interval) throw UsageError("cannot parse --interval \"" + o.top.interval + "\": " + tools::error_reason(interval.error()));
    if (*interval < std::chrono::milliseconds(100) || *interval > std::chrono::hours(24))
        throw UsageError("cannot use --interval \"" + o.top.interval + "\": expected 100ms to 24h");
    if (o.top.watch) return watch(o, fs, *interval);
    print_plain(take(fs, o.top.count.value_or(10)), o.top.json);
    return tools::exit_ok;
}

}  // namespace prockit::poomguard
