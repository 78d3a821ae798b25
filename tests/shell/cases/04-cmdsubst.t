# Command substitution: $(...) and `...`.

### dollar-paren substitutes output
echo "[$(echo hi)]"
--- stdout
[hi]
--- status 0

### backquotes substitute output
echo "[`echo hi`]"
--- stdout
[hi]
--- status 0

### all trailing newlines are stripped, inner ones kept
x=$(printf 'a\n\nb\n\n\n')
printf '<%s>\n' "$x"
--- stdout
<a

b>
--- status 0

### leading newlines and blanks are kept
x=$(printf '\n  a  ')
printf '<%s>\n' "$x"
--- stdout
<
  a  >
--- status 0

### nested dollar-paren
echo $(echo a $(echo b $(echo c)))
--- stdout
a b c
--- status 0

### nested backquotes with escaped backquotes
echo `echo a \`echo b\``
--- stdout
a b
--- status 0

### quotes inside dollar-paren inside double quotes
x=$(echo "a  b")
echo "$(echo "inner "quoted" $x")"
--- stdout
inner quoted a  b
--- status 0

### parenthesis in case inside dollar-paren
x=$(case a in a) echo matched;; esac)
echo $x
--- stdout
matched
--- status 0

### single quotes with parens inside dollar-paren
echo $(echo ')(' "(")
--- stdout
)( (
--- status 0

### backslashes in backquotes
printf '%s\n' `printf '%s' '\\$x'`
y=no
echo `echo \\\$y` `echo \$y`
--- stdout
\$x
$y no
--- status 0

### unquoted result is field split
printf '<%s>\n' $(printf 'a b\nc')
--- stdout
<a>
<b>
<c>
--- status 0

### quoted result is one field
printf '<%s>\n' "$(printf 'a b\nc')"
--- stdout
<a b
c>
--- status 0

### unquoted result is globbed
touch a1 a2
echo $(echo 'a*')
echo "$(echo 'a*')"
--- stdout
a1 a2
a*
--- status 0

### status of assignment with substitution
x=$(false); echo $?
x=$(exit 3); echo $?
x=$(true); echo $?
--- stdout
1
3
0
--- status 0

### status is the last substitution in an assignment
x=$(exit 4) y=$(exit 5); echo $?
--- stdout
5
--- status 0

### status of a command with substitution is the command's
echo $(false) >/dev/null; echo $?
--- stdout
0
--- status 0

### substitution runs in a subshell
x=1
y=$(x=2; echo $x)
echo $x $y
y=$(cd /; pwd)
[ "$PWD" != / ] && echo cwd-kept
--- stdout
1 2
cwd-kept
--- status 0

### exit inside substitution leaves the shell running
x=$(echo out; exit 9; echo no)
echo "$x $?"
--- stdout
out 9
--- status 0

### stderr is not captured
x=$(echo err >&2; echo out) 2>/dev/null
echo $x
--- stdout
out
--- status 0

### empty substitution
x=$(true)
printf '<%s>\n' "$x" $(true) "$(:)"
--- stdout
<>
<>
--- status 0

### substitution with a pipeline and a loop
x=$(for i in 1 2 3; do echo $i; done | tr '\n' ,)
echo $x
--- stdout
1,2,3,
--- status 0

### substitution reads large output
x=$(i=0; while [ $i -lt 2000 ]; do echo 0123456789; i=$((i+1)); done)
echo ${#x}
--- stdout
21999
--- status 0

### substitution inside here-document
cat <<EOF
a $(echo b) `echo c`
EOF
--- stdout
a b c
--- status 0

### substitution as a command name
$(echo echo) hi
`echo printf` '%s\n' there
--- stdout
hi
there
--- status 0

### comment and here-document inside dollar-paren
x=$(
  # a comment with ) paren
  cat <<EOF
doc
EOF
)
echo $x
--- stdout
doc
--- status 0

### dollar-paren in default of parameter expansion
unset u
echo ${u:-$(echo dflt)}
--- stdout
dflt
--- status 0

### many substitutions in a row
i=0 s=
while [ $i -lt 200 ]; do s=$(echo "$s" | tr -d '\n')x; i=$((i+1)); done
echo ${#s}
--- stdout
200
--- status 0

### substitution with no output at start of word
printf '<%s>\n' "$(:)a" $(:)b
--- stdout
<a>
<b>
--- status 0

### backquote with double-quoted argument
echo "`echo "a  b"`"
--- stdout
a  b
--- status 0

### arithmetic versus subshell in substitution
echo $( (echo sub) ) $((1+1))
--- stdout
sub 2
--- status 0
