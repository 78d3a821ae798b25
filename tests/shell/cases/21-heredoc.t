# Here-documents <<EOF <<-EOF, and exec with redirections only.
# (Lines of <<- cases start with real tab characters.)

### here-document feeds stdin
cat <<EOF
line one
  line two
EOF
--- stdout
line one
  line two
--- status 0

### here-document expands parameters, substitutions and arithmetic
x=val
cat <<EOF
x=$x ${x}s $(echo sub) `echo bq` $((1 + 2))
EOF
--- stdout
x=val vals sub bq 3
--- status 0

### quotes are literal in an unquoted here-document
x=v
cat <<EOF
'$x' "$x"
EOF
--- stdout
'v' "v"
--- status 0

### backslash in an unquoted here-document
x=v
cat <<EOF
\$x \\ \` \a "\""
a\
b
EOF
--- stdout
$x \ ` \a "\""
ab
--- status 0

### quoted delimiter disables expansion
x=v
cat <<'EOF'
$x $(echo no) `echo no` \$ \
EOF
--- stdout
$x $(echo no) `echo no` \$ \
--- status 0

### partly quoted delimiter also disables expansion
x=v
cat <<"E"OF
$x
EOF
cat <<\EOF
$x
EOF
--- stdout
$x
$x
--- status 0

### dash strips leading tabs
cat <<-EOF
	tab1
		tab2
  spaces kept
	EOF
--- stdout
tab1
tab2
  spaces kept
--- status 0

### dash with quoted delimiter strips tabs and does not expand
x=v
cat <<-'END'
	$x
	END
--- stdout
$x
--- status 0

### two here-documents on one line
cat <<A; cat <<B
from a
A
from b
B
--- stdout
from a
from b
--- status 0

### two here-documents on one command go to different fds
cat - /dev/fd/3 <<ONE 3<<TWO
one
ONE
two
TWO
--- stdout
one
two
--- status 0

### here-document on a loop
while read l; do echo "<$l>"; done <<EOF
a
b
EOF
--- stdout
<a>
<b>
--- status 0

### here-document in a pipeline followed by more commands
cat <<EOF | tr a-z A-Z
shout
EOF
echo after
--- stdout
SHOUT
after
--- status 0

### empty here-document
cat <<EOF
EOF
echo "[$(cat <<EOF
EOF
)]"
--- stdout
[]
--- status 0

### delimiter must be alone on its line
cat <<EOF
 EOF
EOF x
EOFx
EOF
--- stdout
 EOF
EOF x
EOFx
--- status 0

### here-document inside a function is expanded at each call
f() {
cat <<EOF
arg=$1
EOF
}
f one
f two
--- stdout
arg=one
arg=two
--- status 0

### here-document with a quoted dollar-paren inside double quotes
cat <<EOF
"$(echo "in quotes")"
EOF
--- stdout
"in quotes"
--- status 0

### here-document expansion is not field split or globbed
touch a1 a2
x='a*   b'
cat <<EOF
$x
EOF
--- stdout
a*   b
--- status 0

### here-document to a builtin read
read a b <<EOF
first second third
EOF
echo "$a|$b"
--- stdout
first|second third
--- status 0

### here-document with redirect on same command to a file
cat <<EOF > out
saved
EOF
cat out
--- stdout
saved
--- status 0

### large here-document
{
  echo 'cat <<EOF'
  i=0
  while [ $i -lt 3000 ]; do echo "line $i"; i=$((i + 1)); done
  echo EOF
} > gen.sh
. ./gen.sh | wc -l | tr -d ' '
--- stdout
3000
--- status 0

### exec with only redirections opens fds in the shell
exec 3> f
echo x >&3
echo y >&3
exec 3>&-
cat f
--- stdout
x
y
--- status 0

### exec redirecting stdout affects later commands
(exec > out; echo hidden; echo also)
echo visible
cat out
--- stdout
visible
hidden
also
--- status 0

### exec with saved stdout and restore
exec 4>&1
exec > f
echo into-file
exec 1>&4 4>&-
echo back
cat f
--- stdout
back
into-file
--- status 0

### exec reading from a file
printf 'l1\nl2\n' > in
exec 5< in
read a <&5
read b <&5
exec 5<&-
echo "$a $b"
--- stdout
l1 l2
--- status 0

### exec stdin redirect makes read consume the file
printf 'x\ny\n' > in
exec < in
read a
read b
echo "$a$b"
--- stdout
xy
--- status 0

### fds opened by exec are inherited by children
exec 6> f
sh -c 'echo child >&6'
exec 6>&-
cat f
--- stdout
child
--- status 0

### here-document delimiter with tab strip and body tabs in middle kept
cat <<-EOF
	a	b
	EOF
--- stdout
a	b
--- status 0
