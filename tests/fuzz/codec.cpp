// Fuzz target: the Queue/Pipe codec (prockit/ipc/codec.hpp) and the Connection framing a Pipe
// reads (8-byte length, then a type tag and the value). Properties: whatever decodes re-encodes
// to bytes (no longer than the input) that decode and re-encode to the same bytes; a value never decodes from bytes of another length
// (decode rejects trailing bytes); a Connection fed any bytes ends in a value, a CodecError or
// an EofError, never more memory than the bytes it was given could justify.
#include "fuzz.hpp"

#include <prockit/ipc/codec.hpp>
#include <prockit/ipc/errors.hpp>
#include <prockit/ipc/pipe.hpp>

#include <sys/mman.h>
#include <unistd.h>

#include <map>
#include <optional>
#include <tuple>
#include <vector>

using namespace prockit;

namespace {

template <class T>
void round_trip(std::string_view bytes) {
    auto v = decode<T>(bytes);
    if (!v) return;
    std::string again = encode(*v);
    FUZZ_CHECK(again.size() <= bytes.size(), std::to_string(again.size()));
    auto w = decode<T>(again);
    FUZZ_CHECK(w.has_value(), "re-encoded bytes do not decode");
    FUZZ_CHECK(encode(*w) == again, "encoding is not stable");
}

using Message = std::tuple<std::int32_t, std::string, std::vector<double>, std::optional<bool>>;
using Table = std::map<std::string, std::vector<std::pair<std::uint16_t, std::string>>>;
using Nested = std::vector<std::vector<std::optional<std::string>>>;

template <class T>
void connection(std::string_view bytes) {
    unique_fd fd(::memfd_create("fuzz-connection", MFD_CLOEXEC));
    FUZZ_CHECK(static_cast<bool>(fd), "memfd_create");
    FUZZ_CHECK(::write(fd.get(), bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()), "write");
    FUZZ_CHECK(::lseek(fd.get(), 0, SEEK_SET) == 0, "lseek");
    Connection c(std::move(fd), unique_fd(), unique_fd());
    for (int i = 0; i < 64; ++i) {
        try {
            (void)c.recv<T>();
        } catch (const EofError&) {
            return;
        } catch (const ClosedError&) {
            return;
        } catch (const CodecError&) {
            if (c.closed()) return;
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::Input in(data, size);
    const std::uint8_t which = in.byte();
    const std::string_view bytes = in.rest();
    switch (which % 8) {
        case 0: round_trip<std::string>(bytes); break;
        case 1: round_trip<std::vector<std::int64_t>>(bytes); break;
        case 2: round_trip<Message>(bytes); break;
        case 3: round_trip<Table>(bytes); break;
        case 4: round_trip<Nested>(bytes); break;
        case 5: round_trip<std::array<std::optional<std::uint8_t>, 3>>(bytes); break;
        case 6: connection<std::string>(bytes); break;
        default: connection<Message>(bytes); break;
    }
    return 0;
}
