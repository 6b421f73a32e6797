#include <prockit/ipc/manager.hpp>

#include <prockit/ipc/connection.hpp>
#include <prockit/process/process.hpp>
#include <prockit/sys/syscall.hpp>

#include "ipc/sync_internal.hpp"

#include <algorithm>
#include <cstring>
#include <cerrno>
#include <climits>
#include <csignal>
#include <deque>
#include <fcntl.h>
#include <limits>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <poll.h>
#include <stdexcept>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <tuple>
#include <unistd.h>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

namespace prockit {

namespace {

using namespace std::chrono_literals;
using detail::ManagerKind;

// How long past a call's own timeout its reply may take before the server counts as not running.
constexpr std::chrono::nanoseconds kManagerReplyGrace = 2s;
// The server carries out a request only while at least this much is left before its client gives
// up, and answers a parked one no later than that: a request it carries out is answered (the
// reply is in the pipe) before its client stops waiting unless the server loses the CPU for this
// long between its check and its reply's write. Half the grace: a request refused for it waited
// in the pipe more than its timeout plus 1 s, so the server was stalled anyway.
constexpr std::chrono::nanoseconds kManagerStartMargin = 1s;
using detail::ManagerOp;

// The wire format: a request is (op, object id, timeout in ns or -1, two byte strings, sequence
// number, give-up time); a reply is (status, payload, the request's sequence number). The sequence
// number counts the requests of one connection; the give-up time is when the client stops waiting
// for the reply, in CLOCK_MONOTONIC nanoseconds (one clock for every process of a time namespace), or
// -1 for a call without a timeout (the client waits as long as it takes), and the client's time
// namespace (time_namespace()): a client in another one reads CLOCK_MONOTONIC with an offset, and
// the server does not compare its give-up time with its own clock.
using Request =
    std::tuple<std::uint32_t, std::uint64_t, std::int64_t, std::string, std::string, std::uint64_t, std::int64_t, std::uint64_t>;
using Reply = std::tuple<std::uint32_t, std::string, std::uint64_t>;
// expired: the request came (or its turn came) too close to its give-up time; nothing was done.
enum class ReplyStatus : std::uint32_t { ok = 0, missing, empty, full, not_owner, bad_handle, bad_request, expired };

std::int64_t mono_ns() {
    timespec t{};
    clock_gettime(CLOCK_MONOTONIC, &t);
    return static_cast<std::int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec;
}

// The inode of this process's time namespace (/proc/self/ns/time), 0 where it cannot be read. Read
// once per thread of a process: a process cannot change its own time namespace (unshare and setns of
// CLONE_NEWTIME take effect in its children).
std::uint64_t time_namespace() {
    thread_local std::uint64_t cached = 0;  // per thread: no lock, and a forked child reads its own
    thread_local pid_t cached_for = 0;
    if (cached_for != ::getpid()) {
        struct stat st {};
        cached = ::stat("/proc/self/ns/time", &st) == 0 ? static_cast<std::uint64_t>(st.st_ino) : 0;
        cached_for = ::getpid();
    }
    return cached;
}

// References travel on a second connection of each process, its reference socket (the Unix
// socket itself, kept after the handshake): fixed-size requests, so that a descriptor can ride
// along (SCM_RIGHTS) and the server can read them without a Connection's buffer. A process's
// references are released when that socket closes (EOF when the process ends, however it ends).
enum class RefOp : std::uint64_t {
    create = 1,  // a = kind, b = argument        -> the new object's id, held by this process
    acquire,     // a = id, b = kind              -> ok or bad_handle
    release,     // a = id                        (no reply)
    share,       // a = id                        -> a ticket holding one reference, owned by this process
    fork,        // a descriptor rides along      -> a ticket holding all of this process's references,
                 //                                  released when every copy of the descriptor's peer closes
    claim,       // a = ticket                    -> the ticket's object id (its references become ours)
    count,       //                               -> how many objects the server holds
};
struct RefRequest {
    std::uint64_t op, a, b;
};
struct RefReply {
    std::uint64_t status, value;
};

std::uint64_t random_u64() {
    std::uint64_t v = 0;
    while (::getrandom(&v, sizeof v, 0) < 0 && errno == EINTR) {
    }
    return v;
}

// After the socket's handshake, requests and replies travel through two pipes the client made
// and passed over the socket (SCM_RIGHTS): a pipe round trip costs about half a Unix-domain
// socket's here. The client keeps the request pipe's write end and the reply pipe's read end; the
// server gets the other two. Each pipe end that matters is held by one process only, so either
// side's death is EOF on the other's read end.
void send_pipes(Connection& sock, int request_read, int reply_write) {
    int fds[2] = {request_read, reply_write};
    char byte = 'P';
    iovec iov{&byte, 1};
    alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof fds)] = {};
    msghdr m{};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = ctl;
    m.msg_controllen = sizeof ctl;
    cmsghdr* c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof fds);
    std::memcpy(CMSG_DATA(c), fds, sizeof fds);
    if (retry_eintr([&] { return ::sendmsg(sock.fileno(), &m, MSG_NOSIGNAL); }) < 0)
        throw SystemError(last_error("hand the manager its pipes"));
}

// A client's first message after the handshake: 'P' with its two pipe ends (a data connection),
// or 'R' alone (its reference socket: `sock` stays open and nothing comes back here).
std::optional<Connection> receive_pipes(Connection& sock) {
    pollfd p{sock.fileno(), POLLIN, 0};
    if (retry_eintr([&] { return ::poll(&p, 1, 2000); }) != 1)
        throw SystemError(Error(make_error_code(Errc::timed_out), "receive a client's pipes"));
    char byte = 0;
    iovec iov{&byte, 1};
    alignas(cmsghdr) char ctl[CMSG_SPACE(2 * sizeof(int))] = {};
    msghdr m{};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = ctl;
    m.msg_controllen = sizeof ctl;
    ssize_t r = retry_eintr([&] { return ::recvmsg(sock.fileno(), &m, MSG_CMSG_CLOEXEC | MSG_DONTWAIT); });
    cmsghdr* c = r == 1 ? CMSG_FIRSTHDR(&m) : nullptr;
    if (r == 1 && byte == 'R' && !c) return std::nullopt;
    if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(2 * sizeof(int)) ||
        byte != 'P') {
        if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            std::size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (std::size_t i = 0; i < n; ++i) {
                int fd;
                std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
                ::close(fd);
            }
        }
        throw SystemError(Error(make_error_code(Errc::protocol), "receive a client's pipes"));
    }
    int fds[2];
    std::memcpy(fds, CMSG_DATA(c), sizeof fds);
    return Connection(unique_fd(fds[0]), unique_fd(fds[1]), unique_fd());
}

// ---- the server -------------------------------------------------------------------------------

struct Parked {
    std::uint64_t client;
    std::uint64_t seq;  // the request's sequence number, for its reply
    ManagerOp op;
    std::string arg;  // the item of a parked put
    detail::Deadline deadline;  // its timeout, or earlier: the margin before its give-up time
};

struct Object {
    ManagerKind kind;
    std::map<std::string, std::string, std::less<>> map;  // dict, Namespace, Value (key "")
    std::vector<std::string> list;
    std::deque<std::string> queue;
    std::size_t maxsize = 0;
    std::uint64_t holder = 0;  // lock: the client holding it (0: free)
    bool owner_died = false;
    bool flag = false;         // event
    std::deque<Parked> parked;
    std::size_t refs = 0;      // processes holding it, and tickets
};

// References held on a process's behalf until another process takes them (claim).
struct Ticket {
    std::uint64_t owner = 0;        // share: the reference socket that made it (released with it)
    unique_fd hangup;               // fork: released when every copy of the pipe's write end is closed
    std::vector<std::uint64_t> ids;
};

class Server {
public:
    Server(Listener listener, int sigfd) : listener_(std::move(listener)), sigfd_(sigfd) {}
    void run();

private:
    struct Client {
        Connection conn;
    };
    struct RefClient {
        Connection sock;
        std::unordered_set<std::uint64_t> holds;  // one reference per object, for the whole process
    };
    enum class Tag : std::uint64_t { signal, listener, client, refs, ticket };
    void watch(int fd, Tag tag, std::uint64_t id);
    void unwatch(int fd);
    void accept_one();
    void serve_refs(std::uint64_t rid);
    RefReply handle_ref(std::uint64_t rid, const RefRequest& q, unique_fd fd);
    void drop_refs(std::uint64_t rid);
    void drop_ticket(std::uint64_t tid);
    void hold(std::uint64_t id) { ++objects_.at(id).refs; }
    void unhold(std::uint64_t id);
    void serve(std::uint64_t cid);
    void drop(std::uint64_t cid);
    void reply(std::uint64_t cid, std::uint64_t seq, ReplyStatus s, std::string payload = {});
    // Answers what parked requests on `o` can be answered now.
    void wake(Object& o);
    void expire();
    const timespec* next_deadline(timespec& ts) const;
    void handle(std::uint64_t cid, const Request& r);

    Listener listener_;
    int sigfd_;
    unique_fd epfd_;
    std::unordered_map<std::uint64_t, Client> clients_;
    std::unordered_map<std::uint64_t, Object> objects_;
    std::unordered_map<std::uint64_t, RefClient> ref_clients_;
    std::unordered_map<std::uint64_t, Ticket> tickets_;
    std::uint64_t next_client_ = 1, next_object_ = 1, next_ticket_ = 1;
    std::size_t parked_count_ = 0;
};

// epoll rather than poll: a wake-up costs the same whatever the number of clients (poll would
// rebuild and scan every client's descriptor for each request).
void Server::watch(int fd, Tag tag, std::uint64_t id) {
    epoll_event e{};
    e.events = EPOLLIN;
    e.data.u64 = (static_cast<std::uint64_t>(tag) << 60) | id;
    if (::epoll_ctl(epfd_.get(), EPOLL_CTL_ADD, fd, &e) < 0) throw SystemError(last_error("watch a manager client"));
}

void Server::unwatch(int fd) {
    epoll_event e{};
    ::epoll_ctl(epfd_.get(), EPOLL_CTL_DEL, fd, &e);
}

void Server::run() {
    epfd_.reset(::epoll_create1(EPOLL_CLOEXEC));
    if (!epfd_) return;
    try {
        watch(sigfd_, Tag::signal, 0);
        watch(listener_.fileno(), Tag::listener, 0);
    } catch (const SystemError&) {
        return;
    }
    epoll_event ev[64];
    for (;;) {
        timespec ts{};
        int n = ::epoll_pwait2(epfd_.get(), ev, 64, next_deadline(ts), nullptr);
        if (n < 0) {
            if (errno == EINTR) continue;
            return;
        }
        for (int i = 0; i < n; ++i) {
            // Events of a client dropped earlier in this batch find no client (ids are never reused).
            std::uint64_t id = ev[i].data.u64 & ((std::uint64_t{1} << 60) - 1);
            switch (static_cast<Tag>(ev[i].data.u64 >> 60)) {
                case Tag::signal: return;  // SIGTERM (shutdown, or the owner died) or SIGHUP
                case Tag::listener: accept_one(); break;
                case Tag::client: serve(id); break;
                case Tag::refs: serve_refs(id); break;
                case Tag::ticket: drop_ticket(id); break;  // the forked child ended (or exec'd) without claiming it
            }
        }
        if (parked_count_) expire();
    }
}

void Server::unhold(std::uint64_t id) {
    auto it = objects_.find(id);
    if (it == objects_.end() || --it->second.refs > 0) return;
    // The last reference is gone. Nobody can be parked on it (a waiting process holds a
    // reference), but a client that used a bare id could be: tell it.
    Object dead = std::move(it->second);
    objects_.erase(it);
    parked_count_ -= dead.parked.size();
    for (auto& p : dead.parked) reply(p.client, p.seq, ReplyStatus::bad_handle);
}

void Server::drop_ticket(std::uint64_t tid) {
    auto it = tickets_.find(tid);
    if (it == tickets_.end()) return;
    Ticket t = std::move(it->second);
    tickets_.erase(it);
    if (t.hangup) unwatch(t.hangup.get());
    for (std::uint64_t id : t.ids) unhold(id);
}

void Server::drop_refs(std::uint64_t rid) {
    auto it = ref_clients_.find(rid);
    if (it == ref_clients_.end()) return;
    RefClient c = std::move(it->second);
    ref_clients_.erase(it);
    unwatch(c.sock.fileno());
    std::vector<std::uint64_t> owned;
    for (auto& [tid, t] : tickets_)
        if (t.owner == rid) owned.push_back(tid);
    for (std::uint64_t tid : owned) drop_ticket(tid);
    for (std::uint64_t id : c.holds) unhold(id);
}

void Server::serve_refs(std::uint64_t rid) {
    // Requests are fixed-size and each is one sendmsg, so a read returns whole ones; read what is
    // there (a process's releases come without waiting for replies) and stop at EAGAIN.
    for (int n = 0; n < 256; ++n) {
        auto it = ref_clients_.find(rid);
        if (it == ref_clients_.end()) return;
        RefRequest q{};
        iovec iov{&q, sizeof q};
        alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int))] = {};
        msghdr m{};
        m.msg_iov = &iov;
        m.msg_iovlen = 1;
        m.msg_control = ctl;
        m.msg_controllen = sizeof ctl;
        ssize_t r = retry_eintr([&] {
            return ::recvmsg(it->second.sock.fileno(), &m, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
        });
        unique_fd fd;
        for (cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int))) {
                int f;
                std::memcpy(&f, CMSG_DATA(c), sizeof f);
                fd.reset(f);
            }
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        if (r != static_cast<ssize_t>(sizeof q)) return drop_refs(rid);  // EOF: the process is gone
        RefReply a = handle_ref(rid, q, std::move(fd));
        if (static_cast<RefOp>(q.op) == RefOp::release) continue;
        auto again = ref_clients_.find(rid);
        if (again == ref_clients_.end()) return;
        if (retry_eintr([&] { return ::send(again->second.sock.fileno(), &a, sizeof a, MSG_NOSIGNAL); }) !=
            static_cast<ssize_t>(sizeof a))
            return drop_refs(rid);
    }
}

RefReply Server::handle_ref(std::uint64_t rid, const RefRequest& q, unique_fd fd) {
    RefClient& c = ref_clients_.at(rid);
    auto status = [](ReplyStatus s) { return static_cast<std::uint64_t>(s); };
    switch (static_cast<RefOp>(q.op)) {
        case RefOp::create: {
            auto kind = static_cast<ManagerKind>(q.a);
            if (kind < ManagerKind::dict || kind > ManagerKind::event) return {status(ReplyStatus::bad_request), 0};
            std::uint64_t oid = next_object_++;
            Object& o = objects_[oid];
            o.kind = kind;
            if (kind == ManagerKind::queue) o.maxsize = static_cast<std::size_t>(q.b);
            o.refs = 1;
            c.holds.insert(oid);
            return {status(ReplyStatus::ok), oid};
        }
        case RefOp::acquire: {
            auto it = objects_.find(q.a);
            if (it == objects_.end() || it->second.kind != static_cast<ManagerKind>(q.b))
                return {status(ReplyStatus::bad_handle), 0};
            if (c.holds.insert(q.a).second) hold(q.a);
            return {status(ReplyStatus::ok), q.a};
        }
        case RefOp::release:
            if (c.holds.erase(q.a)) unhold(q.a);
            return {};
        case RefOp::share: {
            if (!objects_.contains(q.a)) return {status(ReplyStatus::bad_handle), 0};
            std::uint64_t tid = next_ticket_++;
            tickets_[tid] = Ticket{rid, unique_fd(), {q.a}};
            hold(q.a);
            return {status(ReplyStatus::ok), tid};
        }
        case RefOp::fork: {
            if (!fd) return {status(ReplyStatus::bad_request), 0};
            std::uint64_t tid = next_ticket_++;
            try {
                watch(fd.get(), Tag::ticket, tid);
            } catch (const SystemError&) {
                return {status(ReplyStatus::bad_request), 0};
            }
            Ticket& t = tickets_[tid];
            t.hangup = std::move(fd);
            t.ids.assign(c.holds.begin(), c.holds.end());
            for (std::uint64_t id : t.ids) hold(id);
            return {status(ReplyStatus::ok), tid};
        }
        case RefOp::claim: {
            auto it = tickets_.find(q.a);
            if (it == tickets_.end()) return {status(ReplyStatus::bad_handle), 0};
            Ticket t = std::move(it->second);
            tickets_.erase(it);
            if (t.hangup) unwatch(t.hangup.get());
            for (std::uint64_t id : t.ids)
                if (!c.holds.insert(id).second) unhold(id);  // we held it already: one is enough
            return {status(ReplyStatus::ok), t.ids.size() == 1 ? t.ids[0] : 0};
        }
        case RefOp::count: return {status(ReplyStatus::ok), objects_.size()};
    }
    return {status(ReplyStatus::bad_request), 0};
}

void Server::accept_one() {
    try {
        // A client that connects and then says nothing holds the server for at most this long.
        Connection c = listener_.accept(2s);
        std::uint64_t id = next_client_++;
        if (auto pipes = receive_pipes(c)) {
            watch(pipes->fileno(), Tag::client, id);
            clients_.emplace(id, Client{std::move(*pipes)});
        } else {
            watch(c.fileno(), Tag::refs, id);
            ref_clients_.emplace(id, RefClient{std::move(c), {}});
        }
    } catch (const SystemError&) {
        // A failed handshake (wrong key, a client that went away): that client's problem only.
    }
}

void Server::serve(std::uint64_t cid) {
    auto it = clients_.find(cid);
    if (it == clients_.end()) return;
    std::string bytes;
    try {
        // One request in flight per connection (the client waits for each reply, and reads the
        // reply to a request it gave up on before it sends another), so nothing is left in the
        // Connection's buffer after this message.
        bytes = it->second.conn.recv_bytes();
    } catch (const SystemError&) {
        drop(cid);
        return;
    }
    Request req;
    try {
        req = decode_or_throw<Request>(bytes);
    } catch (const CodecError&) {
        drop(cid);
        return;
    }
    handle(cid, req);
}

void Server::reply(std::uint64_t cid, std::uint64_t seq, ReplyStatus s, std::string payload) {
    auto it = clients_.find(cid);
    if (it == clients_.end()) return;
    std::string msg = encode(Reply{static_cast<std::uint32_t>(s), std::move(payload), seq});
    try {
        // A client always waits for its reply, so a small one never blocks; a big one gets a bound.
        Timeout t = msg.size() > 65536 ? Timeout(10s) : std::nullopt;
        it->second.conn.send_bytes(msg, t);
    } catch (const SystemError&) {
        drop(cid);
    }
}

void Server::drop(std::uint64_t cid) {
    auto c = clients_.find(cid);
    if (c == clients_.end()) return;
    unwatch(c->second.conn.fileno());
    clients_.erase(c);
    for (auto& [oid, o] : objects_) {
        auto before = o.parked.size();
        std::erase_if(o.parked, [&](const Parked& p) { return p.client == cid; });
        parked_count_ -= before - o.parked.size();
        if (o.kind == ManagerKind::lock && o.holder == cid) {
            o.holder = 0;
            o.owner_died = true;
            wake(o);
        }
    }
}

void Server::wake(Object& o) {
    // A parked request whose deadline has passed is not answered here but by expire(), with
    // "nothing came": after a stop its client may have given up, and an item or the lock handed to
    // it now would reach nobody. (Its deadline is at most its give-up time less the margin.)
    timespec now{};
    bool have_now = false;
    auto overdue = [&](const detail::Deadline& d) {
        if (d.infinite) return false;
        if (!have_now) {
            clock_gettime(CLOCK_MONOTONIC, &now);
            have_now = true;
        }
        return now.tv_sec > d.abs.tv_sec || (now.tv_sec == d.abs.tv_sec && now.tv_nsec >= d.abs.tv_nsec);
    };
    bool progress = true;
    while (progress && !o.parked.empty()) {
        progress = false;
        for (auto it = o.parked.begin(); it != o.parked.end(); ++it) {
            Parked& p = *it;
            if (overdue(p.deadline)) continue;
            ReplyStatus s = ReplyStatus::ok;
            std::string payload;
            bool ready = false;
            switch (p.op) {
                case ManagerOp::queue_get:
                    if (!o.queue.empty()) {
                        payload = std::move(o.queue.front());
                        o.queue.pop_front();
                        ready = true;
                    }
                    break;
                case ManagerOp::queue_put:
                    if (o.maxsize == 0 || o.queue.size() < o.maxsize) {
                        o.queue.push_back(std::move(p.arg));
                        ready = true;
                    }
                    break;
                case ManagerOp::lock_acquire:
                    if (o.holder == 0) {
                        o.holder = p.client;
                        payload = o.owner_died ? "o" : "a";
                        o.owner_died = false;
                        ready = true;
                    }
                    break;
                case ManagerOp::event_wait:
                    if (o.flag) {
                        payload = "1";
                        ready = true;
                    }
                    break;
                default: break;
            }
            if (!ready) continue;
            std::uint64_t cid = p.client, seq = p.seq;
            o.parked.erase(it);
            --parked_count_;
            reply(cid, seq, s, std::move(payload));  // may drop a client, which edits o.parked
            progress = true;                    // a get may make room for a put, and so on
            break;
        }
    }
}

const timespec* Server::next_deadline(timespec& ts) const {
    if (!parked_count_) return nullptr;
    bool any = false;
    timespec best{};
    for (auto& [oid, o] : objects_)
        for (auto& p : o.parked) {
            if (p.deadline.infinite) continue;
            if (!any || p.deadline.abs.tv_sec < best.tv_sec ||
                (p.deadline.abs.tv_sec == best.tv_sec && p.deadline.abs.tv_nsec < best.tv_nsec))
                best = p.deadline.abs;
            any = true;
        }
    if (!any) return nullptr;
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    long long left = (best.tv_sec - now.tv_sec) * 1000000000LL + (best.tv_nsec - now.tv_nsec);
    if (left < 0) left = 0;
    ts = {static_cast<time_t>(left / 1000000000LL), static_cast<long>(left % 1000000000LL)};
    return &ts;
}

void Server::expire() {
    std::vector<std::tuple<std::uint64_t, std::uint64_t, ManagerOp>> late;
    for (auto& [oid, o] : objects_) {
        for (auto it = o.parked.begin(); it != o.parked.end();) {
            if (it->deadline.passed()) {
                late.emplace_back(it->client, it->seq, it->op);
                it = o.parked.erase(it);
                --parked_count_;
            } else {
                ++it;
            }
        }
    }
    // Each of these answers says that nothing was done, so it is harmless even when it reaches a
    // client that gave up.
    for (auto& [cid, seq, op] : late) {
        switch (op) {
            case ManagerOp::queue_get: reply(cid, seq, ReplyStatus::empty); break;
            case ManagerOp::queue_put: reply(cid, seq, ReplyStatus::full); break;
            case ManagerOp::lock_acquire: reply(cid, seq, ReplyStatus::ok, "t"); break;
            default: reply(cid, seq, ReplyStatus::ok, "0"); break;  // event_wait
        }
    }
}

bool kind_allows(ManagerKind k, ManagerOp op) {
    switch (op) {
        case ManagerOp::map_set:
        case ManagerOp::map_get: return k == ManagerKind::dict || k == ManagerKind::names || k == ManagerKind::value;
        case ManagerOp::map_contains: return k == ManagerKind::dict || k == ManagerKind::names;
        case ManagerOp::map_erase:
        case ManagerOp::map_size:
        case ManagerOp::map_keys:
        case ManagerOp::map_items: return k == ManagerKind::dict;
        case ManagerOp::list_append:
        case ManagerOp::list_get:
        case ManagerOp::list_set:
        case ManagerOp::list_size:
        case ManagerOp::list_pop:
        case ManagerOp::list_items: return k == ManagerKind::list;
        case ManagerOp::queue_put:
        case ManagerOp::queue_get:
        case ManagerOp::queue_size: return k == ManagerKind::queue;
        case ManagerOp::lock_acquire:
        case ManagerOp::lock_release: return k == ManagerKind::lock;
        case ManagerOp::event_set:
        case ManagerOp::event_clear:
        case ManagerOp::event_is_set:
        case ManagerOp::event_wait: return k == ManagerKind::event;
        case ManagerOp::create: return false;  // objects are made on the reference socket
    }
    return false;
}

std::uint64_t index_of(const std::string& a) { return decode_or_throw<std::uint64_t>(a); }

void Server::handle(std::uint64_t cid, const Request& r) {
    // Named references, not a structured binding: lambdas below use them (clang 14 cannot capture
    // structured bindings).
    const auto op = static_cast<ManagerOp>(std::get<0>(r));
    const std::uint64_t id = std::get<1>(r);
    const std::int64_t timeout_ns = std::get<2>(r);
    const std::string& a = std::get<3>(r);
    const std::string& b = std::get<4>(r);
    const std::uint64_t seq = std::get<5>(r);
    // A give-up time on another time namespace's clock is not comparable: such a request is
    // carried out as one without (and its client's bound still holds on its own side).
    const std::int64_t give_up_ns = std::get<7>(r) == time_namespace() ? std::get<6>(r) : -1;
    // A request is carried out only while its client still waits for the answer, with a margin:
    // after a stop, what it asked may be long given up (a get would take an item nobody receives).
    const std::int64_t last_ns = give_up_ns - static_cast<std::int64_t>(kManagerStartMargin.count());
    if (give_up_ns >= 0 && mono_ns() >= last_ns) return reply(cid, seq, ReplyStatus::expired);
    auto answer = [&](ReplyStatus s, std::string payload = {}) { reply(cid, seq, s, std::move(payload)); };
    auto it = objects_.find(id);
    if (it == objects_.end() || !kind_allows(it->second.kind, op)) return answer(ReplyStatus::bad_handle);
    Object& o = it->second;
    auto park = [&](std::string arg = {}) {
        if (timeout_ns == 0) return false;  // no wait asked: answer now
        Timeout t = timeout_ns < 0 ? Timeout() : Timeout(std::chrono::nanoseconds(timeout_ns));
        detail::Deadline d = detail::Deadline::from(t);
        if (give_up_ns >= 0) {  // no later than the margin before the give-up time
            timespec last{static_cast<time_t>(last_ns / 1000000000), static_cast<long>(last_ns % 1000000000)};
            if (d.infinite || last.tv_sec < d.abs.tv_sec || (last.tv_sec == d.abs.tv_sec && last.tv_nsec < d.abs.tv_nsec)) {
                d.infinite = false;
                d.abs = last;
            }
        }
        o.parked.push_back(Parked{cid, seq, op, std::move(arg), d});
        ++parked_count_;
        return true;
    };
    switch (op) {
        case ManagerOp::map_set:
            o.map.insert_or_assign(a, b);
            return answer(ReplyStatus::ok);
        case ManagerOp::map_get: {
            auto m = o.map.find(a);
            if (b == "?") return answer(ReplyStatus::ok, m == o.map.end() ? std::string() : "1" + m->second);
            if (m == o.map.end()) return answer(ReplyStatus::missing);
            return answer(ReplyStatus::ok, m->second);
        }
        case ManagerOp::map_contains: return answer(ReplyStatus::ok, o.map.contains(a) ? "1" : "0");
        case ManagerOp::map_erase: {
            auto m = o.map.find(a);
            if (m == o.map.end()) return answer(ReplyStatus::ok, "0");
            o.map.erase(m);
            return answer(ReplyStatus::ok, "1");
        }
        case ManagerOp::map_size: return answer(ReplyStatus::ok, encode(std::uint64_t{o.map.size()}));
        case ManagerOp::map_keys: {
            std::vector<std::string> keys;
            for (auto& [k, v] : o.map) keys.push_back(k);
            return answer(ReplyStatus::ok, encode(keys));
        }
        case ManagerOp::map_items: {
            std::map<std::string, std::string> all(o.map.begin(), o.map.end());
            return answer(ReplyStatus::ok, encode(all));
        }
        case ManagerOp::list_append:
            o.list.push_back(a);
            return answer(ReplyStatus::ok);
        case ManagerOp::list_get:
        case ManagerOp::list_set: {
            std::uint64_t i;
            try {
                i = index_of(a);
            } catch (const CodecError&) {
                return answer(ReplyStatus::bad_request);
            }
            if (i >= o.list.size()) return answer(ReplyStatus::missing);
            if (op == ManagerOp::list_get) return answer(ReplyStatus::ok, o.list[i]);
            o.list[i] = b;
            return answer(ReplyStatus::ok);
        }
        case ManagerOp::list_size: return answer(ReplyStatus::ok, encode(std::uint64_t{o.list.size()}));
        case ManagerOp::list_pop: {
            if (o.list.empty()) return answer(ReplyStatus::missing);
            std::string v = std::move(o.list.back());
            o.list.pop_back();
            return answer(ReplyStatus::ok, std::move(v));
        }
        case ManagerOp::list_items: return answer(ReplyStatus::ok, encode(o.list));
        case ManagerOp::queue_put:
            if (o.maxsize == 0 || o.queue.size() < o.maxsize) {
                o.queue.push_back(a);
                answer(ReplyStatus::ok);
                return wake(o);
            }
            if (!park(a)) return answer(ReplyStatus::full);
            return;
        case ManagerOp::queue_get:
            if (!o.queue.empty()) {
                std::string v = std::move(o.queue.front());
                o.queue.pop_front();
                answer(ReplyStatus::ok, std::move(v));
                return wake(o);  // room for a parked put
            }
            if (!park()) return answer(ReplyStatus::empty);
            return;
        case ManagerOp::queue_size: return answer(ReplyStatus::ok, encode(std::uint64_t{o.queue.size()}));
        case ManagerOp::lock_acquire:
            if (o.holder == 0) {
                o.holder = cid;
                std::string s = o.owner_died ? "o" : "a";
                o.owner_died = false;
                return answer(ReplyStatus::ok, s);
            }
            if (!park()) return answer(ReplyStatus::ok, "t");
            return;
        case ManagerOp::lock_release:
            if (o.holder != cid) return answer(ReplyStatus::not_owner);
            o.holder = 0;
            answer(ReplyStatus::ok);
            return wake(o);
        case ManagerOp::event_set:
            o.flag = true;
            answer(ReplyStatus::ok);
            return wake(o);
        case ManagerOp::event_clear:
            o.flag = false;
            return answer(ReplyStatus::ok);
        case ManagerOp::event_is_set: return answer(ReplyStatus::ok, o.flag ? "1" : "0");
        case ManagerOp::event_wait:
            if (o.flag) return answer(ReplyStatus::ok, "1");
            if (!park()) return answer(ReplyStatus::ok, "0");
            return;
        default: return answer(ReplyStatus::bad_request);
    }
}

// ---- the client side --------------------------------------------------------------------------

// This thread's connection to one manager, and the process it was opened in.
struct ThreadConnection {
    pid_t pid = 0;
    Connection conn;
    std::uint64_t seq = 0;  // the last request's sequence number
    // A request this thread stopped waiting for and whose reply has not been read yet (at most one:
    // the next call reads that reply before it sends its own request).
    struct Abandoned {
        std::uint64_t seq;
        ManagerOp op;
        std::uint64_t id;
    };
    std::optional<Abandoned> abandoned;
    // A Lock (its id) that an abandoned acquire took after all: the next call releases it.
    std::uint64_t owed_release = 0;
    void reset() noexcept {
        conn.close();
        pid = 0;
        seq = 0;
        abandoned.reset();
        owed_release = 0;
    }
};

std::unordered_map<std::uint64_t, ThreadConnection>& thread_connections() {
    thread_local std::unordered_map<std::uint64_t, ThreadConnection> mine;
    return mine;
}

[[noreturn]] void did_not_answer(const char* what, const std::string& address, std::chrono::nanoseconds within) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(within).count();
    throw_ipc(make_error_code(Errc::timed_out), std::string("use ") + what + ": the manager's server at " + address +
                                                    " did not answer within " + std::to_string(ms) + " ms");
}

[[noreturn]] void server_gone(const char* what, const std::string& address) {
    throw_ipc(IpcErrc::eof, std::string("use ") + what + ": the manager's server at " + address + " is gone");
}

// Closes this thread's connection to a manager (when that manager is shut down or let go).
void forget_connection(std::uint64_t serial) { thread_connections().erase(serial); }

ThreadConnection& connection_for(const detail::ManagerLink& link, const char* what, Timeout within) {
    ThreadConnection& tc = thread_connections()[link.serial];
    pid_t self = ::getpid();
    if (tc.pid != self || tc.conn.closed()) {
        tc.reset();  // inherited across fork: this process's copy only; the parent keeps its own
        try {
            // A call's own bound holds for its connection too (a stopped server completes no
            // handshake); 10 s at most.
            std::chrono::nanoseconds limit = within ? std::min<std::chrono::nanoseconds>(*within, 10s) : std::chrono::nanoseconds(10s);
            Connection sock = Client(link.address, link.authkey, limit);
            int req[2], rep[2];
            if (::pipe2(req, O_CLOEXEC) < 0) throw SystemError(last_error("create a pipe"));
            unique_fd req_r(req[0]), req_w(req[1]);
            if (::pipe2(rep, O_CLOEXEC) < 0) throw SystemError(last_error("create a pipe"));
            unique_fd rep_r(rep[0]), rep_w(rep[1]);
            send_pipes(sock, req_r.get(), rep_w.get());
            tc.conn = Connection(std::move(rep_r), std::move(req_w), unique_fd());
        } catch (const AuthenticationError&) {
            throw;
        } catch (const TimeoutError&) {
            auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(within ? std::min<std::chrono::nanoseconds>(*within, 10s)
                                                                                  : std::chrono::nanoseconds(10s));
            throw_ipc(make_error_code(Errc::timed_out), std::string("use ") + what + ": the manager's server at " + link.address +
                                                            " did not answer within " + std::to_string(ms.count()) + " ms");
        } catch (const SystemError& e) {
            throw_ipc(IpcErrc::eof, std::string("use ") + what + ": the manager's server at " + link.address +
                                        " is gone (" + e.what() + ")");
        }
        tc.pid = self;
    }
    return tc;
}

}  // namespace

// ---- references, client side --------------------------------------------------------------------

// This process's references to one manager's objects: how many proxies of each object live here,
// and the reference socket on which the server counts one reference per object for the process.
struct detail::ManagerRefs {
    std::mutex mu;
    std::string address, authkey;
    std::uint64_t serial = 0;
    pid_t pid = 0;                   // the process `sock` was opened in (a forked child sees another)
    std::optional<Connection> sock;  // the reference socket
    bool shut = false;               // the owner shut the manager down: never connect again
    // Proxies per object in this process. After a fork, until the child opens its own socket,
    // objects whose count fell to 0 stay listed so that they are released once it has.
    std::unordered_map<std::uint64_t, long> local;
    // In a forked child: the ticket holding the references it inherited, and the pipe end whose
    // closing (this child's end, exec or exit) lets the server release them if it never claims.
    std::uint64_t fork_ticket = 0;
    unique_fd fork_hangup;
    // Between the fork handlers (prepare -> parent/child).
    std::uint64_t pending_ticket = 0;
    int pending_hangup = -1;
};

namespace {

using detail::ManagerRefs;

[[noreturn]] void refs_gone(const ManagerRefs& r, const std::string& why) {
    throw_ipc(IpcErrc::eof, "use a manager object: the manager's server at " + r.address + " is gone" +
                                (why.empty() ? std::string() : " (" + why + ")"));
}

// One request on the reference socket (mu held); `fd` rides along when >= 0. No reply for release.
RefReply ref_call(ManagerRefs& r, RefOp op, std::uint64_t a = 0, std::uint64_t b = 0, int fd = -1) {
    RefRequest q{static_cast<std::uint64_t>(op), a, b};
    iovec iov{&q, sizeof q};
    alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int))] = {};
    msghdr m{};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    if (fd >= 0) {
        m.msg_control = ctl;
        m.msg_controllen = sizeof ctl;
        cmsghdr* c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
    }
    int s = r.sock->fileno();
    if (retry_eintr([&] { return ::sendmsg(s, &m, MSG_NOSIGNAL); }) != static_cast<ssize_t>(sizeof q)) {
        r.sock.reset();
        refs_gone(r, "");
    }
    if (op == RefOp::release) return {};
    RefReply a2{};
    ssize_t n = retry_eintr([&] { return ::recv(s, &a2, sizeof a2, MSG_WAITALL); });
    if (n != static_cast<ssize_t>(sizeof a2)) {
        r.sock.reset();
        refs_gone(r, "");
    }
    return a2;
}

// Makes sure this process has its own reference socket (mu held): a forked child closes its copy
// of its parent's, connects, and claims the references its parent handed over at the fork.
void ensure_refs(ManagerRefs& r) {
    pid_t self = ::getpid();
    if (r.pid == self && r.sock) return;
    if (r.shut) refs_gone(r, "it was shut down");
    r.sock.reset();  // inherited: closes this process's copy only
    r.pid = 0;
    try {
        Connection sock = Client(r.address, r.authkey, 10s);
        char byte = 'R';
        if (retry_eintr([&] { return ::send(sock.fileno(), &byte, 1, MSG_NOSIGNAL); }) != 1)
            throw SystemError(last_error("open a manager's reference socket"));
        r.sock.emplace(std::move(sock));
    } catch (const AuthenticationError&) {
        throw;
    } catch (const SystemError& e) {
        refs_gone(r, e.what());
    }
    r.pid = self;
    if (r.fork_ticket) {
        std::uint64_t t = r.fork_ticket;
        r.fork_ticket = 0;
        ref_call(r, RefOp::claim, t);
        r.fork_hangup.reset();
    }
    for (auto it = r.local.begin(); it != r.local.end();) {
        if (it->second > 0) {
            ++it;
            continue;
        }
        ref_call(r, RefOp::release, it->first);
        it = r.local.erase(it);
    }
}

// Every process's ManagerRefs by serial (weak: a manager's references end with its last link).
struct RefsRegistry {
    std::mutex mu;
    std::unordered_map<std::uint64_t, std::weak_ptr<ManagerRefs>> all;
    std::vector<std::shared_ptr<ManagerRefs>> forking;  // between prepare and parent/child
};

RefsRegistry& registry() {
    static auto* r = new RefsRegistry;  // never destroyed: proxies may outlive static destruction
    return *r;
}

// Fork: a child inherits its parent's proxies, so it must inherit their references before the
// parent can drop its own. Before the fork the parent asks the server for a ticket holding all its
// references, tied to a pipe whose write end only the child keeps; the child claims the ticket
// when it first needs its own reference socket, and if it never does, its exit (or exec) closes
// the pipe and the server releases the ticket.
void fork_prepare() {
    RefsRegistry& g = registry();
    g.mu.lock();
    for (auto it = g.all.begin(); it != g.all.end();) {
        if (auto r = it->second.lock()) {
            g.forking.push_back(std::move(r));
            ++it;
        } else {
            it = g.all.erase(it);
        }
    }
    for (auto& r : g.forking) {
        r->mu.lock();
        bool any = std::any_of(r->local.begin(), r->local.end(), [](auto& e) { return e.second > 0; });
        if (!any || r->shut) continue;
        try {
            ensure_refs(*r);
            int p[2];
            if (::pipe2(p, O_CLOEXEC) < 0) continue;
            unique_fd rd(p[0]), wr(p[1]);
            RefReply a = ref_call(*r, RefOp::fork, 0, 0, rd.get());
            if (a.status != 0) continue;
            r->pending_ticket = a.value;
            r->pending_hangup = wr.release();
        } catch (...) {
            // The server is gone: the child's proxies will say so when used.
        }
    }
}

void fork_parent() {
    RefsRegistry& g = registry();
    for (auto& r : g.forking) {
        if (r->pending_hangup >= 0) ::close(r->pending_hangup);
        r->pending_hangup = -1;
        r->pending_ticket = 0;
        r->mu.unlock();
    }
    g.forking.clear();
    g.mu.unlock();
}

void fork_child() {
    RefsRegistry& g = registry();
    for (auto& r : g.forking) {
        // The parent's reference socket is the parent's: a copy kept here would hide the parent's
        // death from the server. (Closing it frees nothing: its Connection never buffered a read.)
        r->sock.reset();
        if (r->pending_ticket) {
            r->fork_ticket = r->pending_ticket;
            r->fork_hangup.reset(r->pending_hangup);
        }
        r->pending_hangup = -1;
        r->pending_ticket = 0;
        r->mu.unlock();
    }
    g.forking.clear();
    g.mu.unlock();
}

std::shared_ptr<ManagerRefs> refs_for(std::uint64_t serial, const std::string& address, const std::string& authkey) {
    static std::once_flag once;
    std::call_once(once, [] { ::pthread_atfork(fork_prepare, fork_parent, fork_child); });
    RefsRegistry& g = registry();
    std::lock_guard lock(g.mu);
    auto& w = g.all[serial];
    if (auto r = w.lock()) return r;
    auto r = std::make_shared<ManagerRefs>();
    r->address = address;
    r->authkey = authkey;
    r->serial = serial;
    w = r;
    return r;
}

}  // namespace

std::string detail::ManagerLink::call(ManagerOp op, std::uint64_t id, Timeout timeout, std::string_view a,
                                      std::string_view b, const char* what) const {
    std::int64_t t = timeout ? std::max<std::int64_t>(0, timeout->count()) : -1;
    // A call with a timeout stays bounded when the server does not run (SIGSTOPped, frozen): the
    // server answers a parked request when its timeout passes, so no answer by then plus a grace
    // period means none is coming in time. The request carries that give-up time, and the server
    // does nothing for a request it comes to too late (it answers `expired`), so a call that gave
    // up had no effect. The connection stays: the next call first reads the abandoned request's
    // reply (sequence numbers tell replies apart), so a Lock this thread holds through it is kept.
    Timeout within;
    if (timeout) within = std::max<std::chrono::nanoseconds>(*timeout, 0ns) + kManagerReplyGrace;
    ThreadConnection& tc = connection_for(*this, what, within);
    Connection& c = tc.conn;
    std::int64_t give_up = -1;  // none: wait as long as it takes
    if (within) {
        std::int64_t now = mono_ns(), w = static_cast<std::int64_t>(within->count());
        give_up = w > std::numeric_limits<std::int64_t>::max() - now ? std::numeric_limits<std::int64_t>::max() : now + w;
    }
    auto left = [&]() -> Timeout {
        if (give_up < 0) return std::nullopt;
        return std::chrono::nanoseconds(std::max<std::int64_t>(0, give_up - mono_ns()));
    };
    // The reply for `seq`, or nullopt when none came in time. A reply cut short by the deadline has
    // lost its framing and recv_bytes() closed the connection: then nothing of it can be kept (a
    // Lock held through it is released by the server, as when the connection ends).
    auto receive_reply = [&](std::uint64_t seq) -> std::optional<Reply> {
        std::string bytes;
        try {
            bytes = c.recv_bytes(left());
        } catch (const EofError&) {
            tc.reset();
            server_gone(what, address);
        } catch (const TimeoutError&) {
            if (c.closed()) tc.reset();
            return std::nullopt;
        }
        Reply r;
        bool ours = false;
        try {
            r = decode_or_throw<Reply>(bytes);
            ours = std::get<2>(r) == seq;
        } catch (const CodecError&) {
        }
        if (!ours) {
            tc.reset();
            throw_ipc(make_error_code(Errc::protocol), std::string("use ") + what + ": the manager's server at " + address +
                                                           " answered out of turn");
        }
        return r;
    };
    // Sends a request and returns its sequence number.
    auto send_request = [&](ManagerOp o, std::uint64_t obj, std::int64_t wait_ns, std::string_view x, std::string_view y,
                            std::int64_t until) {
        std::string msg =
            encode(Request{static_cast<std::uint32_t>(o), obj, wait_ns, std::string(x), std::string(y), tc.seq + 1, until,
                           time_namespace()});
        try {
            c.send_bytes(msg, left());
        } catch (const EofError&) {
            tc.reset();
            server_gone(what, address);
        } catch (const TimeoutError&) {
            // A message that fits in PIPE_BUF is written whole or not at all: nothing was sent. A
            // longer one may have been cut, and then the framing is lost.
            if (msg.size() + sizeof(std::uint64_t) > PIPE_BUF) tc.reset();
            did_not_answer(what, address, within.value_or(0ns));
        }
        return ++tc.seq;
    };
    // First the reply of a request given up earlier: it must not be taken for this call's. If it
    // shows that the request was carried out after all (the server took it just before the
    // margin and was held up before it could answer), undo what can be undone: a Lock it acquired
    // is released (sent without a give-up time, so the server always carries it out).
    while (tc.abandoned || tc.owed_release) {
        if (tc.abandoned) {
            std::optional<Reply> r = receive_reply(tc.abandoned->seq);
            if (!r) did_not_answer(what, address, within.value_or(0ns));  // still no answer; nothing of this call was sent
            ThreadConnection::Abandoned was = *tc.abandoned;
            tc.abandoned.reset();
            if (was.op == ManagerOp::lock_acquire && static_cast<ReplyStatus>(std::get<0>(*r)) == ReplyStatus::ok &&
                (std::get<1>(*r) == "a" || std::get<1>(*r) == "o"))
                tc.owed_release = was.id;
            continue;
        }
        std::uint64_t lock_id = tc.owed_release;
        std::uint64_t s = send_request(ManagerOp::lock_release, lock_id, -1, {}, {}, -1);
        tc.owed_release = 0;
        tc.abandoned = ThreadConnection::Abandoned{s, ManagerOp::lock_release, lock_id};
    }
    std::uint64_t seq = send_request(op, id, t, a, b, give_up);
    std::optional<Reply> r = receive_reply(seq);
    if (!r) {
        if (!c.closed()) tc.abandoned = ThreadConnection::Abandoned{seq, op, id};
        did_not_answer(what, address, within.value_or(0ns));
    }
    auto status = std::get<0>(*r);
    std::string& payload = std::get<1>(*r);
    switch (static_cast<ReplyStatus>(status)) {
        case ReplyStatus::ok: return std::move(payload);
        case ReplyStatus::expired: did_not_answer(what, address, within.value_or(0ns));  // came to too late: nothing was done
        case ReplyStatus::missing:
            if (op == ManagerOp::map_get)
                throw std::out_of_range(std::string("prockit: ") + what + " has no " +
                                        (std::string_view(what).ends_with("Namespace") ? "attribute '" : "key '") +
                                        std::string(a) + "'");
            throw std::out_of_range(std::string("prockit: ") + what + ": index out of range");
        case ReplyStatus::empty: throw_ipc(IpcErrc::empty, std::string("get from ") + what);
        case ReplyStatus::full: throw_ipc(IpcErrc::full, std::string("put on ") + what);
        case ReplyStatus::not_owner: throw_ipc(IpcErrc::not_owner, std::string("release ") + what);
        case ReplyStatus::bad_handle: throw_ipc(IpcErrc::bad_handle, std::string("use ") + what + " (id " + std::to_string(id) + ")");
        case ReplyStatus::bad_request: break;
    }
    throw_ipc(IpcErrc::bad_handle, std::string("use ") + what + ": the manager refused the request");
}

std::string detail::ProxyBase::call(ManagerOp op, const char* what, std::string_view a, std::string_view b,
                                    Timeout timeout) const {
    if (!link_) throw_ipc(IpcErrc::closed, std::string("use ") + what + " (an empty proxy)");
    return link_->call(op, id_, timeout, a, b, what);
}

std::size_t DictProxy::size() const { return decode_or_throw<std::uint64_t>(call(detail::ManagerOp::map_size, kWhat)); }
std::vector<std::string> DictProxy::keys() const {
    return decode_or_throw<std::vector<std::string>>(call(detail::ManagerOp::map_keys, kWhat));
}
std::size_t ListProxy::size() const { return decode_or_throw<std::uint64_t>(call(detail::ManagerOp::list_size, kWhat)); }
std::size_t QueueProxy::qsize() const { return decode_or_throw<std::uint64_t>(call(detail::ManagerOp::queue_size, kWhat)); }

LockStatus LockProxy::acquire(Timeout timeout) const {
    std::string r = call(detail::ManagerOp::lock_acquire, kWhat, {}, {}, timeout);
    return r == "a" ? LockStatus::acquired : r == "o" ? LockStatus::owner_died : LockStatus::timed_out;
}
void LockProxy::release() const { call(detail::ManagerOp::lock_release, kWhat); }
void LockProxy::lock() const {
    if (acquire() == LockStatus::owner_died) {
        release();
        throw_ipc(IpcErrc::owner_died, "lock a manager Lock");
    }
}

void EventProxy::set() const { call(detail::ManagerOp::event_set, kWhat); }
void EventProxy::clear() const { call(detail::ManagerOp::event_clear, kWhat); }
bool EventProxy::is_set() const { return call(detail::ManagerOp::event_is_set, kWhat) == "1"; }
bool EventProxy::wait(Timeout timeout) const { return call(detail::ManagerOp::event_wait, kWhat, {}, {}, timeout) == "1"; }

// ---- proxies' references ------------------------------------------------------------------------

detail::ProxyBase::ProxyBase(std::shared_ptr<const ManagerLink> link, std::uint64_t id, ManagerKind kind, Adopt)
    : link_(std::move(link)), id_(id), kind_(kind) {}

detail::ProxyBase::ProxyBase(std::shared_ptr<const ManagerLink> link, std::uint64_t id, ManagerKind kind)
    : kind_(kind) {
    if (!link || !link->refs) throw_ipc(IpcErrc::closed, "use a manager object (the manager was moved from)");
    ManagerRefs& r = *link->refs;
    std::lock_guard lock(r.mu);
    ensure_refs(r);
    long& n = r.local[id];
    if (n == 0) {
        RefReply a = ref_call(r, RefOp::acquire, id, static_cast<std::uint64_t>(kind));
        if (a.status != 0) {
            r.local.erase(id);
            throw_ipc(IpcErrc::bad_handle, "use manager object " + std::to_string(id) +
                                               " (there is no such object of this kind: it was freed, or never made)");
        }
    }
    ++n;
    link_ = std::move(link);
    id_ = id;
}

detail::ProxyBase::ProxyBase(ProxyBase&& o, ManagerKind kind) : ProxyBase(std::move(o)) {
    if (link_ && kind_ != kind) {
        release();
        link_.reset();
        throw CodecError("a manager proxy of another kind");
    }
}

detail::ProxyBase::ProxyBase(const ProxyBase& o) : link_(o.link_), id_(o.id_), kind_(o.kind_) {
    if (!link_) return;
    std::lock_guard lock(link_->refs->mu);
    ++link_->refs->local[id_];
}

detail::ProxyBase& detail::ProxyBase::operator=(const ProxyBase& o) {
    if (this != &o) {
        ProxyBase copy(o);
        *this = std::move(copy);
    }
    return *this;
}

detail::ProxyBase& detail::ProxyBase::operator=(ProxyBase&& o) noexcept {
    if (this != &o) {
        release();
        link_ = std::move(o.link_);
        id_ = o.id_;
        kind_ = o.kind_;
        o.id_ = 0;
    }
    return *this;
}

detail::ProxyBase::~ProxyBase() { release(); }

void detail::ProxyBase::release() noexcept {
    if (!link_) return;
    ManagerRefs& r = *link_->refs;
    std::lock_guard lock(r.mu);
    auto it = r.local.find(id_);
    if (it == r.local.end() || --it->second > 0) return;
    if (r.pid != ::getpid() || !r.sock) {
        // Not connected in this process: a forked child releases it after claiming its
        // inheritance; otherwise the server is gone or never heard of us.
        if (!r.fork_ticket) r.local.erase(it);
        return;
    }
    r.local.erase(it);
    try {
        ref_call(r, RefOp::release, id_);  // one-way: the destructor does not wait for the server
    } catch (...) {
    }
}

void detail::ProxyBase::encode_to(Writer& w) const {
    if (!link_) throw_ipc(IpcErrc::closed, "send a manager proxy (an empty proxy)");
    ManagerRefs& r = *link_->refs;
    std::uint64_t ticket;
    {
        std::lock_guard lock(r.mu);
        ensure_refs(r);
        RefReply a = ref_call(r, RefOp::share, id_);
        if (a.status != 0) throw_ipc(IpcErrc::bad_handle, "send manager object " + std::to_string(id_) + " (it is gone)");
        ticket = a.value;
    }
    Codec<std::tuple<std::uint32_t, std::uint64_t, std::string, std::string, std::uint64_t, std::uint64_t>>::encode(
        w, {static_cast<std::uint32_t>(kind_), link_->serial, link_->address, link_->authkey, id_, ticket});
}

detail::ProxyBase detail::ProxyBase::decode_from(Reader& rd, ManagerKind kind) {
    auto [k, serial, address, authkey, id, ticket] =
        Codec<std::tuple<std::uint32_t, std::uint64_t, std::string, std::string, std::uint64_t, std::uint64_t>>::decode(rd);
    auto link = std::make_shared<ManagerLink>();
    link->address = address;
    link->authkey = authkey;
    link->serial = serial;
    link->refs = refs_for(serial, address, authkey);
    ManagerRefs& r = *link->refs;
    {
        std::lock_guard lock(r.mu);
        ensure_refs(r);
        RefReply a = ref_call(r, RefOp::claim, ticket);
        if (a.status != 0 || a.value != id)
            throw_ipc(IpcErrc::bad_handle, "receive manager object " + std::to_string(id) +
                                               " (its hand-over ticket was used already, or its sender ended first)");
        ++r.local[id];
    }
    ProxyBase p(std::move(link), id, static_cast<ManagerKind>(k), Adopt{});
    return ProxyBase(std::move(p), kind);
}

std::shared_ptr<const detail::ManagerLink> Manager::checked(const Manager& m, std::uint64_t id, ManagerKind kind) {
    (void)id;
    (void)kind;  // the proxy's constructor takes a reference, which checks the kind
    return m.link_;
}
DictProxy::DictProxy(const Manager& m, std::uint64_t id) : ProxyBase(Manager::checked(m, id, ManagerKind::dict), id, ManagerKind::dict) {}
NamespaceProxy::NamespaceProxy(const Manager& m, std::uint64_t id)
    : ProxyBase(Manager::checked(m, id, ManagerKind::names), id, ManagerKind::names) {}
ListProxy::ListProxy(const Manager& m, std::uint64_t id) : ProxyBase(Manager::checked(m, id, ManagerKind::list), id, ManagerKind::list) {}
QueueProxy::QueueProxy(const Manager& m, std::uint64_t id) : ProxyBase(Manager::checked(m, id, ManagerKind::queue), id, ManagerKind::queue) {}
LockProxy::LockProxy(const Manager& m, std::uint64_t id) : ProxyBase(Manager::checked(m, id, ManagerKind::lock), id, ManagerKind::lock) {}
EventProxy::EventProxy(const Manager& m, std::uint64_t id) : ProxyBase(Manager::checked(m, id, ManagerKind::event), id, ManagerKind::event) {}

detail::ProxyBase Manager::create(ManagerKind kind, std::uint64_t arg) const {
    if (!link_) throw_ipc(IpcErrc::closed, "create a manager object (the manager was moved from)");
    ManagerRefs& r = *link_->refs;
    std::lock_guard lock(r.mu);
    ensure_refs(r);
    RefReply a = ref_call(r, RefOp::create, static_cast<std::uint64_t>(kind), arg);
    if (a.status != 0) throw_ipc(IpcErrc::bad_handle, "create a manager object: the manager refused");
    ++r.local[a.value];
    return detail::ProxyBase(link_, a.value, kind, detail::ProxyBase::Adopt{});
}

std::size_t Manager::object_count() const {
    if (!link_) throw_ipc(IpcErrc::closed, "count a manager's objects (the manager was moved from)");
    ManagerRefs& r = *link_->refs;
    std::lock_guard lock(r.mu);
    ensure_refs(r);
    return static_cast<std::size_t>(ref_call(r, RefOp::count).value);
}

DictProxy Manager::dict() const { return DictProxy(create(ManagerKind::dict)); }
ListProxy Manager::list() const { return ListProxy(create(ManagerKind::list)); }
NamespaceProxy Manager::Namespace() const { return NamespaceProxy(create(ManagerKind::names)); }
QueueProxy Manager::Queue(std::size_t maxsize) const { return QueueProxy(create(ManagerKind::queue, maxsize)); }
LockProxy Manager::Lock() const { return LockProxy(create(ManagerKind::lock)); }
EventProxy Manager::Event() const { return EventProxy(create(ManagerKind::event)); }

Manager::Manager(ManagerOptions options) {
    auto link = std::make_shared<detail::ManagerLink>();
    link->authkey = options.authkey.empty() ? [] {
        std::string k(32, '\0');
        for (std::size_t i = 0; i < k.size(); i += 8) {
            std::uint64_t v = random_u64();
            std::memcpy(k.data() + i, &v, 8);
        }
        return k;
    }()
                                            : options.authkey;
    link->serial = random_u64();
    // The listener is made in the server (the owner never holds it, so a dead server refuses
    // connections at once); the server reports its address, or why it could not listen, on a pipe.
    Pipe ready(false);
    std::string address = options.address, key = link->authkey;
    server_ = std::make_unique<Process>(
        ProcessOptions{.name = "prockit-manager", .daemon = true, .parent_death_signal = SIGTERM},
        [&ready, address, key]() -> int {
            ready.first.close();
            // SIGTERM (shutdown, or the owner's death) and SIGHUP end the loop cleanly; SIGINT is the
            // owner's to act on (a Ctrl-C in a terminal reaches the whole process group).
            sigset_t set;
            sigemptyset(&set);
            sigaddset(&set, SIGTERM);
            sigaddset(&set, SIGHUP);
            ::sigprocmask(SIG_BLOCK, &set, nullptr);
            ::signal(SIGINT, SIG_IGN);
            int sigfd = ::signalfd(-1, &set, SFD_CLOEXEC);
            std::optional<Listener> l;
            try {
                if (sigfd < 0) throw SystemError(last_error("create a signalfd"));
                l.emplace(address, key);
                ready.second.send(std::make_tuple(std::uint32_t{0}, l->address()));
            } catch (const std::exception& e) {
                ready.second.send(std::make_tuple(std::uint32_t{1}, std::string(e.what())));
                return 1;
            }
            ready.second.close();
            // The server holds nothing of its owner's: a pipe end it inherited would keep that
            // pipe's readers from ever seeing EOF while the manager runs.
            int keep[2] = {std::min(sigfd, l->fileno()), std::max(sigfd, l->fileno())};
            ::close_range(3, static_cast<unsigned>(keep[0]) - 1, 0);
            ::close_range(static_cast<unsigned>(keep[0]) + 1, static_cast<unsigned>(keep[1]) - 1, 0);
            ::close_range(static_cast<unsigned>(keep[1]) + 1, ~0U, 0);
            Server s(std::move(*l), sigfd);
            s.run();
            return 0;  // ~Server closes the listener (removing a path) and the clients
        });
    server_->start();
    owner_ = ::getpid();
    ready.second.close();
    std::tuple<std::uint32_t, std::string> r;
    try {
        r = ready.first.recv<std::tuple<std::uint32_t, std::string>>(options.start_timeout);
    } catch (const SystemError& e) {
        server_->kill();
        server_->join();
        throw SystemError(Error(make_error_code(std::errc::io_error), std::string("start a manager: ") + e.what()));
    }
    if (std::get<0>(r) != 0) {
        server_->join();
        throw SystemError(Error(make_error_code(std::errc::address_in_use), "start a manager: " + std::get<1>(r)));
    }
    link->address = std::get<1>(r);
    link->refs = refs_for(link->serial, link->address, link->authkey);
    link_ = std::move(link);
}

Manager Manager::connect(std::string address, std::string authkey) {
    Manager m{ConnectTag{}};
    auto link = std::make_shared<detail::ManagerLink>();
    link->address = std::move(address);
    link->authkey = std::move(authkey);
    link->serial = random_u64();
    link->refs = refs_for(link->serial, link->address, link->authkey);
    m.link_ = std::move(link);
    return m;
}

Manager::Manager(ConnectTag) {}
Manager::Manager(Manager&&) noexcept = default;

Manager::~Manager() {
    try {
        shutdown();
    } catch (...) {
    }
    if (link_) forget_connection(link_->serial);
}

pid_t Manager::pid() const { return server_ ? server_->pid().value_or(0) : 0; }

void Manager::shutdown() {
    if (!server_ || owner_ != ::getpid()) return;
    forget_connection(link_->serial);
    {
        std::lock_guard lock(link_->refs->mu);
        link_->refs->shut = true;
        link_->refs->sock.reset();
    }
    std::optional<pid_t> p = server_->pid();
    // Only the process that started the server ends it (a forked copy of the Manager does not).
    if (p && server_->is_alive()) {
        server_->terminate();
        if (!server_->join(std::chrono::seconds(5))) {
            server_->kill();
            server_->join();
        }
    }
    if (link_ && !link_->address.empty() && link_->address[0] != '@') ::unlink(link_->address.c_str());
    server_.reset();
}

}  // namespace prockit
