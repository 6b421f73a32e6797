#include <prockit/process/command.hpp>
#include <prockit/process/process.hpp>

#include <cstdio>

int main() {
    prockit::Process p({.name = "consumer"}, [] { return 5; });
    p.start();
    p.join();
    auto st = prockit::Command("true").status().value();
    std::printf("process exitcode %d, command %s\n", *p.exitcode(), st.to_string().c_str());
    return *p.exitcode() == 5 && st.success() ? 0 : 1;
}
