// process_names.cpp — named worker processes that print their own name.
//
// Each worker is a prockit::Process with a name. Inside the child, current_process().name is
// that name, the kernel shows it too (/proc/self/comm, ps, top), and parent_process() names the
// process that started it. A Process without a name gets "Process-N".
//
// Output (the workers' lines may come in any order; main's lines come last, in this order):
//   p1: start (comm=p1, parent=MainProcess)
//   p1: end
//   ... the same for p2, p3 and Process-4 ...
//   main: p1 exited with 0
//   ...
#include <prockit/process/process.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace {

std::string own_comm() {
    std::ifstream f("/proc/self/comm");
    std::string s;
    std::getline(f, s);
    return s;
}

void worker() {
    const std::string me = prockit::current_process().name;
    auto parent = prockit::parent_process();
    std::printf("%s: start (comm=%s, parent=%s)\n", me.c_str(), own_comm().c_str(),
                parent ? parent->name().c_str() : "none");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // stands for some work
    std::printf("%s: end\n", me.c_str());
}

}  // namespace

int main() {
    // Line-buffered stdout (inherited by the children): every line is written whole, so lines of
    // different processes never mix even when stdout is a pipe.
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    std::printf("main: I am %s\n", prockit::current_process().name.c_str());

    std::vector<prockit::Process> workers;
    workers.reserve(4);
    workers.emplace_back(prockit::ProcessOptions{.name = "p1"}, worker);
    workers.emplace_back(prockit::ProcessOptions{.name = "p2"}, worker);
    workers.emplace_back(prockit::ProcessOptions{.name = "p3"}, worker);
    workers.emplace_back(worker);  // no name given: "Process-4"

    for (auto& w : workers) w.start();  // all four run in parallel
    for (auto& w : workers) {
        w.join();
        std::printf("main: %s exited with %d\n", w.name().c_str(), *w.exitcode());
    }
    return 0;
}
