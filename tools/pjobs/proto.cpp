// tools/pjobs/proto.cpp — see proto.hpp.
#include "proto.hpp"

#include <prockit/sys/signals.hpp>

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <limits>
#include <poll.h>
#include <stdexcept>
#include <type_traits>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <sys/un.h>
#include <unistd.h>

namespace prockit::pjobs {

namespace {

std::string env_or(const char* name) {
    const char* v = std::getenv(name);
    return v && *v == '/' ? std::string(v) : std::string();
}

void make_dirs(const std::string& path, mode_t mode) {
    std::string cur;
    std::size_t pos = 0;
    while (pos != std::string::npos) {
        pos = path.find('/', pos + 1);
        cur = path.substr(0, pos);
        if (cur.empty()) continue;
        if (mkdir(cur.c_str(), mode) != 0 && errno != EEXIST)
            throw std::runtime_error("cannot create directory " + cur + ": " + std::strerror(errno));
    }
}

}  // namespace

std::int64_t monotonic_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

std::uint64_t time_namespace() {
    struct stat st{};
    if (stat("/proc/self/ns/time", &st) != 0) return 0;
    return static_cast<std::uint64_t>(st.st_ino);
}

void set_deadline(nlohmann::json& request, std::chrono::nanoseconds timeout) {
    const auto margin = std::min<std::chrono::nanoseconds>(deadline_margin, timeout / 4);
    request["deadline"] = monotonic_ns() + (timeout - margin).count();
    request["timens"] = time_namespace();
}

namespace {
// An integer field of a peer's request, clamped to int64 (json reads non-negative numbers as
// unsigned). Any other type throws json::type_error, as a mistyped field does elsewhere: a float
// is not converted (one out of range is undefined behaviour — found by fuzzing).
std::int64_t integer_field(const nlohmann::json& v) {
    constexpr auto most = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    if (v.is_number_unsigned()) return static_cast<std::int64_t>(std::min(v.get<std::uint64_t>(), most));
    return v.get_ref<const nlohmann::json::number_integer_t&>();  // signed, or type_error
}
}  // namespace

std::optional<std::int64_t> past_deadline(const nlohmann::json& request, std::int64_t now, std::uint64_t timens) {
    auto d = request.find("deadline");
    if (d == request.end()) return std::nullopt;
    const std::int64_t deadline = integer_field(*d);
    auto ns = request.find("timens");
    if (ns == request.end()) return std::nullopt;
    const std::int64_t their = integer_field(*ns);
    if (their < 0 || static_cast<std::uint64_t>(their) != timens) return std::nullopt;  // another clock
    // Saturating: a deadline near the int64 limits from a peer must not overflow.
    if (deadline < 0 && now > std::numeric_limits<std::int64_t>::max() + deadline) return std::numeric_limits<std::int64_t>::max();
    return now - deadline;
}

std::string check_private_dir(const std::string& dir) {
    struct stat st{};
    if (lstat(dir.c_str(), &st) != 0) return std::strerror(errno);
    if (S_ISLNK(st.st_mode)) return "it is a symbolic link";
    if (!S_ISDIR(st.st_mode)) return "it is not a directory";
    if (st.st_uid != geteuid())
        return "it belongs to uid " + std::to_string(st.st_uid) + ", not to uid " + std::to_string(geteuid());
    if ((st.st_mode & 077) != 0) {
        char m[8];
        std::snprintf(m, sizeof m, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        return std::string("its mode is ") + m + ", not 0700";
    }
    return {};
}

Paths paths_from_env() {
    Paths p;
    std::string rt = env_or("XDG_RUNTIME_DIR");
    p.runtime = rt.empty() ? "/tmp/prockit-" + std::to_string(geteuid()) : rt + "/prockit";
    if (!rt.empty()) make_dirs(rt, 0700);
    if (mkdir(p.runtime.c_str(), 0700) != 0 && errno != EEXIST)
        throw std::runtime_error("cannot create directory " + p.runtime + ": " + std::strerror(errno));
    if (auto why = check_private_dir(p.runtime); !why.empty())
        throw std::runtime_error("cannot use runtime directory " + p.runtime + ": " + why);
    std::string st = env_or("XDG_STATE_HOME");
    if (st.empty()) {
        std::string home = env_or("HOME");
        if (home.empty()) home = "/tmp/prockit-state-" + std::to_string(geteuid());
        st = home + "/.local/state";
    }
    p.state = st + "/prockit";
    make_dirs(p.state + "/pjobs-logs", 0700);
    return p;
}

unique_fd listen_unix(const std::string& path) {
    sockaddr_un addr{};
    if (path.size() >= sizeof addr.sun_path) throw std::runtime_error("cannot listen on " + path + ": path too long");
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    unique_fd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd) throw std::runtime_error(std::string("cannot create socket: ") + std::strerror(errno));
    unlink(path.c_str());
    mode_t old = umask(077);
    int r = bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    int e = errno;
    umask(old);
    if (r != 0) throw std::runtime_error("cannot listen on " + path + ": " + std::strerror(e));
    if (listen(fd.get(), 64) != 0) throw std::runtime_error("cannot listen on " + path + ": " + std::strerror(errno));
    return fd;
}

unique_fd connect_unix(const std::string& path) {
    sockaddr_un addr{};
    if (path.size() >= sizeof addr.sun_path) {
        errno = ENAMETOOLONG;
        return unique_fd();
    }
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    unique_fd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return fd;
    int r;
    do r = connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    while (r != 0 && errno == EINTR);
    if (r != 0) {
        int e = errno;
        fd.reset();
        errno = e;
    }
    return fd;
}

long peer_uid(int fd) {
    ucred cred{};
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return -1;
    return static_cast<long>(cred.uid);
}

namespace {
// A peer that takes none of a message for this long is taken for stalled (stopped, or never
// reading its answers): the send fails with ETIMEDOUT, so that the server, which serves every
// client from one loop, is not held by one of them. pjobs' clients read whole frames as they
// come, so a live one never comes near it.
constexpr int stall_limit_ms = 5000;

bool write_all(int fd, const char* p, std::size_t n) {
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) {  // a non-blocking socket: wait until it drains (poll, not
                pollfd out{fd, POLLOUT, 0};  // select: a server with 1,000 clients has fds >= 1024)
                int ready = poll(&out, 1, stall_limit_ms);
                if (ready == 0) {
                    errno = ETIMEDOUT;
                    return false;
                }
                if (ready < 0 && errno != EINTR) return false;
                continue;
            }
            return false;
        }
        p += w;
        n -= static_cast<std::size_t>(w);
    }
    return true;
}
bool read_all(int fd, char* p, std::size_t n) {
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        p += r;
        n -= static_cast<std::size_t>(r);
    }
    return true;
}
}  // namespace

bool send_frame(int fd, char type, std::string_view payload) {
    // Header and payload in one sendmsg, the payload not copied: a job's output and a list of
    // 10,000 lines go out as they are.
    char head[5];
    uint32_t len = htonl(static_cast<uint32_t>(payload.size() + 1));
    std::memcpy(head, &len, 4);
    head[4] = type;
    iovec iov[2] = {{head, sizeof head}, {const_cast<char*>(payload.data()), payload.size()}};
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = payload.empty() ? 1 : 2;
    ssize_t w;
    do w = sendmsg(fd, &msg, MSG_NOSIGNAL);
    while (w < 0 && errno == EINTR);
    if (w < 0 && errno != EAGAIN) return false;
    std::size_t sent = w < 0 ? 0 : static_cast<std::size_t>(w);
    if (sent < sizeof head && !write_all(fd, head + sent, sizeof head - sent)) return false;
    std::size_t done = sent < sizeof head ? 0 : sent - sizeof head;
    return write_all(fd, payload.data() + done, payload.size() - done);
}

bool send_json(int fd, const nlohmann::json& j) { return send_frame(fd, 'j', j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)); }

std::optional<Frame> recv_frame(int fd) {
    char head[5];
    if (!read_all(fd, head, sizeof head)) return std::nullopt;
    uint32_t len = 0;
    std::memcpy(&len, head, 4);
    len = ntohl(len);
    if (len == 0 || len > max_frame) return std::nullopt;
    Frame f;
    f.type = head[4];
    f.payload.resize(len - 1);
    if (!read_all(fd, f.payload.data(), len - 1)) return std::nullopt;
    return f;
}

bool FrameReader::fill(int fd) {
    // Read straight into the buffer's free end (a job's output arrives in frames of up to
    // 256 KiB), until the socket has nothing more. The buffer starts small and doubles to what
    // the frames need, then stays that size: a server's 1,000 clients with requests of a few
    // hundred bytes cost 4 KiB each, not the 256 KiB an output stream grows to.
    constexpr std::size_t min_room = 1024, first_size = 4 * 1024;
    for (;;) {
        if (pos_ == end_) {
            pos_ = end_ = 0;
        } else if (pos_ > 0 && buf_.size() - end_ < buf_.size() / 4) {  // compact: what was consumed goes
            std::memmove(buf_.data(), buf_.data() + pos_, end_ - pos_);
            end_ -= pos_;
            pos_ = 0;
        }
        if (buf_.size() - end_ < std::max(min_room, buf_.size() / 4)) buf_.resize(std::max(first_size, 2 * buf_.size()));
        std::size_t room = buf_.size() - end_;
        ssize_t r = read(fd, buf_.data() + end_, room);
        if (r > 0) {
            end_ += static_cast<std::size_t>(r);
            if (static_cast<std::size_t>(r) < room) return true;
            continue;
        }
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && errno == EAGAIN) return true;
        return false;
    }
}

std::optional<FrameReader::View> FrameReader::next_view() {
    std::size_t avail = end_ - pos_;
    if (avail < 4) return std::nullopt;
    uint32_t len = 0;
    std::memcpy(&len, buf_.data() + pos_, 4);
    len = ntohl(len);
    if (len == 0 || len > max_frame) {  // garbage: drop everything
        pos_ = end_ = 0;
        return View{'!', {}};
    }
    if (avail < 4 + static_cast<std::size_t>(len)) return std::nullopt;
    View v{buf_[pos_ + 4], std::string_view(buf_.data() + pos_ + 5, len - 1)};
    pos_ += 4 + len;
    return v;
}

std::optional<Frame> FrameReader::next() {
    auto v = next_view();
    if (!v) return std::nullopt;
    return Frame{v->type, std::string(v->payload)};
}

bool write_file_atomic(const std::string& path, std::string_view text, std::string* error, bool sync) {
    std::string tmp = path + ".tmp." + std::to_string(getpid());
    auto fail = [&](const char* what) {
        if (error) *error = std::string(what) + " " + tmp + ": " + std::strerror(errno);
        unlink(tmp.c_str());
        return false;
    };
    unique_fd fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!fd) return fail("create");
    const char* p = text.data();
    std::size_t n = text.size();
    while (n > 0) {
        ssize_t w = write(fd.get(), p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return fail("write");
        p += w;
        n -= static_cast<std::size_t>(w);
    }
    if (sync && fsync(fd.get()) != 0) return fail("sync");
    fd.reset();
    if (rename(tmp.c_str(), path.c_str()) != 0) return fail("rename");
    if (!sync) return true;
    auto slash = path.rfind('/');
    unique_fd dir(open(slash == std::string::npos ? "." : path.substr(0, slash).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dir) fsync(dir.get());
    return true;
}

std::string read_small_file(const std::string& path) {
    std::string out;
    unique_fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return out;
    char buf[65536];
    ssize_t n;
    while ((n = read(fd.get(), buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
        if (n > 0) out.append(buf, static_cast<std::size_t>(n));
    return out;
}

std::string_view state_of(const nlohmann::json& job) {
    auto it = job.find("state");
    if (it == job.end() || !it->is_string()) return {};
    return it->get_ref<const std::string&>();
}

namespace {

using nlohmann::json;

// The fields of a job record pjobs reads, by the JSON type it reads them as (json::value() and
// get<>() throw on another type: a record that is kept must hold these types, or be dropped).
bool well_typed_job(const json& j) {
    for (const char* k : {"id", "pid", "touch", "sig", "code", "after", "ended", "nice", "oom_score_adj"})
        if (j.contains(k) && !j[k].is_number_integer()) return false;
    for (const char* k : {"state", "kind", "name", "group", "log_error", "reason", "start_error", "cwd", "cpus", "size"})
        if (j.contains(k) && !j[k].is_string()) return false;
    if (j.contains("core") && !j["core"].is_boolean()) return false;
    for (const char* k : {"argv", "env"}) {
        if (!j.contains(k)) continue;
        if (!j[k].is_array()) return false;
        for (const auto& a : j[k])
            if (!a.is_string()) return false;
    }
    return true;
}

// A field of a record from a peer, or `def` when it is missing or of another type.
template <class T>
T field(const json& j, const char* key, T def) {
    auto it = j.find(key);
    if (it == j.end()) return def;
    if constexpr (std::is_same_v<T, bool>) return it->is_boolean() ? it->template get<bool>() : def;
    else if constexpr (std::is_integral_v<T>) return it->is_number_integer() ? it->template get<T>() : def;
    else return it->is_string() ? it->template get<std::string>() : def;
}

}  // namespace

bool job_finished(const nlohmann::json& job) {
    auto s = field<std::string>(job, "state", "");
    return s == "done" || s == "lost" || s == "cancelled";
}

std::string state_text(const nlohmann::json& job) {
    auto s = field<std::string>(job, "state", "");
    if (s == "running") return "Running";
    if (s == "queued") return "Queued";
    if (s == "lost") return "Lost";
    if (s == "cancelled") return "Cancelled";
    if (s == "stopped") {
        int sig = field<int>(job, "sig", SIGTSTP);
        return sig == SIGTSTP ? "Stopped" : "Stopped (SIG" + signal_name(sig) + ")";
    }
    if (s == "done") {
        if (field<std::string>(job, "kind", "") == "killed") {
            int sig = field<int>(job, "sig", 0);
            return "Killed (SIG" + signal_name(sig) + ")" + (field<bool>(job, "core", false) ? " (core dumped)" : "");
        }
        int code = field<int>(job, "code", 0);
        return code == 0 ? "Done" : "Exit " + std::to_string(code);
    }
    return s;
}

int job_status(const nlohmann::json& job) {
    auto s = field<std::string>(job, "state", "");
    if (s == "done")
        return field<std::string>(job, "kind", "") == "killed" ? 128 + field<int>(job, "sig", 0) : field<int>(job, "code", 0);
    if (s == "stopped") return 128 + field<int>(job, "sig", SIGTSTP);
    return 1;  // lost or cancelled: the status is unknown
}

std::string job_line(const nlohmann::json& j, long cur, long prev) {
    long id = field<long>(j, "id", 0L);
    char mark = id == cur ? '+' : id == prev ? '-' : ' ';
    std::string pid = j.contains("pid") ? std::to_string(field<long>(j, "pid", 0L)) : "-";
    char buf[128];
    std::snprintf(buf, sizeof buf, "[%ld]%c %-7s %-22s ", id, mark, pid.c_str(), state_text(j).c_str());
    std::string line = buf + command_text(j);
    if (j.contains("name")) line += "  (" + field<std::string>(j, "name", "") + ")";
    return line;
}

std::string command_text(const nlohmann::json& job) {
    std::string out;
    auto argv = job.find("argv");
    if (argv == job.end() || !argv->is_array()) return out;
    for (const auto& a : *argv) {
        std::string w = a.is_string() ? a.get<std::string>() : a.dump();
        if (!out.empty()) out += ' ';
        bool plain = !w.empty() && w.find_first_of(" \t\n'\"\\$`*?[]{}()<>|&;#~") == std::string::npos;
        if (plain) {
            out += w;
        } else {
            out += '\'';
            for (char c : w) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
            out += '\'';
        }
    }
    return out;
}

Table parse_table(std::string_view text) {
    Table t;
    while (!text.empty()) {
        std::size_t nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        ++t.lines;
        if (line.empty()) continue;
        json j = json::parse(line, nullptr, false);
        if (j.is_discarded() || !j.is_object()) {
            ++t.bad;
            continue;
        }
        if (j.contains("group") && j.contains("parallel") && !j.contains("id")) {
            if (j["group"].is_string() && j["parallel"].is_number_integer())
                t.groups[j["group"].get<std::string>()] = j["parallel"].get<int>();
            continue;
        }
        if (!j.contains("id") || !j["id"].is_number_integer() || !j.contains("argv") || !j["argv"].is_array()) {
            if (!j.contains("pjobs_table")) ++t.bad;
            continue;
        }
        if (!well_typed_job(j)) {  // the server would throw on it later
            ++t.bad;
            continue;
        }
        t.touch = std::max(t.touch, j.value("touch", 0L));
        t.jobs[j["id"].get<long>()] = j;
    }
    return t;
}

}  // namespace prockit::pjobs
