// tools/common/json.hpp — a small streaming JSON writer for the tools' --json output (design rule
// 11: stable keys, nothing else on stdout). It inserts commas itself and escapes strings fully
// (quotes, backslashes, control characters as \uXXXX; bytes that are not valid UTF-8 become
// U+FFFD so the output is always valid JSON).
//
//     JsonWriter j;
//     j.begin_object().key("pid").value(42).key("cpus").begin_array().value(0).value(1).end_array()
//      .end_object();
//     std::puts(j.str().c_str());      // {"pid":42,"cpus":[0,1]}
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace prockit::tools {

class JsonWriter {
public:
    JsonWriter& begin_object();
    JsonWriter& end_object();
    JsonWriter& begin_array();
    JsonWriter& end_array();
    /// An object key; the next call writes its value.
    JsonWriter& key(std::string_view k);

    JsonWriter& value(std::string_view s);
    JsonWriter& value(const char* s) { return value(std::string_view(s)); }
    JsonWriter& value(const std::string& s) { return value(std::string_view(s)); }
    JsonWriter& value(bool b);
    JsonWriter& value(int v) { return value(static_cast<long long>(v)); }
    JsonWriter& value(long v) { return value(static_cast<long long>(v)); }
    JsonWriter& value(long long v);
    JsonWriter& value(unsigned v) { return value(static_cast<unsigned long long>(v)); }
    JsonWriter& value(unsigned long v) { return value(static_cast<unsigned long long>(v)); }
    JsonWriter& value(unsigned long long v);
    JsonWriter& value(double v);  ///< non-finite values are written as null
    JsonWriter& null();

    /// The text so far.
    const std::string& str() const { return out_; }
    /// True when every object and array has been closed.
    bool complete() const { return stack_.empty() && !out_.empty(); }

    /// `s` as a JSON string literal, quotes included.
    static std::string quote(std::string_view s);

private:
    void before_value();
    std::string out_;
    std::vector<char> stack_;  // '{' or '['
    std::vector<bool> first_;
    bool after_key_ = false;
};

}  // namespace prockit::tools
