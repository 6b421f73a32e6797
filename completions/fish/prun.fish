# fish completion for prun(1).
# Generated from prun's command line (build_cli) by tools/common/completion.cpp: do not edit;
# `cmake --build build --target update-completions` writes it again.

# Prints where the command starts (after "--", or at the first word that is neither an option nor
# its value), as an index into the command line's words.
function __prockit_prun_command_at
    set -l words (commandline -opc)
    set -l i 2
    while test $i -le (count $words)
        switch $words[$i]
            case --
                echo (math $i + 1)
                return 0
            case '--name' '--argv0' '--cpus' '--nice' '--oom-score-adj' '--rlimit' '--timeout' '--kill-after' '--term-seq' '--termseq' '--cwd' '--env' '--unset-env' '--user' '--drop-caps' '--keep-caps' '--seccomp' '--log' '--pidfile' '--restart' '--restart-delay' '--restart-limit' '-j' '-P' '--jobs' '-a' '--arg-file' '--block' '--block-size' '--blocksize' '-d' '--delimiter' '-E' '--eof' '-I' '--replace' '-n' '--max-args' '-N' '-L' '--max-lines' '-s' '--max-chars' '--tagstring' '--tag-string' '--halt' '--retries' '--delay' '--joblog' '--jl' '--joblog-format' '--recstart' '--recend' '--results' '--res' '--load' '--memfree' '--id'
                set i (math $i + 1)
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
function __prockit_prun_complete_command
    set -l at (__prockit_prun_command_at)
    set -l words (commandline -opc)
    set -l cmd
    if test $at -gt (count $words)
        __fish_complete_command
        return
    end
    set cmd $words[$at..-1]
    __fish_complete_subcommand --commandline $cmd (commandline -ct)
end

complete -c prun -n '__prockit_prun_command_at >/dev/null' -x -a '(__prockit_prun_complete_command)'
complete -c prun -n 'not __prockit_prun_command_at' -s h -l help -f -d 'Print this help and exit'
complete -c prun -n 'not __prockit_prun_command_at' -s V -l version -f -d 'Print the version and exit'
complete -c prun -n 'not __prockit_prun_command_at' -l name -x -d 'Label the process (pool: a template, e.g. \'job-{#}\') in output, logs, joblog'
complete -c prun -n 'not __prockit_prun_command_at' -l argv0 -x -d 'The argv[0] the program sees (what ps shows)'
complete -c prun -n 'not __prockit_prun_command_at' -l cpus -x -d 'Run on these CPUs (list such as 0-3,8; must be allowed to prun)'
complete -c prun -n 'not __prockit_prun_command_at' -l nice -x -d 'Nice value (-20..19)'
complete -c prun -n 'not __prockit_prun_command_at' -l oom-score-adj -x -d 'oom_score_adj (-1000..1000)'
complete -c prun -n 'not __prockit_prun_command_at' -l rlimit -x -a 'as= core= cpu= data= fsize= locks= memlock= msgqueue= nice= nofile= nproc= rss= rtprio= rttime= sigpending= stack=' -d 'Resource limit RES=SOFT[:HARD] (nofile, nproc, as, core, cpu, ...); repeatable'
complete -c prun -n 'not __prockit_prun_command_at' -l timeout -x -d 'End the command (or each job) after DUR (1.5s, 2m, ...)'
complete -c prun -n 'not __prockit_prun_command_at' -l kill-after -x -d 'After TERM, send KILL when DUR has passed (default 5s)'
complete -c prun -n 'not __prockit_prun_command_at' -l term-seq -l termseq -x -d 'How to end a job: SIG,MS,SIG,MS,... (e.g. TERM,200,KILL,25)'
complete -c prun -n 'not __prockit_prun_command_at' -l strict-tree -f -d 'Refuse to run (exit 1) when prun cannot make sure that nothing it starts outlives it'
complete -c prun -n 'not __prockit_prun_command_at' -l cwd -x -a '(__fish_complete_directories)' -d 'Working directory of the child'
complete -c prun -n 'not __prockit_prun_command_at' -l env -x -d 'Set K=V in the child\'s environment (VAR: pass prun\'s VAR on); repeatable'
complete -c prun -n 'not __prockit_prun_command_at' -l unset-env -x -d 'Remove K from the child\'s environment; repeatable'
complete -c prun -n 'not __prockit_prun_command_at' -l clear-env -f -d 'Start the child with an empty environment (then --env)'
complete -c prun -n 'not __prockit_prun_command_at' -l user -x -a '(__fish_complete_users)' -d 'Run as USER[:GROUP] (names or numbers)'
complete -c prun -n 'not __prockit_prun_command_at' -l new-session -f -d 'Start the child in a new session (setsid)'
complete -c prun -n 'not __prockit_prun_command_at' -l no-new-privs -f -d 'Set no_new_privs in the child'
complete -c prun -n 'not __prockit_prun_command_at' -l drop-caps -x -a 'all chown dac_override dac_read_search fowner fsetid kill setgid setuid setpcap linux_immutable net_bind_service net_broadcast net_admin net_raw ipc_lock ipc_owner sys_module sys_rawio sys_chroot sys_ptrace sys_pacct sys_admin sys_boot sys_nice sys_resource sys_time sys_tty_config mknod lease audit_write audit_control setfcap mac_override mac_admin syslog wake_alarm block_suspend audit_read perfmon bpf checkpoint_restore' -d 'Drop capabilities: all, or a list (net_raw,sys_admin)'
complete -c prun -n 'not __prockit_prun_command_at' -l keep-caps -x -a 'all chown dac_override dac_read_search fowner fsetid kill setgid setuid setpcap linux_immutable net_bind_service net_broadcast net_admin net_raw ipc_lock ipc_owner sys_module sys_rawio sys_chroot sys_ptrace sys_pacct sys_admin sys_boot sys_nice sys_resource sys_time sys_tty_config mknod lease audit_write audit_control setfcap mac_override mac_admin syslog wake_alarm block_suspend audit_read perfmon bpf checkpoint_restore' -d 'Keep only these capabilities (ambient too, survives --user)'
complete -c prun -n 'not __prockit_prun_command_at' -l seccomp -r -F -a 'no-network no-ptrace no-mount no-modules no-fork' -d 'Seccomp profile(s): no-network, no-ptrace, no-mount, no-modules, no-fork, or a rules FILE (a name with \'/\'); repeatable, comma lists'
complete -c prun -n 'not __prockit_prun_command_at' -l daemon -f -d 'Detach and supervise the command; return 0 once it was exec\'d'
complete -c prun -n 'not __prockit_prun_command_at' -l log -r -F -d 'Daemon: append the command\'s output here (reopened on SIGHUP)'
complete -c prun -n 'not __prockit_prun_command_at' -l pidfile -r -F -d 'Daemon: write the PID here, atomically, locked while running'
complete -c prun -n 'not __prockit_prun_command_at' -l restart -x -a 'no on-failure always' -d 'Restart the command: no, on-failure, always'
complete -c prun -n 'not __prockit_prun_command_at' -l restart-delay -x -d 'First restart delay, doubling up to 60s (default 1s)'
complete -c prun -n 'not __prockit_prun_command_at' -l restart-limit -x -d 'At most N restarts per DUR: N[/DUR] (default 5/60s)'
complete -c prun -n 'not __prockit_prun_command_at' -s j -s P -l jobs -x -d 'Jobs at once: N, N% of CPUs, +N, -N, 0 = many (default: CPUs usable)'
complete -c prun -n 'not __prockit_prun_command_at' -s a -l arg-file -r -F -d 'Read inputs from FILE (- for stdin); repeatable'
complete -c prun -n 'not __prockit_prun_command_at' -l pipe -l spreadstdin -f -d 'Cut standard input into blocks of whole lines, one block per job\'s stdin'
complete -c prun -n 'not __prockit_prun_command_at' -l block -l block-size -l blocksize -x -d '--pipe: block size in bytes, with k m g t (1000s) or K M G T (1024s); default 1M'
complete -c prun -n 'not __prockit_prun_command_at' -l link -l xapply -f -d 'Pair all input sources value by value (shorter ones wrap) instead of crossing them'
complete -c prun -n 'not __prockit_prun_command_at' -s 0 -l null -f -d 'Inputs from files and stdin are NUL-separated'
complete -c prun -n 'not __prockit_prun_command_at' -s d -l delimiter -x -d 'Inputs end with this character (or \\n, \\t, \\0, \\xHH) instead of a newline'
complete -c prun -n 'not __prockit_prun_command_at' -s E -l eof -x -d 'A value equal to STR ends its input source (it and the rest are not used)'
complete -c prun -n 'not __prockit_prun_command_at' -s I -l replace -x -d 'Use STR in place of {} for the whole input ({} is then plain text)'
complete -c prun -n 'not __prockit_prun_command_at' -s i -f -d '-I {}: the default; accepted for xargs\' and GNU parallel\'s sake'
complete -c prun -n 'not __prockit_prun_command_at' -s n -l max-args -x -d 'Give each job up to N inputs (appended, or where {} is)'
complete -c prun -n 'not __prockit_prun_command_at' -s N -x -d 'As -n, and {1}..{N} are the job\'s 1st..Nth input'
complete -c prun -n 'not __prockit_prun_command_at' -s L -l max-lines -x -d 'Give each job up to N input lines (as -N)'
complete -c prun -n 'not __prockit_prun_command_at' -s m -f -d 'Give each job as many inputs as fit (-s), spread over the slots; {} becomes them all'
complete -c prun -n 'not __prockit_prun_command_at' -s X -f -d 'As -m, and a word holding {} is repeated for each input (x{}y: xay xby)'
complete -c prun -n 'not __prockit_prun_command_at' -s s -l max-chars -x -d 'Command line length at most (default: the system\'s limit, as xargs)'
complete -c prun -n 'not __prockit_prun_command_at' -l shell -f -d 'Run each job with a shell (sh -c; values are single-quoted), whatever the template'
complete -c prun -n 'not __prockit_prun_command_at' -l no-shell -f -d 'Exec each job directly, one argument per template word, whatever the template'
complete -c prun -n 'not __prockit_prun_command_at' -l single -f -d 'Run CMD once as one command even when stdin is a pipe or file (it is then CMD\'s stdin)'
complete -c prun -n 'not __prockit_prun_command_at' -s r -l no-run-if-empty -f -d 'Skip inputs that are empty or only whitespace; empty input is no error'
complete -c prun -n 'not __prockit_prun_command_at' -l group -f -d 'Print each job\'s output whole when it ends (pool default)'
complete -c prun -n 'not __prockit_prun_command_at' -l line-buffer -l lb -l linebuffer -f -d 'Print whole lines as they come, interleaved'
complete -c prun -n 'not __prockit_prun_command_at' -s u -l ungroup -f -d 'Let jobs write straight to prun\'s stdout and stderr'
complete -c prun -n 'not __prockit_prun_command_at' -l tag -f -d 'Prefix each output line with the job\'s name and a TAB'
complete -c prun -n 'not __prockit_prun_command_at' -l tagstring -l tag-string -x -d 'Prefix each output line with this (replacement strings allowed) and a TAB'
complete -c prun -n 'not __prockit_prun_command_at' -s k -l keep-order -l keeporder -f -d 'Print output in input order'
complete -c prun -n 'not __prockit_prun_command_at' -l halt -x -d 'Stop early: never, now|soon,fail|success|done=N[%]'
complete -c prun -n 'not __prockit_prun_command_at' -l retries -x -d 'Run a failing job (or the one command) up to N times in all'
complete -c prun -n 'not __prockit_prun_command_at' -l delay -x -d 'Wait DUR between job starts'
complete -c prun -n 'not __prockit_prun_command_at' -l joblog -l jl -r -F -d 'Log each job (GNU parallel\'s TSV columns)'
complete -c prun -n 'not __prockit_prun_command_at' -l joblog-format -x -a 'tsv jsonl' -d 'tsv (default) or jsonl (adds CPU times, peak RSS, CPUs)'
complete -c prun -n 'not __prockit_prun_command_at' -l resume -f -d 'Skip jobs already in the joblog'
complete -c prun -n 'not __prockit_prun_command_at' -l resume-failed -f -d 'Skip jobs that succeeded in the joblog; rerun the others'
complete -c prun -n 'not __prockit_prun_command_at' -l pin-spread -f -d 'Pin slot k to its own CPU, one per physical core first'
complete -c prun -n 'not __prockit_prun_command_at' -l bar -f -d 'Progress bar with ETA on stderr (a periodic line when not a terminal)'
complete -c prun -n 'not __prockit_prun_command_at' -l eta -f -d 'Periodic progress line with ETA on stderr'
complete -c prun -n 'not __prockit_prun_command_at' -l dry-run -l dryrun -f -d 'Print the commands that would run; run nothing'
complete -c prun -n 'not __prockit_prun_command_at' -l recstart -x -d '--pipe: records begin with STR (escapes \\n \\t \\0 \\xHH); cut only where it follows --recend'
complete -c prun -n 'not __prockit_prun_command_at' -l recend -x -d '--pipe: records end with STR (default \\n; "" with no --recstart: cut anywhere)'
complete -c prun -n 'not __prockit_prun_command_at' -l regexp -f -d '--recstart and --recend are regular expressions (ECMAScript)'
complete -c prun -n 'not __prockit_prun_command_at' -l pipepart -l pipe-part -f -d 'As --pipe, from the file given with -a: each job\'s part goes from the file to its stdin'
complete -c prun -n 'not __prockit_prun_command_at' -l results -l res -x -a '(__fish_complete_directories)' -d 'Keep each job\'s output in DIR/1/ARG/{stdout,stderr,seq}; FILE.csv or .tsv: one table'
complete -c prun -n 'not __prockit_prun_command_at' -l files -f -d 'Keep each job\'s stdout in a file and print the file\'s name instead'
complete -c prun -n 'not __prockit_prun_command_at' -l load -x -d 'Start no job while the 1-minute load average is at least MAX (N, or N% of the CPUs)'
complete -c prun -n 'not __prockit_prun_command_at' -l memfree -x -d 'Start no job while less than SIZE of memory is available (k m g t, K M G T)'
complete -c prun -n 'not __prockit_prun_command_at' -l semaphore -f -d 'Run CMD when one of -j slots named by --id is free (GNU parallel\'s sem)'
complete -c prun -n 'not __prockit_prun_command_at' -l id -x -d '--semaphore: the semaphore\'s name (default: the terminal\'s name)'
complete -c prun -n 'not __prockit_prun_command_at' -l fg -f -d '--semaphore: wait for CMD and exit with its status (default: run it in the background)'
complete -c prun -n 'not __prockit_prun_command_at' -l wait -f -d '--semaphore: wait until every command holding the semaphore has ended'
