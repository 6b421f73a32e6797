// poomguard set ADJ [selection] [--children reset|inherit|VALUE]: writes oom_score_adj of the
// selected processes (the leaders) and, with --children, of their existing descendants.
#include "common.hpp"
#include "subcommands.hpp"

#include "common/cli.hpp"
#include "common/exit_codes.hpp"
#include "common/json.hpp"

#include <prockit/oom/score.hpp>

#include <algorithm>
#include <optional>
#include <unordered_set>

namespace prockit::poomguard {

using tools::non_empty;

using tools::UsageError;

void add_set(CLI::App& app, Options& o) {
    auto* sub = app.add_subcommand("set", "Set oom_score_adj of the selected processes (and their children)");
    sub->set_help_flag("-h,--help", "Print this help and exit");
    sub->add_option("adj", o.set.adj, "The oom_score_adj to set, -1000 (never kill) to 1000 (kill first)")
        ->required()
        ->type_name("ADJ");
    add_selection(*sub, o.sel);
    auto* chg = "Changing";
    sub->add_option("--children", o.set.children,
                    "Also set the existing descendants of the selected processes: 'reset' (0), 'inherit' (ADJ) "
                    "or VALUE; a selected process below another selected one counts as a child")
        ->group(chg)
        ->type_name("WHAT")
        ->check(non_empty("--children", "value (reset, inherit or a number)"));
    sub->add_flag("--dry-run", o.set.dry_run, "Show what would change, change nothing")->group(chg);
    sub->add_flag("--follow", o.set.follow,
                  "Keep the values on future children too, until the selected processes exit (or SIGTERM)")
        ->group(chg);
    sub->add_flag("-q,--quiet", o.set.quiet, "Print nothing on success")->group("Output");
    sub->add_flag("-J,--json", o.set.json, "Machine-readable output on stdout")->group("Output");
    sub->callback([&o] { o.subcommand = "set"; });
}

namespace {

struct Target {
    proc::ProcessRef ref;
    int adj = 0;
    bool leader = true;
    bool given = false;  ///< its PID was named (positional, --pid, --pidfile): its end is an error
};

struct Outcome {
    const Target* target;
    int from = 0;
    bool changed = false;
};

}  // namespace

int run_set(const Options& o, const FsRoot& fs) {
    int adj = parse_adj_arg(o.set.adj, "ADJ");
    std::optional<int> child_adj;
    if (o.set.children) {
        const std::string& c = *o.set.children;
        if (c == "reset") child_adj = 0;
        else if (c == "inherit") child_adj = adj;
        else child_adj = parse_adj_arg(c, "--children");
    }
    if (!o.sel.given()) throw UsageError("cannot use set: it needs a selection (PID, --pid, --name, --match, --exe, --user, --cgroup, --pidfile, --unit)");
    if (o.set.json && o.set.quiet) throw UsageError("cannot use --json with --quiet: they exclude each other");
    if (o.set.json && o.set.follow) throw UsageError("cannot use --follow with --json: they exclude each other");

    bool failed = false;
    auto leaders = select(o.sel, fs, failed);
    std::unordered_set<pid_t> given;
    for (const std::string& p : o.sel.positional) given.insert(static_cast<pid_t>(std::stol(p)));
    for (pid_t p : o.sel.pids) given.insert(p);
    for (const std::string& f : o.sel.pidfiles)
        if (auto p = read_pidfile(f)) given.insert(*p);

    std::vector<Target> targets;
    if (child_adj) {
        std::vector<pid_t> roots;
        for (const proc::ProcessRef& p : leaders) roots.push_back(p.pid);
        auto desc = oom::descendants_of(roots, fs);
        if (!desc) throw SystemError(desc.error());
        std::unordered_set<pid_t> below;
        for (const proc::ProcessRef& d : *desc) below.insert(d.pid);
        for (const proc::ProcessRef& p : leaders)
            if (!below.count(p.pid)) targets.push_back({p, adj, true, given.count(p.pid) > 0});
        for (const proc::ProcessRef& d : *desc)
            if (!d.kernel_thread) targets.push_back({d, *child_adj, false, false});
    } else {
        for (const proc::ProcessRef& p : leaders) targets.push_back({p, adj, true, given.count(p.pid) > 0});
    }

    std::vector<Outcome> done;
    for (const Target& t : targets) {
        auto from = oom::read_oom_score_adj(t.ref.pid, fs);
        if (!from) {
            if (t.given) {
                tools::print_error(Error::from_errno(ESRCH, "find process " + std::to_string(t.ref.pid)));
                failed = true;
            }
            continue;  // it exited since the selection found it
        }
        if (!o.set.dry_run) {
            auto st = oom::set_oom_score_adj(t.ref, t.adj, fs);
            if (!st) {
                if (st.error().errno_value() == ESRCH && !t.given) continue;
                tools::print_error(describe(st.error()));
                failed = true;
                continue;
            }
        }
        done.push_back({&t, *from, *from != t.adj});
    }

    if (o.set.json) {
        tools::JsonWriter j;
        j.begin_object().key("dry_run").value(o.set.dry_run).key("processes").begin_array();
        for (const Outcome& d : done) {
            j.begin_object().key("pid").value(d.target->ref.pid).key("name").value(d.target->ref.comm);
            j.key("role").value(d.target->leader ? "leader" : "child");
            j.key("from").value(d.from).key("to").value(d.target->adj).end_object();
        }
        j.end_array().end_object();
        out_line(j.str());
    } else if (!o.set.quiet) {
        for (const Outcome& d : done) {
            std::string line = who(d.target->ref.pid, d.target->ref.comm) + (d.target->leader ? "" : " [child]") +
                               ": oom_score_adj " + std::to_string(d.from) + " -> " + std::to_string(d.target->adj);
            if (o.set.dry_run) line = "would set " + line;
            out_line(line);
        }
    }
    if (o.set.follow) {
        if (failed) return tools::exit_failure;
        return follow_set(leaders, adj, child_adj, o.set.dry_run, o.set.quiet, fs);
    }
    return failed ? tools::exit_failure : tools::exit_ok;
}

}  // namespace prockit::poomguard
