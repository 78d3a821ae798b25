# pshell extensions, not in dash: $pipestatus, the timeout builtin, set -o pipefail.
# All cases here are [pshell-only]: run-cases skips them under any other shell.
# A timeout case that expires waits at most a fraction of a second; the commands it stops
# would run for 5 s, far from both the timeout and the runner's 10 s limit.

### pipestatus lists every stage's status [pshell-only]
false | true | (exit 3); echo $pipestatus
--- stdout
1 0 3
--- status 0

### pipestatus of a single command [pshell-only]
true; echo $pipestatus
(exit 4); echo $pipestatus
--- stdout
0
4
--- status 0

### pipestatus is replaced by the next pipeline [pshell-only]
false | true
echo $pipestatus
echo $pipestatus
--- stdout
1 0
0
--- status 0

### pipestatus can be saved in a variable [pshell-only]
(exit 2) | (exit 5)
ps=$pipestatus
echo "[$ps] $?"
--- stdout
[2 5] 0
--- status 0

### pipestatus with builtins, groups and compound stages [pshell-only]
true | { false; } | while read x; do :; done | if true; then (exit 7); fi
echo $pipestatus
--- stdout
0 1 0 7
--- status 0

### pipestatus of a stage killed by a signal [pshell-only]
sh -c 'kill -9 $$' | true
echo $pipestatus
--- stdout
137 0
--- status 0

### pipestatus of a writer stopped by SIGPIPE [pshell-only]
yes | head -n 1 > /dev/null
echo $pipestatus
--- stdout
141 0
--- status 0

### pipestatus keeps the raw statuses under bang [pshell-only]
! false | true
echo "$? $pipestatus"
--- stdout
1 1 0
--- status 0

### pipestatus of a not found stage [pshell-only]
frob 2>/dev/null | true
echo $pipestatus
--- stdout
127 0
--- status 0

### pipestatus with many stages [pshell-only]
true | (exit 1) | (exit 2) | (exit 3) | (exit 4) | (exit 5) | (exit 6) | (exit 7)
echo $pipestatus
--- stdout
0 1 2 3 4 5 6 7
--- status 0

### pipefail takes the rightmost failing stage [pshell-only]
set -o pipefail
false | true; echo $?
(exit 2) | (exit 3) | true; echo $?
true | true; echo $?
--- stdout
1
3
0
--- status 0

### pipefail off by default and with set +o [pshell-only]
false | true; echo $?
set -o pipefail
set +o pipefail
false | true; echo $?
--- stdout
0
0
--- status 0

### pipefail with set -e exits [pshell-only]
set -e -o pipefail
true | false | true
echo never
--- status 1

### pipefail with bang negates the pipefail status [pshell-only]
set -o pipefail
! false | true; echo $?
--- stdout
0
--- status 0

### pipefail shown by set -o [pshell-only]
set -o pipefail
set -o | grep pipefail | grep -c on
--- stdout
1
--- status 0

### timeout expiry gives 124 [pshell-only]
timeout 0.3 sleep 5
echo $?
--- stdout
124
--- status 0

### timeout returns the command's status when it finishes [pshell-only]
timeout 5 true; echo $?
timeout 5 false; echo $?
timeout 5 sh -c 'exit 3'; echo $?
--- stdout
0
1
3
--- status 0

### timeout passes output and arguments through [pshell-only]
timeout 5 printf '<%s>\n' 'a b' c
--- stdout
<a b>
<c>
--- status 0

### timeout durations in milliseconds, seconds and minutes [pshell-only]
timeout 500ms sleep 5; echo $?
timeout 0.2s sleep 5; echo $?
timeout 1.5 true; echo $?
timeout 2m true; echo $?
--- stdout
124
124
0
0
--- status 0

### timeout output before expiry is kept [pshell-only]
timeout 0.3 sh -c 'echo started; sleep 5; echo never'
echo $?
--- stdout
started
124
--- status 0

### timeout of a group [pshell-only]
timeout 0.2 { sleep 5; echo no; }
echo $?
--- stdout
124
--- status 0

### timeout of a group that finishes [pshell-only]
timeout 5 { echo one; echo two; false; }
echo $?
--- stdout
one
two
1
--- status 0

### timeout kills the whole process group [pshell-only]
timeout 0.3 sh -c 'sleep 5 & echo $! > gc; wait'
echo $?
read gc < gc
# The grandchild is gone (or a zombie about to be reaped by init) soon after.
i=0
while [ $i -lt 50 ]; do
  [ -e /proc/$gc ] || break
  read -r st < /proc/$gc/stat 2>/dev/null || break
  st=${st##*) }
  [ "${st%% *}" = Z ] && break
  sleep 0.1
  i=$((i + 1))
done
[ $i -lt 50 ] && echo grandchild-killed
--- stdout
124
grandchild-killed
--- status 0

### timeout does not wait for a grandchild holding the pipe [pshell-only]
x=$(timeout 0.3 sh -c 'sleep 5 & echo out; wait')
echo "$? $x"
--- stdout
124 out
--- status 0

### timeout -k sends KILL when TERM is ignored [pshell-only]
timeout -k 0.3 0.2 sh -c 'trap "" TERM; sleep 5'
echo $?
--- stdout
137
--- status 0

### timeout -k not needed when TERM works [pshell-only]
timeout -k 2 0.2 sleep 5
echo $?
--- stdout
124
--- status 0

### timeout -k with a group ignoring TERM [pshell-only]
timeout -k 0.3 0.2 { trap '' TERM; sh -c 'sleep 5'; echo no; }
echo $?
--- stdout
137
--- status 0

### timeout of an unknown command gives 127 [pshell-only]
timeout 5 frob 2>/dev/null
echo $?
--- stdout
127
--- status 0

### timeout with a bad duration fails without running the command [pshell-only]
timeout abc echo ran 2>/dev/null
[ $? -ne 0 ] && echo failed
--- stdout
failed
--- status 0

### timeout in a pipeline and pipestatus [pshell-only]
timeout 0.2 sleep 5 | cat
echo $pipestatus
--- stdout
124 0
--- status 0

### timeout inside a loop [pshell-only]
for d in 0.1 0.1; do timeout $d sleep 5; echo $?; done
--- stdout
124
124
--- status 0

### an alias may expand to a reserved word [pshell-only]
alias begin='{' end='}'
begin echo in-group; end
--- stdout
in-group
--- status 0

### timeout runs a script without #! [pshell-only]
printf 'echo plain-ran\n' > plain
chmod +x plain
timeout 5 ./plain
--- stdout
plain-ran
--- status 0
