// paffinity's check mode (--check): threads whose mask differs from their process's, or from a
// given list.
#include "modes.hpp"

#include "common/cli.hpp"
#include "common/exit_codes.hpp"
#include "common/json.hpp"

#include <prockit/proc/procfs.hpp>
#include <prockit/sched/affinity.hpp>

#include <optional>

namespace prockit::paffinity {

using tools::JsonWriter;

int run_check(const Options& o, const FsRoot& fs) {
    std::optional<CpuSet> expected;
    if (o.check != "@") {
        auto topo = Topology::read_online(fs);
        if (!topo) throw SystemError(topo.error());
        expected = parse_cpus_option(o.check, "--check", *topo);
    }
    bool failed = false;
    auto procs = select(o, fs, failed);
    proc::ProcReader reader(fs);
    JsonWriter j;
    if (o.json) j.begin_object().key("processes").begin_array();
    std::size_t drifted = 0, threads = 0;
    std::size_t listed = 0;
    for (const proc::ProcessRef& p : procs) {
        auto main_mask = get_affinity(p.pid);
        auto tasks = get_affinity_all_threads(p.pid, fs);
        if (!main_mask || !tasks) {
            const Error& e = !main_mask ? main_mask.error() : tasks.error();
            if (!vanished(o, p.pid, e, failed)) {  // one that exited meanwhile is not checked
                tools::print_error(e);
                failed = true;
            }
            continue;
        }
        ++listed;
        const CpuSet& want = expected ? *expected : *main_mask;
        if (o.json) {
            j.begin_object().key("pid").value(p.pid).key("comm").value(p.comm);
            json_cpus(j, "expected", want);
            j.key("drift").begin_array();
        }
        for (const TaskAffinity& t : *tasks) {
            ++threads;
            if (t.cpus == want) continue;
            ++drifted;
            std::string tcomm = thread_comm(reader, p.pid, t.tid);
            if (o.json) {
                j.begin_object().key("tid").value(t.tid).key("comm").value(tcomm);
                json_cpus(j, "cpus", t.cpus);
                j.end_object();
            } else {
                out_line(who(p.pid, p.comm) + " thread " + std::to_string(t.tid) + " (" + tcomm + "): " +
                         t.cpus.to_list() + ", expected " + want.to_list());
            }
        }
        if (o.json) j.end_array().end_object();
    }
    none_left(o, procs.size(), listed, failed);
    if (o.json) {
        j.end_array().key("drifted_threads").value(static_cast<unsigned long>(drifted));
        j.key("ok").value(!failed && drifted == 0).end_object();
        out_line(j.str());
    } else if (drifted == 0 && !o.quiet && listed != 0) {
        out_line("no drift: " + std::to_string(listed) + (listed == 1 ? " process, " : " processes, ") +
                 std::to_string(threads) + (threads == 1 ? " thread" : " threads"));
    }
    return (failed || drifted) ? tools::exit_failure : tools::exit_ok;
}

}  // namespace prockit::paffinity
