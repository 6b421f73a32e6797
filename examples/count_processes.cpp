// count_processes.cpp — CPU-bound work in 5 named processes: true parallelism.
//
// Each process counts to 100,000,000 one by one and prints its index and the count; main joins
// them all and prints how long the whole took. Threads of one Python interpreter take turns (the
// GIL), processes do not: with N cores, the 5 counts take about 5/N times one count's time.
// (C++ counts much faster than Python; `volatile` keeps the compiler from skipping the loop.)
//
// Output (the 5 count lines in any order, the time last):
//   2 100000000
//   0 100000000
//   1 100000000
//   4 100000000
//   3 100000000
//   elapsed: 0.412 s
#include <prockit/process/process.hpp>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

namespace {

void count(int i) {
    volatile long sum = 0;
    for (long n = 0; n < 100'000'000; ++n) sum = sum + 1;
    std::printf("%d %ld\n", i, static_cast<long>(sum));
}

}  // namespace

int main() {
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    auto start = std::chrono::steady_clock::now();
    std::vector<prockit::Process> ps;
    ps.reserve(5);
    for (int i = 0; i < 5; ++i) {
        ps.emplace_back(prockit::ProcessOptions{.name = "count-" + std::to_string(i)}, count, i);
        ps.back().start();
    }
    for (auto& p : ps) p.join();
    std::printf("elapsed: %.3f s\n", std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    return 0;
}
