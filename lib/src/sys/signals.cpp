#include <prockit/sys/signals.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <pthread.h>

namespace prockit {
namespace {

struct SigName {
    int sig;
    const char* name;
};
// The standard signals by their conventional names (kill -l order).
constexpr SigName kSignals[] = {
    {SIGHUP, "HUP"},     {SIGINT, "INT"},       {SIGQUIT, "QUIT"},   {SIGILL, "ILL"},
    {SIGTRAP, "TRAP"},   {SIGABRT, "ABRT"},     {SIGBUS, "BUS"},     {SIGFPE, "FPE"},
    {SIGKILL, "KILL"},   {SIGUSR1, "USR1"},     {SIGSEGV, "SEGV"},   {SIGUSR2, "USR2"},
    {SIGPIPE, "PIPE"},   {SIGALRM, "ALRM"},     {SIGTERM, "TERM"},   {SIGSTKFLT, "STKFLT"},
    {SIGCHLD, "CHLD"},   {SIGCONT, "CONT"},     {SIGSTOP, "STOP"},   {SIGTSTP, "TSTP"},
    {SIGTTIN, "TTIN"},   {SIGTTOU, "TTOU"},     {SIGURG, "URG"},     {SIGXCPU, "XCPU"},
    {SIGXFSZ, "XFSZ"},   {SIGVTALRM, "VTALRM"}, {SIGPROF, "PROF"},   {SIGWINCH, "WINCH"},
    {SIGIO, "IO"},       {SIGPWR, "PWR"},       {SIGSYS, "SYS"},
};
// Accepted on input only.
constexpr SigName kAliases[] = {{SIGIOT, "IOT"}, {SIGCHLD, "CLD"}, {SIGPOLL, "POLL"}};

std::string upper(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return out;
}

bool parse_int(std::string_view s, int& out) {
    if (s.empty()) return false;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

std::string signal_name(int sig) {
    for (const auto& s : kSignals)
        if (s.sig == sig) return s.name;
    if (sig >= SIGRTMIN && sig <= SIGRTMAX) {
        if (sig == SIGRTMIN) return "RTMIN";
        if (sig == SIGRTMAX) return "RTMAX";
        int from_min = sig - SIGRTMIN, to_max = SIGRTMAX - sig;
        return from_min <= to_max ? "RTMIN+" + std::to_string(from_min)
                                  : "RTMAX-" + std::to_string(to_max);
    }
    return {};
}

Result<int> parse_signal(std::string_view text) {
    const std::string quoted = "parse signal '" + std::string(text) + "'";
    if (text.empty()) return fail(Error(Errc::parse_error, quoted));
    int n = 0;
    if (parse_int(text, n)) {
        if (n < 1 || n > SIGRTMAX) return fail(Error(Errc::out_of_range, quoted));
        return n;
    }
    std::string name = upper(text);
    if (name.rfind("SIG", 0) == 0) name.erase(0, 3);
    for (const auto& s : kSignals)
        if (name == s.name) return s.sig;
    for (const auto& s : kAliases)
        if (name == s.name) return s.sig;
    auto rt = [&](std::string_view base, int anchor, int dir) -> Result<int> {
        std::string_view rest = std::string_view(name).substr(base.size());
        if (rest.empty()) return anchor;
        char sign = rest.front();
        int off = 0;
        if ((dir > 0 && sign != '+') || (dir < 0 && sign != '-') || !parse_int(rest.substr(1), off))
            return fail(Error(Errc::parse_error, quoted));
        int sig = anchor + dir * off;
        if (sig < SIGRTMIN || sig > SIGRTMAX) return fail(Error(Errc::out_of_range, quoted));
        return sig;
    };
    if (name.rfind("RTMIN", 0) == 0) return rt("RTMIN", SIGRTMIN, +1);
    if (name.rfind("RTMAX", 0) == 0) return rt("RTMAX", SIGRTMAX, -1);
    return fail(Error(Errc::not_found, quoted));
}

SignalMaskGuard::SignalMaskGuard() {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old_);
}

SignalMaskGuard::SignalMaskGuard(const sigset_t& block) { pthread_sigmask(SIG_BLOCK, &block, &old_); }

SignalMaskGuard::SignalMaskGuard(std::initializer_list<int> signals) {
    sigset_t set;
    sigemptyset(&set);
    for (int s : signals) sigaddset(&set, s);
    pthread_sigmask(SIG_BLOCK, &set, &old_);
}

SignalMaskGuard::~SignalMaskGuard() { pthread_sigmask(SIG_SETMASK, &old_, nullptr); }

}  // namespace prockit
