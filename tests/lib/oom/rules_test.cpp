// The rules file parser (errors with line and column, bad rules dropped, good ones kept), matching
// a process to a rule, and leader/child assignment over a process snapshot.
#include <prockit/oom/rules.hpp>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <fstream>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace prockit;
using namespace prockit::oom;

namespace {

std::vector<std::string> texts(const std::vector<Diagnostic>& d) {
    std::vector<std::string> out;
    for (const Diagnostic& x : d) out.push_back(x.text());
    return out;
}

ProcessFacts proc_of(pid_t pid, pid_t ppid, std::string comm, std::string exe = {}, std::string cmdline = {},
                     uid_t uid = 0, std::vector<std::string> cgroups = {}) {
    ProcessFacts f;
    f.pid = pid;
    f.ppid = ppid;
    f.start_time = static_cast<unsigned long long>(pid) * 10;
    f.comm = std::move(comm);
    f.exe = std::move(exe);
    f.cmdline = cmdline.empty() ? f.exe : std::move(cmdline);
    f.uid = uid;
    f.cgroups = std::move(cgroups);
    f.fields = ~0u;
    return f;
}

struct TempDir {
    fs::path path;
    TempDir() {
        char tmpl[] = "/tmp/prockit-rules-XXXXXX";
        path = ::mkdtemp(tmpl);
    }
    ~TempDir() { fs::remove_all(path); }
    std::string write(const std::string& rel, const std::string& text) const {
        fs::create_directories((path / rel).parent_path());
        std::ofstream(path / rel) << text;
        return (path / rel).string();
    }
};

}  // namespace

TEST(RulesParse, TheIssueExample) {
    RuleSet set;
    std::vector<Diagnostic> diags;
    set.parse("[postgres]\n"
              "match.exe = /usr/lib/postgresql/*/bin/postgres\n"
              "leader = -1000\n"
              "children = 0\n"
              "[batch]\n"
              "match.user = root\n"
              "adj = 800\n",
              "a.conf", diags);
    EXPECT_TRUE(diags.empty()) << texts(diags).front();
    ASSERT_EQ(set.size(), 2u);
    const Rule& pg = set.rules()[0];
    EXPECT_EQ(pg.name, "postgres");
    EXPECT_EQ(pg.file, "a.conf");
    EXPECT_EQ(pg.line, 1);
    EXPECT_EQ(pg.exes, std::vector<std::string>{"/usr/lib/postgresql/*/bin/postgres"});
    EXPECT_EQ(pg.leader, -1000);
    EXPECT_FALSE(pg.children.inherit);
    EXPECT_EQ(pg.children.value, 0);
    const Rule& batch = set.rules()[1];
    EXPECT_EQ(batch.users, std::vector<uid_t>{0});
    EXPECT_EQ(batch.leader, 800);
    EXPECT_FALSE(batch.children.inherit);
    EXPECT_EQ(batch.children.value, 800);  // adj = N gives every process of the rule N
}

TEST(RulesParse, ChildrenForms) {
    RuleSet set;
    std::vector<Diagnostic> diags;
    set.parse("[a]\nmatch.comm = a\nleader = 500\nchildren = reset\n"
              "[b]\nmatch.comm = b\nleader = 500\nchildren = inherit\n"
              "[c]\nmatch.comm = c\nleader = 500\n"
              "[d]\nmatch.comm = d\nleader = +5\nchildren = -3\n",
              "f", diags);
    ASSERT_TRUE(diags.empty()) << texts(diags).front();
    ASSERT_EQ(set.size(), 4u);
    EXPECT_FALSE(set.rules()[0].children.inherit);
    EXPECT_EQ(set.rules()[0].children.value, 0);
    EXPECT_TRUE(set.rules()[1].children.inherit);
    EXPECT_TRUE(set.rules()[2].children.inherit);  // leader alone leaves children alone
    EXPECT_EQ(set.rules()[3].leader, 5);
    EXPECT_EQ(set.rules()[3].children.value, -3);
}

TEST(RulesParse, CommentsBlanksAndCrlf) {
    RuleSet set;
    std::vector<Diagnostic> diags;
    set.parse("# a comment\r\n\r\n  ; another\r\n[x] # trailing comment\r\n  match.comm =  redis-server \r\nadj=900\r\n", "f",
              diags);
    ASSERT_TRUE(diags.empty()) << texts(diags).front();
    ASSERT_EQ(set.size(), 1u);
    EXPECT_EQ(set.rules()[0].comms, std::vector<std::string>{"redis-server"});
    EXPECT_EQ(set.rules()[0].leader, 900);
}

TEST(RulesParse, ErrorsNameLineAndColumn) {
    struct Case {
        const char* text;
        const char* diag;
    };
    const Case cases[] = {
        {"[a]\nmatch.comm = a\nadj = 1001\n", "f:3:7: value 1001 out of range (-1000 to 1000)"},
        {"[a]\nmatch.comm = a\nadj = -1001\n", "f:3:7: value -1001 out of range (-1000 to 1000)"},
        {"[a]\nmatch.comm = a\nadj = high\n", "f:3:7: expected a number from -1000 to 1000, not \"high\""},
        {"[a]\nmatch.comm = a\nadj = 99999999999999999999\n",
         "f:3:7: value \"99999999999999999999\" out of range (-1000 to 1000)"},
        {"[a]\nmatch.comm = a\nleader = 1\nchildren = sometimes\n",
         "f:4:12: expected a number from -1000 to 1000, not \"sometimes\" (or inherit, reset)"},
        {"[a]\n  match.cmdline = (unclosed\nadj = 1\n", "f:2:19: bad regular expression \"(unclosed\": "},
        {"[a]\nmatch.colour = red\nadj = 1\n", "f:2:1: unknown criterion \"match.colour\""},
        {"[a]\nmatch.comm = a\nscore = 1\n", "f:3:1: unknown key \"score\""},
        {"[a]\nmatch.comm = a\nadj 1\n", "f:3:1: expected key = value"},
        {"adj = 1\n", "f:1:1: \"adj\" outside a rule (start one with [name])"},
        {"[a\nmatch.comm = a\nadj = 1\n", "f:1:3: missing ']' after the rule name"},
        {"[]\nmatch.comm = a\nadj = 1\n", "f:1:2: empty rule name"},
        {"[a b]\nmatch.comm = a\nadj = 1\n", "f:1:2: bad rule name \"a b\""},
        {"[a]\nadj = 1\n", "f:1:1: rule [a] has no match.* criterion"},
        {"[a]\nmatch.comm = a\n", "f:1:1: rule [a] sets no value (adj, or leader and children)"},
        {"[a]\nmatch.comm = a\nchildren = 0\n", "f:3:1: rule [a] sets children but no leader"},
        {"[a]\nmatch.comm = a\nadj = 1\nleader = 2\n", "f:3:1: rule [a] sets adj together with leader/children"},
        {"[a]\nmatch.comm = a\nadj = 1\nadj = 2\n", "f:4:1: duplicate key adj"},
        {"[a]\nmatch.comm =\nadj = 1\n", "f:2:13: empty value for match.comm"},
        {"[a]\nmatch.exe = postgres\nadj = 1\n", "f:2:13: match.exe must be an absolute path or glob"},
        {"[a]\nmatch.user = no-such-user-prockit\nadj = 1\n", "f:2:14: unknown user \"no-such-user-prockit\""},
        {"[a]\nmatch.cgroup = system.slice\nadj = 1\n", "f:2:16: match.cgroup must start with '/'"},
        {"[a]\nmatch.pidfile = run/x.pid\nadj = 1\n", "f:2:17: match.pidfile must be an absolute path"},
        {"[a]\nmatch.unit = a/b\nadj = 1\n", "f:2:14: bad unit name \"a/b\""},
        {"[a] x\nmatch.comm = a\nadj = 1\n", "f:1:5: unexpected text after [a]"},
    };
    for (const Case& c : cases) {
        RuleSet set;
        std::vector<Diagnostic> diags;
        set.parse(c.text, "f", diags);
        ASSERT_FALSE(diags.empty()) << c.text;
        EXPECT_EQ(diags[0].text().rfind(c.diag, 0), 0u) << "got: " << diags[0].text() << "\nwant: " << c.diag;
        EXPECT_EQ(set.size(), 0u) << c.text;
    }
}

// An adj with a bad value still counts as given: the conflict with a later leader names the adj
// line, not line 0 (found by fuzzing: tests/fuzz/oom_rules).
TEST(RulesParse, AConflictWithABadAdjNamesItsLine) {
    RuleSet set;
    std::vector<Diagnostic> diags;
    set.parse("[a]\nmatch.comm = a\nadj = x\nleader = 2\n", "f", diags);
    ASSERT_EQ(diags.size(), 2u) << testing::PrintToString(texts(diags));
    EXPECT_EQ(diags[0].text().rfind("f:3:7: expected a number", 0), 0u) << diags[0].text();
    EXPECT_EQ(diags[1].text().rfind("f:3:1: rule [a] sets adj together with leader/children", 0), 0u) << diags[1].text();
    EXPECT_EQ(set.size(), 0u);
}

// A section whose [name] line is broken is reported once, at that line: its keys (a leader here)
// add no diagnostic of their own (found by fuzzing: tests/fuzz/oom_rules).
TEST(RulesParse, ABrokenSectionHeaderIsReportedOnce) {
    RuleSet set;
    std::vector<Diagnostic> diags;
    set.parse("[a\nmatch.comm = a\nleader = -3\n[b]\nmatch.comm = b\nadj = 1\n", "f", diags);
    ASSERT_EQ(diags.size(), 1u) << testing::PrintToString(texts(diags));
    EXPECT_EQ(diags[0].text().rfind("f:1:3: missing ']' after the rule name", 0), 0u) << diags[0].text();
    ASSERT_EQ(set.size(), 1u);
    EXPECT_EQ(set.rules()[0].name, "b");
}

TEST(RulesParse, ABadRuleIsDroppedAndTheGoodOnesLoad) {
    RuleSet set;
    std::vector<Diagnostic> diags;
    set.parse("[good1]\nmatch.comm = a\nadj = 100\n"
              "[bad]\nmatch.comm = b\nadj = 5000\n"
              "[good2]\nmatch.comm = c\nleader = 200\nchildren = reset\n",
              "f", diags);
    ASSERT_EQ(diags.size(), 1u);
    EXPECT_EQ(diags[0].line, 6);
    ASSERT_EQ(set.size(), 2u);
    EXPECT_EQ(set.rules()[0].name, "good1");
    EXPECT_EQ(set.rules()[1].name, "good2");
}

TEST(RulesParse, DuplicateNamesAcrossFiles) {
    RuleSet set;
    std::vector<Diagnostic> diags;
    set.parse("[a]\nmatch.comm = a\nadj = 1\n", "one", diags);
    set.parse("\n[a]\nmatch.comm = b\nadj = 2\n", "two", diags);
    ASSERT_EQ(diags.size(), 1u);
    EXPECT_EQ(diags[0].text(), "two:2:2: duplicate rule name [a]");
    ASSERT_EQ(set.size(), 1u);
    EXPECT_EQ(set.rules()[0].comms[0], "a");
}

TEST(RulesLoad, DefaultFilesInNameOrder) {
    TempDir t;
    t.write("etc/poomguard.conf", "[main]\nmatch.comm = m\nadj = 1\n");
    t.write("etc/poomguard.d/20-b.conf", "[b]\nmatch.comm = b\nadj = 2\n");
    t.write("etc/poomguard.d/10-a.conf", "[a]\nmatch.comm = a\nadj = 3\n");
    t.write("etc/poomguard.d/notes.txt", "not a rules file");
    FsRoot root(t.path.string());
    std::vector<std::string> files = default_rule_files(root);
    ASSERT_EQ(files.size(), 3u);
    EXPECT_EQ(files[0], (t.path / "etc/poomguard.conf").string());
    EXPECT_EQ(files[1], (t.path / "etc/poomguard.d/10-a.conf").string());
    EXPECT_EQ(files[2], (t.path / "etc/poomguard.d/20-b.conf").string());
    RuleSet set;
    std::vector<Diagnostic> diags;
    set.load(files, diags);
    EXPECT_TRUE(diags.empty());
    ASSERT_EQ(set.size(), 3u);
    EXPECT_EQ(set.rules()[0].name, "main");
    EXPECT_EQ(set.rules()[1].name, "a");
    EXPECT_EQ(set.rules()[2].name, "b");
}

TEST(RulesLoad, UnreadableFileIsOneDiagnostic) {
    TempDir t;
    std::string good = t.write("good.conf", "[a]\nmatch.comm = a\nadj = 1\n");
    RuleSet set;
    std::vector<Diagnostic> diags;
    set.load({(t.path / "missing.conf").string(), good}, diags);
    ASSERT_EQ(diags.size(), 1u);
    EXPECT_EQ(diags[0].line, 0);
    EXPECT_EQ(diags[0].text(), (t.path / "missing.conf").string() + ": cannot read: No such file or directory");
    EXPECT_EQ(set.size(), 1u);
}

TEST(RulesLoad, BinaryFileRefused) {
    TempDir t;
    std::string bin = t.path / "bin.conf";
    std::ofstream(bin) << std::string("[a]\0\0", 5);
    RuleSet set;
    std::vector<Diagnostic> diags;
    set.load({bin}, diags);
    ASSERT_EQ(diags.size(), 1u);
    EXPECT_EQ(diags[0].message, "cannot read: not a text file");
}

TEST(RulesMatch, EachCriterion) {
    RuleSet set;
    std::vector<Diagnostic> diags;
    set.parse("[exe]\nmatch.exe = /usr/lib/postgresql/*/bin/postgres\nadj = 1\n"
              "[comm]\nmatch.comm = redis-server\nadj = 2\n"
              "[cmd]\nmatch.cmdline = ^java .*-jar app[.]jar\nadj = 3\n"
              "[user]\nmatch.user = 0\nmatch.comm = rootonly\nadj = 4\n"
              "[cg]\nmatch.cgroup = /batch.slice/\nadj = 5\n"
              "[unit]\nmatch.unit = mariadb\nadj = 6\n"
              "[two]\nmatch.comm = x\nmatch.comm = y\nadj = 7\n",
              "f", diags);
    ASSERT_TRUE(diags.empty()) << texts(diags).front();
    ASSERT_EQ(set.size(), 7u);
    auto first = [&](const ProcessFacts& p) { return set.first_match(p).value_or(99); };
    EXPECT_EQ(first(proc_of(10, 1, "postgres", "/usr/lib/postgresql/15/bin/postgres")), 0u);
    EXPECT_EQ(first(proc_of(10, 1, "postgres", "/usr/lib/postgresql/15/bin/postgres (deleted)")), 0u);
    EXPECT_EQ(first(proc_of(10, 1, "postgres", "/usr/local/bin/postgres")), 99u);
    EXPECT_EQ(first(proc_of(11, 1, "redis-server", "/usr/bin/redis-server")), 1u);
    EXPECT_EQ(first(proc_of(12, 1, "java", "/usr/bin/java", "java -Xmx1g -jar app.jar")), 2u);
    EXPECT_EQ(first(proc_of(12, 1, "java", "/usr/bin/java", "java -jar other.jar")), 99u);
    EXPECT_EQ(first(proc_of(13, 1, "rootonly", "/x", "", 0)), 3u);
    EXPECT_EQ(first(proc_of(13, 1, "rootonly", "/x", "", 1000)), 99u);  // AND of kinds
    EXPECT_EQ(first(proc_of(14, 1, "job", "/x", "", 0, {"/batch.slice/j1.scope"})), 4u);
    EXPECT_EQ(first(proc_of(14, 1, "job", "/x", "", 0, {"/batch.slicex"})), 99u);
    EXPECT_EQ(first(proc_of(15, 1, "mariadbd", "/x", "", 0, {"/system.slice/mariadb.service"})), 5u);
    EXPECT_EQ(first(proc_of(16, 1, "x")), 6u);
    EXPECT_EQ(first(proc_of(16, 1, "y")), 6u);  // a repeated key lists alternatives
    EXPECT_EQ(set.needs() & (ProcessFacts::f_exe | ProcessFacts::f_cmdline | ProcessFacts::f_uid |
                             ProcessFacts::f_cgroups),
              unsigned(ProcessFacts::f_exe | ProcessFacts::f_cmdline | ProcessFacts::f_uid | ProcessFacts::f_cgroups));
}

TEST(RulesMatch, LongCommIsComparedAsTheKernelKeepsIt) {
    RuleSet set;
    std::vector<Diagnostic> diags;
    set.parse("[a]\nmatch.comm = a-very-long-process-name\nadj = 1\n", "f", diags);
    ASSERT_TRUE(diags.empty());
    EXPECT_TRUE(set.first_match(proc_of(5, 1, "a-very-long-pro")));
}

TEST(RulesMatch, Pidfile) {
    TempDir t;
    std::string pf = t.write("run/db.pid", std::to_string(4242) + "\n/var/lib/db\n");
    RuleSet set;
    std::vector<Diagnostic> diags;
    set.parse("[db]\nmatch.pidfile = " + pf + "\nleader = 100\nchildren = reset\n", "f", diags);
    ASSERT_TRUE(diags.empty());
    EXPECT_EQ(set.pidfile_pids(0), std::vector<pid_t>{4242});
    EXPECT_TRUE(set.first_match(proc_of(4242, 1, "db")));
    EXPECT_FALSE(set.first_match(proc_of(4243, 1, "db")));
    EXPECT_FALSE(set.refresh_pidfiles());
    t.write("run/db.pid", "4243\n");
    EXPECT_TRUE(set.refresh_pidfiles());
    EXPECT_TRUE(set.first_match(proc_of(4243, 1, "db")));
    t.write("run/db.pid", "garbage\n");
    EXPECT_TRUE(set.refresh_pidfiles());
    EXPECT_FALSE(set.first_match(proc_of(4243, 1, "db")));
}

TEST(RulesAssign, LeaderChildrenAndDescendants) {
    RuleSet set;
    std::vector<Diagnostic> diags;
    set.parse("[pg]\nmatch.comm = postgres\nleader = 500\nchildren = reset\n"
              "[sh]\nmatch.comm = bash\nleader = 300\n",
              "f", diags);
    ASSERT_TRUE(diags.empty());
    // 1 init ─┬─ 100 postgres ─┬─ 101 postgres ── 110 sh (an archive_command)
    //         │                └─ 102 postgres
    //         ├─ 200 bash ── 201 postgres (a second cluster started from a shell: bash's child)
    //         └─ 300 cron
    std::vector<ProcessFacts> snap = {
        proc_of(110, 101, "sh"),       proc_of(1, 0, "postgres"),  // PID 1 is nobody's ancestor here
        proc_of(100, 1, "postgres"),   proc_of(101, 100, "postgres"), proc_of(102, 100, "postgres"),
        proc_of(200, 1, "bash"),       proc_of(201, 200, "postgres"), proc_of(300, 1, "cron"),
    };
    std::vector<Assignment> a = assign(set, snap);
    std::map<pid_t, std::pair<std::size_t, Role>> got;
    for (const Assignment& x : a) got[x.pid] = {x.rule, x.role};
    ASSERT_EQ(got.size(), 7u);  // all but cron
    EXPECT_EQ(got[1], std::make_pair(std::size_t{0}, Role::leader));
    EXPECT_EQ(got[100], std::make_pair(std::size_t{0}, Role::leader));
    EXPECT_EQ(got[101], std::make_pair(std::size_t{0}, Role::child));
    EXPECT_EQ(got[102], std::make_pair(std::size_t{0}, Role::child));
    EXPECT_EQ(got[110], std::make_pair(std::size_t{0}, Role::child));  // a descendant, not a match
    EXPECT_EQ(got[200], std::make_pair(std::size_t{1}, Role::leader));
    // 201 matches pg as its own leader, but the first rule giving it a role wins: pg comes first.
    EXPECT_EQ(got[201], std::make_pair(std::size_t{0}, Role::leader));
    EXPECT_FALSE(got.count(300));
    for (const Assignment& x : a) {
        if (x.pid == 100) {
            EXPECT_EQ(x.target(), 500);
        } else if (x.pid == 101) {
            EXPECT_EQ(x.target(), 0);
        } else if (x.pid == 200) {
            EXPECT_EQ(x.target(), 300);
        }
    }
}

TEST(RulesAssign, InheritChildrenHaveNoTarget) {
    RuleSet set;
    std::vector<Diagnostic> diags;
    set.parse("[a]\nmatch.comm = a\nleader = 500\nchildren = inherit\n", "f", diags);
    std::vector<Assignment> a = assign(set, {proc_of(10, 1, "a"), proc_of(11, 10, "a")});
    ASSERT_EQ(a.size(), 2u);
    EXPECT_EQ(a[0].target(), 500);
    EXPECT_EQ(a[1].target(), std::nullopt);
}

TEST(RulesAssign, RealProcessesOfThisMachine) {
    // This test process, matched by PID file, is a leader; read_facts and snapshot see /proc.
    TempDir t;
    std::string pf = t.write("self.pid", std::to_string(::getpid()) + "\n");
    RuleSet set;
    std::vector<Diagnostic> diags;
    set.parse("[me]\nmatch.pidfile = " + pf + "\nmatch.user = " + std::to_string(::geteuid()) + "\nadj = 1\n", "f",
              diags);
    ASSERT_TRUE(diags.empty());
    proc::ProcReader r;
    auto self = read_facts(r, ::getpid(), set.needs());
    ASSERT_TRUE(self);
    EXPECT_EQ(self->ppid, ::getppid());
    EXPECT_EQ(self->uid, ::geteuid());
    auto snap = snapshot(set, r);
    ASSERT_TRUE(snap) << snap.error().message();
    std::vector<Assignment> a = assign(set, *snap);
    ASSERT_EQ(a.size(), 1u);
    EXPECT_EQ(a[0].pid, ::getpid());
    EXPECT_EQ(a[0].role, Role::leader);
}
