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

namespace prockit::prun {

/// Appends `data` to fd as one zstd frame (level 1: the fastest; the point is fewer bytes on
/// disk for output that compresses well, not the smallest file). Nothing is written for no data.
Status write_frame(int fd, std::string_view data);

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

private:
    struct State;
    std::unique_ptr<State> s_;
    bool pending_ = false;
};

}  // namespace prockit::prun
