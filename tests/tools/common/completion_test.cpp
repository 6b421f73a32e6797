// The completions in completions/ are what prockit-completions writes from the tools' command
// lines (a test fails when they drift), and they work: bash's are driven as bash-completion
// drives them (COMP_WORDS/COMP_CWORD, then COMPREPLY is read); zsh's and fish's are parsed by
// their shells.
#include "common/completion.hpp"
#include "tools/pjobs/pjobs_support.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

std::string source_dir() {
    const char* s = std::getenv("PROCKIT_SOURCE_DIR");
    return s && *s ? s : PROCKIT_SOURCE_DIR_PATH;
}

std::string read_text(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

struct ShellRun {
    int status = -1;
    std::string out;
};

ShellRun run(const std::string& cmd) {
    ShellRun r;
    if (FILE* p = popen(cmd.c_str(), "r")) {
        char buf[4096];
        for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) r.out.append(buf, n);
        r.status = pclose(p);
    }
    return r;
}

std::string quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

struct Scratch {
    std::string path;
    Scratch() {
        char t[] = "/tmp/prockit-completions-XXXXXX";
        path = mkdtemp(t);
    }
    ~Scratch() { (void)!std::system(("rm -rf " + quote(path)).c_str()); }
};

const char* const kFiles[] = {"bash/prun",      "zsh/_prun",      "fish/prun.fish",      "bash/paffinity",
                              "zsh/_paffinity", "fish/paffinity.fish", "bash/poomguard", "zsh/_poomguard",
                              "fish/poomguard.fish", "bash/pjobs",     "zsh/_pjobs",     "fish/pjobs.fish"};

TEST(Completions, CheckedInFilesAreWhatTheCommandLinesGive) {
    Scratch d;
    ASSERT_EQ(run(std::string(PROCKIT_COMPLETIONS_GEN) + " " + quote(d.path)).status, 0);
    for (const char* f : kFiles) {
        std::string want = read_text(d.path + "/" + f);
        ASSERT_FALSE(want.empty()) << f;
        EXPECT_EQ(read_text(source_dir() + "/completions/" + f), want)
            << "completions/" << f << " drifted from the tool's command line: run "
            << "`cmake --build build --target update-completions` and commit the result";
    }
}

const char* const kBashCompletion = "/usr/share/bash-completion/bash_completion";

/// What bash completes for `words` (the last one being completed), with bash-completion loaded
/// when it is installed; `setup` runs first (exports), `file` is the completion file (default: the
/// tool's in completions/bash).
std::vector<std::string> bash_complete(const std::string& tool, const std::vector<std::string>& words,
                                       const std::string& setup = {}, std::string file = {}) {
    if (file.empty()) file = source_dir() + "/completions/bash/" + tool;
    std::string script = setup + "\n";
    if (access(kBashCompletion, R_OK) == 0) script += std::string("source ") + kBashCompletion + "\n";
    script += "source " + quote(file) + "\nCOMP_WORDS=(";
    for (const auto& w : words) script += quote(w) + " ";
    script += ")\nCOMP_CWORD=$((${#COMP_WORDS[@]} - 1))\nCOMP_LINE=\"${COMP_WORDS[*]}\"\nCOMP_POINT=${#COMP_LINE}\n";
    script += "_" + tool + "\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n";
    ShellRun r = run("bash -c " + quote(script) + " 2>&1");
    std::vector<std::string> out;
    std::istringstream in(r.out);
    for (std::string line; std::getline(in, line);)
        if (!line.empty()) out.push_back(line);
    return out;
}

bool has(const std::vector<std::string>& v, const std::string& word) {
    return std::find(v.begin(), v.end(), word) != v.end();
}

TEST(Completions, BashCompletesPrunOptionsValuesAndCommands) {
    auto r = bash_complete("prun", {"prun", "--time"});
    EXPECT_EQ(r, std::vector<std::string>{"--timeout"});
    r = bash_complete("prun", {"prun", "-"});
    EXPECT_TRUE(has(r, "-V") && has(r, "--version") && has(r, "--jobs") && has(r, "--retries")) << r.size();
    r = bash_complete("prun", {"prun", "--restart", ""});
    EXPECT_EQ(r, (std::vector<std::string>{"no", "on-failure", "always"}));
    r = bash_complete("prun", {"prun", "--rlimit", "nof"});
    EXPECT_EQ(r, std::vector<std::string>{"nofile="});
    r = bash_complete("prun", {"prun", "--drop-caps", "net_r"});
    EXPECT_EQ(r, std::vector<std::string>{"net_raw"});
    r = bash_complete("prun", {"prun", "--nice", ""});
    EXPECT_TRUE(r.empty()) << "a number has no completion";
    // Command names: after "--", and at the first word that is no option nor an option's value.
    r = bash_complete("prun", {"prun", "--", "gre"});
    EXPECT_TRUE(has(r, "grep")) << r.size();
    r = bash_complete("prun", {"prun", "--nice", "5", "-j", "2", "gre"});
    EXPECT_TRUE(has(r, "grep")) << r.size();
    // After the command, options are the command's, not prun's.
    r = bash_complete("prun", {"prun", "--", "ls", "--time"});
    EXPECT_FALSE(has(r, "--timeout"));
    if (access(kBashCompletion, R_OK) == 0) {
        // bash-completion's _command_offset hands over to the command's own completion.
        r = bash_complete("prun", {"prun", "--nice", "5", "--", "grep", "--colo"});
        EXPECT_TRUE(has(r, "--color")) << r.size();
    }
    // After an input source: files.
    Scratch d;
    std::ofstream(d.path + "/input-file") << "x\n";
    r = bash_complete("prun", {"prun", "echo", ":::", "a", "::::", d.path + "/inp"});
    EXPECT_EQ(r, std::vector<std::string>{d.path + "/input-file"});
}

TEST(Completions, BashCompletesPaffinitySubcommandsAndCommands) {
    auto r = bash_complete("paffinity", {"paffinity", "topo"});
    EXPECT_EQ(r, std::vector<std::string>{"topology"});
    r = bash_complete("paffinity", {"paffinity", "topology", "--j"});
    EXPECT_EQ(r, std::vector<std::string>{"--json"});
    r = bash_complete("paffinity", {"paffinity", "--cpus", "0", "--", "gre"});
    EXPECT_TRUE(has(r, "grep")) << r.size();
    r = bash_complete("paffinity", {"paffinity", "--pid", std::to_string(getpid()).substr(0, 1)});
    EXPECT_FALSE(r.empty()) << "process IDs";
}

TEST(Completions, ZshAndFishParseThem) {
    bool any = false;
    for (const char* shell : {"zsh", "fish"}) {
        if (run(std::string("command -v ") + shell + " >/dev/null 2>&1").status != 0) continue;
        any = true;
        for (const char* f : kFiles) {
            std::string file = f;
            if (file.rfind(shell, 0) != 0) continue;
            ShellRun r = run(std::string(shell) + " -n " + quote(source_dir() + "/completions/" + file) + " 2>&1");
            EXPECT_EQ(r.status, 0) << file << ": " << r.out;
        }
    }
    if (!any) GTEST_SKIP() << "neither zsh nor fish is installed (Debian packages zsh, fish)";
}

}  // namespace

namespace {
std::vector<std::string> fish_complete_with(const std::string& tool, const std::string& line, const std::string& setup);
/// The candidates fish offers for `line` (first column of `complete -C`).
std::vector<std::string> fish_complete(const std::string& tool, const std::string& line) {
    return fish_complete_with(tool, line, "");
}
std::vector<std::string> fish_complete_with(const std::string& tool, const std::string& line, const std::string& setup) {
    std::string script = (setup.empty() ? "" : setup + "; ") + "source " + quote(source_dir() + "/completions/fish/" + tool + ".fish") +
                         "; complete -C " + quote(line);
    ShellRun r = run("fish -c " + quote(script) + " 2>&1");
    std::vector<std::string> out;
    std::istringstream in(r.out);
    for (std::string l; std::getline(in, l);) out.push_back(l.substr(0, l.find('\t')));
    return out;
}
}  // namespace

TEST(Completions, FishCompletesPrunOptionsValuesAndCommands) {
    if (run("command -v fish >/dev/null 2>&1").status != 0) GTEST_SKIP() << "fish is not installed (Debian package fish)";
    EXPECT_EQ(fish_complete("prun", "prun --restart "), (std::vector<std::string>{"always", "no", "on-failure"}));
    EXPECT_EQ(fish_complete("prun", "prun --time"), std::vector<std::string>{"--timeout"});
    EXPECT_TRUE(has(fish_complete("prun", "prun --nice 5 gre"), "grep"));
    EXPECT_TRUE(has(fish_complete("prun", "prun -- gre"), "grep"));
    EXPECT_FALSE(has(fish_complete("prun", "prun -- ls --time"), "--timeout")) << "the command's options, not prun's";
    EXPECT_EQ(fish_complete("paffinity", "paffinity topo"), std::vector<std::string>{"topology"});
    EXPECT_EQ(fish_complete("paffinity", "paffinity topology --j"), std::vector<std::string>{"--json"});
}

namespace {

/// The online CPUs as the completions offer them: each one, then the whole list.
std::vector<std::string> online_cpu_words() {
    std::string online = read_text("/sys/devices/system/cpu/online");
    while (!online.empty() && (online.back() == '\n' || online.back() == ' ')) online.pop_back();
    std::vector<std::string> out;
    std::istringstream in(online);
    for (std::string r; std::getline(in, r, ',');) {
        auto dash = r.find('-');
        int a = std::stoi(r.substr(0, dash)), b = dash == std::string::npos ? a : std::stoi(r.substr(dash + 1));
        for (int c = a; c <= b; ++c) out.push_back(std::to_string(c));
    }
    out.push_back(online);
    return out;
}

bool has_all(const std::vector<std::string>& got, const std::vector<std::string>& want) {
    return std::all_of(want.begin(), want.end(), [&](const std::string& w) { return has(got, w); });
}

std::string build_dir() {
    const char* b = std::getenv("PROCKIT_BUILD_DIR");
    return b && *b ? b : PROCKIT_BUILD_DIR_PATH;
}

/// Shell text that puts the built tools first on PATH, with pjobs' directories in `pj`.
std::string tools_env(const prockit::test::Pjobs& pj) {
    return "export PATH=" + quote(build_dir() + "/tools/pjobs:" + build_dir() + "/tools/poomguard") + ":$PATH" +
           " XDG_RUNTIME_DIR=" + quote(pj.runtime()) + " XDG_STATE_HOME=" + quote(pj.state());
}

std::string own_pid_prefix() { return std::to_string(getpid()); }

}  // namespace

TEST(Completions, BashCompletesOnlineCpusInEveryTool) {
    auto cpus = online_cpu_words();
    auto r = bash_complete("paffinity", {"paffinity", "--cpus", ""});
    EXPECT_EQ(r, cpus);
    EXPECT_EQ(bash_complete("paffinity", {"paffinity", "--set", ""}), cpus);
    EXPECT_EQ(bash_complete("prun", {"prun", "--cpus", ""}), cpus);
    EXPECT_EQ(bash_complete("pjobs", {"pjobs", "run", "--cpus", ""}), cpus);
    // After a comma: the list goes on.
    r = bash_complete("paffinity", {"paffinity", "--cpus", "0,"});
    EXPECT_TRUE(has(r, "0,0")) << r.size();
    EXPECT_FALSE(has(r, "0")) << "only the list's next element";
    // The numbers themselves.
    r = bash_complete("prun", {"prun", "--cpus", cpus.front()});
    EXPECT_TRUE(has(r, cpus.front()));
    // --cpus=LIST: bash makes "=" a word of its own.
    EXPECT_EQ(bash_complete("prun", {"prun", "--cpus", "=", ""}), cpus);
    EXPECT_EQ(bash_complete("prun", {"prun", "--cpus", "="}), cpus);
    EXPECT_TRUE(has(bash_complete("paffinity", {"paffinity", "--cpus", "=", "0", "--", "gre"}), "grep"));
    EXPECT_FALSE(has(bash_complete("paffinity", {"paffinity", "--cpus", "=", "0", "gre"}), "grep"));
}

TEST(Completions, BashCompletesPidsSignalsAndNamedValues) {
    std::string me = own_pid_prefix();
    EXPECT_TRUE(has(bash_complete("poomguard", {"poomguard", "show", "--pid", me}), me));
    EXPECT_TRUE(has(bash_complete("poomguard", {"poomguard", "show", me}), me));
    EXPECT_TRUE(has(bash_complete("paffinity", {"paffinity", me}), me));
    // Signal names: pjobs kill -s, and where a signal goes in prun's SIG,MS,SIG sequence.
    EXPECT_EQ(bash_complete("pjobs", {"pjobs", "kill", "-s", "TE"}), std::vector<std::string>{"TERM"});
    EXPECT_EQ(bash_complete("pjobs", {"pjobs", "kill", "--signal", "KI"}), std::vector<std::string>{"KILL"});
    EXPECT_EQ(bash_complete("prun", {"prun", "--term-seq", "INT,200,KI"}), std::vector<std::string>{"INT,200,KILL"});
    EXPECT_TRUE(bash_complete("prun", {"prun", "--term-seq", "INT,"}).empty()) << "milliseconds go there";
    EXPECT_TRUE(has(bash_complete("prun", {"prun", "--term-seq", ""}), "TERM"));
    // rlimits, capabilities, seccomp profiles, choices.
    EXPECT_EQ(bash_complete("prun", {"prun", "--rlimit", "nof"}), std::vector<std::string>{"nofile="});
    EXPECT_EQ(bash_complete("prun", {"prun", "--keep-caps", "sys_ad"}), std::vector<std::string>{"sys_admin"});
    auto r = bash_complete("prun", {"prun", "--seccomp", ""});
    EXPECT_FALSE(r.empty()) << "seccomp profile names";
    EXPECT_EQ(bash_complete("pjobs", {"pjobs", "server", ""}), (std::vector<std::string>{"status", "stop", "run"}));
    EXPECT_EQ(bash_complete("prun", {"prun", "--joblog-format", "j"}), std::vector<std::string>{"jsonl"});
    // Numbers and durations: nothing.
    EXPECT_TRUE(bash_complete("poomguard", {"poomguard", "top", "--interval", ""}).empty());
    EXPECT_TRUE(bash_complete("pjobs", {"pjobs", "logs", "--tail", ""}).empty());
    // A subcommand's options are its own.
    EXPECT_EQ(bash_complete("poomguard", {"poomguard", "check-config", "--l"}), std::vector<std::string>{"--list-rules"});
    EXPECT_EQ(bash_complete("pjobs", {"pjobs", "list", "--sp"}), std::vector<std::string>{"--specs"});
}

TEST(Completions, BashCommandStartsOnlyWhereASubcommandRunsOne) {
    // poomguard: only `run ADJ -- CMD`.
    auto r = bash_complete("poomguard", {"poomguard", "set", "500", "gre"});
    EXPECT_FALSE(has(r, "grep")) << "set takes PIDs after ADJ, no command";
    EXPECT_TRUE(bash_complete("poomguard", {"poomguard", "set", ""}).empty()) << "ADJ: a number";
    EXPECT_TRUE(has(bash_complete("poomguard", {"poomguard", "set", "-500", own_pid_prefix()}), own_pid_prefix()))
        << "a negative ADJ is the positional, PIDs follow";
    EXPECT_FALSE(has(bash_complete("poomguard", {"poomguard", "show", "gre"}), "grep"));
    EXPECT_FALSE(has(bash_complete("poomguard", {"poomguard", "set", "500", "--", "gre"}), "grep"));
    EXPECT_FALSE(has(bash_complete("poomguard", {"poomguard", "run", "500", "gre"}), "grep")) << "only after --";
    EXPECT_TRUE(has(bash_complete("poomguard", {"poomguard", "run", "500", "--", "gre"}), "grep"));
    EXPECT_TRUE(has(bash_complete("poomguard", {"poomguard", "run", "-500", "--", "gre"}), "grep"));
    // pjobs: run's command after -- or as its first word; no other subcommand takes one.
    EXPECT_TRUE(has(bash_complete("pjobs", {"pjobs", "run", "--", "gre"}), "grep"));
    EXPECT_TRUE(has(bash_complete("pjobs", {"pjobs", "run", "--name", "x", "gre"}), "grep"));
    EXPECT_FALSE(has(bash_complete("pjobs", {"pjobs", "run", "--name", "gre"}), "grep")) << "--name's value";
    EXPECT_FALSE(has(bash_complete("pjobs", {"pjobs", "kill", "gre"}), "grep"));
    EXPECT_FALSE(has(bash_complete("pjobs", {"pjobs", "group", "gre"}), "grep"));
    EXPECT_EQ(bash_complete("pjobs", {"pjobs", "ki"}), std::vector<std::string>{"kill"});
    // paffinity: after -- at the top level; topology takes none.
    EXPECT_TRUE(has(bash_complete("paffinity", {"paffinity", "--cpus", "0", "--", "gre"}), "grep"));
    EXPECT_FALSE(has(bash_complete("paffinity", {"paffinity", "gre"}), "grep"));
    EXPECT_FALSE(has(bash_complete("paffinity", {"paffinity", "topology", "gre"}), "grep"));
    EXPECT_TRUE(bash_complete("paffinity", {"paffinity", "topology", ""}).empty());
    // prun: at its first word (tested above) and after --.
    EXPECT_TRUE(has(bash_complete("prun", {"prun", "--cpus", "0", "gre"}), "grep"));
}

TEST(Completions, PjobsSpecsCompleteTheRunningServersJobsAndStartNone) {
    prockit::test::Pjobs pj;
    // No server: nothing, and completing starts none.
    EXPECT_TRUE(bash_complete("pjobs", {"pjobs", "kill", ""}, tools_env(pj)).empty());
    auto r = pj({"list", "--specs"});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(pj.server_pid(), 0) << "asking for job specs started a server";
    ASSERT_EQ(pj({"run", "--name", "web", "--no-tty", "--", "sleep", "60"}).code, 0);
    ASSERT_EQ(pj({"run", "--no-tty", "--", "sleep", "60"}).code, 0);
    r = pj({"list", "--specs"});
    EXPECT_EQ(r.out, "%1\n%web\n%2\n");
    for (const char* sub : {"kill", "stop", "bg", "fg", "wait", "logs", "rm"}) {
        auto got = bash_complete("pjobs", {"pjobs", sub, ""}, tools_env(pj));
        EXPECT_EQ(got, (std::vector<std::string>{"%1", "%web", "%2"})) << sub;
    }
    EXPECT_EQ(bash_complete("pjobs", {"pjobs", "kill", "-s", "KILL", "%w"}, tools_env(pj)),
              std::vector<std::string>{"%web"});
    EXPECT_EQ(bash_complete("pjobs", {"pjobs", "run", "--after", "%w"}, tools_env(pj)), std::vector<std::string>{"%web"});
    if (run("command -v fish >/dev/null 2>&1").status == 0) {
        auto f = fish_complete_with("pjobs", "pjobs kill %", tools_env(pj) + "; set -x PATH $PATH");
        std::sort(f.begin(), f.end());
        EXPECT_EQ(f, (std::vector<std::string>{"%1", "%2", "%web"}));
    }
}

TEST(Completions, PoomguardListsRuleNamesAndTheCompletionsOfferThem) {
    prockit::test::TempDir d;
    std::ofstream(d / "a.conf") << "[web]\nmatch.comm = nginx\nleader = -500\n\n[db]\nmatch.comm = postgres\nleader = -900\n";
    auto r = prockit::test::run_program(build_dir() + "/tools/poomguard/poomguard",
                                        {"check-config", "--list-rules", d / "a.conf"});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, "web\ndb\n");
    // A RULE value calls it: here with a stand-in poomguard that prints two names.
    CLI::App app("test", "tool");
    std::string rule;
    app.add_option("--rule", rule, "A rule")->type_name("RULE");
    std::ofstream(d / "tool") << prockit::tools::bash_completion({"tool", &app, {}, {}});
    std::ofstream(d / "poomguard") << "#!/bin/sh\n[ \"$*\" = \"check-config --list-rules\" ] && printf 'web\\nweb2\\ndb\\n'\n";
    ASSERT_EQ(chmod((d / "poomguard").c_str(), 0755), 0);
    EXPECT_EQ(bash_complete("tool", {"tool", "--rule", "we"}, "export PATH=" + quote(d.path) + ":$PATH", d / "tool"),
              (std::vector<std::string>{"web", "web2"}));
}

TEST(Completions, FishCompletesValuesPerSubcommand) {
    if (run("command -v fish >/dev/null 2>&1").status != 0) GTEST_SKIP() << "fish is not installed (Debian package fish)";
    auto cpus = online_cpu_words();
    auto f = fish_complete("paffinity", "paffinity --cpus ");
    EXPECT_TRUE(has_all(f, cpus)) << f.size();
    EXPECT_TRUE(has_all(fish_complete("pjobs", "pjobs run --cpus "), cpus));
    EXPECT_TRUE(has(fish_complete("prun", "prun --cpus 0,"), "0,0"));
    EXPECT_EQ(fish_complete("pjobs", "pjobs kill -s TE"), std::vector<std::string>{"TERM"});
    EXPECT_EQ(fish_complete("prun", "prun --term-seq INT,200,KI"), std::vector<std::string>{"INT,200,KILL"});
    EXPECT_TRUE(fish_complete("prun", "prun --term-seq INT,").empty());
    EXPECT_EQ(fish_complete("prun", "prun --rlimit nof"), std::vector<std::string>{"nofile="});
    EXPECT_EQ(fish_complete("pjobs", "pjobs server s"), (std::vector<std::string>{"status", "stop"}));
    EXPECT_EQ(fish_complete("poomguard", "poomguard check-config --l"), std::vector<std::string>{"--list-rules"});
    std::string me = own_pid_prefix();
    EXPECT_TRUE(has(fish_complete("poomguard", "poomguard set 500 " + me), me));
    EXPECT_TRUE(fish_complete("poomguard", "poomguard set ").empty()) << "ADJ: a number";
    // Command start per subcommand.
    EXPECT_FALSE(has(fish_complete("poomguard", "poomguard set 500 gre"), "grep"));
    EXPECT_FALSE(has(fish_complete("poomguard", "poomguard run 500 gre"), "grep"));
    EXPECT_TRUE(has(fish_complete("poomguard", "poomguard run 500 -- gre"), "grep"));
    EXPECT_TRUE(has(fish_complete("pjobs", "pjobs run gre"), "grep"));
    EXPECT_TRUE(has(fish_complete("pjobs", "pjobs run -- gre"), "grep"));
    EXPECT_FALSE(has(fish_complete("pjobs", "pjobs kill gre"), "grep"));
    EXPECT_FALSE(has(fish_complete("paffinity", "paffinity topology gre"), "grep"));
    EXPECT_TRUE(has(fish_complete("paffinity", "paffinity --cpus 0 -- gre"), "grep"));
}

namespace {

// zsh completes only in its line editor: a zsh started on a pty (zsh/zpty) loads the
// completions, a compadd wrapper appends every match it is given to a file, and the line is typed
// with a TAB once the editor is waiting (the prompt after READY: typed earlier, the terminal would
// still be in cooked mode, where ^U erases the line). A command typed after the TAB marks the
// end: the editor reads its input in order, so the completion is done when DONE is printed. The
// markers are printed as RE""ADY and DO""NE so that the echo of the typed text cannot match them.
// The outer timeout is the deadline.
const char* const kZshDriver = R"(zmodload zsh/zpty || exit 3
zpty z zsh -f -i
zpty -w z "PS1='<zle>' RPROMPT=''; fpath=($1 \$fpath); autoload -Uz compinit; compinit -u -D"
zpty -w z "compadd() { local -a m; builtin compadd -O m \"\$@\"; (( \$#m )) && print -rl -- \$m >> $3; builtin compadd \"\$@\"; }"
zpty -w z 'print RE""ADY'
zpty -r z line '*READY*' || exit 4
zpty -r z line '*<zle>*' || exit 4
zpty -n -w z "$2"$'\t'
zpty -w z $'\C-u''print DO""NE'
zpty -r z line '*DONE*' || exit 5
zpty -d z
)";

struct Zsh {
    Scratch d;
    Zsh() { std::ofstream(d.path + "/drive.zsh") << kZshDriver; }
    /// The matches zsh's completion adds for `line` (the cursor at its end).
    std::vector<std::string> complete(const std::string& line) {
        std::string out = d.path + "/matches";
        std::remove(out.c_str());
        std::ofstream(out).close();
        ShellRun r = run("timeout 60 zsh " + quote(d.path + "/drive.zsh") + " " + quote(source_dir() + "/completions/zsh") +
                         " " + quote(line) + " " + quote(out) + " >/dev/null 2>&1");
        EXPECT_EQ(r.status, 0) << line;
        std::vector<std::string> v;
        std::istringstream in(read_text(out));
        for (std::string l; std::getline(in, l);) v.push_back(l);
        return v;
    }
};

}  // namespace

TEST(Completions, ZshCompletesValuesAndCommandStartsPerSubcommand) {
    if (run("command -v zsh >/dev/null 2>&1").status != 0) GTEST_SKIP() << "zsh is not installed (Debian package zsh)";
    if (run("zsh -fc 'zmodload zsh/zpty' >/dev/null 2>&1").status != 0) GTEST_SKIP() << "zsh has no zsh/zpty module";
    Zsh z;
    EXPECT_TRUE(has_all(z.complete("paffinity --cpus "), online_cpu_words()));
    EXPECT_TRUE(has_all(z.complete("pjobs run --cpus "), online_cpu_words()));
    EXPECT_EQ(z.complete("pjobs kill -s TE"), std::vector<std::string>{"TERM"});
    EXPECT_EQ(z.complete("prun --term-seq INT,200,KI"), std::vector<std::string>{"KILL"});
    EXPECT_EQ(z.complete("prun --rlimit nof"), std::vector<std::string>{"nofile="});
    EXPECT_EQ(z.complete("pjobs server "), (std::vector<std::string>{"status", "stop", "run"}));
    EXPECT_FALSE(has(z.complete("poomguard set 500 gre"), "grep")) << "set takes no command";
    EXPECT_FALSE(has(z.complete("pjobs kill gre"), "grep"));
    EXPECT_TRUE(has(z.complete("poomguard run 500 -- gre"), "grep"));
    EXPECT_TRUE(has(z.complete("pjobs run gre"), "grep"));
    EXPECT_TRUE(has(z.complete("paffinity --cpus 0 -- gre"), "grep"));
}
