#include "inputs.hpp"

#include <prockit/sys/syscall.hpp>

#include <algorithm>
#include <iterator>
#include <random>
#include <cassert>
#include <cstring>
#include <regex>
#include <utility>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace prockit::prun {

std::string SourceSpec::describe() const {
    switch (kind) {
        case Kind::args: return "::: list";
        case Kind::file: return path == "-" ? "standard input" : "input file " + path;
        case Kind::stdin_: return "standard input";
    }
    return "input";
}

RecordReader::RecordReader(unique_fd fd, char sep, std::string what)
    : fd_(std::move(fd)), sep_(sep), what_(std::move(what)) {}

Result<std::optional<std::string>> RecordReader::next() {
    if (ended_) return std::optional<std::string>();
    auto rec = next_record();
    if (rec && *rec && eof_str_ && **rec == *eof_str_) {
        ended_ = true;
        return std::optional<std::string>();
    }
    return rec;
}

Result<std::optional<std::string>> RecordReader::next_record() {
    for (;;) {
        auto at = buf_.find(sep_, std::max(pos_, scanned_));
        if (at != std::string::npos) {
            std::string rec = buf_.substr(pos_, at - pos_);
            pos_ = at + 1;
            ++records_;
            return std::optional<std::string>(std::move(rec));
        }
        scanned_ = buf_.size();  // a long record is searched once, not once per read
        if (eof_) {
            if (pos_ < buf_.size()) {
                std::string rec = buf_.substr(pos_);
                pos_ = buf_.size();
                ++records_;
                return std::optional<std::string>(std::move(rec));
            }
            return std::optional<std::string>();
        }
        if (auto st = fill(); !st) return fail(st.error());
    }
}

int RecordReader::waiting_fd() const {
    if (eof_ || ended_) return -1;
    if (buf_.find(sep_, std::max(pos_, scanned_)) != std::string::npos) return -1;
    scanned_ = buf_.size();
    return fd_.get();
}

Status RecordReader::fill() {
    if (eof_) return {};
    buf_.erase(0, pos_);
    scanned_ = scanned_ > pos_ ? scanned_ - pos_ : 0;
    pos_ = 0;
    if (buf_.size() > max_record_bytes)  // what is buffered now is one unfinished record
        return fail(Error(make_error_code(Errc::out_of_range),
                          "read \"" + what_ + "\": record " + std::to_string(records_ + 1) + " is longer than 1 MiB"));
    std::size_t old = buf_.size();
    buf_.resize(old + 65536);
    ssize_t n = retry_eintr([&] { return ::read(fd_.get(), buf_.data() + old, 65536); });
    if (n < 0) {
        Error e = last_error("read " + what_);
        buf_.resize(old);
        return fail(e);
    }
    buf_.resize(old + static_cast<std::size_t>(n));
    if (n == 0) eof_ = true;
    return {};
}

std::size_t RecordBounds::find(std::string_view d, std::size_t from, bool complete, std::size_t& resume) const {
    const std::size_t len = d.size();
    from = std::max<std::size_t>(from, 1);
    if (end.empty() && start.empty() && !regexp) {  // no separator: every byte ends a record
        resume = from;
        if (from < len || (from == len && !complete)) return resume = from + 1, from;
        return npos;
    }
    if (regexp) {
        // A match (with what its lookahead looks at) is taken to fit in regexp_window bytes: the
        // search starts that far back and, unless the input is complete, stops that far short.
        static thread_local std::string cached_pattern;
        static thread_local std::regex re;
        std::string pattern = "(?:" + (end.empty() ? std::string() : end) + ")" + (start.empty() ? "" : "(?=" + start + ")");
        if (pattern != cached_pattern) {
            re = std::regex(pattern, std::regex::ECMAScript);
            cached_pattern = pattern;
        }
        std::size_t lo = from > regexp_window ? from - regexp_window : 0;
        std::size_t hi = complete ? len : (len > regexp_window ? len - regexp_window : 0);
        if (lo >= hi) {
            resume = from;
            return npos;
        }
        auto flags = lo > 0 ? std::regex_constants::match_prev_avail : std::regex_constants::match_default;
        for (auto it = std::cregex_iterator(d.data() + lo, d.data() + len, re, flags); it != std::cregex_iterator(); ++it) {
            std::size_t m = lo + static_cast<std::size_t>(it->position(0));
            if (m >= hi) break;
            std::size_t p = m + static_cast<std::size_t>(it->length(0));
            if (p >= from && p < len) {
                resume = p + 1;
                return p;
            }
        }
        resume = std::max(from, hi);
        return npos;
    }
    if (end.empty()) {  // --recstart alone: a record begins where `start` does
        if (start.size() > len || from > len - start.size()) {
            resume = from;
            return npos;
        }
        const void* m = memmem(d.data() + from, len - from, start.data(), start.size());
        if (!m) {
            resume = len - start.size() + 1;
            return npos;
        }
        std::size_t p = static_cast<std::size_t>(static_cast<const char*>(m) - d.data());
        resume = p + 1;
        return p;
    }
    std::size_t pos = from >= end.size() ? from - end.size() : 0;  // where a match may begin
    for (;;) {
        const void* m = pos < len ? (end.size() == 1 ? std::memchr(d.data() + pos, end[0], len - pos)
                                                     : memmem(d.data() + pos, len - pos, end.data(), end.size()))
                                  : nullptr;
        if (!m) {
            // A match not found yet begins at or past len - end.size() + 1.
            std::size_t next_m = std::max(pos, len + 1 >= end.size() ? len + 1 - end.size() : 0);
            resume = std::max(from, next_m + end.size());
            return npos;
        }
        std::size_t mpos = static_cast<std::size_t>(static_cast<const char*>(m) - d.data());
        std::size_t p = mpos + end.size();
        if (!start.empty()) {
            if (p + start.size() > len) {
                if (complete) {
                    pos = mpos + 1;
                    continue;
                }
                resume = p;  // whether `start` follows is not known yet
                return npos;
            }
            if (std::memcmp(d.data() + p, start.data(), start.size()) != 0) {
                pos = mpos + 1;
                continue;
            }
        }
        if (p >= len && complete) {  // the end of the input is no cut
            resume = len + 1;
            return npos;
        }
        resume = p + 1;
        return p;
    }
}

BlockReader::BlockReader(unique_fd fd, char sep, std::size_t size)
    : BlockReader(std::move(fd), RecordBounds{std::string(1, sep), {}, false}, size) {}

BlockReader::BlockReader(unique_fd fd, RecordBounds bounds, std::size_t size, std::size_t records)
    : fd_(std::move(fd)), bounds_(std::move(bounds)), size_(std::max<std::size_t>(1, size)), records_(records) {}

void BlockReader::find_cut() {
    if (cut_ != npos) return;
    const std::string_view d(buf_.data(), len_);
    if (!records_ && bounds_.end.empty() && bounds_.start.empty() && !bounds_.regexp) {  // blocks of exactly size_
        if (len_ > size_ || (len_ == size_ && !eof_)) cut_ = size_;
        return;
    }
    if (!records_ && bounds_.simple()) {
        // One byte ends a record: the last one within the block size, searched once per block,
        // else (a record longer than the block) the first one after it.
        if (eof_ ? len_ <= size_ : len_ < size_) return;  // more to read, or the rest is the last block
        const char sep = bounds_.end[0];
        if (last_ == npos) {  // the window is searched once
            if (const void* p = memrchr(d.data(), sep, size_)) {
                cut_ = static_cast<std::size_t>(static_cast<const char*>(p) - d.data()) + 1;
                return;
            }
            last_ = 0;
            from_ = size_;
        }
        if (from_ < len_)
            if (const void* p = std::memchr(d.data() + from_, sep, len_ - from_)) {
                cut_ = static_cast<std::size_t>(static_cast<const char*>(p) - d.data()) + 1;
                return;
            }
        from_ = len_;
        return;
    }
    for (;;) {
        std::size_t resume = from_;
        std::size_t b = bounds_.find(d, from_, eof_, resume);
        if (b == npos) {
            from_ = std::max(from_, resume);
            break;
        }
        from_ = b + 1;
        if (records_) {
            if (++count_ == records_) {
                cut_ = b;
                return;
            }
            continue;
        }
        if (b <= size_) {
            last_ = b;
            continue;
        }
        cut_ = last_ != npos ? last_ : b;
        return;
    }
    // Every boundary found is within the block size, and any later one lies beyond it.
    if (!records_ && last_ != npos && (eof_ ? len_ > size_ : from_ > size_)) cut_ = last_;
}

Result<std::optional<std::string>> BlockReader::next() {
    using Out = std::optional<std::string>;
    while (cut_ == npos && !eof_)
        if (auto st = fill(); !st) return fail(st.error());
    if (cut_ == npos) {  // the end of the input: what is left is the last block, separator or not
        if (len_ == 0) return Out();
        std::string last(buf_.data(), len_);
        len_ = 0;
        buf_ = {};
        return Out(std::move(last));
    }
    std::size_t n = cut_;
    std::string block(buf_.data(), n);
    std::memmove(buf_.data(), buf_.data() + n, len_ - n);
    len_ -= n;
    cut_ = npos;
    from_ = 1;
    last_ = npos;
    count_ = 0;
    if (buf_.size() > 4 * std::max<std::size_t>(size_, 1 << 20) && len_ < size_)  // after one huge record
        buf_ = std::vector<char>(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(len_));
    find_cut();
    return Out(std::move(block));
}

Result<PartCutter> PartCutter::open(const std::string& path, RecordBounds bounds, std::size_t size) {
    auto fd = open_fd(path, O_RDONLY | O_CLOEXEC);
    if (!fd) return fail(Error(fd.error().code(), "read input file " + path));
    struct stat st {};
    if (fstat(fd->get(), &st) != 0) return fail(last_error("read input file " + path));
    if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
        return fail(Error::from_errno(ESPIPE, "use " + path + " with --pipepart (it needs a regular file)"));
    PartCutter c;
    c.fd_ = std::move(*fd);
    c.len_ = static_cast<std::size_t>(st.st_size);
    c.bounds_ = std::move(bounds);
    c.size_ = std::max<std::size_t>(1, size);
    if (c.len_ > 0) {
        void* m = ::mmap(nullptr, c.len_, PROT_READ, MAP_PRIVATE, c.fd_.get(), 0);
        if (m == MAP_FAILED) return fail(last_error("map input file " + path));
        c.map_ = static_cast<const char*>(m);
    }
    return c;
}

PartCutter::PartCutter(PartCutter&& o) noexcept
    : fd_(std::move(o.fd_)), map_(std::exchange(o.map_, nullptr)), len_(std::exchange(o.len_, 0)), pos_(o.pos_),
      bounds_(std::move(o.bounds_)), size_(o.size_) {}

PartCutter::~PartCutter() {
    if (map_) ::munmap(const_cast<char*>(map_), len_);
}

std::optional<PartCutter::Range> PartCutter::next() {
    if (pos_ >= len_) return std::nullopt;
    const std::string_view rest(map_ + pos_, len_ - pos_);
    std::size_t end = rest.size();
    std::size_t resume = 0;
    // A range ends at the first boundary past `size` bytes from its start (as GNU parallel's).
    // Only the bytes from there on are looked at.
    if (size_ < rest.size()) {
        std::size_t b = bounds_.find(rest, size_ + 1, true, resume);
        end = b == RecordBounds::npos ? rest.size() : b;
    }
    Range r{static_cast<off_t>(pos_), end};
    pos_ += end;
    return r;
}

int BlockReader::waiting_fd() const { return eof_ || cut_ != npos ? -1 : fd_.get(); }

Status BlockReader::fill() {
    if (eof_) return {};
    // Chunks of 64 KiB to 4 MiB, into a buffer that doubles as needed: no byte is zeroed or
    // copied more than a constant number of times, whatever --block is.
    std::size_t chunk = std::clamp<std::size_t>(len_, 65536, 4 << 20);
    if (buf_.size() - len_ < chunk) buf_.resize(std::max(buf_.size() * 2, len_ + chunk));
    ssize_t n = retry_eintr([&] { return ::read(fd_.get(), buf_.data() + len_, buf_.size() - len_); });
    if (n < 0) return fail(last_error("read standard input"));
    if (n == 0) {
        eof_ = true;
        find_cut();  // a match at the end may only now be known to be one (or not)
        return {};
    }
    len_ += static_cast<std::size_t>(n);
    find_cut();
    return {};
}

namespace {

Result<std::unique_ptr<RecordReader>> open_reader(const SourceSpec& s, char sep, const std::optional<std::string>& eof) {
    std::unique_ptr<RecordReader> r;
    if (s.kind == SourceSpec::Kind::stdin_ || (s.kind == SourceSpec::Kind::file && s.path == "-")) {
        int fd = fcntl(0, F_DUPFD_CLOEXEC, 3);
        if (fd < 0) return fail(last_error("read standard input"));
        r = std::make_unique<RecordReader>(unique_fd(fd), sep, "standard input");
    } else {
        auto fd = open_fd(s.path, O_RDONLY | O_CLOEXEC);
        if (!fd) return fail(Error(fd.error().code(), "read input file " + s.path));
        r = std::make_unique<RecordReader>(std::move(*fd), sep, "input file " + s.path);
    }
    if (eof) r->set_eof(*eof);
    return r;
}

Result<std::vector<std::string>> read_all(RecordReader& r) {
    std::vector<std::string> out;
    for (;;) {
        auto rec = r.next();
        if (!rec) return fail(rec.error());
        if (!*rec) return out;
        out.push_back(std::move(**rec));
    }
}

}  // namespace

Result<Inputs> Inputs::open(std::vector<SourceSpec> specs, char sep, bool wrap, std::optional<std::string> eof) {
    Inputs in;
    in.specs_ = std::move(specs);
    in.wrap_ = wrap;
    in.values_.resize(in.specs_.size());
    for (std::size_t i = 0; i < in.specs_.size(); ++i) {
        if (i == 0 || !in.specs_[i].linked)
            in.groups_.emplace_back();
        in.groups_.back().push_back(i);
    }
    for (std::size_t i = 0; i < in.specs_.size(); ++i) {
        const auto& s = in.specs_[i];
        if (s.kind == SourceSpec::Kind::args) {
            in.values_[i] = s.args;
            if (eof)
                if (auto at = std::find(in.values_[i].begin(), in.values_[i].end(), *eof); at != in.values_[i].end())
                    in.values_[i].erase(at, in.values_[i].end());
            continue;
        }
        auto r = open_reader(s, sep, eof);
        if (!r) return fail(r.error());
        if (i == 0 && in.groups_[0].size() == 1) {
            in.first_reader_ = std::move(*r);
            continue;
        }
        auto all = read_all(**r);
        if (!all) return fail(all.error());
        in.values_[i] = std::move(*all);
    }
    in.idx_.assign(in.groups_.empty() ? 0 : in.groups_.size() - 1, 0);
    return in;
}

std::size_t Inputs::group_size(std::size_t g) const {
    std::size_t n = values_[groups_[g][0]].size();
    for (std::size_t s : groups_[g]) n = wrap_ ? std::max(n, values_[s].size()) : std::min(n, values_[s].size());
    return n;
}

Status Inputs::materialize() {
    if (!first_reader_) return {};
    assert(!started_ && "materialize() after next() would lose the values already read");
    auto all = read_all(*first_reader_);
    if (!all) return fail(all.error());
    values_[0] = std::move(*all);
    first_reader_.reset();
    return {};
}

std::optional<std::size_t> Inputs::total() const {
    if (first_reader_ || specs_.empty()) return std::nullopt;
    if (empty_source()) return 0;
    std::size_t t = 1;
    for (std::size_t g = 0; g < groups_.size(); ++g) t *= group_size(g);
    return t;
}

std::optional<std::string> Inputs::empty_source() const {
    for (std::size_t i = 0; i < specs_.size(); ++i) {
        if (i == 0 && first_reader_) continue;  // not known until it is read
        if (values_[i].empty()) return specs_[i].describe() + " (source " + std::to_string(i + 1) + ")";
    }
    return std::nullopt;
}

int Inputs::waiting_fd() const {
    if (done_ || !first_reader_ || current_first_) return -1;
    return first_reader_->waiting_fd();
}

Status Inputs::fill() { return first_reader_ ? first_reader_->fill() : Status{}; }

std::vector<std::string> split_columns(const std::string& value, const std::regex& sep) {
    std::vector<std::string> out;
    std::size_t from = 0;
    for (auto it = std::sregex_iterator(value.begin(), value.end(), sep); it != std::sregex_iterator(); ++it) {
        auto at = static_cast<std::size_t>(it->position(0)), len = static_cast<std::size_t>(it->length(0));
        if (len == 0) continue;  // a separator that matches nothing cuts nothing
        out.push_back(value.substr(from, at - from));
        from = at + len;
    }
    out.push_back(value.substr(from));
    return out;
}

std::vector<std::string> Inputs::columns(std::vector<std::string> row) const {
    if (!colsep_) return row;
    std::vector<std::string> out;
    for (const auto& v : row) {
        auto cols = split_columns(v, *colsep_);
        out.insert(out.end(), std::make_move_iterator(cols.begin()), std::make_move_iterator(cols.end()));
    }
    return out;
}

Result<std::vector<std::string>> Inputs::take_header() {
    assert(!started_ && "take_header() after next()");
    std::vector<std::string> row(specs_.size());
    for (std::size_t i = 0; i < specs_.size(); ++i) {
        if (i == 0 && first_reader_) {
            auto rec = first_reader_->next();
            if (!rec) return fail(rec.error());
            if (*rec) row[0] = std::move(**rec);
            continue;
        }
        if (!values_[i].empty()) {
            row[i] = std::move(values_[i].front());
            values_[i].erase(values_[i].begin());
        }
    }
    return columns(std::move(row));
}

Status Inputs::shuffle() {
    if (auto r = materialize(); !r) return r;
    std::deque<std::vector<std::string>> all;
    for (;;) {
        auto c = next_combination();
        if (!c) return fail(c.error());
        if (!*c) break;
        all.push_back(columns(std::move(**c)));
    }
    std::mt19937_64 rng(std::random_device{}());
    std::shuffle(all.begin(), all.end(), rng);
    shuffled_ = std::move(all);
    return {};
}

Result<std::optional<std::vector<std::string>>> Inputs::next() {
    using Out = std::optional<std::vector<std::string>>;
    if (shuffled_) {
        if (shuffled_->empty()) return Out();
        Out row(std::move(shuffled_->front()));
        shuffled_->pop_front();
        return row;
    }
    auto c = next_combination();
    if (!c || !*c || !colsep_) return c;
    return Out(columns(std::move(**c)));
}

Result<std::optional<std::vector<std::string>>> Inputs::next_combination() {
    using Out = std::optional<std::vector<std::string>>;
    started_ = true;
    if (done_ || specs_.empty()) return Out();
    if (empty_source()) {
        done_ = true;
        return Out();
    }
    if (first_reader_) {
        if (!current_first_) {
            auto rec = first_reader_->next();
            if (!rec) return fail(rec.error());
            if (!*rec) {
                done_ = true;
                return Out();
            }
            current_first_ = std::move(**rec);
        }
    } else if (pos0_ >= group_size(0)) {
        done_ = true;
        return Out();
    }
    std::vector<std::string> combo(specs_.size());
    for (std::size_t g = 0; g < groups_.size(); ++g) {
        std::size_t k = g == 0 ? pos0_ : idx_[g - 1];
        for (std::size_t s : groups_[g]) combo[s] = first_reader_ && s == 0 ? *current_first_ : value(s, k);
    }
    // Advance the odometer: the last group fastest, then group 0.
    bool carry = true;
    for (std::size_t g = groups_.size(); carry && g-- > 1;) {
        if (++idx_[g - 1] < group_size(g)) {
            carry = false;
        } else {
            idx_[g - 1] = 0;
        }
    }
    if (carry) {
        if (first_reader_)
            current_first_.reset();
        else
            ++pos0_;
    }
    return Out(std::move(combo));
}

}  // namespace prockit::prun
