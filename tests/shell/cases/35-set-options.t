# Shell options: set -e, set -u, set -x, set -a, set -n, set -v.

### set -e exits on a failing command
set -e
echo before
false
echo after
--- stdout
before
--- status 1

### set -e keeps the failing command's status
set -e
sh -c 'exit 7'
echo never
--- status 7

### set -e ignores the if condition
set -e
if false; then echo no; fi
echo survived
--- stdout
survived
--- status 0

### set -e ignores while and until conditions
set -e
while false; do :; done
until true; do :; done
echo survived
--- stdout
survived
--- status 0

### set -e ignores non-last commands of and-or lists
set -e
false && echo no
false || echo or-branch
echo survived
--- stdout
or-branch
survived
--- status 0

### set -e exits when the last command of an and list fails
set -e
true && false
echo never
--- status 1

### set -e ignores negated commands
set -e
! true
echo survived
--- stdout
survived
--- status 0

### set -e and a failing pipeline
set -e
false | true
echo survived
true | false
echo never
--- stdout
survived
--- status 1

### set -e exits on a failing subshell
set -e
(false)
echo never
--- status 1

### set -e inside a subshell exits only the subshell
(set -e; false; echo never)
echo "outer $?"
--- stdout
outer 1
--- status 0

### set -e exits on an assignment with failing substitution
set -e
x=$(false)
echo never
--- status 1

### set -e ignores a failing substitution inside a command's arguments
set -e
echo "got $(false)"
--- stdout
got 
--- status 0

### set -e ignored inside a function called as a condition
set -e
f() { false; echo in-f; }
if f; then echo f-true; fi
f || echo never
echo survived
--- stdout
in-f
f-true
in-f
survived
--- status 0

### set -e exits from a function failing outside conditions
set -e
f() { echo in-f; false; echo never; }
f
echo never
--- stdout
in-f
--- status 1

### set -e and a failing compound command
set -e
{ false; echo never; }
--- status 1

### set -e with return in a function does not exit
set -e
f() { return 3; }
f || echo "returned $?"
echo survived
--- stdout
returned 3
survived
--- status 0

### set +e turns it off
set -e
set +e
false
echo survived
--- stdout
survived
--- status 0

### set -u fails on an unset variable
set -u
echo before
echo "$nosuchvar"
echo after
--- stdout
before
--- status 2

### set -u allows set variables, defaults and special parameters
set -u
x=1
echo $x ${unset_v-default} ${unset_v:-dflt} ${#} $?
echo "[${unset_v+alt}]"
--- stdout
1 default dflt 0 0
[]
--- status 0

### set -u allows dollar-at and dollar-star with no parameters
set -u
set --
echo "[$@]" "[$*]"
--- stdout
[] []
--- status 0

### set -u fails on an unset positional parameter
set -u
set -- a
(echo $2) 2>/dev/null
[ $? -ne 0 ] && echo failed
--- stdout
failed
--- status 0

### set -u error message goes to stderr
set -u
(echo $nosuchvar) 2> err
[ -s err ] && echo message
--- stdout
message
--- status 0

### set -u fails on length and pattern removal of unset
set -u
(echo ${#nosuch}) 2>/dev/null || echo length-failed
(echo ${nosuch%x}) 2>/dev/null || echo strip-failed
--- stdout
length-failed
strip-failed
--- status 0

### set -u fails on an unset parameter expanded inside arithmetic
set -u
(echo $(($nosuch + 1))) 2>/dev/null || echo arith-failed
--- stdout
arith-failed
--- status 0

### set -x traces to stderr with the PS4 prefix
exec 2>&1
set -x
echo hi
x=1
set +x
echo untraced
--- stdout
+ echo hi
hi
+ x=1
+ set +x
untraced
--- status 0

### set -x traces expanded words
exec 2>&1
v=val
set -x
echo $v "${v}2"
set +x
--- stdout
+ echo val val2
val val2
+ set +x
--- status 0

### set -x with a custom PS4
exec 2>&1
PS4='>> '
set -x
true
set +x
--- stdout
>> true
>> set +x
--- status 0

### set -x output does not go to stdout
set -x
echo only
set +x
--- stdout
only
--- status 0

### set -x traces commands inside functions
exec 2>&1
f() { echo inside; }
set -x
f
set +x
--- stdout
+ f
+ echo inside
inside
+ set +x
--- status 0

### set -a exports assigned variables
set -a
AV=auto
set +a
BV=manual
sh -c 'echo "[$AV][${BV-unset}]"'
--- stdout
[auto][unset]
--- status 0

### set -n reads but does not execute
set -n
echo never
--- status 0

### set -v echoes input lines to stderr
# Run as a script file: with -c the whole input is read before set -v takes effect.
printf 'set -v\necho verbose\nset +v\necho quiet\n' > s.sh
$TEST_SHELL s.sh 2>&1
--- stdout
echo verbose
verbose
set +v
quiet
--- status 0

### sh -e option on the command line
$TEST_SHELL -e -c 'false; echo never'
echo "status $?"
--- stdout
status 1
--- status 0

### set -o options by name
set -o errexit
case $- in *e*) echo e-on;; esac
set +o errexit
set -o nounset
case $- in *u*) echo u-on;; esac
set +o nounset
--- stdout
e-on
u-on
--- status 0

### set -o output lists option states
set -o | grep -c 'errexit'
set +o > saved
grep -c 'errexit' saved
--- stdout
1
1
--- status 0
