#include "inputs.hpp"

#include <prockit/sys/syscall.hpp>

#include <fcntl.h>
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
    for (;;) {
        auto at = buf_.find(sep_, pos_);
        if (at != std::string::npos) {
            std::string rec = buf_.substr(pos_, at - pos_);
            pos_ = at + 1;
            return std::optional<std::string>(std::move(rec));
        }
        if (eof_) {
            if (pos_ < buf_.size()) {
                std::string rec = buf_.substr(pos_);
                pos_ = buf_.size();
                return std::optional<std::string>(std::move(rec));
            }
            return std::optional<std::string>();
        }
        buf_.erase(0, pos_);
        pos_ = 0;
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
    }
}

namespace {

Result<std::unique_ptr<RecordReader>> open_reader(const SourceSpec& s, char sep) {
    if (s.kind == SourceSpec::Kind::stdin_ || (s.kind == SourceSpec::Kind::file && s.path == "-")) {
        int fd = fcntl(0, F_DUPFD_CLOEXEC, 3);
        if (fd < 0) return fail(last_error("read standard input"));
        return std::make_unique<RecordReader>(unique_fd(fd), sep, "standard input");
    }
    auto fd = open_fd(s.path, O_RDONLY | O_CLOEXEC);
    if (!fd) return fail(Error(fd.error().code(), "read input file " + s.path));
    return std::make_unique<RecordReader>(std::move(*fd), sep, "input file " + s.path);
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

Result<Inputs> Inputs::open(std::vector<SourceSpec> specs, char sep) {
    Inputs in;
    in.specs_ = std::move(specs);
    in.sep_ = sep;
    for (std::size_t i = 0; i < in.specs_.size(); ++i) {
        const auto& s = in.specs_[i];
        std::vector<std::string> values;
        if (s.kind == SourceSpec::Kind::args) {
            values = s.args;
        } else {
            auto r = open_reader(s, sep);
            if (!r) return fail(r.error());
            if (i == 0) {
                in.first_reader_ = std::move(*r);
                continue;
            }
            auto all = read_all(**r);
            if (!all) return fail(all.error());
            values = std::move(*all);
        }
        if (i == 0)
            in.first_all_ = std::move(values);
        else
            in.rest_.push_back(std::move(values));
    }
    in.idx_.assign(in.rest_.size(), 0);
    return in;
}

Status Inputs::materialize() {
    if (first_all_ || !first_reader_) return {};
    auto all = read_all(*first_reader_);
    if (!all) return fail(all.error());
    first_all_ = std::move(*all);
    first_reader_.reset();
    return {};
}

std::optional<std::size_t> Inputs::total() const {
    if (!first_all_) return std::nullopt;
    std::size_t t = first_all_->size();
    for (const auto& r : rest_) t *= r.size();
    return t;
}

std::optional<std::string> Inputs::empty_source() const {
    for (std::size_t i = 0; i < rest_.size(); ++i)
        if (rest_[i].empty()) return specs_[i + 1].describe() + " (source " + std::to_string(i + 2) + ")";
    if (first_all_ && first_all_->empty()) return specs_[0].describe() + " (source 1)";
    return std::nullopt;
}

Result<std::optional<std::vector<std::string>>> Inputs::next() {
    using Out = std::optional<std::vector<std::string>>;
    if (done_) return Out();
    for (const auto& r : rest_)
        if (r.empty()) {
            done_ = true;
            return Out();
        }
    if (!current_first_) {
        if (first_all_) {
            if (first_pos_ >= first_all_->size()) {
                done_ = true;
                return Out();
            }
            current_first_ = (*first_all_)[first_pos_++];
        } else {
            auto rec = first_reader_->next();
            if (!rec) return fail(rec.error());
            if (!*rec) {
                done_ = true;
                return Out();
            }
            current_first_ = std::move(**rec);
        }
    }
    std::vector<std::string> combo;
    combo.reserve(1 + rest_.size());
    combo.push_back(*current_first_);
    for (std::size_t i = 0; i < rest_.size(); ++i) combo.push_back(rest_[i][idx_[i]]);
    // Advance the odometer: the last source fastest.
    bool carry = true;
    for (std::size_t i = rest_.size(); carry && i-- > 0;) {
        if (++idx_[i] < rest_[i].size()) {
            carry = false;
        } else {
            idx_[i] = 0;
        }
    }
    if (carry) current_first_.reset();
    return Out(std::move(combo));
}

}  // namespace prockit::prun
