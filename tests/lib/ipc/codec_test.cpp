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

namespace {
struct Flags {
    int n;
    bool on;
};
}  // namespace

template <>
struct prockit::Codec<Flags> {
    static void encode(Writer& w, const Flags& f) {
        prockit::Codec<int>::encode(w, f.n);
        prockit::Codec<bool>::encode(w, f.on);
    }
    static Flags decode(Reader& r) {
        int n = prockit::Codec<int>::decode(r);
        return Flags{n, prockit::Codec<bool>::decode(r)};
    }
};

// A bool is 0 or 1; any other byte is a CodecError, wherever the bool sits.
TEST(Codec, BoolAcceptsOnlyZeroAndOne) {
    EXPECT_EQ(decode<bool>(std::string(1, '\1')).value(), true);
    EXPECT_EQ(decode<bool>(std::string(1, '\0')).value(), false);
    EXPECT_FALSE(decode<bool>(std::string(1, '\2')));
    EXPECT_FALSE(decode<bool>(std::string(1, '\xff')));

    std::string vb = encode(std::vector<bool>{true, false, true});
    EXPECT_EQ(decode<std::vector<bool>>(vb).value(), (std::vector<bool>{true, false, true}));
    vb.back() = 7;
    EXPECT_FALSE(decode<std::vector<bool>>(vb));

    std::string ob = encode(std::optional<bool>(true));
    EXPECT_EQ(decode<std::optional<bool>>(ob).value(), std::optional<bool>(true));
    ob.back() = 3;
    EXPECT_FALSE(decode<std::optional<bool>>(ob));
    std::string oi = encode(std::optional<int>(4));
    EXPECT_EQ(decode<std::optional<int>>(oi).value(), std::optional<int>(4));
    oi[0] = 2;  // the engaged flag
    EXPECT_FALSE(decode<std::optional<int>>(oi));

    std::string ab = encode(std::array<bool, 3>{true, true, false});
    EXPECT_EQ(ab.size(), 3u);
    ab[1] = 9;
    EXPECT_FALSE((decode<std::array<bool, 3>>(ab)));

    std::string pb = encode(std::pair<int, bool>{1, false});
    pb.back() = 2;
    EXPECT_FALSE((decode<std::pair<int, bool>>(pb)));
    std::string tb = encode(std::tuple<bool, int>{true, 5});
    tb[0] = 2;
    EXPECT_FALSE((decode<std::tuple<bool, int>>(tb)));

    std::string fb = encode(Flags{3, true});
    EXPECT_TRUE(decode<Flags>(fb).value().on);
    fb.back() = 2;
    EXPECT_FALSE(decode<Flags>(fb));
}

TEST(Codec, TypeTagsTellTypesApart) {
    EXPECT_NE(detail::type_tag<int>(), detail::type_tag<float>());
    EXPECT_NE(detail::type_tag<int>(), detail::type_tag<unsigned>());
    EXPECT_NE(detail::type_tag<std::vector<int>>(), detail::type_tag<std::vector<unsigned>>());
    EXPECT_EQ(detail::type_tag<std::string>(), detail::type_tag<std::string>());
}
