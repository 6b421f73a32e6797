#include "joblog.hpp"

#include "common/json.hpp"

#include <prockit/sys/signals.hpp>
#include <prockit/sys/syscall.hpp>

#include <nlohmann/json.hpp>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace prockit::prun {
namespace {

std::string fmt3(double v, int width = 0) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%*.3f", width, v);
    return buf;
}

double seconds(std::chrono::microseconds us) { return static_cast<double>(us.count()) / 1e6; }

Error bad_line(std::size_t lineno, const std::string& why) {
    return Error(Errc::parse_error, "line " + std::to_string(lineno) + ": " + why);
}

/// A whole decimal integer, with an optional leading '-'.
std::optional<long long> integer(std::string_view s) {
    long long v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
    return v;
}

}  // namespace

Status JobLog::open(const std::string& path, bool append, bool jsonl) {
    jsonl_ = jsonl;
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC);
    auto fd = open_fd(path, flags, 0644);
    if (!fd) return fail(Error(fd.error().code(), "open joblog " + path));
    fd_ = std::move(*fd);
    path_ = path;
    struct stat st {};
    if (fstat(fd_.get(), &st) != 0) return fail(last_error("open joblog " + path));
    if (!jsonl_ && st.st_size == 0)
        if (auto w = write_all(fd_.get(), "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n"); !w) {
            (void)::ftruncate(fd_.get(), 0);  // no half header for a later --resume to stop at
            return fail(Error(w.error().code(), "write joblog " + path));
        }
    return {};
}

std::string JobLog::tsv_line(const JobLogEntry& e) {
    std::string line = std::to_string(e.seq) + "\t:\t" + fmt3(e.start) + "\t" + fmt3(e.runtime, 10) + "\t" +
                       std::to_string(e.sent) + "\t" + std::to_string(e.received) + "\t" + std::to_string(e.exitval) +
                       "\t" + std::to_string(e.signal) + "\t";
    for (char c : e.command) line += (c == '\n' || c == '\t') ? ' ' : c;
    line += '\n';
    return line;
}

std::string JobLog::jsonl_line(const JobLogEntry& e) {
    tools::JsonWriter j;
    j.begin_object().key("seq").value(static_cast<unsigned long long>(e.seq));
    j.key("name").value(e.name).key("host").value(":");
    j.key("start").value(e.start).key("runtime").value(e.runtime);
    j.key("send").value(static_cast<unsigned long long>(e.sent));
    j.key("receive").value(static_cast<unsigned long long>(e.received));
    j.key("exitval").value(e.exitval).key("signal").value(e.signal);
    j.key("signal_name").value(e.signal ? signal_name(e.signal) : "");
    j.key("timed_out").value(e.timed_out).key("attempts").value(e.attempts);
    j.key("slot").value(e.slot);
    j.key("cpus").value(e.cpus);
    if (e.usage) {
        j.key("user_cpu").value(seconds(e.usage->user_cpu)).key("sys_cpu").value(seconds(e.usage->system_cpu));
        j.key("max_rss_kb").value(static_cast<long long>(e.usage->max_rss_kb));
    } else {
        j.key("user_cpu").null().key("sys_cpu").null().key("max_rss_kb").null();
    }
    j.key("command").value(e.command);
    j.key("argv").begin_array();
    for (const auto& a : e.argv) j.value(a);
    j.end_array().end_object();
    return j.str() + "\n";
}

void JobLog::open_writer(std::function<void(std::string_view)> write, bool jsonl) {
    write_ = std::move(write);
    jsonl_ = jsonl;
    if (!jsonl_) write_("Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n");
}

Status JobLog::record(const JobLogEntry& e) {
    if (write_) {
        write_(jsonl_ ? jsonl_line(e) : tsv_line(e));
        return {};
    }
    if (!fd_ || broken_) return {};
    // The log is opened O_APPEND and written by this process alone: its size is where the line
    // starts, and where a line cut short by a full disk is cut off again.
    struct stat st {};
    const bool sized = fstat(fd_.get(), &st) == 0;
    auto w = write_all(fd_.get(), jsonl_ ? jsonl_line(e) : tsv_line(e));
    if (w) return {};
    broken_ = true;
    if (sized) (void)::ftruncate(fd_.get(), st.st_size);
    return fail(Error(w.error().code(), "record job " + std::to_string(e.seq) + " or any job that ends after it in joblog " + path_));
}

Result<LoggedJobs> parse_joblog(const std::string& text, bool jsonl) {
    LoggedJobs out;
    std::size_t pos = 0, lineno = 0;
    while (pos < text.size()) {
        auto nl = text.find('\n', pos);
        std::string_view line(text.data() + pos, (nl == std::string::npos ? text.size() : nl) - pos);
        pos = nl == std::string::npos ? text.size() : nl + 1;
        ++lineno;
        if (line.empty()) continue;
        long long seq = 0, exitval = 0, sig = 0;
        if (!jsonl) {
            if (lineno == 1 && line.substr(0, 4) == "Seq\t") continue;  // the header
            std::vector<std::string_view> cols;
            std::size_t p = 0;
            while (cols.size() < 8) {
                auto t = line.find('\t', p);
                if (t == std::string_view::npos) break;
                cols.push_back(line.substr(p, t - p));
                p = t + 1;
            }
            if (cols.size() < 8) return fail(bad_line(lineno, "expected 9 tab-separated columns"));
            auto s = integer(cols[0]), x = integer(cols[6]), g = integer(cols[7]);
            if (!s || !x || !g) return fail(bad_line(lineno, "Seq, Exitval and Signal must be integers"));
            seq = *s, exitval = *x, sig = *g;
        } else {
            nlohmann::json j;
            try {
                j = nlohmann::json::parse(line);
            } catch (const nlohmann::json::exception& e) {  // parse_error, or out_of_range: 1e400
                std::string what = e.what();
                // "[json.exception.parse_error.101] parse error at line 1, column 5: ..." -> the column part
                auto at = what.find("column ");
                return fail(bad_line(lineno, "invalid JSON" + (at == std::string::npos ? "" : " at " + what.substr(at))));
            }
            auto field = [&](const char* key) -> std::optional<long long> {
                if (!j.is_object()) return std::nullopt;
                auto it = j.find(key);
                if (it == j.end() || !it->is_number_integer()) return std::nullopt;
                return it->get<long long>();
            };
            auto s = field("seq"), x = field("exitval"), g = field("signal");
            if (!s || !x || !g) return fail(bad_line(lineno, "expected an object with integer seq, exitval and signal"));
            seq = *s, exitval = *x, sig = *g;
        }
        if (seq <= 0) return fail(bad_line(lineno, "Seq must be positive"));
        out.all.insert(static_cast<std::uint64_t>(seq));
        if (exitval == 0 && sig == 0) out.succeeded.insert(static_cast<std::uint64_t>(seq));
    }
    return out;
}

namespace {
// The joblog is read whole, but no line of it may pass 1 MiB (a line is one job's record: a
// command of at most ~2 MiB of arguments is not logged by GNU parallel either): /dev/zero or a
// corrupt file ends in an error, not in the OOM killer.
constexpr std::size_t max_joblog_line = std::size_t{1} << 20;

Result<std::string> read_bounded_lines(const std::string& path) {
    auto fd = open_fd(path, O_RDONLY | O_CLOEXEC);
    if (!fd) return fail(fd.error());
    std::string text;
    std::size_t line_start = 0, lineno = 1;
    char buf[65536];
    for (;;) {
        ssize_t n = retry_eintr([&] { return ::read(fd->get(), buf, sizeof buf); });
        if (n < 0) return fail(last_error("read joblog " + path));
        if (n == 0) return text;
        std::size_t old = text.size();
        text.append(buf, static_cast<std::size_t>(n));
        for (std::size_t i = old; i < text.size(); ++i)
            if (text[i] == '\n') {
                line_start = i + 1;
                ++lineno;
            }
        if (text.size() - line_start > max_joblog_line)
            return fail(Error(make_error_code(Errc::out_of_range),
                              "read joblog \"" + path + "\": line " + std::to_string(lineno) + " is longer than 1 MiB"));
    }
}
}  // namespace

Result<LoggedJobs> read_joblog(const std::string& path, bool jsonl) {
    auto text = read_bounded_lines(path);
    if (!text) {
        if (text.error().code() == std::errc::no_such_file_or_directory) return LoggedJobs{};
        if (text.error().code() == make_error_code(Errc::out_of_range)) return fail(text.error());
        return fail(Error(text.error().code(), "read joblog " + path));
    }
    auto r = parse_joblog(*text, jsonl);
    if (!r) return fail(Error(r.error().code(), "read joblog " + path + ": " + r.error().context()));
    return r;
}

}  // namespace prockit::prun
