#pragma once
// Test hooks of select.cpp, for the library's own tests; not installed, not part of the API.

namespace prockit::detail {

/// With `on`, a threaded scan's lister (Matcher::select with threads > 1) waits after each chunk
/// of /proc it publishes until another thread waits for PIDs not listed yet (2 s at most), so
/// the waits for a partly listed block run on demand.
void set_scan_lister_waits(bool on);

/// How many times, since the process started, a scan thread waited for PIDs not listed yet.
unsigned scan_waits_for_listing();

}  // namespace prockit::detail
