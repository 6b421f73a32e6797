// Fuzz target: prun's input splitting (RecordReader: -d / -0 separators, -E end-of-input record,
// -r via empty records) and --pipe block cutting (BlockReader). The bytes go through a memfd.
// Properties: records joined again by the separator give back the input (up to an -E record);
// blocks concatenated give back the input exactly, each holds whole records, and only a block
// made of one record is longer than the block size.
#include "fuzz.hpp"

#include "inputs.hpp"

#include <sys/mman.h>
#include <unistd.h>

using namespace prockit;
using namespace prockit::prun;

namespace {

unique_fd memfd_with(std::string_view bytes) {
    unique_fd fd(::memfd_create("fuzz-input", MFD_CLOEXEC));
    FUZZ_CHECK(static_cast<bool>(fd), "memfd_create");
    std::size_t done = 0;
    while (done < bytes.size()) {
        ssize_t w = ::write(fd.get(), bytes.data() + done, bytes.size() - done);
        FUZZ_CHECK(w > 0, "write");
        done += static_cast<std::size_t>(w);
    }
    FUZZ_CHECK(::lseek(fd.get(), 0, SEEK_SET) == 0, "lseek");
    return fd;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::Input in(data, size);
    const std::uint8_t opt = in.byte();
    const char sep = (opt & 1) ? '\0' : (opt & 2) ? ',' : '\n';
    if (opt & 4) {
        // --pipe: block sizes 1 .. 64 bytes keep the cuts many.
        const std::size_t block = 1 + (opt >> 3);
        const std::string_view text = in.rest();
        BlockReader br(memfd_with(text), sep, block);
        std::string joined;
        for (;;) {
            auto b = br.next();
            FUZZ_CHECK(b.has_value(), "a block read failed");
            if (!*b) break;
            const std::string& blk = **b;
            FUZZ_CHECK(!blk.empty(), "an empty block");
            joined += blk;
            const bool last = joined.size() == text.size();
            // Whole records: a block ends with the separator unless it is the input's tail.
            FUZZ_CHECK(last || blk.back() == sep, "a block cut inside a record");
            if (blk.size() > block) {
                std::string_view body(blk.data(), blk.size() - (blk.back() == sep ? 1 : 0));
                FUZZ_CHECK(body.find(sep) == std::string_view::npos, "an oversized block of several records");
            }
        }
        FUZZ_CHECK(joined == text, "blocks lose or add bytes");
        return 0;
    }
    std::optional<std::string> eof;
    if (opt & 8) eof = std::string(in.until('\x01'));
    const std::string_view text = in.rest();
    RecordReader rr(memfd_with(text), sep, "fuzz input");
    if (eof) rr.set_eof(*eof);
    std::string joined;
    bool ended_by_eof = false;
    std::size_t n = 0;
    for (;;) {
        auto r = rr.next();
        FUZZ_CHECK(r.has_value(), "a record read failed");
        if (!*r) break;
        if (eof && **r == *eof) ended_by_eof = true;  // must not be handed out
        FUZZ_CHECK(!ended_by_eof, "the -E record was handed out");
        FUZZ_CHECK((**r).find(sep) == std::string::npos, "a record holds its separator");
        joined += **r;
        joined += sep;
        ++n;
    }
    if (!eof) {
        std::string expect(text);
        if (!expect.empty() && expect.back() != sep) expect += sep;
        FUZZ_CHECK(joined == expect, "records lose or add bytes (" + std::to_string(n) + " records)");
    } else {
        FUZZ_CHECK(std::string_view(text).substr(0, joined.size()) == std::string_view(joined).substr(0, std::min(joined.size(), text.size())),
                   "records before the -E record differ from the input");
    }
    return 0;
}
