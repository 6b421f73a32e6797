#include <prockit/process/credentials.hpp>

#include <prockit/sys/error.hpp>

#include <cerrno>
#include <charconv>
#include <optional>
#include <grp.h>
#include <pwd.h>
#include <unistd.h>

namespace prockit {
namespace {

bool all_digits(std::string_view t) { return !t.empty() && t.find_first_not_of("0123456789") == std::string_view::npos; }

// A numeric ID: 0 to 4294967294; (uid_t)-1 means "unchanged" to the set*id calls, and what does
// not fit would wrap around to another ID (4294967296 to root).
std::optional<unsigned long> number(std::string_view t) {
    unsigned long v = 0;
    auto r = std::from_chars(t.data(), t.data() + t.size(), v);
    if (!all_digits(t) || r.ec != std::errc() || r.ptr != t.data() + t.size() || v > 0xfffffffeUL) return std::nullopt;
    return v;
}

Error out_of_range(std::string_view spec, const char* what) {
    return Error(make_error_code(Errc::parse_error), "parse user \"" + std::string(spec) + "\": " + what +
                                                         " ID out of range (0-4294967294)");
}

// The reentrant lookups want a buffer that may have to grow (ERANGE).
template <typename Entry, typename Fn>
Result<bool> lookup(Fn fn, Entry& entry, std::vector<char>& buf, const std::string& what) {
    for (;;) {
        Entry* found = nullptr;
        int err = fn(&entry, buf.data(), buf.size(), &found);
        if (err == ERANGE && buf.size() < (1U << 22)) {
            buf.resize(buf.size() * 2);
            continue;
        }
        if (err != 0 && err != ENOENT && err != ESRCH && err != EBADF && err != EPERM)
            return fail(Error::from_errno(err, "look up " + what));
        return found != nullptr;
    }
}

}  // namespace

Result<Credentials> lookup_credentials(std::string_view spec) {
    auto colon = spec.find(':');
    std::string u(spec.substr(0, colon));
    std::string g = colon == std::string_view::npos ? std::string() : std::string(spec.substr(colon + 1));
    if (u.empty() || (colon != std::string_view::npos && g.empty()))
        return fail(Error(make_error_code(Errc::parse_error),
                          "parse user \"" + std::string(spec) + "\": expected USER[:GROUP]"));
    Credentials c;
    std::vector<char> buf(16384);
    passwd pw{};
    bool have_pw = false;
    auto by_name = lookup<passwd>([&](passwd* e, char* b, std::size_t n, passwd** r) { return getpwnam_r(u.c_str(), e, b, n, r); },
                                  pw, buf, "user \"" + u + "\"");
    if (!by_name) return fail(by_name.error());
    if (*by_name) {
        have_pw = true;
    } else {
        auto v = number(u);
        if (!v && all_digits(u)) return fail(out_of_range(spec, "user"));
        if (!v) return fail(Error(make_error_code(Errc::not_found), "look up user \"" + u + "\": no such user"));
        c.uid = static_cast<uid_t>(*v);
        c.gid = static_cast<gid_t>(*v);
        auto by_id = lookup<passwd>([&](passwd* e, char* b, std::size_t n, passwd** r) { return getpwuid_r(c.uid, e, b, n, r); },
                                    pw, buf, "user " + u);
        if (!by_id) return fail(by_id.error());
        have_pw = *by_id;
    }
    if (have_pw) {
        c.uid = pw.pw_uid;
        c.gid = pw.pw_gid;
        c.user_name = pw.pw_name;
    }
    if (!g.empty()) {
        group gr{};
        std::vector<char> gbuf(16384);
        auto found = lookup<group>([&](group* e, char* b, std::size_t n, group** r) { return getgrnam_r(g.c_str(), e, b, n, r); },
                                   gr, gbuf, "group \"" + g + "\"");
        if (!found) return fail(found.error());
        if (*found) {
            c.gid = gr.gr_gid;
        } else if (auto v = number(g)) {
            c.gid = static_cast<gid_t>(*v);
        } else if (all_digits(g)) {
            return fail(out_of_range(spec, "group"));
        } else {
            return fail(Error(make_error_code(Errc::not_found), "look up group \"" + g + "\": no such group"));
        }
    }
    c.groups = {c.gid};
    if (have_pw) {
        int n = 64;
        c.groups.resize(static_cast<std::size_t>(n));
        if (getgrouplist(c.user_name.c_str(), c.gid, c.groups.data(), &n) < 0) {
            c.groups.resize(static_cast<std::size_t>(n));
            getgrouplist(c.user_name.c_str(), c.gid, c.groups.data(), &n);
        }
        c.groups.resize(static_cast<std::size_t>(n));
    }
    return c;
}

}  // namespace prockit
