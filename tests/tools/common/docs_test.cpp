// Every long option a tool's --help lists is documented in its man page and completed by the
// bash, zsh and fish completions. The man page is written by hand; the completions are written
// from the command line (completion_test.cpp checks they are current), so this also checks that
// the generator misses no option.
#include <gtest/gtest.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

std::string env_or(const char* name, const char* fallback) {
    const char* v = std::getenv(name);
    return v && *v ? v : fallback;
}

std::string read_text(const std::string& path) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

/// `tool --help`, or `tool SUB --help` with a subcommand.
std::string help_of(const std::string& tool, const std::string& sub = {}) {
    std::string cmd = env_or("PROCKIT_BUILD_DIR", ".") + "/tools/" + tool + "/" + tool + (sub.empty() ? "" : " " + sub) + " --help";
    std::string out;
    if (FILE* p = popen(cmd.c_str(), "r")) {
        char buf[4096];
        for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
        pclose(p);
    }
    return out;
}

/// Whether `text` holds `word` not followed by another option character ("--tag" is not in "--tagstring").
bool has_word(const std::string& text, const std::string& word) {
    for (std::size_t at = text.find(word); at != std::string::npos; at = text.find(word, at + 1)) {
        char next = at + word.size() < text.size() ? text[at + word.size()] : ' ';
        if (!(std::isalnum(static_cast<unsigned char>(next)) || next == '-')) return true;
    }
    return false;
}

/// The man page's option headings: the line after each .TP or .TQ, with "\-" read as "-".
std::string man_headings(const std::string& man) {
    std::istringstream in(man);
    std::string line, out;
    bool heading = false;
    while (std::getline(in, line)) {
        if (heading) out += std::regex_replace(line, std::regex(R"(\\-)"), "-") + "\n";
        heading = line.rfind(".TP", 0) == 0 || line.rfind(".TQ", 0) == 0;
    }
    return out;
}

/// The bash completion's list of option words: the quoted string that holds "--help".
std::string bash_option_list(const std::string& bash) {
    for (std::size_t at = bash.find("--help"); at != std::string::npos; at = bash.find("--help", at + 1)) {
        std::size_t open = bash.find_last_of("'\"", at);
        if (open == std::string::npos) continue;
        std::size_t close = bash.find(bash[open], at);
        if (close != std::string::npos) return bash.substr(open + 1, close - open - 1);
    }
    return {};
}

/// Checks the long options of `tool --help` or, for a tool with subcommands, those of each
/// `tool SUB --help` (the subcommands a tool's --help lists under "Subcommands:").
void check_tool(const std::string& tool) {
    std::string src = env_or("PROCKIT_SOURCE_DIR", ".");
    std::string help = help_of(tool);
    ASSERT_NE(help.find("--help"), std::string::npos) << tool << " --help printed nothing useful";
    std::vector<std::string> subs;
    if (std::size_t at = help.find("\nSubcommands:\n"); at != std::string::npos) {
        std::istringstream in(help.substr(at + 14));
        std::string line;
        while (std::getline(in, line) && line.rfind("  ", 0) == 0) {
            std::istringstream words(line);
            std::string sub;
            if (words >> sub) subs.push_back(sub);
        }
    }
    std::set<std::string> options;
    std::regex long_option("--[a-z0-9][a-z0-9-]*");
    auto collect = [&](const std::string& text) {
        for (auto it = std::sregex_iterator(text.begin(), text.end(), long_option); it != std::sregex_iterator(); ++it)
            options.insert(it->str());
    };
    collect(help);
    for (const std::string& sub : subs) {
        std::string h = help_of(tool, sub);
        EXPECT_NE(h.find("--help"), std::string::npos) << tool << " " << sub << " --help printed nothing useful";
        collect(h);
    }
    EXPECT_GT(options.size(), 5u);

    // The assembled page (docs/man/CMakeLists.txt): shared sections such as SELECTION included.
    std::string man = man_headings(read_text(env_or("PROCKIT_BUILD_DIR", ".") + "/docs/man/" + tool + ".1"));
    // A tool with subcommands has one option list per subcommand in its bash completion.
    std::string bash_text = read_text(src + "/completions/bash/" + tool);
    std::string bash = subs.empty() ? bash_option_list(bash_text) : bash_text;
    std::string zsh = read_text(src + "/completions/zsh/_" + tool);
    std::string fish = read_text(src + "/completions/fish/" + tool + ".fish");
    ASSERT_FALSE(man.empty() || bash.empty() || zsh.empty() || fish.empty()) << "a documentation file of " << tool << " is missing";
    for (const std::string& o : options) {
        EXPECT_TRUE(has_word(man, o)) << tool << ": " << o << " has no entry in docs/man/" << tool << ".1 (with what it includes)";
        EXPECT_TRUE(has_word(bash, o)) << tool << ": " << o << " is not in the bash completion's option list";
        EXPECT_TRUE(has_word(zsh, o)) << tool << ": " << o << " is not in the zsh completion";
        EXPECT_TRUE(has_word(fish, "-l " + o.substr(2))) << tool << ": " << o << " is not in the fish completion";
    }
}

/// Every page of docs/man/ is assembled: no ".so" include and no @TOOL@ left, and what it
/// included is there (paffinity(1) includes the CPU-list and selection sections).
TEST(ToolDocs, ManPagesAreAssembled) {
    namespace fs = std::filesystem;
    const fs::path src = fs::path(env_or("PROCKIT_SOURCE_DIR", ".")) / "docs/man";
    const fs::path built = fs::path(env_or("PROCKIT_BUILD_DIR", ".")) / "docs/man";
    int pages = 0;
    for (const auto& e : fs::directory_iterator(src)) {
        const std::string name = e.path().filename().string();
        if (!std::regex_match(name, std::regex(R"([a-z][a-z0-9.-]*\.[1-8])"))) continue;
        ++pages;
        const std::string text = read_text((built / name).string());
        ASSERT_FALSE(text.empty()) << name << " was not assembled into " << built;
        EXPECT_FALSE(std::regex_search(text, std::regex(R"((^|\n)\.so )"))) << name << " still includes a file";
        EXPECT_EQ(text.find("@TOOL@"), std::string::npos) << name;
    }
    EXPECT_GE(pages, 2);
    const std::string paffinity = read_text((built / "paffinity.1").string());
    EXPECT_NE(paffinity.find("util\\-linux's stride syntax"), std::string::npos) << "CPU lists not included";
    EXPECT_NE(paffinity.find("paffinity never selects itself"), std::string::npos) << "selection not included";
}

TEST(ToolDocs, PrunOptionsAreDocumentedAndCompleted) { check_tool("prun"); }
TEST(ToolDocs, PaffinityOptionsAreDocumentedAndCompleted) { check_tool("paffinity"); }
TEST(ToolDocs, PoomguardOptionsAreDocumentedAndCompleted) { check_tool("poomguard"); }
TEST(ToolDocs, PjobsOptionsAreDocumentedAndCompleted) { check_tool("pjobs"); }

}  // namespace
