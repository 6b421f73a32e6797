#include <prockit/proc/events.hpp>

#include <prockit/sys/syscall.hpp>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <arpa/inet.h>
#include <linux/cn_proc.h>
#include <linux/filter.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace prockit::proc {

namespace {

// The connector's message header (linux/connector.h's struct cn_msg, whose flexible array member
// C++ does not allow): idx, val, seq, ack, len, flags; the payload follows.
constexpr std::uint32_t cn_idx_proc = 1;
constexpr std::uint32_t cn_val_proc = 1;
struct CnHeader {
    std::uint32_t idx;
    std::uint32_t val;
    std::uint32_t seq;
    std::uint32_t ack;
    std::uint16_t len;
    std::uint16_t flags;
};
static_assert(sizeof(CnHeader) == 20);

// Where the filter looks in each datagram (one connector message per datagram): the nlmsghdr,
// the connector header, then struct proc_event.
constexpr std::uint32_t at_event = NLMSG_HDRLEN + sizeof(CnHeader);
constexpr std::uint32_t at_what = at_event + offsetof(proc_event, what);
constexpr std::uint32_t at_fork_pid = at_event + offsetof(proc_event, event_data.fork.child_pid);
constexpr std::uint32_t at_fork_tgid = at_event + offsetof(proc_event, event_data.fork.child_tgid);
constexpr std::uint32_t at_exit_pid = at_event + offsetof(proc_event, event_data.exit.process_pid);
constexpr std::uint32_t at_exit_tgid = at_event + offsetof(proc_event, event_data.exit.process_tgid);

// A classic BPF program passing the connector messages `k` asks for. Loads of words are
// big-endian, so constants are compared in network order (equality of two loads needs none).
// A datagram too short for a load ends the program with 0: dropped.
class FilterBuilder {
public:
    explicit FilterBuilder(const ProcEvents::Kinds& k) {
        struct Case {
            bool wanted;
            std::uint32_t what;
            std::uint32_t pid_at, tgid_at;  // 0: pass every such message
        };
        const Case cases[] = {
            {k.fork, proc_event::PROC_EVENT_FORK, k.threads ? 0 : at_fork_pid, at_fork_tgid},
            {k.exec, proc_event::PROC_EVENT_EXEC, 0, 0},
            {k.exit, proc_event::PROC_EVENT_EXIT, k.threads ? 0 : at_exit_pid, at_exit_tgid},
        };
        // ld what; then one "jeq WHAT, <its block>" per wanted kind; ret drop; the blocks.
        emit(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, at_what));
        std::vector<std::pair<std::size_t, const Case*>> jumps;
        for (const Case& c : cases) {
            if (!c.wanted) continue;
            jumps.emplace_back(prog_.size(), &c);
            emit(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, htonl(c.what), 0, 0));
        }
        emit(BPF_STMT(BPF_RET | BPF_K, 0));
        for (auto& [at, c] : jumps) {
            prog_[at].jt = static_cast<std::uint8_t>(prog_.size() - at - 1);
            if (c->pid_at == 0) {
                emit(BPF_STMT(BPF_RET | BPF_K, pass));
                continue;
            }
            // Only a process's own fork or exit: pid == tgid.
            emit(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, c->pid_at));
            emit(BPF_STMT(BPF_MISC | BPF_TAX, 0));
            emit(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, c->tgid_at));
            emit(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_X, 0, 0, 1));
            emit(BPF_STMT(BPF_RET | BPF_K, pass));
            emit(BPF_STMT(BPF_RET | BPF_K, 0));
        }
    }
    sock_fprog program() {
        sock_fprog p{};
        p.len = static_cast<unsigned short>(prog_.size());
        p.filter = prog_.data();
        return p;
    }

private:
    static constexpr std::uint32_t pass = 0xffff;  // the bytes kept: all of a connector message
    void emit(sock_filter f) { prog_.push_back(f); }
    std::vector<sock_filter> prog_;
};

}  // namespace

Result<ProcEvents> ProcEvents::open(Kinds kinds) {
    int fd = ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_CONNECTOR);
    if (fd < 0) return fail(last_error("open the proc connector socket"));
    ProcEvents ev;
    ev.fd_.reset(fd);
    // The filter goes on before the subscription: nothing unwanted is ever queued.
    FilterBuilder filter(kinds);
    sock_fprog prog = filter.program();
    if (::setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) != 0)
        return fail(last_error("filter the proc connector socket"));
    sockaddr_nl addr{};
    addr.nl_family = AF_NETLINK;
    addr.nl_groups = cn_idx_proc;
    addr.nl_pid = 0;  // let the kernel choose
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
        return fail(last_error("bind the proc connector socket"));

    // nlmsghdr + CnHeader + enum proc_cn_mcast_op
    alignas(nlmsghdr) char msg[NLMSG_SPACE(sizeof(CnHeader) + sizeof(std::uint32_t))] = {};
    nlmsghdr nh{};
    nh.nlmsg_len = NLMSG_LENGTH(sizeof(CnHeader) + sizeof(std::uint32_t));
    nh.nlmsg_type = NLMSG_DONE;
    nh.nlmsg_pid = 0;
    CnHeader cn{};
    cn.idx = cn_idx_proc;
    cn.val = cn_val_proc;
    cn.len = sizeof(std::uint32_t);
    std::uint32_t op = PROC_CN_MCAST_LISTEN;
    std::memcpy(msg, &nh, sizeof nh);
    std::memcpy(msg + NLMSG_HDRLEN, &cn, sizeof cn);
    std::memcpy(msg + NLMSG_HDRLEN + sizeof cn, &op, sizeof op);
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    ssize_t n = retry_eintr([&] {
        return ::sendto(fd, msg, nh.nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel);
    });
    if (n < 0) return fail(last_error("subscribe to process events"));
    return ev;
}

Result<std::vector<ProcEvent>> ProcEvents::read() {
    std::vector<ProcEvent> out;
    if (auto st = read_into(out); !st) return fail(st.error());
    return out;
}

namespace {

// Appends the events of one datagram (normally one message) to `out`.
void parse(const char* buf, std::size_t len, std::vector<ProcEvent>& out) {
    std::size_t off = 0;
    while (off + NLMSG_HDRLEN <= len) {
        nlmsghdr nh;
        std::memcpy(&nh, buf + off, sizeof nh);
        if (nh.nlmsg_len < NLMSG_HDRLEN || off + nh.nlmsg_len > len) break;
        std::size_t payload = off + NLMSG_HDRLEN;
        if (nh.nlmsg_type != NLMSG_ERROR && nh.nlmsg_type != NLMSG_NOOP &&
            nh.nlmsg_len >= NLMSG_HDRLEN + sizeof(CnHeader) + offsetof(proc_event, event_data)) {
            CnHeader cn;
            std::memcpy(&cn, buf + payload, sizeof cn);
            proc_event pe{};
            std::size_t avail = nh.nlmsg_len - NLMSG_HDRLEN - sizeof(CnHeader);
            std::memcpy(&pe, buf + payload + sizeof cn, avail < sizeof pe ? avail : sizeof pe);
            if (cn.idx == cn_idx_proc && cn.val == cn_val_proc) {
                ProcEvent e;
                bool keep = true;
                switch (pe.what) {
                    case proc_event::PROC_EVENT_FORK:
                        e.kind = ProcEvent::Kind::fork;
                        e.pid = pe.event_data.fork.child_pid;
                        e.tgid = pe.event_data.fork.child_tgid;
                        e.parent_pid = pe.event_data.fork.parent_pid;
                        e.parent_tgid = pe.event_data.fork.parent_tgid;
                        break;
                    case proc_event::PROC_EVENT_EXEC:
                        e.kind = ProcEvent::Kind::exec;
                        e.pid = pe.event_data.exec.process_pid;
                        e.tgid = pe.event_data.exec.process_tgid;
                        break;
                    case proc_event::PROC_EVENT_EXIT:
                        e.kind = ProcEvent::Kind::exit;
                        e.pid = pe.event_data.exit.process_pid;
                        e.tgid = pe.event_data.exit.process_tgid;
                        break;
                    default: keep = false; break;
                }
                if (keep) out.push_back(e);
            }
        }
        off += NLMSG_ALIGN(nh.nlmsg_len);
    }
}

}  // namespace

Status ProcEvents::read_into(std::vector<ProcEvent>& out) {
    // One connector message is under 100 bytes; a slot of 256 holds any of them (a longer one
    // would come back MSG_TRUNC and is skipped). 32 datagrams per recvmmsg.
    constexpr std::size_t slots = 32, slot_size = 256;
    alignas(nlmsghdr) char buf[slots][slot_size];
    iovec iov[slots];
    mmsghdr msgs[slots];
    for (;;) {
        for (std::size_t i = 0; i < slots; ++i) {
            iov[i] = {buf[i], slot_size};
            msgs[i] = {};
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        int n = ::recvmmsg(fd_.get(), msgs, slots, 0, nullptr);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) break;
            if (errno == ENOBUFS) {
                ProcEvent e;
                e.kind = ProcEvent::Kind::overrun;
                out.push_back(e);
                continue;
            }
            return fail(last_error("read process events"));
        }
        for (int i = 0; i < n; ++i)
            if (!(msgs[i].msg_hdr.msg_flags & MSG_TRUNC)) parse(buf[i], msgs[i].msg_len, out);
        if (static_cast<std::size_t>(n) < slots) break;  // the queue is empty: no recv to learn EAGAIN
    }
    return {};
}

}  // namespace prockit::proc
