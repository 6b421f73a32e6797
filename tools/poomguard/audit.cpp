// poomguard audit [--config FILE]... [-J]: lists the processes with a negative oom_score_adj that
// no rule covers, and the protected processes whose children kept the protection (a child with its
// parent's negative value that no rule gives it). Exit status 1 when it finds any.
#include "common.hpp"
#include "rules_files.hpp"
#include "subcommands.hpp"

#include "common/cli.hpp"
#include "common/exit_codes.hpp"
#include "common/json.hpp"

#include <prockit/oom/rules.hpp>
#include <prockit/oom/score.hpp>

#include <algorithm>
#include <optional>
#include <unordered_map>

namespace prockit::poomguard {

using tools::non_empty;

void add_audit(CLI::App& app, Options& o) {
    auto* sub = app.add_subcommand("audit", "List protected processes no rule covers, and children that kept a protection");
    sub->set_help_flag("-h,--help", "Print this help and exit");
    sub->add_option("-c,--config", o.audit.configs,
                    "Read the rules from FILE (repeatable; default: /etc/poomguard.conf, /etc/poomguard.d/*.conf)")
        ->type_name("FILE")
        ->check(non_empty("--config", "file name"));
    sub->add_flag("-J,--json", o.audit.json, "Machine-readable output on stdout")->group("Output");
    sub->callback([&o] { o.subcommand = "audit"; });
}

namespace {

struct Finding {
    pid_t pid = 0;
    std::string comm;
    int adj = 0;
    std::string kind;    ///< "uncovered" or "inherited"
    pid_t parent = 0;    ///< inherited: the parent whose protection it kept
    std::string rule;    ///< the rule covering it, if any
    std::string text;
};

}  // namespace

int run_audit(const Options& o, const FsRoot& fs) {
    LoadedRules loaded = load_rules_files(o.audit.configs, fs);
    // Without rules every protection is uncovered, which is what an audit should say; a missing
    // default file is therefore not an error here, a broken given file is.
    bool failed = false;
    for (const oom::Diagnostic& d : loaded.diagnostics) {
        if (o.audit.configs.empty() && d.line == 0 && loaded.files.empty()) continue;
        tools::print_warning(d.text());
        failed = true;
    }
    proc::ProcReader reader(fs);
    auto scanned = oom::snapshot(loaded.rules, reader);
    if (!scanned) {
        tools::print_error(scanned.error());
        return tools::exit_failure;
    }
    std::vector<oom::ProcessFacts> snap = std::move(*scanned);
    std::vector<oom::Assignment> covered = oom::assign(loaded.rules, snap);
    std::unordered_map<pid_t, const oom::Assignment*> by_pid;
    for (const oom::Assignment& a : covered) by_pid[a.pid] = &a;
    std::unordered_map<pid_t, int> adj;
    std::unordered_map<pid_t, pid_t> ppid;
    for (const oom::ProcessFacts& f : snap) {
        ppid[f.pid] = f.ppid;
        if (auto v = oom::read_oom_score_adj(f.pid, fs)) adj[f.pid] = *v;
    }

    std::vector<Finding> findings;
    for (const oom::ProcessFacts& f : snap) {
        auto it = adj.find(f.pid);
        if (it == adj.end() || it->second >= 0) continue;
        const int v = it->second;
        auto cov = by_pid.find(f.pid);
        std::optional<int> intended;
        std::string rule;
        bool covered_here = cov != by_pid.end();
        if (covered_here) {
            rule = loaded.rules.rules()[cov->second->rule].name;
            intended = cov->second->target();
            if (!intended || *intended == v) continue;  // the rule wants it (inherit, or this value)
        }
        pid_t parent = ppid.count(f.pid) ? ppid[f.pid] : 0;
        auto padj = adj.find(parent);
        bool inherited = parent > 1 && padj != adj.end() && padj->second == v;
        Finding x;
        x.pid = f.pid;
        x.comm = f.comm;
        x.adj = v;
        x.rule = rule;
        if (inherited) {
            x.kind = "inherited";
            x.parent = parent;
            auto pcomm = std::find_if(snap.begin(), snap.end(), [&](const oom::ProcessFacts& p) { return p.pid == parent; });
            x.text = who(f.pid, f.comm) + ": oom_score_adj " + std::to_string(v) + " kept from its parent " +
                     who(parent, pcomm != snap.end() ? pcomm->comm : "?");
        } else {
            x.kind = "uncovered";
            x.text = who(f.pid, f.comm) + ": oom_score_adj " + std::to_string(v) + " and no rule covers it";
        }
        if (covered_here) {
            x.kind = inherited ? "inherited" : "differs";
            x.text += (inherited ? "" : std::string(": not its rule's value")) + " (rule " + rule + " says " +
                      std::to_string(*intended) + ")";
        }
        findings.push_back(std::move(x));
    }

    if (o.audit.json) {
        tools::JsonWriter j;
        j.begin_object().key("findings").begin_array();
        for (const Finding& x : findings) {
            j.begin_object().key("pid").value(x.pid).key("name").value(x.comm).key("oom_score_adj").value(x.adj);
            j.key("kind").value(x.kind);
            if (x.parent) j.key("parent").value(x.parent);
            if (!x.rule.empty()) j.key("rule").value(x.rule);
            j.end_object();
        }
        j.end_array().end_object();
        out_line(j.str());
    } else {
        for (const Finding& x : findings) out_line(x.text);
    }
    return failed || !findings.empty() ? tools::exit_failure : tools::exit_ok;
}

}  // namespace prockit::poomguard
