# fish completion for pjobs(1).
# Generated from pjobs's command line (build_cli) by tools/common/completion.cpp: do not edit;
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
function __prockit_pjobs_walk
    set -l words (commandline -opc)
    set -l i 2
    set -l sub .
    set -l npos 0
    while test $i -le (count $words)
        set -l w $words[$i]
        switch $sub
            case .
                switch $w
                    case '-*'
                    case run list fg bg stop kill wait logs rm clean group server
                        if test $npos -eq 0
                            set sub $w
                        else
                            set npos (math $npos + 1)
                        end
                    case '*'
                        set npos (math $npos + 1)
                end
            case run
                switch $w
                    case --
                        echo $sub\n$npos\n(math $i + 1)
                        return 0
                    case '--name' '--group' '--after' '--cwd' '--env' '--cpus' '--nice' '--oom-score-adj'
                        set i (math $i + 1)
                    case '-*'
                    case '*'
                        echo $sub\n$npos\n$i
                        return 0
                end
            case list
                switch $w
                    case '-*'
                    case '*'
                        set npos (math $npos + 1)
                end
            case fg
                switch $w
                    case '--detach-key'
                        set i (math $i + 1)
                    case '-*'
                        string match -qr -- '^-[0-9]' $w; and set npos (math $npos + 1)
                    case '*'
                        set npos (math $npos + 1)
                end
            case bg
                switch $w
                    case '-*'
                        string match -qr -- '^-[0-9]' $w; and set npos (math $npos + 1)
                    case '*'
                        set npos (math $npos + 1)
                end
            case stop
                switch $w
                    case '-*'
                        string match -qr -- '^-[0-9]' $w; and set npos (math $npos + 1)
                    case '*'
                        set npos (math $npos + 1)
                end
            case kill
                switch $w
                    case '-s' '--signal'
                        set i (math $i + 1)
                    case '-*'
                        string match -qr -- '^-[0-9]' $w; and set npos (math $npos + 1)
                    case '*'
                        set npos (math $npos + 1)
                end
            case wait
                switch $w
                    case '-*'
                        string match -qr -- '^-[0-9]' $w; and set npos (math $npos + 1)
                    case '*'
                        set npos (math $npos + 1)
                end
            case logs
                switch $w
                    case '--tail'
                        set i (math $i + 1)
                    case '-*'
                        string match -qr -- '^-[0-9]' $w; and set npos (math $npos + 1)
                    case '*'
                        set npos (math $npos + 1)
                end
            case rm
                switch $w
                    case '-*'
                        string match -qr -- '^-[0-9]' $w; and set npos (math $npos + 1)
                    case '*'
                        set npos (math $npos + 1)
                end
            case clean
                switch $w
                    case '-*'
                    case '*'
                        set npos (math $npos + 1)
                end
            case group
                switch $w
                    case '--parallel'
                        set i (math $i + 1)
                    case '-*'
                        string match -qr -- '^-[0-9]' $w; and set npos (math $npos + 1)
                    case '*'
                        set npos (math $npos + 1)
                end
            case server
                switch $w
                    case '-*'
                        string match -qr -- '^-[0-9]' $w; and set npos (math $npos + 1)
                    case '*'
                        set npos (math $npos + 1)
                end
        end
        set i (math $i + 1)
    end
    # The word being typed starts the command when it is no option and no option's value.
    if contains -- $sub run; and test $i -eq (math (count $words) + 1)
        and not string match -q -- '-*' (commandline -ct)
        echo $sub\n$npos\n$i
        return 0
    end
    echo $sub\n$npos\n0
end

# Whether the cursor is in subcommand $argv[1] (. for none), no command started, and (with
# $argv[2]) at positional $argv[2] (N+: N or later).
function __prockit_pjobs_in
    set -l st (__prockit_pjobs_walk)
    test $st[1] = $argv[1]; and test $st[3] -eq 0; or return 1
    set -q argv[2]; or return 0
    if string match -q -- '*+' $argv[2]
        test $st[2] -ge (string trim -c + -- $argv[2])
    else
        test $st[2] -eq $argv[2]
    end
end

# The command's own completion, from the word where it starts.
function __prockit_pjobs_complete_command
    set -l at (__prockit_pjobs_walk)[3]
    set -l words (commandline -opc)
    if test $at -gt (count $words)
        __fish_complete_command
        return
    end
    __fish_complete_subcommand --commandline $words[$at..-1] (commandline -ct)
end

complete -c pjobs -n 'test (__prockit_pjobs_walk)[3] -gt 0' -x -a '(__prockit_pjobs_complete_command)'
complete -c pjobs -n '__prockit_pjobs_in .' -s h -l help -f -d 'Print this help message and exit'
complete -c pjobs -n '__prockit_pjobs_in .' -s V -l version -f -d 'Print the version and exit'
complete -c pjobs -n '__prockit_pjobs_in .' -f
complete -c pjobs -n '__prockit_pjobs_in . 0' -f -a run -d 'Start CMD as a background job; prints [N] PID'
complete -c pjobs -n '__prockit_pjobs_in run' -s h -l help -f -d 'Print this help message and exit'
complete -c pjobs -n '__prockit_pjobs_in run' -l name -x -d 'Name the job (then %NAME names it)'
complete -c pjobs -n '__prockit_pjobs_in run' -l group -x -d 'Queue the job in group G (see \'pjobs group\')'
complete -c pjobs -n '__prockit_pjobs_in run' -l after -x -a '(command -q pjobs; and pjobs list --specs 2>/dev/null)' -d 'Start the job once job SPEC has succeeded'
complete -c pjobs -n '__prockit_pjobs_in run' -l no-tty -f -d 'Run without a pty: stdin /dev/null, output to the log'
complete -c pjobs -n '__prockit_pjobs_in run' -l cwd -x -a '(__fish_complete_directories)' -d 'Working directory (default: the current one)'
complete -c pjobs -n '__prockit_pjobs_in run' -l env -x -d 'Set an environment variable (repeatable)'
complete -c pjobs -n '__prockit_pjobs_in run' -l cpus -x -a '(__prockit_cpus)' -d 'Pin the job to these CPUs (a list, as in prun)'
complete -c pjobs -n '__prockit_pjobs_in run' -l nice -x -d 'Nice value, -20..19'
complete -c pjobs -n '__prockit_pjobs_in run' -l oom-score-adj -x -d 'OOM score adjustment, -1000..1000'
complete -c pjobs -n '__prockit_pjobs_in run' -f
complete -c pjobs -n '__prockit_pjobs_in . 0' -f -a list -d 'List the jobs like \'jobs -l\''
complete -c pjobs -n '__prockit_pjobs_in list' -s h -l help -f -d 'Print this help message and exit'
complete -c pjobs -n '__prockit_pjobs_in list' -s J -l json -f -d 'Print the jobs as a JSON array'
complete -c pjobs -n '__prockit_pjobs_in list' -l specs -f -d 'Print only the job specs (%N, %NAME), one a line; start no server (none: print nothing)'
complete -c pjobs -n '__prockit_pjobs_in list' -f
complete -c pjobs -n '__prockit_pjobs_in . 0' -f -a fg -d 'Attach this terminal to a job (default: the current job)'
complete -c pjobs -n '__prockit_pjobs_in fg' -s h -l help -f -d 'Print this help message and exit'
complete -c pjobs -n '__prockit_pjobs_in fg' -l detach-key -x -d 'Key that detaches: ^X, one character, or none (default ^\\)'
complete -c pjobs -n '__prockit_pjobs_in fg 0' -f -a '(command -q pjobs; and pjobs list --specs 2>/dev/null)'
complete -c pjobs -n '__prockit_pjobs_in fg' -f
complete -c pjobs -n '__prockit_pjobs_in . 0' -f -a bg -d 'Continue stopped jobs in the background'
complete -c pjobs -n '__prockit_pjobs_in bg' -s h -l help -f -d 'Print this help message and exit'
complete -c pjobs -n '__prockit_pjobs_in bg 0+' -f -a '(command -q pjobs; and pjobs list --specs 2>/dev/null)'
complete -c pjobs -n '__prockit_pjobs_in bg' -f
complete -c pjobs -n '__prockit_pjobs_in . 0' -f -a stop -d 'Stop jobs (SIGTSTP to their process group)'
complete -c pjobs -n '__prockit_pjobs_in stop' -s h -l help -f -d 'Print this help message and exit'
complete -c pjobs -n '__prockit_pjobs_in stop 0+' -f -a '(command -q pjobs; and pjobs list --specs 2>/dev/null)'
complete -c pjobs -n '__prockit_pjobs_in stop' -f
complete -c pjobs -n '__prockit_pjobs_in . 0' -f -a kill -d 'Send a signal to jobs\' process groups (default TERM)'
complete -c pjobs -n '__prockit_pjobs_in kill' -s h -l help -f -d 'Print this help message and exit'
complete -c pjobs -n '__prockit_pjobs_in kill' -s s -l signal -x -a 'HUP INT QUIT ILL TRAP ABRT BUS FPE KILL USR1 SEGV USR2 PIPE ALRM TERM STKFLT CHLD CONT STOP TSTP TTIN TTOU URG XCPU XFSZ VTALRM PROF WINCH IO PWR SYS' -d 'The signal, by name or number'
complete -c pjobs -n '__prockit_pjobs_in kill' -l tree -f -d 'Also signal descendants outside the job\'s process group'
complete -c pjobs -n '__prockit_pjobs_in kill 0+' -f -a '(command -q pjobs; and pjobs list --specs 2>/dev/null)'
complete -c pjobs -n '__prockit_pjobs_in kill' -f
complete -c pjobs -n '__prockit_pjobs_in . 0' -f -a wait -d 'Wait for jobs; the status is the last one\'s, as in a shell'
complete -c pjobs -n '__prockit_pjobs_in wait' -s h -l help -f -d 'Print this help message and exit'
complete -c pjobs -n '__prockit_pjobs_in wait 0+' -f -a '(command -q pjobs; and pjobs list --specs 2>/dev/null)'
complete -c pjobs -n '__prockit_pjobs_in wait' -f
complete -c pjobs -n '__prockit_pjobs_in . 0' -f -a logs -d 'Print a job\'s output log'
complete -c pjobs -n '__prockit_pjobs_in logs' -s h -l help -f -d 'Print this help message and exit'
complete -c pjobs -n '__prockit_pjobs_in logs' -s f -l follow -f -d 'Keep printing new output until the job ends'
complete -c pjobs -n '__prockit_pjobs_in logs' -l tail -x -d 'Only the last N lines'
complete -c pjobs -n '__prockit_pjobs_in logs 0' -f -a '(command -q pjobs; and pjobs list --specs 2>/dev/null)'
complete -c pjobs -n '__prockit_pjobs_in logs' -f
complete -c pjobs -n '__prockit_pjobs_in . 0' -f -a rm -d 'Forget finished jobs and remove their logs'
complete -c pjobs -n '__prockit_pjobs_in rm' -s h -l help -f -d 'Print this help message and exit'
complete -c pjobs -n '__prockit_pjobs_in rm 0+' -f -a '(command -q pjobs; and pjobs list --specs 2>/dev/null)'
complete -c pjobs -n '__prockit_pjobs_in rm' -f
complete -c pjobs -n '__prockit_pjobs_in . 0' -f -a clean -d 'Forget every finished job'
complete -c pjobs -n '__prockit_pjobs_in clean' -s h -l help -f -d 'Print this help message and exit'
complete -c pjobs -n '__prockit_pjobs_in clean' -f
complete -c pjobs -n '__prockit_pjobs_in . 0' -f -a group -d 'Show or set a group\'s parallelism (default 1)'
complete -c pjobs -n '__prockit_pjobs_in group' -s h -l help -f -d 'Print this help message and exit'
complete -c pjobs -n '__prockit_pjobs_in group' -l parallel -x -d 'Run up to N of the group\'s jobs at once'
complete -c pjobs -n '__prockit_pjobs_in group' -f
complete -c pjobs -n '__prockit_pjobs_in . 0' -f -a server -d 'Control the per-user server: status, stop, run (foreground)'
complete -c pjobs -n '__prockit_pjobs_in server' -s h -l help -f -d 'Print this help message and exit'
complete -c pjobs -n '__prockit_pjobs_in server' -s J -l json -f -d 'Print the status as JSON'
complete -c pjobs -n '__prockit_pjobs_in server 0' -f -a 'status stop run'
complete -c pjobs -n '__prockit_pjobs_in server' -f
