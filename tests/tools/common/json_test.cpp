#include "common/json.hpp"

#include <gtest/gtest.h>

using prockit::tools::JsonWriter;

TEST(JsonWriter, NestedValuesAndCommas) {
    JsonWriter j;
    j.begin_object().key("pid").value(42).key("cpus").begin_array().value(0u).value(1u).end_array();
    j.key("ok").value(true).key("none").null().key("neg").value(-5L).key("obj").begin_object().end_object();
    j.key("list").begin_array().begin_object().key("a").value("b").end_object().begin_object().end_object().end_array();
    j.end_object();
    EXPECT_EQ(j.str(), R"({"pid":42,"cpus":[0,1],"ok":true,"none":null,"neg":-5,"obj":{},"list":[{"a":"b"},{}]})");
    EXPECT_TRUE(j.complete());
}

TEST(JsonWriter, EscapesStrings) {
    EXPECT_EQ(JsonWriter::quote("plain"), "\"plain\"");
    EXPECT_EQ(JsonWriter::quote("q\"b\\s/"), R"("q\"b\\s/")");
    EXPECT_EQ(JsonWriter::quote("\n\t\r\b\f"), R"("\n\t\r\b\f")");
    EXPECT_EQ(JsonWriter::quote(std::string("\x01\x1f\x7f", 3)), R"("\u0001\u001f\u007f")");
    EXPECT_EQ(JsonWriter::quote(std::string("a\0b", 3)), R"("a\u0000b")");
    EXPECT_EQ(JsonWriter::quote("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"), "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
    // Invalid UTF-8 (a lone continuation byte, a truncated sequence, an overlong form, a surrogate).
    EXPECT_EQ(JsonWriter::quote("\x80"), R"("\ufffd")");
    EXPECT_EQ(JsonWriter::quote("\xe2\x82"), R"("\ufffd\ufffd")");
    EXPECT_EQ(JsonWriter::quote("\xc0\xaf"), R"("\ufffd\ufffd")");
    EXPECT_EQ(JsonWriter::quote("\xed\xa0\x80"), R"("\ufffd\ufffd\ufffd")");
}

TEST(JsonWriter, Numbers) {
    JsonWriter j;
    j.begin_array().value(1.5).value(1.0 / 0.0).value(18446744073709551615ull).value(-9223372036854775807LL - 1).end_array();
    EXPECT_EQ(j.str(), "[1.5,null,18446744073709551615,-9223372036854775808]");
}
