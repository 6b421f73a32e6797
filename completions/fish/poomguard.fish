# fish completion for poomguard(1).
# Generated from poomguard's command line (build_cli) by tools/common/completion.cpp: do not edit;
# `cmake --build build --target update-completions` writes it again.

# Prints the subcommand given (. for none), how many positionals it has so far, and the
# index of the word where a command starts (0: none), for the words before the cursor.
function __prockit_poomguard_walk
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
                    case show top set run watch audit check-config
                        if test $npos -eq 0
                            set sub $w
                        else
                            set npos (math $npos + 1)
                        end
                    case '*'
                        set npos (math $npos + 1)
                end
            case show
                switch $w
                    case '-p' '--pid' '-n' '--name' '-m' '--match' '-e' '--exe' '-u' '--user' '--cgroup' '--pidfile' '--unit'
                        set i (math $i + 1)
                    case '-*'
                        string match -qr -- '^-[0-9]' $w; and set npos (math $npos + 1)
                    case '*'
                        set npos (math $npos + 1)
                end
            case top
                switch $w
                    case '-n' '--count' '-i' '--interval'
                        set i (math $i + 1)
                    case '-*'
                    case '*'
                        set npos (math $npos + 1)
                end
            case set
                switch $w
                    case '-p' '--pid' '-n' '--name' '-m' '--match' '-e' '--exe' '-u' '--user' '--cgroup' '--pidfile' '--unit' '--children'
                        set i (math $i + 1)
                    case '-*'
                        string match -qr -- '^-[0-9]' $w; and set npos (math $npos + 1)
                    case '*'
                        set npos (math $npos + 1)
                end
            case run
                switch $w
                    case --
                        echo $sub\n$npos\n(math $i + 1)
                        return 0
                    case '-*'
                        string match -qr -- '^-[0-9]' $w; and set npos (math $npos + 1)
                    case '*'
                        set npos (math $npos + 1)
                end
            case watch
                switch $w
                    case '-c' '--config' '--interval'
                        set i (math $i + 1)
                    case '-*'
                    case '*'
                        set npos (math $npos + 1)
                end
            case audit
                switch $w
                    case '-c' '--config'
                        set i (math $i + 1)
                    case '-*'
                    case '*'
                        set npos (math $npos + 1)
                end
            case check-config
                switch $w
                    case '-*'
                        string match -qr -- '^-[0-9]' $w; and set npos (math $npos + 1)
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
function __prockit_poomguard_in
    set -l st (__prockit_poomguard_walk)
    test $st[1] = $argv[1]; and test $st[3] -eq 0; or return 1
    set -q argv[2]; or return 0
    if string match -q -- '*+' $argv[2]
        test $st[2] -ge (string trim -c + -- $argv[2])
    else
        test $st[2] -eq $argv[2]
    end
end

# The command's own completion, from the word where it starts.
function __prockit_poomguard_complete_command
    set -l at (__prockit_poomguard_walk)[3]
    set -l words (commandline -opc)
    if test $at -gt (count $words)
        __fish_complete_command
        return
    end
    __fish_complete_subcommand --commandline $words[$at..-1] (commandline -ct)
end

complete -c poomguard -n 'test (__prockit_poomguard_walk)[3] -gt 0' -x -a '(__prockit_poomguard_complete_command)'
complete -c poomguard -n '__prockit_poomguard_in .' -s h -l help -f -d 'Print this help and exit'
complete -c poomguard -n '__prockit_poomguard_in .' -s V -l version -f -d 'Print the version and exit'
complete -c poomguard -n '__prockit_poomguard_in .' -f
complete -c poomguard -n '__prockit_poomguard_in . 0' -f -a show -d 'Show oom_score, oom_score_adj, RSS and swap of processes (all by default)'
complete -c poomguard -n '__prockit_poomguard_in show' -s h -l help -f -d 'Print this help and exit'
complete -c poomguard -n '__prockit_poomguard_in show' -s p -l pid -x -a '(__fish_complete_pids)' -d 'Select the process with this PID'
complete -c poomguard -n '__prockit_poomguard_in show' -s n -l name -x -d 'Select processes whose name (comm) is NAME'
complete -c poomguard -n '__prockit_poomguard_in show' -s m -l match -x -d 'Select processes whose command line matches REGEX (POSIX ERE)'
complete -c poomguard -n '__prockit_poomguard_in show' -s e -l exe -r -F -d 'Select processes running the executable PATH'
complete -c poomguard -n '__prockit_poomguard_in show' -s u -l user -x -a '(__fish_complete_users)' -d 'Select processes of USER (name or UID)'
complete -c poomguard -n '__prockit_poomguard_in show' -l cgroup -r -F -d 'Select processes in cgroup PATH or below it'
complete -c poomguard -n '__prockit_poomguard_in show' -l pidfile -r -F -d 'Select the process whose PID FILE holds'
complete -c poomguard -n '__prockit_poomguard_in show' -l unit -x -d 'Select the processes of systemd unit NAME (NAME.service unless a suffix is given)'
complete -c poomguard -n '__prockit_poomguard_in show' -l allow-none -f -d 'A selection that matches nothing is not an error'
complete -c poomguard -n '__prockit_poomguard_in show' -s J -l json -f -d 'Machine-readable output on stdout'
complete -c poomguard -n '__prockit_poomguard_in show 0+' -f -a '(__fish_complete_pids)'
complete -c poomguard -n '__prockit_poomguard_in show' -f
complete -c poomguard -n '__prockit_poomguard_in . 0' -f -a top -d 'Rank processes by oom_score: who the kernel would kill next'
complete -c poomguard -n '__prockit_poomguard_in top' -s h -l help -f -d 'Print this help and exit'
complete -c poomguard -n '__prockit_poomguard_in top' -s n -l count -x -d 'Show the first N processes (0: all; default 10, or a screenful)'
complete -c poomguard -n '__prockit_poomguard_in top' -s w -l watch -f -d 'Refresh every interval until q or ^C (on a terminal: redraw)'
complete -c poomguard -n '__prockit_poomguard_in top' -s i -l interval -x -d 'With --watch: time between refreshes (default 2s)'
complete -c poomguard -n '__prockit_poomguard_in top' -s J -l json -f -d 'Machine-readable output on stdout (with --watch: one line per refresh)'
complete -c poomguard -n '__prockit_poomguard_in top' -f
complete -c poomguard -n '__prockit_poomguard_in . 0' -f -a set -d 'Set oom_score_adj of the selected processes (and their children)'
complete -c poomguard -n '__prockit_poomguard_in set' -s h -l help -f -d 'Print this help and exit'
complete -c poomguard -n '__prockit_poomguard_in set' -s p -l pid -x -a '(__fish_complete_pids)' -d 'Select the process with this PID'
complete -c poomguard -n '__prockit_poomguard_in set' -s n -l name -x -d 'Select processes whose name (comm) is NAME'
complete -c poomguard -n '__prockit_poomguard_in set' -s m -l match -x -d 'Select processes whose command line matches REGEX (POSIX ERE)'
complete -c poomguard -n '__prockit_poomguard_in set' -s e -l exe -r -F -d 'Select processes running the executable PATH'
complete -c poomguard -n '__prockit_poomguard_in set' -s u -l user -x -a '(__fish_complete_users)' -d 'Select processes of USER (name or UID)'
complete -c poomguard -n '__prockit_poomguard_in set' -l cgroup -r -F -d 'Select processes in cgroup PATH or below it'
complete -c poomguard -n '__prockit_poomguard_in set' -l pidfile -r -F -d 'Select the process whose PID FILE holds'
complete -c poomguard -n '__prockit_poomguard_in set' -l unit -x -d 'Select the processes of systemd unit NAME (NAME.service unless a suffix is given)'
complete -c poomguard -n '__prockit_poomguard_in set' -l allow-none -f -d 'A selection that matches nothing is not an error'
complete -c poomguard -n '__prockit_poomguard_in set' -l children -x -d 'Also set the existing descendants of the selected processes: \'reset\' (0), \'inherit\' (ADJ) or VALUE; a selected process below another selected one counts as a child'
complete -c poomguard -n '__prockit_poomguard_in set' -l dry-run -f -d 'Show what would change, change nothing'
complete -c poomguard -n '__prockit_poomguard_in set' -l follow -f -d 'Keep the values on future children too, until the selected processes exit (or SIGTERM)'
complete -c poomguard -n '__prockit_poomguard_in set' -s q -l quiet -f -d 'Print nothing on success'
complete -c poomguard -n '__prockit_poomguard_in set' -s J -l json -f -d 'Machine-readable output on stdout'
complete -c poomguard -n '__prockit_poomguard_in set 1+' -f -a '(__fish_complete_pids)'
complete -c poomguard -n '__prockit_poomguard_in set' -f
complete -c poomguard -n '__prockit_poomguard_in . 0' -f -a run -d 'Run COMMAND (after \'--\') with oom_score_adj ADJ: set own, then exec'
complete -c poomguard -n '__prockit_poomguard_in run' -s h -l help -f -d 'Print this help and exit'
complete -c poomguard -n '__prockit_poomguard_in run' -f
complete -c poomguard -n '__prockit_poomguard_in . 0' -f -a watch -d 'Apply the rules to every matching process, now and as processes start'
complete -c poomguard -n '__prockit_poomguard_in watch' -s h -l help -f -d 'Print this help and exit'
complete -c poomguard -n '__prockit_poomguard_in watch' -s c -l config -r -F -d 'Read the rules from FILE (repeatable; default: /etc/poomguard.conf, /etc/poomguard.d/*.conf)'
complete -c poomguard -n '__prockit_poomguard_in watch' -l dry-run -f -d 'Log what would change, change nothing'
complete -c poomguard -n '__prockit_poomguard_in watch' -l once -f -d 'Apply the rules to the current processes and exit'
complete -c poomguard -n '__prockit_poomguard_in watch' -l interval -x -d 'How often to re-read pidfiles, and to rescan /proc without the proc connector (default 1s)'
complete -c poomguard -n '__prockit_poomguard_in watch' -f
complete -c poomguard -n '__prockit_poomguard_in . 0' -f -a audit -d 'List protected processes no rule covers, and children that kept a protection'
complete -c poomguard -n '__prockit_poomguard_in audit' -s h -l help -f -d 'Print this help and exit'
complete -c poomguard -n '__prockit_poomguard_in audit' -s c -l config -r -F -d 'Read the rules from FILE (repeatable; default: /etc/poomguard.conf, /etc/poomguard.d/*.conf)'
complete -c poomguard -n '__prockit_poomguard_in audit' -s J -l json -f -d 'Machine-readable output on stdout'
complete -c poomguard -n '__prockit_poomguard_in audit' -f
complete -c poomguard -n '__prockit_poomguard_in . 0' -f -a check-config -d 'Validate rules files (default: /etc/poomguard.conf, /etc/poomguard.d/*.conf)'
complete -c poomguard -n '__prockit_poomguard_in check-config' -s h -l help -f -d 'Print this help and exit'
complete -c poomguard -n '__prockit_poomguard_in check-config' -s q -l quiet -f -d 'Print only the problems'
complete -c poomguard -n '__prockit_poomguard_in check-config' -l list-rules -f -d 'Print the names of the valid rules, one a line'
complete -c poomguard -n '__prockit_poomguard_in check-config 0+' -F
