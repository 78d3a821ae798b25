# Compound commands: ( ) { } if while until for case.

### subshell does not leak variables
x=1
(x=2; echo "in $x")
echo "out $x"
--- stdout
in 2
out 1
--- status 0

### subshell does not leak cd
mkdir d
here=$PWD
(cd d && pwd | sed 's|.*/||')
[ "$PWD" = "$here" ] && [ "$(pwd)" = "$here" ] && echo same
--- stdout
d
same
--- status 0

### subshell does not leak functions, traps, set options or exit
(f() { echo f; }; set -f; exit 3)
echo "st $?"
type f >/dev/null 2>&1 || echo no-f
case $- in *f*) echo leaked;; *) echo no-set-f;; esac
--- stdout
st 3
no-f
no-set-f
--- status 0

### subshell status and output redirection
(echo a; echo b) > out
cat out
(false)
echo $?
--- stdout
a
b
1
--- status 0

### nested subshells
( ( (echo deep; exit 4) ); echo "st $?" )
--- stdout
deep
st 4
--- status 0

### group runs in the current shell
x=1
{ x=2; echo in; }
echo $x
--- stdout
in
2
--- status 0

### group output redirected as a whole
{ echo a; echo b; } > out
wc -l < out | tr -d ' '
--- stdout
2
--- status 0

### group needs a separator before the brace
{ echo one
echo two; }
--- stdout
one
two
--- status 0

### exit in a group exits the shell
{ echo before; exit 5; }
echo after
--- stdout
before
--- status 5

### if then fi
if true; then echo yes; fi
if false; then echo no; fi
echo "st $?"
--- stdout
yes
st 0
--- status 0

### if else
if false; then echo a; else echo b; fi
--- stdout
b
--- status 0

### elif chain
for n in 1 2 3; do
  if [ $n = 1 ]; then echo one
  elif [ $n = 2 ]; then echo two
  else echo other
  fi
done
--- stdout
one
two
other
--- status 0

### if status is that of the last body command
if true; then sh -c 'exit 3'; fi
echo $?
--- stdout
3
--- status 0

### if condition is a list
if false; true; then echo list-cond; fi
if true && false; then echo no; else echo and-cond; fi
--- stdout
list-cond
and-cond
--- status 0

### nested if
if true; then if false; then echo a; else echo b; fi; fi
--- stdout
b
--- status 0

### while loop
i=0
while [ $i -lt 3 ]; do echo $i; i=$((i + 1)); done
--- stdout
0
1
2
--- status 0

### while with false condition never runs and status zero
false
while false; do echo never; done
echo $?
--- stdout
0
--- status 0

### until loop
i=0
until [ $i -ge 3 ]; do echo $i; i=$((i + 1)); done
--- stdout
0
1
2
--- status 0

### loop status is the last body command's
i=0
while [ $i -lt 2 ]; do i=$((i+1)); sh -c "exit $i"; done
echo $?
--- stdout
2
--- status 0

### while reading lines from a file
printf 'l1\nl2\n' > f
while read -r line; do echo "got $line"; done < f
--- stdout
got l1
got l2
--- status 0

### for over a word list
for w in a 'b c' d; do echo "[$w]"; done
--- stdout
[a]
[b c]
[d]
--- status 0

### for without in iterates positional parameters
set -- x 'y z'
for a; do echo "[$a]"; done
--- stdout
[x]
[y z]
--- status 0

### for with empty list does nothing
for a in; do echo never; done
echo "st $?"
--- stdout
st 0
--- status 0

### for variable keeps last value
for v in 1 2 3; do :; done
echo $v
--- stdout
3
--- status 0

### for word list is expanded and split
list='a b'
for w in $list "$list" x*; do echo "[$w]"; done
--- stdout
[a]
[b]
[a b]
[x*]
--- status 0

### for on separate lines with do on next line
for i in 1 2
do
  echo $i
done
--- stdout
1
2
--- status 0

### case simple patterns
for w in apple banana cherry; do
  case $w in
    apple) echo fruit-a ;;
    b*) echo starts-b ;;
    *) echo other ;;
  esac
done
--- stdout
fruit-a
starts-b
other
--- status 0

### case alternatives with bar
case xyz in abc|xyz) echo alt;; esac
--- stdout
alt
--- status 0

### case runs only the first match
case ab in a*) echo first;; *b) echo second;; esac
--- stdout
first
--- status 0

### case with no match has status zero
false
case z in a) echo a;; esac
echo $?
--- stdout
0
--- status 0

### case quoted patterns are literal
x='a*'
case abc in "a*") echo q1;; *) echo nq1;; esac
case 'a*' in "$x") echo q2;; esac
case abc in $x) echo unq;; esac
--- stdout
nq1
q2
unq
--- status 0

### case bracket and question patterns
for w in a1 b2 c; do
  case $w in [ab][0-9]) echo "$w two";; ?) echo "$w one";; esac
done
--- stdout
a1 two
b2 two
c one
--- status 0

### case optional open paren and last without double semicolon
case x in (x) echo paren
esac
--- stdout
paren
--- status 0

### case word is expanded but not split
v='a b'
case $v in 'a b') echo whole;; esac
--- stdout
whole
--- status 0

### case status is the body's
case a in a) sh -c 'exit 4';; esac
echo $?
--- stdout
4
--- status 0

### case empty body and empty pattern word
case '' in '') echo empty-word;; esac
case x in x) ;; esac
echo $?
--- stdout
empty-word
0
--- status 0

### case on multiple lines with comments
case foo in
  # comment
  f*)
    echo one
    echo two
    ;;
  *)
    echo no
    ;;
esac
--- stdout
one
two
--- status 0

### compound commands in a pipeline and with redirections
if true; then echo a; echo b; fi | wc -l | tr -d ' '
for i in 1 2; do echo $i; done > out
cat out
--- stdout
2
1
2
--- status 0

### reserved words after semicolon and newline
if
true
then
echo ok
fi
--- stdout
ok
--- status 0

### empty subshell-like group with colon
{ :; }
( : )
echo $?
--- stdout
0
--- status 0
