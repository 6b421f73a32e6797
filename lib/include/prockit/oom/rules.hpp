// prockit/oom/rules.hpp — poomguard's rules: which processes get which oom_score_adj. The rules
// file format (poomguard.conf(5)), its parser (every error with file, line and column; a bad rule
// is dropped, the good ones still load), matching a process to a rule, and the roles of a rule's
// processes (leader or child).
//
//   [postgres]                                   # a rule; its name is unique
//   match.exe = /usr/lib/postgresql/*/bin/postgres
//   leader = -900                                # the process that matches first
//   children = reset                             # its descendants: a value, inherit, or reset (0)
//
// Criteria of different kinds must all hold (AND); a key given several times lists alternatives
// (OR). `adj = N` is `leader = N` + `children = N`; `leader` alone leaves children as they are.
#pragma once

#include <prockit/proc/procfs.hpp>
#include <prockit/sys/fsroot.hpp>
#include <prockit/sys/result.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace prockit::oom {

/// A problem found while reading rules: "file:line:col: message". Line and column count from 1;
/// both are 0 when the problem is the file itself (unreadable).
struct Diagnostic {
    std::string file;
    int line = 0;
    int column = 0;
    std::string message;
    std::string text() const;
};

/// What a rule does to the children of its leader.
struct ChildrenAdj {
    bool inherit = true;  ///< leave them alone (the kernel copies the parent's value at fork)
    int value = 0;        ///< when !inherit ("reset" is 0)
};

/// One parsed rule. Its match criteria are compiled by RuleSet.
struct Rule {
    std::string name;
    std::string file;  ///< where it was defined
    int line = 0;      ///< the line of its [name] header
    std::vector<std::string> exes;      ///< glob (fnmatch) on /proc/PID/exe
    std::vector<std::string> comms;     ///< comm equals (first 15 characters)
    std::vector<std::string> cmdlines;  ///< POSIX extended regex searched in the command line
    std::vector<uid_t> users;           ///< effective UID (names resolved when parsed)
    std::vector<std::string> cgroups;   ///< cgroup path (as /proc/PID/cgroup shows it) or below
    std::vector<std::string> units;     ///< systemd unit: a cgroup path component equals it
    std::vector<std::string> pidfiles;  ///< the PID written in the file
    std::vector<pid_t> pids;            ///< exactly these processes (rules built in code only:
                                        ///< `poomguard set --follow`; not in the file format)
    int leader = 0;
    ChildrenAdj children;
};

/// The facts of one process that rules look at. `fields` says which are filled in.
struct ProcessFacts {
    enum Field : unsigned {
        f_comm = 1, f_exe = 2, f_cmdline = 4, f_uid = 8, f_cgroups = 16,
    };
    pid_t pid = 0;
    pid_t ppid = 0;
    unsigned long long start_time = 0;
    std::string comm;
    std::string exe;
    std::string cmdline;  ///< arguments joined by blanks
    uid_t uid = 0;
    std::vector<std::string> cgroups;  ///< the paths of /proc/PID/cgroup, every hierarchy
    unsigned fields = 0;
};

/// Reads the stat line (pid, ppid, start time, comm) and the fields in `need` of one process.
/// ESRCH/ENOENT when it is gone; a field the process does not let us read (exe of another user's
/// process without privilege) is left empty.
Result<ProcessFacts> read_facts(proc::ProcReader& r, pid_t pid, unsigned need);

/// A process's place in a rule.
enum class Role { leader, child };

/// A validated, compiled set of rules, in the order they were read (the first rule that covers a
/// process wins).
class RuleSet {
public:
    RuleSet();
    RuleSet(RuleSet&&) noexcept;
    RuleSet& operator=(RuleSet&&) noexcept;
    ~RuleSet();

    /// Parses one file's text. Rules with an error are left out and reported in `diags`; the
    /// others are added. A rule name already in the set is an error.
    void parse(std::string_view text, const std::string& file, std::vector<Diagnostic>& diags);
    /// Reads and parses files in order; an unreadable file is one diagnostic (line 0).
    void load(const std::vector<std::string>& files, std::vector<Diagnostic>& diags);
    /// Adds a rule built in code (e.g. `poomguard set --follow`). Its regexes must compile:
    /// Errc::parse_error otherwise.
    Status add(Rule rule);

    const std::vector<Rule>& rules() const;
    std::size_t size() const { return rules().size(); }
    bool empty() const { return rules().empty(); }
    /// The ProcessFacts fields the rules look at.
    unsigned needs() const;

    /// Whether process `p` matches rule `i` itself (its criteria, not its ancestry). The pidfile
    /// criterion compares with the PIDs read by the last refresh_pidfiles().
    bool matches(std::size_t i, const ProcessFacts& p) const;
    /// Whether every rule has a match.exe criterion: then an executable no rule's glob matches
    /// rules a process out without reading anything else (what the watch loop checks first).
    bool every_rule_matches_exe() const;
    /// Whether some rule's match.exe glob matches `exe` (" (deleted)" ignored).
    bool some_exe_glob_matches(const std::string& exe) const;
    /// The first rule `p` matches, if any.
    std::optional<std::size_t> first_match(const ProcessFacts& p) const;

    /// Re-reads every rule's pidfiles (an unreadable or malformed file names no PID). True when a
    /// PID changed since the last call. Done once when the set is parsed.
    bool refresh_pidfiles();
    /// The PIDs the pidfiles of rule `i` named at the last refresh.
    const std::vector<pid_t>& pidfile_pids(std::size_t i) const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/// The rules files poomguard reads by default: /etc/poomguard.conf (when present) then
/// /etc/poomguard.d/*.conf in name order, under the FsRoot's root.
std::vector<std::string> default_rule_files(const FsRoot& fs = FsRoot::system());

/// Which rule covers which process, and as what, over a snapshot of processes.
struct Assignment {
    pid_t pid = 0;
    unsigned long long start_time = 0;
    std::string comm;
    std::size_t rule = 0;
    Role role = Role::leader;
    /// The value the rule gives this process; nullopt for a child whose rule says inherit.
    std::optional<int> target() const;
    const RuleSet* set = nullptr;
};

/// Assigns rules over a snapshot (any order; parents need not precede children). A process is a
/// rule's leader when it matches the rule and no ancestor does (PID 1 counts as nobody's
/// ancestor); it is the rule's child when an ancestor matches the rule, whether or not it matches
/// itself. The first rule in the set that gives a process a role wins. Uncovered processes are
/// not in the result.
std::vector<Assignment> assign(const RuleSet& rules, const std::vector<ProcessFacts>& snapshot);

/// Reads every process of /proc (through the reader's FsRoot) with the fields the rules need. A
/// process that ends meanwhile, or a file of it this user may not read, is simply left out; what
/// stops the reading itself (no /proc, no descriptor or memory left) is the error, so that a scan
/// never passes for complete when it is not.
Result<std::vector<ProcessFacts>> snapshot(const RuleSet& rules, proc::ProcReader& r);

}  // namespace prockit::oom
