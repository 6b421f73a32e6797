#include <prockit/sys/error.hpp>

namespace prockit {

int Error::errno_value() const noexcept {
    if (code_.category() == std::system_category() || code_.category() == std::generic_category())
        return code_.value();
    return 0;
}

std::string Error::message() const {
    std::string m;
    if (!context_.empty()) m = "cannot " + context_ + ": ";
    m += code_.message();
    return m;
}

// std::system_error appends ": <reason>" to the text it is given, so it gets "cannot <context>".
SystemError::SystemError(Error e)
    : std::system_error(e.code(), e.context().empty() ? std::string() : "cannot " + e.context()),
      error_(std::move(e)) {}

void throw_error(const Error& e) { throw SystemError(e); }

namespace {
class ProckitCategory final : public std::error_category {
public:
    const char* name() const noexcept override { return "prockit"; }
    std::string message(int c) const override {
        switch (static_cast<Errc>(c)) {
            case Errc::parse_error: return "malformed input";
            case Errc::not_found: return "not found";
            case Errc::out_of_range: return "out of range";
            case Errc::protocol: return "malformed message";
            case Errc::timed_out: return "timed out";
        }
        return "unknown prockit error";
    }
};
}  // namespace

const std::error_category& prockit_category() noexcept {
    static const ProckitCategory cat;
    return cat;
}

}  // namespace prockit
