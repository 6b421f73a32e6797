// paffinity --set --follow: after the change, keeps applying the masks to new threads and child
// processes (the library's AffinityFollower) until SIGINT, SIGTERM or SIGHUP, reporting each.
#include "modes.hpp"

#include "common/cli.hpp"
#include "common/exit_codes.hpp"
#include "common/json.hpp"

#include <prockit/sys/syscall.hpp>

#include <csignal>
#include <cstdio>
#include <sys/signalfd.h>

namespace prockit::paffinity {

namespace {

// A stop fd for --follow: SIGINT/SIGTERM/SIGHUP blocked and delivered through a signalfd.
unique_fd stop_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &set, nullptr) != 0) throw SystemError(last_error("block SIGINT and SIGTERM"));
    int fd = ::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (fd < 0) throw SystemError(last_error("create a signalfd"));
    return unique_fd(fd);
}

// One event as a line: JSON with --json, else words.
void report(const Options& o, const FollowEvent& e) {
    if (e.kind == FollowEvent::Kind::failed) {
        tools::print_error(e.error);
        return;
    }
    if (o.quiet) return;
    if (o.json) {
        tools::JsonWriter j;
        const char* kind = e.kind == FollowEvent::Kind::thread  ? "thread"
                           : e.kind == FollowEvent::Kind::child ? "child"
                                                                : "exited";
        j.begin_object().key("event").value(kind).key("pid").value(e.pid).key("tid").value(e.tid);
        if (e.kind != FollowEvent::Kind::exited) json_cpus(j, "cpus", e.cpus);
        j.end_object();
        out_line(j.str());
    } else if (e.kind == FollowEvent::Kind::thread) {
        out_line("pid " + std::to_string(e.pid) + " thread " + std::to_string(e.tid) + ": set to " + e.cpus.to_list());
    } else if (e.kind == FollowEvent::Kind::child) {
        out_line("pid " + std::to_string(e.pid) + " (new child process): set to " + e.cpus.to_list());
    } else {
        out_line("pid " + std::to_string(e.pid) + ": exited");
    }
    std::fflush(stdout);
}

}  // namespace

Following start_following(const Options& o, AffinityFollower::MaskFor mask_for, const FsRoot& fs) {
    Following f;
    f.stop = stop_signals();
    FollowOptions fo;
    fo.method = o.poll ? FollowOptions::Method::poll : FollowOptions::Method::automatic;
    fo.poll_interval = std::chrono::milliseconds(o.poll_interval_ms);
    f.follower = std::make_unique<AffinityFollower>(
        std::move(mask_for), [&o](const FollowEvent& e) { report(o, e); }, fo, fs);
    if (auto st = f.follower->start(); !st) throw SystemError(st.error());
    return f;
}

int keep_following(Following& f) {
    AffinityFollower& follower = *f.follower;
    if (follower.size() == 0) {
        tools::print_error("nothing to follow");
        return tools::exit_failure;
    }
    tools::print_error("following " + std::to_string(follower.size()) + " process" +
                       (follower.size() == 1 ? "" : "es") + " (" + follower.method() + "); interrupt to stop");
    auto st = follower.run(f.stop.get());
    if (!st) {
        tools::print_error(st.error());
        return tools::exit_failure;
    }
    std::fflush(stdout);
    if (follower.size() == 0) tools::print_error("every followed process exited");
    return tools::exit_ok;
}

}  // namespace prockit::paffinity
