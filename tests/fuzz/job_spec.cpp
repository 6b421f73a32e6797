// Fuzz target: job specs (parse_job_spec, resolve_job_spec). Properties: a spec that parses is
// written back by to_string() as a text that parses to the same spec; resolving it against a
// small job table names a job of that table or fails cleanly.
#include "fuzz.hpp"

#include <prockit/jobs/job_control.hpp>

using namespace prockit;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::Input in(data, size);
    const bool allow_pid = in.byte() & 1;
    const std::string_view text = in.rest();
    auto spec = parse_job_spec(text, allow_pid);
    if (!spec) return 0;
    const std::string again = to_string(*spec);
    auto back = parse_job_spec(again, allow_pid);
    FUZZ_CHECK(back.has_value(), std::string(text) + " -> " + again);
    FUZZ_CHECK(*back == *spec, std::string(text) + " -> " + again);
    std::vector<JobEntry> jobs(3);
    jobs[0] = JobEntry{1, "sleep 100", {4242}, false, false, 1};
    jobs[1] = JobEntry{2, "vim notes", {4243, 4244}, true, false, 2};
    jobs[2] = JobEntry{3, "make -j2", {4245}, false, true, 3};
    auto n = resolve_job_spec(*spec, jobs);
    if (n) FUZZ_CHECK(*n >= 1 && *n <= 3, std::to_string(*n));
    (void)current_jobs(jobs);
    return 0;
}
