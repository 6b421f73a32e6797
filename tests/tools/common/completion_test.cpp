// The completions in completions/ are what prockit-completions writes from the tools' command
// lines (a test fails when they drift), and they work: bash's are driven as bash-completion
// drives them (COMP_WORDS/COMP_CWORD, then COMPREPLY is read); zsh's and fish's are parsed by
// their shells.
#include <gtest/gtest.h>

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

const char* const kFiles[] = {"bash/prun", "zsh/_prun", "fish/prun.fish",
                              "bash/paffinity", "zsh/_paffinity", "fish/paffinity.fish"};

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
/// when it is installed.
std::vector<std::string> bash_complete(const std::string& tool, const std::vector<std::string>& words) {
    std::string script;
    if (access(kBashCompletion, R_OK) == 0) script += std::string("source ") + kBashCompletion + "\n";
    script += "source " + quote(source_dir() + "/completions/bash/" + tool) + "\nCOMP_WORDS=(";
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
/// The candidates fish offers for `line` (first column of `complete -C`).
std::vector<std::string> fish_complete(const std::string& tool, const std::string& line) {
    std::string script = "source " + quote(source_dir() + "/completions/fish/" + tool + ".fish") + "; complete -C " + quote(line);
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
