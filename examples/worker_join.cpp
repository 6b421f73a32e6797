// worker_join.cpp — start two workers with an argument each, then join both.
//
// Each worker gets its name as an argument (Python's args=("A",)). join() waits for each, so
// main's last line always comes after both workers are done.
//
// Output (the workers' lines in any order, each "starting" before its "done"; main's line last):
//   Worker A is starting
//   Worker B is starting
//   Worker A is done
//   Worker B is done
//   Both processes are done
#include <prockit/process/process.hpp>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

namespace {

void worker(const std::string& name) {
    std::printf("Worker %s is starting\n", name.c_str());
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // stands for some work
    std::printf("Worker %s is done\n", name.c_str());
}

}  // namespace

int main() {
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    prockit::Process process1(worker, std::string("A"));
    prockit::Process process2(worker, std::string("B"));
    process1.start();
    process2.start();
    process1.join();
    process2.join();
    std::printf("Both processes are done\n");
    return 0;
}
