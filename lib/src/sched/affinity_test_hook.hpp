#pragma once
// Test hooks of affinity.cpp, for the library's own tests; not installed, not part of the API.

namespace prockit::detail {

/// What the helper thread of set_affinity_all_threads() (AllThreadsOptions::helper_thread) is made
/// to do, so that the caller's two ways out run on demand.
enum class ListingHelperFault : int {
    none = 0,
    /// The helper waits until the caller has taken the listing back.
    never_claims = 1,
    /// The caller waits for the helper's claim; the helper stalls after its first chunk until the
    /// caller has returned.
    stalls = 2,
};

/// Applies to calls started from now on. A hooked wait ends after 2 s at most: a way out that no
/// longer works shows in the counts below instead of hanging the test.
void set_listing_helper_fault(ListingHelperFault fault);

/// How often, since the process started, the caller took the listing back from a late helper and
/// left a stalled helper behind.
struct ListingHelperFallbacks {
    unsigned taken_back = 0;
    unsigned left_behind = 0;
};
ListingHelperFallbacks listing_helper_fallbacks();

}  // namespace prockit::detail
