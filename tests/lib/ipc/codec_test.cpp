// The codec: round trips, user types, and corrupt input as errors.
#include <prockit/ipc/codec.hpp>

#include <gtest/gtest.h>

using namespace prockit;

namespace {
struct Plain {
    int a;
    double b;
    bool operator==(const Plain&) const = default;
};
struct Person {
    std::string name;
    std::vector<int> scores;
};
struct NoCodec {
    std::string s;
};
}  // namespace

template <>
struct prockit::Codec<Person> {
    static void encode(Writer& w, const Person& p) {
        prockit::Codec<std::string>::encode(w, p.name);
        prockit::Codec<std::vector<int>>::encode(w, p.scores);
    }
    static Person decode(Reader& r) {
        Person p;
        p.name = prockit::Codec<std::string>::decode(r);
        p.scores = prockit::Codec<std::vector<int>>::decode(r);
        return p;
    }
};

static_assert(Encodable<int>);
static_assert(Encodable<Plain>);
static_assert(Encodable<std::map<std::string, std::vector<std::optional<std::pair<int, std::string>>>>>);
static_assert(!Encodable<int*>, "pointers are rejected");
static_assert(!Encodable<NoCodec>, "types without a codec are rejected");
static_assert(!Encodable<std::vector<NoCodec>>);

template <class T>
T round(const T& v) {
    return decode<T>(encode(v)).value();
}

TEST(Codec, RoundTripsBuiltinTypes) {
    EXPECT_EQ(round(42), 42);
    EXPECT_EQ(round(-1.5), -1.5);
    EXPECT_EQ(round(Plain{3, 4.5}), (Plain{3, 4.5}));
    EXPECT_EQ(round(std::string("hello\0world", 11)), std::string("hello\0world", 11));
    EXPECT_EQ(round(std::string()), "");
    EXPECT_EQ(round(std::vector<int>{1, 2, 3}), (std::vector<int>{1, 2, 3}));
    EXPECT_EQ(round(std::vector<bool>{true, false, true}), (std::vector<bool>{true, false, true}));
    EXPECT_EQ(round(std::vector<std::string>{"a", "", "ccc"}), (std::vector<std::string>{"a", "", "ccc"}));
    EXPECT_EQ(round(std::array<std::string, 2>{"x", "y"}), (std::array<std::string, 2>{"x", "y"}));
    EXPECT_EQ(round(std::optional<std::string>{}), std::nullopt);
    EXPECT_EQ(round(std::optional<std::string>{"v"}), std::optional<std::string>{"v"});
    EXPECT_EQ(round(std::pair<int, std::string>{1, "one"}), (std::pair<int, std::string>{1, "one"}));
    EXPECT_EQ(round(std::tuple<int, std::string, double>{1, "t", 2.0}), (std::tuple<int, std::string, double>{1, "t", 2.0}));
    std::map<std::string, std::vector<int>> m{{"a", {1}}, {"b", {}}};
    EXPECT_EQ(round(m), m);
}

TEST(Codec, UserTypesThroughTheCustomisationPoint) {
    Person p{"ada", {9, 10}};
    Person q = round(p);
    EXPECT_EQ(q.name, "ada");
    EXPECT_EQ(q.scores, (std::vector<int>{9, 10}));
}

TEST(Codec, TruncatedOrCorruptInputIsAnError) {
    std::string b = encode(std::vector<std::string>{"abc", "defg"});
    for (std::size_t n = 0; n < b.size(); ++n) {
        auto r = decode<std::vector<std::string>>(std::string_view(b).substr(0, n));
        ASSERT_FALSE(r) << "prefix of " << n << " bytes decoded";
        EXPECT_EQ(r.error().code(), make_error_code(Errc::protocol));
    }
    EXPECT_FALSE(decode<int>(encode(std::int64_t{1})));  // trailing bytes
    std::string huge = encode(std::uint64_t{1} << 60);  // a vector claiming 2^60 elements
    EXPECT_FALSE(decode<std::vector<int>>(huge));
    EXPECT_FALSE(decode<std::vector<std::string>>(huge));
    std::string badopt = "\x07";
    EXPECT_FALSE(decode<std::optional<int>>(badopt));
    EXPECT_THROW(decode_or_throw<std::string>("xx"), CodecError);
}
