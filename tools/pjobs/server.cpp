// tools/pjobs/server.cpp — the per-user server. It keeps the job table and nothing else: each
// running job is owned by its holder (holder.cpp), which the server starts and then follows
// through the holder's socket. The table is a JSON-lines file under the state directory, rewritten
// atomically (temporary file, fsync, rename) on every change; a line that cannot be read is
// skipped, counted, and reported (`pjobs server status`, and a warning with the next list), and
// the unreadable file is kept beside it. On start the server reconnects to the holders of the jobs
// the table says are running; a job whose holder is gone is done if it left its exit record, lost
// otherwise (a reboot, or a holder killed).
#include "server.hpp"

#include <prockit/oom/score.hpp>
#include <prockit/process/command.hpp>
#include <prockit/process/daemon.hpp>
#include <prockit/process/program_path.hpp>
#include <prockit/proc/procfs.hpp>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <unordered_map>
#include <optional>
#include <poll.h>
#include <sstream>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace prockit::pjobs {

namespace {

using nlohmann::json;

struct Waiter {
    std::vector<long> ids;
};

/// Whether a peer's message holds a floating-point number anywhere. pjobs' protocol has none, and
/// json's conversion of one to an integer field (a signal, a group's limit, a nice value the holder
/// applies) is undefined behaviour when it is out of range: such a message is refused as one with a
/// field of the wrong type. A stack, not recursion: a frame may nest a million levels deep.
bool holds_a_float(const json& msg) {
    std::vector<const json*> todo{&msg};
    while (!todo.empty()) {
        const json* j = todo.back();
        todo.pop_back();
        if (j->is_number_float()) return true;
        if (j->is_structured())
            for (const auto& v : *j) todo.push_back(&v);
    }
    return false;
}

/// Whether a holder process of job `id` runs (ours, "pjobs-holder __holder ID"): one that has not
/// bound its socket yet. True when /proc cannot be read (then only the deadline decides).
bool holder_process_runs(long id) {
    auto pids = proc::list_pids();
    if (!pids) return true;
    proc::ProcReader reader;
    std::string want = "pjobs-holder __holder " + std::to_string(id);
    for (pid_t p : *pids) {
        auto cmd = reader.cmdline(p);
        if (!cmd || *cmd != want) continue;
        auto uid = reader.owner(p);
        if (uid && *uid == geteuid()) return true;
    }
    return false;
}

json error_reply(const std::string& message, int exit_code = 1) {
    return {{"ok", false}, {"error", message}, {"exit", exit_code}};
}

struct Server {
    Paths paths;
    std::map<long, json> jobs;
    std::map<std::string, int> groups;  // group -> parallel slots
    std::vector<std::string> warnings;
    long touch = 0;
    unique_fd listener;
    /// A descriptor held in reserve: when accept() finds none left, it is given up for a moment
    /// to accept the waiting client and tell it why, instead of leaving it waiting and the
    /// listener readable (a busy loop) until another client goes.
    unique_fd spare;
    std::map<int, unique_fd> fds;
    std::map<int, FrameReader> clients;
    std::map<int, long> holders;  // subscription fd -> job id
    std::map<int, Waiter> waiters;
    /// Jobs a killed server was starting (see start()): their holder may still be binding its
    /// socket, so it is looked for until the deadline before the job counts as lost.
    std::map<long, std::chrono::steady_clock::time_point> unconfirmed;
    /// What `list` and the job specs need of a finished job. A finished job's record no longer
    /// changes until it is forgotten (forget() and run() drop the entry with the record), so
    /// this is worked out once: 10,000 finished jobs then cost no JSON look-ups per list.
    struct Finished {
        std::string line;  // its line in `pjobs list`, with a blank for the mark, and "\n"
        long touch = 0;
    };
    mutable std::unordered_map<long, Finished> finished;
    mutable std::size_t list_bytes = 0;  // the size of the last list, to reserve the next
    std::optional<std::string> raw_after;  // a 't' frame to send after the reply (a raw list)
    std::string self_exe;
    std::uint64_t timens = time_namespace();  // the clock of requests' deadlines
    long long started = std::time(nullptr);
    bool stopping = false;
    std::vector<int> stalled;  // connections to close after this round: they took no answer
    bool unsaved = false;  // the last save failed: retried on a timer
    std::chrono::steady_clock::time_point last_save_try{};

    // --- persistence
    void load() {
        std::ifstream in(paths.table());
        if (!in) return;
        std::ostringstream text;
        text << in.rdbuf();
        Table t = parse_table(text.str());
        jobs = std::move(t.jobs);
        groups = std::move(t.groups);
        touch = t.touch;
        if (t.bad > 0) {
            std::string copy = paths.table() + ".corrupt";
            write_file_atomic(copy, read_small_file(paths.table()));
            warnings.push_back("state file " + paths.table() + ": " + std::to_string(t.bad) + " of " +
                               std::to_string(t.lines) + " lines unreadable and skipped (a copy is in " + copy + ")");
            std::fprintf(stderr, "pjobs server: %s\n", warnings.back().c_str());
        }
    }

    /// Writes the table; `sync` false for a state that matters only if the server dies (see start()).
    void save(bool sync = true) {
        last_save_try = std::chrono::steady_clock::now();
        std::string text = "{\"pjobs_table\":1}\n";
        for (const auto& [g, p] : groups) text += json{{"group", g}, {"parallel", p}}.dump() + "\n";
        for (const auto& [id, j] : jobs) text += j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
        std::string err;
        if (!write_file_atomic(paths.table(), text, &err, sync)) {
            // The file on disk is still the last table saved whole; the save is retried every
            // second (and on each change) until it succeeds, and each list warns meanwhile.
            if (!unsaved) std::fprintf(stderr, "pjobs server: cannot save the job table: %s\n", err.c_str());
            unsaved = true;
            std::erase_if(warnings, [](const std::string& w) { return w.rfind("cannot save", 0) == 0; });
            warnings.push_back("cannot save the job table: " + err + " (retrying every second)");
            return;
        }
        if (unsaved) {
            std::fprintf(stderr, "pjobs server: the job table is saved again\n");
            std::erase_if(warnings, [](const std::string& w) { return w.rfind("cannot save", 0) == 0; });
            unsaved = false;
        }
    }

    // --- job specs
    /// The job's entry in `finished`, made when missing; nullptr for a job that has not finished.
    const Finished* finished_entry(long id, const json& j) const {
        if (auto it = finished.find(id); it != finished.end()) return &it->second;
        if (!job_finished(j)) return nullptr;
        Finished f{job_line(j, 0, 0) + "\n", j.value("touch", 0L)};
        return &finished.emplace(id, std::move(f)).first->second;
    }

    std::pair<long, long> current_previous() const {
        long cur = 0, prev = 0, tc = -1, tp = -1;
        bool any_unfinished = false;
        for (const auto& [id, j] : jobs)
            if (!finished_entry(id, j)) {
                any_unfinished = true;
                break;
            }
        for (const auto& [id, j] : jobs) {
            const Finished* f = finished_entry(id, j);
            if (any_unfinished && f) continue;
            long t = f ? f->touch : j.value("touch", 0L);
            // A stopped job is preferred as the current job, as in a shell.
            if (!f && state_of(j) == "stopped") t += 1L << 40;
            if (t > tc) {
                prev = cur;
                tp = tc;
                cur = id;
                tc = t;
            } else if (t > tp) {
                prev = id;
                tp = t;
            }
        }
        return {cur, prev};
    }

    /// The job a spec names, or 0 with `why` set.
    long resolve(const std::string& spec, std::string& why) const {
        auto [cur, prev] = current_previous();
        if (spec.empty() || spec == "%" || spec == "%%" || spec == "%+") {
            if (cur == 0) why = "there is no current job";
            return cur;
        }
        if (spec == "%-") {
            if (prev == 0) why = "there is no previous job";
            return prev;
        }
        auto all_digits = [](std::string_view s) {
            return !s.empty() && s.size() < 10 && s.find_first_not_of("0123456789") == std::string_view::npos;
        };
        if (spec[0] != '%') {
            if (all_digits(spec)) {
                long pid = std::stol(spec);
                for (const auto& [id, j] : jobs)
                    if (j.value("pid", 0L) == pid) return id;
            }
            why = "no such job";
            return 0;
        }
        std::string rest = spec.substr(1);
        if (all_digits(rest)) {
            long id = std::stol(rest);
            if (jobs.count(id)) return id;
            why = "no such job";
            return 0;
        }
        std::vector<long> found;
        bool contains = !rest.empty() && rest[0] == '?';
        std::string text = contains ? rest.substr(1) : rest;
        for (const auto& [id, j] : jobs) {
            std::string cmd = command_text(j);
            if (contains ? cmd.find(text) != std::string::npos
                         : (j.value("name", "") == text || (j.value("name", "").empty() && cmd.rfind(text, 0) == 0)))
                found.push_back(id);
        }
        if (found.size() == 1) return found[0];
        why = found.empty() ? "no such job" : "ambiguous job spec";
        return 0;
    }

    // --- holders
    /// Subscribes to the job's holder; when it cannot be reached, the job ends as its exit
    /// record says (or is lost), unless `gone_if_unreachable` is false; true when followed.
    bool follow_holder(long id, bool gone_if_unreachable = true) {
        unique_fd fd = connect_unix(paths.holder_socket(id));
        if (fd && send_json(fd.get(), {{"v", protocol_version}, {"op", "subscribe"}, {"server", true}})) {
            int raw = fd.get();
            fcntl(raw, F_SETFL, fcntl(raw, F_GETFL) | O_NONBLOCK);
            holders[raw] = id;
            clients[raw];
            fds.emplace(raw, std::move(fd));
            return true;
        }
        if (gone_if_unreachable) holder_gone(id);
        return false;
    }

    /// A job the table shows starting (or running with no PID yet): a server was killed while it
    /// started the job's holder. Followed as soon as the holder answers; done or lost (holder_gone)
    /// once no holder process is left to answer, or after 30 s.
    void find_holder(long id) {
        if (follow_holder(id, false)) return;
        if (!holder_process_runs(id))
            holder_gone(id);
        else
            unconfirmed[id] = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    }
    void recheck_unconfirmed() {
        auto now = std::chrono::steady_clock::now();
        for (auto it = unconfirmed.begin(); it != unconfirmed.end();) {
            long id = it->first;
            if (follow_holder(id, false)) {
                it = unconfirmed.erase(it);
            } else if (now >= it->second || !holder_process_runs(id)) {
                it = unconfirmed.erase(it);
                holder_gone(id);
            } else {
                ++it;
            }
        }
    }

    void holder_gone(long id) {
        auto it = jobs.find(id);
        if (it == jobs.end() || job_finished(it->second)) return;
        std::string text = read_small_file(paths.exit_record(id));
        json rec = json::parse(text, nullptr, false);
        if (!rec.is_discarded() && rec.is_object() && rec.value("state", "") == "done") {
            merge(it->second, rec);
        } else {
            it->second["state"] = "lost";
            it->second["ended"] = static_cast<long long>(std::time(nullptr));
        }
        changed();
    }

    static void merge(json& job, const json& ev) {
        for (const char* k : {"state", "sig", "code", "kind", "core", "ended", "log_error", "pid"})
            if (ev.contains(k)) job[k] = ev[k];
        if (ev.value("state", "") == "running") job.erase("sig");
    }

    void holder_event(long id, const json& ev) {
        auto it = jobs.find(id);
        if (it == jobs.end()) return;
        bool was_stopped = it->second.value("state", "") == "stopped";
        merge(it->second, ev);
        if (!was_stopped && ev.value("state", "") == "stopped") it->second["touch"] = ++touch;
        changed();
    }

    /// After any change of state: save, start what may start, answer waiters.
    void changed() {
        schedule();
        save();
        answer_waiters();
    }

    int running_in_group(const std::string& g) const {
        int n = 0;
        for (const auto& [id, j] : jobs)
            if (j.value("group", "") == g && (j.value("state", "") == "running" || j.value("state", "") == "stopped")) ++n;
        return n;
    }

    void schedule() {
        for (bool again = true; again;) {
            again = false;
            for (auto& [id, j] : jobs) {
                if (j.value("state", "") != "queued") continue;
                if (j.contains("after")) {
                    auto a = jobs.find(j["after"].get<long>());
                    if (a != jobs.end() && !job_finished(a->second)) continue;
                    if (a == jobs.end() || a->second.value("state", "") != "done" || job_status(a->second) != 0) {
                        j["state"] = "cancelled";
                        j["reason"] = "job " + std::to_string(j["after"].get<long>()) + " did not succeed";
                        again = true;
                        continue;
                    }
                }
                std::string g = j.value("group", "");
                if (!g.empty()) {
                    int slots = groups.count(g) ? groups[g] : 1;
                    if (running_in_group(g) >= slots) continue;
                }
                std::string err;
                int code = start(j, err);
                if (code != 0) {
                    j["state"] = "done";
                    j["kind"] = "exited";
                    j["code"] = code;
                    j["start_error"] = err;
                }
                again = true;
            }
        }
    }

    /// Starts the holder of `job`; returns 0 or the exit status for a job that cannot start.
    int start(json& job, std::string& err) {
        long id = job["id"].get<long>();
        json spec = job;
        spec["runtime"] = paths.runtime;
        spec["state_dir"] = paths.state;
        unlink(paths.exit_record(id).c_str());
        // In the table before its holder exists: a server killed from here on leaves the job there
        // (not running unrecorded, its id free for another job), and the next one finds its holder.
        // Not synced: it guards against the server's death (the machine's ends the job anyway), and
        // the save that follows the start is synced.
        job["state"] = "starting";
        save(false);
        Command c(self_exe);
        c.argv0("pjobs-holder").args({"__holder", std::to_string(id)}).in(Stdio::pipe()).out(Stdio::pipe());
        c.on_destroy(DestroyPolicy::kill_tree, std::chrono::seconds(0));
        auto child = c.spawn();
        if (!child) {  // the server's own failure (no descriptor, no process left), not the command's
            err = child.error().message();
            return 1;
        }
        {  // the job's description on the holder's stdin (not in its argv, where ps shows it)
            unique_fd in = std::move(child->stdin_pipe());
            std::string text = spec.dump(-1, ' ', false, json::error_handler_t::replace);
            std::size_t off = 0;
            while (off < text.size()) {
                ssize_t w = write(in.get(), text.data() + off, text.size() - off);
                if (w < 0 && errno == EINTR) continue;
                if (w < 0) break;
                off += static_cast<std::size_t>(w);
            }
        }
        std::string line;
        char buf[512];
        ssize_t r;
        while ((r = read(child->stdout_pipe().get(), buf, sizeof buf)) > 0 || (r < 0 && errno == EINTR))
            if (r > 0) line.append(buf, static_cast<std::size_t>(r));
        auto st = child->wait();
        while (!line.empty() && line.back() == '\n') line.pop_back();
        if (line.rfind("pid ", 0) != 0) {
            err = line.rfind("error ", 0) == 0 ? line.substr(6) : "the job's holder failed to start";
            int code = st ? st->shell_code() : 1;
            return code == 127 || code == 126 ? code : 1;
        }
        job["pid"] = std::stol(line.substr(4));
        job.erase("env");  // the holder has it; the table need not keep it
        job["state"] = "running";
        job["started"] = static_cast<long long>(std::time(nullptr));
        job["touch"] = ++touch;
        follow_holder(id);
        return 0;
    }

    bool signal_holder(long id, int sig, bool tree, std::string& err) {
        unique_fd fd = connect_unix(paths.holder_socket(id));
        if (!fd) {
            err = std::string("its holder is unreachable: ") + std::strerror(errno);
            return false;
        }
        send_json(fd.get(), {{"v", protocol_version}, {"op", "signal"}, {"sig", sig}, {"tree", tree}});
        auto f = recv_frame(fd.get());
        if (!f) {
            err = "its holder did not answer";
            return false;
        }
        return true;
    }

    // --- waiters
    json wait_reply(const std::vector<long>& ids) const {
        json r = {{"ok", true}, {"status", 0}, {"jobs", json::array()}};
        for (long id : ids) {
            auto it = jobs.find(id);
            if (it == jobs.end()) continue;
            r["jobs"].push_back(it->second);
            r["status"] = job_status(it->second);
        }
        return r;
    }

    bool all_finished(const std::vector<long>& ids) const {
        for (long id : ids) {
            auto it = jobs.find(id);
            if (it != jobs.end() && !job_finished(it->second)) return false;
        }
        return true;
    }

    void answer_waiters() {
        // A waiter that takes no answer (proto's stall limit) is closed by the loop, after this
        // round: its connection may be the one being served now.
        for (auto it = waiters.begin(); it != waiters.end();) {
            if (all_finished(it->second.ids)) {
                if (!send_json(it->first, wait_reply(it->second.ids))) stalled.push_back(it->first);
                it = waiters.erase(it);
            } else {
                ++it;
            }
        }
    }

    // --- requests
    /// The lines of `pjobs list`: finished jobs' lines as kept, unfinished jobs' formatted now,
    /// then the marks of the current and previous jobs put in place.
    std::string list_text(long cur, long prev) const {
        std::string text;
        text.reserve(list_bytes + list_bytes / 8);
        for (const auto& [id, j] : jobs) {
            std::size_t at = text.size();
            if (const Finished* f = finished_entry(id, j)) {
                text += f->line;
            } else {
                text += job_line(j, 0, 0);
                text += '\n';
            }
            if (id == cur || id == prev) text[text.find(']', at) + 1] = id == cur ? '+' : '-';
        }
        list_bytes = text.size();
        return text;
    }

    json list_reply(bool as_text, bool raw) {
        auto [cur, prev] = current_previous();
        json r = {{"ok", true}, {"current", cur}, {"previous", prev}, {"jobs", json::array()}};
        if (as_text) {
            std::string text = list_text(cur, prev);
            if (raw) {
                r["raw"] = true;
                raw_after = std::move(text);
            } else {
                r["text"] = std::move(text);
            }
            r["warnings"] = warnings;
            return r;
        }
        // What a list shows, not the whole record (a job's environment alone is kilobytes).
        json& out = r["jobs"];
        for (const auto& [id, j] : jobs) {
            json e = json::object();
            for (const char* k : {"id", "pid", "state", "code", "kind", "sig", "core", "argv", "name", "group", "log_error", "reason"})
                if (auto it = j.find(k); it != j.end()) e[k] = *it;
            out.push_back(std::move(e));
        }
        r["warnings"] = warnings;
        return r;
    }

    json handle(int fd, const json& req) {
        if (req.value("v", 0) != protocol_version)
            return error_reply("cannot talk to the server: protocol version " + std::to_string(req.value("v", 0)) +
                               " is not supported (the server speaks version " + std::to_string(protocol_version) +
                               "; run 'pjobs server stop' after an upgrade)");
        std::string op = req.value("op", "");
        // Its client has given up (and said it failed): carrying it out now would surprise the
        // user, who may already have run it again. Nothing is done; the answer says why, should
        // the client still read it.
        if (auto late = past_deadline(req, monotonic_ns(), timens); late && *late > 0) {
            std::fprintf(stderr, "pjobs server: cannot carry out a request ('%s'): it was read %lld ms after its deadline\n",
                         op.c_str(), static_cast<long long>(*late / 1000000));
            json r = error_reply("cannot talk to the server: it read the request too late to carry it out (is it stopped? see "
                                 "PJOBS_TIMEOUT)");
            r["expired"] = true;
            return r;
        }
        std::string why;
        if (op == "run") return run(req);
        if (op == "list") return list_reply(req.value("text", false), req.value("raw", false));
        if (op == "resolve") {
            long id = resolve(req.value("spec", ""), why);
            if (id == 0) return error_reply("cannot " + req.value("verb", "find") + " " + display(req) + ": " + why);
            return {{"ok", true}, {"job", jobs[id]}, {"socket", paths.holder_socket(id)}, {"log", paths.log(id)}};
        }
        if (op == "signal") {
            std::string verb = req.value("verb", "signal");
            long id = resolve(req.value("spec", ""), why);
            if (id == 0) return error_reply("cannot " + verb + " " + display(req) + ": " + why);
            json& j = jobs[id];
            std::string st = j.value("state", "");
            if (st == "queued") {
                if (verb == "continue") return {{"ok", true}, {"job", j}};
                j["state"] = "cancelled";
                j["reason"] = "killed while queued";
                changed();
                return {{"ok", true}, {"job", j}};
            }
            if (job_finished(j))
                return error_reply("cannot " + verb + " job " + std::to_string(id) + ": it has finished (" + state_text(j) + ")");
            if (!signal_holder(id, req.value("sig", SIGTERM), req.value("tree", false), why))
                return error_reply("cannot " + verb + " job " + std::to_string(id) + ": " + why);
            if (verb == "continue") {
                j["touch"] = ++touch;
                save();
            }
            return {{"ok", true}, {"job", j}};
        }
        if (op == "wait") {
            std::vector<long> ids;
            std::vector<std::string> specs = req.value("specs", std::vector<std::string>{});
            for (const auto& s : specs) {
                long id = resolve(s, why);
                if (id == 0) return error_reply("cannot wait for " + s + ": " + why, 127);
                ids.push_back(id);
            }
            if (specs.empty()) {
                for (const auto& [id, j] : jobs)
                    if (!job_finished(j) && j.value("state", "") != "stopped") ids.push_back(id);
                if (all_finished(ids)) return {{"ok", true}, {"status", 0}, {"jobs", json::array()}};
                waiters[fd].ids = ids;
                return nullptr;
            }
            if (all_finished(ids)) return wait_reply(ids);
            waiters[fd].ids = ids;
            return nullptr;  // answered when they end
        }
        if (op == "rm") {
            long id = resolve(req.value("spec", ""), why);
            if (id == 0) return error_reply("cannot remove " + display(req) + ": " + why);
            if (!job_finished(jobs[id]))
                return error_reply("cannot remove job " + std::to_string(id) + ": it is " + jobs[id].value("state", ""));
            forget(id);
            save();
            return {{"ok", true}};
        }
        if (op == "clean") {
            std::vector<long> ids;
            for (const auto& [id, j] : jobs)
                if (job_finished(j)) ids.push_back(id);
            for (long id : ids) forget(id);
            save();
            return {{"ok", true}, {"removed", ids.size()}};
        }
        if (op == "group") {
            std::string g = req.value("group", "");
            if (req.contains("parallel")) {
                groups[g] = req["parallel"].get<int>();
                changed();
            }
            int slots = groups.count(g) ? groups[g] : 1;
            int queued = 0;
            for (const auto& [id, j] : jobs)
                if (j.value("group", "") == g && j.value("state", "") == "queued") ++queued;
            return {{"ok", true}, {"group", g}, {"parallel", slots}, {"running", running_in_group(g)}, {"queued", queued}};
        }
        if (op == "status") {
            int running = 0;
            for (const auto& [id, j] : jobs)
                if (!job_finished(j)) ++running;
            return {{"ok", true},       {"pid", getpid()},         {"started", started},
                    {"jobs", jobs.size()}, {"unfinished", running}, {"socket", paths.server_socket()},
                    {"state", paths.state}, {"warnings", warnings}, {"protocol", protocol_version}};
        }
        if (op == "stop") {
            stopping = true;
            return {{"ok", true}};
        }
        return error_reply("cannot serve request '" + op + "': unknown request");
    }

    static std::string display(const json& req) {
        std::string s = req.value("spec", "");
        return s.empty() ? "the current job" : s;
    }

    void forget(long id) {
        unlink(paths.log(id).c_str());
        unlink(paths.exit_record(id).c_str());
        jobs.erase(id);
        finished.erase(id);
    }

    json run(const json& req) {
        std::vector<std::string> argv = req.value("argv", std::vector<std::string>{});
        if (argv.empty()) return error_reply("cannot run a job: no command given", 2);
        std::string path;
        for (const auto& kv : req.value("env", std::vector<std::string>{}))
            if (kv.rfind("PATH=", 0) == 0) path = kv.substr(5);
        if (argv[0].find('/') == std::string::npos) {
            auto found = find_program(argv[0], path.empty() ? nullptr : path.c_str());
            if (!found) return error_reply("cannot run " + argv[0] + ": " + found.error().message(), 127);
        } else if (access(argv[0].c_str(), X_OK) != 0) {
            int e = errno;
            return error_reply("cannot run " + argv[0] + ": " + std::strerror(e), e == ENOENT ? 127 : 126);
        }
        long after = 0;
        if (req.contains("after")) {
            std::string why;
            after = resolve(req["after"].get<std::string>(), why);
            if (after == 0) return error_reply("cannot run after " + req["after"].get<std::string>() + ": " + why);
        }
        long id = jobs.empty() ? 1 : jobs.rbegin()->first + 1;
        json job = {{"id", id}, {"argv", argv}, {"state", "queued"}, {"tty", req.value("tty", true)},
                    {"submitted", static_cast<long long>(std::time(nullptr))}};
        for (const char* k : {"env", "cwd", "name", "group", "size", "nice", "cpus", "oom_score_adj"})
            if (req.contains(k)) job[k] = req[k];
        if (after) job["after"] = after;
        job["touch"] = ++touch;
        jobs[id] = job;
        schedule();
        save();
        json& j = jobs[id];
        if (j.value("state", "") == "done" && j.contains("start_error")) {
            json err = error_reply("cannot run " + argv[0] + ": " + j["start_error"].get<std::string>(), j.value("code", 1));
            jobs.erase(id);
            finished.erase(id);
            save();
            return err;
        }
        answer_waiters();
        return {{"ok", true}, {"job", j}};
    }

    void client_readable(int fd) {
        auto it = clients.find(fd);
        if (it == clients.end()) return;
        bool alive = it->second.fill(fd);
        while (auto f = it->second.next()) {
            if (f->type != 'j') {
                alive = false;
                break;
            }
            json msg = json::parse(f->payload, nullptr, false);
            if (msg.is_discarded() || !msg.is_object()) {
                alive = false;
                break;
            }
            if (holds_a_float(msg)) {  // refused as a mistyped field: see holds_a_float()
                send_json(fd, error_reply("cannot read the request: a field has the wrong type"));
                alive = false;
                break;
            }
            // A message with a field of the wrong type (json's accessors throw) is refused and its
            // connection closed; the server and every other client go on.
            try {
                if (auto h = holders.find(fd); h != holders.end()) {
                    holder_event(h->second, msg);
                    continue;
                }
                json reply = handle(fd, msg);
                // A client that takes no answer (stopped, or never reading) is closed once the
                // send gives up (proto's stall limit): the others are not held by it.
                bool sent = reply.is_null() || send_json(fd, reply);
                if (raw_after) {
                    sent = sent && send_frame(fd, 't', *raw_after);
                    raw_after.reset();
                }
                if (!sent) {
                    alive = false;
                    break;
                }
                if (msg.value("v", 0) != protocol_version) {  // a client of another version: answered, closed
                    alive = false;
                    break;
                }
            } catch (const json::exception&) {
                raw_after.reset();
                send_json(fd, error_reply("cannot read the request: a field has the wrong type"));
                alive = false;
                break;
            }
            if (stopping) return;
        }
        if (!alive) close_conn(fd);
    }

    void close_conn(int fd) {
        auto h = holders.find(fd);
        long id = h == holders.end() ? 0 : h->second;
        if (h != holders.end()) holders.erase(h);
        waiters.erase(fd);
        std::erase(stalled, fd);  // closed now: not again after the round (the number may be reused)
        clients.erase(fd);
        fds.erase(fd);
        if (id) holder_gone(id);
    }

    void accept_clients() {
        for (;;) {
            unique_fd c(accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
            if (!c && (errno == EMFILE || errno == ENFILE) && spare) {
                int err = errno;
                spare.reset();
                unique_fd refused(accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
                if (refused) {
                    rlimit rl{};
                    getrlimit(RLIMIT_NOFILE, &rl);
                    send_json(refused.get(), error_reply("cannot serve the request: " + std::string(std::strerror(err)) +
                                                         " (the server's descriptor limit, ulimit -n " + std::to_string(rl.rlim_cur) +
                                                         ", is reached)"));
                }
                const bool more = static_cast<bool>(refused);  // else none was waiting: done
                refused.reset();
                spare = unique_fd(open("/dev/null", O_RDONLY | O_CLOEXEC));
                if (more && spare) continue;
                return;
            }
            if (!c) return;
            long uid = peer_uid(c.get());
            if (uid != static_cast<long>(geteuid())) {
                send_json(c.get(), error_reply("cannot talk to the server: permission denied (it belongs to uid " +
                                               std::to_string(geteuid()) + ", the client is uid " + std::to_string(uid) + ")"));
                continue;
            }
            int fd = c.get();
            clients[fd];
            fds.emplace(fd, std::move(c));
        }
    }
};

}  // namespace

int server_main(const Paths& paths, const std::function<void(int, const std::string&)>& ready) {
    Server s;
    s.paths = paths;
    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    // Not the OOM killer's first choice because the command that started us was (`choom -n 1000
    // -- pjobs run make`): every holder we fork, and the jobs of every later client, would inherit
    // it. A job gets its own client's value instead (mode_run). Lowering to 0 needs no privilege.
    if (auto adj = oom::read_oom_score_adj(::getpid()); adj && *adj > 0) (void)oom::set_own_oom_score_adj(0);
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    self[n > 0 ? n : 0] = '\0';
    s.self_exe = self;
    auto pidfile = PidFile::acquire(paths.server_pidfile());
    if (!pidfile) {
        ready(1, "cannot start the server: " + pidfile.error().message());
        return 1;
    }
    try {
        s.listener = listen_unix(paths.server_socket());
    } catch (const std::exception& e) {
        ready(1, e.what());
        return 1;
    }
    s.spare = unique_fd(open("/dev/null", O_RDONLY | O_CLOEXEC));
    s.load();
    for (auto& [id, j] : s.jobs) {
        std::string st = j.value("state", "");
        if (st == "starting" || (st == "running" && !j.contains("pid"))) {
            j["state"] = "running";
            s.find_holder(id);
        } else if (st == "running" || st == "stopped") {
            s.follow_holder(id);
        }
    }
    s.changed();
    ready(0, "");
    while (!s.stopping) {
        std::vector<pollfd> pfds;
        pfds.push_back({s.listener.get(), POLLIN, 0});
        for (auto& [fd, r] : s.clients) pfds.push_back({fd, POLLIN, 0});
        // Wakes every 20 ms while a job's start is unconfirmed, every second while the table
        // is unsaved (a full disk), else only for events.
        int ready_n = poll(pfds.data(), pfds.size(), !s.unconfirmed.empty() ? 20 : s.unsaved ? 1000 : -1);
        if (ready_n < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (!s.unconfirmed.empty()) s.recheck_unconfirmed();
        if (s.unsaved && std::chrono::steady_clock::now() - s.last_save_try >= std::chrono::seconds(1)) s.save();
        if (ready_n == 0) continue;
        if (pfds[0].revents) s.accept_clients();
        for (std::size_t k = 1; k < pfds.size() && !s.stopping; ++k)
            if (pfds[k].revents) s.client_readable(pfds[k].fd);
        for (int fd : std::exchange(s.stalled, {})) s.close_conn(fd);
    }
    unlink(paths.server_socket().c_str());
    return 0;
}

}  // namespace prockit::pjobs
