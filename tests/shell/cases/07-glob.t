# Pathname expansion (each case starts in an empty directory) and tilde expansion.

### star matches and results are sorted
touch b.c a.c c.h
echo *.c
echo *
--- stdout
a.c b.c
a.c b.c c.h
--- status 0

### question mark matches one character
touch a ab abc
echo a? a??
--- stdout
ab abc
--- status 0

### bracket range and list
touch a b c d x
echo [a-c]
echo [bdx]
--- stdout
a b c
b d x
--- status 0

### negated bracket
touch a b c
echo [!a]
--- stdout
b c
--- status 0

### no match keeps the word unchanged
echo *.none [z]q ?no
--- stdout
*.none [z]q ?no
--- status 0

### quoted pattern characters are not globbed
touch ab
echo "a*" 'a?' a\* "*"
--- stdout
a* a? a* *
--- status 0

### partly quoted pattern globs the unquoted part
touch 'a*b' axb
echo "a*"*
echo a"*"b
--- stdout
a*b
a*b
--- status 0

### dotfiles need an explicit dot
touch .hidden visible
echo *
echo .h*
echo .[!.]*
--- stdout
visible
.hidden
.hidden
--- status 0

### star does not cross slash
mkdir -p d/e
touch d/f d/e/g
echo d/*
echo */*
echo */*/*
--- stdout
d/e d/f
d/e d/f
d/e/g
--- status 0

### glob from a variable
touch x1 x2
p='x*'
echo $p
echo "$p"
--- stdout
x1 x2
x*
--- status 0

### glob result with spaces is one field
touch 'a b' c
printf '<%s>\n' *
--- stdout
<a b>
<c>
--- status 0

### set -f disables globbing
touch f1
set -f
echo f*
set +f
echo f*
--- stdout
f*
f1
--- status 0

### glob in for loop
touch 1.txt 2.txt
for f in *.txt; do echo "file $f"; done
--- stdout
file 1.txt
file 2.txt
--- status 0

### glob not done in assignments or case words
touch g1 g2
x=g*
echo "$x"
case g* in g\*) echo literal;; esac
--- stdout
g*
literal
--- status 0

### bracket with special characters
touch a- a] ab
echo a[-]
echo a[]]
--- stdout
a-
a]
--- status 0

### slash in pattern matches directories
mkdir d1 d2
touch f
echo */
--- stdout
d1/ d2/
--- status 0

### empty directory star stays literal
mkdir e
echo e/*
--- stdout
e/*
--- status 0

### backslash escapes a pattern character
touch 'a?' ab
echo a\?
--- stdout
a?
--- status 0

### non-interactive shell does not glob a redirection word
touch only.one
echo data > only.*
cat 'only.*'
--- stdout
data
--- status 0

### tilde expands to HOME
HOME=/my/home
echo ~ ~/x
--- stdout
/my/home /my/home/x
--- status 0

### quoted tilde is literal
HOME=/my/home
echo "~" '~' \~ "~/x"
--- stdout
~ ~ ~ ~/x
--- status 0

### tilde only at start of word
HOME=/my/home
echo a~ x/~
--- stdout
a~ x/~
--- status 0

### tilde after colon and equals in assignment
HOME=/h
PATHX=~/a:~/b
echo $PATHX
--- stdout
/h/a:/h/b
--- status 0

### tilde result is not split or globbed
HOME='/a b/*'
printf '<%s>\n' ~
--- stdout
</a b/*>
--- status 0

### tilde with empty HOME
# (A lone ~ with HOME= is left out: dash drops the empty field, bash keeps it.)
HOME=
printf '<%s>\n' ~/x "~" "$HOME"
--- stdout
</x>
<~>
<>
--- status 0

### tilde in parameter default
HOME=/hh
unset u
echo ${u:-~/d}
--- stdout
/hh/d
--- status 0
