#include "common/selection.hpp"

#include "common/cli.hpp"

#include <prockit/sys/error.hpp>

#include <cctype>
#include <cerrno>
#include <string>

namespace prockit::tools {

std::vector<proc::ProcessRef> select_processes(const proc::Selector& s, bool allow_none, const FsRoot& fs,
                                               bool& failed) {
    auto matcher = proc::Matcher::compile(s, fs);
    if (!matcher) {
        if (matcher.error().code() == Errc::parse_error) {
            // The context reads `compile regular expression "PAT" (regerror's reason)`.
            const std::string& c = matcher.error().context();
            std::size_t q = c.find('"'), end = c.rfind("\" (");
            if (q == std::string::npos || end == std::string::npos || end <= q || c.back() != ')')
                throw UsageError("cannot parse --match: " + error_reason(matcher.error()));
            std::string why = c.substr(end + 3, c.size() - end - 4);
            if (!why.empty()) why[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(why[0])));
            throw UsageError("cannot parse --match " + c.substr(q, end + 1 - q) + ": " + why);
        }
        throw SystemError(matcher.error());
    }
    auto sel = matcher->select();
    if (!sel) throw SystemError(sel.error());
    if (!allow_none) {
        for (pid_t p : sel->missing) {
            print_error(Error::from_errno(ESRCH, "find process " + std::to_string(p)));
            failed = true;
        }
        if (sel->processes.empty() && sel->missing.empty()) {
            print_error(Error(make_error_code(Errc::not_found), "find a process matching the selection"));
            failed = true;
        }
    }
    return std::move(sel->processes);
}

}  // namespace prockit::tools
