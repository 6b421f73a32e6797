#include <prockit/process/daemon.hpp>

#include <prockit/sys/syscall.hpp>

#include <charconv>
#include <cstring>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace prockit {

Result<unique_fd> open_log(const std::string& path) {
    return open_fd(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
}

Result<Daemonized> daemonize(const DaemonOptions& options) {
    unique_fd log;
    if (!options.log_path.empty()) {
        auto l = open_log(options.log_path);
        if (!l) return fail(l.error());
        log = std::move(*l);
    }
    auto null = open_fd("/dev/null", O_RDWR | O_CLOEXEC);
    if (!null) return fail(null.error());
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) return fail(last_error("create a pipe"));
    unique_fd r(p[0]), w(p[1]);

    pid_t middle = fork();
    if (middle < 0) return fail(last_error("fork"));
    if (middle > 0) {
        w.reset();
        int st = 0;
        (void)retry_eintr([&] { return waitpid(middle, &st, 0); });
        Daemonized d;
        d.channel_ = std::move(r);
        return d;
    }
    // The middle process: a new session, then the daemon forks off and the leader leaves.
    r.reset();
    if (setsid() < 0) {
        std::string msg = "cannot start a new session: " + std::string(std::strerror(errno));
        int code = 1;
        (void)!::write(w.get(), &code, sizeof code);
        (void)!::write(w.get(), msg.data(), msg.size());
        _exit(1);
    }
    pid_t d = fork();
    if (d != 0) _exit(d < 0 ? 1 : 0);

    Daemonized out;
    out.daemon_ = true;
    out.channel_ = std::move(w);
    if (options.chdir_root) (void)!chdir("/");
    if (options.umask) ::umask(*options.umask);
    dup2(null->get(), 0);
    int outfd = log ? log.get() : null->get();
    dup2(outfd, 1);
    dup2(outfd, 2);
    if (log) out.log_fd_ = log.release();  // stays open (close-on-exec) for the daemon to rotate
    return out;
}

void Daemonized::notify(int code, const std::string& message) noexcept {
    if (!channel_) return;
    std::string buf(sizeof code, '\0');
    std::memcpy(buf.data(), &code, sizeof code);
    buf += message;
    (void)write_all(channel_.get(), buf, "report to the starting process");
    channel_.reset();
}

Result<DaemonReport> Daemonized::wait_ready() {
    std::string data;
    char buf[4096];
    for (;;) {
        ssize_t n = retry_eintr([&] { return ::read(channel_.get(), buf, sizeof buf); });
        if (n < 0) return fail(last_error("read the daemon's report"));
        if (n == 0) break;
        data.append(buf, static_cast<std::size_t>(n));
    }
    channel_.reset();
    if (data.size() < sizeof(int))
        return fail(Error::from_errno(ECHILD, "start the daemon (it exited before it was ready)"));
    DaemonReport rep;
    std::memcpy(&rep.code, data.data(), sizeof(int));
    rep.message = data.substr(sizeof(int));
    return rep;
}

// ---------------------------------------------------------------- pidfile

std::optional<pid_t> PidFile::read_pid(const std::string& path) {
    auto text = read_file(path);
    if (!text) return std::nullopt;
    pid_t v = 0;
    auto r = std::from_chars(text->data(), text->data() + text->size(), v);
    if (r.ec != std::errc() || v <= 0) return std::nullopt;
    return v;
}

Result<PidFile> PidFile::acquire(const std::string& path, pid_t pid) {
    if (pid == 0) pid = getpid();
    auto held_error = [&]() {
        auto holder = read_pid(path);
        std::string who = holder ? " (held by process " + std::to_string(*holder) + ")" : " (held by another process)";
        return Error::from_errno(EWOULDBLOCK, "lock pidfile " + path + who);
    };
    for (int attempt = 0; attempt < 100; ++attempt) {
        // 1. Take the lock on whatever file is there now, if any, so no one else is starting.
        unique_fd old(::open(path.c_str(), O_RDWR | O_CLOEXEC));
        if (old) {
            if (flock(old.get(), LOCK_EX | LOCK_NB) != 0) {
                if (errno == EWOULDBLOCK) return fail(held_error());
                return fail(last_error("lock pidfile " + path));
            }
            struct stat a {}, b {};
            if (fstat(old.get(), &a) != 0 || stat(path.c_str(), &b) != 0 || a.st_ino != b.st_ino || a.st_dev != b.st_dev)
                continue;  // replaced while we locked it: look again
        } else if (errno != ENOENT) {
            return fail(last_error("open pidfile " + path));
        }
        // 2. Write the new content into a locked temporary file and rename it into place.
        std::string tmp = path + ".tmp." + std::to_string(getpid());
        auto fd = open_fd(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (!fd) return fail(Error(fd.error().code(), "write pidfile " + path + " (" + fd.error().context() + ")"));
        if (flock(fd->get(), LOCK_EX | LOCK_NB) != 0) {
            ::unlink(tmp.c_str());
            return fail(last_error("lock pidfile " + tmp));
        }
        std::string text = std::to_string(pid) + "\n";
        if (auto w = write_all(fd->get(), text, "write pidfile"); !w) {
            ::unlink(tmp.c_str());
            return fail(w.error());
        }
        if (!old) {
            // No file existed: link() fails if someone else created one meanwhile.
            if (::link(tmp.c_str(), path.c_str()) != 0) {
                int e = errno;
                ::unlink(tmp.c_str());
                if (e == EEXIST) continue;
                return fail(Error::from_errno(e, "create pidfile " + path));
            }
            ::unlink(tmp.c_str());
        } else if (::rename(tmp.c_str(), path.c_str()) != 0) {
            Error e = last_error("replace pidfile " + path);
            ::unlink(tmp.c_str());
            return fail(e);
        }
        PidFile pf;
        pf.path_ = path;
        pf.fd_ = std::move(*fd);
        pf.owner_ = getpid();
        return pf;
    }
    return fail(held_error());
}

PidFile::PidFile(PidFile&& o) noexcept : path_(std::move(o.path_)), fd_(std::move(o.fd_)), owner_(std::exchange(o.owner_, 0)) {}
PidFile& PidFile::operator=(PidFile&& o) noexcept {
    if (this != &o) {
        release();
        path_ = std::move(o.path_);
        fd_ = std::move(o.fd_);
        owner_ = std::exchange(o.owner_, 0);
    }
    return *this;
}
PidFile::~PidFile() { release(); }

void PidFile::release() noexcept {
    if (!fd_) return;
    if (owner_ == getpid()) ::unlink(path_.c_str());
    fd_.reset();
}

}  // namespace prockit
