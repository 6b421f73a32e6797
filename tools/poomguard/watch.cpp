// poomguard watch [--config FILE]... [--dry-run] [--once]: applies the rules to every process now
// and then to every process as it forks or execs (the proc connector; a periodic /proc scan where
// it cannot be opened), logging each change on stdout. SIGHUP reloads the rules; SIGTERM and
// SIGINT end it with status 0. A bad rule is reported and left out; the good ones keep working.
#include "common.hpp"
#include "rules_files.hpp"
#include "subcommands.hpp"

#include "common/cli.hpp"
#include "common/duration.hpp"
#include "common/exit_codes.hpp"

#include <prockit/oom/enforcer.hpp>
#include <prockit/supervise/event_loop.hpp>
#include <prockit/sys/notify.hpp>

#include <csignal>
#include <cstdio>

namespace prockit::poomguard {

using tools::non_empty;

void add_watch(CLI::App& app, Options& o) {
    auto* sub = app.add_subcommand("watch", "Apply the rules to every matching process, now and as processes start");
    sub->set_help_flag("-h,--help", "Print this help and exit");
    sub->add_option("-c,--config", o.watch.configs,
                    "Read the rules from FILE (repeatable; default: /etc/poomguard.conf, /etc/poomguard.d/*.conf)")
        ->type_name("FILE")
        ->check(non_empty("--config", "file name"));
    sub->add_flag("--dry-run", o.watch.dry_run, "Log what would change, change nothing");
    sub->add_flag("--once", o.watch.once, "Apply the rules to the current processes and exit");
    sub->add_option("--interval", o.watch.interval,
                    "How often to re-read pidfiles, and to rescan /proc without the proc connector (default 1s)")
        ->type_name("DURATION")
        ->check(non_empty("--interval", "duration"));
    sub->callback([&o] { o.subcommand = "watch"; });
}

namespace {

std::string change_line(const oom::Change& c) {
    std::string line = who(c.pid, c.comm) + ": oom_score_adj " + std::to_string(c.from) + " -> " +
                       std::to_string(c.to) + " (rule " + c.rule + ", " +
                       (c.role == oom::Role::leader ? "leader" : "child") + ")";
    return c.dry_run ? "would set " + line : line;
}

}  // namespace

int run_watch(const Options& o, const FsRoot& fs) {
    auto parsed = tools::parse_duration(o.watch.interval);
    if (!parsed) throw tools::UsageError("cannot parse --interval \"" + o.watch.interval + "\": " + tools::error_reason(parsed.error()));
    auto interval = std::chrono::duration_cast<std::chrono::milliseconds>(*parsed);
    if (interval.count() <= 0) throw tools::UsageError("cannot parse --interval \"" + o.watch.interval + "\": must be at least 1ms");
    LoadedRules loaded = load_rules_files(o.watch.configs, fs);
    warn_diagnostics(loaded.diagnostics);
    bool failed = !loaded.diagnostics.empty();

    oom::Enforcer::Options eo;
    eo.dry_run = o.watch.dry_run;
    eo.poll_interval = interval;
    oom::Enforcer enforcer(
        std::move(loaded.rules), eo,
        [](const oom::Change& c) {
            out_line(change_line(c));
            std::fflush(stdout);
        },
        [&failed](const oom::Failure& f) {
            failed = true;
            std::string what = f.pid == 0 ? describe(f.error)
                                          : describe(f.error) + " (rule " + f.rule + ")";
            tools::print_error(what);
        },
        fs);

    if (o.watch.once) {
        enforcer.scan();
        return failed ? tools::exit_failure : tools::exit_ok;
    }

    EventLoop loop;
    bool stop = false;
    // Readiness for systemd (Type=notify, when NOTIFY_SOCKET is set): a failed notification is
    // reported and the watch goes on, since the rules are what matters.
    auto tell_systemd = [](const Result<bool>& sent) {
        if (!sent) tools::print_warning(sent.error().message());
    };
    auto reload = [&] {
        tell_systemd(notify_reloading());
        LoadedRules again = load_rules_files(o.watch.configs, fs);
        warn_diagnostics(again.diagnostics);
        tools::print_warning("reloaded " + std::to_string(again.rules.size()) + " rules");
        enforcer.set_rules(std::move(again.rules));
        tell_systemd(notify_ready());
    };
    loop.watch_signals({SIGHUP, SIGTERM, SIGINT},
                       [&](const signalfd_siginfo& si) {
                           if (si.ssi_signo == SIGHUP) {
                               reload();
                           } else {
                               stop = true;
                           }
                       },
                       EventLoop::MaskOnExit::keep)
        .value();
    // Events first, then the scan: a process that starts during the scan is seen either way.
    enforcer.attach(loop).value();
    enforcer.scan();
    std::string how = enforcer.using_events()
                          ? std::string("process events")
                          : "a /proc scan every " + o.watch.interval + " (" + enforcer.fallback_reason() + ")";
    std::string started = "watching " + std::to_string(enforcer.rules().size()) +
                          (enforcer.rules().size() == 1 ? " rule" : " rules") + " with " + how;
    std::string line = tools::tool_name() + ": " + started + "\n";
    std::fwrite(line.data(), 1, line.size(), stderr);
    tell_systemd(notify_status(started));
    tell_systemd(notify_ready());  // the first full scan is done
    while (!stop) {
        auto st = loop.run_once();
        if (!st) {
            tools::print_error(st.error());
            return tools::exit_failure;
        }
    }
    tell_systemd(notify_stopping());
    return tools::exit_ok;
}

}  // namespace prockit::poomguard
