# Coprocess dialogues: spawn, send, expect (PCRE2 patterns) and spawn -c.  The coprocess is
# tests/helpers/lp-repl ($LP_HELPERS), a tiny REPL printing the prompt "repl> ".  expect's
# status is the index of the pattern that matched, 124 on timeout, 125 at the end of the
# output, 2 for usage errors, unknown names and bad patterns.  A timeout is only asserted where
# the awaited text can never come (prompting turned off).  All cases are [pshell-only].

### a dialogue with a prompt [pshell-only]
spawn r "$LP_HELPERS/lp-repl" -b 'ready'
expect r 'repl> '; echo "prompt $? before=[$EXPECT_BEFORE]"
send -l r 'echo hello world'
expect r '(\w+) (\w+)\n'; echo "status $? [$MATCH_0] [$MATCH_1] [$MATCH_2]"
expect r 'repl> '
send r 'add 2 40' '
'
expect r '(\d+)\n'; echo "sum $MATCH_1"
send -l r quit
spawn -c r; echo "closed $?"
--- stdout
prompt 0 before=[ready
]
status 0 [hello world
] [hello] [world]
sum 42
closed 0
--- status 0

### the status is the index of the pattern that matched first [pshell-only]
spawn r "$LP_HELPERS/lp-repl"
expect r nomatch '(\d+)\n' 'repl> '; echo "first $?"
send -l r 'add 1 2'
expect r nomatch '(\d+)\n' 'repl> '
case $? in
0) echo nomatch ;;
1) echo "number $MATCH_1" ;;
2) echo prompt ;;
esac
expect r '> ' 'repl'; echo "earliest start wins: $?"
spawn -c r; echo "closed $?"
--- stdout
first 2
number 3
earliest start wins: 1
closed 0
--- status 0

### named groups become MATCH_name; groups that did not take part are unset; only MATCH_ variables of the previous match are cleared [pshell-only]
spawn r "$LP_HELPERS/lp-repl" -b 'user=alice id=7'
expect r 'user=(?<user>\w+) id=(?<id>\d+)(x)?'
echo "$? $MATCH_user $MATCH_id $MATCH_1 ${MATCH_3-unset}"
MATCH_stale=1
expect r 'repl> '
echo "${MATCH_user-gone} ${MATCH_stale-gone} [$MATCH_0]"
spawn -c r
--- stdout
0 alice 7 alice unset
gone 1 [repl> ]
--- status 0

### output after a match is kept for the next expect [pshell-only]
spawn r "$LP_HELPERS/lp-repl" -b 'one two three'
expect r one; expect r three; echo "before=[$EXPECT_BEFORE]"
spawn -c r
--- stdout
before=[ two ]
--- status 0

### timeout gives 124 when the prompt never comes; the dialogue goes on [pshell-only]
spawn r "$LP_HELPERS/lp-repl"
expect r 'repl> '
send -l r noprompt
send -l r 'echo x'
expect r 'x\n'
expect -t 300ms r 'repl> '; echo "timeout $?"
send -l r prompt
send -l r 'echo y'
expect -t 10 r 'y\n'; echo "then $? before=[$EXPECT_BEFORE]"
spawn -c r
--- stdout
timeout 124
then 0 before=[repl> ]
--- status 0

### EOF gives 125 and keeps the unconsumed output in EXPECT_BEFORE [pshell-only]
spawn r "$LP_HELPERS/lp-repl" -b bye
send -l r quit
expect r never; echo "eof $? [$EXPECT_BEFORE]"
spawn -c r; echo "closed $?"
--- stdout
eof 125 [bye
repl> ]
closed 0
--- status 0

### spawn -c gives the coprocess's exit status [pshell-only]
spawn s sh -c 'cat >/dev/null; exit 3'
spawn -c s; echo "status $?"
spawn -c s; echo "gone $?"
--- stdout
status 3
gone 2
--- status 0

### unknown coprocess names give status 2 [pshell-only]
expect nosuch x 2>/dev/null; echo "expect $?"
send nosuch x 2>/dev/null; echo "send $?"
spawn -c nosuch 2>/dev/null; echo "close $?"
expect 2>/dev/null; echo "usage $?"
--- stdout
expect 2
send 2
close 2
usage 2
--- status 0

### a bad pattern gives status 2 and names the pattern [pshell-only]
spawn r "$LP_HELPERS/lp-repl"
expect r 'ok' 'a(b' 2>err; echo "bad $?"
grep -c "a(b" err
expect r 'repl> '; echo "still usable $?"
spawn -c r
--- stdout
bad 2
1
still usable 0
--- status 0

### send to a coprocess that stopped reading fails without killing the shell [pshell-only]
spawn r sh -c 'exec </dev/null; echo closed; exec sleep 30'
expect r 'closed\n'
send -l r 'echo x' 2>err; echo "send $?"
grep -c 'no longer reads' err
spawn -c -t 200ms r; echo "timed out $?"
spawn -c r 2>/dev/null; echo "gone $?"
--- stdout
send 1
1
timed out 124
gone 2
--- status 0

### send -e decodes escapes; a pty coprocess echoes the line [pshell-only]
spawn --pty t "$LP_HELPERS/lp-repl"
expect t 'repl> '
send -e t 'add 20 22\r'
expect t '(\d+)\r\nrepl> '; echo "pty $? $MATCH_1"
send -l t quit
expect t never; echo "eof $?"
spawn -c t; echo "closed $?"
--- stdout
pty 0 42
eof 125
closed 0
--- status 0

### coprocesses are killed when the shell exits [pshell-only]
$TEST_SHELL -c 'spawn s sh -c "echo \$\$ > pid2; exec cat"; send -l s hi; expect s "hi\n"; echo "$MATCH_0"'
p=$(cat pid2)
kill -0 "$p" 2>/dev/null && echo alive || echo dead
--- stdout
hi

dead
--- status 0

### spawn alone lists the coprocesses; spawn -c of a pty hangs its terminal up [pshell-only]
spawn a cat
spawn --pty b cat
spawn a cat 2>/dev/null; echo "again $?"
spawn | cut -d' ' -f1,3,4 | sort
spawn -c a; echo "a $?"
spawn -c b; echo "b $?"
spawn | wc -l
--- stdout
again 2
a running
b running pty
a 0
b 129
0
--- status 0
