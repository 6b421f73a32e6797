// Unit tests of prun's templates (replacement strings, quoting) and inputs (cross product).
#include "inputs.hpp"
#include "template.hpp"

#include <gtest/gtest.h>

namespace prockit::prun {
namespace {

std::vector<std::string> argv_of(const std::vector<std::string>& words, std::vector<std::string> inputs,
                                 std::uint64_t seq = 1, unsigned slot = 1) {
    auto t = Template::parse(words, inputs.size());
    EXPECT_TRUE(t) << (t ? "" : t.error().message());
    if (!t) return {};
    return t->expand_argv({&inputs, seq, slot});
}

// The values GNU parallel 20221122 gives (checked side by side in the integration tests).
TEST(PrunTemplate, ReplacementStringsFollowGnuParallel) {
    struct Case {
        std::string in, whole, noext, base, dir, base_noext;
    };
    for (const Case& c : std::vector<Case>{{"a/b.c", "a/b.c", "a/b", "b.c", "a", "b"},
                                           {"x", "x", "x", "x", ".", "x"},
                                           {"/x", "/x", "/x", "x", "/", "x"},
                                           {".bashrc", ".bashrc", "", ".bashrc", ".", ""},
                                           {"a/b/", "a/b/", "a/b/", "", "a", ""},
                                           {"a.b/c", "a.b/c", "a.b/c", "c", "a.b", "c"}}) {
        EXPECT_EQ(argv_of({"{}", "{.}", "{/}", "{//}", "{/.}"}, {c.in}),
                  (std::vector<std::string>{c.whole, c.noext, c.base, c.dir, c.base_noext}))
            << c.in;
    }
}

TEST(PrunTemplate, JobNumberSlotAndPositional) {
    EXPECT_EQ(argv_of({"x{#}y", "{%}", "{2}", "{1}", "{2.}"}, {"a", "b.txt"}, 7, 2),
              (std::vector<std::string>{"x7y", "2", "b.txt", "a", "b"}));
    EXPECT_EQ(argv_of({"echo", "{}"}, {"a", "b"}), (std::vector<std::string>{"echo", "a b"}));
}

TEST(PrunTemplate, InputsAreAppendedWithoutReplacementStrings) {
    EXPECT_EQ(argv_of({"echo", "-n"}, {"a b", "c"}), (std::vector<std::string>{"echo", "-n", "a b", "c"}));
}

TEST(PrunTemplate, ArbitraryBytesStayOneArgument) {
    std::string nasty = "-rf 'x\" $(y)\n;*";
    EXPECT_EQ(argv_of({"cmd", "--", "{}"}, {nasty}), (std::vector<std::string>{"cmd", "--", nasty}));
}

TEST(PrunTemplate, OtherBracesAreLiteral) {
    EXPECT_EQ(argv_of({"awk", "{print $1}", "{foo}", "{"}, {"f"}),
              (std::vector<std::string>{"awk", "{print $1}", "{foo}", "{", "f"}));
}

TEST(PrunTemplate, UnknownOrOutOfRangeReplacementStringsAreErrors) {
    for (std::string w : {"{..}", "{#.}", "{1#}", "{///}", "{3}", "{0}"}) {
        auto t = Template::parse({"echo", w}, 2);
        ASSERT_FALSE(t) << w;
        EXPECT_NE(t.error().context().find(w), std::string::npos) << t.error().context();
    }
    EXPECT_FALSE(Template::parse({"{=s/a/b/=}"}, 1));
}

TEST(PrunTemplate, ShellModeQuotesValues) {
    std::vector<std::string> in{"it's $HOME"};
    auto t = Template::parse({"echo", "{}", "|", "wc", "-c"}, 1);
    ASSERT_TRUE(t);
    EXPECT_EQ(t->expand_shell({&in, 1, 1}), "echo 'it'\"'\"'s $HOME' | wc -c");
    EXPECT_EQ(shell_quote("plain-word_1.txt"), "plain-word_1.txt");
    EXPECT_EQ(shell_quote(""), "''");
}

TEST(PrunInputs, CrossProductLastSourceFastest) {
    std::vector<SourceSpec> specs{{SourceSpec::Kind::args, {"a", "b"}, {}}, {SourceSpec::Kind::args, {"1", "2", "3"}, {}}};
    auto in = Inputs::open(specs, '\n');
    ASSERT_TRUE(in);
    EXPECT_EQ(in->total(), std::optional<std::size_t>(6));
    std::vector<std::string> got;
    for (;;) {
        auto n = in->next();
        ASSERT_TRUE(n);
        if (!*n) break;
        got.push_back((**n)[0] + (**n)[1]);
    }
    EXPECT_EQ(got, (std::vector<std::string>{"a1", "a2", "a3", "b1", "b2", "b3"}));
}

TEST(PrunInputs, UnreadableFileIsReportedAtOpen) {
    std::vector<SourceSpec> specs{{SourceSpec::Kind::file, {}, "/nonexistent/inputs"}};
    auto in = Inputs::open(specs, '\n');
    ASSERT_FALSE(in);
    EXPECT_NE(in.error().message().find("/nonexistent/inputs"), std::string::npos);
}

}  // namespace
}  // namespace prockit::prun
