# Builtins: cd pwd echo printf export unset set shift exit true false.

### cd changes directory and PWD
mkdir -p sub/deeper
here=$PWD
cd sub
[ "$PWD" = "$here/sub" ] && echo pwd-var
[ "$(pwd)" = "$here/sub" ] && echo pwd-cmd
cd deeper
cd ..
[ "$PWD" = "$here/sub" ] && echo dotdot
--- stdout
pwd-var
pwd-cmd
dotdot
--- status 0

### cd without argument goes HOME
mkdir h
HOME=$PWD/h
cd
[ "$PWD" = "$HOME" ] && echo home
--- stdout
home
--- status 0

### cd dash goes to OLDPWD and prints it
mkdir a
here=$PWD
cd a
cd - > "$here/out"
[ "$PWD" = "$here" ] && echo back
[ "$(cat out)" = "$here" ] && echo printed
[ "$OLDPWD" = "$here/a" ] && echo oldpwd
--- stdout
back
printed
oldpwd
--- status 0

### cd to a missing directory fails and stays
here=$PWD
cd /nonexistent-dir 2>/dev/null
[ $? -ne 0 ] && echo failed
[ "$PWD" = "$here" ] && echo stayed
--- stdout
failed
stayed
--- status 0

### cd to a file fails
touch file
cd file 2>/dev/null || echo not-a-dir
--- stdout
not-a-dir
--- status 0

### cd through a symlink keeps the logical path
mkdir real
ln -s real link
here=$PWD
cd link
[ "$PWD" = "$here/link" ] && echo logical
cd -P . 2>/dev/null
pwd -P | grep -q '/real$' && echo physical
--- stdout
logical
physical
--- status 0

### cd with CDPATH prints the new directory
mkdir -p base/target
here=$PWD
CDPATH=$PWD/base
cd target | sed 's|.*/base/|base/|'
cd target > "$here/out"
sed 's|.*/base/|base/|' "$here/out"
[ "$PWD" = "$here/base/target" ] && echo moved
--- stdout
base/target
base/target
moved
--- status 0

### pwd after cd in a subshell is unchanged
here=$PWD
(cd /)
[ "$(pwd)" = "$here" ] && echo same
--- stdout
same
--- status 0

### echo joins args with spaces
echo a  b   c
echo "a  b"
--- stdout
a b c
a  b
--- status 0

### printf formats
printf '%s|%5s|%-5s|%d|%03d|%x|%o|%c|%%\n' str ab cd 42 7 255 8 xyz
--- stdout
str|   ab|cd   |42|007|ff|10|x|%
--- status 0

### printf reuses the format for extra arguments
printf '%s-%s\n' 1 2 3
--- stdout
1-2
3-
--- status 0

### printf escapes in the format
printf 'a\tb\\c\n\101\n'
--- stdout
a	b\c
A
--- status 0

### printf b conversion interprets escapes in the argument
printf '%b\n' 'x\ty' 'no\c' 'z'
echo
--- stdout
x	y
no
--- status 0

### printf missing arguments are empty or zero
printf '[%s][%d]\n'
--- stdout
[][0]
--- status 0

### printf numeric forms
printf '%d %d %d\n' 0x10 010 -5
printf '%d\n' "'A"
--- stdout
16 8 -5
65
--- status 0

### printf invalid number is an error but prints
printf '%d\n' abc 2>/dev/null
echo "st $?"
--- stdout
0
st 1
--- status 0

### printf precision on strings
printf '%.3s|%-6.2s|\n' abcdef abcdef
--- stdout
abc|ab    |
--- status 0

### printf without newline
printf 'no-nl'
printf '\n'
--- stdout
no-nl
--- status 0

### export marks for children
export A=1
B=2; export B
sh -c 'echo $A$B'
--- stdout
12
--- status 0

### export -p lists exported variables in a form that can be read back
export MYV="a b'c"
export -p > saved
grep -c '^export MYV=' saved
sh -c 'unset MYV; . ./saved; printf "<%s>\n" "$MYV"'
--- stdout
1
<a b'c>
--- status 0

### export of an unset name then assign
export LATER
LATER=now
sh -c 'echo $LATER'
--- stdout
now
--- status 0

### unset a variable
x=1
unset x
echo "[${x-unset}]"
--- stdout
[unset]
--- status 0

### unset an exported variable removes it from the environment
export EV=1
unset EV
sh -c 'echo "[${EV-gone}]"'
--- stdout
[gone]
--- status 0

### unset -v and unset of a missing name succeed
unset -v nothere
echo $?
--- stdout
0
--- status 0

### set positional parameters
set -- a b c
echo $# $2
set --
echo $#
--- stdout
3 b
0
--- status 0

### set with args starting with dash needs double dash
set -- -x -y
echo "$1 $2"
--- stdout
-x -y
--- status 0

### set without arguments lists variables in a form that can be read back
zzvar='q v"$x'
set > saved
grep -c '^zzvar=' saved
grep '^zzvar=' saved > one
unset zzvar
. ./one
printf '<%s>\n' "$zzvar"
--- stdout
1
<q v"$x>
--- status 0

### set -o lists and +o toggles
set -o noglob
case $- in *f*) echo on;; esac
set +o noglob
case $- in *f*) echo still;; *) echo off;; esac
--- stdout
on
off
--- status 0

### set -f and -C and -u letters in dollar-dash
set -f -C
case $- in *f*C*|*C*f*) echo both;; esac
--- stdout
both
--- status 0

### shift by one and by n
set -- a b c d
shift
echo "$@"
shift 2
echo "$@"
--- stdout
b c d
d
--- status 0

### shift too far fails
set -- a
(shift 2) 2>/dev/null
[ $? -ne 0 ] && echo failed
echo $#
--- stdout
failed
1
--- status 0

### shift zero does nothing
set -- a b
shift 0
echo $#
--- stdout
2
--- status 0

### exit with a status
echo before
exit 3
echo after
--- stdout
before
--- status 3

### exit without a status uses the last command's
false
exit
--- status 1

### exit in a subshell does not exit the shell
(exit 4)
echo "still here $?"
--- stdout
still here 4
--- status 0

### end of script status is the last command's
echo x
sh -c 'exit 9'
--- stdout
x
--- status 9

### true and false
true; echo $?
false; echo $?
true extra args; echo $?
--- stdout
0
1
0
--- status 0

### colon builtin ignores arguments and expands them
: ${x=assigned} > made
echo $x
[ -f made ] && echo file
--- stdout
assigned
file
--- status 0

### readonly prints and blocks unset
readonly RO=val
(unset RO) 2>/dev/null || echo cannot-unset
readonly -p | grep -c 'RO='
--- stdout
cannot-unset
1
--- status 0
