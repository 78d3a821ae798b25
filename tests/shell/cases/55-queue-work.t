# `queue work NAME [-j N] [--drain] [--lease DUR] [--timeout DUR] [--retries N] CMD [ARG...]`:
# jobs for the items of a queue through the pool, ack on success, release on failure (dead
# letters after --retries deliveries), --drain, leases renewed, items back after a kill -9 or a
# SIGTERM, several workers sharing one queue (file store and redis://).  HOME is the case's
# directory, so local queues live in ~/.local/state/pshell/queues.db.  Cases that wait for a
# background worker poll a condition (a marker file, a result) in a loop bounded by a count,
# never a fixed sleep.  All cases are [pshell-only].

### --drain runs every item exactly once [pshell-only]
i=1; while [ $i -le 100 ]; do echo "item $i"; i=$((i+1)); done > want
queue put q < want
queue work q -j4 --drain sh -c 'echo "$1" >> "$2"' sh {} "$PWD/got"
echo "status $?"
sort want > a; sort got > b
cmp a b && echo same
queue stat q | sed -n 1,3p
--- stdout
status 0
same
waiting 0
inflight 0
dead 0
--- status 0

### items replace {} and the other replacement strings, or are appended [pshell-only]
queue put q dir/sub/f.tar.gz plain
queue work q -j1 --drain echo {} {.} {/} {//} {/.} out/{/.}.o {#}
queue put q2 'a b' c
queue work q2 -j1 --drain printf '<%s>\n'
f() { echo "function got $# arg: $1"; }
queue put q3 'x y'
queue work q3 --drain f
--- stdout
dir/sub/f.tar.gz dir/sub/f.tar f.tar.gz dir/sub f.tar out/f.tar.o 1
plain plain plain . plain out/plain.o 2
<a b>
<c>
function got 1 arg: x y
--- status 0

### the output of each job is kept whole, stdout then stderr [pshell-only]
queue put q a b c
queue work q -j3 --drain sh -c 'echo "$1 one"; sleep 0.2; echo "$1 err" >&2; echo "$1 two"' sh {} 2>&1 |
awk '{ w[NR] = $1 } END { ok = NR == 9; for (i = 1; i <= NR; i += 3) ok = ok && w[i] == w[i+1] && w[i] == w[i+2]; print ok ? "whole" : "mixed" }'
queue put q4 x
queue work q4 --drain sh -c 'echo out1; echo err >&2; echo out2' 2>&1
--- stdout
whole
out1
out2
err
--- status 0

### items are argv words, never shell code [pshell-only]
queue put q '; touch pwned1; rm -rf ~' '$(touch pwned2)' '`touch pwned3`' "q\"'" 'a  b' '*' '|| touch pwned4'
queue work q -j1 --drain printf '[%s]\n' {}
f() { printf '<%s>\n' "$@"; }
queue put q2 '$(touch pwned5)' '; touch pwned6'
queue work q2 -j1 --drain f
queue put q3 '$(touch pwned7)'
queue work q3 --drain sh -c 'printf "{%s}\n" "$1"' sh
ls
--- stdout
[; touch pwned1; rm -rf ~]
[$(touch pwned2)]
[`touch pwned3`]
[q"']
[a  b]
[*]
[|| touch pwned4]
<$(touch pwned5)>
<; touch pwned6>
{$(touch pwned7)}
--- status 0

### -j N: N jobs run at once and never more than N items are claimed [pshell-only] [slow]
# Jobs 1-3 wait until all three have arrived (a deadlock, so a timeout, if fewer could run at
# once); every job records the claims in flight, which must never pass 3 (a 4th claim would
# show as 4): the first of jobs 1-3 to look sees exactly 3.
cat > job.sh <<'EOF'
case $1 in
[123]) mkdir "arrived/$1"; i=0
    while [ "$(ls arrived | wc -l)" -lt 3 ] && [ $i -lt 20000 ]; do sleep 0.005; i=$((i+1)); done
    [ $i -lt 20000 ] || echo "job $1 never saw 3 running" ;;
esac
"$TEST_SHELL" -c 'queue stat q' | awk '$1 == "inflight" { print $2 }' >> inflight
EOF
mkdir arrived
queue put q 1 2 3 4 5 6 7 8 9
queue work q -j3 --drain sh job.sh
echo "status $?"
sort -n inflight | tail -1
wc -l < inflight
--- stdout
status 0
3
9
--- status 0

### a failing item is retried up to --retries deliveries, then it is a dead letter [pshell-only]
queue put q good bad
queue work q -j2 --drain --retries 3 sh -c 'echo "$1" >> runs; [ "$1" = good ]' sh {}
echo "status $?"
sort runs | uniq -c | awk '{ print $2, $1 }'
queue dead q
queue stat q | sed -n 1,3p
queue put q2 once
queue work q2 --drain --retries 1 sh -c 'echo "ran $1"; exit 3' sh
echo "status $?"
queue dead q2
--- stdout
status 1
bad 3
good 1
bad
waiting 0
inflight 0
dead 1
ran once
status 1
once
--- status 0

### a missing program is "command not found" for each job, a failure [pshell-only]
queue put q a b
queue work q -j1 --drain --retries 1 no-such-program-xyz {} 2>&1
echo "status $?"
queue dead q
--- stdout
pshell: no-such-program-xyz: command not found
pshell: no-such-program-xyz: command not found
status 2
a
b
--- status 0

### --timeout stops a job, which counts as a failure [pshell-only]
queue put q slow fast
queue work q -j2 --drain --timeout 300ms --retries 1 sh -c 'case $1 in slow) exec "$LP_HELPERS/lp-sleeper" 5;; esac; echo "$1 done"' sh {} 2>err
echo "status $?"
grep -c "pshell: queue: work: timed out: sh -c" err
queue dead q
--- stdout
fast done
status 1
1
slow
--- status 0

### a worker killed by SIGKILL mid-job: its item runs again, results are exactly the input set [pshell-only] [slow]
cat > job.sh <<'EOF'
if [ "$1" = X ] && [ ! -e marker ]; then : > marker; exec "$LP_HELPERS/lp-sleeper" 60; fi
echo "$1" >> res
EOF
queue put q a X b c
queue work q -j1 sh job.sh &
pid=$!
i=0; while [ ! -e marker ] && [ $i -lt 3000 ]; do sleep 0.01; i=$((i+1)); done
[ -e marker ] && echo "X started"
kill -9 $pid
wait $pid
echo "worker status $?"
queue work q -j2 --drain sh job.sh
echo "status $?"
sort res
queue stat q | sed -n 1,3p
--- stdout
X started
worker status 137
status 0
X
a
b
c
waiting 0
inflight 0
dead 0
--- status 0

### SIGTERM cancels the running jobs and gives their items back uncounted [pshell-only] [slow]
# With --retries 1 a counted release would make X a dead letter at once.
cat > job.sh <<'EOF'
if [ ! -e marker ]; then : > marker; exec "$LP_HELPERS/lp-sleeper" 60; fi
echo "ran $1"
EOF
queue put q X
queue work q --retries 1 sh job.sh &
pid=$!
i=0; while [ ! -e marker ] && [ $i -lt 3000 ]; do sleep 0.01; i=$((i+1)); done
kill -TERM $pid
wait $pid
echo "worker status $?"
queue stat q | sed -n 1,3p
queue work q --drain --retries 1 sh job.sh
echo "status $?"
--- stdout
worker status 143
waiting 1
inflight 0
dead 0
ran X
status 0
--- status 0

### a trapped signal stops the worker too: 128+N, its trap runs, the item goes back uncounted [pshell-only] [slow]
cat > job.sh <<'EOF'
if [ ! -e marker ]; then : > marker; exec "$LP_HELPERS/lp-sleeper" 60; fi
echo "ran $1"
EOF
queue put q X
"$TEST_SHELL" -c 'trap "echo trap ran" USR1; queue work q --retries 1 sh job.sh; echo "work status $?"' > out &
pid=$!
i=0; while [ ! -e marker ] && [ $i -lt 3000 ]; do sleep 0.01; i=$((i+1)); done
kill -USR1 $pid
wait $pid
echo "shell status $?"
cat out
queue stat q | sed -n 1,3p
queue work q --drain --retries 1 sh job.sh
--- stdout
shell status 0
trap ran
work status 138
waiting 1
inflight 0
dead 0
ran X
--- status 0

### two workers share one queue: each of 200 items runs exactly once [pshell-only] [slow]
i=1; while [ $i -le 200 ]; do echo $i; i=$((i+1)); done > want
queue put q < want
queue work q -j2 --drain sh -c 'echo "$1" >> res' sh {} &
p1=$!
queue work q -j2 --drain sh -c 'echo "$1" >> res' sh {} &
p2=$!
wait $p1; s1=$?
wait $p2; s2=$?
echo "status $s1 $s2"
sort -n res | cmp - want && echo "each once"
queue stat q | sed -n 1,3p
--- stdout
status 0 0
each once
waiting 0
inflight 0
dead 0
--- status 0

### claims of running jobs are renewed: a job longer than --lease is not run twice [pshell-only] [slow]
# The first worker's job runs 2.5 s under a 1 s lease; the second worker, started meanwhile,
# must find nothing to take (the claim is renewed) and wait until it is acknowledged.
cat > job.sh <<'EOF'
echo "$1 by $2" >> res
[ "$2" = A ] && { : > marker; "$LP_HELPERS/lp-sleeper" 2.5; }
: > "done.$2"
EOF
queue put q X
queue work q --drain --lease 1s sh job.sh {} A &
pid=$!
i=0; while [ ! -e marker ] && [ $i -lt 3000 ]; do sleep 0.01; i=$((i+1)); done
queue work q --drain --lease 1s sh job.sh {} B
echo "B status $?"
wait $pid
echo "A status $?"
cat res
--- stdout
B status 0
A status 0
X by A
--- status 0

### without --drain a worker waits for new items until the queue is closed [pshell-only] [slow]
queue put q first
queue work q -j2 sh -c 'echo "$1" >> res' sh {} &
pid=$!
i=0; while ! grep -qx first res 2>/dev/null && [ $i -lt 3000 ]; do sleep 0.01; i=$((i+1)); done
queue put q later
i=0; while ! grep -qx later res 2>/dev/null && [ $i -lt 3000 ]; do sleep 0.01; i=$((i+1)); done
queue close q
wait $pid
echo "worker status $?"
cat res
--- stdout
worker status 0
first
later
--- status 0

### two workers share a redis:// queue (redis-server on a free loopback port) [pshell-only] [slow]
# The case fails, never skips, when redis-server cannot be started.
ok=
for try in 1 2 3 4 5 6 7 8; do
    port=$(( $(od -An -N2 -tu2 /dev/urandom) % 20000 + 30000 ))
    redis-server --port $port --bind 127.0.0.1 --save '' --appendonly no >redis.log 2>&1 &
    rpid=$!
    i=0
    while [ $i -lt 500 ] && kill -0 $rpid 2>/dev/null; do
        # ours, not another server on that port
        if redis-cli -p $port info server 2>/dev/null | grep -q "^process_id:$rpid"; then ok=1; break; fi
        sleep 0.01; i=$((i+1))
    done
    [ -n "$ok" ] && break
    kill $rpid 2>/dev/null; wait $rpid
done
[ -n "$ok" ] || { echo "redis-server did not start"; cat redis.log; exit 1; }
url=redis://127.0.0.1:$port/jobs
i=1; while [ $i -le 100 ]; do echo $i; i=$((i+1)); done > want
queue put $url < want
echo "len $(queue len $url)"
queue work $url -j2 --drain sh -c 'echo "$1" >> res' sh {} &
p1=$!
queue work $url -j2 --drain sh -c 'echo "$1" >> res' sh {} &
p2=$!
wait $p1; s1=$?
wait $p2; s2=$?
echo "status $s1 $s2"
sort -n res | cmp - want && echo "each once"
queue put $url bad
queue work $url --drain --retries 2 false
echo "status $?"
queue dead $url
kill $rpid; wait $rpid
--- stdout
len 100
status 0 0
each once
status 1
bad
--- status 0

### usage errors give 255 [pshell-only]
queue work 2>&1; echo "status $?"
queue work q 2>&1; echo "status $?"
queue work q -j x echo 2>&1; echo "status $?"
queue work q --lease 0 echo 2>&1; echo "status $?"
queue work q --timeout soon echo 2>&1; echo "status $?"
queue work q --frob echo 2>&1; echo "status $?"
queue work q --retries 2>&1; echo "status $?"
queue work q echo {2} 2>&1; echo "status $?"
--- stdout
pshell: queue: work: usage: queue work NAME [-j N] [--drain] [--lease DUR] [--timeout DUR] [--retries N] COMMAND [ARG...]
status 255
pshell: queue: work: q: no command given
status 255
pshell: queue: work: -j: invalid number 'x' (0..100000)
status 255
pshell: queue: work: --lease: '0': invalid duration (examples: 1.5  2s  100ms  1m)
status 255
pshell: queue: work: --timeout: 'soon': invalid duration (examples: 1.5  2s  100ms  1m)
status 255
pshell: queue: work: --frob: unknown option
status 255
pshell: queue: work: --retries: needs a value
status 255
pshell: queue: work: {2}: there is only 1 input source
status 255
--- status 0
