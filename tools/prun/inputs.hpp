// tools/prun/inputs.hpp — prun's input sources and their combinations, with GNU parallel's
// semantics: sources combine as a cross product (the last varies fastest), except that a source
// linked to the one before it (`:::+`, `::::+`, `--link`) advances with it, value k with value k:
// linked by `:::+`/`::::+` the shortest source ends the group, under `--link` the shorter ones wrap
// around. The first source is streamed when it stands alone (a million lines
// cost no memory); the others are read whole, as the product needs them again and again.
#pragma once

#include <prockit/sys/result.hpp>
#include <prockit/sys/unique_fd.hpp>

#include <deque>
#include <memory>
#include <regex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <sys/types.h>

namespace prockit::prun {

struct SourceSpec {
    enum class Kind { args, file, stdin_ } kind = Kind::args;
    std::vector<std::string> args;  // Kind::args
    std::string path;               // Kind::file ("-" is stdin)
    bool linked = false;            // advances with the source before it (:::+, ::::+, --link)
    std::string describe() const;   // "::: list 1", "file x", "standard input"
};

/// Reads records (lines or NUL-terminated) from a descriptor, buffered.
class RecordReader {
public:
    RecordReader(unique_fd fd, char sep, std::string what);
    /// The next record without its separator; nullopt at the end. Reads (and may block) until a
    /// whole record is there.
    Result<std::optional<std::string>> next();
    /// The descriptor next() would block on (no whole record buffered yet), else -1: an event
    /// loop polls it and calls fill() when it is readable, so it never blocks in next().
    int waiting_fd() const;
    /// One read() into the buffer. A record longer than max_record_bytes is an error
    /// (Errc::out_of_range): the input must not grow prun without bound (/dev/zero), and such a
    /// record could not be a command's argument anyway (the kernel takes 128 KiB at most).
    Status fill();

    static constexpr std::size_t max_record_bytes = std::size_t{1} << 20;

    /// -E/--eof: a record equal to `text` ends the input (it and what follows are not read as
    /// values).
    void set_eof(std::string text) { eof_str_ = std::move(text); }

private:
    Result<std::optional<std::string>> next_record();
    std::optional<std::string> eof_str_;
    bool ended_ = false;  // the -E record was met
    unique_fd fd_;
    char sep_;
    std::string what_;
    std::size_t records_ = 0;  // handed out so far
    std::string buf_;
    std::size_t pos_ = 0;
    mutable std::size_t scanned_ = 0;  // buf_ before this holds no separator past pos_
    bool eof_ = false;
};

/// Where --pipe's records meet: a boundary is a position p > 0 where `end` (--recend) ends and
/// `start` (--recstart) begins, both literal strings (with --regexp, ECMAScript regular expressions
/// matched within `regexp_window` bytes). The default is a record per line: end "\n", start "".
struct RecordBounds {
    std::string end = "\n";
    std::string start;
    bool regexp = false;
    static constexpr std::size_t npos = static_cast<std::size_t>(-1);
    static constexpr std::size_t regexp_window = 65536;

    /// Whether a record is a line ending with `sep` (then a single byte is searched for).
    bool simple() const { return !regexp && start.empty() && end.size() == 1; }
    /// The first boundary at or after `from` (from >= 1) in `data`, or npos. `complete`: data holds
    /// the rest of the input, so a match cut off by its end is no match. `resume` is set to where a
    /// search with more data must start again (every boundary before it was found).
    std::size_t find(std::string_view data, std::size_t from, bool complete, std::size_t& resume) const;
};

/// --pipe: cuts standard input into blocks for the jobs' stdin. A block holds whole records: as
/// many as fit in `size` bytes, or one longer record whole; with `records` (-N), exactly that many
/// records whatever their size. The last block may end without a separator. Only one block is
/// held at a time.
class BlockReader {
public:
    BlockReader(unique_fd fd, char sep, std::size_t size);
    BlockReader(unique_fd fd, RecordBounds bounds, std::size_t size, std::size_t records = 0);
    /// The next block; nullopt at the end of the input. Reads (and may block) until it is there.
    Result<std::optional<std::string>> next();
    /// As RecordReader's: the descriptor next() would block on, else -1.
    int waiting_fd() const;
    /// One read() into the buffer.
    Status fill();

private:
    static constexpr std::size_t npos = static_cast<std::size_t>(-1);
    void find_cut();  // after more input: where the next block ends, if that is known yet

    unique_fd fd_;
    RecordBounds bounds_;
    std::size_t size_;
    std::size_t records_ = 0;  // -N: records per block (0: by size)
    std::vector<char> buf_;  // [0, len_) read but not handed out yet
    std::size_t len_ = 0;
    std::size_t cut_ = npos;    // the next block's end (exclusive), once known
    std::size_t from_ = 1;      // where the boundary search goes on
    std::size_t last_ = npos;   // the last boundary within size_ found so far
    std::size_t count_ = 0;     // -N: boundaries found so far
    bool eof_ = false;
};

/// --pipepart: cuts a seekable file into byte ranges of whole records without reading it through:
/// a range ends at the first record boundary at or past `size` bytes from its start (only the
/// bytes around each cut are looked at; the file is mapped). Each job's range is spliced from the
/// file to its stdin.
class PartCutter {
public:
    static Result<PartCutter> open(const std::string& path, RecordBounds bounds, std::size_t size);
    PartCutter(PartCutter&&) noexcept;
    PartCutter& operator=(PartCutter&&) = delete;
    ~PartCutter();
    struct Range {
        off_t offset = 0;
        std::size_t length = 0;
    };
    /// The next range; nullopt after the last.
    std::optional<Range> next();
    /// The file, read-only (the jobs' data is spliced from it).
    int fd() const { return fd_.get(); }

private:
    PartCutter() = default;
    unique_fd fd_;
    const char* map_ = nullptr;
    std::size_t len_ = 0;
    std::size_t pos_ = 0;
    RecordBounds bounds_;
    std::size_t size_ = 1;
};

class Inputs {
public:
    /// Opens every source now (so an unreadable file is reported before any job starts).
    /// `wrap`: linked sources shorter than their group's longest start again (--link); otherwise
    /// the group ends with its shortest source (:::+).
    /// `eof` (-E): in every source, a value equal to it ends that source.
    static Result<Inputs> open(std::vector<SourceSpec> specs, char sep, bool wrap = false,
                               std::optional<std::string> eof = std::nullopt);
    Inputs(Inputs&&) = default;
    Inputs& operator=(Inputs&&) = default;

    std::size_t n_sources() const { return specs_.size(); }
    /// The next combination (one value per source); nullopt when all are done.
    Result<std::optional<std::vector<std::string>>> next();
    /// The streamed first source's descriptor when next() would block on it, else -1; fill()
    /// reads from it once (see RecordReader).
    int waiting_fd() const;
    Status fill();
    /// Reads a streamed first source whole so total() is known (for --bar, --eta). Call it before
    /// the first next().
    Status materialize();
    /// The number of combinations, when known.
    std::optional<std::size_t> total() const;
    /// A source that is empty (then there is nothing to combine), when one is known to be.
    std::optional<std::string> empty_source() const;

    /// --colsep: every value is cut into columns where `sep` matches, and next() gives the columns
    /// of all sources in a row (source 1's, then source 2's, ...): {1}..{n} are columns.
    void set_colsep(std::regex sep) { colsep_ = std::move(sep); }
    /// --header: takes the first value of every source (reading the streamed one's first record)
    /// and gives them as next() would give a row: the names of the columns. Call it before next().
    Result<std::vector<std::string>> take_header();
    /// --shuf: reads every source whole and gives the combinations in a random order.
    Status shuffle();

private:
    Inputs() = default;
    std::vector<std::string> columns(std::vector<std::string> row) const;
    Result<std::optional<std::vector<std::string>>> next_combination();
    std::size_t group_size(std::size_t g) const;
    const std::string& value(std::size_t source, std::size_t k) const {
        const auto& v = values_[source];
        return v[k % v.size()];
    }

    std::vector<SourceSpec> specs_;
    std::vector<std::vector<std::string>> values_;  // per source (source 0 empty while streamed)
    std::vector<std::vector<std::size_t>> groups_;  // the sources of each group; group 0 holds source 0
    std::unique_ptr<RecordReader> first_reader_;    // source 0 when streamed (it forms group 0 alone)
    std::optional<std::string> current_first_;      // streamed: the value of source 0 in use
    std::size_t pos0_ = 0;                          // group 0's position when not streamed
    std::vector<std::size_t> idx_;                  // odometer over groups 1..n-1
    bool wrap_ = false;
    bool started_ = false;  // next() was called
    bool done_ = false;
    std::optional<std::regex> colsep_;
    std::optional<std::deque<std::vector<std::string>>> shuffled_;  // --shuf: what next() gives
};

/// Cuts `value` where `sep` matches (--colsep).
std::vector<std::string> split_columns(const std::string& value, const std::regex& sep);

}  // namespace prockit::prun
