// first_worker.cpp — the simplest child process: a function run in a forked child.
//
// A prockit::Process made from a function runs it in a child once start() is called. main does
// not join it here: at the end of main, prockit's exit hook waits for every non-daemon child, so
// the worker always finishes its work (as Python's main program waits for its children).
//
// Output:
//   0
//   1
//   2
#include <prockit/process/process.hpp>

#include <cstdio>

namespace {

void worker() {
    for (int i = 0; i < 3; ++i) std::printf("%d\n", i);
}

}  // namespace

int main() {
    prockit::Process p(worker);
    p.start();
    return 0;  // p's destructor joins the (non-daemon) child
}
