// paffinity's launch mode (--cpus LIST -- COMMAND): sets its own affinity, then execs the command.
#include "modes.hpp"

#include "common/cli.hpp"
#include "common/exit_codes.hpp"
#include "common/json.hpp"

#include <prockit/sched/affinity.hpp>

#include <cerrno>
#include <cstdio>
#include <unistd.h>

namespace prockit::paffinity {

using tools::JsonWriter;

int run_launch(const Options& o, const FsRoot& fs) {
    auto topo = topology_for(o, fs);
    if (!topo) throw SystemError(topo.error());
    Request req = make_request(o, *topo);
    std::string name = "'" + o.command[0] + "'";
    const bool planned = cpuset_first(o, fs);  // else what is dropped is reported after the change
    auto plan = make_plan(o, req, *topo, 0, name, fs, planned);
    if (!plan) {
        tools::print_error(plan.error());
        return tools::exit_failure;
    }
    if (!plan->dropped.empty() && planned) {
        if (o.strict) {
            tools::print_error("cannot use all requested CPUs for " + name + " (--strict): " + plan->dropped_why);
            return tools::exit_failure;
        }
        tools::print_warning("CPUs " + plan->dropped.to_list() + " dropped: " + plan->dropped_why);
    }
    if (o.dry_run) {
        std::string cmd;
        for (const std::string& a : o.command) cmd += (cmd.empty() ? "" : " ") + a;
        if (o.json) {
            JsonWriter j;
            j.begin_object();
            json_cpus(j, "cpus", plan->mask);
            j.key("dropped").value(plan->dropped.to_list()).key("command").begin_array();
            for (const std::string& a : o.command) j.value(a);
            j.end_array().end_object();
            out_line(j.str());
        } else {
            out_line("would run '" + cmd + "' on CPUs " + plan->mask.to_list());
        }
        return tools::exit_ok;
    }
    CpuSet mask = plan->mask;
    if (auto st = set_affinity(0, mask); !st) {
        tools::print_error(refused(Error(st.error().code(), "set affinity of paffinity itself"), mask, false,
                                   [&] { return make_plan(o, req, *topo, 0, name, fs, true); }));
        return tools::exit_failure;
    }
    if (std::string warning = settle(*plan, read_kept(0, mask, fs), planned, ""); !warning.empty())
        tools::print_warning(warning);
    std::vector<char*> argv;
    for (const std::string& a : o.command) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    std::fflush(stdout);
    ::execvp(argv[0], argv.data());
    int err = errno;
    tools::print_error(Error::from_errno(err, "execute " + o.command[0]));
    return tools::exit_status_for_exec_errno(err);
}

}  // namespace prockit::paffinity
