# The queue builtin's subcommands other than `work` (55-queue-work.t): named job queues on
# lp_queue.  A local NAME is the queue NAME in $XDG_STATE_HOME/pshell/queues.db (HOME is the
# case's directory, so ~/.local/state/pshell/queues.db); a NAME with ':' is a queue URI.
# Statuses: 0 done; 1 nothing (get/put timed out, no such queue, `new` of a queue that exists
# otherwise); 2 usage or store error (the message names what was wrong); 3 closed.  Items are
# bytes: they are printed as they were put, followed by a newline, never evaluated.
# All cases are [pshell-only].

### put then get gives the items in FIFO order [pshell-only]
queue put q one two 'three 3'
queue get q; echo "status $?"
queue get q
queue get q
--- stdout
one
status 0
two
three 3
--- status 0

### put without items puts each line of stdin, empty lines too, a last line without newline too [pshell-only]
printf 'first line\n\n  spaced  \nlast' | queue put q
echo "put $? len $(queue len q)"
queue get q; queue get q; queue get q; queue get q
printf '</dev/null puts nothing: %s\n' "$(queue put q </dev/null; queue len q)"
--- stdout
put 0 len 4
first line

  spaced  
last
</dev/null puts nothing: 0
--- status 0

### items come back byte-exact, never evaluated [pshell-only]
queue put q 'a  b' "it's" '"dq"' '$(echo no)' '`echo no`' 'x; echo no' '*' '$HOME' 'back\slash' ' lead' 'tab	in'
printf '%s\n' '$(echo no) | echo no' '> f' | queue put q
while queue get --timeout 0 q; do :; done
[ -e f ] || echo "no file f"
--- stdout
a  b
it's
"dq"
$(echo no)
`echo no`
x; echo no
*
$HOME
back\slash
 lead
tab	in
$(echo no) | echo no
> f
no file f
--- status 0

### get output can be captured, with $(...) [pshell-only]
queue put q 'hello world'
x=$(queue get q)
echo "[$x] $?"
--- stdout
[hello world] 0
--- status 0

### new --priority: lowest priority first, equal priorities in FIFO order [pshell-only]
queue new --priority p
queue put -p 5 p five
queue put -p 1 p one-a
queue put -p -2 p minus-two
queue put -p1 p one-b
queue put -p 3 p three x y
for i in 1 2 3 4 5 6 7; do queue get p; done
--- stdout
minus-two
one-a
one-b
three
x
y
five
--- status 0

### new --lifo: the last item put comes first [pshell-only]
queue new --lifo l
queue put l 1 2 3
queue put l 4
queue get l; queue get l; queue get l; queue get l
--- stdout
4
3
2
1
--- status 0

### a FIFO queue ignores -p [pshell-only]
queue put -p 9 f nine
queue put -p 1 f one
queue get f; queue get f
--- stdout
nine
one
--- status 0

### new of an existing queue: 0 with the same settings, 1 and a message naming the difference [pshell-only]
queue new --lifo l; echo "new $?"
queue new --lifo l; echo "again $?"
queue new --priority l 2>&1; echo "priority $?"
queue new l 2>&1; echo "fifo $?"
queue new --lifo --max 5 l 2>&1; echo "max $?"
queue stat l | grep order
--- stdout
new 0
again 0
pshell: queue: new: l exists as a lifo queue (not priority)
priority 1
pshell: queue: new: l exists as a lifo queue (not fifo)
fifo 1
pshell: queue: new: l exists with max 0 (not 5)
max 1
order lifo
--- status 0

### a get creates a FIFO queue: new must come first to choose the order [pshell-only]
queue get --timeout 0 g; echo "get $?"
queue new --lifo g 2>&1; echo "new $?"
--- stdout
get 1
pshell: queue: new: g exists as a fifo queue (not lifo)
new 1
--- status 0

### stat of a new queue, and with a bound [pshell-only]
queue new --max 3 b
queue put b x y
queue stat b
--- stdout
waiting 2
inflight 0
dead 0
order fifo
max 3
closed no
--- status 0

### a bounded queue: put --timeout gives 1 when it stays full [pshell-only]
queue new --max=2 b
queue put --timeout 0 b x y; echo "two $?"
queue put --timeout 0.1 b z 2>&1; echo "full $?"
queue get b; queue put -t 0 b z; echo "after get $?"
queue len b
--- stdout
two 0
pshell: queue: b: the queue is full (timed out)
full 1
x
after get 0
2
--- status 0

### len counts waiting items only, stat also those in flight [pshell-only]
# the get claims the 100 kB item, writes 64 kB into the pipe and blocks there: the item is in
# flight until the reader (released through the fifo) drains the pipe and the get acks it
mkfifo go
big=$(head -c 100000 /dev/zero | tr '\0' x)
queue put q "$big" small
{ queue get q; echo "get $?" >&2; } 2>st | { read -r line <go; wc -c; } >n &
while [ "$(queue len q)" != 1 ]; do :; done
queue stat q | head -2
echo go >go
wait
cat n st
queue stat q | head -2
queue get q
--- stdout
waiting 1
inflight 1
100001
get 0
waiting 1
inflight 0
small
--- status 0

### peek shows waiting items in get order without removing them [pshell-only]
queue put q a b c
queue peek q; echo "peek $?"
queue peek q 2
queue peek q 0
echo "len $(queue len q)"
queue get q
queue new --priority p
queue put -p 2 p two; queue put -p 1 p one
queue peek p 1
--- stdout
a
b
c
peek 0
a
b
len 3
a
one
--- status 0

### peek shows at most 10 items by default [pshell-only]
seq 12 | queue put q
queue peek q | wc -l
queue peek q 100 | wc -l
--- stdout
10
12
--- status 0

### dead of a queue without dead letters prints nothing [pshell-only]
queue put q x
queue dead q; echo "dead $?"
queue dead q 3; echo "dead 3 $?"
--- stdout
dead 0
dead 3 0
--- status 0

### ls lists local queues sorted, rm removes them [pshell-only]
queue ls; echo "empty $?"
queue put zeta x
queue new alpha
queue put 'mid dle' y
queue ls
queue rm zeta 'mid dle'; echo "rm $?"
queue ls
queue rm alpha
queue ls
--- stdout
empty 0
alpha
mid dle
zeta
rm 0
alpha
--- status 0

### rm of an unknown queue: status 1 and a message, the others are removed [pshell-only]
queue put a x
queue rm nosuch a 2>&1; echo "rm $?"
queue ls
queue get --timeout 0 a; echo "get $?"
--- stdout
pshell: queue: nosuch: no such queue
rm 1
get 1
--- status 0

### len, stat, peek, dead and close of an unknown queue: status 1, and it is not created [pshell-only]
queue len nosuch 2>&1; echo "len $?"
queue stat nosuch 2>&1; echo "stat $?"
queue peek nosuch 2>&1; echo "peek $?"
queue dead nosuch 2>&1; echo "dead $?"
queue close nosuch 2>&1; echo "close $?"
queue ls
--- stdout
pshell: queue: nosuch: no such queue
len 1
pshell: queue: nosuch: no such queue
stat 1
pshell: queue: nosuch: no such queue
peek 1
pshell: queue: nosuch: no such queue
dead 1
pshell: queue: nosuch: no such queue
close 1
--- status 0

### get --timeout on an empty queue: status 1, nothing printed [pshell-only]
queue new e
queue get --timeout 0 e; echo "poll $?"
queue get --timeout=0.1 e; echo "timeout $?"
queue get -t 50ms e; echo "short $?"
--- stdout
poll 1
timeout 1
short 1
--- status 0

### a closed queue: gets take what is left, then 3 at once; put gives 3 [pshell-only]
queue put c x y
queue close c; echo "close $?"
queue get c; echo "get $?"
queue stat c | grep closed
queue len c
queue get c; queue get c; echo "get $?"
queue get c; echo "blocking get $?"
queue put c z 2>&1; echo "put $?"
--- stdout
close 0
x
get 0
closed yes
1
y
get 3
blocking get 3
pshell: queue: c: the queue is closed
put 3
--- status 0

### a blocking get in the background is woken by a later put [pshell-only]
queue new w
queue get w >out &
queue put w wake-up
wait $!; echo "get $?"
cat out
echo "len $(queue len w)"
--- stdout
get 0
wake-up
len 0
--- status 0

### a blocking get in the background is woken by close, with status 3 [pshell-only]
queue new w
queue get w >out &
queue close w
wait $!; echo "get $?"
[ -s out ] || echo "nothing printed"
--- stdout
get 3
nothing printed
--- status 0

### two shells putting at once, two getting at once: every item got exactly once [pshell-only]
$TEST_SHELL -c 'i=0; while [ $i -lt 40 ]; do queue put q a$i; i=$((i + 1)); done' &
seq 40 | sed 's/^/b/' | $TEST_SHELL -c 'queue put q' &
wait
echo "len $(queue len q)"
get_all='while :; do queue get --timeout 0 q || { echo "end $?" >&2; break; }; done >$1'
$TEST_SHELL -c "$get_all" sh got1 2>e1 &
$TEST_SHELL -c "$get_all" sh got2 2>e2 &
wait
cat e1 e2
cat got1 got2 | sort | uniq -d
cat got1 got2 | wc -l
cat got1 got2 | sort -u | wc -l
cat got1 got2 | grep -c '^a'
echo "len $(queue len q)"
--- stdout
len 80
end 1
end 1
80
80
40
len 0
--- status 0

### the local database is mode 0600 in a directory of mode 0700 [pshell-only]
umask 022
queue put q x
stat -c %a .local/state/pshell/queues.db .local/state/pshell
ls .local/state/pshell | grep -c '^queues.db$'
--- stdout
600
700
1
--- status 0

### XDG_STATE_HOME moves the local database [pshell-only]
XDG_STATE_HOME=$PWD/state queue put q x
export XDG_STATE_HOME=$PWD/state
queue get q
[ -e state/pshell/queues.db ] && echo "db in state"
[ -e .local ] || echo "no .local"
--- stdout
x
db in state
no .local
--- status 0

### a file: URI names a queue in another database [pshell-only]
queue put "file:$PWD/q.db#jobs" hello
queue put "file:$PWD/q.db#other" x
queue ls "file:$PWD/q.db"
queue get "file:$PWD/q.db#jobs"
queue len "file:$PWD/q.db#other"
queue ls
[ -f q.db ] && echo "q.db exists"
--- stdout
jobs
other
hello
1
q.db exists
--- status 0

### a mem: queue lives in one command only: the next queue command gets a new, empty one [pshell-only]
queue put mem: x; echo "put $?"
queue get --timeout 0 mem:; echo "get $?"
--- stdout
put 0
get 1
--- status 0

### usage errors: status 2 and a message naming what was wrong [pshell-only]
queue 2>&1; echo $?
queue frob 2>&1; echo $?
queue put 2>&1; echo $?
queue get 2>&1; echo $?
queue get a b 2>&1; echo $?
queue get --timeout 2>&1; echo $?
queue get --timeout soon q 2>&1; echo $?
queue get -x q 2>&1; echo $?
queue put -p high q x 2>&1; echo $?
queue put -p 99999999999 q x 2>&1; echo $?
queue new --max -1 q 2>&1; echo $?
queue new --sideways q 2>&1; echo $?
queue peek q many 2>&1; echo $?
queue len 2>&1; echo $?
queue stat a b 2>&1; echo $?
queue rm 2>&1; echo $?
queue ls notauri 2>&1; echo $?
queue put 'a/b' x 2>&1; echo $?
queue put 'a#b' x 2>&1; echo $?
queue put '' x 2>&1; echo $?
queue ls
--- stdout
pshell: queue: usage: queue put|new|get|len|stat|ls|rm|peek|dead|close|work ...
2
pshell: queue: unknown subcommand 'frob' (expected put|new|get|len|stat|ls|rm|peek|dead|close|work)
2
pshell: queue: usage: queue put [-p PRIORITY] [--timeout DURATION] NAME [ITEM...]
2
pshell: queue: usage: queue get [--timeout DURATION] NAME
2
pshell: queue: usage: queue get [--timeout DURATION] NAME
2
pshell: queue: get: --timeout needs a value
2
pshell: queue: get: bad duration 'soon'
2
pshell: queue: get: unknown option '-x'
2
pshell: queue: put: bad priority 'high'
2
pshell: queue: put: bad priority '99999999999'
2
pshell: queue: new: bad bound '-1'
2
pshell: queue: new: unknown option '--sideways'
2
pshell: queue: peek: bad count 'many'
2
pshell: queue: usage: queue len NAME
2
pshell: queue: usage: queue stat NAME
2
pshell: queue: usage: queue rm NAME...
2
pshell: queue: usage: queue ls [URI]
2
pshell: queue: bad queue name 'a/b'
2
pshell: queue: bad queue name 'a#b'
2
pshell: queue: bad queue name ''
2
--- status 0

### a bad URI: status 2 and the store's message naming it [pshell-only]
queue put bogus:x y 2>&1; echo $?
--- stdout
pshell: queue: bogus:x: bad queue URI 'bogus:x' (expected mem:, shm:NAME, file:PATH[#QUEUE] or redis://[:PASSWORD@]HOST[:PORT]/NAME)
2
--- status 0

### a store error names the queue and says why [pshell-only]
echo a file >notadir
queue put "file:$PWD/notadir/q.db#x" y >/dev/null 2>err; echo "status $?"
grep -c "^pshell: queue: file:$PWD/notadir/q.db#x: ." err
--- stdout
status 2
1
--- status 0

### a NAME starting with - after -- [pshell-only]
queue put -- -q x; echo "put $?"
queue get -- -q
queue ls
--- stdout
put 0
x
-q
--- status 0

### a trapped signal interrupts a blocking get: status 128+N, the trap runs [pshell-only]
# the signal is sent again and again until the get has returned: whichever comes during the
# get interrupts it (one that comes before runs the trap and the get still waits)
trap 'trapped=yes' USR1
queue new w
{ while [ ! -e done ]; do kill -USR1 $$; sleep 0.05; done; } &
queue get w; echo "get $?"
: >done
wait
echo "trapped=$trapped len=$(queue len w)"
--- stdout
get 138
trapped=yes len=0
--- status 0

### a put blocked on a full bounded queue goes on when a get makes room [pshell-only]
queue new --max 1 b
queue put b first
queue put b second &
queue get b
wait $!; echo "put $?"
queue get b
queue len b
--- stdout
first
put 0
second
0
--- status 0
