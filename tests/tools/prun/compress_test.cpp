// --compress's pieces (tools/prun/compress, OutputSink's compressed files): a frame that cannot be
// written whole is cut off again, so a file holds whole frames only; a waiting file is decoded
// job by job (FilePart), and a part that does not decode — a torn frame, bytes that are no frame —
// loses only its own output and names its job once, the parts after it printed whole.
#include "compress.hpp"
#include "output.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <map>
#include <random>
#include <string>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

namespace prockit::prun {
namespace {

unique_fd memfd(const char* name) { return unique_fd(::memfd_create(name, MFD_CLOEXEC)); }

off_t size_of(int fd) {
    struct stat st {};
    return ::fstat(fd, &st) == 0 ? st.st_size : -1;
}

std::string read_all(int fd) {
    std::string out(static_cast<std::size_t>(size_of(fd)), '\0');
    return ::pread(fd, out.data(), out.size(), 0) == static_cast<ssize_t>(out.size()) ? out : std::string("<read failed>");
}

/// Lines of `tag` then random letters: about half of it survives compression.
std::string text(char tag, std::size_t lines, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::string s;
    for (std::size_t i = 0; i < lines; ++i) {
        s += tag;
        for (int c = 0; c < 40; ++c) s += static_cast<char>('a' + rng() % 16);
        s += '\n';
    }
    return s;
}

/// Decompresses a whole file of frames.
std::string decode(int fd) {
    std::string in = read_all(fd), out;
    FrameReader r;
    std::size_t pos = 0;
    while (pos < in.size() || r.pending()) {
        auto used = r.feed(in.data() + pos, in.size() - pos, out, 1 << 16);
        if (!used) return "<corrupt>";
        pos += *used;
        if (*used == 0 && !r.pending()) break;
    }
    return r.at_frame_end() ? out : out + "<cut>";
}

/// What an OutputSink prints of `file` split into `starts` (one part per start), and which parts'
/// jobs it names.
struct Printed {
    std::string out;
    std::map<std::size_t, std::string> cut;  // part -> reason
    int errors = 0;
};
Printed print(unique_fd file, const std::vector<off_t>& starts) {
    Printed p;
    unique_fd out = memfd("sink-out");
    {
        OutputSink sink(out.get(), [&](const Error&) { ++p.errors; });
        std::vector<FilePart> parts;
        for (std::size_t i = 0; i < starts.size(); ++i)
            parts.push_back({starts[i], [&p, i](const std::string& why) {
                                 EXPECT_TRUE(p.cut.emplace(i, why).second) << "part " << i << " named twice";
                             }});
        bool returned = false;
        sink.file(std::move(file), "", false, [&](unique_fd) { returned = true; }, true, std::move(parts));
        EXPECT_TRUE(sink.flush());
        EXPECT_TRUE(returned) << "the file was not given back";
    }
    p.out = read_all(out.get());
    return p;
}

// A frame that does not fit (RLIMIT_FSIZE, the "full disk" a memfd has) is cut off again: the file
// holds the frames before it, whole, and a later frame that fits follows them.
TEST(PrunCompress, AFrameThatCannotBeWrittenWholeIsCutOffAgain) {
    const std::string a = text('a', 200, 1), b = text('b', 3000, 2), c = text('c', 100, 3);
    unique_fd f = memfd("frames");
    ASSERT_TRUE(f);
    ASSERT_TRUE(write_frame(f.get(), a));
    const off_t after_a = size_of(f.get());
    rlimit old{};
    ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
    auto old_xfsz = ::signal(SIGXFSZ, SIG_IGN);
    rlimit small{static_cast<rlim_t>(after_a + 4096), old.rlim_max};
    ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
    auto st = write_frame(f.get(), b);  // ~60 KiB compressed: does not fit
    ::setrlimit(RLIMIT_FSIZE, &old);
    ::signal(SIGXFSZ, old_xfsz);
    EXPECT_FALSE(st) << "the frame fit after all";
    EXPECT_EQ(size_of(f.get()), after_a) << "a torn frame was left in the file";
    ASSERT_TRUE(write_frame(f.get(), c));
    EXPECT_EQ(decode(f.get()), a + c);
    auto whole = whole_frames(f.get(), size_of(f.get()) - 1);
    ASSERT_TRUE(whole);
    EXPECT_EQ(*whole, after_a) << "the whole frames of all but the last byte end where the first frame does";
}

// A spill file holding three jobs' output, the middle one's damaged: only that job loses output
// (from the damage on) and is named, once; the others are printed whole.
TEST(PrunCompress, OnlyThePartThatDoesNotDecodeIsLostAndNamed) {
    const std::string a = text('a', 2000, 4), b = text('b', 2000, 5), c = text('c', 2000, 6);
    auto frames = [](const std::string& s) {
        unique_fd f = memfd("part");
        for (std::size_t at = 0; at < s.size(); at += 1 << 16) EXPECT_TRUE(write_frame(f.get(), std::string_view(s).substr(at, 1 << 16)));
        return read_all(f.get());
    };
    const std::string za = frames(a), zb = frames(b), zc = frames(c);
    ASSERT_GT(zb.size(), 100u);
    struct Case {
        const char* what;
        std::string middle;        // the middle part's bytes
        std::string middle_kept;   // what is printed of it
        const char* reason;
    };
    for (const Case& k : {Case{"a torn last frame", zb.substr(0, zb.size() - 7), b.substr(0, 1 << 16), "its compressed copy ends inside a frame"},
                          Case{"no frame at all", std::string(300, 'x'), "", "its compressed copy is corrupt ("}}) {
        SCOPED_TRACE(k.what);
        unique_fd f = memfd("spill");
        std::string all = za + k.middle + zc;
        ASSERT_EQ(::pwrite(f.get(), all.data(), all.size(), 0), static_cast<ssize_t>(all.size()));
        const off_t b_at = static_cast<off_t>(za.size()), c_at = static_cast<off_t>(za.size() + k.middle.size());
        Printed p = print(std::move(f), {0, b_at, c_at});
        EXPECT_EQ(p.errors, 0);
        EXPECT_EQ(p.cut.count(0), 0u);
        EXPECT_EQ(p.cut.count(2), 0u);
        ASSERT_EQ(p.cut.count(1), 1u) << "the damaged part was not named";
        EXPECT_EQ(p.cut[1].rfind(k.reason, 0), 0u) << p.cut[1];
        EXPECT_TRUE(p.out == a + k.middle_kept + c) << "printed " << p.out.size() << " bytes, expected "
                                                   << (a + k.middle_kept + c).size();
    }
    // Undamaged, the same parts print whole and name nobody.
    unique_fd f = memfd("spill");
    std::string all = za + zb + zc;
    ASSERT_EQ(::pwrite(f.get(), all.data(), all.size(), 0), static_cast<ssize_t>(all.size()));
    Printed p = print(std::move(f), {0, static_cast<off_t>(za.size()), static_cast<off_t>(za.size() + zb.size())});
    EXPECT_TRUE(p.cut.empty());
    EXPECT_EQ(p.errors, 0);
    EXPECT_TRUE(p.out == a + b + c);
}

}  // namespace
}  // namespace prockit::prun
