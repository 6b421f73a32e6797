// Fuzz target: pjobs' client/server messages (tools/pjobs/proto): the frame reader over any bytes
// a peer may send, and the job records a reply carries as the client shows them (job_line,
// state_text, job_status, command_text) and a request's deadline as the server reads it
// (past_deadline). Properties: frames that send_frame() writes come back
// whole and in order, whatever bytes follow them; a 'j' frame's record is shown without an
// exception, whatever its fields hold.
#include "fuzz.hpp"

#include "proto.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

using namespace prockit;
using namespace prockit::pjobs;

namespace {

std::string frame(char type, std::string_view payload) {
    std::uint32_t len = htonl(static_cast<std::uint32_t>(payload.size() + 1));
    std::string out(reinterpret_cast<const char*>(&len), 4);
    out += type;
    out += payload;
    return out;
}

void show(const nlohmann::json& j) {
    // What the client does with a job record from the server (commands.cpp): it must not throw.
    (void)job_line(j, 1, 2);
    (void)state_text(j);
    (void)job_status(j);
    (void)job_finished(j);
    (void)command_text(j);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::Input in(data, size);
    const std::uint8_t opt = in.byte();
    if (opt & 1) {
        // A job record as JSON text, shown as the client shows it.
        nlohmann::json j = nlohmann::json::parse(in.rest(), nullptr, false);
        if (j.is_discarded() || !j.is_object()) return 0;
        show(j);
        return 0;
    }
    // Frames: a few well-formed ones (from the first field) then arbitrary bytes, through a socket.
    std::vector<std::string> sent;
    std::string stream;
    for (std::uint8_t k = (opt >> 1) & 3; k > 0; --k) {
        sent.emplace_back(in.until('\x01'));
        stream += frame('j', sent.back());
    }
    stream += in.rest();
    int sv[2];
    FUZZ_CHECK(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) == 0, "socketpair");
    unique_fd a(sv[0]), b(sv[1]);
    FrameReader reader;
    std::size_t off = 0, got = 0;
    bool garbage = false;
    for (;;) {
        if (off < stream.size()) {
            ssize_t w = ::write(a.get(), stream.data() + off, std::min<std::size_t>(stream.size() - off, 4096));
            FUZZ_CHECK(w > 0, "write");
            off += static_cast<std::size_t>(w);
        } else if (a) {
            a.reset();  // EOF after the last byte
        }
        bool alive = reader.fill(b.get());
        while (auto f = reader.next()) {
            if (f->type == '!') {
                garbage = true;
                continue;
            }
            if (got < sent.size() && !garbage) {
                FUZZ_CHECK(f->type == 'j' && f->payload == sent[got], "frame " + std::to_string(got) + " changed");
            }
            ++got;
            if (f->type == 'j') {
                nlohmann::json j = nlohmann::json::parse(f->payload, nullptr, false);
                if (!j.is_discarded() && j.is_object()) {
                    show(j);
                    // As the server reads a request's deadline: a value or json's type_error.
                    static const std::uint64_t timens = time_namespace();
                    try {
                        (void)past_deadline(j, monotonic_ns(), timens);
                    } catch (const nlohmann::json::type_error&) {
                    }
                }
            }
        }
        if (!alive || (!a && off >= stream.size())) break;
    }
    FUZZ_CHECK(got >= sent.size(), "frames lost: " + std::to_string(got) + " of " + std::to_string(sent.size()));
    return 0;
}
