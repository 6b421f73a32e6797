// prockit/sys/error.hpp — the error value every fallible prockit call reports, and the exception
// its throwing forms raise.
#pragma once

#include <cerrno>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

namespace prockit {

/// An error: a std::error_code (usually an errno value in std::system_category) plus the context
/// it happened in, written as "<verb> <object>" — e.g. "open /proc/42/stat".
class Error {
public:
    Error() = default;
    Error(std::error_code code, std::string context) : code_(code), context_(std::move(context)) {}

    /// An errno value in the system category.
    static Error from_errno(int err, std::string context) {
        return Error(std::error_code(err, std::system_category()), std::move(context));
    }

    const std::error_code& code() const noexcept { return code_; }
    const std::string& context() const noexcept { return context_; }
    /// The errno value when the code is in the system (or generic) category, else 0.
    int errno_value() const noexcept;

    /// "cannot <context>: <reason>" — the one-line form tools print after their own name.
    std::string message() const;

private:
    std::error_code code_;
    std::string context_;
};

/// The exception a prockit call's throwing form raises; what() is Error::message().
class SystemError : public std::system_error {
public:
    explicit SystemError(Error e);
    const Error& error() const noexcept { return error_; }

private:
    Error error_;
};

/// Throws the exception that matches an error value. Overloaded (found by ADL) for richer errors
/// such as SpawnError, so Result<T, E>::value() raises the matching exception type.
[[noreturn]] void throw_error(const Error& e);

/// Error categories of prockit's own conditions (parse errors, protocol errors, ...).
enum class Errc {
    parse_error = 1,  ///< malformed input text
    not_found,        ///< a named thing (signal, resource, process) does not exist
    out_of_range,     ///< a value outside what is allowed
    protocol,         ///< a peer sent bytes that do not decode
    timed_out,        ///< a deadline passed
};
const std::error_category& prockit_category() noexcept;
inline std::error_code make_error_code(Errc e) noexcept {
    return {static_cast<int>(e), prockit_category()};
}

}  // namespace prockit

template <>
struct std::is_error_code_enum<prockit::Errc> : std::true_type {};
