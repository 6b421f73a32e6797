// tools/prun/template.hpp — prun's command templates and replacement strings (GNU parallel's
// subset): {} {.} {/} {//} {/.} {#} {%} and {N} {N.} {N/} {N//} {N/.} for input source N (or
// column N with --colsep; {-N} counts from the last), {name} for a --header column, and with
// --plus {+/} {+.} {+..} {+...} {..} {...} {/..} {/...} {##} {0#} {0%}.
//
// A positional string naming a value the job does not have (-N's last job, a short row of
// columns) is empty; a word made of nothing else is dropped, as GNU parallel drops it.
//
// A brace group made only of digits and the characters . / # % is a replacement string; one that
// is not a known form is an error. Any other text in braces ("{print $1}", "{foo}") is literal.
//
// Without --shell every template word becomes exactly one argument after substitution: inputs are
// never split, globbed or interpreted, whatever bytes they hold. With --shell the words are joined
// by spaces into one sh -c script and each substituted value is single-quoted first.
// A template without replacement strings gets the inputs appended, one argument each.
#pragma once

#include <prockit/sys/result.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace prockit::prun {

enum class Op {
    whole, no_ext, base, dir, base_no_ext, seq, slot,
    // --plus
    dir_plus,      // {+/}: what {/} leaves out ("" without a '/')
    ext,           // {+.}: the extension {.} removes
    ext2, ext3,    // {+..} {+...}: the two or three extensions {..} {...} remove
    no_ext2, no_ext3,            // {..} {...}: without two or three extensions (unchanged with fewer)
    base_no_ext2, base_no_ext3,  // {/..} {/...}
    total,         // {##}: the number of jobs
    seq0, slot0,   // {0#} {0%}: zero-padded to the width of {##} and of the job slots
};

struct Part {
    bool literal = true;
    std::string text;   // literal text
    int source = 0;  // 0: every source (joined by spaces); N: source N (1-based); -N: N-th from the last
    Op op = Op::whole;
};

/// How a job with several arguments of one source (-n, -N, -L, -m, -X) fills a word holding {}:
/// `m` puts the arguments there as separate words (x{}y with a, b: "xa" "by"), `x` repeats the
/// whole word per argument ("xay" "xby"). `none`: one value per source (the inputs of a
/// combination).
enum class Multi { none, m, x };

struct JobValues {
    const std::vector<std::string>* inputs = nullptr;
    std::uint64_t seq = 0;
    unsigned slot = 0;
    Multi multi = Multi::none;
    std::uint64_t total = 0;  // {##}
    unsigned slots = 0;       // the number of job slots ({0%}'s width)
};

/// What else a template may hold.
struct TemplateSyntax {
    bool plus = false;               // --plus strings
    std::vector<std::string> names;  // --header: {name} is column (source) k+1 of names[k]
};

class Template {
public:
    /// Parses `words`; errors are Errc::parse_error naming the word and the string. `replace`
    /// (-I): when not empty, this text stands for the whole input in place of {} ({} is then
    /// literal; the other replacement strings keep their meaning).
    static Result<Template> parse(const std::vector<std::string>& words, std::size_t n_sources,
                                  const std::string& replace = {}, const TemplateSyntax& syntax = {});
    /// A single word (for --name).
    static Result<Template> parse_text(std::string_view text, std::size_t n_sources, const std::string& replace = {},
                                       const TemplateSyntax& syntax = {});
    /// Whether it holds {##} or {0#} (the number of jobs must be known).
    bool uses_total() const;

    bool has_replacements() const noexcept { return has_repl_; }
    /// Whether a replacement string takes an input's value (anything but {#} and {%}).
    bool uses_inputs() const;
    bool empty() const noexcept { return words_.empty(); }
    /// True when the first word holds no replacement string (the program is fixed).
    bool fixed_program() const;

    /// argv for the job (no shell).
    std::vector<std::string> expand_argv(const JobValues& v) const;
    /// The sh -c script for the job (--shell): values single-quoted.
    std::string expand_shell(const JobValues& v) const;
    /// The one word, values unquoted (names, tags).
    std::string expand_text(const JobValues& v) const;

    /// Command line length of the template with no argument (-s/--max-chars: every word plus its
    /// terminating NUL, as xargs counts), and what one more argument adds at most.
    std::size_t base_chars(Multi multi, bool shell) const;
    std::size_t arg_chars(std::string_view value, Multi multi, bool shell) const;

private:
    std::string expand_word(const std::vector<Part>& w, const JobValues& v, bool quote) const;
    /// A word that is one positional string naming a value the job does not have.
    static bool dropped(const std::vector<Part>& w, const JobValues& v);
    /// -m: a word holding {} split into one word per argument.
    void expand_word_m(const std::vector<Part>& w, const JobValues& v, std::vector<std::string>& out) const;
    static bool takes_all(const std::vector<Part>& w);  // holds an input string of source 0
    std::vector<std::vector<Part>> words_;
    bool has_repl_ = false;
};

/// The value of a replacement operation applied to one input.
std::string apply_op(Op op, std::string_view input);
/// POSIX sh single-quoting ('a'"'"'b'); words made only of safe characters stay bare.
std::string shell_quote(std::string_view s);
/// argv as a shell would read it back: each word quoted when needed, joined by spaces.
std::string shell_join(const std::vector<std::string>& argv);

}  // namespace prockit::prun
