// tools/pjobs/client.hpp — a pjobs command's side of the protocol: reaching the server (starting
// it on demand), one request and its answer, and the failures a command reports.
#pragma once

#include "proto.hpp"

#include <stdexcept>

namespace prockit::pjobs {

/// A failure a command reports as "pjobs: <message>" with exit status `code`.
struct Failure : std::runtime_error {
    int code;
    Failure(const std::string& message, int c = 1) : std::runtime_error(message), code(c) {}
};

/// A connection to the server; with `start`, a server is started (daemonized) when none answers.
unique_fd connect_server(const Paths& paths, bool start = true);
/// Sends `request` (the version is added) and returns the answer; a refusal throws Failure.
nlohmann::json call(const Paths& paths, nlohmann::json request, bool start = true);
nlohmann::json call_on(int fd, nlohmann::json request);

/// The modes (commands.cpp, fg.cpp).
struct Options;
int mode_run(const Paths& p, const Options& o);
int mode_list(const Paths& p, const Options& o);
int mode_signal(const Paths& p, const Options& o);
int mode_wait(const Paths& p, const Options& o);
int mode_logs(const Paths& p, const Options& o);
int mode_rm(const Paths& p, const Options& o);
int mode_clean(const Paths& p, const Options& o);
int mode_group(const Paths& p, const Options& o);
int mode_server(const Paths& p, const Options& o);
int mode_fg(const Paths& p, const Options& o);

}  // namespace prockit::pjobs
