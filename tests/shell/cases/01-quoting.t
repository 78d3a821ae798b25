# Words and quoting: '...', "...", backslash, backslash-newline, comments.

### blanks separate words
printf '<%s>\n' a   b	c
--- stdout
<a>
<b>
<c>
--- status 0

### single quotes keep everything literal
printf '<%s>\n' 'a  b' '$HOME' '`x`' '\n' 'd"q'
--- stdout
<a  b>
<$HOME>
<`x`>
<\n>
<d"q>
--- status 0

### single-quoted empty string is one empty word
printf '<%s>\n' '' a ''
--- stdout
<>
<a>
<>
--- status 0

### double quotes keep blanks and expand $
x=val
printf '<%s>\n' "a  $x  b" "${x}s"
--- stdout
<a  val  b>
<vals>
--- status 0

### backslash in double quotes escapes only $ ` " \ newline
printf '<%s>\n' "\$ \` \" \\ \a \n"
--- stdout
<$ ` " \ \a \n>
--- status 0

### single quote inside double quotes is literal
x=v
printf '<%s>\n' "it's $x"
--- stdout
<it's v>
--- status 0

### unquoted backslash quotes the next character
printf '<%s>\n' a\ b \$x \\ \'q\' \"
--- stdout
<a b>
<$x>
<\>
<'q'>
<">
--- status 0

### backslash-newline joins lines outside quotes
printf '<%s>\n' ab\
cd
ec\
ho joined
--- stdout
<abcd>
joined
--- status 0

### backslash-newline inside double quotes is removed
printf '<%s>\n' "ab\
cd"
--- stdout
<abcd>
--- status 0

### backslash-newline inside single quotes is kept
printf '<%s>\n' 'ab\
cd'
--- stdout
<ab\
cd>
--- status 0

### adjacent quoted parts join into one word
x=X
printf '<%s>\n' a'b'"c"$x\d'' ""e
--- stdout
<abcXd>
<e>
--- status 0

### newline inside quotes is part of the word
printf '<%s>\n' 'a
b' "c
d"
--- stdout
<a
b>
<c
d>
--- status 0

### comment starts a word only
echo a#b # comment here
echo '#' "#" \#x
--- stdout
a#b
# # #x
--- status 0

### quoted reserved words are plain words
'if' 2>/dev/null; echo $?
"while" 2>/dev/null; echo $?
printf '<%s>\n' if then fi
--- stdout
127
127
<if>
<then>
<fi>
--- status 0

### quoted operators are plain words
printf '<%s>\n' ';' '&&' "|" \> \<
--- stdout
<;>
<&&>
<|>
<>>
<<>
--- status 0

### empty unquoted expansion vanishes, quoted stays
e=
printf '<%s>\n' $e "$e" a
--- stdout
<>
<a>
--- status 0

### dollar followed by no name is literal
printf '<%s>\n' $ "$" a$ "a$" '$'
--- stdout
<$>
<$>
<a$>
<a$>
<$>
--- status 0

### double-quoted at-sign star inside larger word
set -- 1 2
printf '<%s>\n' "x$@y"
--- stdout
<x1>
<2y>
--- status 0

### backslash before ordinary char in double quotes stays
printf '%s\n' "a\b\c"
--- stdout
a\b\c
--- status 0

### long word built from many pieces
w=
for p in a b c d e f g h; do w="$w$p'"; done
printf '%s\n' "$w"
--- stdout
a'b'c'd'e'f'g'h'
--- status 0

### echo without escapes prints its arguments
echo hello   world
echo
echo -n no-newline; echo ' end'
--- stdout
hello world

no-newline end
--- status 0

### keywords only recognised in command position
echo if then else fi do done
--- stdout
if then else fi do done
--- status 0

### assignment-looking word after command name is an argument
printf '<%s>\n' a=b
x=1 printf '<%s>\n' y=2
--- stdout
<a=b>
<y=2>
--- status 0

### CR and other bytes are ordinary
printf 'a\rb\n' | od -An -c | tr -s ' '
--- stdout
 a \r b \n
--- status 0
