// tools/prun/inputs.hpp — prun's input sources and their cross product (GNU parallel's semantics:
// the last source varies fastest). The first source is streamed (a million lines cost no memory);
// the others are read whole, as the product needs them again and again.
#pragma once

#include <prockit/sys/result.hpp>
#include <prockit/sys/unique_fd.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace prockit::prun {

struct SourceSpec {
    enum class Kind { args, file, stdin_ } kind = Kind::args;
    std::vector<std::string> args;  // Kind::args
    std::string path;               // Kind::file ("-" is stdin)
    std::string describe() const;   // "::: list 1", "file x", "standard input"
};

/// Reads records (lines or NUL-terminated) from a descriptor, buffered.
class RecordReader {
public:
    RecordReader(unique_fd fd, char sep, std::string what);
    /// The next record without its separator; nullopt at the end.
    Result<std::optional<std::string>> next();

private:
    unique_fd fd_;
    char sep_;
    std::string what_;
    std::string buf_;
    std::size_t pos_ = 0;
    bool eof_ = false;
};

class Inputs {
public:
    /// Opens every source now (so an unreadable file is reported before any job starts).
    static Result<Inputs> open(std::vector<SourceSpec> specs, char sep);
    Inputs(Inputs&&) = default;
    Inputs& operator=(Inputs&&) = default;

    std::size_t n_sources() const { return specs_.size(); }
    /// The next combination (one value per source); nullopt when all are done.
    Result<std::optional<std::vector<std::string>>> next();
    /// Reads the first source whole so total() is known (for --bar, --eta).
    Status materialize();
    /// The number of combinations, when known.
    std::optional<std::size_t> total() const;
    /// Whether a source (other than a streamed first one) is empty — the product is then empty.
    std::optional<std::string> empty_source() const;

private:
    Inputs() = default;
    std::vector<SourceSpec> specs_;
    char sep_ = '\n';
    std::unique_ptr<RecordReader> first_reader_;       // streaming source 0
    std::optional<std::vector<std::string>> first_all_;  // source 0 when materialized or args
    std::size_t first_pos_ = 0;
    std::vector<std::vector<std::string>> rest_;  // sources 1..n-1
    std::vector<std::size_t> idx_;                // odometer over rest_
    std::optional<std::string> current_first_;
    bool done_ = false;
};

}  // namespace prockit::prun
