# Parameter expansion: $x ${x} and every ${x OP word} form, with glob and quoted patterns.

### plain and braced
x=abc
echo $x ${x} ${x}def $x-def
--- stdout
abc abc abcdef abc-def
--- status 0

### unset variable expands to nothing
unset u
printf '<%s>\n' "$u" "${u}"
--- stdout
<>
<>
--- status 0

### name ends at first non-name char
ab=1 a=2
echo $ab $a.b $a_b. ${a}b
--- stdout
1 2.b . 2b
--- status 0

### default with colon covers unset and empty
unset u; e=
echo "${u:-d1}" "${e:-d2}" "${s:-d3}"
s=set
echo "${s:-no}"
--- stdout
d1 d2 d3
set
--- status 0

### default without colon covers unset only
unset u; e=
echo "[${u-d1}]" "[${e-d2}]"
--- stdout
[d1] []
--- status 0

### default word is expanded only when used
unset u; x=1
y=${x:-$(echo side >&2; echo no)}
echo "$y ${u:-$x$x}"
--- stdout
1 11
--- status 0

### assign default with colon
unset u; e=
echo "${u:=a1}" "${e:=a2}"
echo "$u $e"
--- stdout
a1 a2
a1 a2
--- status 0

### assign default without colon keeps empty
unset u; e=
echo "[${u=a1}]" "[${e=a2}]"
echo "[$u] [$e]"
--- stdout
[a1] []
[a1] []
--- status 0

### assign default as a command with colon builtin
unset v
: ${v:=init}
echo $v
--- stdout
init
--- status 0

### error if unset with colon, set value passes
x=ok
echo "${x:?unused}"
--- stdout
ok
--- status 0

### error if null prints message and exits non-interactive shell
e=
(echo "${e:?is empty}"; echo not reached) 2>/dev/null
[ $? -ne 0 ] && echo failed
--- stdout
failed
--- status 0

### error message goes to stderr
unset u
(: "${u?custom message}") 2>&1 | grep -c 'custom message'
--- stdout
1
--- status 0

### error without colon accepts empty
e=
echo "[${e?unset}]"
--- stdout
[]
--- status 0

### error unset terminates the script
unset u
echo before
: ${u?gone}
echo after
--- stdout
before
--- status 2

### alternative with colon
unset u; e=; s=v
echo "[${u:+alt}]" "[${e:+alt}]" "[${s:+alt}]"
--- stdout
[] [] [alt]
--- status 0

### alternative without colon
unset u; e=; s=v
echo "[${u+alt}]" "[${e+alt}]" "[${s+alt}]"
--- stdout
[] [alt] [alt]
--- status 0

### length
x=hello; e=; unset u
echo ${#x} ${#e} ${#u}
y='a b  c'
echo ${#y}
--- stdout
5 0 0
6
--- status 0

### length of positional count and params
set -- a bb ccc
echo ${#1} ${#2} ${#3} $#
--- stdout
1 2 3 3
--- status 0

### remove smallest suffix
f=file.tar.gz
echo ${f%.*} ${f%.gz} ${f%x}
--- stdout
file.tar file.tar file.tar.gz
--- status 0

### remove largest suffix
f=file.tar.gz
echo ${f%%.*} ${f%%*}
--- stdout
file
--- status 0

### remove smallest prefix
p=/usr/local/bin
echo ${p#*/} ${p#/usr} ${p#nomatch}
--- stdout
usr/local/bin /local/bin /usr/local/bin
--- status 0

### remove largest prefix
p=/usr/local/bin
echo ${p##*/} ${p##/*/}
--- stdout
bin bin
--- status 0

### patterns with question mark and brackets
x=abcabc
echo ${x#?} ${x%??} ${x#[ab]} ${x##*[b]} ${x%[!a]*}
--- stdout
bcabc abca bcabc c abcab
--- status 0

### quoted pattern characters match literally
x='a*b*c'
echo "${x#a\*}" "${x%'*c'}" "${x#"a*"}" ${x##*"*"}
--- stdout
b*c a*b b*c c
--- status 0

### quoted star does not match arbitrary text
x=abc
echo "${x#"*"}" "${x#*}" "${x#'a'}"
--- stdout
abc abc bc
--- status 0

### pattern from a variable is a pattern unless quoted
x=abcabc p='*b'
echo ${x#$p} ${x##$p} "${x#"$p"}"
--- stdout
cabc c abcabc
--- status 0

### removal on empty and unset
e=; unset u
echo "[${e#*}]" "[${u%%x}]"
--- stdout
[] []
--- status 0

### pattern removal does not change the variable
x=a.b.c
y=${x%.*}
echo $x $y
--- stdout
a.b.c a.b
--- status 0

### nested expansion in word
unset u; d=dir
echo ${u:-${d}/sub} "${u:-"$d x"}"
--- stdout
dir/sub dir x
--- status 0

### unquoted default word is field split
unset u
printf '<%s>\n' ${u:-a b}
printf '<%s>\n' "${u:-a b}"
--- stdout
<a>
<b>
<a b>
--- status 0

### braced expansion with special chars in word
unset u
echo "${u:-}" "${u:-a}b}" ${u:-'}'} ${u:-a\}b}
--- stdout
 ab} } a}b
--- status 0

### positional with braces beyond 9
set -- 1 2 3 4 5 6 7 8 9 ten eleven
echo ${10} ${11} $10
--- stdout
ten eleven 10
--- status 0

### operators on positional parameters
set -- file.c "" 
echo "${1%.c}" "${2:-empty}" "${3-unset}" ${#1}
--- stdout
file empty unset 6
--- status 0

### variable names with underscores and digits
_a1=x A_B=y
echo $_a1$A_B ${_a1}_
--- stdout
xy x_
--- status 0

### assignment value is not field split or globbed
touch f1 f2
x='a   *'
y=$x
printf '<%s>\n' "$y"
--- stdout
<a   *>
--- status 0

### tilde and dollar in assignment default
unset u
HOME=/h
x=${u:-~/d}
echo $x
--- stdout
/h/d
--- status 0

### hash pattern with escaped hash
x='#tag'
echo ${x#\#} ${x#'#'}
--- stdout
tag tag
--- status 0

### substring removal with bracket range
v=2024-01-15
echo ${v%%-*} ${v#*-} ${v##*[!0-9]}
--- stdout
2024 01-15 15
--- status 0
