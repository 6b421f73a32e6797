#include "ratio.hpp"

#include <benchmark/benchmark.h>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

namespace prockit::bench {
namespace {

struct Row {
    std::string name;
    std::string peer;
    double ns_per_iter = 0;
};

// Collects every run (forwarding to the console reporter) so ratios can be printed at the end.
class RatioReporter : public benchmark::ConsoleReporter {
public:
    void ReportRuns(const std::vector<Run>& runs) override {
        ConsoleReporter::ReportRuns(runs);
        for (const Run& r : runs) {
            if (r.run_type != Run::RT_Iteration || r.error_occurred || r.iterations == 0) continue;
            Row row;
            row.name = r.benchmark_name();
            if (r.report_label.rfind("vs:", 0) == 0) row.peer = r.report_label.substr(3);
            row.ns_per_iter = r.GetAdjustedRealTime() * to_ns(r.time_unit);
            rows.push_back(row);
        }
    }
    static double to_ns(benchmark::TimeUnit u) {
        switch (u) {
            case benchmark::kNanosecond: return 1;
            case benchmark::kMicrosecond: return 1e3;
            case benchmark::kMillisecond: return 1e6;
            case benchmark::kSecond: return 1e9;
        }
        return 1;
    }
    std::vector<Row> rows;
};

}  // namespace

int run_with_ratios(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
    RatioReporter reporter;
    benchmark::RunSpecifiedBenchmarks(&reporter);
    benchmark::Shutdown();

    std::map<std::string, double> by_name;
    for (const Row& r : reporter.rows) by_name[r.name] = r.ns_per_iter;
    bool header = false;
    for (const Row& r : reporter.rows) {
        if (r.peer.empty()) continue;
        auto peer = by_name.find(r.peer);
        if (peer == by_name.end()) continue;
        if (!header) {
            std::printf("\n%-60s %12s  %s\n", "case", "ratio", "(peer time / case time; >1 = faster than peer)");
            header = true;
        }
        std::printf("%-60s %11.2fx  vs %s\n", r.name.c_str(), peer->second / r.ns_per_iter, r.peer.c_str());
    }
    std::fflush(stdout);
    return 0;
}

}  // namespace prockit::bench
