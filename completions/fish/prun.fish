# fish completion for prun(1).
# Generated from prun's command line (build_cli) by tools/common/completion.cpp: do not edit;
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

# SIG,MS,SIG,...: signal names where a signal goes.
function __prockit_signal_seq
    set -l pre (string match -r '^.*,' -- (commandline -ct))
    set -l commas (string replace -ra '[^,]' '' -- "$pre")
    test (math (string length -- "$commas") % 2) -eq 0; or return 0
    for n in HUP INT QUIT ILL TRAP ABRT BUS FPE KILL USR1 SEGV USR2 PIPE ALRM TERM STKFLT CHLD CONT STOP TSTP TTIN TTOU URG XCPU XFSZ VTALRM PROF WINCH IO PWR SYS
        echo "$pre$n"
    end
end

# Prints the subcommand given (. for none), how many positionals it has so far, and the
# index of the word where a command starts (0: none), for the words before the cursor.
function __prockit_prun_walk
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
                    case '--name' '--argv0' '--cpus' '--nice' '--oom-score-adj' '--rlimit' '--timeout' '--kill-after' '--term-seq' '--termseq' '--cwd' '--env' '--unset-env' '--user' '--drop-caps' '--keep-caps' '--seccomp' '--log' '--pidfile' '--restart' '--restart-delay' '--restart-limit' '-j' '-P' '--jobs' '-a' '--arg-file' '--block' '--block-size' '--blocksize' '-d' '--delimiter' '-E' '--eof' '-I' '--replace' '-n' '--max-args' '-N' '-L' '--max-lines' '-s' '--max-chars' '--tagstring' '--tag-string' '--halt' '--retries' '--delay' '--joblog' '--jl' '--joblog-format' '-C' '--colsep' '--header' '--recstart' '--recend' '--results' '--res' '--load' '--memfree' '--id'
                        set i (math $i + 1)
                    case '-*'
                    case '*'
                        echo $sub\n$npos\n$i
                        return 0
                end
        end
        set i (math $i + 1)
    end
    # The word being typed starts the command when it is no option and no option's value.
    if contains -- $sub .; and test $i -eq (math (count $words) + 1)
        and not string match -q -- '-*' (commandline -ct)
        echo $sub\n$npos\n$i
        return 0
    end
    echo $sub\n$npos\n0
end

# Whether the cursor is in subcommand $argv[1] (. for none), no command started, and (with
# $argv[2]) at positional $argv[2] (N+: N or later).
function __prockit_prun_in
    set -l st (__prockit_prun_walk)
    test $st[1] = $argv[1]; and test $st[3] -eq 0; or return 1
    set -q argv[2]; or return 0
    if string match -q -- '*+' $argv[2]
        test $st[2] -ge (string trim -c + -- $argv[2])
    else
        test $st[2] -eq $argv[2]
    end
end

# The command's own completion, from the word where it starts.
function __prockit_prun_complete_command
    set -l at (__prockit_prun_walk)[3]
    set -l words (commandline -opc)
    if test $at -gt (count $words)
        __fish_complete_command
        return
    end
    __fish_complete_subcommand --commandline $words[$at..-1] (commandline -ct)
end

complete -c prun -n 'test (__prockit_prun_walk)[3] -gt 0' -x -a '(__prockit_prun_complete_command)'
complete -c prun -n '__prockit_prun_in .' -s h -l help -f -d 'Print this help and exit'
complete -c prun -n '__prockit_prun_in .' -s V -l version -f -d 'Print the version and exit'
complete -c prun -n '__prockit_prun_in .' -l name -x -d 'Label the process (pool: a template, e.g. \'job-{#}\') in output, logs, joblog'
complete -c prun -n '__prockit_prun_in .' -l argv0 -x -d 'The argv[0] the program sees (what ps shows)'
complete -c prun -n '__prockit_prun_in .' -l cpus -x -a '(__prockit_cpus)' -d 'Run on these CPUs (list such as 0-3,8; must be allowed to prun)'
complete -c prun -n '__prockit_prun_in .' -l nice -x -d 'Nice value (-20..19)'
complete -c prun -n '__prockit_prun_in .' -l oom-score-adj -x -d 'oom_score_adj (-1000..1000)'
complete -c prun -n '__prockit_prun_in .' -l rlimit -x -a 'as= core= cpu= data= fsize= locks= memlock= msgqueue= nice= nofile= nproc= rss= rtprio= rttime= sigpending= stack=' -d 'Resource limit RES=SOFT[:HARD] (nofile, nproc, as, core, cpu, ...); repeatable'
complete -c prun -n '__prockit_prun_in .' -l timeout -x -d 'End the command (or each job) after DUR (1.5s, 2m, ...)'
complete -c prun -n '__prockit_prun_in .' -l kill-after -x -d 'After TERM, send KILL when DUR has passed (default 5s)'
complete -c prun -n '__prockit_prun_in .' -l term-seq -l termseq -x -a '(__prockit_signal_seq)' -d 'How to end a job: SIG,MS,SIG,MS,... (e.g. TERM,200,KILL,25)'
complete -c prun -n '__prockit_prun_in .' -l strict-tree -f -d 'Refuse to run (exit 1) when prun cannot make sure that nothing it starts outlives it'
complete -c prun -n '__prockit_prun_in .' -l cwd -x -a '(__fish_complete_directories)' -d 'Working directory of the child'
complete -c prun -n '__prockit_prun_in .' -l env -x -d 'Set K=V in the child\'s environment (VAR: pass prun\'s VAR on); repeatable'
complete -c prun -n '__prockit_prun_in .' -l unset-env -x -d 'Remove K from the child\'s environment; repeatable'
complete -c prun -n '__prockit_prun_in .' -l clear-env -f -d 'Start the child with an empty environment (then --env)'
complete -c prun -n '__prockit_prun_in .' -l user -x -a '(__fish_complete_users)' -d 'Run as USER[:GROUP] (names or numbers)'
complete -c prun -n '__prockit_prun_in .' -l new-session -f -d 'Start the child in a new session (setsid)'
complete -c prun -n '__prockit_prun_in .' -l no-new-privs -f -d 'Set no_new_privs in the child'
complete -c prun -n '__prockit_prun_in .' -l drop-caps -x -a 'all chown dac_override dac_read_search fowner fsetid kill setgid setuid setpcap linux_immutable net_bind_service net_broadcast net_admin net_raw ipc_lock ipc_owner sys_module sys_rawio sys_chroot sys_ptrace sys_pacct sys_admin sys_boot sys_nice sys_resource sys_time sys_tty_config mknod lease audit_write audit_control setfcap mac_override mac_admin syslog wake_alarm block_suspend audit_read perfmon bpf checkpoint_restore' -d 'Drop capabilities: all, or a list (net_raw,sys_admin)'
complete -c prun -n '__prockit_prun_in .' -l keep-caps -x -a 'all chown dac_override dac_read_search fowner fsetid kill setgid setuid setpcap linux_immutable net_bind_service net_broadcast net_admin net_raw ipc_lock ipc_owner sys_module sys_rawio sys_chroot sys_ptrace sys_pacct sys_admin sys_boot sys_nice sys_resource sys_time sys_tty_config mknod lease audit_write audit_control setfcap mac_override mac_admin syslog wake_alarm block_suspend audit_read perfmon bpf checkpoint_restore' -d 'Keep only these capabilities (ambient too, survives --user)'
complete -c prun -n '__prockit_prun_in .' -l seccomp -r -F -a 'no-network no-ptrace no-mount no-modules no-fork' -d 'Seccomp profile(s): no-network, no-ptrace, no-mount, no-modules, no-fork, or a rules FILE (a name with \'/\'); repeatable, comma lists'
complete -c prun -n '__prockit_prun_in .' -l daemon -f -d 'Detach and supervise the command; return 0 once it was exec\'d'
complete -c prun -n '__prockit_prun_in .' -l log -r -F -d 'Daemon: append the command\'s output here (reopened on SIGHUP)'
complete -c prun -n '__prockit_prun_in .' -l pidfile -r -F -d 'Daemon: write the PID here, atomically, locked while running'
complete -c prun -n '__prockit_prun_in .' -l restart -x -a 'no on-failure always' -d 'Restart the command: no, on-failure, always'
complete -c prun -n '__prockit_prun_in .' -l restart-delay -x -d 'First restart delay, doubling up to 60s (default 1s)'
complete -c prun -n '__prockit_prun_in .' -l restart-limit -x -d 'At most N restarts per DUR: N[/DUR] (default 5/60s)'
complete -c prun -n '__prockit_prun_in .' -s j -s P -l jobs -x -d 'Jobs at once: N, N% of CPUs, +N, -N, 0 = many (default: CPUs usable)'
complete -c prun -n '__prockit_prun_in .' -s a -l arg-file -r -F -d 'Read inputs from FILE (- for stdin); repeatable'
complete -c prun -n '__prockit_prun_in .' -l pipe -l spreadstdin -f -d 'Cut standard input into blocks of whole lines, one block per job\'s stdin'
complete -c prun -n '__prockit_prun_in .' -l block -l block-size -l blocksize -x -d '--pipe: block size in bytes, with k m g t (1000s) or K M G T (1024s); default 1M'
complete -c prun -n '__prockit_prun_in .' -l link -l xapply -f -d 'Pair all input sources value by value (shorter ones wrap) instead of crossing them'
complete -c prun -n '__prockit_prun_in .' -s 0 -l null -f -d 'Inputs from files and stdin are NUL-separated'
complete -c prun -n '__prockit_prun_in .' -s d -l delimiter -x -d 'Inputs end with this character (or \\n, \\t, \\0, \\xHH) instead of a newline'
complete -c prun -n '__prockit_prun_in .' -s E -l eof -x -d 'A value equal to STR ends its input source (it and the rest are not used)'
complete -c prun -n '__prockit_prun_in .' -s I -l replace -x -d 'Use STR in place of {} for the whole input ({} is then plain text)'
complete -c prun -n '__prockit_prun_in .' -s i -f -d '-I {}: the default; accepted for xargs\' and GNU parallel\'s sake'
complete -c prun -n '__prockit_prun_in .' -s n -l max-args -x -d 'Give each job up to N inputs (appended, or where {} is)'
complete -c prun -n '__prockit_prun_in .' -s N -x -d 'As -n, and {1}..{N} are the job\'s 1st..Nth input'
complete -c prun -n '__prockit_prun_in .' -s L -l max-lines -x -d 'Give each job up to N input lines (as -N)'
complete -c prun -n '__prockit_prun_in .' -s m -f -d 'Give each job as many inputs as fit (-s), spread over the slots; {} becomes them all'
complete -c prun -n '__prockit_prun_in .' -s X -f -d 'As -m, and a word holding {} is repeated for each input (x{}y: xay xby)'
complete -c prun -n '__prockit_prun_in .' -s s -l max-chars -x -d 'Command line length at most (default: the system\'s limit, as xargs)'
complete -c prun -n '__prockit_prun_in .' -l shell -f -d 'Run each job with a shell (sh -c; values are single-quoted), whatever the template'
complete -c prun -n '__prockit_prun_in .' -l no-shell -f -d 'Exec each job directly, one argument per template word, whatever the template'
complete -c prun -n '__prockit_prun_in .' -l single -f -d 'Run CMD once as one command even when stdin is a pipe or file (it is then CMD\'s stdin)'
complete -c prun -n '__prockit_prun_in .' -s r -l no-run-if-empty -f -d 'Skip inputs that are empty or only whitespace; empty input is no error'
complete -c prun -n '__prockit_prun_in .' -l group -f -d 'Print each job\'s output whole when it ends (pool default)'
complete -c prun -n '__prockit_prun_in .' -l line-buffer -l lb -l linebuffer -f -d 'Print whole lines as they come, interleaved'
complete -c prun -n '__prockit_prun_in .' -s u -l ungroup -f -d 'Let jobs write straight to prun\'s stdout and stderr'
complete -c prun -n '__prockit_prun_in .' -l tag -f -d 'Prefix each output line with the job\'s name and a TAB'
complete -c prun -n '__prockit_prun_in .' -l tagstring -l tag-string -x -d 'Prefix each output line with this (replacement strings allowed) and a TAB'
complete -c prun -n '__prockit_prun_in .' -s k -l keep-order -l keeporder -f -d 'Print output in input order'
complete -c prun -n '__prockit_prun_in .' -l halt -x -d 'Stop early: never, now|soon,fail|success|done=N[%]'
complete -c prun -n '__prockit_prun_in .' -l retries -x -d 'Run a failing job (or the one command) up to N times in all'
complete -c prun -n '__prockit_prun_in .' -l delay -x -d 'Wait DUR between job starts'
complete -c prun -n '__prockit_prun_in .' -l joblog -l jl -r -F -d 'Log each job (GNU parallel\'s TSV columns)'
complete -c prun -n '__prockit_prun_in .' -l joblog-format -x -a 'tsv jsonl' -d 'tsv (default) or jsonl (adds CPU times, peak RSS, CPUs)'
complete -c prun -n '__prockit_prun_in .' -l resume -f -d 'Skip jobs already in the joblog'
complete -c prun -n '__prockit_prun_in .' -l resume-failed -f -d 'Skip jobs that succeeded in the joblog; rerun the others'
complete -c prun -n '__prockit_prun_in .' -l pin-spread -f -d 'Pin slot k to its own CPU, one per physical core first'
complete -c prun -n '__prockit_prun_in .' -l bar -f -d 'Progress bar with ETA on stderr (a periodic line when not a terminal)'
complete -c prun -n '__prockit_prun_in .' -l eta -f -d 'Periodic progress line with ETA on stderr'
complete -c prun -n '__prockit_prun_in .' -l dry-run -l dryrun -f -d 'Print the commands that would run; run nothing'
complete -c prun -n '__prockit_prun_in .' -s C -l colsep -x -d 'Cut each input into columns where REGEX matches: {1}..{n}, {-1} the last'
complete -c prun -n '__prockit_prun_in .' -l header -x -d 'The first input line (of each source) names the columns: {name}; \':\' or a REGEX'
complete -c prun -n '__prockit_prun_in .' -l plus -f -d 'Also {+/} {+.} {+..} {+...} {..} {...} {/..} {/...} {##} {0#} {0%} (see prun(1))'
complete -c prun -n '__prockit_prun_in .' -s q -l quote -f -d 'Never run jobs through the shell: every template word is one argument (as --no-shell)'
complete -c prun -n '__prockit_prun_in .' -s v -f -d 'Print each job\'s command on stdout before it runs (with its output)'
complete -c prun -n '__prockit_prun_in .' -l shuf -f -d 'Run the jobs in a random order (reads all inputs first)'
complete -c prun -n '__prockit_prun_in .' -l progress -f -d 'Show jobs done, running and failed on stderr'
complete -c prun -n '__prockit_prun_in .' -l recstart -x -d '--pipe: records begin with STR (escapes \\n \\t \\0 \\xHH); cut only where it follows --recend'
complete -c prun -n '__prockit_prun_in .' -l recend -x -d '--pipe: records end with STR (default \\n; "" with no --recstart: cut anywhere)'
complete -c prun -n '__prockit_prun_in .' -l regexp -f -d '--recstart and --recend are regular expressions (ECMAScript)'
complete -c prun -n '__prockit_prun_in .' -l pipepart -l pipe-part -f -d 'As --pipe, from the file given with -a: each job\'s part goes from the file to its stdin'
complete -c prun -n '__prockit_prun_in .' -l round-robin -l round -f -d '--pipe: deal the blocks among at most -j jobs that each read many, not one job per block'
complete -c prun -n '__prockit_prun_in .' -l tee -f -d '--pipe: every job gets all of stdin; one job per input value (:::), all at once'
complete -c prun -n '__prockit_prun_in .' -l compress -f -d 'Keep output that waits to be printed compressed (zstd) in $TMPDIR'
complete -c prun -n '__prockit_prun_in .' -l results -l res -x -a '(__fish_complete_directories)' -d 'Keep each job\'s output in DIR/1/ARG/{stdout,stderr,seq}; FILE.csv or .tsv: one table'
complete -c prun -n '__prockit_prun_in .' -l files -f -d 'Keep each job\'s stdout in a file and print the file\'s name instead'
complete -c prun -n '__prockit_prun_in .' -l load -x -d 'Start no job while the 1-minute load average is at least MAX (N, or N% of the CPUs)'
complete -c prun -n '__prockit_prun_in .' -l memfree -x -d 'Start no job while less than SIZE of memory is available (k m g t, K M G T)'
complete -c prun -n '__prockit_prun_in .' -l semaphore -f -d 'Run CMD when one of -j slots named by --id is free (GNU parallel\'s sem)'
complete -c prun -n '__prockit_prun_in .' -l id -x -d '--semaphore: the semaphore\'s name (default: the terminal\'s name)'
complete -c prun -n '__prockit_prun_in .' -l fg -f -d '--semaphore: wait for CMD and exit with its status (default: run it in the background)'
complete -c prun -n '__prockit_prun_in .' -l wait -f -d '--semaphore: wait until every command holding the semaphore has ended'
complete -c prun -n '__prockit_prun_in .' -f
