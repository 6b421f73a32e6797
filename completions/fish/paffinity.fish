# fish completion for paffinity(1).
# Generated from paffinity's command line (build_cli) by tools/common/completion.cpp: do not edit;
# `cmake --build build --target update-completions` writes it again.

# The online CPUs, each one and the whole list; after a comma, the list's next element.
function __prockit_cpus
    set -l pre (string match -r '^.*,' -- (commandline -ct))
    test -r /sys/devices/system/cpu/online; or return 0
    set -l online (cat /sys/devices/system/cpu/online)
    for r in (string split , -- $online)
        set -l ab (string split - -- $r)
        for a in (seq $ab[1] $ab[-1])
            echo "$pre$a"
        end
    end
    test -z "$pre"; and echo $online
    return 0
end

# Prints the subcommand given (. for none), how many positionals it has so far, and the
# index of the word where a command starts (0: none), for the words before the cursor.
function __prockit_paffinity_walk
    set -l words (commandline -opc)
    set -l i 2
    set -l sub .
    set -l npos 0
    while test $i -le (count $words)
        set -l w $words[$i]
        switch $sub
            case .
                switch $w
                    case --
                        echo $sub\n$npos\n(math $i + 1)
                        return 0
                    case '-p' '--pid' '-n' '--name' '-m' '--match' '-e' '--exe' '-u' '--user' '--cgroup' '-s' '--set' '-c' '--cpus' '--cores' '--node' '--poll-interval'
                        set i (math $i + 1)
                    case '-*'
                        string match -qr -- '^-[0-9]' $w; and set npos (math $npos + 1)
                    case topology
                        if test $npos -eq 0
                            set sub $w
                        else
                            set npos (math $npos + 1)
                        end
                    case '*'
                        set npos (math $npos + 1)
                end
            case topology
                switch $w
                    case '-*'
                    case '*'
                        set npos (math $npos + 1)
                end
        end
        set i (math $i + 1)
    end
    echo $sub\n$npos\n0
end

# Whether the cursor is in subcommand $argv[1] (. for none), no command started, and (with
# $argv[2]) at positional $argv[2] (N+: N or later).
function __prockit_paffinity_in
    set -l st (__prockit_paffinity_walk)
    test $st[1] = $argv[1]; and test $st[3] -eq 0; or return 1
    set -q argv[2]; or return 0
    if string match -q -- '*+' $argv[2]
        test $st[2] -ge (string trim -c + -- $argv[2])
    else
        test $st[2] -eq $argv[2]
    end
end

# The command's own completion, from the word where it starts.
function __prockit_paffinity_complete_command
    set -l at (__prockit_paffinity_walk)[3]
    set -l words (commandline -opc)
    if test $at -gt (count $words)
        __fish_complete_command
        return
    end
    __fish_complete_subcommand --commandline $words[$at..-1] (commandline -ct)
end

complete -c paffinity -n 'test (__prockit_paffinity_walk)[3] -gt 0' -x -a '(__prockit_paffinity_complete_command)'
complete -c paffinity -n '__prockit_paffinity_in .' -s h -l help -f -d 'Print this help and exit'
complete -c paffinity -n '__prockit_paffinity_in .' -s V -l version -f -d 'Print the version and exit'
complete -c paffinity -n '__prockit_paffinity_in .' -s p -l pid -x -a '(__fish_complete_pids)' -d 'Select the process with this PID'
complete -c paffinity -n '__prockit_paffinity_in .' -s n -l name -x -d 'Select processes whose name (comm) is NAME'
complete -c paffinity -n '__prockit_paffinity_in .' -s m -l match -x -d 'Select processes whose command line matches REGEX (POSIX ERE)'
complete -c paffinity -n '__prockit_paffinity_in .' -s e -l exe -r -F -d 'Select processes running the executable PATH'
complete -c paffinity -n '__prockit_paffinity_in .' -s u -l user -x -a '(__fish_complete_users)' -d 'Select processes of USER (name or UID)'
complete -c paffinity -n '__prockit_paffinity_in .' -l cgroup -r -F -d 'Select processes in cgroup PATH or below it'
complete -c paffinity -n '__prockit_paffinity_in .' -l allow-none -f -d 'A selection that matches nothing is not an error'
complete -c paffinity -n '__prockit_paffinity_in .' -s s -l set -x -a '(__prockit_cpus)' -d 'Set the affinity of the selected processes to LIST'
complete -c paffinity -n '__prockit_paffinity_in .' -s c -l cpus -x -a '(__prockit_cpus)' -d 'Run COMMAND (after \'--\') on LIST: set own affinity, then exec'
complete -c paffinity -n '__prockit_paffinity_in .' -l cores -x -d 'Use N physical cores, one hardware thread each'
complete -c paffinity -n '__prockit_paffinity_in .' -l no-smt -f -d 'Use one hardware thread per core'
complete -c paffinity -n '__prockit_paffinity_in .' -l node -x -d 'Use the CPUs of NUMA node(s) N (a list: 0,1)'
complete -c paffinity -n '__prockit_paffinity_in .' -l spread -f -d 'With -a: give each thread its own CPU, round robin'
complete -c paffinity -n '__prockit_paffinity_in .' -l strict -f -d 'Fail instead of dropping CPUs that are offline or outside the cpuset'
complete -c paffinity -n '__prockit_paffinity_in .' -l dry-run -f -d 'Compute and show the masks, change nothing'
complete -c paffinity -n '__prockit_paffinity_in .' -s f -l follow -f -d 'Keep applying the mask to new threads and child processes until interrupted (implies -a)'
complete -c paffinity -n '__prockit_paffinity_in .' -l poll -f -d 'With --follow: poll /proc even when netlink events are available'
complete -c paffinity -n '__prockit_paffinity_in .' -l poll-interval -x -d 'With --follow by polling: interval in ms (default 100)'
complete -c paffinity -n '__prockit_paffinity_in .' -s a -l all-tasks -f -d 'Every thread (task) of each process'
complete -c paffinity -n '__prockit_paffinity_in .' -l check -f -d 'Report threads whose mask differs from their process\'s (or from --check=LIST); exit 1 on drift'
complete -c paffinity -n '__prockit_paffinity_in .' -s J -l json -f -d 'Machine-readable output on stdout'
complete -c paffinity -n '__prockit_paffinity_in .' -l taskset-format -f -d 'Print taskset\'s exact wording (--taskset-format=list for lists)'
complete -c paffinity -n '__prockit_paffinity_in .' -s q -l quiet -f -d 'Print nothing on success when changing'
complete -c paffinity -n '__prockit_paffinity_in . 0+' -f -a '(__fish_complete_pids)'
complete -c paffinity -n '__prockit_paffinity_in .' -f
complete -c paffinity -n '__prockit_paffinity_in . 0' -f -a topology -d 'Show CPUs, cores, SMT siblings, NUMA nodes, isolated CPUs'
complete -c paffinity -n '__prockit_paffinity_in topology' -s J -l json -f -d 'Machine-readable output on stdout'
complete -c paffinity -n '__prockit_paffinity_in topology' -s h -l help -f -d 'Print this help and exit'
complete -c paffinity -n '__prockit_paffinity_in topology' -f
