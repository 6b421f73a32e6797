# fish completion for paffinity(1)
function __paffinity_pids
    for d in /proc/[0-9]*
        set -l pid (string replace /proc/ '' $d)
        printf '%s\t%s\n' $pid (cat $d/comm 2>/dev/null)
    end
end

complete -c paffinity -f
complete -c paffinity -n __fish_use_subcommand -a topology -d 'Show CPUs, cores, SMT siblings, NUMA nodes'
complete -c paffinity -n 'not __fish_seen_subcommand_from topology' -a '(__paffinity_pids)'
complete -c paffinity -s h -l help -d 'Print help'
complete -c paffinity -s V -l version -d 'Print the version'
complete -c paffinity -s p -l pid -x -a '(__paffinity_pids)' -d 'Select the process with this PID'
complete -c paffinity -s n -l name -x -a '(cat /proc/[0-9]*/comm 2>/dev/null | sort -u)' -d 'Select processes by name'
complete -c paffinity -s m -l match -x -d 'Select by command-line regex'
complete -c paffinity -s e -l exe -r -F -d 'Select processes running an executable'
complete -c paffinity -s u -l user -x -a '(__fish_complete_users)' -d 'Select processes of a user'
complete -c paffinity -l cgroup -x -a '(__fish_complete_directories)' -d 'Select processes in a cgroup'
complete -c paffinity -l allow-none -d 'A selection that matches nothing is not an error'
complete -c paffinity -s s -l set -x -d 'Set the affinity to a CPU list'
complete -c paffinity -s c -l cpus -x -d 'Run a command (after --) on a CPU list'
complete -c paffinity -l cores -x -d 'Use N physical cores, one thread each'
complete -c paffinity -l no-smt -d 'Use one hardware thread per core'
complete -c paffinity -l node -x -d 'Use the CPUs of NUMA nodes'
complete -c paffinity -l spread -d 'With -a, give each thread its own CPU'
complete -c paffinity -l strict -d 'Fail instead of dropping CPUs'
complete -c paffinity -l dry-run -d 'Show what would be set, change nothing'
complete -c paffinity -s f -l follow -d 'Keep applying to new threads and children'
complete -c paffinity -l poll -d 'With --follow, poll /proc'
complete -c paffinity -l poll-interval -x -d 'Polling interval (ms)'
complete -c paffinity -s a -l all-tasks -d 'Every thread of each process'
complete -c paffinity -l check -d 'Report drifted threads (--check=LIST)'
complete -c paffinity -s J -l json -d 'Machine-readable output'
complete -c paffinity -l taskset-format -d "Print taskset's wording (=list for lists)"
complete -c paffinity -s q -l quiet -d 'Print nothing on success'
