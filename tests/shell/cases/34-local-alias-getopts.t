# Builtins: local, alias, unalias, getopts.

### local variable does not leak
x=global
f() { local x=inner; echo "in $x"; }
f
echo "out $x"
--- stdout
in inner
out global
--- status 0

### local without a value is still local
f() { local y; y=set; echo "in $y"; }
f
echo "out [${y-unset}]"
--- stdout
in set
out [unset]
--- status 0

### local is visible to called functions (dynamic scope)
g() { echo "g sees $v"; }
f() { local v=from-f; g; }
v=global
f
echo $v
--- stdout
g sees from-f
global
--- status 0

### local in recursion keeps each level separate
r() {
  local n=$1
  if [ $n -gt 0 ]; then r $((n - 1)); fi
  printf '%s ' $n
}
r 3
echo
--- stdout
0 1 2 3 
--- status 0

### several locals on one line
f() { local a=1 b=2; echo $a$b; }
a=x b=y
f
echo $a$b
--- stdout
12
xy
--- status 0

### alias expands in later lines
alias say='echo said'
say hello
--- stdout
said hello
--- status 0

### alias with trailing blank expands the next word
alias run='echo '
alias word='expanded'
run word
--- stdout
expanded
--- status 0

### alias listing
alias ll='ls -l'
alias ll
--- stdout
ll='ls -l'
--- status 0

### alias not expanded when quoted
alias hi='echo alias'
'hi' 2>/dev/null || echo "not alias $?"
\hi 2>/dev/null || echo "escaped $?"
--- stdout
not alias 127
escaped 127
--- status 0

### unalias removes an alias
alias gone='echo still'
unalias gone
gone 2>/dev/null || echo removed
--- stdout
removed
--- status 0

### unalias -a removes all
alias a1='echo 1' a2='echo 2'
unalias -a
alias | grep -c . || true
--- stdout
0
--- status 0

### alias defined on the same line is not used on that line
alias now='echo late'; now 2>/dev/null || echo not-yet
now
--- stdout
not-yet
late
--- status 0

### alias of an unknown name fails
alias nosuchalias 2>/dev/null
[ $? -ne 0 ] && echo failed
--- stdout
failed
--- status 0

### getopts simple flags
set -- -a -b arg
while getopts ab opt; do echo "opt $opt"; done
shift $((OPTIND - 1))
echo "rest $*"
--- stdout
opt a
opt b
rest arg
--- status 0

### getopts with arguments
set -- -f file -x -ovalue rest
while getopts f:xo: opt; do
  case $opt in
    f|o) echo "$opt=$OPTARG";;
    *) echo "$opt";;
  esac
done
shift $((OPTIND - 1))
echo "rest $*"
--- stdout
f=file
x
o=value
rest rest
--- status 0

### getopts combined flags
set -- -abc
while getopts abc opt; do printf '%s' "$opt"; done
echo
--- stdout
abc
--- status 0

### getopts stops at double dash and non-option
set -- -a -- -b
while getopts ab opt; do echo "opt $opt"; done
shift $((OPTIND - 1))
echo "rest $*"
set -- -a file -b
OPTIND=1
while getopts ab opt; do echo "opt $opt"; done
echo "OPTIND $OPTIND"
--- stdout
opt a
rest -b
opt a
OPTIND 2
--- status 0

### getopts unknown option sets question mark and warns
set -- -z
getopts ab opt 2>err
echo "st $? opt $opt"
[ -s err ] && echo warned
--- stdout
st 0 opt ?
warned
--- status 0

### getopts silent mode reports unknown and missing argument
set -- -z -f
getopts :f: opt; echo "$opt $OPTARG"
getopts :f: opt; echo "$opt $OPTARG"
--- stdout
? z
: f
--- status 0

### getopts missing argument in normal mode
set -- -f
getopts f: opt 2>/dev/null
echo "$opt [${OPTARG-unset}]"
--- stdout
? [unset]
--- status 0

### getopts returns false at the end
set -- -a
getopts a o; echo $?
getopts a o; echo $?
--- stdout
0
1
--- status 0

### getopts with explicit args and OPTIND reset
getopts x: o -x val
echo "$o $OPTARG $OPTIND"
OPTIND=1
getopts y o -y
echo "$o $OPTIND"
--- stdout
x val 3
y 2
--- status 0

### getopts in a function
parse() {
  OPTIND=1
  while getopts n: o "$@"; do echo "n=$OPTARG"; done
}
parse -n 1
parse -n 2 -n 3
--- stdout
n=1
n=2
n=3
--- status 0

### the word after an alias ending in a blank is checked for an alias too
alias say='echo A ' w=word
say w
alias twice='say '
twice w
--- stdout
A word
A word
--- status 0
