// tools/common/exit_codes.hpp — the exit-status contract every prockit tool documents in its man
// page (design rule 10).
#pragma once

namespace prockit::tools {

inline constexpr int exit_ok = 0;               ///< success
inline constexpr int exit_failure = 1;          ///< the operation failed (message on stderr)
inline constexpr int exit_usage = 2;            ///< bad command line (one-line message on stderr)
inline constexpr int exit_timeout = 124;        ///< a time limit passed
inline constexpr int exit_cannot_execute = 126; ///< the command exists but cannot be executed
inline constexpr int exit_not_found = 127;      ///< the command was not found
inline constexpr int exit_signal_base = 128;    ///< 128+N: a child the tool passes on died of signal N

/// The exit status a tool passes on for a child's wait status: its exit code, or 128+N when
/// it was killed by signal N.
int exit_status_of(int wait_status);

/// The exit status for a failed execve with `err` (127 for ENOENT/ENOTDIR, 126 otherwise).
int exit_status_for_exec_errno(int err);

}  // namespace prockit::tools
