# Redirections: < > >> <> >| 2> 2>&1 n>&m n<&- and their order.

### output to a file truncates
echo first > f
echo second > f
cat f
--- stdout
second
--- status 0

### append
echo one > f
echo two >> f
cat f
--- stdout
one
two
--- status 0

### append creates the file
echo new >> f
cat f
--- stdout
new
--- status 0

### input from a file
printf 'in\n' > f
cat < f
read x < f; echo $x
--- stdout
in
in
--- status 0

### stderr to a file
{ echo out; echo err >&2; } 2> e
echo "--"
cat e
--- stdout
out
--
err
--- status 0

### stderr to stdout
{ echo err >&2; } 2>&1 | tr a-z A-Z
--- stdout
ERR
--- status 0

### stdout to stderr
{ echo to-err >&2; } 2>/dev/null
echo shown 1>&2 2>/dev/null
echo visible
--- stdout
visible
--- status 0

### order: file then dup sends both to file
{ echo out; echo err >&2; } > f 2>&1
sort f
--- stdout
err
out
--- status 0

### order: dup then file sends stderr to old stdout
{ echo out; echo err >&2; } 2>&1 > f | sed 's/^/piped: /'
cat f
--- stdout
piped: err
out
--- status 0

### read-write open does not truncate
printf 'abcdef\n' > f
echo XY 1<> f
cat f
--- stdout
XY
def
--- status 0

### read-write on fd 0 by default and creates the file
cat <> newfile
[ -f newfile ] && echo created
--- stdout
created
--- status 0

### noclobber refuses and bar overrides
echo old > f
set -C
(echo new > f) 2>/dev/null || echo refused
cat f
echo forced >| f
cat f
set +C
--- stdout
refused
old
forced
--- status 0

### noclobber allows new files and dev null
set -C
echo a > brandnew
echo b > /dev/null
cat brandnew
--- stdout
a
--- status 0

### explicit fd numbers
echo to3 3> f3 >&3
cat f3
--- stdout
to3
--- status 0

### duplicate input fd
printf 'data\n' > f
cat 4< f <&4
--- stdout
data
--- status 0

### close stdout makes writes fail
(echo x >&-) 2>/dev/null || echo write-failed
--- stdout
write-failed
--- status 0

### close an input fd
exec 3< /dev/null
cat <&3 && echo open
exec 3<&-
(cat <&3) 2>/dev/null || echo closed
--- stdout
open
closed
--- status 0

### several redirections on one command
printf 'x\n' > in
cat < in > out 2> err
cat out
[ -s err ] || echo no-err
--- stdout
x
no-err
--- status 0

### redirection applies to one command only
echo a > f
echo b
--- stdout
b
--- status 0

### redirection with expansion in target
name=out
echo hi > "$name.txt"
echo there > ${name}2
cat out.txt out2
--- stdout
hi
there
--- status 0

### target word is not field split
f='a b'
echo spaced > $f
cat 'a b'
--- stdout
spaced
--- status 0

### redirection on a while loop
printf '1\n2\n' > in
while read n; do echo "n$n"; done < in > out
cat out
--- stdout
n1
n2
--- status 0

### redirection on if, for, case, group and subshell
if true; then echo if; fi > f1
for i in a; do echo for; done > f2
case x in x) echo case;; esac > f3
{ echo group; } > f4
(echo sub) > f5
cat f1 f2 f3 f4 f5
--- stdout
if
for
case
group
sub
--- status 0

### input redirection on a loop is shared by the body
printf 'a\nb\nc\n' > in
while read x; do read y; echo "$x$y"; done < in
--- stdout
ab
c
--- status 0

### redirection on a group is restored after it
{ echo inside; } > f
echo outside
cat f
--- stdout
outside
inside
--- status 0

### dup to a closed fd fails
(echo x >&7) 2>/dev/null || echo bad-fd
--- stdout
bad-fd
--- status 0

### fd 9 survives across commands in a group
{ echo one >&9; echo two >&9; } 9> f
cat f
--- stdout
one
two
--- status 0

### redirection of a builtin does not affect the shell
echo x > f
pwd > g
echo after
--- stdout
after
--- status 0

### output to an unwritable path fails and command does not run
echo no > /nonexistent/dir/f
echo "nonzero $(( $? != 0 ))"
--- stdout
nonzero 1
--- status 0

### failed input redirection: command does not run, status 1 to 125
cat 2>/dev/null < /nonexistent/file
st=$?
[ $st -ge 1 ] && [ $st -le 125 ] && echo "in range"
{ echo ran; } 2>/dev/null < /nonexistent/file
echo "group $(( $? != 0 ))"
--- stdout
in range
group 1
--- status 0

### failed input redirection gives status 1
cat 2>/dev/null < /nonexistent/file
echo $?
--- stdout
1
--- status 0

### failed redirection message goes to stderr
cat 2> err < /nonexistent/file
[ -s err ] && echo message
--- stdout
message
--- status 0

### redirections after a failed one are not performed
cat < /nonexistent/file 2> err 2>/dev/null
[ -e err ] || echo no-err-file
--- stdout
no-err-file
--- status 0

### redirection to the same file twice in order
echo a > f > g
cat g
[ -s f ] || echo f-empty
--- stdout
a
f-empty
--- status 0

### stdin of a command from a pipe and a file, last wins
printf 'file\n' > f
echo pipe | cat < f
--- stdout
file
--- status 0

### group in a pipeline reads the whole input
printf 'x\n' | { cat; echo; } | wc -l | tr -d ' '
--- stdout
2
--- status 0

### digit word is an argument unless right before the operator
echo 2 >f
cat f
echo x 2>/dev/null
--- stdout
2
x
--- status 0

### append to stderr and both streams append
echo 1 > log
{ echo 2; echo 3 >&2; } >> log 2>&1
cat log
--- stdout
1
2
3
--- status 0
