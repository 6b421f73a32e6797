// Fuzz target: poomguard's rules files (oom::RuleSet::parse). Properties: every diagnostic has a
// line within the text and a message; rule names are unique; every rule has an action; matching a
// process against each rule (globs, regexes, cgroups) works for any rule that loaded.
#include "fuzz.hpp"

#include <prockit/oom/rules.hpp>

#include <algorithm>
#include <set>

using namespace prockit;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    oom::RuleSet set;
    std::vector<oom::Diagnostic> diags;
    set.parse(text, "fuzz.conf", diags);
    const long lines = static_cast<long>(std::count(text.begin(), text.end(), '\n')) + 1;
    for (const auto& d : diags) {
        FUZZ_CHECK(d.line >= 1 && d.line <= lines && d.column >= 0, d.text());
        FUZZ_CHECK(!d.message.empty(), d.text());
        (void)d.text();
    }
    std::set<std::string> names;
    for (const auto& r : set.rules()) {
        FUZZ_CHECK(names.insert(r.name).second, "rule name twice: " + r.name);
        FUZZ_CHECK(r.leader >= -1000 && r.leader <= 1000, r.name);
        FUZZ_CHECK(r.children.inherit || (r.children.value >= -1000 && r.children.value <= 1000), r.name);
    }
    oom::ProcessFacts p;
    p.pid = 4242;
    p.ppid = 1;
    p.comm = "postgres";
    p.exe = "/usr/lib/postgresql/15/bin/postgres";
    p.cmdline = "postgres: checkpointer -D /var/lib/postgresql";
    p.uid = 0;
    p.cgroups = {"/system.slice/postgresql@15-main.service"};
    p.fields = ~0u;
    for (std::size_t i = 0; i < set.size(); ++i) (void)set.matches(i, p);
    (void)set.first_match(p);
    (void)set.some_exe_glob_matches(p.exe);
    (void)set.needs();
    return 0;
}
