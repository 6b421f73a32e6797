// tools/pjobs/commands.cpp — the modes other than fg: run, list, bg/stop/kill, wait, logs, rm,
// clean, group, server.
#include "client.hpp"
#include "pjobs_cli.hpp"
#include "server.hpp"
#include "common/cli.hpp"

#include <prockit/oom/score.hpp>
#include <prockit/sched/cpuset.hpp>
#include <prockit/sys/signals.hpp>

#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <deque>
#include <fcntl.h>
#include <iostream>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

extern char** environ;

namespace prockit::pjobs {

using nlohmann::json;

namespace {

void print_warnings(const json& reply) {
    for (const auto& w : reply.value("warnings", json::array())) std::fprintf(stderr, "pjobs: warning: %s\n", w.get<std::string>().c_str());
}

std::string spec_of(const Options& o) { return o.specs.empty() ? std::string() : o.specs[0]; }

}  // namespace

int mode_run(const Paths& p, const Options& o) {
    if (o.command.empty()) throw Failure("cannot run a job: no command given; try 'pjobs run -- CMD ARGS'", 2);
    json req = {{"op", "run"}, {"argv", o.command}, {"tty", !o.no_tty}};
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) env.emplace_back(*e);
    for (const auto& kv : o.env) {
        auto eq = kv.find('=');
        if (eq == std::string::npos || eq == 0) throw Failure("cannot parse --env \"" + kv + "\": expected KEY=VALUE", 2);
        std::string key = kv.substr(0, eq + 1);
        std::erase_if(env, [&](const std::string& x) { return x.rfind(key, 0) == 0; });
        env.push_back(kv);
    }
    req["env"] = env;
    std::string cwd = o.cwd;
    if (cwd.empty() || cwd[0] != '/') {
        char buf[PATH_MAX];
        if (!getcwd(buf, sizeof buf)) throw Failure(std::string("cannot run a job: cannot read the working directory: ") + std::strerror(errno));
        cwd = cwd.empty() ? std::string(buf) : std::string(buf) + "/" + cwd;
    }
    // A file that is no directory says so (access(X_OK) alone said "Permission denied" for root).
    struct stat st {};
    int err = 0;
    if (stat(cwd.c_str(), &st) != 0) err = errno;
    else if (!S_ISDIR(st.st_mode)) err = ENOTDIR;
    else if (access(cwd.c_str(), X_OK) != 0) err = errno;
    if (err != 0) throw Failure("cannot change directory to " + cwd + ": " + std::strerror(err));
    req["cwd"] = cwd;
    if (!o.name.empty()) req["name"] = o.name;
    if (!o.group.empty()) req["group"] = o.group;
    if (!o.after.empty()) req["after"] = o.after;
    if (!o.cpus.empty()) {
        // Checked here, so that a job never starts unpinned because of a typo.
        auto set = CpuSet::parse(o.cpus);
        if (!set) throw Failure("cannot parse --cpus \"" + o.cpus + "\": " + tools::error_reason(set.error()), 2);
        if (set->empty()) throw Failure("cannot use --cpus \"" + o.cpus + "\": it names no CPU", 2);
        req["cpus"] = o.cpus;
    }
    if (o.nice) req["nice"] = *o.nice;
    if (o.oom_score_adj) {
        req["oom_score_adj"] = *o.oom_score_adj;
    } else if (auto own = oom::read_oom_score_adj(::getpid()); own && *own > 0) {
        // The job takes what `choom -n N -- pjobs run` gave this command, as if it had started it;
        // the server and its holders stay at 0 (server_main). Raising needs no privilege.
        req["oom_score_adj"] = *own;
    }
    winsize ws{};
    if (ioctl(1, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0) req["size"] = std::to_string(ws.ws_row) + " " + std::to_string(ws.ws_col);
    json r = call(p, req);
    const json& j = r["job"];
    if (j.value("state", "") == "queued")
        std::printf("[%ld] queued\n", j.value("id", 0L));
    else
        std::printf("[%ld] %ld\n", j.value("id", 0L), j.value("pid", 0L));
    return 0;
}

int mode_list(const Paths& p, const Options& o) {
    if (o.list_specs) {
        // For completions and scripts: asking must not start a server, so none running is no jobs.
        unique_fd fd;
        try {
            fd = connect_server(p, false);
        } catch (const Failure&) {
            return 0;
        }
        json r = call_on(fd.get(), {{"op", "list"}, {"text", false}});
        std::string out;
        for (const auto& j : r["jobs"]) {
            out += "%" + std::to_string(j.value("id", 0L)) + "\n";
            if (std::string name = j.value("name", ""); !name.empty()) out += "%" + name + "\n";
        }
        std::fwrite(out.data(), 1, out.size(), stdout);
        return 0;
    }
    // The server formats the text itself and sends it raw, after the answer: nothing to parse or
    // unescape here, one write to print it.
    unique_fd fd = connect_server(p);
    json r = call_on(fd.get(), {{"op", "list"}, {"text", !o.json}, {"raw", !o.json}});
    print_warnings(r);
    long cur = r.value("current", 0L), prev = r.value("previous", 0L);
    if (o.json) {
        json out = json::array();
        for (const auto& j : r["jobs"]) {
            long id = j.value("id", 0L);
            json e = {{"id", id},
                      {"current", id == cur ? "+" : id == prev ? "-" : ""},
                      {"pid", j.contains("pid") ? j["pid"] : json(nullptr)},
                      {"state", j.value("state", "")},
                      {"status_text", state_text(j)},
                      {"status", job_finished(j) ? json(job_status(j)) : json(nullptr)},
                      {"command", j.value("argv", json::array())},
                      {"name", j.value("name", "")},
                      {"group", j.value("group", "")},
                      {"log", p.log(id)},
                      {"log_error", j.value("log_error", "")}};
            out.push_back(e);
        }
        std::puts(out.dump(-1, ' ', false, json::error_handler_t::replace).c_str());
        return 0;
    }
    std::string text;
    if (r.value("raw", false)) {
        auto f = recv_frame(fd.get());
        if (!f || f->type != 't') throw Failure("cannot talk to the server: the connection was closed");
        text = std::move(f->payload);
    } else {
        text = r.value("text", "");
    }
    std::fflush(stdout);
    for (std::size_t off = 0; off < text.size();) {
        ssize_t w = write(1, text.data() + off, text.size() - off);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) throw Failure(std::string("cannot write the list: ") + std::strerror(errno));
        off += static_cast<std::size_t>(w);
    }
    return 0;
}

int mode_signal(const Paths& p, const Options& o) {
    json req = {{"op", "signal"}, {"spec", spec_of(o)}, {"tree", o.tree}};
    if (o.mode == "bg") {
        req["sig"] = SIGCONT;
        req["verb"] = "continue";
    } else if (o.mode == "stop") {
        req["sig"] = SIGTSTP;
        req["verb"] = "stop";
    } else {
        auto sig = parse_signal(o.signal);
        if (!sig) throw Failure("cannot parse --signal \"" + o.signal + "\": unknown signal", 2);
        req["sig"] = *sig;
        req["verb"] = "signal";
    }
    std::vector<std::string> specs = o.specs;
    if (specs.empty()) specs.emplace_back();
    int status = 0;
    for (const auto& s : specs) {
        req["spec"] = s;
        try {
            json r = call(p, req);
            if (o.mode == "bg") std::printf("[%ld]+ %s &\n", r["job"].value("id", 0L), command_text(r["job"]).c_str());
        } catch (const Failure& f) {
            std::fprintf(stderr, "pjobs: %s\n", f.what());
            status = f.code;
        }
    }
    return status;
}

int mode_wait(const Paths& p, const Options& o) {
    json req = {{"op", "wait"}, {"specs", o.specs}};
    // The wait outlives a server that dies: the next server answers it.
    for (int attempt = 0;; ++attempt) {
        unique_fd fd = connect_server(p);
        req["v"] = protocol_version;
        if (!send_json(fd.get(), req)) continue;
        auto f = recv_frame(fd.get());
        if (!f) {
            if (attempt > 100) throw Failure("cannot wait: the server keeps ending");
            continue;
        }
        json r = json::parse(f->payload, nullptr, false);
        if (r.is_discarded()) throw Failure("cannot talk to the server: malformed answer");
        if (!r.value("ok", false)) throw Failure(r.value("error", "the server refused"), r.value("exit", 1));
        for (const auto& j : r["jobs"]) {
            if (j.value("state", "") == "lost")
                std::fprintf(stderr, "pjobs: warning: job %ld was lost: its holder ended before it\n", j.value("id", 0L));
            if (j.value("state", "") == "cancelled")
                std::fprintf(stderr, "pjobs: warning: job %ld was cancelled: %s\n", j.value("id", 0L), j.value("reason", "").c_str());
        }
        return r.value("status", 0);
    }
}

int mode_logs(const Paths& p, const Options& o) {
    json r = call(p, {{"op", "resolve"}, {"spec", spec_of(o)}, {"verb", "show the log of"}});
    const json& j = r["job"];
    long id = j.value("id", 0L);
    std::string path = r.value("log", "");
    if (!j.value("log_error", "").empty())
        std::fprintf(stderr, "pjobs: warning: the log of job %ld is truncated: %s\n", id, j.value("log_error", "").c_str());
    unique_fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
        if (j.value("state", "") == "queued" || j.value("state", "") == "cancelled") return 0;
        throw Failure("cannot read the log of job " + std::to_string(id) + ": " + std::strerror(errno));
    }
    auto copy_rest = [&] {
        char buf[65536];
        ssize_t n;
        while ((n = read(fd.get(), buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
            if (n > 0 && std::fwrite(buf, 1, static_cast<std::size_t>(n), stdout) != static_cast<std::size_t>(n)) return false;
        std::fflush(stdout);
        return true;
    };
    if (o.tail) {
        // The last N lines: read backwards in blocks until N newlines are behind us.
        off_t size = lseek(fd.get(), 0, SEEK_END), pos = size;
        long want = *o.tail, seen = 0;
        std::string block;
        off_t start = 0;
        bool found = false;
        while (pos > 0 && !found) {
            off_t n = std::min<off_t>(pos, 65536);
            pos -= n;
            block.assign(static_cast<std::size_t>(n), '\0');
            if (pread(fd.get(), block.data(), static_cast<std::size_t>(n), pos) != n) break;
            for (off_t k = n - 1; k >= 0; --k) {
                if (block[static_cast<std::size_t>(k)] != '\n' || pos + k == size - 1) continue;
                if (++seen == want) {
                    start = pos + k + 1;
                    found = true;
                    break;
                }
            }
        }
        if (want == 0) start = size;
        lseek(fd.get(), start, SEEK_SET);
    }
    copy_rest();
    if (!o.follow || job_finished(j)) return 0;
    // Follow: new output as it is appended, until the job's holder (and so the job) ends.
    unique_fd ino(inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
    if (!ino || inotify_add_watch(ino.get(), path.c_str(), IN_MODIFY) < 0)
        throw Failure("cannot follow the log of job " + std::to_string(id) + ": " + std::strerror(errno));
    unique_fd holder = connect_unix(r.value("socket", ""));
    if (holder) send_json(holder.get(), {{"v", protocol_version}, {"op", "subscribe"}});
    copy_rest();
    for (;;) {
        pollfd pf[2] = {{ino.get(), POLLIN, 0}, {holder ? holder.get() : -1, POLLIN, 0}};
        if (poll(pf, 2, holder ? -1 : 0) < 0 && errno != EINTR) break;
        if (pf[0].revents) {
            char buf[4096];
            while (read(ino.get(), buf, sizeof buf) > 0) {
            }
            if (!copy_rest()) return 1;
        }
        if (!holder) break;
        if (pf[1].revents) {
            auto f = recv_frame(holder.get());
            if (!f) break;
            auto ev = json::parse(f->payload, nullptr, false);
            if (!ev.is_discarded() && ev.value("event", "") == "exit") break;
        }
    }
    copy_rest();
    return 0;
}

int mode_rm(const Paths& p, const Options& o) {
    if (o.specs.empty()) throw Failure("cannot remove a job: no job spec given", 2);
    int status = 0;
    for (const auto& s : o.specs) {
        try {
            call(p, {{"op", "rm"}, {"spec", s}});
        } catch (const Failure& f) {
            std::fprintf(stderr, "pjobs: %s\n", f.what());
            status = f.code;
        }
    }
    return status;
}

int mode_clean(const Paths& p, const Options&) {
    call(p, {{"op", "clean"}});
    return 0;
}

int mode_group(const Paths& p, const Options& o) {
    json req = {{"op", "group"}, {"group", o.group_name}};
    if (o.parallel) {
        if (*o.parallel < 1) throw Failure("cannot parse --parallel: must be at least 1", 2);
        req["parallel"] = *o.parallel;
    }
    json r = call(p, req);
    std::printf("group %s: parallel %d, %d running, %d queued\n", o.group_name.c_str(), r.value("parallel", 1),
                r.value("running", 0), r.value("queued", 0));
    return 0;
}

int mode_server(const Paths& p, const Options& o) {
    if (o.server_action == "run") {
        return server_main(p, [](int code, const std::string& msg) {
            if (code != 0) std::fprintf(stderr, "pjobs: %s\n", msg.c_str());
        });
    }
    if (o.server_action == "stop") {
        unique_fd fd = connect_unix(p.server_socket());
        if (!fd) return 0;  // not running: nothing to stop
        call_on(fd.get(), {{"op", "stop"}});
        // The server closes the connection as it ends.
        char c;
        while (read(fd.get(), &c, 1) > 0) {
        }
        return 0;
    }
    json r = call(p, {{"op", "status"}}, false);
    if (o.json) {
        r.erase("ok");
        std::puts(r.dump().c_str());
        return 0;
    }
    std::printf("pid %ld\nsocket %s\nstate %s\njobs %ld (%ld unfinished)\nprotocol %d\n", r.value("pid", 0L),
                r.value("socket", "").c_str(), r.value("state", "").c_str(), r.value("jobs", 0L), r.value("unfinished", 0L),
                r.value("protocol", 0));
    print_warnings(r);
    return 0;
}

}  // namespace prockit::pjobs
