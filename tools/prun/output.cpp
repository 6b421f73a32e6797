#include "output.hpp"

#include <prockit/sys/syscall.hpp>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

namespace prockit::prun {

std::string results_dir(const std::string& dir, const std::vector<std::string>& values) {
    std::string out = dir;
    for (std::size_t i = 0; i < values.size(); ++i) {
        std::string v;
        if (values[i] == "." || values[i] == "..") {
            v = "\\" + values[i];
        } else {
            for (char c : values[i]) {
                switch (c) {
                    case '\\': v += "\\\\"; break;
                    case '\t': v += "\\t"; break;
                    case '\0': v += "\\0"; break;
                    case '/': v += "\\_"; break;
                    default: v += c;
                }
            }
        }
        if (v.size() > NAME_MAX) v.resize(NAME_MAX);
        out += "/" + std::to_string(i + 1) + "/" + v;
    }
    return out;
}

Status make_dirs(const std::string& path) {
    if (path.empty() || ::mkdir(path.c_str(), 0777) == 0) return {};
    int e = errno;
    if (e == EEXIST) {
        struct stat st {};
        if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return {};
        return fail(Error::from_errno(ENOTDIR, "create directory " + path));
    }
    auto slash = path.find_last_of('/');
    if (e != ENOENT || slash == std::string::npos || slash == 0) return fail(Error::from_errno(e, "create directory " + path));
    if (auto st = make_dirs(path.substr(0, slash)); !st) return st;
    if (::mkdir(path.c_str(), 0777) != 0 && errno != EEXIST) return fail(last_error("create directory " + path));
    return {};
}

std::string table_row(const std::vector<std::string>& fields, char sep) {
    std::string row;
    for (std::size_t i = 0; i < fields.size(); ++i) {
        if (i) row += sep;
        const std::string& f = fields[i];
        bool quote = f.find_first_of(std::string(" \t\n\r\v\f\"") + sep) != std::string::npos || f.find('\0') != std::string::npos;
        if (!quote) {
            row += f;
            continue;
        }
        row += '"';
        for (char c : f) {
            if (c == '"') row += '"';
            row += c;
        }
        row += '"';
    }
    row += '\n';
    return row;
}

void cut_lines(std::string& out, std::string& partial, std::string_view data, const std::string& prefix, bool tag,
               bool final) {
    partial.append(data);
    if (!tag) {
        if (final) {
            out += partial;
            partial.clear();
            return;
        }
        auto nl = partial.rfind('\n');
        if (nl == std::string::npos) return;
        out.append(partial, 0, nl + 1);
        partial.erase(0, nl + 1);
        return;
    }
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
}

OutputSink::OutputSink(int fd, std::function<void(const Error&)> on_error) : fd_(fd), on_error_(std::move(on_error)) {
    struct stat st {};
    if (fstat(fd, &st) != 0 || S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)) return;  // plain
    if (S_ISSOCK(st.st_mode)) {
        mode_ = Mode::socket;
        return;
    }
    if (S_ISCHR(st.st_mode) && !isatty(fd)) return;  // /dev/null and the like
    // A pipe, FIFO or terminal: O_NONBLOCK on fd itself would change the open file description
    // the shell, the jobs and the reader's other writers share. A description of our own has
    // its own flags.
    if (auto own = open_fd("/proc/self/fd/" + std::to_string(fd), O_WRONLY | O_NONBLOCK | O_NOCTTY)) {
        out_ = std::move(*own);
        mode_ = Mode::own;
        return;
    }
    mode_ = Mode::small;
}

ssize_t OutputSink::put(const char* p, std::size_t n) {
    switch (mode_) {
        case Mode::plain: return retry_eintr([&] { return ::write(fd_, p, n); });
        case Mode::own: return retry_eintr([&] { return ::write(out_.get(), p, n); });
        case Mode::socket: return retry_eintr([&] { return ::send(fd_, p, n, MSG_DONTWAIT); });
        case Mode::small:
            // Only after POLLOUT (the engine polls before calling flush again): a pipe with a
            // free slot takes PIPE_BUF bytes without waiting.
            if (blocked_) {
                errno = EAGAIN;
                return -1;
            }
            return retry_eintr([&] { return ::write(fd_, p, std::min<std::size_t>(n, PIPE_BUF)); });
    }
    return -1;
}

void OutputSink::write(std::string_view data) {
    if (data.empty() || failed_) return;
    if (q_.empty() || q_.back().is_file) q_.emplace_back();
    q_.back().data.append(data);
    bytes_ += data.size();
    if (!blocked_) flush();
}

void OutputSink::file(unique_fd f, std::string prefix, bool tag, std::function<void(unique_fd)> done, bool compressed,
                      std::vector<FilePart> parts) {
    struct stat st {};
    if (failed_ || fstat(f.get(), &st) != 0 || st.st_size == 0) {
        done(std::move(f));
        return;
    }
    Item it;
    it.is_file = true;
    it.file = std::move(f);
    it.size = st.st_size;
    it.prefix = std::move(prefix);
    it.tag = tag;
    it.z = compressed;
    it.parts = std::move(parts);
    it.done = std::move(done);
    q_.push_back(std::move(it));
    ++files_;
    if (!blocked_) flush();
}

void OutputSink::pop() {
    Item& it = q_.front();
    bytes_ -= it.data.size() - it.pos;
    if (it.is_file) {
        --files_;
        if (it.done) it.done(std::move(it.file));
    }
    q_.pop_front();
}

void OutputSink::drop() {
    while (!q_.empty()) pop();
    blocked_ = false;
}

off_t OutputSink::part_end(const Item& it) {
    off_t end = it.size;
    if (it.part + 1 < it.parts.size()) end = std::min(end, it.parts[it.part + 1].start);
    return end;
}

bool OutputSink::next_z(Item& it) {
    // --compress: the next compressed chunk of the current part in, at most 64 KiB of output out.
    if (!it.z_started) {
        zr_.reset();
        it.z_started = true;
    }
    off_t end = part_end(it);
    if (it.zpos == it.zin.size() && !zr_.pending() && it.off < end) {
        it.zin.resize(1 << 16);
        ssize_t n = retry_eintr([&] {
            return pread(it.file.get(), it.zin.data(), std::min<std::size_t>(it.zin.size(), static_cast<std::size_t>(end - it.off)), it.off);
        });
        if (n < 0) {
            failed_ = true;
            on_error_(last_error("read buffered output"));
            drop();
            return false;
        }
        it.zin.resize(static_cast<std::size_t>(n));
        it.zpos = 0;
        if (n == 0) it.size = end = it.off;  // the file is shorter than it was
        it.off += n;
    }
    std::string chunk, why;
    if (it.zpos < it.zin.size() || zr_.pending()) {
        auto used = zr_.feed(it.zin.data() + it.zpos, it.zin.size() - it.zpos, chunk, 1 << 16);
        if (!used) {
            const std::string& ctx = used.error().context();
            auto colon = ctx.rfind(": ");
            why = "its compressed copy is corrupt (" + (colon == std::string::npos ? ctx : ctx.substr(colon + 2)) + ")";
        } else {
            it.zpos += *used;
            if (*used == 0 && chunk.empty() && !zr_.pending()) it.zpos = it.zin.size();  // no progress
        }
    }
    bool part_read = it.off >= end && it.zpos == it.zin.size() && !zr_.pending();
    if (why.empty() && part_read && !zr_.at_frame_end()) why = "its compressed copy ends inside a frame";
    if (!why.empty()) {
        // This part's output stops here: the rest of it is skipped and its job named; the parts
        // after it (other jobs' output) are read as usual.
        const FilePart* p = it.part < it.parts.size() ? &it.parts[it.part] : nullptr;
        if (p && p->cut)
            p->cut(why);
        else
            on_error_(Error::from_errno(EIO, "write buffered output: " + why));
        it.off = end;
        it.zin.clear();
        it.zpos = 0;
        zr_.reset();
        part_read = true;
    }
    if (part_read && it.part + 1 < it.parts.size()) {
        ++it.part;  // the next job's frames, from a fresh start
        zr_.reset();
    }
    bool last = it.off >= it.size && it.zpos == it.zin.size() && !zr_.pending();
    cut_lines(it.data, it.partial, chunk, it.prefix, it.tag, last);
    bytes_ += it.data.size();
    return true;
}

bool OutputSink::flush() {
    if (mode_ == Mode::small) blocked_ = false;  // called after POLLOUT
    while (!q_.empty()) {
        Item& it = q_.front();
        if (it.pos == it.data.size()) {
            bytes_ -= it.data.size() - it.pos;
            it.data.clear();
            it.pos = 0;
            if (!it.is_file) {
                pop();
                continue;
            }
            if (it.off >= it.size && it.partial.empty() && !(it.z && (it.zpos < it.zin.size() || zr_.pending()))) {
                pop();
                continue;
            }
            if (it.z) {
                if (!next_z(it)) return true;
                continue;
            }
            // Untagged, to a description that does not block: straight from the file.
            if (!it.tag && (mode_ == Mode::plain || mode_ == Mode::own) && it.off < it.size) {
                off_t before = it.off;
                ssize_t n = sendfile(poll_fd(), it.file.get(), &it.off,
                                     static_cast<std::size_t>(std::min<off_t>(it.size - it.off, 1 << 30)));
                if (n > 0 || (n < 0 && errno == EINTR)) continue;
                if (n < 0 && errno == EAGAIN) {
                    blocked_ = true;
                    return false;
                }
                it.off = before;
                if (n < 0 && errno != EINVAL && errno != ENOSYS) {
                    failed_ = true;
                    on_error_(last_error("write output"));
                    drop();
                    return true;
                }
                if (n == 0) {  // the file is shorter than it was: write what is there
                    it.size = it.off;
                    continue;
                }
                // EINVAL/ENOSYS: read and write below
            }
            // The next chunk, through memory.
            std::string chunk(1 << 16, '\0');
            ssize_t n = it.off < it.size ? retry_eintr([&] {
                return pread(it.file.get(), chunk.data(), std::min<std::size_t>(chunk.size(), static_cast<std::size_t>(it.size - it.off)), it.off);
            })
                                         : 0;
            if (n < 0) {
                failed_ = true;
                on_error_(last_error("read buffered output"));
                drop();
                return true;
            }
            if (n == 0) it.size = it.off;
            it.off += n;
            chunk.resize(static_cast<std::size_t>(n));
            cut_lines(it.data, it.partial, chunk, it.prefix, it.tag, it.off >= it.size);
            bytes_ += it.data.size();
            continue;
        }
        ssize_t n = put(it.data.data() + it.pos, it.data.size() - it.pos);
        if (n > 0) {
            it.pos += static_cast<std::size_t>(n);
            bytes_ -= static_cast<std::size_t>(n);
            if (mode_ == Mode::small) {
                blocked_ = it.pos < it.data.size() || q_.size() > 1;  // wait for POLLOUT again
                if (blocked_) return false;
            }
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            blocked_ = true;
            return false;
        }
        // A closed reader ends prun through SIGPIPE, as for any filter; other errors (EIO, ENOSPC,
        // EPIPE with SIGPIPE ignored) are reported once and fail the run.
        failed_ = true;
        on_error_(n < 0 ? last_error("write output") : Error::from_errno(EIO, "write output"));
        drop();
        return true;
    }
    blocked_ = false;
    return true;
}

}  // namespace prockit::prun
