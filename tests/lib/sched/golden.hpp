// Golden-file support for parser tests: compare generated text with a checked-in file, or rewrite
// the file when PROCKIT_UPDATE_GOLDEN=1 (then review the diff like any other change).
#pragma once

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace golden {

inline std::string source_dir() {
    const char* s = std::getenv("PROCKIT_SOURCE_DIR");
    return s && *s ? s : PROCKIT_SOURCE_DIR_FALLBACK;
}

inline std::string read(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

/// Returns "" when `actual` equals the golden file (or it was rewritten), else a message.
inline std::string compare(const std::string& path, const std::string& actual) {
    const char* update = std::getenv("PROCKIT_UPDATE_GOLDEN");
    if (update && std::string(update) == "1") {
        std::ofstream(path, std::ios::binary) << actual;
        return "";
    }
    std::string expected = read(path);
    if (expected == actual) return "";
    // First differing line, for a readable failure.
    std::istringstream a(actual), e(expected);
    std::string la, le;
    int n = 0;
    while (true) {
        ++n;
        bool ga = static_cast<bool>(std::getline(a, la)), ge = static_cast<bool>(std::getline(e, le));
        if (!ga && !ge) break;
        if (la != le || ga != ge)
            return path + " differs at line " + std::to_string(n) + ":\n  expected: " + (ge ? le : "<eof>") +
                   "\n  actual:   " + (ga ? la : "<eof>") + "\n(PROCKIT_UPDATE_GOLDEN=1 rewrites it)";
    }
    return path + " differs";
}

}  // namespace golden
