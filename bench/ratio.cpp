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
    bool median = false;
    bool paired = false;     // label "paired:<peer>": the case ran in pairs with its peer
    double ratio = 0;        // paired: the counter "ratio" (peer time / case time)
    double peer_ms = 0;      // paired: the counter "peer_ms"
};

// Collects every run (forwarding to the console reporter) so ratios can be printed at the end.
class RatioReporter : public benchmark::ConsoleReporter {
public:
    void ReportRuns(const std::vector<Run>& runs) override {
        ConsoleReporter::ReportRuns(runs);
        for (const Run& r : runs) {
            // With --benchmark_repetitions, the median of the repetitions stands for the case.
            bool median = r.run_type == Run::RT_Aggregate && r.aggregate_name == "median";
            if (r.error_occurred || (!median && (r.run_type != Run::RT_Iteration || r.iterations == 0))) continue;
            Row row;
            row.name = median ? r.run_name.str() : r.benchmark_name();
            row.median = median;
            if (r.report_label.rfind("vs:", 0) == 0) row.peer = r.report_label.substr(3);
            if (r.report_label.rfind("paired:", 0) == 0) {
                auto ratio = r.counters.find("ratio");
                auto peer_ms = r.counters.find("peer_ms");
                if (ratio == r.counters.end() || peer_ms == r.counters.end()) continue;
                row.paired = true;
                row.peer = r.report_label.substr(7);
                row.ratio = ratio->second.value;
                row.peer_ms = peer_ms->second.value;
            }
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

int run_with_ratios(int argc, char** argv, const std::vector<std::string>& phases) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
    RatioReporter reporter;
    std::string filter = benchmark::GetBenchmarkFilter();
    if (phases.empty() || !(filter.empty() || filter == "." || filter == "all")) {
        benchmark::RunSpecifiedBenchmarks(&reporter);
    } else {
        for (const std::string& phase : phases) benchmark::RunSpecifiedBenchmarks(&reporter, phase);
    }
    benchmark::Shutdown();

    // A median row replaces the single runs of its case.
    std::map<std::string, double> by_name;
    std::map<std::string, bool> has_median;
    for (const Row& r : reporter.rows)
        if (r.median) has_median[r.name] = true;
    std::vector<Row> rows;
    for (const Row& r : reporter.rows)
        if (r.median || !has_median[r.name]) rows.push_back(r);
    for (const Row& r : rows) by_name[r.name] = r.ns_per_iter;
    bool header = false;
    for (const Row& r : rows) {
        if (r.peer.empty()) continue;
        double ratio = r.ratio;
        std::string peer = r.peer;
        if (r.paired) {
            char buf[64];
            std::snprintf(buf, sizeof buf, " (in pairs: %.3f ms vs %.3f ms)", r.ns_per_iter / 1e6, r.peer_ms);
            peer += buf;
        } else {
            auto p = by_name.find(r.peer);
            if (p == by_name.end()) continue;
            ratio = p->second / r.ns_per_iter;
        }
        if (!header) {
            std::printf("\n%-60s %12s  %s\n", "case", "ratio", "(peer time / case time; >1 = faster than peer)");
            header = true;
        }
        std::printf("%-60s %11.2fx  vs %s\n", r.name.c_str(), ratio, peer.c_str());
    }
    std::fflush(stdout);
    return 0;
}

}  // namespace prockit::bench
