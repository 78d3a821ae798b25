# Builtins: read, test and [.

### read one line into a variable
echo 'hello world' | { read x; echo "[$x]"; }
--- stdout
[hello world]
--- status 0

### read strips leading and trailing IFS whitespace
printf '   padded  \n' | { read x; echo "[$x]"; }
--- stdout
[padded]
--- status 0

### read splits into several variables and the last gets the rest
echo 'a b  c   d' | { read x y z; echo "[$x][$y][$z]"; }
--- stdout
[a][b][c   d]
--- status 0

### read with fewer fields leaves later variables empty
echo 'only' | { read x y z; echo "[$x][$y][$z]"; }
--- stdout
[only][][]
--- status 0

### read with custom IFS
echo 'a:b:c:d' | { IFS=: read x y z; echo "[$x][$y][$z]"; }
--- stdout
[a][b][c:d]
--- status 0

### read with IFS and empty fields
echo 'a::c' | { IFS=: read x y z; echo "[$x][$y][$z]"; }
--- stdout
[a][][c]
--- status 0

### read IFS prefix assignment does not persist
echo 'a:b' | { IFS=: read x y; echo "[$x][$y]"; }
printf '%s' "$IFS" | od -An -c | tr -s ' '
--- stdout
[a][b]
 \t \n
--- status 0

### read with empty IFS keeps the line whole
printf '  a b  \n' | { IFS= read -r x; echo "[$x]"; }
--- stdout
[  a b  ]
--- status 0

### read without -r handles backslash escapes and continuation
printf 'a\\ b\\\\c\\\nnext line\n' | { read x; printf '[%s]\n' "$x"; }
--- stdout
[a b\cnext line]
--- status 0

### read -r keeps backslashes
printf 'a\\ b\\\n' | { read -r x; printf '[%s]\n' "$x"; }
--- stdout
[a\ b\]
--- status 0

### read at end of file fails
read x < /dev/null
echo "st $?"
--- stdout
st 1
--- status 0

### read of last line without newline sets var and fails
printf 'partial' | { read x; echo "st $? [$x]"; }
--- stdout
st 1 [partial]
--- status 0

### read loop over lines without final newline
printf 'a\nb' | while read -r l || [ -n "$l" ]; do echo "<$l>"; done
--- stdout
<a>
<b>
--- status 0

### read consumes only one line from a shared stdin
printf '1\n2\n3\n' > f
{ read a; read b; cat; } < f
echo "$a $b"
--- stdout
3
1 2
--- status 0

### read leaves the rest for the next command
printf '1\n2\n3\n' | { read a; cat; }
--- stdout
2
3
--- status 0

### read from a regular file via redirection leaves offset after the line
printf 'l1\nl2\n' > f
{ read a; head -n 1; } < f
--- stdout
l2
--- status 0

### read with backslash-escaped IFS char in a field
printf '%s\n' 'a\:b:c' | { IFS=: read x y; echo "[$x][$y]"; }
--- stdout
[a:b][c]
--- status 0

### test string tests
test abc = abc && echo eq
test abc != abd && echo ne
test -n x && echo nonempty
test -z '' && echo empty
test x && echo one-arg
test '' || echo empty-false
--- stdout
eq
ne
nonempty
empty
one-arg
empty-false
--- status 0

### test integer comparisons
[ 3 -eq 3 ] && echo eq
[ 2 -ne 3 ] && echo ne
[ 2 -lt 3 ] && echo lt
[ 3 -le 3 ] && echo le
[ 4 -gt 3 ] && echo gt
[ 3 -ge 4 ] || echo not-ge
[ -5 -lt 2 ] && echo negative
--- stdout
eq
ne
lt
le
gt
not-ge
negative
--- status 0

### test file tests
touch f; mkdir d; ln -s f l
printf 'x' > nonempty
[ -e f ] && echo e
[ -f f ] && echo f
[ -d d ] && echo d
[ -f d ] || echo d-not-f
[ -h l ] && echo h
[ -L l ] && echo L
[ -s nonempty ] && echo s
[ -s f ] || echo f-empty
[ -r f ] && echo r
[ -w f ] && echo w
[ -e missing ] || echo missing
--- stdout
e
f
d
d-not-f
h
L
s
f-empty
r
w
missing
--- status 0

### test executable and file comparisons
printf '#!/bin/sh\n' > x; chmod +x x
touch y
[ -x x ] && echo x
[ -x y ] || echo y-not-x
--- stdout
x
y-not-x
--- status 0

### test negation and combination
[ ! -e missing ] && echo not
[ a = a -a b = b ] && echo and
[ a = b -o b = b ] && echo or
[ \( a = a \) ] && echo parens
--- stdout
not
and
or
parens
--- status 0

### test with zero arguments and operators as operands
[ ] || echo zero-false
[ = ] && echo lone-op-true
[ -n ] && echo dash-n-is-string
[ '!' ] && echo bang-string
--- stdout
zero-false
lone-op-true
dash-n-is-string
bang-string
--- status 0

### test syntax errors give status 2
[ 1 -eq ] 2>/dev/null; echo $?
[ a = a 2>/dev/null; echo $?
[ x -eq 1 ] 2>/dev/null; echo $?
--- stdout
2
2
2
--- status 0

### test status values
[ a = b ]; echo $?
test 1 -eq 1; echo $?
--- stdout
1
0
--- status 0

### test with quoted empty variables
e=
[ "$e" = "" ] && echo empty-eq
[ -z "$e" ] && echo z
[ -n "$e" ] || echo not-n
--- stdout
empty-eq
z
not-n
--- status 0

### test terminal check on non-tty
[ -t 0 ] || echo not-a-tty
--- stdout
not-a-tty
--- status 0

### test string comparison is not numeric
[ 01 = 1 ] || echo strings-differ
[ 01 -eq 1 ] && echo numbers-equal
--- stdout
strings-differ
numbers-equal
--- status 0
