// poomguard show: PID, name, oom_score, oom_score_adj, RSS, swap and command of the selected
// processes (every user process without a selection), in PID order.
#include "common.hpp"
#include "subcommands.hpp"

#include "common/cli.hpp"
#include "common/exit_codes.hpp"
#include "common/json.hpp"

#include <cstdio>

namespace prockit::poomguard {

void add_show(CLI::App& app, Options& o) {
    auto* sub = app.add_subcommand("show", "Show oom_score, oom_score_adj, RSS and swap of processes (all by default)");
    sub->set_help_flag("-h,--help", "Print this help and exit");
    add_selection(*sub, o.sel);
    sub->add_flag("-J,--json", o.show.json, "Machine-readable output on stdout")->group("Output");
    sub->callback([&o] { o.subcommand = "show"; });
}

void print_table_header() {
    char line[160];
    std::snprintf(line, sizeof line, "%8s  %-15s %5s %5s %7s %7s  %s", "PID", "NAME", "SCORE", "ADJ", "RSS", "SWAP",
                  "COMMAND");
    out_line(line);
}

void print_table_row(const Facts& f) {
    char line[160];
    std::snprintf(line, sizeof line, "%8d  %-15s %5d %5d %7s %7s  ", f.pid, f.name.c_str(), f.oom_score,
                  f.oom_score_adj, human_kib(f.rss_kib).c_str(), human_kib(f.swap_kib).c_str());
    out(line);
    out_line(f.command);
}

void json_facts(tools::JsonWriter& j, const Facts& f) {
    j.begin_object().key("pid").value(f.pid).key("name").value(f.name).key("oom_score").value(f.oom_score);
    j.key("oom_score_adj").value(f.oom_score_adj);
    j.key("rss_kib");
    if (f.rss_kib < 0) j.null(); else j.value(f.rss_kib);
    j.key("swap_kib");
    if (f.swap_kib < 0) j.null(); else j.value(f.swap_kib);
    j.key("command").value(f.command).end_object();
}

int run_show(const Options& o, const FsRoot& fs) {
    bool failed = false;
    std::vector<Facts> rows;
    std::size_t selected = 0;
    if (o.sel.given()) {
        auto procs = select(o.sel, fs, failed);
        selected = procs.size();
        proc::ProcReader reader(fs);
        rows.reserve(procs.size());
        for (const proc::ProcessRef& p : procs) {
            // A process that exited since the selection found it is not listed.
            auto f = read_facts(reader, p);
            if (f) rows.push_back(std::move(*f));
        }
    } else {
        rows = scan_all(fs);
    }
    if (!failed && !o.sel.allow_none && selected != 0 && rows.empty()) {
        tools::print_error("cannot find a process matching the selection: not found");
        failed = true;
    }
    if (o.show.json) {
        tools::JsonWriter j;
        j.begin_object().key("processes").begin_array();
        for (const Facts& f : rows) json_facts(j, f);
        j.end_array().end_object();
        out_line(j.str());
    } else if (!rows.empty()) {
        print_table_header();
        for (const Facts& f : rows) print_table_row(f);
    }
    return failed ? tools::exit_failure : tools::exit_ok;
}

}  // namespace prockit::poomguard
