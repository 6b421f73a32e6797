// paffinity's show mode: the affinity of the selected processes (or of each thread, -a), as a
// table, as JSON, or in taskset's words.
#include "modes.hpp"

#include "common/cli.hpp"
#include "common/exit_codes.hpp"
#include "common/json.hpp"

#include <prockit/proc/procfs.hpp>
#include <prockit/sched/affinity.hpp>

#include <cstdio>

namespace prockit::paffinity {

using tools::JsonWriter;

int run_show(const Options& o, const FsRoot& fs) {
    bool failed = false;
    auto procs = select(o, fs, failed);
    proc::ProcReader reader(fs);
    JsonWriter j;
    if (o.json) j.begin_object().key("processes").begin_array();
    if (!o.json && o.taskset_format.empty() && !procs.empty()) {
        char line[128];
        std::snprintf(line, sizeof line, "%8s %8s  %-16s %s", "PID", o.all_tasks ? "TID" : "THREADS", "NAME", "CPUS");
        out_line(line);
    }
    auto taskset_line = [&](pid_t tid, const CpuSet& s) {
        bool list = o.taskset_format == "list";
        out_line("pid " + std::to_string(tid) + "'s current affinity " + (list ? "list: " : "mask: ") +
                 (list ? s.to_list() : s.to_mask()));
    };
    std::size_t listed = 0;
    for (const proc::ProcessRef& p : procs) {
        // A process that exited since the selection found it is not listed (vanished()).
        auto main_mask = get_affinity(p.pid);
        if (!main_mask) {
            if (!vanished(o, p.pid, main_mask.error(), failed)) {
                tools::print_error(main_mask.error());
                failed = true;
            }
            continue;
        }
        std::vector<TaskAffinity> tasks;
        if (o.all_tasks) {
            auto t = get_affinity_all_threads(p.pid, fs);
            if (!t) {
                if (!vanished(o, p.pid, t.error(), failed)) {
                    tools::print_error(t.error());
                    failed = true;
                }
                continue;
            }
            tasks = std::move(*t);
        }
        ++listed;
        auto st = reader.stat(p.pid);
        long threads = st ? st->num_threads : p.threads;
        if (o.json) {
            j.begin_object().key("pid").value(p.pid).key("comm").value(p.comm).key("threads").value(threads);
            j.key("start_time").value(p.start_time);
            json_cpus(j, "cpus", *main_mask);
            j.key("mask").value(main_mask->to_mask());
            if (o.all_tasks) {
                j.key("tasks").begin_array();
                for (const TaskAffinity& t : tasks) {
                    j.begin_object().key("tid").value(t.tid).key("comm").value(thread_comm(reader, p.pid, t.tid));
                    json_cpus(j, "cpus", t.cpus);
                    j.end_object();
                }
                j.end_array();
            }
            j.end_object();
        } else if (!o.taskset_format.empty()) {
            if (o.all_tasks)
                for (const TaskAffinity& t : tasks) taskset_line(t.tid, t.cpus);
            else
                taskset_line(p.pid, *main_mask);
        } else {
            char line[256];
            if (o.all_tasks) {
                for (const TaskAffinity& t : tasks) {
                    std::snprintf(line, sizeof line, "%8d %8d  %-16s ", p.pid, t.tid, thread_comm(reader, p.pid, t.tid).c_str());
                    out_line(line + t.cpus.to_list());
                }
            } else {
                std::snprintf(line, sizeof line, "%8d %8ld  %-16s ", p.pid, threads, p.comm.c_str());
                out_line(line + main_mask->to_list());
            }
        }
    }
    none_left(o, procs.size(), listed, failed);
    if (o.json) {
        j.end_array().key("ok").value(!failed).end_object();
        out_line(j.str());
    }
    return failed ? tools::exit_failure : tools::exit_ok;
}

}  // namespace prockit::paffinity
