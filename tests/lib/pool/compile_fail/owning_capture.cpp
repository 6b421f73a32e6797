// Must not compile: a closure that owns memory (a std::string capture) cannot be sent to a worker.
// The test passes when the compiler's output holds the static_assert's explanation.
#include <prockit/pool/pool.hpp>

#include <string>

int main() {
    prockit::Pool pool({.processes = 1});
    std::string suffix = "!";
    (void)pool.map([suffix](int x) { return std::to_string(x) + suffix; }, std::vector<int>{1, 2});
    (void)pool.apply([suffix](int x) { return x + static_cast<int>(suffix.size()); }, 1);
}
