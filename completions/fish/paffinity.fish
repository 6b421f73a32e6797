# fish completion for paffinity(1).
# Generated from paffinity's command line (build_cli) by tools/common/completion.cpp: do not edit;
# `cmake --build build --target update-completions` writes it again.

# Prints where the command starts (after "--"), as an index into the command line's words.
function __prockit_paffinity_command_at
    set -l words (commandline -opc)
    set -l i 2
    while test $i -le (count $words)
        switch $words[$i]
            case --
                echo (math $i + 1)
                return 0
            case '-p' '--pid' '-n' '--name' '-m' '--match' '-e' '--exe' '-u' '--user' '--cgroup' '-s' '--set' '-c' '--cpus' '--cores' '--node' '--poll-interval'
                set i (math $i + 1)
            case '-*'
        end
        set i (math $i + 1)
    end
    return 1
end

# The command's own completion, from the word where it starts.
function __prockit_paffinity_complete_command
    set -l at (__prockit_paffinity_command_at)
    set -l words (commandline -opc)
    set -l cmd
    if test $at -gt (count $words)
        __fish_complete_command
        return
    end
    set cmd $words[$at..-1]
    __fish_complete_subcommand --commandline $cmd (commandline -ct)
end

complete -c paffinity -n '__prockit_paffinity_command_at >/dev/null' -x -a '(__prockit_paffinity_complete_command)'
complete -c paffinity -n 'not __prockit_paffinity_command_at; and __fish_use_subcommand' -f -a topology -d 'Show CPUs, cores, SMT siblings, NUMA nodes, isolated CPUs'
complete -c paffinity -n '__fish_seen_subcommand_from topology' -s J -l json -f -d 'Machine-readable output on stdout'
complete -c paffinity -n '__fish_seen_subcommand_from topology' -s h -l help -f -d 'Print this help and exit'
complete -c paffinity -n 'not __prockit_paffinity_command_at; and not __fish_seen_subcommand_from topology' -s h -l help -f -d 'Print this help and exit'
complete -c paffinity -n 'not __prockit_paffinity_command_at; and not __fish_seen_subcommand_from topology' -s V -l version -f -d 'Print the version and exit'
complete -c paffinity -n 'not __prockit_paffinity_command_at; and not __fish_seen_subcommand_from topology' -s p -l pid -x -a '(__fish_complete_pids)' -d 'Select the process with this PID'
complete -c paffinity -n 'not __prockit_paffinity_command_at; and not __fish_seen_subcommand_from topology' -s n -l name -x -d 'Select processes whose name (comm) is NAME'
complete -c paffinity -n 'not __prockit_paffinity_command_at; and not __fish_seen_subcommand_from topology' -s m -l match -x -d 'Select processes whose command line matches REGEX (POSIX ERE)'
complete -c paffinity -n 'not __prockit_paffinity_command_at; and not __fish_seen_subcommand_from topology' -s e -l exe -r -F -d 'Select processes running the executable PATH'
complete -c paffinity -n 'not __prockit_paffinity_command_at; and not __fish_seen_subcommand_from topology' -s u -l user -x -a '(__fish_complete_users)' -d 'Select processes of USER (name or UID)'
complete -c paffinity -n 'not __prockit_paffinity_command_at; and not __fish_seen_subcommand_from topology' -l cgroup -r -F -d 'Select processes in cgroup PATH or below it'
complete -c paffinity -n 'not __prockit_paffinity_command_at; and not __fish_seen_subcommand_from topology' -l allow-none -f -d 'A selection that matches nothing is not an error'
complete -c paffinity -n 'not __prockit_paffinity_command_at; and not __fish_seen_subcommand_from topology' -s s -l set -x -d 'Set the affinity of the selected processes to LIST'
complete -c paffinity -n 'not __prockit_paffinity_command_at; and not __fish_seen_subcommand_from topology' -s c -l cpus -x -d 'Run COMMAND (after \'--\') on LIST: set own affinity, then exec'
complete -c paffinity -n 'not __prockit_paffinity_command_at; and not __fish_seen_subcommand_from topology' -l cores -x -d 'Use N physical cores, one hardware thread each'
complete -c paffinity -n 'not __prockit_paffinity_command_at; and not __fish_seen_subcommand_from topology' -l no-smt -f -d 'Use one hardware thread per core'
complete -c paffinity -n 'not __prockit_paffinity_command_at; and not __fish_seen_subcommand_from topology' -l node -x -d 'Use the CPUs of NUMA node(s) N (a list: 0,1)'
complete -c paffinity -n 'not __prockit_paffinity_command_at; and not __fish_seen_subcommand_from topology' -l spread -f -d 'With -a: give each thread its own CPU, round robin'
complete -c paffinity -n 'not __prockit_paffinity_command_at; and not __fish_seen_subcommand_from topology' -l strict -f -d 'Fail instead of dropping CPUs that are offline or outside the cpuset'
complete -c paffinity -n 'not __prockit_paffinity_command_at; and not __fish_seen_subcommand_from topology' -l dry-run -f -d 'Compute and show the masks, change nothing'
complete -c paffinity -n 'not __prockit_paffinity_command_at; and not __fish_seen_subcommand_from topology' -s f -l follow -f -d 'Keep applying the mask to new threads and child processes until interrupted (implies -a)'
complete -c paffinity -n 'not __prockit_paffinity_command_at; and not __fish_seen_subcommand_from topology' -l poll -f -d 'With --follow: poll /proc even when netlink events are available'
complete -c paffinity -n 'not __prockit_paffinity_command_at; and not __fish_seen_subcommand_from topology' -l poll-interval -x -d 'With --follow by polling: interval in ms (default 100)'
complete -c paffinity -n 'not __prockit_paffinity_command_at; and not __fish_seen_subcommand_from topology' -s a -l all-tasks -f -d 'Every thread (task) of each process'
complete -c paffinity -n 'not __prockit_paffinity_command_at; and not __fish_seen_subcommand_from topology' -l check -f -d 'Report threads whose mask differs from their process\'s (or from --check=LIST); exit 1 on drift'
complete -c paffinity -n 'not __prockit_paffinity_command_at; and not __fish_seen_subcommand_from topology' -s J -l json -f -d 'Machine-readable output on stdout'
complete -c paffinity -n 'not __prockit_paffinity_command_at; and not __fish_seen_subcommand_from topology' -l taskset-format -f -d 'Print taskset\'s exact wording (--taskset-format=list for lists)'
complete -c paffinity -n 'not __prockit_paffinity_command_at; and not __fish_seen_subcommand_from topology' -s q -l quiet -f -d 'Print nothing on success when changing'
complete -c paffinity -n 'not __prockit_paffinity_command_at; and not __fish_seen_subcommand_from topology' -f -a '(__fish_complete_pids)'
