#include "compress.hpp"

#include <prockit/sys/syscall.hpp>

#include <algorithm>
#include <cerrno>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

namespace prockit::prun {

namespace {
struct CctxFree {
    void operator()(ZSTD_CCtx* c) const noexcept { ZSTD_freeCCtx(c); }
};
}  // namespace

Status write_frame(int fd, std::string_view data) {
    if (data.empty()) return {};
    // One context for the whole run (prun's loop is one thread): reused, it allocates nothing more.
    static std::unique_ptr<ZSTD_CCtx, CctxFree> ctx(ZSTD_createCCtx());
    if (!ctx) return fail(Error::from_errno(ENOMEM, "compress output"));
    std::string out(ZSTD_compressBound(data.size()), '\0');
    std::size_t n = ZSTD_compressCCtx(ctx.get(), out.data(), out.size(), data.data(), data.size(), 1);
    if (ZSTD_isError(n)) return fail(Error::from_errno(EIO, std::string("compress output: ") + ZSTD_getErrorName(n)));
    struct stat st {};
    const bool known = fstat(fd, &st) == 0;
    auto w = write_all(fd, std::string_view(out.data(), n), "write compressed output to a temporary file");
    if (!w && known) {
        // Never a torn frame: the reader would take what follows for the rest of it.
        (void)ftruncate(fd, st.st_size);
        (void)lseek(fd, st.st_size, SEEK_SET);
    }
    return w;
}

Result<off_t> whole_frames(int fd, off_t size) {
    // A frame holds at most 64 KiB of output (Engine::compress_chunk), so one compressed frame
    // fits in a window of twice that; a longer one (not written by prun) ends the walk.
    const std::size_t window = ZSTD_compressBound(1 << 17);
    std::string buf(window, '\0');
    off_t pos = 0;
    while (pos < size) {
        const std::size_t want = static_cast<std::size_t>(std::min<off_t>(size - pos, static_cast<off_t>(window)));
        ssize_t n = retry_eintr([&] { return pread(fd, buf.data(), want, pos); });
        if (n < 0) return fail(last_error("read a temporary file"));
        if (n == 0) break;
        std::size_t frame = ZSTD_findFrameCompressedSize(buf.data(), static_cast<std::size_t>(n));
        if (ZSTD_isError(frame)) break;  // cut short (or not a frame): the whole ones end here
        pos += static_cast<off_t>(frame);
    }
    return std::min(pos, size);
}

struct FrameReader::State {
    ZSTD_DCtx* d = ZSTD_createDCtx();
    ~State() { ZSTD_freeDCtx(d); }
};

FrameReader::FrameReader() : s_(std::make_unique<State>()) {}
FrameReader::~FrameReader() = default;

void FrameReader::reset() {
    if (s_->d) ZSTD_DCtx_reset(s_->d, ZSTD_reset_session_only);
    pending_ = false;
    frame_end_ = true;
}

Result<std::size_t> FrameReader::feed(const char* in, std::size_t n, std::string& out, std::size_t most) {
    if (!s_->d) return fail(Error::from_errno(ENOMEM, "decompress output"));
    std::size_t at = out.size();
    out.resize(at + most);
    ZSTD_inBuffer ib{in, n, 0};
    ZSTD_outBuffer ob{out.data() + at, most, 0};
    std::size_t r = ZSTD_decompressStream(s_->d, &ob, &ib);
    out.resize(at + ob.pos);
    if (ZSTD_isError(r)) return fail(Error::from_errno(EIO, std::string("decompress buffered output: ") + ZSTD_getErrorName(r)));
    // A full output buffer may leave decoded bytes inside the context.
    pending_ = ob.pos == most;
    // 0: a frame was decoded and flushed whole, and nothing of the next one was read. (A call
    // with nothing to do says nothing new.)
    if (n > 0 || ob.pos > 0) frame_end_ = r == 0;
    return ib.pos;
}

}  // namespace prockit::prun
