// prockit/sys/fsroot.hpp — the one accessor for /proc and /sys, with an overridable root so
// tests (and `--root` style debugging) can point prockit at a fixture tree.
#pragma once

#include <prockit/sys/result.hpp>

#include <string>
#include <string_view>
#include <sys/types.h>

namespace prockit {

class FsRoot {
public:
    /// The real machine: "/proc/..." and "/sys/...".
    FsRoot() = default;
    /// A fixture tree: "<root>/proc/..." and "<root>/sys/...". An empty root is the real machine.
    explicit FsRoot(std::string root);

    /// The process-wide default. It is the real machine unless the environment variable
    /// PROCKIT_FSROOT names a directory at the first call (used by the tools' fixture tests).
    static const FsRoot& system();

    const std::string& root() const noexcept { return root_; }
    bool is_real() const noexcept { return root_.empty(); }

    std::string proc(std::string_view rel) const;            ///< proc("self/stat") → "/proc/self/stat"
    std::string proc_pid(pid_t pid, std::string_view rel) const;  ///< "/proc/<pid>/<rel>"
    std::string sys(std::string_view rel) const;             ///< sys("devices/system/cpu")

    Result<std::string> read_proc(std::string_view rel) const;
    Result<std::string> read_sys(std::string_view rel) const;

private:
    std::string root_;
};

}  // namespace prockit
