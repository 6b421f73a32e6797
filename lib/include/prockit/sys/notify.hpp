// prockit/sys/notify.hpp — telling the service manager (systemd) how a Type=notify service is
// doing: ready, reloading, stopping, or a one-line status.
//
//   prockit::notify_status("scanning /proc");
//   ...first full scan done...
//   prockit::notify_ready();              // systemd: "started" (Type=notify)
//
// The messages are datagrams to the AF_UNIX socket named by $NOTIFY_SOCKET (a path, or an
// abstract name when it starts with '@'), in systemd's stable sd_notify(3) text protocol. When
// NOTIFY_SOCKET is unset or empty every call succeeds and sends nothing, so a program may call
// them unconditionally. The socket is opened per call (O_CLOEXEC) and closed again; the
// environment is left as it is.
#pragma once

#include <prockit/sys/result.hpp>

#include <string_view>
#include <sys/types.h>

namespace prockit {

/// Sends `message` (lines of KEY=VALUE, e.g. "READY=1\nSTATUS=up") as one datagram. Returns
/// true when it was sent, false when there is no NOTIFY_SOCKET; errors name the socket.
Result<bool> notify(std::string_view message);

/// "READY=1". With `main_pid` > 0 also "MAINPID=<pid>": the process systemd should watch from
/// now on (a daemon that forked away from the process systemd started; the unit then needs
/// NotifyAccess=all, since the message no longer comes from the process systemd started).
Result<bool> notify_ready(pid_t main_pid = 0);

/// "STATUS=<text>": shown by `systemctl status`. Newlines in `text` become spaces.
Result<bool> notify_status(std::string_view text);

/// "RELOADING=1" plus "MONOTONIC_USEC=<now>" (which systemd 253+ requires with Type=notify-reload;
/// older versions ignore it). Send notify_ready() when the reload is done.
Result<bool> notify_reloading();

/// "STOPPING=1": the service is shutting down.
Result<bool> notify_stopping();

}  // namespace prockit
