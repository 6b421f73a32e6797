// Fuzz target: prun's command templates and replacement strings (Template::parse and the
// expansions). Input: option byte, then "-I text \x01 words (NUL-separated) \x01 inputs
// (NUL-separated)". Properties: a template without replacement strings keeps its words as they
// are (the inputs are appended); every expansion of a template that parsed works for any input.
#include "fuzz.hpp"

#include "template.hpp"

#include <vector>

using namespace prockit;
using namespace prockit::prun;

namespace {

std::vector<std::string> split(std::string_view s, char sep) {
    std::vector<std::string> out;
    if (s.empty()) return out;
    for (;;) {
        std::size_t i = s.find(sep);
        out.emplace_back(s.substr(0, i));
        if (i == std::string_view::npos) return out;
        s.remove_prefix(i + 1);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::Input in(data, size);
    const std::uint8_t opt = in.byte();
    const Multi multi = static_cast<Multi>(opt % 3);
    const std::size_t n_sources = multi == Multi::none ? 1 + (opt >> 2) % 4 : 1;
    const std::string replace(in.until('\x01'));
    const std::vector<std::string> words = split(in.until('\x01'), '\0');
    std::vector<std::string> inputs = split(in.rest(), '\0');
    if (inputs.empty()) inputs.emplace_back();
    if (multi == Multi::none) inputs.resize(n_sources);

    auto t = Template::parse(words, n_sources, replace);
    if (!t) return 0;
    JobValues v;
    v.inputs = &inputs;
    v.seq = 1 + opt;
    v.slot = opt & 7;
    v.multi = multi;
    std::vector<std::string> argv = t->expand_argv(v);
    std::string script = t->expand_shell(v);
    (void)t->uses_inputs();
    (void)t->fixed_program();
    std::size_t chars = t->base_chars(multi, false);
    for (const auto& i : inputs) chars += t->arg_chars(i, multi, false);
    (void)chars;
    if (!t->has_replacements()) {
        FUZZ_CHECK(argv.size() >= words.size(), std::to_string(argv.size()));
        for (std::size_t i = 0; i < words.size(); ++i) FUZZ_CHECK(argv[i] == words[i], words[i] + " -> " + argv[i]);
    }
    auto one = Template::parse_text(words.empty() ? std::string() : words[0], n_sources, replace);
    if (one) (void)one->expand_text(v);
    // Quoting: a quoted word is never empty and holds no newline outside single quotes.
    for (const auto& i : inputs) {
        std::string q = shell_quote(i);
        FUZZ_CHECK(!q.empty(), i);
    }
    (void)shell_join(argv);
    return 0;
}
