# Simple commands: assignments, prefix assignments, command lookup.

### assignment persists in the shell
x=1
echo $x
x=2 y=$x
echo $x $y
--- stdout
1
2 2
--- status 0

### assignments are done left to right
a=1 b=$a c=$b$a
echo $a $b $c
--- stdout
1 1 11
--- status 0

### prefix assignment is visible to the child only
X=outer
X=inner sh -c 'echo $X'
echo $X
--- stdout
inner
outer
--- status 0

### prefix assignment of an unset variable does not persist
unset Y
Y=tmp sh -c 'echo "child $Y"'
echo "shell [${Y-unset}]"
--- stdout
child tmp
shell [unset]
--- status 0

### prefix assignment is exported to the child env
Z=zz env | grep '^Z='
--- stdout
Z=zz
--- status 0

### unexported variable is not seen by children
v=local
sh -c 'echo "[${v-unset}]"'
export v
sh -c 'echo "[${v-unset}]"'
--- stdout
[unset]
[local]
--- status 0

### prefix assignment not used in the same command's arguments
X=old
X=new echo $X
--- stdout
old
--- status 0

### prefix assignment before a special builtin persists
unset P
P=kept :
echo "[$P]"
--- stdout
[kept]
--- status 0

### prefix assignment before a function call is visible inside it
f() { echo "in f: $FV"; }
FV=val f
--- stdout
in f: val
--- status 0

### several prefix assignments
A=1 B=2 sh -c 'echo $A$B'
--- stdout
12
--- status 0

### assignment with command substitution and no command
x=$(echo hi) y=there
echo $x $y
--- stdout
hi there
--- status 0

### assignment value keeps quotes removed and is not split
x="a  b" y='c  d' z=e\ \ f
printf '<%s>\n' "$x" "$y" "$z"
--- stdout
<a  b>
<c  d>
<e  f>
--- status 0

### empty assignment sets an empty variable
x=
echo "[${x-unset}]" "[${x:-null}]"
--- stdout
[] [null]
--- status 0

### command found via PATH
mkdir bin
printf '#!/bin/sh\necho mycmd ran "$@"\n' > bin/mycmd
chmod +x bin/mycmd
PATH=$PWD/bin:$PATH
mycmd a b
--- stdout
mycmd ran a b
--- status 0

### command with a slash runs that file
printf '#!/bin/sh\necho direct\n' > prog
chmod +x prog
./prog
"$PWD/prog"
--- stdout
direct
direct
--- status 0

### PATH prefix assignment affects the lookup
mkdir bin
printf '#!/bin/sh\necho found\n' > bin/onlyhere
chmod +x bin/onlyhere
PATH=$PWD/bin:$PATH onlyhere
onlyhere 2>/dev/null || echo "not found $?"
--- stdout
found
not found 127
--- status 0

### script without shebang is run by the shell
printf 'echo no-shebang $1\n' > plain
chmod +x plain
./plain arg
--- stdout
no-shebang arg
--- status 0

### exit status of an external command
sh -c 'exit 42'
echo $?
--- stdout
42
--- status 0

### status of a command killed by a signal is 128 plus signo
sh -c 'kill -9 $$'
echo $?
--- stdout
137
--- status 0

### empty command from an expansion does nothing
e=
$e
echo "status $?"
$e echo runs
--- stdout
status 0
runs
--- status 0

### command name from a variable
cmd=printf
$cmd '%s\n' ok
--- stdout
ok
--- status 0

### redirection alone creates a file
> made
[ -f made ] && echo exists
--- stdout
exists
--- status 0

### redirection may come before the command
>out echo first
<out cat
--- stdout
first
--- status 0

### assignment only command status is zero
false
x=1
echo $?
--- stdout
0
--- status 0

### readonly variable cannot be assigned
readonly R=1
(R=2) 2>/dev/null
echo "status nonzero: $(( $? != 0 ))"
echo $R
--- stdout
status nonzero: 1
1
--- status 0

### export and modification after export are seen by children
export E=1
E=2
sh -c 'echo $E'
--- stdout
2
--- status 0

### environment variables from the parent are visible and exported
echo "$LC_ALL"
sh -c 'echo "$LC_ALL"'
--- stdout
C
C
--- status 0

### args containing globs, quotes and empties are passed exactly
sh -c 'for a; do printf "<%s>" "$a"; done; echo' x '' '*' 'a b' "c'd"
--- stdout
<><*><a b><c'd>
--- status 0
