// poomguard check-config [FILE...]: validates rules files (by default /etc/poomguard.conf and
// /etc/poomguard.d/*.conf) and prints each problem as "file:line:col: message" on stderr.
#include "common.hpp"
#include "rules_files.hpp"
#include "subcommands.hpp"

#include "common/cli.hpp"
#include "common/exit_codes.hpp"

#include <prockit/oom/rules.hpp>

#include <cstdio>

namespace prockit::poomguard {

using tools::non_empty;

void add_check_config(CLI::App& app, Options& o) {
    auto* sub = app.add_subcommand("check-config", "Validate rules files (default: /etc/poomguard.conf, /etc/poomguard.d/*.conf)");
    sub->set_help_flag("-h,--help", "Print this help and exit");
    sub->add_option("files", o.check.files, "Rules files to check")->type_name("FILE")->check(non_empty("FILE", "file name"));
    sub->add_flag("-q,--quiet", o.check.quiet, "Print only the problems")->group("Output");
    sub->add_flag("--list-rules", o.check.list_rules, "Print the names of the valid rules, one a line")->group("Output");
    sub->callback([&o] { o.subcommand = "check-config"; });
}

int run_check_config(const Options& o, const FsRoot& fs) {
    LoadedRules loaded = load_rules_files(o.check.files, fs);
    for (const oom::Diagnostic& d : loaded.diagnostics) {
        std::string line = d.text() + "\n";
        std::fwrite(line.data(), 1, line.size(), stderr);
    }
    if (o.check.list_rules) {
        std::string names;
        for (const oom::Rule& r : loaded.rules.rules()) names += r.name + "\n";
        std::fwrite(names.data(), 1, names.size(), stdout);
    } else if (!o.check.quiet && loaded.diagnostics.empty()) {
        out_line(std::to_string(loaded.rules.size()) + (loaded.rules.size() == 1 ? " rule" : " rules") + " in " +
                 std::to_string(loaded.files.size()) + (loaded.files.size() == 1 ? " file" : " files") + ": ok");
    }
    return loaded.diagnostics.empty() ? tools::exit_ok : tools::exit_failure;
}

}  // namespace prockit::poomguard
