// tools/prun/compress.hpp — --compress: waiting --group output kept in its temporary files as
// zstd frames, and read back from them. Each write is one whole frame (compressed with one context
// shared by all jobs, so a running job holds no compressor state), and a file is any number of
// frames one after another: files appended to each other (the spill files) stay readable.
#pragma once

#include <prockit/sys/result.hpp>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <sys/types.h>

namespace prockit::prun {

/// Appends `data` to fd as one zstd frame (level 1: the fastest; the point is fewer bytes on
/// disk for output that compresses well, not the smallest file). Nothing is written for no data.
/// A frame that cannot be written whole (a full disk) is cut off again (ftruncate back to where
/// it started): the file holds whole frames only, and a later frame does not depend on it.
Status write_frame(int fd, std::string_view data);

/// Where the whole frames of fd's first `size` bytes end: the largest offset <= `size` that is
/// the end of a frame (0 when none is whole). Reads the frames' headers back (pread).
Result<off_t> whole_frames(int fd, off_t size);

/// Decompresses a run of concatenated frames piece by piece: feed() takes compressed bytes and
/// appends at most `most` bytes of output per call, so memory stays bounded however well the
/// data compressed.
class FrameReader {
public:
    FrameReader();
    ~FrameReader();
    FrameReader(const FrameReader&) = delete;
    FrameReader& operator=(const FrameReader&) = delete;

    /// Starts a new file.
    void reset();
    /// Decompresses from in[0, n): appends output to `out` (at most `most` bytes), returns how
    /// many input bytes were used. An error names corrupt data.
    Result<std::size_t> feed(const char* in, std::size_t n, std::string& out, std::size_t most);
    /// Whether output is still held inside (feed() again, even with no new input).
    bool pending() const noexcept { return pending_; }
    /// Whether what was fed ends with a whole frame (true after reset()): false when the data
    /// stopped inside one, i.e. it was cut short.
    bool at_frame_end() const noexcept { return frame_end_; }

private:
    struct State;
    std::unique_ptr<State> s_;
    bool pending_ = false;
    bool frame_end_ = true;
};

}  // namespace prockit::prun
