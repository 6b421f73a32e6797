#pragma once
// Test hooks of select.cpp, for the library's own tests; not installed, not part of the API.

#include <cstddef>

namespace prockit::detail {

/// With `on`, a threaded scan's lister (Matcher::select with threads > 1) waits after each chunk
/// of /proc it publishes until another thread waits for PIDs not listed yet (2 s at most), so
/// the waits for a partly listed block run on demand.
void set_scan_lister_waits(bool on);

/// How many times, since the process started, a scan thread waited for PIDs not listed yet.
unsigned scan_waits_for_listing();

/// Makes a threaded scan use a thread for every `min_per_thread` processes (default 256), and
/// room for `room` PIDs while it lists /proc (default: from /proc's link count; the PIDs listed
/// past it are examined last, by the caller). 0 restores a default.
void set_scan_limits(std::size_t min_per_thread, std::size_t room);

}  // namespace prockit::detail
