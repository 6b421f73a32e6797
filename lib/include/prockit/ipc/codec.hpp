// prockit/ipc/codec.hpp — the one way prockit turns values into bytes and back (Pipe::send,
// Queue::put, Pool arguments and results).
//
//   std::string bytes = prockit::encode(std::map<std::string, std::vector<int>>{{"a", {1, 2}}});
//   auto m = prockit::decode<std::map<std::string, std::vector<int>>>(bytes).value();
//
// The format (both ends are the same program on the same machine, so native byte order):
//  * trivially copyable types (ints, doubles, enums, plain structs, std::array of them): their
//    object bytes, sizeof(T) of them. Pointers are rejected: an address means nothing elsewhere.
//    bool is one byte that must be 0 or 1; std::optional, and std::array / pair / tuple holding a
//    bool, go member by member so that every bool is checked. A plain struct with a bool member
//    is copied as bytes (the codec cannot see its members): give it a Codec if its bytes may come
//    from anywhere but an encode() of the same program.
//  * std::string / std::vector<T> / std::map<K, V>: a uint64 count, then the elements (a vector of
//    trivially copyable T is one block copy).
//  * std::array<T, N> (T not trivially copyable): the N elements. std::pair, std::tuple: the
//    members in order. std::optional<T>: one byte (0/1), then the value when present.
//  * user types: specialise prockit::Codec<T> with
//        static void encode(prockit::Writer&, const T&);  static T decode(prockit::Reader&);
// A type with no codec is rejected at compile time (static_assert naming the customisation point).
// Decoding checks every length against the bytes that remain: a corrupt or truncated message gives
// a CodecError (code Errc::protocol) from the throwing forms, or an Error from decode(), never
// undefined behaviour. decode() also rejects trailing bytes.
#pragma once

#include <prockit/sys/error.hpp>
#include <prockit/sys/result.hpp>

#include <array>
#include <concepts>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace prockit {

/// A message that does not decode (truncated, corrupt, or of another type).
class CodecError : public SystemError {
public:
    explicit CodecError(const std::string& what) : SystemError(Error(make_error_code(Errc::protocol), "decode a message: " + what)) {}
};

/// Appends encoded bytes to a string.
class Writer {
public:
    explicit Writer(std::string& out) : out_(out) {}
    void bytes(const void* p, std::size_t n) { out_.append(static_cast<const char*>(p), n); }
    void u64(std::uint64_t v) { bytes(&v, sizeof v); }
    std::string& buffer() { return out_; }

private:
    std::string& out_;
};

/// Reads encoded bytes from a view, checking every length; throws CodecError when short.
class Reader {
public:
    explicit Reader(std::string_view in) : p_(in.data()), end_(in.data() + in.size()) {}
    void bytes(void* dst, std::size_t n) {
        need(n);
        if (n) std::memcpy(dst, p_, n);
        p_ += n;
    }
    std::string_view view(std::size_t n) {
        need(n);
        std::string_view v(p_, n);
        p_ += n;
        return v;
    }
    std::uint64_t u64() {
        std::uint64_t v;
        bytes(&v, sizeof v);
        return v;
    }
    std::size_t remaining() const noexcept { return static_cast<std::size_t>(end_ - p_); }
    void need(std::size_t n) const {
        if (n > remaining()) throw CodecError("truncated (" + std::to_string(n) + " bytes wanted, " + std::to_string(remaining()) + " left)");
    }
    /// A count read from the stream, checked against what remains when each element needs at least `min_each` bytes.
    std::size_t count(std::size_t min_each) {
        std::uint64_t n = u64();
        if (min_each && n > remaining() / min_each) throw CodecError("element count " + std::to_string(n) + " exceeds the message");
        return static_cast<std::size_t>(n);
    }

private:
    const char* p_;
    const char* end_;
};

/// The customisation point. Specialise for your types (see the header comment).
template <class T, class Enable = void>
struct Codec {
    static constexpr bool prockit_no_codec = true;
};

namespace detail {
/// Standard types whose bytes include a bool (which only 0 and 1 may represent): they are
/// encoded member by member, so that decoding can check each bool instead of copying a byte
/// that would be undefined behaviour to read.
template <class T>
struct has_bool_repr : std::is_same<std::remove_cv_t<T>, bool> {};
template <class T>
struct has_bool_repr<std::optional<T>> : std::true_type {};
template <class T, std::size_t N>
struct has_bool_repr<std::array<T, N>> : has_bool_repr<T> {};
template <class T, std::size_t N>
struct has_bool_repr<T[N]> : has_bool_repr<T> {};
template <class A, class B>
struct has_bool_repr<std::pair<A, B>> : std::bool_constant<has_bool_repr<A>::value || has_bool_repr<B>::value> {};
template <class... T>
struct has_bool_repr<std::tuple<T...>> : std::bool_constant<(has_bool_repr<T>::value || ...)> {};

template <class T>
concept RawCodable = std::is_trivially_copyable_v<T> && !std::is_pointer_v<T> && !std::is_member_pointer_v<T> &&
                     !std::is_same_v<T, std::nullptr_t> && !has_bool_repr<T>::value;

/// A 64-bit tag of a type (FNV-1a of the compiler's name for it): written before each value that
/// Queue::put and Connection::send carry, so that reading it as another type is a CodecError.
/// Both ends are the same program, so the same type has the same tag.
template <class T>
constexpr std::uint64_t type_tag() noexcept {
    std::string_view s = __PRETTY_FUNCTION__;
    std::uint64_t h = 0xcbf29ce484222325ULL;
    for (char c : s) {
        h ^= static_cast<unsigned char>(c);
        h *= 0x100000001b3ULL;
    }
    return h;
}
}  // namespace detail

template <class T>
concept Encodable = requires(Writer& w, Reader& r, const T& v) {
    Codec<T>::encode(w, v);
    { Codec<T>::decode(r) } -> std::same_as<T>;
};

template <class T>
    requires detail::RawCodable<T>
struct Codec<T> {
    static void encode(Writer& w, const T& v) { w.bytes(&v, sizeof v); }
    static T decode(Reader& r) {
        T v;
        r.bytes(&v, sizeof v);
        return v;
    }
};

/// bool: one byte, 0 or 1; any other byte is a CodecError.
template <>
struct Codec<bool> {
    static void encode(Writer& w, bool v) {
        unsigned char c = v ? 1 : 0;
        w.bytes(&c, 1);
    }
    static bool decode(Reader& r) {
        unsigned char c;
        r.bytes(&c, 1);
        if (c > 1) throw CodecError("bad bool byte " + std::to_string(c));
        return c == 1;
    }
};

template <>
struct Codec<std::string> {
    static void encode(Writer& w, const std::string& s) {
        w.u64(s.size());
        w.bytes(s.data(), s.size());
    }
    static std::string decode(Reader& r) {
        std::size_t n = r.count(1);
        return std::string(r.view(n));
    }
};

template <class T, class A>
    requires Encodable<T>
struct Codec<std::vector<T, A>> {
    static void encode(Writer& w, const std::vector<T, A>& v) {
        w.u64(v.size());
        if constexpr (detail::RawCodable<T>) {
            w.bytes(v.data(), v.size() * sizeof(T));
        } else {
            for (const auto& e : v) Codec<T>::encode(w, static_cast<const T&>(e));
        }
    }
    static std::vector<T, A> decode(Reader& r) {
        std::vector<T, A> v;
        if constexpr (detail::RawCodable<T>) {
            std::size_t n = r.count(sizeof(T));
            v.resize(n);
            r.bytes(v.data(), n * sizeof(T));
        } else {
            std::size_t n = r.count(0);
            v.reserve(std::min(n, r.remaining()));
            for (std::size_t i = 0; i < n; ++i) v.push_back(Codec<T>::decode(r));
        }
        return v;
    }
};

template <class T, std::size_t N>
    requires(Encodable<T> && !detail::RawCodable<std::array<T, N>>)
struct Codec<std::array<T, N>> {
    static void encode(Writer& w, const std::array<T, N>& a) {
        for (const auto& e : a) Codec<T>::encode(w, e);
    }
    static std::array<T, N> decode(Reader& r) {
        return [&]<std::size_t... I>(std::index_sequence<I...>) {
            return std::array<T, N>{((void)I, Codec<T>::decode(r))...};
        }(std::make_index_sequence<N>{});
    }
};

template <class T>
    requires(Encodable<T> && !detail::RawCodable<std::optional<T>>)
struct Codec<std::optional<T>> {
    static void encode(Writer& w, const std::optional<T>& o) {
        char f = o ? 1 : 0;
        w.bytes(&f, 1);
        if (o) Codec<T>::encode(w, *o);
    }
    static std::optional<T> decode(Reader& r) {
        char f;
        r.bytes(&f, 1);
        if (f == 0) return std::nullopt;
        if (f != 1) throw CodecError("bad optional flag");
        return Codec<T>::decode(r);
    }
};

template <class... T>
    requires((Encodable<T> && ...) && !detail::RawCodable<std::tuple<T...>>)
struct Codec<std::tuple<T...>> {
    static void encode(Writer& w, const std::tuple<T...>& t) {
        std::apply([&](const auto&... e) { (Codec<std::remove_cvref_t<decltype(e)>>::encode(w, e), ...); }, t);
    }
    static std::tuple<T...> decode(Reader& r) {
        return std::tuple<T...>{Codec<T>::decode(r)...};  // braced: left-to-right order guaranteed
    }
};

template <class A, class B>
    requires(Encodable<A> && Encodable<B> && !detail::RawCodable<std::pair<A, B>>)
struct Codec<std::pair<A, B>> {
    static void encode(Writer& w, const std::pair<A, B>& p) {
        Codec<A>::encode(w, p.first);
        Codec<B>::encode(w, p.second);
    }
    static std::pair<A, B> decode(Reader& r) {
        A a = Codec<A>::decode(r);
        B b = Codec<B>::decode(r);
        return {std::move(a), std::move(b)};
    }
};

template <class K, class V, class C, class A>
    requires(Encodable<K> && Encodable<V>)
struct Codec<std::map<K, V, C, A>> {
    static void encode(Writer& w, const std::map<K, V, C, A>& m) {
        w.u64(m.size());
        for (const auto& [k, v] : m) {
            Codec<K>::encode(w, k);
            Codec<V>::encode(w, v);
        }
    }
    static std::map<K, V, C, A> decode(Reader& r) {
        std::map<K, V, C, A> m;
        std::size_t n = r.count(0);
        for (std::size_t i = 0; i < n; ++i) {
            K k = Codec<K>::decode(r);
            V v = Codec<V>::decode(r);
            m.emplace(std::move(k), std::move(v));
        }
        return m;
    }
};

namespace detail {
template <class T>
constexpr void require_codec() {
    static_assert(Encodable<T>, "prockit: this type has no codec; specialise prockit::Codec<T> (see prockit/ipc/codec.hpp)");
}
}  // namespace detail

/// Appends the encoding of `v` to `out`.
template <class T>
void encode_to(std::string& out, const T& v) {
    detail::require_codec<T>();
    Writer w(out);
    Codec<T>::encode(w, v);
}

template <class T>
std::string encode(const T& v) {
    std::string out;
    encode_to(out, v);
    return out;
}

/// Decodes a whole message; throws CodecError when it does not decode exactly.
template <class T>
T decode_or_throw(std::string_view bytes) {
    detail::require_codec<T>();
    Reader r(bytes);
    T v = Codec<T>::decode(r);
    if (r.remaining() != 0) throw CodecError(std::to_string(r.remaining()) + " trailing bytes");
    return v;
}

/// Decodes a whole message; an Error (Errc::protocol) when it does not decode exactly.
template <class T>
Result<T> decode(std::string_view bytes) {
    try {
        return decode_or_throw<T>(bytes);
    } catch (const CodecError& e) {
        return fail(e.error());
    }
}

}  // namespace prockit
