// bench/ratio.hpp — runs the registered Google Benchmark cases and prints, after the usual table,
// each case's speed as a ratio against the peer named in its label.
//
// A case declares its peer with state.SetLabel("vs:<peer case name>"); the ratio printed is
// peer_time / case_time (above 1 means faster than the peer). With --benchmark_repetitions the
// medians are compared (bench/run.sh asks for 3 repetitions, randomly interleaved, by default).
//
// A case that runs in pairs with its peer (each iteration runs both) instead labels itself
// "paired:<peer description>" and sets the counters "ratio" (peer time / case time) and "peer_ms";
// the ratio printed is then its own (the median over repetitions).
#pragma once

#include <string>
#include <vector>

namespace prockit::bench {
/// Use as main(): runs the benchmarks, then prints the ratio table. Returns the exit status.
/// `phases` (filter regexes), when given and no --benchmark_filter was, run the cases in that order,
/// one group after the other: for cases whose set-up changes the machine for the cases after them.
int run_with_ratios(int argc, char** argv, const std::vector<std::string>& phases = {});
}  // namespace prockit::bench
