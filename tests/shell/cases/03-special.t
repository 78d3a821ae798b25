# Special parameters: $? $$ $! $# $@ $* "$@" "$*" $0..$9 ${10} $-

### status of last command
true; echo $?
false; echo $?
(exit 7); echo $?
echo $?
--- stdout
0
1
7
0
--- status 0

### status is read before the command runs
false
echo $? $?
--- stdout
1 1
--- status 0

### status of a pipeline is that of the last command
false | true; echo $?
true | false; echo $?
--- stdout
0
1
--- status 0

### dollar-dollar is the shell pid and same in subshell
echo $$ > a
(echo $$) > b
sh -c 'echo $PPID' > c
cmp -s a b && cmp -s a c && echo same
--- stdout
same
--- status 0

### dollar-bang is the pid of the last background job
sleep 0 &
p=$!
wait $p
echo "status $?"
case $p in *[!0-9]*|'') echo bad;; *) echo numeric;; esac
--- stdout
status 0
numeric
--- status 0

### dollar-bang matches the child's own pid
sh -c 'echo $$ > pid' &
wait
[ "$(cat pid)" = "$!" ] && echo match
--- stdout
match
--- status 0

### count of positional parameters
echo $#
set -- a 'b c' ''
echo $#
set --
echo $#
--- stdout
0
3
0
--- status 0

### quoted at keeps each parameter a word
set -- a 'b  c' ''
printf '<%s>\n' "$@"
--- stdout
<a>
<b  c>
<>
--- status 0

### quoted at with no parameters produces no word
set --
printf '<%s>\n' "$@" end
printf '<%s>\n' x"$@"y
--- stdout
<end>
<xy>
--- status 0

### quoted star joins with first IFS char
set -- a 'b  c' d
printf '<%s>\n' "$*"
IFS=:
printf '<%s>\n' "$*"
IFS=
printf '<%s>\n' "$*"
--- stdout
<a b  c d>
<a:b  c:d>
<ab  cd>
--- status 0

### unquoted star and at are field split
set -- a 'b  c' d
printf '<%s>\n' $*
printf '<%s>\n' $@
--- stdout
<a>
<b>
<c>
<d>
<a>
<b>
<c>
<d>
--- status 0

### quoted star with no parameters is one empty word
set --
printf '<%s>\n' "$*"
--- stdout
<>
--- status 0

### positional parameters 1 to 9 and beyond
set -- a b c d e f g h i j k
echo $1 $5 $9 ${10} ${11}
echo "$10"
--- stdout
a e i j k
a0
--- status 0

### unset positional parameters are empty
set -- only
printf '<%s>\n' "$2" "${3}"
--- stdout
<>
<>
--- status 0

### zero is the script name
case $0 in *.sh) echo script;; *) echo "other: $0";; esac
--- stdout
script
--- status 0

### zero under sh -c with a name
sh -c 'echo $0 $1' myname arg
--- stdout
myname arg
--- status 0

### test shell passes args after -c name
$TEST_SHELL -c 'echo $0; echo $#; printf "<%s>\n" "$@"' nm 'a b' c
--- stdout
nm
2
<a b>
<c>
--- status 0

### script file arguments become positional parameters
printf '%s\n' 'echo $#: $1,$2' > s.sh
$TEST_SHELL s.sh x 'y z'
--- stdout
2: x,y z
--- status 0

### dash-option letters reflect set
set -f
case $- in *f*) echo f-on;; esac
set +f
case $- in *f*) echo still;; *) echo f-off;; esac
--- stdout
f-on
f-off
--- status 0

### quoted at inside word with several parameters
set -- 1 2 3
printf '<%s>\n' "a$@b"
--- stdout
<a1>
<2>
<3b>
--- status 0

### quoted at in assignment or case joins
set -- a b
x="$@"
echo "$x"
case "$*" in "a b") echo star-joined;; esac
--- stdout
a b
star-joined
--- status 0

### for loop over quoted at
set -- 'one two' three
for a in "$@"; do echo "[$a]"; done
--- stdout
[one two]
[three]
--- status 0

### status after a function call and after return
f() { return 5; }
f; echo $?
g() { false; }
g; echo $?
--- stdout
5
1
--- status 0

### status of a command not found and of exit in subshell
(exit 255); echo $?
frob 2>/dev/null; echo $?
--- stdout
255
127
--- status 0
