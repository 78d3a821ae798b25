# Builtins: . source eval exec command type.

### dot runs a file in the current shell
printf 'x=from-file\necho "in file"\n' > inc.sh
. ./inc.sh
echo $x
--- stdout
in file
from-file
--- status 0

### dot file can define functions and see variables
v=shell
printf 'f() { echo "f sees $v"; }\n' > lib.sh
. ./lib.sh
f
--- stdout
f sees shell
--- status 0

### dot status is the last command's
printf 'false\n' > f.sh
. ./f.sh
echo $?
--- stdout
1
--- status 0

### return in a dot file stops it
printf 'echo one\nreturn 4\necho two\n' > r.sh
. ./r.sh
echo "st $?"
--- stdout
one
st 4
--- status 0

### dot searches PATH for a name without slash
mkdir lib
printf 'echo found-in-path\n' > lib/pathinc
PATH=$PWD/lib:$PATH
. pathinc
--- stdout
found-in-path
--- status 0

### dot of a missing file is fatal in a script
echo before
. ./missing.sh
echo after
--- stdout
before
--- status 2

### dot file sees the caller's positional parameters
set -- a b
printf 'echo "$# $1"\n' > p.sh
. ./p.sh
--- stdout
2 a
--- status 0

### source is dot [pshell-only]
# dash 0.5.12 has no `source` builtin.
printf 'y=sourced\n' > s.sh
source ./s.sh
echo $y
--- stdout
sourced
--- status 0

### eval runs its arguments as commands
eval 'x=1; echo "x is $x"'
echo $x
--- stdout
x is 1
1
--- status 0

### eval joins arguments with spaces
eval echo a '"b   c"'
--- stdout
a b   c
--- status 0

### eval expands twice
y=value
name=y
eval "echo \$$name"
eval "$name=new"
echo $y
--- stdout
value
new
--- status 0

### eval status and empty eval
eval 'false'
echo $?
false
eval ''
echo $?
--- stdout
1
0
--- status 0

### eval of a compound command and a here-document
eval 'for i in 1 2; do echo $i; done'
eval 'cat <<EOF
heredoc in eval
EOF'
--- stdout
1
2
heredoc in eval
--- status 0

### eval syntax error exits a non-interactive shell
echo before
eval 'if then' 2>/dev/null
echo after
--- stdout
before
--- status 2

### exec replaces the shell
echo before
exec sh -c 'echo replaced; exit 7'
echo never
--- stdout
before
replaced
--- status 7

### exec of a missing command exits 127
exec /nonexistent/cmd 2>/dev/null
echo never
--- status 127

### exec in a subshell replaces only the subshell
(exec echo from-sub)
echo after
--- stdout
from-sub
after
--- status 0

### exec with a prefix assignment passes it to the program
X=1 exec sh -c 'echo "X=$X" "$@"' name arg
--- stdout
X=1 arg
--- status 0

### command runs a utility bypassing functions
echo() { printf 'func\n'; }
echo x
command echo real
--- stdout
func
real
--- status 0

### command -v for a builtin, a function and a utility
f() { :; }
command -v cd
command -v f
command -v sh | grep -c /
--- stdout
cd
f
1
--- status 0

### command -v of an unknown name fails and prints nothing
command -v no_such_cmd_xyz
[ $? -ne 0 ] && echo notfound
--- stdout
notfound
--- status 0

### command -v prints a full path for a PATH utility
mkdir bin
printf '#!/bin/sh\n' > bin/mytool
chmod +x bin/mytool
PATH=$PWD/bin:$PATH
[ "$(command -v mytool)" = "$PWD/bin/mytool" ] && echo path-ok
--- stdout
path-ok
--- status 0

### command on a special builtin keeps the shell alive on error
command . ./missing-file 2>/dev/null
echo "survived $(( $? != 0 ))"
--- stdout
survived 1
--- status 0

### command status of unknown command is 127
command no_such_cmd_xyz 2>/dev/null
echo $?
--- stdout
127
--- status 0

### type finds builtins, functions and paths
f() { :; }
type cd >/dev/null && echo cd-ok
type f >/dev/null && echo f-ok
type sh | grep -c /
type no_such_cmd_xyz >/dev/null 2>&1 || echo unknown-fails
--- stdout
cd-ok
f-ok
1
unknown-fails
--- status 0

### type output names the command
mkdir bin
printf '#!/bin/sh\n' > bin/tt
chmod +x bin/tt
PATH=$PWD/bin:$PATH
type tt | sed "s|$PWD|HERE|"
--- stdout
tt is HERE/bin/tt
--- status 0

### type says builtin and function
f() { :; }
type echo | grep -c builtin
type f | grep -c function
--- stdout
1
1
--- status 0

### a script without #! runs with the shell everywhere: simple, pipeline, $(...), background
printf 'echo "run $1"\n' > plain
chmod +x plain
./plain a
./plain b | tr a-z A-Z
x=$(./plain c); echo "$x"
./plain d > out & wait; cat out
--- stdout
run a
RUN B
run c
run d
--- status 0

### a non-executable file is not run as a script (126)
printf 'echo nope\n' > noexec
./noexec 2>/dev/null
echo "st=$?"
x=$(./noexec 2>/dev/null)
echo "st=$?"
--- stdout
st=126
st=126
--- status 0

### trap -p with a signal prints only that one [pshell-only]
trap 'echo a' INT
trap 'echo b' USR1
trap -p USR1
--- stdout
trap -- 'echo b' USR1
--- status 0

### set - keeps the positional parameters
set -- a b c
set -
echo $#
--- stdout
3
--- status 0
