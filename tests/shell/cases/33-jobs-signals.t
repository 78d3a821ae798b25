# Builtins: wait kill trap jobs umask.

### wait with no jobs returns zero
wait
echo $?
--- stdout
0
--- status 0

### wait for a pid returns its status
(exit 3) &
p=$!
wait $p
echo $?
--- stdout
3
--- status 0

### wait for several pids returns the last one's status
(exit 1) & a=$!
(exit 2) & b=$!
wait $a $b
echo $?
--- stdout
2
--- status 0

### wait for an unknown pid returns 127
wait 999999 2>/dev/null
echo $?
--- stdout
127
--- status 0

### wait for a killed job gives 128 plus signal
sleep 5 &
p=$!
kill $p
wait $p
echo $?
--- stdout
143
--- status 0

### wait collects output order deterministically
(echo one > a) &
wait
(echo two >> a) &
wait
cat a
--- stdout
one
two
--- status 0

### kill sends a named signal
sleep 5 &
p=$!
kill -s KILL $p
wait $p
echo $?
--- stdout
137
--- status 0

### kill with numeric and dash-name forms
sleep 5 &
p1=$!
sleep 5 &
p2=$!
kill -9 $p1
kill -TERM $p2
wait $p1; echo $?
wait $p2; echo $?
--- stdout
137
143
--- status 0

### kill -0 tests existence
kill -0 $$ && echo alive
kill -0 999999 2>/dev/null || echo no-such
--- stdout
alive
no-such
--- status 0

### kill -l maps status to name
kill -l 143
kill -l 9
--- stdout
TERM
KILL
--- status 0

### trap on EXIT runs at normal end
trap 'echo bye' EXIT
echo main
--- stdout
main
bye
--- status 0

### trap on EXIT runs on exit and keeps the status
trap 'echo "exiting with $?"' EXIT
echo main
exit 3
--- stdout
main
exiting with 3
--- status 3

### trap on EXIT in a subshell runs at subshell end
(trap 'echo sub-exit' EXIT; echo in-sub)
echo after
--- stdout
in-sub
sub-exit
after
--- status 0

### traps are reset in subshells
trap 'echo parent-trap' EXIT
(echo in-sub)
trap - EXIT
echo end
--- stdout
in-sub
end
--- status 0

### trap on a signal sent with kill to self
trap 'echo got USR1' USR1
kill -USR1 $$
echo after
--- stdout
got USR1
after
--- status 0

### trap with signal number and TERM
trap 'echo caught TERM' 15
kill $$
echo continued
--- stdout
caught TERM
continued
--- status 0

### ignored signal does not kill
trap '' USR2
kill -USR2 $$
echo survived
--- stdout
survived
--- status 0

### trap reset to default lets the signal kill
trap 'echo handled' USR1
trap - USR1
kill -USR1 $$
echo never
--- status 138

### untrapped TERM kills the shell
echo before
kill $$
echo never
--- stdout
before
--- status 143

### trap listing shows the action
trap 'echo x' EXIT
trap 'echo y' INT
trap > saved
trap - EXIT INT
trap > none
[ -s none ] || echo cleared
. ./saved
trap > again
grep -c . again
cmp -s saved again && echo same
grep -c "echo x" saved
trap - EXIT INT
--- stdout
cleared
2
same
1
--- status 0

### trap action runs in the current shell
trap 'x=set-by-trap' USR1
kill -USR1 $$
echo $x
--- stdout
set-by-trap
--- status 0

### exit inside a trap action sets the status
trap 'exit 9' USR1
kill -USR1 $$
echo never
--- status 9

### trapped signal interrupts wait, which returns more than 128
# The sender repeats the signal until wait has returned, so no timing luck is involved.
n=0
trap 'n=$((n + 1))' USR1
sleep 5 &
p=$!
(while [ ! -e stop ]; do kill -USR1 $$; sleep 0.05; done) &
s=$!
wait $p
st=$?
: > stop
kill $p
until wait $s; do :; done
[ $st -gt 128 ] && echo wait-interrupted
[ $n -ge 1 ] && echo trapped
--- stdout
wait-interrupted
trapped
--- status 0

### ignored signals stay ignored in children
trap '' USR1
sh -c 'kill -USR1 $$; echo child-survived'
--- stdout
child-survived
--- status 0

### trapped signals are reset to default in children
trap 'echo parent' USR1
sh -c 'kill -USR1 $$; echo never'
echo "child status $?"
--- stdout
child status 138
--- status 0

### jobs -p lists background pids
sleep 5 &
p=$!
jobs -p > out
read j < out
[ "$j" = "$p" ] && echo same-pid
kill $p
wait
--- stdout
same-pid
--- status 0

### jobs is empty when nothing was started
jobs
echo done
--- stdout
done
--- status 0

### jobs lists a running job with its number and state
sleep 5 &
jobs > out
kill $!
wait
grep -c '^\[1\] *[+]  *Running' out
--- stdout
1
--- status 0

### umask set and print
umask 022
umask
umask 0077
umask
--- stdout
0022
0077
--- status 0

### umask applies to created files
umask 077
: > private
umask 022
: > public
ls -l private public | cut -c1-10
--- stdout
-rw-------
-rw-r--r--
--- status 0

### umask symbolic
umask 022
umask -S
umask u=rwx,g=,o=
umask
--- stdout
u=rwx,g=rx,o=rx
0077
--- status 0

### umask is inherited and not leaked from subshells
umask 027
(umask 077)
umask
sh -c umask
--- stdout
0027
0027
--- status 0

### fg and bg need job control: a script gets an error [pshell-only]
fg 2>/dev/null
echo "fg=$?"
bg %1 2>/dev/null
echo "bg=$?"
--- stdout
fg=1
bg=1
--- status 0
