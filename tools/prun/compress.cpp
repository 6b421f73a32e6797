#include "compress.hpp"

#include <prockit/sys/syscall.hpp>

#include <cerrno>
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
    return write_all(fd, std::string_view(out.data(), n), "write compressed output to a temporary file");
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
    return ib.pos;
}

}  // namespace prockit::prun
