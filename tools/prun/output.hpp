// tools/prun/output.hpp — prun's own stdout and stderr: what the engine prints (relayed and
// line-buffered job output, buffered --group output, --dry-run lines, progress) is queued here and
// written only as far as the reader takes it, so a reader that stops never blocks the event loop
// (timeouts and signals keep working). Buffered outputs stay in their files until written; the
// bytes held in memory are counted so that the engine can stop reading job pipes and starting
// jobs while the queue is long (back-pressure reaches the jobs).
#pragma once

#include "compress.hpp"

#include <prockit/sys/result.hpp>
#include <prockit/sys/unique_fd.hpp>

#include <cstddef>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <vector>
#include <sys/types.h>

namespace prockit::prun {

/// Writes `data` prefixed line by line with `prefix` (when `tag`) into `out`; a trailing partial
/// line is kept in `partial` unless `final`. Untagged, only whole lines leave unless `final`.
void cut_lines(std::string& out, std::string& partial, std::string_view data, const std::string& prefix, bool tag,
               bool final);

/// --results DIR: the directory of a job's files, DIR/1/VALUE1/2/VALUE2/... (GNU parallel's
/// layout). In each value a backslash becomes \\, a TAB \t, a NUL \0 and a slash \_; "." and
/// ".." become \. and \.. (they would name another directory); a value is cut to 255 bytes.
std::string results_dir(const std::string& dir, const std::vector<std::string>& values);

/// Creates a directory and its missing parents (mode 0777 less the umask).
Status make_dirs(const std::string& path);

/// One row of --results FILE.csv / .tsv: the fields joined by `sep`, each quoted (with its double
/// quotes doubled) when it holds a double quote, white space, `sep` or a NUL, then a newline.
std::string table_row(const std::vector<std::string>& fields, char sep);

/// One job's bytes in a compressed file queued to an OutputSink: from `start` to the next part's
/// start (or the end of the file). Each part is decoded on its own; when one does not decode (a
/// corrupt frame, or its last frame cut short), the rest of that part is dropped, `cut` is told
/// why, and the next part is read as usual.
struct FilePart {
    off_t start = 0;
    std::function<void(const std::string& reason)> cut;
};

class OutputSink {
public:
    /// How the sink writes without blocking.
    enum class Mode {
        plain,    ///< a regular file or /dev/null: a write does not wait for a reader
        own,      ///< a pipe, FIFO or terminal reopened through /proc/self/fd with O_NONBLOCK:
                  ///< an open file description of prun's own, so the flag reaches nobody else
        socket,   ///< send(MSG_DONTWAIT)
        small,    ///< fallback: at most PIPE_BUF bytes at a time, and only after POLLOUT
    };

    /// `fd` is borrowed (1 or 2); `on_error` is told of the first write error (the queue is then
    /// dropped: what cannot be written is not kept).
    OutputSink(int fd, std::function<void(const Error&)> on_error);
    OutputSink(const OutputSink&) = delete;
    OutputSink& operator=(const OutputSink&) = delete;

    /// Queues bytes and writes what the reader takes now.
    void write(std::string_view data);
    /// Queues a file's content (from offset 0, its size now), prefixed line by line when `tag`;
    /// `done` gets the file back once it is written (or dropped). `compressed`: the file holds
    /// zstd frames (--compress), decompressed on the way out, part by part (`parts`, in order of
    /// their starts; none: the whole file is one part, and a failure to decode it is a write error).
    void file(unique_fd f, std::string prefix, bool tag, std::function<void(unique_fd)> done, bool compressed = false,
              std::vector<FilePart> parts = {});
    /// Writes what the reader takes now; true when the queue is empty.
    bool flush();
    /// Drops everything queued (the run is being ended by a signal).
    void drop();

    bool empty() const noexcept { return q_.empty(); }
    /// Bytes held in memory (queued files count only the chunk being written).
    std::size_t buffered() const noexcept { return bytes_; }
    /// Files queued.
    std::size_t files() const noexcept { return files_; }
    /// The descriptor to poll for POLLOUT while the queue is not empty, and whether to.
    int poll_fd() const noexcept { return out_ ? out_.get() : fd_; }
    bool waiting() const noexcept { return !q_.empty() && blocked_; }
    Mode mode() const noexcept { return mode_; }

private:
    struct Item {
        std::string data;
        std::size_t pos = 0;
        unique_fd file;
        off_t off = 0, size = 0;
        std::string prefix, partial;
        bool tag = false;
        bool is_file = false;
        bool z = false;          // zstd frames
        bool z_started = false;  // zr_ was reset for this file
        std::string zin;         // compressed bytes read, [zpos, size) not yet decompressed
        std::size_t zpos = 0;
        std::vector<FilePart> parts;  // compressed: the jobs' parts of the file
        std::size_t part = 0;         // the part being decoded
        std::function<void(unique_fd)> done;
    };
    ssize_t put(const char* p, std::size_t n);
    void pop();
    /// The end of the front item's current part.
    static off_t part_end(const Item& it);
    /// Decompresses the next piece of a compressed item into it.data; false when the sink failed.
    bool next_z(Item& it);

    int fd_;
    unique_fd out_;  // Mode::own
    Mode mode_ = Mode::plain;
    std::function<void(const Error&)> on_error_;
    std::deque<Item> q_;
    std::size_t bytes_ = 0;
    std::size_t files_ = 0;
    bool blocked_ = false;  // the last write would have blocked
    bool failed_ = false;
    FrameReader zr_;  // the front item's decompressor (one file is written at a time)
};

}  // namespace prockit::prun
