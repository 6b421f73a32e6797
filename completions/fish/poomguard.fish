# fish completion for poomguard(1).
# Generated from poomguard's command line (build_cli) by tools/common/completion.cpp: do not edit;
# `cmake --build build --target update-completions` writes it again.

# Prints where the command starts (after "--", or at the first word that is neither an option nor
# its value), as an index into the command line's words.
function __prockit_poomguard_command_at
    set -l words (commandline -opc)
    set -l i 2
    while test $i -le (count $words)
        switch $words[$i]
            case --
                echo (math $i + 1)
                return 0
            case '-*'
            case '*'
                echo $i
                return 0
        end
        set i (math $i + 1)
    end
    # The word being typed, when it is no option and no option's value.
    if test $i -eq (math (count $words) + 1); and not string match -q -- '-*' (commandline -ct)
        echo $i
        return 0
    end
    return 1
end

# The command's own completion, from the word where it starts.
function __prockit_poomguard_complete_command
    set -l at (__prockit_poomguard_command_at)
    set -l words (commandline -opc)
    set -l cmd
    if test $at -gt (count $words)
        __fish_complete_command
        return
    end
    set cmd $words[$at..-1]
    __fish_complete_subcommand --commandline $cmd (commandline -ct)
end

complete -c poomguard -n '__prockit_poomguard_command_at >/dev/null' -x -a '(__prockit_poomguard_complete_command)'
complete -c poomguard -n 'not __prockit_poomguard_command_at; and __fish_use_subcommand' -f -a show -d 'Show oom_score, oom_score_adj, RSS and swap of processes (all by default)'
complete -c poomguard -n '__fish_seen_subcommand_from show' -s h -l help -f -d 'Print this help and exit'
complete -c poomguard -n '__fish_seen_subcommand_from show' -s p -l pid -x -a '(__fish_complete_pids)' -d 'Select the process with this PID'
complete -c poomguard -n '__fish_seen_subcommand_from show' -s n -l name -x -d 'Select processes whose name (comm) is NAME'
complete -c poomguard -n '__fish_seen_subcommand_from show' -s m -l match -x -d 'Select processes whose command line matches REGEX (POSIX ERE)'
complete -c poomguard -n '__fish_seen_subcommand_from show' -s e -l exe -r -F -d 'Select processes running the executable PATH'
complete -c poomguard -n '__fish_seen_subcommand_from show' -s u -l user -x -a '(__fish_complete_users)' -d 'Select processes of USER (name or UID)'
complete -c poomguard -n '__fish_seen_subcommand_from show' -l cgroup -r -F -d 'Select processes in cgroup PATH or below it'
complete -c poomguard -n '__fish_seen_subcommand_from show' -l pidfile -r -F -d 'Select the process whose PID FILE holds'
complete -c poomguard -n '__fish_seen_subcommand_from show' -l unit -x -d 'Select the processes of systemd unit NAME (NAME.service unless a suffix is given)'
complete -c poomguard -n '__fish_seen_subcommand_from show' -l allow-none -f -d 'A selection that matches nothing is not an error'
complete -c poomguard -n '__fish_seen_subcommand_from show' -s J -l json -f -d 'Machine-readable output on stdout'
complete -c poomguard -n 'not __prockit_poomguard_command_at; and __fish_use_subcommand' -f -a top -d 'Rank processes by oom_score: who the kernel would kill next'
complete -c poomguard -n '__fish_seen_subcommand_from top' -s h -l help -f -d 'Print this help and exit'
complete -c poomguard -n '__fish_seen_subcommand_from top' -s n -l count -x -d 'Show the first N processes (0: all; default 10, or a screenful)'
complete -c poomguard -n '__fish_seen_subcommand_from top' -s w -l watch -f -d 'Refresh every interval until q or ^C (on a terminal: redraw)'
complete -c poomguard -n '__fish_seen_subcommand_from top' -s i -l interval -x -d 'With --watch: time between refreshes (default 2s)'
complete -c poomguard -n '__fish_seen_subcommand_from top' -s J -l json -f -d 'Machine-readable output on stdout (with --watch: one line per refresh)'
complete -c poomguard -n 'not __prockit_poomguard_command_at; and __fish_use_subcommand' -f -a set -d 'Set oom_score_adj of the selected processes (and their children)'
complete -c poomguard -n '__fish_seen_subcommand_from set' -s h -l help -f -d 'Print this help and exit'
complete -c poomguard -n '__fish_seen_subcommand_from set' -s p -l pid -x -a '(__fish_complete_pids)' -d 'Select the process with this PID'
complete -c poomguard -n '__fish_seen_subcommand_from set' -s n -l name -x -d 'Select processes whose name (comm) is NAME'
complete -c poomguard -n '__fish_seen_subcommand_from set' -s m -l match -x -d 'Select processes whose command line matches REGEX (POSIX ERE)'
complete -c poomguard -n '__fish_seen_subcommand_from set' -s e -l exe -r -F -d 'Select processes running the executable PATH'
complete -c poomguard -n '__fish_seen_subcommand_from set' -s u -l user -x -a '(__fish_complete_users)' -d 'Select processes of USER (name or UID)'
complete -c poomguard -n '__fish_seen_subcommand_from set' -l cgroup -r -F -d 'Select processes in cgroup PATH or below it'
complete -c poomguard -n '__fish_seen_subcommand_from set' -l pidfile -r -F -d 'Select the process whose PID FILE holds'
complete -c poomguard -n '__fish_seen_subcommand_from set' -l unit -x -d 'Select the processes of systemd unit NAME (NAME.service unless a suffix is given)'
complete -c poomguard -n '__fish_seen_subcommand_from set' -l allow-none -f -d 'A selection that matches nothing is not an error'
complete -c poomguard -n '__fish_seen_subcommand_from set' -l children -x -d 'Also set the existing descendants of the selected processes: \'reset\' (0), \'inherit\' (ADJ) or VALUE; a selected process below another selected one counts as a child'
complete -c poomguard -n '__fish_seen_subcommand_from set' -l dry-run -f -d 'Show what would change, change nothing'
complete -c poomguard -n '__fish_seen_subcommand_from set' -l follow -f -d 'Keep the values on future children too, until the selected processes exit (or SIGTERM)'
complete -c poomguard -n '__fish_seen_subcommand_from set' -s q -l quiet -f -d 'Print nothing on success'
complete -c poomguard -n '__fish_seen_subcommand_from set' -s J -l json -f -d 'Machine-readable output on stdout'
complete -c poomguard -n 'not __prockit_poomguard_command_at; and __fish_use_subcommand' -f -a run -d 'Run COMMAND (after \'--\') with oom_score_adj ADJ: set own, then exec'
complete -c poomguard -n '__fish_seen_subcommand_from run' -s h -l help -f -d 'Print this help and exit'
complete -c poomguard -n 'not __prockit_poomguard_command_at; and __fish_use_subcommand' -f -a watch -d 'Apply the rules to every matching process, now and as processes start'
complete -c poomguard -n '__fish_seen_subcommand_from watch' -s h -l help -f -d 'Print this help and exit'
complete -c poomguard -n '__fish_seen_subcommand_from watch' -s c -l config -r -F -d 'Read the rules from FILE (repeatable; default: /etc/poomguard.conf, /etc/poomguard.d/*.conf)'
complete -c poomguard -n '__fish_seen_subcommand_from watch' -l dry-run -f -d 'Log what would change, change nothing'
complete -c poomguard -n '__fish_seen_subcommand_from watch' -l once -f -d 'Apply the rules to the current processes and exit'
complete -c poomguard -n '__fish_seen_subcommand_from watch' -l interval -x -d 'How often to re-read pidfiles, and to rescan /proc without the proc connector (default 1s)'
complete -c poomguard -n 'not __prockit_poomguard_command_at; and __fish_use_subcommand' -f -a audit -d 'List protected processes no rule covers, and children that kept a protection'
complete -c poomguard -n '__fish_seen_subcommand_from audit' -s h -l help -f -d 'Print this help and exit'
complete -c poomguard -n '__fish_seen_subcommand_from audit' -s c -l config -r -F -d 'Read the rules from FILE (repeatable; default: /etc/poomguard.conf, /etc/poomguard.d/*.conf)'
complete -c poomguard -n '__fish_seen_subcommand_from audit' -s J -l json -f -d 'Machine-readable output on stdout'
complete -c poomguard -n 'not __prockit_poomguard_command_at; and __fish_use_subcommand' -f -a check-config -d 'Validate rules files (default: /etc/poomguard.conf, /etc/poomguard.d/*.conf)'
complete -c poomguard -n '__fish_seen_subcommand_from check-config' -s h -l help -f -d 'Print this help and exit'
complete -c poomguard -n '__fish_seen_subcommand_from check-config' -s q -l quiet -f -d 'Print only the problems'
complete -c poomguard -n 'not __prockit_poomguard_command_at; and not __fish_seen_subcommand_from show top set run watch audit check-config' -s h -l help -f -d 'Print this help and exit'
complete -c poomguard -n 'not __prockit_poomguard_command_at; and not __fish_seen_subcommand_from show top set run watch audit check-config' -s V -l version -f -d 'Print the version and exit'
