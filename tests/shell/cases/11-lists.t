# Pipelines, !, and lists: && || ; & and newlines.

### simple pipeline
printf 'b\na\nc\n' | sort | head -n 2
--- stdout
a
b
--- status 0

### pipeline status is the last command's
false | true; echo $?
true | sh -c 'exit 3'; echo $?
--- stdout
0
3
--- status 0

### bang negates status
! true; echo $?
! false; echo $?
! sh -c 'exit 5'; echo $?
--- stdout
1
0
0
--- status 0

### bang on a pipeline
! false | true; echo $?
! true | false; echo $?
--- stdout
1
0
--- status 0

### pipeline with a compound command
printf '1\n2\n3\n' | while read n; do echo "n=$n"; done | tail -n 1
--- stdout
n=3
--- status 0

### pipeline with group and subshell stages
{ echo a; echo b; } | (read x; read y; echo "$y$x")
--- stdout
ba
--- status 0

### newline after pipe continues the pipeline
echo hello |
tr a-z A-Z
--- stdout
HELLO
--- status 0

### writer to a closed pipe stops
yes | head -n 3
--- stdout
y
y
y
--- status 0

### long pipeline
echo x | cat | cat | cat | cat | cat | cat | cat | tr x y
--- stdout
y
--- status 0

### and list runs second only on success
true && echo one
false && echo two
echo $?
--- stdout
one
1
--- status 0

### or list runs second only on failure
true || echo one
false || echo two
echo $?
--- stdout
two
0
--- status 0

### and or are left associative with equal precedence
false && echo a || echo b
true || echo c && echo d
false || false && echo e
echo $?
--- stdout
b
d
1
--- status 0

### newline after and and or continues
true &&
echo yes
false ||
echo no
--- stdout
yes
no
--- status 0

### semicolon sequence
echo a; echo b ; echo c
--- stdout
a
b
c
--- status 0

### status of a list is the last command's
true; false
echo $?
--- stdout
1
--- status 0

### background command with wait
{ echo bg > f; } &
wait
cat f
--- stdout
bg
--- status 0

### background status is zero and wait gets the job status
sh -c 'exit 6' &
echo "start $?"
wait $!
echo "wait $?"
--- stdout
start 0
wait 6
--- status 0

### several background jobs and wait for all
for i in 1 2 3; do (echo $i > f$i) & done
wait
cat f1 f2 f3
--- stdout
1
2
3
--- status 0

### background and list
false && echo no &
wait $!
echo "st $?"
--- stdout
st 1
--- status 0

### background stdin is not the terminal
cat &
wait
echo done
--- stdout
done
--- status 0

### ampersand separates commands on a line
echo a > f & wait; cat f
--- stdout
a
--- status 0

### bang applies to the whole and-or element
! false && echo yes
! true || echo no
--- stdout
yes
no
--- status 0

### here-document feeding the first stage of a pipeline
cat <<EOF | sort -r
1
2
3
EOF
--- stdout
3
2
1
--- status 0

### stderr is not piped without redirection
{ echo out; echo err >&2; } 2>/dev/null | cat
--- stdout
out
--- status 0

### pipeline into a builtin in a loop
printf 'a b\nc d\n' | while read x y; do printf '%s-%s\n' "$y" "$x"; done
--- stdout
b-a
d-c
--- status 0

### pipe into command with redirection
echo piped | cat > f
cat f
--- stdout
piped
--- status 0

### big data through pipeline
i=0
while [ $i -lt 5000 ]; do echo line$i; i=$((i+1)); done | wc -l | tr -d ' '
--- stdout
5000
--- status 0
