// Fuzz target: seccomp rules files and profile lists (SeccompFilter::add_rules_text,
// parse_seccomp_spec with profile names only: a '/' would name a file, so it is left out).
// Properties: a text that is accepted compiles to a BPF program (libseccomp, nothing loaded), and
// adding the same text twice is accepted too.
#include "fuzz.hpp"

#include <prockit/security/seccomp.hpp>
#include <prockit/security/seccomp_spec.hpp>

using namespace prockit;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::Input in(data, size);
    const std::uint8_t opt = in.byte();
    const std::string text(in.rest());
    if (opt & 1) {
        if (text.find('/') != std::string::npos) return 0;  // a path: a file read, not parsing
        std::vector<std::string> items;
        std::string_view s = text;
        for (;;) {
            std::size_t i = s.find('\n');
            items.emplace_back(s.substr(0, i));
            if (i == std::string_view::npos) break;
            s.remove_prefix(i + 1);
        }
        auto f = parse_seccomp_spec(items);
        if (f && (opt & 2)) FUZZ_CHECK(f->compile().has_value(), text);
        return 0;
    }
    SeccompFilter f;
    if (!f.add_rules_text(text, "fuzz")) return 0;
    const std::size_t n = f.rules().size();
    for (const auto& r : f.rules()) FUZZ_CHECK(!r.name.empty(), text);
    if (opt & 2) {
        auto prog = f.compile();
        FUZZ_CHECK(prog.has_value(), "an accepted rules text does not compile: " + prog.error().context());
    }
    FUZZ_CHECK(f.add_rules_text(text, "fuzz again").has_value(), text);
    FUZZ_CHECK(f.rules().size() >= n, text);
    return 0;
}
