# The match builtin (a PCRE2 line filter, grep -P's habits): selection, -v -o -c -i -q, the
# -q test form with MATCH_* variables, errors (bad pattern, missing file: status 2), stdin and
# `-`, several files (FILE: prefixes), NUL bytes and invalid UTF-8, lines longer than the read
# block, match in a pipeline, and a corpus compared byte for byte with `grep -a -P`.
# All cases are [pshell-only].

### match prints the matching lines, status 0; none: status 1 [pshell-only]
printf 'foo\nbar\nbaz foo\n' > f
match foo f; echo "st=$?"
match nothing f; echo "st=$?"
--- stdout
foo
baz foo
st=0
st=1
--- status 0

### match -v -c -o -i [pshell-only]
printf 'foo\nbar\nBAZ foo\nqux\n' > f
match -v foo f
match -c a f
match -vc foo f
match -o '[a-z]a.' f
match -i baz f
match -ic '^B' f
--- stdout
bar
qux
1
2
bar
BAZ foo
2
--- status 0

### match -o: successive matches, empty ones skipped, lookbehind sees before the offset [pshell-only]
printf 'abab\nfoobar\nxyz\n' | match -o 'b|(?<=b)a'
printf 'abc\n' | match -o 'x*'; echo "st=$?"
printf 'foobar\n' | match -o '\bbar|foo'
--- stdout
b
a
b
b
a
st=0
foo
--- status 0

### match reads stdin without a FILE and for - ; several files get FILE: prefixes [pshell-only]
printf 'a1\nb\n' > f1; printf 'c\na2\n' > f2
printf 'a0\n' | match a
printf 'a0\n' | match a f1 - f2
match -c a f1 f2
printf 'x' | match -c x
--- stdout
a0
f1:a1
(standard input):a0
f2:a2
f1:1
f2:1
1
--- status 0

### match: a missing file is reported, status 2, the other files are still read [pshell-only]
printf 'a1\n' > f1
match a nope f1 2>err; echo "st=$?"
cat err
match -q f nope f1; echo "q st=$?"
--- stdout
f1:a1
st=2
pshell: match: nope: No such file or directory
q st=0
--- status 0

### match: a bad pattern is reported with its offset, status 2 [pshell-only]
match 'a(b' /dev/null 2>err; echo "st=$?"
cat err
match -q '[z-a]' x 2>&1; echo "st=$?"
match -y x 2>&1 | head -1; match 2>/dev/null; echo "st=$?"
--- stdout
st=2
pshell: match: bad pattern 'a(b': missing closing parenthesis at offset 3
pshell: match: bad pattern '[z-a]': range out of order in character class at offset 3
st=2
pshell: match: unknown option -y
st=2
--- status 0

### match -q PATTERN STRING...: operands are strings; MATCH_* from the match [pshell-only]
tag=v12.3-rc1
if match -q '^v(\d+)\.(?<minor>\d+)(-(\w+))?(x)?' "$tag"; then
  echo "0=$MATCH_0 1=$MATCH_1 2=$MATCH_2 minor=$MATCH_minor 4=$MATCH_4 5=[$MATCH_5]"
fi
match -q 'z' nope; echo "st=$?"
match -q 'b(.)' a bc bd; echo "st=$? $MATCH_1"
match -q '(x)(y)(z)' xyz; echo "$MATCH_3"
match -q '(q)' q; echo "st=$? 1=$MATCH_1 2=${MATCH_2-unset} minor=${MATCH_minor-unset}"
match -vq a a; echo "st=$?"
match -vq a b; echo "st=$?"
printf 'no\nk=v1\nk=v2\n' > f
match -q 'k=(.*)' < f; echo "st=$? $MATCH_1"
printf 'k=v3\n' | match -q 'k=(.*)'; echo "st=$? $MATCH_1 (a pipeline stage is a subshell)"
--- stdout
0=v12.3-rc1 1=12 2=3 minor=3 4=rc1 5=[]
st=1
st=0 c
z
st=0 1=q 2=unset minor=unset
st=1
st=0
st=0 v1
st=0 v1 (a pipeline stage is a subshell)
--- status 0

### match: NUL bytes and invalid UTF-8 are data, printed byte for byte [pshell-only]
printf 'a\000b foo\n\377\376 foo\n\300\200\n' > f
match foo f | od -An -c | tr -s ' '
LC_ALL=C.UTF-8 match -c 'o$' f
LC_ALL=C.UTF-8 match -v 'o' f | od -An -tx1
LC_ALL=C.UTF-8 match -c '^.{2}$' f
LC_ALL=C match -c '^.{2}$' f
--- stdout
 a \0 b f o o \n 377 376 f o o \n
2
 c0 80 0a
0
1
--- status 0

### match: UTF-8 locale decides characters, classes and case folding [pshell-only]
printf 'Straße\nSTRASSE\nÉcole\n' > f
LC_ALL=C.UTF-8 match -c '^\w+$' f
LC_ALL=C match -c '^\w+$' f
LC_ALL=C.UTF-8 match -i 'école' f
LC_ALL=C match -i 'école' f; echo "st=$?"
LANG=en_US.utf8 LC_ALL= match -o 'a.e' f
match -o 'a.e' f; echo "st=$?"
--- stdout
3
1
École
st=1
aße
st=1
--- status 0

### match: lines longer than the read block (> 1 MiB) [pshell-only]
awk 'BEGIN { s = "abcdefghij"; while (length(s) < 3000000) s = s s; print "x" s "needle" s; print "short"; printf "%s", s "tail" }' > big
match -c needle big
match needle big | wc -c
match -v needle big | wc -c
match -o 'needle|tail' big
match -c '^short$' big
--- stdout
1
10485768
5242891
needle
tail
1
--- status 0

### match in a pipeline and -o with newline-crossing classes [pshell-only]
printf 'x1\ny\nx2\n' | match x | wc -l
printf 'ab\ncd\n' | match -o '[^x]+'
printf 'a \nb\n' | match -c 'a\s+b'
printf 'a \nb\n' | match 'a\s*$'
--- stdout
2
ab
cd
0
a 
--- status 0

### match agrees byte for byte with grep -a -P over a generated corpus [pshell-only] [slow]
command -v grep >/dev/null && printf 'x\n' | grep -qP x || { echo "no grep -P"; exit 0; }
awk 'BEGIN {
  n = split("foo bar baz foobar barfoo Foo BAR qux 42 1999 v1.2.3 x@y.com Straße naïve ÉCOLE école 日本語 データ ab aab abab . , ; ( ) - _ \t café CAFÉ ΣΊΣΥΦΟΣ σίσυφος zzz", w, " ")
  x = 7
  for (l = 0; l < 2000; l++) {
    x = (x * 75 + 74) % 65537; k = x % 12; line = ""
    for (j = 0; j < k; j++) { x = (x * 75 + 74) % 65537; line = line (j ? ((x % 7) ? " " : "  ") : "") w[1 + x % n] }
    print line
  }
}' > corpus
printf 'bin\000ary foo\n\377\376 bar\n\300\200 baz foo\nend\tfoo \342\202\n\n   \nlast foo' >> corpus
# patterns for both locales, then patterns whose shorthand classes (\w \d \s \b) are
# ASCII-only in grep before 3.10 (no PCRE2_UCP): compared under LC_ALL=C only; then
# patterns that are errors in byte mode (their messages differ): under C.UTF-8 only
cat > both <<'EOF'
foo
^foo
foo$
(foo|bar)baz?
^$
(?<=foo)bar
foo(?!bar)
(?i)straße
\p{Lu}
\p{Han}+
[^a-z]+
(a|b)\1
^.{10}$
.
x*
v1\.\d
[[:punct:]]+
(?i)école
é
[^x]
\p{L}+
(?<!o)o
[ä-ü]
^(ab|foo)(?=\s)
CAF|caf
\d{3,}
EOF
cat > ascii <<'EOF'
\bbar\b
\d+
[A-Z][a-z]+
\w+@\w+\.com
^\s*$
\s
\S+$
\Bar
o\b
a\s*$
\w+
^(?:\w+\s){2}\w+$
b\s+f
EOF
printf '%s\n' '\x{65e5}' > utf
n=0 bad=0
for loc in C C.UTF-8; do
  for list in both ascii utf; do
    case $loc.$list in C.UTF-8.ascii | C.utf) continue; esac
    while IFS= read -r p; do
      for opt in -a -v -o -c -i -io -vc -ic; do
        LC_ALL=$loc match $opt "$p" corpus > m.out 2>&1; s1=$?
        [ "$opt" = -a ] && opt=
        LC_ALL=$loc grep -a -P $opt "$p" corpus > g.out 2>&1; s2=$?
        n=$((n + 1))
        if ! cmp -s m.out g.out || [ "$s1" != "$s2" ]; then bad=$((bad + 1)); echo "differs: LC_ALL=$loc $opt $p"; fi
      done
    done < $list
  done
done
echo "$n compared, $bad differ"
--- stdout
528 compared, 0 differ
--- status 0

### match -q: a group that took no part is unset, and the next match clears what this one set [pshell-only]
match -q '(a)|(?<bee>b)' b; echo "st=$? 1=${MATCH_1-unset} 2=$MATCH_2 bee=$MATCH_bee"
MATCH_mine=kept
match -q '(c)' c; echo "1=$MATCH_1 2=${MATCH_2-unset} bee=${MATCH_bee-unset} mine=$MATCH_mine"
--- stdout
st=0 1=unset 2=b bee=b
1=c 2=unset bee=unset mine=kept
--- status 0
