// Fuzz target: the pjobs server's state file reader (parse_table, Paths::table()) and what the
// server then does with the records it loaded: the current and previous job, `pjobs list` lines,
// states and statuses. Properties: every job kept has an integer id and an argv array; a line
// is counted once (kept, a group, the header, empty, or bad); nothing throws.
#include "fuzz.hpp"

#include "proto.hpp"

#include <algorithm>

using namespace prockit;
using namespace prockit::pjobs;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    Table t = parse_table(text);
    FUZZ_CHECK(t.bad <= t.lines, std::to_string(t.bad));
    FUZZ_CHECK(t.jobs.size() + static_cast<std::size_t>(t.bad) <= static_cast<std::size_t>(t.lines), std::to_string(t.lines));
    for (const auto& [id, j] : t.jobs) {
        FUZZ_CHECK(j.is_object() && j["id"].is_number_integer() && j["id"].get<long>() == id, j.dump());
        FUZZ_CHECK(j["argv"].is_array(), j.dump());
        // As the server uses a record (server.cpp: current_previous, resolve, list).
        (void)j.value("touch", 0L);
        (void)j.value("state", "");
        (void)j.value("name", "");
        (void)j.value("pid", 0L);
        (void)job_line(j, 1, 2);
        (void)job_status(j);
        (void)job_finished(j);
        (void)command_text(j);
    }
    return 0;
}
