#include <prockit/proc/procfs.hpp>

#include <prockit/sys/syscall.hpp>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace prockit::proc {

namespace {

Error parse_error(std::string_view what) {
    return Error(make_error_code(Errc::parse_error), "parse " + std::string(what));
}

// Skips `n` blank-separated fields starting at i; returns the position of the next field.
std::size_t skip_fields(std::string_view s, std::size_t i, int n) {
    for (int k = 0; k < n && i < s.size(); ++k) {
        while (i < s.size() && s[i] != ' ') ++i;
        while (i < s.size() && s[i] == ' ') ++i;
    }
    return i;
}

template <class T>
bool field(std::string_view s, std::size_t& i, T& out) {
    while (i < s.size() && s[i] == ' ') ++i;
    const char* b = s.data() + i;
    const char* e = s.data() + s.size();
    auto [p, ec] = std::from_chars(b, e, out);
    if (ec != std::errc()) return false;
    i = static_cast<std::size_t>(p - s.data());
    return true;
}

}  // namespace

Result<Stat> parse_stat(std::string_view s) {
    Stat st;
    std::size_t open = s.find('(');
    std::size_t close = s.rfind(')');
    if (open == std::string_view::npos || close == std::string_view::npos || close < open)
        return fail(parse_error("stat line"));
    std::size_t i = 0;
    if (!field(s, i, st.pid)) return fail(parse_error("stat line"));
    st.comm.assign(s.substr(open + 1, close - open - 1));
    i = close + 1;
    while (i < s.size() && s[i] == ' ') ++i;
    if (i >= s.size()) return fail(parse_error("stat line"));
    st.state = s[i];
    i = skip_fields(s, i, 1);  // now at field 4
    if (!field(s, i, st.ppid)) return fail(parse_error("stat line"));
    if (!field(s, i, st.pgrp)) return fail(parse_error("stat line"));     // field 5
    if (!field(s, i, st.session)) return fail(parse_error("stat line"));  // field 6
    i = skip_fields(s, i + 1, 2);  // fields 7..8 skipped; at field 9
    if (!field(s, i, st.flags)) return fail(parse_error("stat line"));
    i = skip_fields(s, i + 1, 10);  // fields 10..19; at field 20
    if (!field(s, i, st.num_threads)) return fail(parse_error("stat line"));
    i = skip_fields(s, i + 1, 1);  // field 21; at field 22
    if (!field(s, i, st.start_time)) return fail(parse_error("stat line"));
    return st;
}

ProcReader::ProcReader(const FsRoot& fs) : fs_(fs), prefix_(fs.proc("")) {
    int d = ::open(prefix_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (d >= 0) proc_dir_.reset(d);
    path_.reserve(prefix_.size() + 64);
    buf_.resize(4096);
}

const char* ProcReader::path(pid_t pid, std::string_view rel, pid_t tid) {
    path_.assign(prefix_);
    char num[16];
    auto r = std::to_chars(num, num + sizeof num, pid);
    path_.append(num, r.ptr);
    if (tid > 0) {
        path_ += "/task/";
        r = std::to_chars(num, num + sizeof num, tid);
        path_.append(num, r.ptr);
    }
    if (!rel.empty()) {
        path_ += '/';
        path_ += rel;
    }
    return path_.c_str();
}

Result<std::string_view> ProcReader::read(pid_t pid, std::string_view rel, pid_t tid) {
    const char* p = path(pid, rel, tid);
    int fd = proc_dir_ ? retry_eintr([&] { return ::openat(proc_dir_.get(), p + prefix_.size(), O_RDONLY | O_CLOEXEC); })
                       : retry_eintr([&] { return ::open(p, O_RDONLY | O_CLOEXEC); });
    if (fd < 0) return fail(last_error("open " + path_));
    unique_fd owner(fd);
    std::size_t used = 0;
    for (;;) {
        if (used + 1 >= buf_.size()) buf_.resize(buf_.size() * 2);  // keep room for a NUL
        ssize_t n = retry_eintr([&] { return ::read(fd, buf_.data() + used, buf_.size() - used); });
        if (n < 0) return fail(last_error("read " + path_));
        if (n == 0) break;
        std::size_t asked = buf_.size() - used;
        used += static_cast<std::size_t>(n);
        // The files read here (stat, cmdline, comm, cgroup, children) produce their whole content
        // up to the size asked for: a short read is the end, and skipping the read() that would
        // return 0 saves a system call per file in /proc scans.
        if (static_cast<std::size_t>(n) < asked) break;
    }
    buf_[used] = '\0';  // views are NUL-terminated, for regexec and friends
    return std::string_view(buf_.data(), used);
}

Result<Stat> ProcReader::stat(pid_t pid, pid_t tid) {
    auto text = read(pid, "stat", tid);
    if (!text) return fail(text.error());
    auto st = parse_stat(*text);
    if (!st) return fail(Error(st.error().code(), "parse " + path_));
    return st;
}

Result<std::string_view> ProcReader::cmdline(pid_t pid) {
    auto text = read(pid, "cmdline");
    if (!text) return fail(text.error());
    std::size_t n = text->size();
    while (n > 0 && buf_[n - 1] == '\0') --n;
    for (std::size_t k = 0; k < n; ++k)
        if (buf_[k] == '\0') buf_[k] = ' ';
    buf_[n] = '\0';
    return std::string_view(buf_.data(), n);
}

Result<std::string> ProcReader::exe(pid_t pid) {
    const char* p = path(pid, "exe");
    char target[4096];
    ssize_t n = ::readlink(p, target, sizeof target);
    if (n < 0) return fail(last_error("read link " + path_));
    return std::string(target, static_cast<std::size_t>(n));
}

Result<uid_t> ProcReader::owner(pid_t pid) {
    const char* p = path(pid, "");
    struct stat st {};
    if (::stat(p, &st) != 0) return fail(last_error("stat " + path_));
    return st.st_uid;
}

Result<std::vector<pid_t>> list_numeric_dir(const std::string& dir) {
    int fd = retry_eintr([&] { return ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); });
    if (fd < 0) return fail(last_error("open " + dir));
    DIR* d = ::fdopendir(fd);
    if (!d) {
        Error e = last_error("open " + dir);
        ::close(fd);
        return fail(e);
    }
    std::vector<pid_t> out;
    errno = 0;
    while (dirent* e = ::readdir(d)) {
        const char* n = e->d_name;
        if (*n < '0' || *n > '9') continue;
        pid_t v = 0;
        auto r = std::from_chars(n, n + std::char_traits<char>::length(n), v);
        if (r.ec == std::errc() && *r.ptr == '\0') out.push_back(v);
    }
    int err = errno;
    ::closedir(d);
    if (err != 0 && err != ENOENT) return fail(Error::from_errno(err, "read directory " + dir));
    if (!std::is_sorted(out.begin(), out.end())) std::sort(out.begin(), out.end());
    return out;
}

Result<std::vector<pid_t>> list_pids(const FsRoot& fs) { return list_numeric_dir(fs.proc("")); }

Result<std::vector<pid_t>> list_tasks(pid_t pid, const FsRoot& fs) {
    auto r = list_numeric_dir(fs.proc_pid(pid, "task"));
    if (!r && r.error().errno_value() == ENOENT)
        return fail(Error::from_errno(ESRCH, "list threads of process " + std::to_string(pid)));
    return r;
}

}  // namespace prockit::proc
