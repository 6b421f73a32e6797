// tools/pjobs/holder.cpp — a job's holder. The server starts one per job (an exec of pjobs
// itself); the holder, not the server, is the job's owner: it holds the pty master (or the output
// pipe with --no-tty), appends the output to the job's log, keeps a bounded scrollback for the next
// `pjobs fg`, watches the job stop, continue and end, and serves its own socket in the runtime
// directory (named by job id), so a server that was restarted — even after SIGKILL — finds it
// again. When the job ends the holder writes the job's exit record atomically next to its log,
// tells whoever listens, and exits. If the holder itself is killed, the pty master closes and the
// kernel hangs up the job's session (SIGHUP), and the job's parent-death signal is SIGHUP too: a
// job never outlives its owner unless it ignores hang-ups (nohup), which is an explicit ask.
#include "holder.hpp"

#include "proto.hpp"

#include <prockit/jobs/pty.hpp>
#include <prockit/process/command.hpp>
#include <prockit/process/daemon.hpp>
#include <prockit/sched/cpuset.hpp>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <map>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <termios.h>
#include <unistd.h>
#include <vector>

namespace prockit::pjobs {

namespace {

using nlohmann::json;

constexpr std::size_t scrollback_limit = 64 * 1024;
/// What one round of reads from the pty gathers before it is logged and sent: a pty master gives
/// at most a few KiB per read, and a log write and a frame per read were most of the cost of a
/// job that writes fast.
constexpr std::size_t batch_limit = 256 * 1024;

/// What a client that stopped reading (a SIGSTOPped `fg`, a frozen terminal) may have waiting
/// in the holder beyond its socket's buffer. Past it the client is detached: it gets what was
/// queued and a "detached" event, and then nothing more, so the holder never waits for a reader
/// and the job's output still reaches its log.
constexpr std::size_t client_backlog_limit = 1u << 20;
/// How long an ending holder lets clients drain what waits for them (its exit event).
constexpr int finish_drain_ms = 2000;

struct Client {
    FrameReader reader;
    bool subscriber = false;
    bool server = false;  // the pjobs server (it keeps the job's end in its table)
    std::string out;   // frames not yet taken by the socket (the first one maybe in part)
    bool cut = false;  // detached for not reading: closed once `out` is sent
};

struct Holder {
    json spec;
    Paths paths;
    long id = 0;
    bool tty = true;
    unique_fd master;  // pty master, or the read end of the output pipe
    unique_fd listener;
    unique_fd sigfd;
    unique_fd log;
    std::string log_error;
    Child child;
    Scrollback scrollback{scrollback_limit};
    std::vector<char> batch = std::vector<char>(batch_limit);
    std::size_t last_batch = 0;  // what the last read_output() read
    std::map<int, Client> clients;
    std::map<int, unique_fd> fds;
    int attached = -1;
    json state = {{"event", "state"}, {"state", "running"}};

    void broadcast(const json& ev) {
        std::vector<int> to;
        for (auto& [fd, c] : clients)
            if (c.subscriber || fd == attached) to.push_back(fd);
        for (int fd : to) send_to(fd, 'j', ev.dump(-1, ' ', false, json::error_handler_t::replace));
    }

    /// Sends a frame without waiting: what the socket does not take now waits in the client's
    /// queue (sent as the socket drains, flush()), bounded by client_backlog_limit.
    void send_to(int fd, char type, std::string_view payload) {
        auto it = clients.find(fd);
        if (it == clients.end() || it->second.cut) return;
        Client& c = it->second;
        char head[5];
        uint32_t len = htonl(static_cast<uint32_t>(payload.size() + 1));
        std::memcpy(head, &len, 4);
        head[4] = type;
        std::size_t sent = 0;
        if (c.out.empty()) {  // the usual case: straight from the caller's buffer, no copy
            iovec iov[2] = {{head, sizeof head}, {const_cast<char*>(payload.data()), payload.size()}};
            msghdr msg{};
            msg.msg_iov = iov;
            msg.msg_iovlen = 2;
            ssize_t w;
            do w = sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
            while (w < 0 && errno == EINTR);
            if (w < 0 && errno != EAGAIN) {
                drop(fd);
                return;
            }
            sent = w < 0 ? 0 : static_cast<std::size_t>(w);
            if (sent == sizeof head + payload.size()) return;
        }
        if (sent < sizeof head) c.out.append(head + sent, sizeof head - sent);
        std::size_t done = sent < sizeof head ? 0 : sent - sizeof head;
        c.out.append(payload.data() + done, payload.size() - done);
        if (c.out.size() > client_backlog_limit) {
            c.cut = true;
            c.subscriber = false;
            if (fd == attached) attached = -1;
            json ev = {{"event", "detached"},
                       {"reason", "it stopped reading the job's output (the rest is in the job's log)"}};
            std::string text = ev.dump();
            uint32_t l = htonl(static_cast<uint32_t>(text.size() + 1));
            c.out.append(reinterpret_cast<const char*>(&l), 4);
            c.out.push_back('j');
            c.out += text;
        }
    }

    /// Sends what waits for a client, as far as its socket takes it.
    void flush(int fd) {
        auto it = clients.find(fd);
        if (it == clients.end()) return;
        Client& c = it->second;
        while (!c.out.empty()) {
            ssize_t w = send(fd, c.out.data(), c.out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w < 0 && errno == EINTR) continue;
            if (w < 0 && errno == EAGAIN) return;
            if (w < 0) {
                drop(fd);
                return;
            }
            c.out.erase(0, static_cast<std::size_t>(w));
        }
        if (c.cut) drop(fd);
    }

    void drop(int fd) {
        if (fd == attached) attached = -1;
        clients.erase(fd);
        fds.erase(fd);
    }

    void output(const char* p, std::size_t n) {
        if (log) {
            std::size_t off = 0;
            while (off < n) {
                ssize_t w = write(log.get(), p + off, n - off);
                if (w < 0 && errno == EINTR) continue;
                if (w < 0) {
                    // A full disk (or any write error): the job keeps running; the log stops here
                    // and the truncation is reported with the job's state.
                    log_error = std::strerror(errno);
                    log.reset();
                    state["log_error"] = log_error;
                    broadcast(state);
                    break;
                }
                off += static_cast<std::size_t>(w);
            }
        }
        scrollback.append(std::string_view(p, n));
        if (attached >= 0) send_to(attached, 'o', std::string_view(p, n));
    }

    /// Reads what the job wrote, up to batch_limit bytes, logged and sent as one. One batch per
    /// call: a job that writes without pause leaves the loop time for keys, signals and clients.
    /// False at EOF or EIO (no slave left): nothing more to read.
    bool read_output() {
        std::size_t got = 0;
        bool open = true;
        while (got < batch.size()) {
            ssize_t r = read(master.get(), batch.data() + got, batch.size() - got);
            if (r > 0) {
                got += static_cast<std::size_t>(r);
                continue;
            }
            if (r < 0 && errno == EINTR) continue;
            open = r < 0 && errno == EAGAIN;
            break;
        }
        if (got > 0) output(batch.data(), got);
        last_batch = got;
        return open;
    }

    void signal_job(int sig, bool tree) {
        // Descendants are found before the group is signalled: once the job's leader dies, those
        // that left its group are re-parented and no longer found below it.
        std::vector<pid_t> below = tree ? descendants_of(child.pid()) : std::vector<pid_t>{};
        (void)child.signal_tree(sig);
        if (tree) {
            for (pid_t p : below) {
                auto c = Child::adopt(p);
                if (c) {
                    (void)c->send_signal(sig);
                    c->detach();
                }
            }
        }
        // As a shell's kill: a stopped job is continued so that it sees the signal.
        if (state.value("state", "") == "stopped" && sig != SIGSTOP && sig != SIGTSTP && sig != SIGCONT &&
            sig != SIGTTIN && sig != SIGTTOU && sig != 0)
            (void)child.signal_tree(SIGCONT);
    }

    void set_winsize(const std::string& text) {
        unsigned rows = 0, cols = 0;
        if (!tty || std::sscanf(text.c_str(), "%u %u", &rows, &cols) != 2 || rows == 0 || cols == 0) return;
        winsize ws{};
        ws.ws_row = static_cast<unsigned short>(rows);
        ws.ws_col = static_cast<unsigned short>(cols);
        ioctl(master.get(), TIOCSWINSZ, &ws);  // the kernel sends SIGWINCH to the job if it changed
    }

    void input(const std::string& data) {
        if (tty) {
            std::size_t off = 0;
            while (off < data.size()) {
                ssize_t w = write(master.get(), data.data() + off, data.size() - off);
                if (w < 0 && errno == EINTR) continue;
                if (w < 0) {
                    if (errno == EAGAIN) {
                        pollfd p{master.get(), POLLOUT, 0};
                        poll(&p, 1, 1000);
                        continue;
                    }
                    break;
                }
                off += static_cast<std::size_t>(w);
            }
            return;
        }
        // Without a terminal there is no line discipline: the keys that signal are done here.
        for (char c : data) {
            if (c == 0x03) signal_job(SIGINT, false);
            else if (c == 0x1a) signal_job(SIGTSTP, false);
            else if (c == 0x1c) signal_job(SIGQUIT, false);
        }
    }

    void reply(int fd, const json& j) { send_to(fd, 'j', j.dump(-1, ' ', false, json::error_handler_t::replace)); }

    void request(int fd, const json& req) {
        if (req.value("v", 0) != protocol_version) {
            reply(fd, {{"ok", false}, {"error", "protocol version " + std::to_string(req.value("v", 0)) +
                                                    " is not supported (the holder speaks " +
                                                    std::to_string(protocol_version) + ")"}});
            return;
        }
        std::string op = req.value("op", "");
        if (op == "subscribe") {
            clients[fd].subscriber = true;
            clients[fd].server = req.value("server", false);
            reply(fd, state);
        } else if (op == "signal") {
            signal_job(req.value("sig", SIGTERM), req.value("tree", false));
            reply(fd, {{"ok", true}});
        } else if (op == "attach") {
            if (attached >= 0 && attached != fd) {
                // A second client takes the job over; the first is told why it was detached.
                int old = attached;
                reply(old, {{"event", "detached"}, {"reason", "attached from another terminal"}});
                attached = -1;
                if (auto o = clients.find(old); o != clients.end()) {
                    o->second.cut = true;  // closed once the event is sent
                    flush(old);
                }
            }
            attached = fd;
            reply(fd, state);
            if (scrollback.size() > 0) send_to(fd, 'o', scrollback.contents());
            if (req.contains("size")) set_winsize(req.value("size", ""));
            if (req.value("cont", false)) signal_job(SIGCONT, false);
        } else {
            reply(fd, {{"ok", false}, {"error", "unknown request " + op}});
        }
    }

    void client_readable(int fd) {
        auto it = clients.find(fd);
        if (it == clients.end()) return;
        bool alive = it->second.reader.fill(fd);
        while (auto f = it->second.reader.next()) {
            if (f->type == 'j') {
                json req = json::parse(f->payload, nullptr, false);
                if (req.is_discarded() || !req.is_object()) {
                    alive = false;
                    break;
                }
                request(fd, req);
                if (clients.find(fd) == clients.end()) return;
            } else if (f->type == 'i' && fd == attached) {
                input(f->payload);
            } else if (f->type == 'w' && fd == attached) {
                set_winsize(f->payload);
            } else if (f->type == '!') {
                alive = false;
                break;
            }
        }
        if (!alive) drop(fd);
    }

    void accept_clients() {
        for (;;) {
            unique_fd c(accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
            if (!c) return;
            if (peer_uid(c.get()) != static_cast<long>(geteuid())) continue;  // not ours: closed
            int fd = c.get();
            clients[fd];
            fds.emplace(fd, std::move(c));
        }
    }

    /// Reaps what changed. True once the job has ended.
    bool job_changed() {
        for (;;) {
            auto st = child.try_wait_state();
            if (!st || !*st) return false;
            const ExitStatus& s = **st;
            if (s.is_stopped()) {
                state = {{"event", "state"}, {"state", "stopped"}, {"sig", *s.signal()}};
            } else if (s.is_continued()) {
                state = {{"event", "state"}, {"state", "running"}};
            } else {
                state = {{"event", "exit"}, {"state", "done"}, {"ended", static_cast<long long>(std::time(nullptr))}};
                if (s.is_exited()) {
                    state["kind"] = "exited";
                    state["code"] = *s.code();
                } else {
                    state["kind"] = "killed";
                    state["sig"] = *s.signal();
                    state["core"] = s.core_dumped();
                }
            }
            state["pid"] = child.pid();  // every state names the job, for a server that lacks its PID
            if (!log_error.empty()) state["log_error"] = log_error;
            if (state["event"] == "exit") return true;
            broadcast(state);
        }
    }

    /// Whether a server has been sent the job's end (its exit event is out of our hands).
    bool server_told() const {
        for (const auto& [fd, c] : clients)
            if (c.server && c.subscriber && c.out.empty()) return true;
        return false;
    }

    int finish() {
        while (read_output() && last_batch == batch.size()) {  // what the job wrote last
        }
        std::string err;
        bool recorded = write_file_atomic(paths.exit_record(id), state.dump() + "\n", &err);
        if (!recorded) std::fprintf(stderr, "pjobs holder %ld: cannot write exit record: %s\n", id, err.c_str());
        broadcast(state);
        // Without the record (a full disk) the job's status exists only here: the holder stays,
        // its socket open, until a server has it (one subscribing now gets it as its answer) or
        // the record can be written (retried every second). Else the job would be "lost".
        while (!recorded && !server_told()) {
            std::vector<pollfd> pfds;
            pfds.push_back({listener.get(), POLLIN, 0});
            for (auto& [fd, c] : clients) pfds.push_back({fd, static_cast<short>(c.out.empty() ? POLLIN : POLLIN | POLLOUT), 0});
            int n = poll(pfds.data(), pfds.size(), 1000);
            if (n < 0 && errno != EINTR) break;
            if (n == 0) recorded = write_file_atomic(paths.exit_record(id), state.dump() + "\n", &err);
            if (n <= 0) continue;
            if (pfds[0].revents) accept_clients();
            for (std::size_t k = 1; k < pfds.size(); ++k) {
                if (pfds[k].revents & POLLOUT) flush(pfds[k].fd);
                if (pfds[k].revents & ~POLLOUT) client_readable(pfds[k].fd);
            }
        }
        unlink(paths.holder_socket(id).c_str());
        // What still waits for a client (a slow `fg`, the server) gets a short while to go out;
        // a client that does not read is not waited for.
        auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(finish_drain_ms);
        for (;;) {
            std::vector<pollfd> pfds;
            for (auto& [fd, c] : clients)
                if (!c.out.empty()) pfds.push_back({fd, POLLOUT, 0});
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now()).count();
            if (pfds.empty() || left <= 0) break;
            if (poll(pfds.data(), pfds.size(), static_cast<int>(left)) < 0 && errno != EINTR) break;
            for (auto& p : pfds)
                if (p.revents) flush(p.fd);
        }
        return 0;
    }
};

}  // namespace

int holder_main(const std::string& spec_text) {
    Holder h;
    h.spec = json::parse(spec_text, nullptr, false);
    if (h.spec.is_discarded()) {
        std::fprintf(stderr, "pjobs holder: cannot parse the job's description\n");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    h.paths.runtime = h.spec.value("runtime", "");
    h.paths.state = h.spec.value("state_dir", "");
    h.id = h.spec.value("id", 0L);
    h.tty = h.spec.value("tty", true);
    // Leave the server's process tree and session (the library's double fork): the holder is the
    // job's owner, not a child of the server, so neither a server that ends nor a signal to the
    // server's group touches it. The first process reports the daemon's verdict on stdout.
    DaemonOptions dopts;
    dopts.umask = mode_t{077};
    dopts.log_path = h.paths.server_log();
    auto daemon = daemonize(dopts);
    if (!daemon) {
        std::printf("error %s\n", daemon.error().message().c_str());
        return 1;
    }
    if (!daemon->is_daemon()) {
        auto r = daemon->wait_ready();
        if (!r) {
            std::printf("error the job's holder died while starting\n");
            return 1;
        }
        std::printf("%s %s\n", r->code == 0 ? "pid" : "error", r->message.c_str());
        return r->code;
    }
    try {
        h.listener = listen_unix(h.paths.holder_socket(h.id));
    } catch (const std::exception& e) {
        daemon->notify(1, e.what());
        return 1;
    }
    h.log = unique_fd(open(h.paths.log(h.id).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600));
    if (!h.log) h.log_error = std::strerror(errno);

    std::vector<std::string> argv = h.spec.value("argv", std::vector<std::string>{});
    // The holder does for its job what a shell does: it leads a session whose controlling terminal
    // is the job's pty, and the job leads its own process group in that session, made the pty's
    // foreground group. The job's group is then not orphaned (its parent, the holder, is in the same
    // session but another group), so SIGTSTP from Ctrl-Z or `pjobs stop` stops it; and when the
    // holder dies, the kernel hangs up the session's terminal (SIGHUP to the job).
    setsid();
    signal(SIGTTOU, SIG_IGN);
    Command cmd(argv.at(0));
    cmd.args(std::vector<std::string>(argv.begin() + 1, argv.end()));
    unique_fd slave;
    if (h.tty) {
        auto pty = open_pty();
        if (!pty) {
            daemon->notify(1, "cannot open a pseudo-terminal: " + pty.error().message());
            return 1;
        }
        h.master = std::move(pty->master);
        slave = std::move(pty->slave);
        if (ioctl(slave.get(), TIOCSCTTY, 0) != 0) {  // our controlling terminal
            daemon->notify(1, std::string("cannot open a pseudo-terminal: ") + std::strerror(errno));
            return 1;
        }
        h.set_winsize(h.spec.value("size", "24 80"));
        cmd.in(Stdio::fd(slave.get())).out(Stdio::fd(slave.get())).err(Stdio::fd(slave.get()));
    } else {
        cmd.in(Stdio::null()).out(Stdio::pipe()).err(Stdio::to_stdout());
    }
    cmd.new_process_group().parent_death_signal(SIGHUP).on_destroy(DestroyPolicy::detach);
    cmd.env_clear();
    for (const auto& kv : h.spec.value("env", std::vector<std::string>{})) {
        auto eq = kv.find('=');
        if (eq != std::string::npos) cmd.env(kv.substr(0, eq), kv.substr(eq + 1));
    }
    if (auto cwd = h.spec.value("cwd", ""); !cwd.empty()) cmd.cwd(cwd);
    if (h.spec.contains("nice")) cmd.nice(h.spec["nice"].get<int>());
    if (h.spec.contains("oom_score_adj")) cmd.oom_score_adj(h.spec["oom_score_adj"].get<int>());
    if (h.spec.contains("cpus")) {
        auto set = CpuSet::parse(h.spec["cpus"].get<std::string>());
        if (!set) {  // the client checked it; a table edited by hand is refused, not ignored
            daemon->notify(2, "cannot parse the job's CPU list: " + set.error().message());
            unlink(h.paths.holder_socket(h.id).c_str());
            return 1;
        }
        cmd.affinity(*set);
    }
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigprocmask(SIG_BLOCK, &mask, nullptr);
    h.sigfd = unique_fd(signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK));
    auto spawned = cmd.spawn();
    if (!spawned) {
        // 127 and 126 are the command's fault; anything else (no descriptor or process left) is 1.
        const auto& e = spawned.error();
        daemon->notify(e.not_found() ? 127 : e.not_executable() ? 126 : 1, std::strerror(e.code().value()));
        unlink(h.paths.holder_socket(h.id).c_str());
        return 1;
    }
    h.child = std::move(*spawned);
    h.child.set_destroy_policy(DestroyPolicy::detach);
    if (h.tty) {
        tcsetpgrp(slave.get(), h.child.pid());  // the job is the pty's foreground group
        slave.reset();
    }
    if (!h.tty) h.master = std::move(h.child.stdout_pipe());
    fcntl(h.master.get(), F_SETFL, fcntl(h.master.get(), F_GETFL) | O_NONBLOCK);
    h.state["pid"] = h.child.pid();
    daemon->notify(0, std::to_string(h.child.pid()));

    bool master_open = true;
    for (;;) {
        std::vector<pollfd> pfds;
        pfds.push_back({h.sigfd.get(), POLLIN, 0});
        pfds.push_back({h.listener.get(), POLLIN, 0});
        pfds.push_back({master_open ? h.master.get() : -1, POLLIN, 0});
        for (auto& [fd, c] : h.clients) pfds.push_back({fd, static_cast<short>(c.out.empty() ? POLLIN : POLLIN | POLLOUT), 0});
        if (poll(pfds.data(), pfds.size(), -1) < 0) {
            if (errno == EINTR) continue;
            return 1;
        }
        if (pfds[2].revents) master_open = h.read_output();
        if (pfds[1].revents) h.accept_clients();
        for (std::size_t k = 3; k < pfds.size(); ++k) {
            if (pfds[k].revents & POLLOUT) h.flush(pfds[k].fd);
            if (pfds[k].revents & ~POLLOUT) h.client_readable(pfds[k].fd);
        }
        if (pfds[0].revents) {
            signalfd_siginfo si;
            while (read(h.sigfd.get(), &si, sizeof si) > 0) {
            }
            if (h.job_changed()) return h.finish();
        }
    }
}

}  // namespace prockit::pjobs
