// tests/fuzz/fuzz.hpp — what every libFuzzer target here shares: a property check that stops the
// run with a message (libFuzzer then saves the input as a crash reproducer), and a way to take
// the fuzzer's bytes apart into the several arguments a parser wants.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace prockit::fuzz {

/// A property that must hold for every input: on failure, print it and abort (a finding).
[[noreturn]] inline void violated(const char* file, int line, const char* what, const std::string& detail) {
    std::fprintf(stderr, "%s:%d: property violated: %s%s%s\n", file, line, what, detail.empty() ? "" : ": ",
                 detail.c_str());
    std::abort();
}

/// Takes the fuzzer's bytes apart: leading bytes pick options, the rest is the text under test.
class Input {
public:
    Input(const std::uint8_t* data, std::size_t size) : s_(reinterpret_cast<const char*>(data), size) {}
    /// One byte (0 when none is left).
    std::uint8_t byte() {
        if (s_.empty()) return 0;
        auto b = static_cast<std::uint8_t>(s_[0]);
        s_.remove_prefix(1);
        return b;
    }
    /// Text up to the next `sep` (or the end), the separator consumed.
    std::string_view until(char sep) {
        std::size_t i = s_.find(sep);
        std::string_view out = s_.substr(0, i);
        s_.remove_prefix(i == std::string_view::npos ? s_.size() : i + 1);
        return out;
    }
    std::string_view rest() const { return s_; }
    bool empty() const { return s_.empty(); }

private:
    std::string_view s_;
};

}  // namespace prockit::fuzz

#define FUZZ_CHECK(cond, detail)                                                             \
    do {                                                                                     \
        if (!(cond)) ::prockit::fuzz::violated(__FILE__, __LINE__, #cond, (detail));         \
    } while (0)
