#include <prockit/security/seccomp_spec.hpp>

#include <prockit/sys/error.hpp>
#include <prockit/sys/unique_fd.hpp>

#include <cerrno>
#include <fcntl.h>
#include <unistd.h>

namespace prockit {
namespace {

// A rules file is read whole, so it is bounded: /dev/zero or a runaway generator must end in an
// error, not in the OOM killer.
Result<std::string> read_rules(const std::string& path) {
    const std::string what = "read seccomp rules \"" + path + "\"";
    unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return fail(Error::from_errno(errno, what));
    std::string text;
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail(Error::from_errno(errno, what));
        if (n == 0) return text;
        if (text.size() + static_cast<std::size_t>(n) > max_seccomp_rules_bytes)
            return fail(Error(make_error_code(Errc::parse_error), what + ": larger than 16 MiB"));
        text.append(buf, static_cast<std::size_t>(n));
    }
}

}  // namespace

Result<SeccompFilter> parse_seccomp_spec(const std::vector<std::string>& items) {
    SeccompFilter f;
    for (const auto& item : items) {
        std::size_t p = 0;
        for (;;) {
            auto comma = item.find(',', p);
            std::string one = item.substr(p, comma == std::string::npos ? std::string::npos : comma - p);
            if (one.find('/') != std::string::npos) {
                auto text = read_rules(one);
                if (!text) return fail(text.error());
                if (auto r = f.add_rules_text(*text, one); !r) return fail(r.error());
            } else if (auto r = f.add_profile(one); !r) {
                std::string names;
                for (const auto& n : SeccompFilter::profile_names()) names += (names.empty() ? "" : ", ") + n;
                return fail(Error(make_error_code(Errc::not_found),
                                  "use seccomp profile \"" + one + "\": expected one of " + names +
                                      ", or a rules file path with '/'"));
            }
            if (comma == std::string::npos) break;
            p = comma + 1;
        }
    }
    return f;
}

}  // namespace prockit
