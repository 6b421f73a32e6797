// apply_async with a callback (run in the parent, on the pool's result thread) and an error callback.
//   $ pool_apply_async
//   callback: cube(7) = 343
//   get: 343
//   error callback: ... std::invalid_argument: negative input ...
//   get threw: std::invalid_argument: negative input
#include <prockit/pool/pool.hpp>

#include <cstdio>
#include <stdexcept>

long cube(long x) {
    if (x < 0) throw std::invalid_argument("negative input");
    return x * x * x;
}

int main() {
    using namespace std::chrono_literals;
    prockit::Pool pool({.processes = 2});
    auto r = pool.apply_async(cube, std::tuple{7L}, {.callback = [](const long& v) { std::printf("callback: cube(7) = %ld\n", v); }});
    std::printf("get: %ld\n", r.get(30s));  // the callback has run before the result is ready
    auto bad = pool.apply_async(cube, std::tuple{-1L},
                                {.callback = {}, .error_callback = [](const prockit::TaskError& e) { std::printf("error callback: %s\n", e.what()); }});
    try {
        bad.get(30s);
    } catch (const std::invalid_argument& e) {  // the task's own exception type
        std::printf("get threw: std::invalid_argument: %s\n", e.what());
    }
    std::fflush(stdout);
    pool.close();
    pool.join();
}
