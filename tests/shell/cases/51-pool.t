# The pool builtin (GNU parallel-like): items from ::: lists, :::: files or stdin lines,
# replacement strings, -k order, output kept whole per job, status = failed jobs (max 101),
# --timeout, --retries, --halt, --joblog, --dry-run, function and body jobs, bad usage (255).
# All cases are [pshell-only].  Timing cases use gaps of at least a second between the jobs
# whose order they check; a job that must be stopped would otherwise run for 5 s.

### pool runs the command once per ::: item, -k in input order [pshell-only]
pool -k -j2 echo item {} ::: a b c
--- stdout
item a
item b
item c
--- status 0

### pool appends the item when the command has no replacement string [pshell-only]
pool -k printf '<%s>\n' ::: a 'b c'
--- stdout
<a>
<b c>
--- status 0

### pool reads items as lines of stdin without ::: [pshell-only]
printf 'x\ny y\n\nz' | pool -k -j3 printf '[%s]\n'
--- stdout
[x]
[y y]
[]
[z]
--- status 0

### pool -k keeps input order although jobs end in another order [pshell-only]
pool -k -j3 sh -c 'sleep $1; echo $1' sh ::: 1.2 0 0.6
--- stdout
1.2
0
0.6
--- status 0

### pool without -k prints in completion order [pshell-only]
out=$(pool -j2 sh -c 'sleep $1; echo $1' sh ::: 1.5 0)
echo $out
pool -j3 sh -c 'sleep $1; echo $1' sh ::: 0.2 0 0.1 | sort
--- stdout
0 1.5
0
0.1
0.2
--- status 0

### pool replacement strings [pshell-only]
pool -k -j1 echo {} {.} {/} {//} {/.} out/{/.}.o {#} ::: dir/sub/f.tar.gz plain /abs d.x/f
--- stdout
dir/sub/f.tar.gz dir/sub/f.tar f.tar.gz dir/sub f.tar out/f.tar.o 1
plain plain plain . plain out/plain.o 2
/abs /abs abs / abs out/abs.o 3
d.x/f d.x/f f d.x f out/f.o 4
--- status 0

### pool {%} is the slot number, 1..N [pshell-only]
pool -j1 echo {%} ::: a b
pool -j3 echo slot{%} ::: a b c d e f g | sort -u | grep -cv '^slot[123]$'
pool -j2 -k sh -c 'echo $1 $LP_POOL_SLOT' sh {%} ::: a | awk '{ print ($1 == $2) }'
--- stdout
1
1
0
1
--- status 0

### pool items are argv words, never shell code [pshell-only]
pool -k printf '[%s]\n' {} ::: '; touch pwned1' '$(touch pwned2)' '`touch pwned3`' "q\"'" 'a  b' 'l1
l2' '*'
printf '%s\n' '$(touch pwned4); touch pwned5' '|| touch pwned6' | pool -k printf '[%s]\n'
f() { printf '<%s>\n' "$@"; }
pool f ::: '$(touch pwned7)'
pool { printf '{%s}\n' "$1"; } ::: '; touch pwned8'
ls
--- stdout
[; touch pwned1]
[$(touch pwned2)]
[`touch pwned3`]
[q"']
[a  b]
[l1
l2]
[*]
[$(touch pwned4); touch pwned5]
[|| touch pwned6]
<$(touch pwned7)>
{; touch pwned8}
--- status 0

### pool with several ::: lists runs their cartesian product [pshell-only]
pool -k -j4 echo {1}-{2} ::: a b ::: 1 2 3
pool -k printf '<%s>' ::: a b ::: 1; echo
pool -k printf '<%s>' {} ::: a ::: 1 2; echo
--- stdout
a-1
a-2
a-3
b-1
b-2
b-3
<a><1><b><1>
<a><1><a><2>
--- status 0

### pool :::: reads items from a file [pshell-only]
printf 'one\ntwo\n' > list
pool -k echo {} :::: list
pool -k echo {1}{2} :::: list ::: X
--- stdout
one
two
oneX
twoX
--- status 0

### pool status is the number of failed jobs [pshell-only]
pool sh -c 'exit $1' sh ::: 0 1 2 0 3
echo $?
pool true ::: a b
echo $?
--- stdout
3
0
--- status 0

### pool status is at most 101 [pshell-only]
seq 150 | pool -j8 false
echo $?
--- stdout
101
--- status 0

### pool a missing program fails each job with the shell's message [pshell-only]
pool -j2 frobnicate-nothing ::: a b 2>err
echo $?
grep -c 'pshell: frobnicate-nothing: command not found' err
pool ./nope ::: a 2>&1
--- stdout
2
2
pshell: ./nope: No such file or directory
--- status 1

### pool keeps each job's output whole and its stderr after its stdout [pshell-only]
pool -j2 sh -c 'for i in 1 2 3 4 5 6 7 8 9 10; do echo $1; sleep 0.01; done' sh ::: a b | uniq | wc -l
pool -k sh -c 'echo out$1; echo err$1 >&2; echo more$1' sh ::: 1 2 2>&1
--- stdout
2
out1
more1
err1
out2
more2
err2
--- status 0

### pool --line-buffer prints whole lines as they come [pshell-only]
pool -j2 --line-buffer sh -c 'echo a$1; sleep 0.2; echo b$1' sh ::: 1 2 | sort
--- stdout
a1
a2
b1
b2
--- status 0

### pool --timeout stops a job and counts it failed [pshell-only]
pool -k --timeout 0.3 sh -c 'sleep $1; echo done $1' sh ::: 5 0 2>err
echo $?
grep -c 'timed out' err
pool --timeout=100ms sleep ::: 5
echo $?
--- stdout
done 0
1
1
1
--- status 0

### pool --retries runs a failing job again [pshell-only]
job='if [ -e seen.$1 ]; then echo ok $1; else : > seen.$1; echo fail $1; exit 1; fi'
pool --retries 2 sh -c "$job" sh ::: a
echo $?
pool --retries 1 sh -c "$job" sh ::: b
echo $?
--- stdout
ok a
0
fail b
1
--- status 0

### pool --halt now,fail=1 kills the running jobs [pshell-only]
pool -j2 --halt now,fail=1 sh -c 'if [ $1 = bad ]; then exit 3; fi; sleep 5; echo late' sh ::: slow bad more
echo $?
--- stdout
3
--- status 0

### pool --halt soon,fail=1 starts no new job but lets running ones end [pshell-only]
pool -j1 --halt soon,fail=1 sh -c '[ $1 = x ] && exit 4; echo $1' sh ::: a x b c
echo $?
pool -k -j2 --halt soon,fail=1 sh -c 'sleep $1; echo end $1; [ $1 != 0 ]' sh ::: 1 0 2 3
echo $?
--- stdout
a
4
end 1
end 0
1
--- status 0

### pool --halt now,success=1 stops at the first success [pshell-only]
pool -j1 --halt now,success=1 sh -c 'echo $1; exit $1' sh ::: 1 0 2
echo $?
--- stdout
1
0
0
--- status 0

### pool --joblog writes parallel's columns [pshell-only]
pool -k --joblog log sh -c 'printf abc; exit $1' sh ::: 0 3 > /dev/null
echo $?
head -n 1 log
awk -F '\t' 'NR > 1 { print NF, $1, $2, ($3 > 1000000000), ($4 >= 0), $5, $6, $7, $8, $9 }' log | sort
pool --joblog log2 sh -c 'kill -9 $$' ::: x
awk -F '\t' 'NR > 1 { print $7, $8 }' log2
--- stdout
1
Seq	Host	Starttime	JobRuntime	Send	Receive	Exitval	Signal	Command
9 1 : 1 1 0 3 0 0 sh -c 'printf abc; exit $1' sh 0
9 2 : 1 1 0 3 3 0 sh -c 'printf abc; exit $1' sh 3
0 9
--- status 0

### pool --dry-run prints the command lines and runs nothing [pshell-only]
pool --dry-run -k touch made-{} x ::: a "b c" "it's" ''
ls
--- stdout
touch made-a x
touch 'made-b c' x
touch 'made-it'\''s' x
touch made- x
--- status 0

### pool runs a shell function with the items as $1... [pshell-only]
f() { echo "<$1|$2>"; return $3; }
pool -k -j2 f ::: a b
pool -k f {} x 0 ::: c
pool f {} z 1 ::: y
echo $?
--- stdout
<a|>
<b|>
<c|x>
<y|z>
1
--- status 0

### pool runs a body with the items as positional parameters [pshell-only]
v=outer
pool -k -j2 { echo "[$1|$2|$v]"; v=changed; } ::: a b ::: 1 2
echo $v
pool -k { echo "<$#:$1>"; } ::: x "y z"
printf 'p\nq\n' | pool -k { echo "($1)"; }
--- stdout
[a|1|outer]
[a|2|outer]
[b|1|outer]
[b|2|outer]
outer
<1:x>
<1:y z>
(p)
(q)
--- status 0

### pool runs builtins and sees exported variables [pshell-only]
export PV=seen
pool -k printf '%s-%s\n' {} "$PV" ::: a
pool -k sh -c 'echo $PV' ::: 1
pool echo ::: b > out
cat out
pool -k echo ::: c d | cat
--- stdout
a-seen
seen
b
c
d
--- status 0

### pool -j forms [pshell-only]
pool -k -j2 echo ::: a
pool -k -j 2 echo ::: b
pool -k --jobs 2 echo ::: c
pool -k --jobs=2 echo ::: d
pool -k -j0 echo ::: e
--- stdout
a
b
c
d
e
--- status 0

### pool bad usage gives 255 and names the wrong thing [pshell-only]
pool -j x echo ::: a 2>&1; echo $?
pool -j 2>&1; echo $?
pool --halt sometimes echo ::: a 2>&1; echo $?
pool --timeout 3x echo ::: a 2>&1; echo $?
pool --retries -1 echo ::: a 2>&1; echo $?
pool --frobnicate echo ::: a 2>&1; echo $?
pool ::: a 2>&1; echo $?
pool echo :::: missing-file 2>&1; echo $?
pool echo {2} ::: a 2>&1; echo $?
pool echo ::: a :::: 2>&1; echo $?
pool --joblog /nonexistent/dir/log echo ::: a 2>&1; echo $?
pool -k echo { echo x; } ::: a 2>&1; echo $?
--- stdout
pshell: pool: -j: invalid number 'x' (0..100000)
255
pshell: pool: -j: needs a value
255
pshell: pool: --halt: 'sometimes': expected now,fail=N  soon,fail=N  now,success=N  soon,success=N  never
255
pshell: pool: --timeout: '3x': invalid duration (examples: 1.5  2s  100ms  1m)
255
pshell: pool: --retries: invalid number '-1' (0..1000)
255
pshell: pool: --frobnicate: unknown option
255
pshell: pool: no command given (usage: pool [OPTIONS] COMMAND [ARG...] [::: ITEM...])
255
pshell: pool: missing-file: No such file or directory
255
pshell: pool: {2}: there is only 1 input source
255
pshell: pool: ::::: needs a file name after it
255
pshell: pool: --joblog: /nonexistent/dir/log: No such file or directory
255
pshell: pool: echo: unexpected before the body (a body takes its items after it)
255
--- status 0

### pool jobs and their children do not outlive a shell killed by a signal [pshell-only]
$TEST_SHELL -c 'pool -j2 sh -c "sleep 7.3; echo \$1" sh ::: 1 2 3' &
pid=$!
sleep 0.5
kill -TERM $pid
wait $pid
echo $?
ps -eo args | grep -c '^sleep 7[.]3'
--- stdout
143
0
--- status 1

### pool runs 10000 jobs with exact output [pshell-only] [slow]
seq 10000 | pool -j4 echo | sort -n > got
seq 10000 | cmp - got && echo same
--- stdout
same
--- status 0
