// tools/pjobs/fg.cpp — `pjobs fg`: this terminal attached to a job's holder. The terminal goes to
// raw mode; keys are forwarded (so Ctrl-C and Ctrl-Z reach the job through its own pty's line
// discipline), window sizes follow SIGWINCH, and the holder replays its scrollback first. The
// detach key (Ctrl-\ unless --detach-key says otherwise) leaves the job running. When the job
// stops, fg returns like a shell's fg (`[N]+ Stopped`, status 128+SIGTSTP); when it ends, fg exits
// with the job's status. A second fg of the same job takes it over; the first is told so.
#include "client.hpp"
#include "pjobs_cli.hpp"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

namespace prockit::pjobs {

using nlohmann::json;

namespace {

struct RawMode {
    termios saved{};
    bool active = false;
    void enter() {
        if (tcgetattr(0, &saved) != 0) return;
        termios raw = saved;
        cfmakeraw(&raw);
        if (tcsetattr(0, TCSADRAIN, &raw) == 0) active = true;
    }
    void leave() {
        if (active) tcsetattr(0, TCSADRAIN, &saved);
        active = false;
    }
    ~RawMode() { leave(); }
};

std::string size_text() {
    winsize ws{};
    if (ioctl(0, TIOCGWINSZ, &ws) != 0 || ws.ws_row == 0) return {};
    return std::to_string(ws.ws_row) + " " + std::to_string(ws.ws_col);
}

bool write_out(const std::string& s) {
    std::size_t off = 0;
    while (off < s.size()) {
        ssize_t w = write(1, s.data() + off, s.size() - off);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return false;
        off += static_cast<std::size_t>(w);
    }
    return true;
}

}  // namespace

std::optional<int> parse_detach_key(const std::string& text) {
    if (text == "none") return -1;
    if (text.size() == 2 && text[0] == '^') {
        char c = text[1];
        if (c == '?') return 0x7f;
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
        if (c >= '@' && c <= '_') return c - '@';
    }
    if (text.size() == 1) return static_cast<unsigned char>(text[0]);
    return std::nullopt;
}

int mode_fg(const Paths& p, const Options& o) {
    auto key = parse_detach_key(o.detach_key);
    if (!key) throw Failure("cannot parse --detach-key \"" + o.detach_key + "\": expected ^X, one character or none", 2);
    std::string spec = o.specs.empty() ? std::string() : o.specs[0];
    json r = call(p, {{"op", "resolve"}, {"spec", spec}, {"verb", "attach"}});
    json job = r["job"];
    long id = job.value("id", 0L);
    std::string what = "job " + std::to_string(id);
    if (job_finished(job)) throw Failure("cannot attach " + what + ": it has finished (" + state_text(job) + ")");
    if (job.value("state", "") == "queued") throw Failure("cannot attach " + what + ": it is queued");
    if (!isatty(0)) throw Failure("cannot attach " + what + ": standard input is not a terminal");
    unique_fd sock = connect_unix(r.value("socket", ""));
    if (!sock) throw Failure("cannot attach " + what + ": its holder is unreachable: " + std::strerror(errno));
    json req = {{"v", protocol_version}, {"op", "attach"}, {"cont", true}};
    if (auto s = size_text(); !s.empty()) req["size"] = s;
    if (!send_json(sock.get(), req)) throw Failure("cannot attach " + what + ": its holder closed the connection");
    // Signals blocked and the terminal raw before anything is shown: a key typed as soon as the
    // command line appears (Ctrl-\, Ctrl-C) must reach the job, not end this process.
    sigset_t mask;
    sigemptyset(&mask);
    for (int s : {SIGWINCH, SIGTERM, SIGHUP, SIGINT, SIGQUIT, SIGTSTP}) sigaddset(&mask, s);
    sigprocmask(SIG_BLOCK, &mask, nullptr);
    unique_fd sigfd(signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK));
    RawMode raw;
    raw.enter();
    write_out(command_text(job) + "\r\n");
    auto done = [&](const std::string& line) {
        raw.leave();
        write_out("\r\n" + line);
    };
    bool first = true;
    bool stdin_open = true;
    FrameReader reader;
    std::string out;
    fcntl(sock.get(), F_SETFL, fcntl(sock.get(), F_GETFL) | O_NONBLOCK);
    std::string buf;
    buf.resize(65536);
    for (;;) {
        pollfd pf[3] = {{stdin_open ? 0 : -1, POLLIN, 0}, {sock.get(), POLLIN, 0}, {sigfd.get(), POLLIN, 0}};
        if (poll(pf, 3, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (pf[2].revents) {
            signalfd_siginfo si;
            bool hangup = false;
            while (read(sigfd.get(), &si, sizeof si) == sizeof si) {
                if (si.ssi_signo == SIGWINCH) {
                    if (auto s = size_text(); !s.empty()) send_frame(sock.get(), 'w', s);
                } else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGHUP) {
                    hangup = true;
                }
            }
            if (hangup) {
                done("");
                return 128 + SIGHUP;  // the job runs on; this terminal is gone
            }
        }
        if (pf[0].revents) {
            ssize_t n = read(0, buf.data(), buf.size());
            if (n <= 0) {
                stdin_open = false;
            } else {
                std::string_view in(buf.data(), static_cast<std::size_t>(n));
                auto k = *key >= 0 ? in.find(static_cast<char>(*key)) : std::string_view::npos;
                if (k != std::string_view::npos) {
                    if (k > 0) send_frame(sock.get(), 'i', in.substr(0, k));
                    done("[" + std::to_string(id) + "]+ " + "Running   " + command_text(job) + " &  (detached)\n");
                    return 0;
                }
                send_frame(sock.get(), 'i', in);
            }
        }
        if (!pf[1].revents) continue;
        // Everything the socket has, then every whole frame in it: the output of consecutive 'o'
        // frames goes to the terminal in one write.
        bool holder_open = reader.fill(sock.get());
        out.clear();
        for (;;) {
            auto v = reader.next_view();
            if (!v) break;
            if (v->type == 'o') {
                out += v->payload;
                continue;
            }
            if (v->type != 'j') continue;
            auto f = std::optional<Frame>(Frame{v->type, std::string(v->payload)});
            if (!out.empty() && !write_out(out)) return 1;
            out.clear();
            json ev = json::parse(f->payload, nullptr, false);
            if (ev.is_discarded()) continue;
            if (first) {  // the holder's answer to attach: the state before we continued it
                first = false;
                continue;
            }
            std::string e = ev.value("event", "");
            if (e == "detached") {
                done("[" + std::to_string(id) + "] detached: " + ev.value("reason", "") + "\n");
                return 0;
            }
            if (e == "exit") {
                raw.leave();
                return job_status(ev);
            }
            if (ev.value("state", "") == "stopped") {
                done("[" + std::to_string(id) + "]+ " + state_text(ev) + "   " + command_text(job) + "\n");
                return 128 + ev.value("sig", SIGTSTP);
            }
        }
        if (!out.empty() && !write_out(out)) return 1;
        if (!holder_open) {
            // The holder ended without a word: it was killed, the job is lost.
            done("");
            throw Failure("cannot attach " + what + ": its holder ended (the job is lost)");
        }
    }
    return 1;
}

}  // namespace prockit::pjobs
