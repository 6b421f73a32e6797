#include "template.hpp"

#include <optional>

namespace prockit::prun {
namespace {

Error parse_error(std::string what) { return Error(make_error_code(Errc::parse_error), std::move(what)); }

bool repl_alphabet(std::string_view c, bool plus) {
    // {-N...}: a minus sign only before a digit ({-} and {-x} stay text).
    if (c.size() >= 2 && c[0] == '-' && c[1] >= '0' && c[1] <= '9') c.remove_prefix(1);
    for (char ch : c)
        if (!((ch >= '0' && ch <= '9') || ch == '.' || ch == '/' || ch == '#' || ch == '%' || (plus && ch == '+')))
            return false;
    return true;
}

/// The operation a suffix names ("", ".", "/", ...); `plus` adds --plus's.
std::optional<Op> op_of(std::string_view rest, bool plus) {
    if (rest.empty()) return Op::whole;
    if (rest == ".") return Op::no_ext;
    if (rest == "/") return Op::base;
    if (rest == "//") return Op::dir;
    if (rest == "/.") return Op::base_no_ext;
    if (!plus) return std::nullopt;
    if (rest == "+/") return Op::dir_plus;
    if (rest == "+.") return Op::ext;
    if (rest == "+..") return Op::ext2;
    if (rest == "+...") return Op::ext3;
    if (rest == "..") return Op::no_ext2;
    if (rest == "...") return Op::no_ext3;
    if (rest == "/..") return Op::base_no_ext2;
    if (rest == "/...") return Op::base_no_ext3;
    return std::nullopt;
}

Result<std::vector<Part>> parse_word(std::string_view word, std::size_t n_sources, bool& has_repl,
                                     const std::string& replace, const TemplateSyntax& syntax) {
    std::vector<Part> parts;
    std::string lit;
    std::size_t i = 0;
    auto flush = [&] {
        if (!lit.empty()) parts.push_back(Part{true, std::move(lit), 0, Op::whole});
        lit.clear();
    };
    while (i < word.size()) {
        // -I STR: STR stands for the whole input, and {} is then plain text.
        if (!replace.empty() && word.compare(i, replace.size(), replace) == 0) {
            flush();
            parts.push_back(Part{false, {}, 0, Op::whole});
            has_repl = true;
            i += replace.size();
            continue;
        }
        if (!replace.empty() && word.compare(i, 2, "{}") == 0) {
            lit += "{}";
            i += 2;
            continue;
        }
        if (word[i] != '{') {
            lit += word[i++];
            continue;
        }
        auto close = word.find('}', i + 1);
        if (close == std::string_view::npos) {
            lit += word.substr(i);
            break;
        }
        std::string_view c = word.substr(i + 1, close - i - 1);
        if (!c.empty() && c.front() == '=')
            return fail(parse_error("parse template word \"" + std::string(word) +
                                    "\": perl expressions {=...=} are not supported"));
        // {name}, {name.}, ...: a --header column (the longest name that fits).
        std::optional<Part> named;
        std::size_t named_len = 0;
        for (std::size_t k = 0; k < syntax.names.size(); ++k) {
            const std::string& n = syntax.names[k];
            // A name such as "2" or "." would hide a replacement string: it names nothing.
            if (n.empty() || repl_alphabet(n, syntax.plus) || c.substr(0, n.size()) != n || (named && n.size() <= named_len))
                continue;
            if (auto op = op_of(c.substr(n.size()), syntax.plus)) {
                named = Part{false, {}, static_cast<int>(k + 1), *op};
                named_len = n.size();
            }
        }
        if (named) {
            flush();
            parts.push_back(std::move(*named));
            has_repl = true;
            i = close + 1;
            continue;
        }
        if (!repl_alphabet(c, syntax.plus)) {
            lit += word.substr(i, close - i + 1);
            i = close + 1;
            continue;
        }
        bool from_end = !c.empty() && c[0] == '-';
        std::string_view num = from_end ? c.substr(1) : c;
        std::size_t d = 0;
        while (d < num.size() && num[d] >= '0' && num[d] <= '9') ++d;
        std::string_view digits = num.substr(0, d), rest = num.substr(d);
        Part p{false, {}, 0, Op::whole};
        bool ok = true;
        if (syntax.plus && (c == "##" || c == "0#" || c == "0%")) {
            p.op = c == "##" ? Op::total : c == "0#" ? Op::seq0 : Op::slot0;
            digits = {};
        } else if (rest == "#" && digits.empty()) {
            p.op = Op::seq;
        } else if (rest == "%" && digits.empty()) {
            p.op = Op::slot;
        } else if (auto op = op_of(rest, syntax.plus)) {
            p.op = *op;
        } else {
            ok = false;
        }
        // Built by appending: GCC 12 warns falsely (-Wrestrict) on "{" + std::string(c) at -O3.
        std::string shown;
        shown.reserve(c.size() + 2);
        shown.append(1, '{').append(c).append(1, '}');
        if (!ok)
            return fail(parse_error("parse template word \"" + std::string(word) + "\": unknown replacement string " + shown));
        if (!digits.empty()) {
            unsigned long n = 0;
            for (char ch : digits) n = n * 10 + static_cast<unsigned long>(ch - '0');
            if (digits.size() > 6 || n == 0 || n > n_sources)
                return fail(parse_error("parse template word \"" + std::string(word) + "\": replacement string " + shown +
                                        " names input source " + std::string(digits) + " but there " +
                                        (n_sources == 1 ? "is 1" : "are " + std::to_string(n_sources))));
            p.source = from_end ? -static_cast<int>(n) : static_cast<int>(n);
        }
        flush();
        parts.push_back(std::move(p));
        has_repl = true;
        i = close + 1;
    }
    flush();
    return parts;
}

}  // namespace

bool is_counter(Op op) { return op == Op::seq || op == Op::slot || op == Op::total || op == Op::seq0 || op == Op::slot0; }

std::string apply_op(Op op, std::string_view in) {
    std::string s(in);
    auto strip_ext = [](std::string& t) {
        // GNU parallel: remove a final ".ext" whose extension holds no '/' or '.'.
        auto dot = t.rfind('.');
        if (dot == std::string::npos) return;
        if (t.find('/', dot) != std::string::npos) return;
        t.erase(dot);
    };
    auto base = [](std::string& t) {
        auto slash = t.rfind('/');
        if (slash != std::string::npos) t.erase(0, slash + 1);
    };
    // GNU parallel's extension: a final ".ext" with no '/' or '.' in ext. Removes up to `n` of them,
    // all or none; returns what was removed (without its leading dot), or nullopt.
    auto strip_n = [](std::string& t, int n) -> std::optional<std::string> {
        std::size_t end = t.size(), cut = t.size();
        for (int k = 0; k < n; ++k) {
            auto dot = t.rfind('.', cut == 0 ? 0 : cut - 1);
            if (dot == std::string::npos || dot + 1 >= cut || cut == 0) return std::nullopt;
            if (t.find('/', dot) < cut) return std::nullopt;
            cut = dot;
        }
        std::string removed = t.substr(cut + 1, end - cut - 1);
        t.erase(cut);
        return removed;
    };
    switch (op) {
        case Op::dir_plus: {
            auto slash = s.rfind('/');
            return slash == std::string::npos ? std::string() : s.substr(0, slash);
        }
        case Op::ext:
        case Op::ext2:
        case Op::ext3: {
            auto r = strip_n(s, op == Op::ext ? 1 : op == Op::ext2 ? 2 : 3);
            return r ? *r : std::string();
        }
        case Op::no_ext2:
        case Op::no_ext3: (void)strip_n(s, op == Op::no_ext2 ? 2 : 3); return s;
        case Op::base_no_ext2:
        case Op::base_no_ext3: base(s); (void)strip_n(s, op == Op::base_no_ext2 ? 2 : 3); return s;
        case Op::total:
        case Op::seq0:
        case Op::slot0: return s;
        case Op::whole: return s;
        case Op::no_ext: strip_ext(s); return s;
        case Op::base: base(s); return s;
        case Op::base_no_ext: base(s); strip_ext(s); return s;
        case Op::dir: {
            // dirname(1)
            while (s.size() > 1 && s.back() == '/') s.pop_back();
            auto slash = s.rfind('/');
            if (slash == std::string::npos) return ".";
            s.erase(slash);
            while (s.size() > 1 && s.back() == '/') s.pop_back();
            return s.empty() ? "/" : s;
        }
        case Op::seq:
        case Op::slot: return s;
    }
    return s;
}

std::string shell_quote(std::string_view s) {
    bool safe = !s.empty();
    for (char c : s) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
                  c == '.' || c == '/' || c == ',' || c == ':' || c == '@' || c == '+' || c == '%' || c == '=';
        if (!ok) {
            safe = false;
            break;
        }
    }
    if (safe) return std::string(s);
    std::string out = "'";
    for (char c : s) {
        if (c == '\'')
            out += "'\"'\"'";
        else
            out += c;
    }
    out += '\'';
    return out;
}

std::string shell_join(const std::vector<std::string>& argv) {
    std::string out;
    for (const auto& a : argv) {
        if (!out.empty()) out += ' ';
        out += shell_quote(a);
    }
    return out;
}

Result<Template> Template::parse(const std::vector<std::string>& words, std::size_t n_sources, const std::string& replace,
                                const TemplateSyntax& syntax) {
    Template t;
    for (const auto& w : words) {
        auto parts = parse_word(w, n_sources, t.has_repl_, replace, syntax);
        if (!parts) return fail(parts.error());
        t.words_.push_back(std::move(*parts));
    }
    return t;
}

bool Template::uses_inputs() const {
    for (const auto& w : words_)
        for (const Part& p : w)
            if (!p.literal && !is_counter(p.op)) return true;
    return false;
}

Result<Template> Template::parse_text(std::string_view text, std::size_t n_sources, const std::string& replace,
                                     const TemplateSyntax& syntax) {
    return parse({std::string(text)}, n_sources, replace, syntax);
}

bool Template::uses_total() const {
    for (const auto& w : words_)
        for (const Part& p : w)
            if (!p.literal && (p.op == Op::total || p.op == Op::seq0)) return true;
    return false;
}

namespace {
/// The value index of a positional part, or npos when the job has no such value.
std::size_t position(int source, std::size_t n) {
    if (source > 0) return static_cast<std::size_t>(source) <= n ? static_cast<std::size_t>(source) - 1 : std::string::npos;
    std::size_t back = static_cast<std::size_t>(-source);
    return back <= n ? n - back : std::string::npos;
}
JobValues one_of(const JobValues& v, const std::vector<std::string>& one) {
    JobValues o = v;
    o.inputs = &one;
    o.multi = Multi::none;
    return o;
}
std::string padded(std::uint64_t v, std::uint64_t widest) {
    std::string s = std::to_string(v), w = std::to_string(widest);
    return s.size() < w.size() ? std::string(w.size() - s.size(), '0') + s : s;
}
}  // namespace

bool Template::dropped(const std::vector<Part>& w, const JobValues& v) {
    return w.size() == 1 && !w[0].literal && w[0].source != 0 && position(w[0].source, v.inputs->size()) == std::string::npos;
}

bool Template::fixed_program() const {
    if (words_.empty()) return false;
    for (const auto& p : words_[0])
        if (!p.literal) return false;
    return true;
}

std::string Template::expand_word(const std::vector<Part>& w, const JobValues& v, bool quote) const {
    std::string out;
    for (const auto& p : w) {
        if (p.literal) {
            out += p.text;
            continue;
        }
        std::string val;
        if (p.op == Op::seq) {
            val = std::to_string(v.seq);
        } else if (p.op == Op::slot) {
            val = std::to_string(v.slot);
        } else if (p.op == Op::total) {
            val = std::to_string(v.total);
        } else if (p.op == Op::seq0) {
            val = padded(v.seq, v.total);
        } else if (p.op == Op::slot0) {
            val = padded(v.slot, v.slots);
        } else if (p.source == 0) {
            const auto& in = *v.inputs;
            for (std::size_t i = 0; i < in.size(); ++i) {
                if (i) val += ' ';
                val += apply_op(p.op, in[i]);
            }
            if (quote && in.size() > 1) {
                // Each input quoted on its own, as GNU parallel does for {} with several sources.
                std::string q;
                for (std::size_t i = 0; i < in.size(); ++i) {
                    if (i) q += ' ';
                    q += shell_quote(apply_op(p.op, in[i]));
                }
                out += q;
                continue;
            }
        } else {
            // -N: the last job may have fewer arguments than {N} asks for; that one is empty.
            auto at = position(p.source, v.inputs->size());
            if (at == std::string::npos) continue;  // nothing, not even quotes, as GNU parallel
            val = apply_op(p.op, (*v.inputs)[at]);
        }
        out += quote ? shell_quote(val) : val;
    }
    return out;
}

bool Template::takes_all(const std::vector<Part>& w) {
    for (const Part& p : w)
        if (!p.literal && p.source == 0 && !is_counter(p.op)) return true;
    return false;
}

void Template::expand_word_m(const std::vector<Part>& w, const JobValues& v, std::vector<std::string>& out) const {
    std::string cur;
    for (const Part& p : w) {
        if (p.literal || p.source != 0 || is_counter(p.op)) {
            JobValues one = v;
            one.multi = Multi::none;
            cur += expand_word({p}, one, false);
            continue;
        }
        const auto& in = *v.inputs;
        for (std::size_t i = 0; i < in.size(); ++i) {
            if (i) {
                out.push_back(std::move(cur));
                cur.clear();
            }
            cur += apply_op(p.op, in[i]);
        }
    }
    out.push_back(std::move(cur));
}

std::size_t Template::base_chars(Multi multi, bool shell) const {
    std::vector<std::string> none;
    JobValues v{&none, 0, 0, multi};
    // {#} and {%} were expanded as one digit: room for up to 9 more each.
    std::size_t counters = 0;
    for (const auto& w : words_)
        for (const Part& p : w) counters += (!p.literal && is_counter(p.op)) ? 8 : 0;
    if (shell) return 10 + expand_shell(v).size() + 1 + counters;  // "/bin/sh -c " and the script
    std::size_t n = counters;
    for (const auto& w : expand_argv(v)) n += w.size() + 1;
    return n;
}

std::size_t Template::arg_chars(std::string_view value, Multi multi, bool shell) const {
    auto one = [&](Op op) {
        std::string s = apply_op(op, value);
        return (shell ? shell_quote(s).size() : s.size()) + 1;
    };
    if (!has_repl_) return one(Op::whole);
    std::size_t n = 0;
    for (const auto& w : words_) {
        if (!takes_all(w)) continue;
        if (multi == Multi::x) {
            std::vector<std::string> in{std::string(value)};
            JobValues v{&in, 0, 0, Multi::none};
            n += expand_word(w, v, shell).size() + 1;
            for (const Part& p : w) n += (!p.literal && is_counter(p.op)) ? 8 : 0;
            continue;
        }
        for (const Part& p : w)
            if (!p.literal && p.source == 0 && !is_counter(p.op)) n += one(p.op);
    }
    return n;
}

std::vector<std::string> Template::expand_argv(const JobValues& v) const {
    std::vector<std::string> argv;
    argv.reserve(words_.size() + (has_repl_ ? 0 : v.inputs->size()));
    for (const auto& w : words_) {
        if (v.multi == Multi::none || !takes_all(w)) {
            if (dropped(w, v)) continue;
            argv.push_back(expand_word(w, v, false));
        } else if (v.multi == Multi::m) {
            expand_word_m(w, v, argv);
        } else {
            for (const auto& in : *v.inputs) {
                std::vector<std::string> one{in};
                argv.push_back(expand_word(w, one_of(v, one), false));
            }
        }
    }
    if (!has_repl_)
        for (const auto& in : *v.inputs) argv.push_back(in);
    return argv;
}

std::string Template::expand_shell(const JobValues& v) const {
    std::string out;
    for (const auto& w : words_) {
        if (v.multi == Multi::x && takes_all(w)) {
            for (const auto& in : *v.inputs) {
                std::vector<std::string> one{in};
                if (!out.empty()) out += ' ';
                out += expand_word(w, one_of(v, one), true);
            }
            continue;
        }
        if (!out.empty()) out += ' ';
        out += expand_word(w, v, true);
    }
    if (!has_repl_)
        for (const auto& in : *v.inputs) {
            if (!out.empty()) out += ' ';
            out += words_.empty() ? in : shell_quote(in);  // no template: the inputs are the commands
        }
    return out;
}

std::string Template::expand_text(const JobValues& v) const {
    std::string out;
    for (const auto& w : words_) out += expand_word(w, v, false);
    return out;
}

}  // namespace prockit::prun
