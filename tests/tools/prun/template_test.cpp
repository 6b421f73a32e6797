// Unit tests of prun's templates (replacement strings, quoting) and inputs (cross product).
#include "inputs.hpp"
#include "template.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <regex>
#include <thread>
#include <unistd.h>

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

/// Every combination, values joined with '.', one string each.
std::vector<std::string> drain(Inputs& in) {
    std::vector<std::string> got;
    for (;;) {
        auto n = in.next();
        if (!n || !*n) break;
        std::string c;
        for (const auto& v : **n) c += (c.empty() ? "" : ".") + v;
        got.push_back(c);
    }
    return got;
}

TEST(PrunInputs, LinkedGroupsCrossTheOtherSources) {
    using K = SourceSpec::Kind;
    // (a b c :::+ 1 2) x (X Y): the pair ends with its shortest member.
    std::vector<SourceSpec> specs{{K::args, {"a", "b", "c"}, {}}, {K::args, {"1", "2"}, {}, true}, {K::args, {"X", "Y"}, {}}};
    auto in = Inputs::open(specs, '\n');
    ASSERT_TRUE(in);
    EXPECT_EQ(in->total(), std::optional<std::size_t>(4));
    EXPECT_EQ(drain(*in), (std::vector<std::string>{"a.1.X", "a.1.Y", "b.2.X", "b.2.Y"}));
    // The same under --link semantics: shorter members wrap, the longest sets the length.
    in = Inputs::open(specs, '\n', true);
    ASSERT_TRUE(in);
    EXPECT_EQ(in->total(), std::optional<std::size_t>(6));
    EXPECT_EQ(drain(*in), (std::vector<std::string>{"a.1.X", "a.1.Y", "b.2.X", "b.2.Y", "c.1.X", "c.1.Y"}));
    // A linked second group: x (p q :::+ 7 8).
    std::vector<SourceSpec> second{{K::args, {"x"}, {}}, {K::args, {"p", "q"}, {}}, {K::args, {"7", "8"}, {}, true}};
    in = Inputs::open(second, '\n');
    ASSERT_TRUE(in);
    EXPECT_EQ(drain(*in), (std::vector<std::string>{"x.p.7", "x.q.8"}));
    // An empty member empties the product, and is named.
    std::vector<SourceSpec> empty{{K::args, {"a"}, {}}, {K::args, {}, {}, true}};
    in = Inputs::open(empty, '\n');
    ASSERT_TRUE(in);
    ASSERT_TRUE(in->empty_source());
    EXPECT_NE(in->empty_source()->find("source 2"), std::string::npos);
    EXPECT_TRUE(drain(*in).empty());
}

TEST(PrunInputs, AStreamedFirstSourceIsCountedOnceMaterialized) {
    char path[] = "/tmp/prun-inputs-XXXXXX";
    int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(write(fd, "l1\nl2\nl3\n", 9), 9);
    close(fd);
    using K = SourceSpec::Kind;
    std::vector<SourceSpec> specs{{K::file, {}, path}, {K::args, {"x", "y"}, {}}};
    auto in = Inputs::open(specs, '\n');
    ASSERT_TRUE(in);
    EXPECT_FALSE(in->total());  // streamed: not known yet
    ASSERT_TRUE(in->materialize());
    EXPECT_EQ(in->total(), std::optional<std::size_t>(6));
    EXPECT_EQ(drain(*in).size(), 6u);
    // Linked to a file, the first source is read whole at once.
    specs[1].linked = true;
    in = Inputs::open(specs, '\n');
    ASSERT_TRUE(in);
    EXPECT_EQ(in->total(), std::optional<std::size_t>(2));
    EXPECT_EQ(drain(*in), (std::vector<std::string>{"l1.x", "l2.y"}));
    unlink(path);
}

/// The blocks --pipe cuts from `input` with separator `sep` and block size `size`.
std::vector<std::string> blocks_of(const std::string& input, char sep, std::size_t size) {
    int p[2];
    EXPECT_EQ(pipe(p), 0);
    std::thread writer([&] {
        // Small writes, so that the reader sees the input arrive in pieces.
        for (std::size_t at = 0; at < input.size(); at += 7) {
            std::size_t n = std::min<std::size_t>(7, input.size() - at);
            EXPECT_EQ(write(p[1], input.data() + at, n), static_cast<ssize_t>(n));
        }
        close(p[1]);
    });
    BlockReader r{unique_fd(p[0]), sep, size};
    std::vector<std::string> out;
    for (;;) {
        auto b = r.next();
        EXPECT_TRUE(b);
        if (!b || !*b) break;
        out.push_back(**b);
    }
    writer.join();
    return out;
}

TEST(PrunInputs, PipeBlocksHoldWholeRecords) {
    using V = std::vector<std::string>;
    // As many whole records as fit; the rest starts the next block.
    EXPECT_EQ(blocks_of("a\nbb\nccc\ndddd\n", '\n', 6), (V{"a\nbb\n", "ccc\n", "dddd\n"}));
    // A record longer than the block size goes whole, alone.
    EXPECT_EQ(blocks_of("xxxxxxxxxxxx\ny\n", '\n', 4), (V{"xxxxxxxxxxxx\n", "y\n"}));
    // A last record without a separator ends the last block.
    EXPECT_EQ(blocks_of("a\nb\nc", '\n', 100), (V{"a\nb\nc"}));
    EXPECT_EQ(blocks_of("aaaa\nb\nc", '\n', 5), (V{"aaaa\n", "b\nc"}));
    // NUL-separated records (-0).
    EXPECT_EQ(blocks_of(std::string("a\0b\0c\0", 6), '\0', 4), (V{std::string("a\0b\0", 4), std::string("c\0", 2)}));
    EXPECT_TRUE(blocks_of("", '\n', 10).empty());
    // A record far longer than the block, over many reads, then short ones.
    std::string huge(300000, 'h');
    EXPECT_EQ(blocks_of(huge + "\nab\ncd\n", '\n', 4), (V{huge + "\n", "ab\n", "cd\n"}));
    EXPECT_EQ(blocks_of("ab\n" + huge, '\n', 4), (V{"ab\n", huge}));
    // Any size: the blocks put back together are the input, each ending at a record.
    std::string big;
    for (int i = 0; i < 20000; ++i) big += std::to_string(i * 7919 % 100003) + "\n";
    for (std::size_t size : {1u, 5u, 64u, 4096u, 100000u, 1u << 20}) {
        V got = blocks_of(big, '\n', size);
        std::string joined;
        for (const auto& b : got) {
            EXPECT_EQ(b.back(), '\n');
            EXPECT_TRUE(b.size() <= size || b.find('\n') == b.size() - 1) << "only a single long record may pass the size";
            joined += b;
        }
        EXPECT_EQ(joined, big) << size;
    }
}

TEST(PrunInputs, UnreadableFileIsReportedAtOpen) {
    std::vector<SourceSpec> specs{{SourceSpec::Kind::file, {}, "/nonexistent/inputs"}};
    auto in = Inputs::open(specs, '\n');
    ASSERT_FALSE(in);
    EXPECT_NE(in.error().message().find("/nonexistent/inputs"), std::string::npos);
}

TEST(PrunTemplate, ReplaceStringTakesThePlaceOfBraces) {
    auto t = Template::parse({"echo", ",,", "{}", "{.}", "x,,y"}, 1, ",,");
    ASSERT_TRUE(t);
    std::vector<std::string> in{"a.c"};
    EXPECT_EQ(t->expand_argv({&in, 1, 1}), (std::vector<std::string>{"echo", "a.c", "{}", "a", "xa.cy"}));
    EXPECT_TRUE(t->has_replacements());
}

TEST(PrunTemplate, SeveralValuesPerJob) {
    auto t = Template::parse({"echo", "x{}y", "{#}"}, 1);
    ASSERT_TRUE(t);
    std::vector<std::string> in{"a", "b c"};
    // -m: one word per value, the context on the first and last.
    EXPECT_EQ(t->expand_argv({&in, 7, 1, Multi::m}), (std::vector<std::string>{"echo", "xa", "b cy", "7"}));
    // -X: the word repeated per value.
    EXPECT_EQ(t->expand_argv({&in, 7, 1, Multi::x}), (std::vector<std::string>{"echo", "xay", "xb cy", "7"}));
    EXPECT_EQ(t->expand_shell({&in, 7, 1, Multi::m}), "echo xa 'b c'y 7");
    EXPECT_EQ(t->expand_shell({&in, 7, 1, Multi::x}), "echo xay x'b c'y 7");
    // -N: a positional string past the job's values is empty.
    auto p = Template::parse({"echo", "{2}-{1}"}, 2);
    ASSERT_TRUE(p);
    std::vector<std::string> one{"a"};
    EXPECT_EQ(p->expand_argv({&one, 1, 1, Multi::m}), (std::vector<std::string>{"echo", "-a"}));
}

TEST(PrunTemplate, CommandLineLengthCountsAsXargs) {
    // Every word and its NUL: "echo" is 5, each appended value its length + 1.
    auto t = Template::parse({"echo"}, 1);
    ASSERT_TRUE(t);
    EXPECT_EQ(t->base_chars(Multi::m, false), 5u);
    EXPECT_EQ(t->arg_chars("abc", Multi::m, false), 4u);
    auto x = Template::parse({"echo", "x{}y"}, 1);
    ASSERT_TRUE(x);
    EXPECT_EQ(x->arg_chars("abc", Multi::x, false), 6u);
    // Quoted in shell mode.
    EXPECT_EQ(t->arg_chars("a b", Multi::m, true), 6u);
}


// ---------------------------------------------------------------- GNU parallel: columns, --plus

TEST(PrunTemplate, ColumnsCountFromEitherEnd) {
    auto t = Template::parse({"echo", "{2}", "{-1}", "{1/.}", "{-2.}"}, 999999);
    ASSERT_TRUE(t);
    std::vector<std::string> row{"d/a.c", "b.x", "z"};
    EXPECT_EQ(t->expand_argv({&row, 1, 1}), (std::vector<std::string>{"echo", "b.x", "z", "a", "b"}));
    // {-} and {-x} are text, not replacement strings.
    auto text = Template::parse({"echo", "{-}", "{-x}"}, 1);
    ASSERT_TRUE(text);
    EXPECT_FALSE(text->has_replacements());
}

TEST(PrunTemplate, AWordThatIsOnlyAMissingValueIsDropped) {
    auto t = Template::parse({"printf", "[%s]", "{3}", "x{3}y", "{-4}"}, 999999);
    ASSERT_TRUE(t);
    std::vector<std::string> row{"a", "b"};
    EXPECT_EQ(t->expand_argv({&row, 1, 1}), (std::vector<std::string>{"printf", "[%s]", "xy"}));
    EXPECT_EQ(t->expand_shell({&row, 1, 1}), "printf [%s]  xy ") << "the template's own text is the shell's";
}

TEST(PrunTemplate, HeaderNamesAreReplacementStrings) {
    TemplateSyntax syntax;
    syntax.names = {"file", "file.size", "n"};
    auto t = Template::parse({"echo", "{file.size}", "{file.}", "{n}", "{other}"}, 999999, {}, syntax);
    ASSERT_TRUE(t);
    std::vector<std::string> row{"x.tar", "10", "7"};
    EXPECT_EQ(t->expand_argv({&row, 1, 1}), (std::vector<std::string>{"echo", "10", "x", "7", "{other}"}))
        << "the longest name wins; an unknown name stays text";
    syntax.names = {"2", "a"};
    auto digits = Template::parse({"{2}", "{a}"}, 999999, {}, syntax);
    ASSERT_TRUE(digits);
    EXPECT_EQ(digits->expand_argv({&row, 1, 1}), (std::vector<std::string>{"10", "10"})) << "a column named 2 is not {2}";
}

TEST(PrunTemplate, PlusStringsAreGnuParallels) {
    TemplateSyntax plus;
    plus.plus = true;
    auto t = Template::parse({"{+/}", "{+.}", "{+..}", "{+...}", "{..}", "{...}", "{/..}", "{/...}"}, 1, {}, plus);
    ASSERT_TRUE(t);
    auto expand = [&](std::string v) {
        std::vector<std::string> in{std::move(v)};
        return t->expand_argv({&in, 1, 1});
    };
    using V = std::vector<std::string>;
    EXPECT_EQ(expand("d/a.b.c.e"), (V{"d", "e", "c.e", "b.c.e", "d/a.b", "d/a", "a.b", "a"}));
    // Fewer extensions than asked for: nothing removed, nothing given.
    EXPECT_EQ(expand("dir/x.tar.gz"), (V{"dir", "gz", "tar.gz", "", "dir/x", "dir/x.tar.gz", "x", "x.tar.gz"}));
    EXPECT_EQ(expand("plain"), (V{"", "", "", "", "plain", "plain", "plain", "plain"}));
    // Without --plus they are not replacement strings: {+/} is text, {..} an error.
    auto off = Template::parse({"{+/}"}, 1);
    ASSERT_TRUE(off);
    EXPECT_FALSE(off->has_replacements());
    EXPECT_FALSE(Template::parse({"{..}"}, 1));
}

TEST(PrunTemplate, PlusCountersArePadded) {
    TemplateSyntax plus;
    plus.plus = true;
    auto t = Template::parse({"{##}", "{0#}", "{0%}", "{#}"}, 1, {}, plus);
    ASSERT_TRUE(t);
    EXPECT_TRUE(t->uses_total());
    EXPECT_FALSE(t->uses_inputs());
    std::vector<std::string> in{"v"};
    JobValues v{&in, 7, 3, Multi::none, 120, 12};
    EXPECT_EQ(t->expand_argv(v), (std::vector<std::string>{"120", "007", "03", "7"}));
}

TEST(PrunInputs, ColumnsOfEverySourceInARow) {
    using K = SourceSpec::Kind;
    std::vector<SourceSpec> specs{{K::args, {"a,b", "c"}, {}}, {K::args, {"1,,2"}, {}}};
    auto in = Inputs::open(specs, '\n');
    ASSERT_TRUE(in);
    in->set_colsep(std::regex(","));
    EXPECT_EQ(drain(*in), (std::vector<std::string>{"a.b.1..2", "c.1..2"}));
    EXPECT_EQ(split_columns("a  b c", std::regex(" +")), (std::vector<std::string>{"a", "b", "c"}));
    EXPECT_EQ(split_columns("abc", std::regex("x*")), (std::vector<std::string>{"abc"})) << "empty matches cut nothing";
}

TEST(PrunInputs, HeaderTakesTheFirstValueOfEachSource) {
    using K = SourceSpec::Kind;
    std::vector<SourceSpec> specs{{K::args, {"n\tm", "1\t2", "3\t4"}, {}}, {K::args, {"x", "p"}, {}}};
    auto in = Inputs::open(specs, '\n');
    ASSERT_TRUE(in);
    in->set_colsep(std::regex("\t"));
    auto names = in->take_header();
    ASSERT_TRUE(names);
    EXPECT_EQ(*names, (std::vector<std::string>{"n", "m", "x"}));
    EXPECT_EQ(in->total(), std::optional<std::size_t>(2));
    EXPECT_EQ(drain(*in), (std::vector<std::string>{"1.2.p", "3.4.p"}));
}

TEST(PrunInputs, ShuffleGivesEveryCombinationOnce) {
    using K = SourceSpec::Kind;
    std::vector<std::string> many;
    for (int i = 0; i < 200; ++i) many.push_back(std::to_string(i));
    std::vector<SourceSpec> specs{{K::args, many, {}}, {K::args, {"x", "y"}, {}}};
    auto in = Inputs::open(specs, '\n');
    ASSERT_TRUE(in);
    ASSERT_TRUE(in->shuffle());
    auto got = drain(*in);
    ASSERT_EQ(got.size(), 400u);
    auto in2 = Inputs::open(specs, '\n');
    ASSERT_TRUE(in2);
    auto plain = drain(*in2);
    EXPECT_NE(got, plain) << "400 combinations came in the input order (1 chance in 400!)";
    std::sort(got.begin(), got.end());
    std::sort(plain.begin(), plain.end());
    EXPECT_EQ(got, plain);
}

}  // namespace
}  // namespace prockit::prun
