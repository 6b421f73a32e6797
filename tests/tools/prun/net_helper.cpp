// prun-net-helper: tries to open sockets and reports what happened, one "family=result" line per
// argument (inet, inet6, unix), result "ok" or the errno name (EPERM, ...). Exit 0 always.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        std::string f = argv[i];
        int family = f == "inet" ? AF_INET : f == "inet6" ? AF_INET6 : AF_UNIX;
        int fd = socket(family, SOCK_STREAM, 0);
        if (fd >= 0) {
            std::printf("%s=ok\n", f.c_str());
            close(fd);
        } else {
            int e = errno;
            std::printf("%s=%s\n", f.c_str(), e == EPERM ? "EPERM" : e == EACCES ? "EACCES" : std::strerror(e));
        }
    }
    return 0;
}
