// bench/pjobs_list_floor.cpp — the floor for `pjobs list`: what any client of a per-user server
// pays to print a list of the same size. No C++ runtime (linked --as-needed), no option parsing,
// no JSON, no directory checks. bench/pjobs_bench.sh times it beside `pjobs list`.
//   pjobs_list_floor get SOCKET         asks the running pjobs server for its text list (the same
//                                       request as `pjobs list`) and prints the lines it sends
//   pjobs_list_floor serve SOCKET FILE  a server that answers every connection with FILE's bytes
//                                       in one write: the transport alone (run it in the background)
//   pjobs_list_floor cat SOCKET         connects to such a server, prints what it sends until EOF
#include <arpa/inet.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace {

bool put(int fd, const char* p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0) return false;
        p += w;
        n -= static_cast<size_t>(w);
    }
    return true;
}

bool get(int fd, char* p, size_t n) {
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r <= 0) return false;
        p += r;
        n -= static_cast<size_t>(r);
    }
    return true;
}

int dial(const char* path) {
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    strncpy(a.sun_path, path, sizeof a.sun_path - 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return -1;
    return fd;
}

/// One frame of the pjobs protocol: its type byte and payload in a malloc'd buffer.
char* frame(int fd, char* type, size_t* n) {
    unsigned char head[5];
    if (!get(fd, reinterpret_cast<char*>(head), 5)) return nullptr;
    uint32_t len;
    memcpy(&len, head, 4);
    len = ntohl(len);
    if (len == 0) return nullptr;
    *type = static_cast<char>(head[4]);
    *n = len - 1;
    char* p = static_cast<char*>(malloc(*n + 1));
    if (p && !get(fd, p, *n)) {
        free(p);
        return nullptr;
    }
    return p;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) return 2;
    if (strcmp(argv[1], "get") == 0) {
        int fd = dial(argv[2]);
        if (fd < 0) return 1;
        static const char req[] = "{\"op\":\"list\",\"raw\":true,\"text\":true,\"v\":1}";
        unsigned char head[5];
        uint32_t len = htonl(sizeof req);  // the type byte and the payload (without its NUL)
        memcpy(head, &len, 4);
        head[4] = 'j';
        if (!put(fd, reinterpret_cast<char*>(head), 5) || !put(fd, req, sizeof req - 1)) return 1;
        char type = 0;
        size_t n = 0;
        char* answer = frame(fd, &type, &n);  // the header
        if (!answer || type != 'j') return 1;
        free(answer);
        char* text = frame(fd, &type, &n);
        if (!text || type != 't') return 1;
        return put(1, text, n) ? 0 : 1;
    }
    if (strcmp(argv[1], "cat") == 0) {
        int fd = dial(argv[2]);
        if (fd < 0) return 1;
        static char buf[1 << 20];
        ssize_t r;
        while ((r = read(fd, buf, sizeof buf)) > 0)
            if (!put(1, buf, static_cast<size_t>(r))) return 1;
        return r == 0 ? 0 : 1;
    }
    if (strcmp(argv[1], "serve") == 0 && argc == 4) {
        int f = open(argv[3], O_RDONLY | O_CLOEXEC);
        struct stat st{};
        if (f < 0 || fstat(f, &st) != 0) return 1;
        char* data = static_cast<char*>(malloc(static_cast<size_t>(st.st_size) + 1));
        if (!data || !get(f, data, static_cast<size_t>(st.st_size))) return 1;
        signal(SIGPIPE, SIG_IGN);
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        strncpy(a.sun_path, argv[2], sizeof a.sun_path - 1);
        unlink(argv[2]);
        int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (l < 0 || bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(l, 16) != 0) return 1;
        for (;;) {
            int c = accept4(l, nullptr, nullptr, SOCK_CLOEXEC);
            if (c < 0) continue;
            put(c, data, static_cast<size_t>(st.st_size));
            close(c);
        }
    }
    return 2;
}
