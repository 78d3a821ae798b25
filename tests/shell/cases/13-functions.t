# Functions, positional parameters in functions, recursion, break/continue, return.

### define and call
greet() { echo "hello $1"; }
greet world
--- stdout
hello world
--- status 0

### function has its own positional parameters
set -- outer1 outer2
f() { echo "$# $1 $2"; set -- changed; echo "$1"; }
f a 'b c'
echo "$# $1 $2"
--- stdout
2 a b c
changed
2 outer1 outer2
--- status 0

### dollar zero is unchanged in a function
f() { case $0 in *.sh) echo script-name;; *) echo "other $0";; esac; }
f
--- stdout
script-name
--- status 0

### function variables are global by default
f() { g=set-in-f; }
f
echo $g
--- stdout
set-in-f
--- status 0

### function body can be any compound command
f() ( x=sub; echo "$x" )
x=main
f
echo $x
g() if true; then echo if-body; fi
g
--- stdout
sub
main
if-body
--- status 0

### function defined across lines
f()
{
  echo multi
}
f
--- stdout
multi
--- status 0

### function status is the last command's
f() { true; false; }
f; echo $?
--- stdout
1
--- status 0

### return with a status
f() { return 3; echo no; }
f; echo $?
--- stdout
3
--- status 0

### return without a value gives the last status
f() { false; return; }
f; echo $?
g() { true; return; }
g; echo $?
--- stdout
1
0
--- status 0

### return from inside a loop in a function
f() { for i in 1 2 3; do if [ $i = 2 ]; then return 7; fi; echo $i; done; }
f; echo "st $?"
--- stdout
1
st 7
--- status 0

### recursion
fact() { if [ $1 -le 1 ]; then echo 1; else echo $(( $1 * $(fact $(($1 - 1))) )); fi; }
fact 10
--- stdout
3628800
--- status 0

### recursion with global depth counter
depth=0
r() { depth=$((depth + 1)); [ $1 -gt 0 ] && r $(($1 - 1)); return 0; }
r 50
echo $depth
--- stdout
51
--- status 0

### recursive fibonacci
fib() {
  if [ $1 -lt 2 ]; then echo $1; return; fi
  echo $(( $(fib $(($1 - 1))) + $(fib $(($1 - 2))) ))
}
fib 12
--- stdout
144
--- status 0

### function redefinition replaces
f() { echo one; }
f() { echo two; }
f
--- stdout
two
--- status 0

### function in a pipeline and with redirection
f() { echo a; echo b; }
f | tr a-z A-Z
f > out
cat out
--- stdout
A
B
a
b
--- status 0

### function with redirection in its definition
f() { echo inside; } > out
f
f
cat out
--- stdout
inside
--- status 0

### function name can shadow a utility
ls() { echo "my ls"; }
ls
command ls nonexistent-file-xyz 2>/dev/null || echo "real ls ran"
--- stdout
my ls
real ls ran
--- status 0

### unset -f removes a function
f() { echo f; }
unset -f f
f 2>/dev/null || echo "gone $?"
--- stdout
gone 127
--- status 0

### quoted at in function passes args through
wrap() { printf '<%s>\n' "$@"; }
outer() { wrap "$@"; }
outer 'a b' '' c
--- stdout
<a b>
<>
<c>
--- status 0

### break leaves the loop
for i in 1 2 3 4; do
  [ $i = 3 ] && break
  echo $i
done
echo after
--- stdout
1
2
after
--- status 0

### continue skips to next iteration
for i in 1 2 3 4; do
  [ $i = 2 ] && continue
  echo $i
done
--- stdout
1
3
4
--- status 0

### break with a level
for a in 1 2; do
  for b in x y; do
    [ $b = y ] && break 2
    echo $a$b
  done
done
echo end
--- stdout
1x
end
--- status 0

### continue with a level
for a in 1 2; do
  for b in x y z; do
    [ $b = y ] && continue 2
    echo $a$b
  done
  echo never
done
--- stdout
1x
2x
--- status 0

### break in while and until
i=0
while true; do i=$((i+1)); [ $i -ge 3 ] && break; done
echo $i
until false; do break; done
echo ok
--- stdout
3
ok
--- status 0

### continue in while re-tests condition
i=0
while [ $i -lt 5 ]; do
  i=$((i+1))
  [ $((i % 2)) = 0 ] && continue
  echo $i
done
--- stdout
1
3
5
--- status 0

### break level larger than nesting leaves all loops
for a in 1 2; do
  for b in 1 2; do
    break 5
  done
  echo never
done
echo out
--- stdout
out
--- status 0

### loop status after break is zero
for i in 1; do false; break; done
echo $?
--- stdout
0
--- status 0

### loop in function with return status of loop
f() { for i in 1 2; do :; done; }
f; echo $?
--- stdout
0
--- status 0

### exit inside a function exits the shell
f() { echo in; exit 6; }
f
echo never
--- stdout
in
--- status 6

### function calling a later defined function
a() { b; }
b() { echo b-called; }
a
--- stdout
b-called
--- status 0

### positional parameters restored after nested calls
f() { g x y z; echo "f: $#"; }
g() { echo "g: $#"; }
f 1
--- stdout
g: 3
f: 1
--- status 0

### shift inside function affects only its params
set -- a b c
f() { shift; echo "$@"; }
f 1 2 3
echo "$@"
--- stdout
2 3
a b c
--- status 0
