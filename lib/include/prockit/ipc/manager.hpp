// prockit/ipc/manager.hpp — Manager: a server process that holds shared objects (a dict, a list, a
// Namespace, a Value, a Queue, a Lock, an Event) which other processes use through proxies
// (Python's multiprocessing.Manager()).
//
//   prockit::Manager m;                        // starts the server process
//   auto d = m.dict();
//   auto q = m.Queue();
//   prockit::Process p([=]() mutable { d.set("answer", 42); q.put(std::string("done")); });
//   p.start();
//   q.get<std::string>(10s);
//   int a = d.get<int>("answer");             // 42
//   m.shutdown();                              // or let the Manager go out of scope
//
// Values are codec values (prockit/ipc/codec.hpp): the server keeps their bytes and the proxy names
// the type when it reads them back (get<T>; a mismatch is a CodecError). Dict and Namespace keys are
// strings. Each operation is one request and one reply over a connection made through a Unix-domain
// socket (Listener/Client, prockit/ipc/connection.hpp, authenticated with the manager's key; the
// messages then travel through two pipes the client hands over): nothing is shared in memory,
// so a proxy works in any process that knows the address and key — forked children, or unrelated
// processes through Manager::connect() and a proxy built from an object's id().
//
// Connections: each thread of each process opens its own connection on its first request (so a
// connection is never shared across fork: a forked child sees that the one it inherited belongs to
// another process, drops its copy, and connects anew). Lock ownership belongs to the connection,
// so a Lock is released by the thread that acquired it (as prockit::Lock).
//
// The server: one process (a prockit::Process, daemon), single-threaded, an epoll loop over its
// clients. A blocking request (Lock acquire, Queue get or put on a full queue, Event wait) is parked
// until it can be answered or its timeout passes; other clients are served meanwhile. A client that
// dies releases the locks it held (the next holder gets LockStatus::owner_died) and its parked
// requests are dropped.
//
// Lifetimes (nothing is left behind):
//  * shutdown() (and the destructor, in the process that started the manager) ends the server
//    (SIGTERM; it closes its listener, removing a path address) and reaps it.
//  * If the owner dies, even by SIGKILL, the server gets SIGTERM (PR_SET_PDEATHSIG, tied to the
//    thread that constructed the Manager) and ends the same way.
//  * The default address is a fresh abstract name ('@prockit-...'), which leaves no file at all.
//  * A proxy whose server is gone throws EofError ("the manager's server is gone"); never a hang.
//  * A call given a timeout returns within it plus 2 s even when the server does not run
//    (SIGSTOPped, frozen), a new connection's handshake included: TimeoutError "... did not answer
//    within N ms". Such a call has no effect: the server, once it runs again, does not carry out
//    a request whose caller gave up, and the thread keeps its connection and the Locks it holds
//    (docs/ipc.md, Manager, "What remains", names the window left). A call without a timeout
//    waits for the server as long as it takes, as in Python.
//
// References (as in Python): every proxy holds a reference to its object, and the server frees the
// object when the last reference is gone. Copies of a proxy within one process are counted in the
// process; the server sees one reference per process (held on that process's reference
// connection, which is released when the process ends, even by SIGKILL). A forked child inherits
// its parent's references (fork hands them over through pthread_atfork). A proxy sent to another
// process (Pipe, Queue, Connection, Pool arguments: any codec message) carries a reference from
// the sender until the receiver decodes it. See docs/ipc.md ("Manager") for the rules.
#pragma once

#include <prockit/ipc/codec.hpp>
#include <prockit/ipc/errors.hpp>
#include <prockit/ipc/lock.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace prockit {

class Process;

struct ManagerOptions {
    /// Where the server listens: a path, '@name' (abstract), or empty for a fresh abstract name.
    std::string address;
    /// The authentication key; empty: 32 random bytes.
    std::string authkey;
    /// How long start-up may take before it is an error.
    std::chrono::milliseconds start_timeout{10000};
};

class Manager;

namespace detail {
/// What a proxy asks the server (internal protocol).
enum class ManagerOp : std::uint32_t {
    create = 1, map_set, map_get, map_erase, map_size, map_keys, map_items, map_contains,
    list_append, list_get, list_set, list_size, list_pop, list_items,
    queue_put, queue_get, queue_size,
    lock_acquire, lock_release,
    event_set, event_clear, event_is_set, event_wait,
};
enum class ManagerKind : std::uint32_t { dict = 1, list, names, value, queue, lock, event };
struct ManagerRefs;  // this process's references to one manager's objects (manager.cpp)

/// One manager as seen from a client: its address and key (the connections are per thread).
struct ManagerLink {
    std::string address;
    std::string authkey;
    std::uint64_t serial = 0;  // tells managers at a reused address apart
    std::shared_ptr<ManagerRefs> refs;  // shared by every link with this serial in this process
    /// One request; returns the reply's payload, or throws what the reply's status means.
    /// `what` names the object in error messages ("a manager dict").
    std::string call(ManagerOp op, std::uint64_t id, Timeout timeout, std::string_view a, std::string_view b,
                     const char* what) const;
};

class ProxyBase {
public:
    /// The object's id in its manager (pass it to an unrelated process with address and key).
    std::uint64_t id() const noexcept { return id_; }

    /// Each proxy holds a reference (counted in this process; the server sees one per process).
    ProxyBase(const ProxyBase& o);
    ProxyBase(ProxyBase&& o) noexcept : link_(std::move(o.link_)), id_(o.id_), kind_(o.kind_) { o.id_ = 0; }
    ProxyBase& operator=(const ProxyBase& o);
    ProxyBase& operator=(ProxyBase&& o) noexcept;
    ~ProxyBase();

    /// The codec's form of a proxy (Codec<DictProxy> etc.): the manager's address and key, the
    /// object's id and a hand-over ticket, which holds a reference until the receiver decodes it
    /// (or until the sending process ends). Encoding asks the server for the ticket.
    void encode_to(Writer& w) const;
    /// Decodes a proxy of `kind` and takes the reference its ticket holds (CodecError when the
    /// message holds another kind of proxy; IpcError bad_handle when the ticket is gone).
    static ProxyBase decode_from(Reader& r, ManagerKind kind);

protected:
    ProxyBase() = default;
    struct Adopt {};  // the server already holds a reference for this process (a new object)
    ProxyBase(std::shared_ptr<const ManagerLink> link, std::uint64_t id, ManagerKind kind, Adopt);
    // An existing object by id: takes a reference (IpcError bad_handle if there is no such object
    // of this kind).
    ProxyBase(std::shared_ptr<const ManagerLink> link, std::uint64_t id, ManagerKind kind);
    ProxyBase(ProxyBase&& o, ManagerKind kind);  // from decode_from, checked to be of `kind`
    std::string call(ManagerOp op, const char* what, std::string_view a = {}, std::string_view b = {},
                     Timeout timeout = std::nullopt) const;
    std::shared_ptr<const ManagerLink> link_;
    std::uint64_t id_ = 0;
    ManagerKind kind_ = ManagerKind::dict;

private:
    friend class prockit::Manager;
    void release() noexcept;
};

/// Codec<P> for every proxy type P (a value sent between processes keeps its object alive).
template <class P, ManagerKind K>
struct ProxyCodec {
    static void encode(Writer& w, const P& p) { p.encode_to(w); }
    static P decode(Reader& r) { return P(ProxyBase::decode_from(r, K)); }
};
}  // namespace detail

class Manager;

/// A string → value map in the manager (manager.dict()).
class DictProxy : public detail::ProxyBase {
public:
    DictProxy() = default;
    /// The dict with `id` in `m` (std::invalid_argument-like IpcError(bad_handle) if it is not a dict).
    DictProxy(const Manager& m, std::uint64_t id);

    template <class T>
    void set(std::string_view key, const T& v) const { call(detail::ManagerOp::map_set, kWhat, key, encode(v)); }
    /// std::out_of_range when the key is missing.
    template <class T>
    T get(std::string_view key) const { return decode_or_throw<T>(call(detail::ManagerOp::map_get, kWhat, key)); }
    template <class T>
    std::optional<T> find(std::string_view key) const {
        std::string r = call(detail::ManagerOp::map_get, kWhat, key, "?");
        if (r.empty()) return std::nullopt;
        return decode_or_throw<T>(std::string_view(r).substr(1));
    }
    bool contains(std::string_view key) const { return call(detail::ManagerOp::map_contains, kWhat, key) == "1"; }
    /// Whether the key was there.
    bool erase(std::string_view key) const { return call(detail::ManagerOp::map_erase, kWhat, key) == "1"; }
    std::size_t size() const;
    std::vector<std::string> keys() const;
    /// All entries, each decoded as T.
    template <class T>
    std::map<std::string, T> items() const {
        auto raw = decode_or_throw<std::map<std::string, std::string>>(call(detail::ManagerOp::map_items, kWhat));
        std::map<std::string, T> out;
        for (auto& [k, v] : raw) out.emplace(k, decode_or_throw<T>(v));
        return out;
    }

private:
    friend class Manager;
    friend struct detail::ProxyCodec<DictProxy, detail::ManagerKind::dict>;
    explicit DictProxy(detail::ProxyBase&& b) : ProxyBase(std::move(b)) {}
    static constexpr const char* kWhat = "a manager dict";
};

/// Named attributes (manager.Namespace()): set("x", 1), get<int>("x").
class NamespaceProxy : public detail::ProxyBase {
public:
    NamespaceProxy() = default;
    NamespaceProxy(const Manager& m, std::uint64_t id);
    template <class T>
    void set(std::string_view name, const T& v) const { call(detail::ManagerOp::map_set, kWhat, name, encode(v)); }
    /// std::out_of_range when there is no such attribute.
    template <class T>
    T get(std::string_view name) const { return decode_or_throw<T>(call(detail::ManagerOp::map_get, kWhat, name)); }
    bool has(std::string_view name) const { return call(detail::ManagerOp::map_contains, kWhat, name) == "1"; }

private:
    friend class Manager;
    friend struct detail::ProxyCodec<NamespaceProxy, detail::ManagerKind::names>;
    explicit NamespaceProxy(detail::ProxyBase&& b) : ProxyBase(std::move(b)) {}
    static constexpr const char* kWhat = "a manager Namespace";
};

/// A list of values (manager.list()); every element read back names its type.
class ListProxy : public detail::ProxyBase {
public:
    ListProxy() = default;
    ListProxy(const Manager& m, std::uint64_t id);
    template <class T>
    void append(const T& v) const { call(detail::ManagerOp::list_append, kWhat, encode(v)); }
    /// std::out_of_range past the end.
    template <class T>
    T get(std::size_t i) const { return decode_or_throw<T>(call(detail::ManagerOp::list_get, kWhat, encode(std::uint64_t{i}))); }
    template <class T>
    void set(std::size_t i, const T& v) const { call(detail::ManagerOp::list_set, kWhat, encode(std::uint64_t{i}), encode(v)); }
    /// Removes and returns the last element (std::out_of_range when empty).
    template <class T>
    T pop() const { return decode_or_throw<T>(call(detail::ManagerOp::list_pop, kWhat)); }
    std::size_t size() const;
    template <class T>
    std::vector<T> items() const {
        auto raw = decode_or_throw<std::vector<std::string>>(call(detail::ManagerOp::list_items, kWhat));
        std::vector<T> out;
        out.reserve(raw.size());
        for (auto& v : raw) out.push_back(decode_or_throw<T>(v));
        return out;
    }

private:
    friend class Manager;
    friend struct detail::ProxyCodec<ListProxy, detail::ManagerKind::list>;
    explicit ListProxy(detail::ProxyBase&& b) : ProxyBase(std::move(b)) {}
    static constexpr const char* kWhat = "a manager list";
};

/// One value of type T (manager.Value()).
template <class T>
class ValueProxy : public detail::ProxyBase {
public:
    ValueProxy() = default;
    ValueProxy(const Manager& m, std::uint64_t id);
    T get() const { return decode_or_throw<T>(call(detail::ManagerOp::map_get, kWhat)); }
    void set(const T& v) const { call(detail::ManagerOp::map_set, kWhat, {}, encode(v)); }

private:
    friend class Manager;
    friend struct detail::ProxyCodec<ValueProxy<T>, detail::ManagerKind::value>;
    explicit ValueProxy(detail::ProxyBase&& b) : ProxyBase(std::move(b)) {}
    static constexpr const char* kWhat = "a manager Value";
};

/// A FIFO queue (manager.Queue()); get() and a put() on a full queue wait in the server.
class QueueProxy : public detail::ProxyBase {
public:
    QueueProxy() = default;
    QueueProxy(const Manager& m, std::uint64_t id);
    /// QueueFull when no room came within `timeout`.
    template <class T>
    void put(const T& v, Timeout timeout = std::nullopt) const { call(detail::ManagerOp::queue_put, kWhat, encode(v), {}, timeout); }
    /// QueueEmpty when nothing came within `timeout`.
    template <class T>
    T get(Timeout timeout = std::nullopt) const { return decode_or_throw<T>(call(detail::ManagerOp::queue_get, kWhat, {}, {}, timeout)); }
    std::size_t qsize() const;
    bool empty() const { return qsize() == 0; }

private:
    friend class Manager;
    friend struct detail::ProxyCodec<QueueProxy, detail::ManagerKind::queue>;
    explicit QueueProxy(detail::ProxyBase&& b) : ProxyBase(std::move(b)) {}
    static constexpr const char* kWhat = "a manager Queue";
};

/// A lock held by one connection (one thread of one process) at a time (manager.Lock()).
class LockProxy : public detail::ProxyBase {
public:
    LockProxy() = default;
    LockProxy(const Manager& m, std::uint64_t id);
    /// acquired, owner_died (held; the previous holder's process or thread ended holding it), or timed_out.
    LockStatus acquire(Timeout timeout = std::nullopt) const;
    /// IpcError(not_owner) when this thread does not hold it.
    void release() const;
    /// BasicLockable (std::lock_guard): lock() after an owner died releases and throws OwnerDiedError.
    void lock() const;
    void unlock() const { release(); }

private:
    friend class Manager;
    friend struct detail::ProxyCodec<LockProxy, detail::ManagerKind::lock>;
    explicit LockProxy(detail::ProxyBase&& b) : ProxyBase(std::move(b)) {}
    static constexpr const char* kWhat = "a manager Lock";
};

/// A flag processes wait for (manager.Event()).
class EventProxy : public detail::ProxyBase {
public:
    EventProxy() = default;
    EventProxy(const Manager& m, std::uint64_t id);
    void set() const;
    void clear() const;
    bool is_set() const;
    /// True when set (at once, or within `timeout`).
    bool wait(Timeout timeout = std::nullopt) const;

private:
    friend class Manager;
    friend struct detail::ProxyCodec<EventProxy, detail::ManagerKind::event>;
    explicit EventProxy(detail::ProxyBase&& b) : ProxyBase(std::move(b)) {}
    static constexpr const char* kWhat = "a manager Event";
};

class Manager {
public:
    /// Starts the server process; throws SystemError when it cannot (address in use, ...).
    explicit Manager(ManagerOptions options = {});
    /// A handle on a manager started elsewhere (for processes not forked from its owner); it does
    /// not own the server (shutdown() is then a no-op). Nothing is checked until the first request.
    static Manager connect(std::string address, std::string authkey);

    Manager(Manager&&) noexcept;
    Manager& operator=(Manager&&) = delete;
    Manager(const Manager&) = delete;
    Manager& operator=(const Manager&) = delete;
    /// Shuts the server down (in the process that started it).
    ~Manager();

    DictProxy dict() const;
    ListProxy list() const;
    NamespaceProxy Namespace() const;  // NOLINT: Python's name
    template <class T>
    ValueProxy<T> Value(const T& initial) const {  // NOLINT
        ValueProxy<T> v(create(detail::ManagerKind::value));
        v.set(initial);
        return v;
    }
    QueueProxy Queue(std::size_t maxsize = 0) const;  // NOLINT
    LockProxy Lock() const;                            // NOLINT
    EventProxy Event() const;                          // NOLINT

    const std::string& address() const noexcept { return link_->address; }
    const std::string& authkey() const noexcept { return link_->authkey; }
    /// The server's PID (0 for a connect()ed handle).
    pid_t pid() const;
    /// How many objects the server holds now (a diagnostic: each is freed with its last reference).
    std::size_t object_count() const;
    /// Ends the server and reaps it; later requests through proxies throw EofError.
    void shutdown();

private:
    struct ConnectTag {};
    explicit Manager(ConnectTag);
    /// A new object, held by this process's reference to it.
    detail::ProxyBase create(detail::ManagerKind kind, std::uint64_t arg = 0) const;
    friend class detail::ProxyBase;
    friend class DictProxy;
    friend class ListProxy;
    friend class NamespaceProxy;
    template <class>
    friend class ValueProxy;
    friend class QueueProxy;
    friend class LockProxy;
    friend class EventProxy;
    std::shared_ptr<const detail::ManagerLink> link_;
    std::unique_ptr<Process> server_;
    pid_t owner_ = 0;  // the process that started the server (a forked copy never ends it)
    std::shared_ptr<const detail::ManagerLink> link_of() const { return link_; }
    static std::shared_ptr<const detail::ManagerLink> checked(const Manager& m, std::uint64_t id, detail::ManagerKind kind);
};

template <class T>
ValueProxy<T>::ValueProxy(const Manager& m, std::uint64_t id)
    : ProxyBase(Manager::checked(m, id, detail::ManagerKind::value), id, detail::ManagerKind::value) {}

// Proxies travel in codec messages (Pipe, Queue, Connection, Pool arguments) with their reference.
template <>
struct Codec<DictProxy> : detail::ProxyCodec<DictProxy, detail::ManagerKind::dict> {};
template <>
struct Codec<NamespaceProxy> : detail::ProxyCodec<NamespaceProxy, detail::ManagerKind::names> {};
template <>
struct Codec<ListProxy> : detail::ProxyCodec<ListProxy, detail::ManagerKind::list> {};
template <class T>
struct Codec<ValueProxy<T>> : detail::ProxyCodec<ValueProxy<T>, detail::ManagerKind::value> {};
template <>
struct Codec<QueueProxy> : detail::ProxyCodec<QueueProxy, detail::ManagerKind::queue> {};
template <>
struct Codec<LockProxy> : detail::ProxyCodec<LockProxy, detail::ManagerKind::lock> {};
template <>
struct Codec<EventProxy> : detail::ProxyCodec<EventProxy, detail::ManagerKind::event> {};

}  // namespace prockit
