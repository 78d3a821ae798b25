# Field splitting on IFS.

### default IFS splits on runs of blanks and newlines
x='  a  b	c
d  '
printf '<%s>\n' $x
--- stdout
<a>
<b>
<c>
<d>
--- status 0

### default IFS value is space tab newline
printf '%s' "$IFS" | od -An -c | tr -s ' '
--- stdout
 \t \n
--- status 0

### unset IFS behaves as default
x='a  b'
unset IFS
printf '<%s>\n' $x
--- stdout
<a>
<b>
--- status 0

### custom non-whitespace IFS delimits every field
IFS=:
x='a::b:'
printf '<%s>\n' $x
--- stdout
<a>
<>
<b>
--- status 0

### leading non-whitespace delimiter gives an empty first field
IFS=:
x=':a'
printf '<%s>\n' $x
--- stdout
<>
<a>
--- status 0

### empty IFS disables splitting
IFS=
x='a b	c'
printf '<%s>\n' $x
--- stdout
<a b	c>
--- status 0

### whitespace around non-whitespace delimiter is absorbed
IFS=' :'
x=' a : b  ::c '
printf '<%s>\n' $x
--- stdout
<a>
<b>
<>
<c>
--- status 0

### IFS whitespace chars only count when in IFS
IFS=:
x='a b:c'
printf '<%s>\n' $x
--- stdout
<a b>
<c>
--- status 0

### quoted expansions are not split
IFS=:
x='a:b'
printf '<%s>\n' "$x" "${x}"
--- stdout
<a:b>
<a:b>
--- status 0

### literal text is never split
IFS=:
printf '<%s>\n' a:b
--- stdout
<a:b>
--- status 0

### split applies to command substitution and arithmetic
IFS=0
printf '<%s>\n' $(echo 102) $((1 + 1000))
--- stdout
<1>
<2>
<1>
<>
<1>
--- status 0

### empty expansion result produces no field
e=
printf '<%s>\n' $e $e "x"
printf '<%s>\n' ${e:-}
echo end
--- stdout
<x>
<>
end
--- status 0

### expansion of only whitespace produces no field
w='   '
set -- $w
echo $#
--- stdout
0
--- status 0

### split parts join with adjacent text
x='a b'
printf '<%s>\n' pre$x"post"
--- stdout
<prea>
<bpost>
--- status 0

### IFS change affects later expansions only
x='a-b'
IFS=-
set -- $x
echo $#
IFS=' '
set -- $x
echo $#
--- stdout
2
1
--- status 0

### IFS used by read and for
IFS=,
for f in $(echo 'x,y,z'); do echo "[$f]"; done
--- stdout
[x]
[y]
[z]
--- status 0

### tab only IFS
IFS='	'
x='a b	c'
printf '<%s>\n' $x
--- stdout
<a b>
<c>
--- status 0

### trailing non-whitespace delimiter adds no empty field
IFS=,
x='a,b,'
set -- $x
echo $#
x='a,b,,'
set -- $x
echo $#
--- stdout
2
3
--- status 0

### at with custom IFS keeps params
set -- 'a b' 'c:d'
IFS=:
printf '<%s>\n' $@
--- stdout
<a b>
<c>
<d>
--- status 0

### IFS in a prefix assignment does not affect the shell's own splitting
x='a:b'
IFS=: printf '<%s>\n' $x
--- stdout
<a:b>
--- status 0

### multiple char non-whitespace IFS
IFS=',;'
x='a,b;c'
printf '<%s>\n' $x
--- stdout
<a>
<b>
<c>
--- status 0

### newline only IFS splits lines
IFS='
'
x=$(printf 'line one\nline two\n')
printf '<%s>\n' $x
--- stdout
<line one>
<line two>
--- status 0
