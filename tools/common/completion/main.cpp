// prockit-completions — writes the bash, zsh and fish completions of prockit's tools from their
// command lines (each tool's build_cli()), so that completions never drift from the tools:
//   prockit-completions DIR    writes DIR/bash/TOOL, DIR/zsh/_TOOL, DIR/fish/TOOL.fish
// The build's update-completions target runs it on completions/; a test compares its output
// with the files checked in.
#include "common/completion.hpp"

#include "paffinity_cli.hpp"
#include "pjobs_cli.hpp"
#include "poomguard_cli.hpp"
#include "prun_cli.hpp"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sys/stat.h>

namespace {

bool write(const std::string& path, const std::string& text) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << text;
    f.close();
    if (!f) std::cerr << "prockit-completions: cannot write " << path << "\n";
    return static_cast<bool>(f);
}

bool emit(const std::string& dir, const prockit::tools::CompletionSource& src) {
    return write(dir + "/bash/" + src.tool, prockit::tools::bash_completion(src)) &&
           write(dir + "/zsh/_" + src.tool, prockit::tools::zsh_completion(src)) &&
           write(dir + "/fish/" + src.tool + ".fish", prockit::tools::fish_completion(src));
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: prockit-completions DIR\n";
        return 2;
    }
    std::string dir = argv[1];
    for (const char* sub : {"", "/bash", "/zsh", "/fish"}) mkdir((dir + sub).c_str(), 0755);

    prockit::prun::Options prun_opts;
    auto prun_app = prockit::prun::build_cli(prun_opts);
    prockit::paffinity::Options paff_opts;
    auto paff_app = prockit::paffinity::build_cli(paff_opts);
    prockit::poomguard::Options poom_opts;
    auto poom_app = prockit::poomguard::build_cli(poom_opts);
    bool ok = emit(dir, {"prun", prun_app.get(), {""}, {":::", "::::", ":::+", "::::+"}}) &&
              emit(dir, {"paffinity", paff_app.get(), {""}, {}}) &&
              emit(dir, {"poomguard", poom_app.get(), {"run"}, {}});
    prockit::pjobs::Options pjobs_opts;
    auto pjobs_app = prockit::pjobs::build_cli(pjobs_opts);
    ok = ok && emit(dir, {"pjobs", pjobs_app.get(), {"run"}, {}});
    return ok ? 0 : 1;
}
