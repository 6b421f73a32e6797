// Fuzz target: prun's joblog reader (parse_joblog, what --resume and --resume-failed read), TSV and
// JSON lines. Properties: a log that parses names only positive sequence numbers, its succeeded
// jobs are among all of them; and a line that JobLog writes (tsv_line, jsonl_line) for a job made
// of the input's bytes parses back to that job (a joblog prun wrote is always readable).
#include "fuzz.hpp"

#include "joblog.hpp"

#include <cstring>

using namespace prockit;
using namespace prockit::prun;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::Input in(data, size);
    const std::uint8_t opt = in.byte();
    const bool jsonl = opt & 1;
    if (!(opt & 2)) {
        auto r = parse_joblog(std::string(in.rest()), jsonl);
        if (!r) return 0;
        for (auto s : r->all) FUZZ_CHECK(s > 0, std::to_string(s));
        for (auto s : r->succeeded) FUZZ_CHECK(r->all.count(s) == 1, std::to_string(s));
        return 0;
    }
    // A job record made of the input: numbers from the next bytes, then name, command, argv.
    JobLogEntry e;
    std::uint64_t seq = 0;
    for (int i = 0; i < 4; ++i) seq = (seq << 8) | in.byte();
    e.seq = seq + 1;
    e.exitval = static_cast<std::int8_t>(in.byte());
    e.signal = in.byte() % 65;
    e.start = 1.7e9 + in.byte();
    e.runtime = in.byte() / 7.0;
    e.sent = in.byte();
    e.received = in.byte();
    e.attempts = in.byte();
    e.slot = in.byte();
    e.timed_out = opt & 4;
    if (opt & 8) e.usage = ResourceUsage{};
    e.name = std::string(in.until('\x01'));
    e.cpus = std::string(in.until('\x01'));
    e.command = std::string(in.until('\x01'));
    while (!in.empty()) e.argv.emplace_back(in.until('\x01'));
    const std::string line = jsonl ? JobLog::jsonl_line(e) : JobLog::tsv_line(e);
    FUZZ_CHECK(!line.empty() && line.back() == '\n' && line.find('\n') == line.size() - 1, "a record is not one line");
    auto back = parse_joblog(line, jsonl);
    FUZZ_CHECK(back.has_value(), "a written record does not parse: " + back.error().context() + ": " + line);
    FUZZ_CHECK(back->all.size() == 1 && *back->all.begin() == e.seq, line);
    FUZZ_CHECK(back->succeeded.count(e.seq) == (e.exitval == 0 && e.signal == 0 ? 1u : 0u), line);
    return 0;
}
