// Pool.map of squares over 4 worker processes.
//   $ pool_map_squares
//   squares: 0 1 4 9 16 25 36 49 64 81
#include <prockit/pool/pool.hpp>

#include <cstdio>
#include <numeric>
#include <vector>

int square(int x) { return x * x; }

int main() {
    prockit::Pool pool({.processes = 4});
    std::vector<int> xs(10);
    std::iota(xs.begin(), xs.end(), 0);
    std::vector<int> sq = pool.map(square, xs);
    std::printf("squares:");
    for (int v : sq) std::printf(" %d", v);
    std::printf("\n");
    pool.close();
    pool.join();
}
