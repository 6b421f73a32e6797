#include <prockit/security/capabilities.hpp>

#include <prockit/sys/syscall.hpp>

#include <sys/capability.h>
#include <sys/prctl.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>

namespace prockit {

int last_capability() {
    static const int last = [] {
        auto text = read_file("/proc/sys/kernel/cap_last_cap");
        if (text) {
            int v = std::atoi(text->c_str());
            if (v > 0 && v < 64) return v;
        }
        return static_cast<int>(CAP_LAST_CAP);
    }();
    return last;
}

CapabilitySet CapabilitySet::all() {
    CapabilitySet s;
    for (int c = 0; c <= last_capability(); ++c) s.set(c);
    return s;
}

Result<CapabilitySet> CapabilitySet::current_bounding() {
    CapabilitySet s;
    for (int c = 0; c <= last_capability(); ++c) {
        int r = prctl(PR_CAPBSET_READ, c, 0, 0, 0);
        if (r < 0) return fail(last_error("read the capability bounding set"));
        if (r == 1) s.set(c);
    }
    return s;
}

Result<CapabilitySet> CapabilitySet::current_permitted() {
    cap_t caps = cap_get_proc();
    if (!caps) return fail(last_error("read the process capabilities"));
    CapabilitySet s;
    for (int c = 0; c <= last_capability(); ++c) {
        cap_flag_value_t v = CAP_CLEAR;
        if (cap_get_flag(caps, static_cast<cap_value_t>(c), CAP_PERMITTED, &v) == 0 && v == CAP_SET) s.set(c);
    }
    cap_free(caps);
    return s;
}

Result<int> parse_capability(std::string_view name) {
    std::string n;
    for (char ch : name) n += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    while (!n.empty() && n.back() == ' ') n.pop_back();
    while (!n.empty() && n.front() == ' ') n.erase(n.begin());
    std::string full = n.rfind("cap_", 0) == 0 ? n : "cap_" + n;
    cap_value_t v = 0;
    if (n.empty() || n == "cap_" || cap_from_name(full.c_str(), &v) != 0 || v < 0 || v > last_capability())
        return fail(Error(make_error_code(Errc::not_found), "parse capability \"" + std::string(name) + "\""));
    return static_cast<int>(v);
}

std::string capability_name(int cap) {
    char* s = cap_to_name(static_cast<cap_value_t>(cap));
    if (!s) return "cap_" + std::to_string(cap);
    std::string out(s);
    cap_free(s);
    return out;
}

Result<CapabilitySet> CapabilitySet::parse(std::string_view text) {
    CapabilitySet s;
    std::string_view rest = text;
    if (rest == "all" || rest == "ALL") return all();
    if (rest.empty()) return fail(Error(make_error_code(Errc::parse_error), "parse capability list \"\""));
    for (;;) {
        auto comma = rest.find(',');
        std::string_view item = rest.substr(0, comma);
        if (item == "all") {
            s |= all();
        } else {
            auto c = parse_capability(item);
            if (!c) return fail(c.error());
            s.set(*c);
        }
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
    }
    return s;
}

std::vector<int> CapabilitySet::caps() const {
    std::vector<int> out;
    for (int c = 0; c < 64; ++c)
        if (test(c)) out.push_back(c);
    return out;
}

std::string CapabilitySet::to_string() const {
    std::string out;
    for (int c : caps()) {
        if (!out.empty()) out += ',';
        out += capability_name(c);
    }
    return out;
}

}  // namespace prockit
