// tools/pjobs/client.cpp — see client.hpp.
#include "client.hpp"

#include "server.hpp"

#include "common/cli.hpp"
#include "common/duration.hpp"

#include <prockit/process/daemon.hpp>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace prockit::pjobs {

namespace {

void start_server(const Paths& paths) {
    DaemonOptions d;
    d.umask = mode_t{077};
    d.log_path = paths.server_log();
    auto daemon = daemonize(d);
    if (!daemon) throw Failure("cannot start the server: " + daemon.error().message());
    if (daemon->is_daemon()) {
        Daemonized& dm = *daemon;
        int rc = server_main(paths, [&](int code, const std::string& msg) { dm.notify(code, msg); });
        std::exit(rc);
    }
    auto r = daemon->wait_ready();
    if (!r) throw Failure("cannot start the server: it ended before it was ready (see " + paths.server_log() + ")");
    // Another command may have started one at the same time: its pidfile lock refused ours, and
    // that server answers.
    if (r->code != 0 && r->message.find("held by") == std::string::npos) throw Failure(r->message);
}

/// How long the server may take to answer a request it answers at once: PJOBS_TIMEOUT (a
/// duration), 10 s by default. A stopped or frozen server then fails the command instead of
/// hanging it.
std::chrono::nanoseconds reply_timeout() {
    const char* v = std::getenv("PJOBS_TIMEOUT");
    if (!v || !*v) return std::chrono::seconds(10);
    auto d = tools::parse_duration(v);
    if (!d || d->count() <= 0)
        throw Failure(std::string("cannot parse PJOBS_TIMEOUT \"") + v + "\": " +
                          (d ? std::string("it must be above zero") : tools::error_reason(d.error())),
                      2);
    return *d;
}

}  // namespace

unique_fd connect_server(const Paths& paths, bool start) {
    unique_fd fd = connect_unix(paths.server_socket());
    if (fd) return fd;
    int e = errno;
    if (!start) throw Failure(std::string("cannot reach the server: ") + (e == ENOENT || e == ECONNREFUSED ? "it is not running" : std::strerror(e)));
    start_server(paths);
    // The server listens before it reports ready; a concurrent start may still be binding.
    auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    for (;;) {
        fd = connect_unix(paths.server_socket());
        if (fd) return fd;
        e = errno;
        if (std::chrono::steady_clock::now() > end) break;
        poll(nullptr, 0, 10);
    }
    throw Failure(std::string("cannot reach the server: ") + std::strerror(e));
}

nlohmann::json call_on(int fd, nlohmann::json request) {
    request["v"] = protocol_version;
    // Bounded both ways (and for what the caller reads next on this connection, a raw list).
    const auto limit = reply_timeout();
    // The server must not carry the request out once this command has given up on it: it gets
    // the time by which it must have started (the give-up time less a margin for its work).
    set_deadline(request, limit);
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(limit).count();
    timeval tv{static_cast<time_t>(us / 1000000), static_cast<suseconds_t>(us % 1000000)};
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    auto no_answer = [&] {
        return Failure("cannot talk to the server: it did not answer within " + tools::format_duration(limit) +
                       " (is it stopped? see PJOBS_TIMEOUT)");
    };
    if (!send_json(fd, request)) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) throw no_answer();
        throw Failure("cannot talk to the server: the connection was closed");
    }
    errno = 0;
    auto f = recv_frame(fd);
    if (!f && (errno == EAGAIN || errno == EWOULDBLOCK)) throw no_answer();
    if (!f || f->type != 'j') throw Failure("cannot talk to the server: the connection was closed");
    auto reply = nlohmann::json::parse(f->payload, nullptr, false);
    if (reply.is_discarded() || !reply.is_object()) throw Failure("cannot talk to the server: malformed answer");
    if (!reply.value("ok", false)) throw Failure(reply.value("error", "the server refused"), reply.value("exit", 1));
    return reply;
}

nlohmann::json call(const Paths& paths, nlohmann::json request, bool start) {
    unique_fd fd = connect_server(paths, start);
    return call_on(fd.get(), std::move(request));
}

}  // namespace prockit::pjobs
