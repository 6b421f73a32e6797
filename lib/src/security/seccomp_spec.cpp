#include <prockit/security/seccomp_spec.hpp>

#include <prockit/sys/error.hpp>

namespace prockit {

Result<SeccompFilter> parse_seccomp_spec(const std::vector<std::string>& items) {
    SeccompFilter f;
    for (const auto& item : items) {
        std::size_t p = 0;
        for (;;) {
            auto comma = item.find(',', p);
            std::string one = item.substr(p, comma == std::string::npos ? std::string::npos : comma - p);
            if (one.find('/') != std::string::npos) {
                if (auto r = f.add_rules_file(one); !r) return fail(r.error());
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
