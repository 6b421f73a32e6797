// poomguard set ... --follow: after setting, keeps the set's values on the selected processes'
// future children (an ad-hoc rule for the selected PIDs, run by the same loop as watch) until
// every selected process has exited, or SIGTERM/SIGINT (status 0).
#include "common.hpp"
#include "subcommands.hpp"

#include "common/cli.hpp"
#include "common/exit_codes.hpp"

#include <prockit/oom/enforcer.hpp>
#include <prockit/supervise/event_loop.hpp>

#include <csignal>
#include <cstdio>
#include <poll.h>

namespace prockit::poomguard {

int follow_set(const std::vector<proc::ProcessRef>& leaders, int adj, std::optional<int> child_adj, bool dry_run,
               bool quiet, const FsRoot& fs) {
    oom::Rule rule;
    rule.name = "set";
    for (const proc::ProcessRef& p : leaders) rule.pids.push_back(p.pid);
    rule.leader = adj;
    rule.children = child_adj ? oom::ChildrenAdj{false, *child_adj} : oom::ChildrenAdj{};
    oom::RuleSet set;
    set.add(std::move(rule)).value();

    // Held by pidfd: the follow ends when the last of them exits (a reused PID is not followed).
    std::vector<proc::PinnedProcess> pinned;
    for (const proc::ProcessRef& p : leaders)
        if (auto pin = proc::PinnedProcess::pin(p, fs)) pinned.push_back(std::move(*pin));
    if (pinned.empty()) return tools::exit_ok;

    bool failed = false;
    oom::Enforcer::Options eo;
    eo.dry_run = dry_run;
    oom::Enforcer enforcer(
        std::move(set), eo,
        [quiet](const oom::Change& c) {
            if (quiet) return;
            std::string line = who(c.pid, c.comm) + (c.role == oom::Role::child ? " [child]" : "") + ": oom_score_adj " +
                               std::to_string(c.from) + " -> " + std::to_string(c.to);
            out_line(c.dry_run ? "would set " + line : line);
            std::fflush(stdout);
        },
        [&failed](const oom::Failure& f) {
            failed = true;
            tools::print_error(describe(f.error));
        },
        fs);
    EventLoop loop;
    bool stop = false;
    loop.watch_signals({SIGTERM, SIGINT}, [&](const signalfd_siginfo&) { stop = true; }, EventLoop::MaskOnExit::keep)
        .value();
    std::size_t alive = 0;
    for (const proc::PinnedProcess& p : pinned) {
        if (p.pidfd() < 0) continue;  // a fixture tree: nothing to wait on
        ++alive;
        auto id = std::make_shared<EventLoop::Id>(0);
        *id = loop.watch(p.pidfd(), POLLIN, [&loop, &alive, id](short) {
            loop.unwatch(*id);
            --alive;
        });
    }
    enforcer.attach(loop).value();
    enforcer.scan();
    if (!enforcer.using_events())
        tools::print_warning("following with a /proc scan every second (" + enforcer.fallback_reason() + ")");
    while (!stop && alive > 0) {
        auto st = loop.run_once();
        if (!st) {
            tools::print_error(st.error());
            return tools::exit_failure;
        }
    }
    return failed ? tools::exit_failure : tools::exit_ok;
}

}  // namespace prockit::poomguard
