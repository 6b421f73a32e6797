#include <prockit/proc/events.hpp>

#include <prockit/sys/syscall.hpp>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <linux/cn_proc.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <unistd.h>

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

}  // namespace

Result<ProcEvents> ProcEvents::open() {
    int fd = ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_CONNECTOR);
    if (fd < 0) return fail(last_error("open the proc connector socket"));
    ProcEvents ev;
    ev.fd_.reset(fd);
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
    alignas(nlmsghdr) char buf[16384];
    for (;;) {
        ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
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
        std::size_t len = static_cast<std::size_t>(n);
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
    return out;
}

}  // namespace prockit::proc
