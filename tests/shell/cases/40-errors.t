# Errors: not found (127), not executable (126), syntax errors (2), failed redirections.
# Only stdout and the status are compared: messages differ between shells, so a case at most
# checks that something was written to stderr.

### unknown command gives 127
frob
echo $?
--- stdout
127
--- status 0

### unknown command message goes to stderr and names it
frob 2> err
grep -c 'frob' err
grep -c 'not found' err
--- stdout
1
1
--- status 0

### unknown command as the last command sets the script status
frob 2>/dev/null
--- status 127

### unknown command does not stop the script
frob 2>/dev/null
echo continues
--- stdout
continues
--- status 0

### unknown command with a slash gives 127
./no-such-file 2>/dev/null
echo $?
/nonexistent/dir/cmd 2>/dev/null
echo $?
--- stdout
127
127
--- status 0

### non-executable file gives 126
printf 'echo no\n' > notexec
./notexec 2>/dev/null
echo $?
--- stdout
126
--- status 0

### non-executable file in PATH is skipped by the search
# PATH search looks for an executable file (XBD 8.3): a non-executable one is not found (127);
# bash says 126 here.
mkdir bin bin2
printf 'echo no\n' > bin/nx
p=$PATH
PATH=$PWD/bin:$p
nx 2>/dev/null
echo $?
printf 'echo second\n' > bin2/nx
chmod +x bin2/nx
PATH=$PWD/bin:$PWD/bin2:$p
nx
--- stdout
127
second
--- status 0

### directory as a command gives 126
mkdir adir
./adir 2>/dev/null
echo $?
--- stdout
126
--- status 0

### 126 message goes to stderr
printf 'echo no\n' > notexec
./notexec 2> err
[ -s err ] && echo message
--- stdout
message
--- status 0

### not found in a pipeline stage
frob 2>/dev/null | cat
echo $?
echo x | frob 2>/dev/null
echo $?
--- stdout
0
127
--- status 0

### syntax error: unterminated if
if true; then echo x
--- status 2

### syntax error: unexpected fi
fi
--- status 2

### syntax error: unterminated single quote
echo 'abc
--- status 2

### syntax error: unterminated double quote
echo "abc
--- status 2

### syntax error: missing done
for i in 1; do echo $i
--- status 2

### syntax error: bad operator sequence
echo a | | echo b
--- status 2

### syntax error: unterminated command substitution
echo $(echo x
--- status 2

### syntax error: unterminated brace expansion
echo ${x
--- status 2

### syntax error: case without esac
case x in x) echo x;;
--- status 2

### syntax error: missing then
if true; echo x; fi
--- status 2

### syntax error: empty group or subshell
( )
--- status 2

### syntax error: redirect without target
echo >
--- status 2

### syntax error: lone double semicolon
;;
--- status 2

### syntax error: if with an empty condition
if then echo x; fi
--- status 2

### syntax error: empty loop body
while true; do done
--- status 2

### a syntax error anywhere in a script runs nothing of it
echo before
echo a; fi
echo never
--- stdout
--- status 2

### a syntax error in eval text runs nothing of it and ends the script
echo first
eval 'echo one; fi'
echo "after $?"
--- stdout
first
--- status 2

### syntax error in sh -c gives 2
$TEST_SHELL -c 'if' 2>/dev/null
echo $?
$TEST_SHELL -c 'echo ok; (' 2>/dev/null
echo $?
--- stdout
2
2
--- status 0

### syntax error in eval exits with 2
eval 'for' 2>/dev/null
echo never
--- status 2

### failed redirection: command does not run
echo ran > /nonexistent/dir/file 2>/dev/null
cat 2>/dev/null < /nonexistent/file && echo cat-ran
echo "status nonzero $(( $? != 0 ))"
--- stdout
status nonzero 1
--- status 0

### failed redirection on a special builtin exits the shell
: > /nonexistent/dir/file
echo never
--- status 2

### failed redirection on a compound command does not exit
{ echo no; } > /nonexistent/dir/file
echo continues
--- stdout
continues
--- status 0

### error in a special builtin exits the shell
echo before
set -o nosuchoption 2>/dev/null
echo never
--- stdout
before
--- status 2

### error in a regular builtin does not exit
cd /nonexistent 2>/dev/null
echo continues
--- stdout
continues
--- status 0

### exit status of a command killed by a signal is above 128
sh -c 'kill -TERM $$'
echo $?
sh -c 'kill -INT $$'
echo $?
--- stdout
143
130
--- status 0

### missing script file gives 127
$TEST_SHELL ./no-such-script 2>/dev/null
echo $?
--- stdout
127
--- status 0

### a syntax error inside backquotes runs nothing of the script
echo before
x=`echo a; fi`
echo after
--- stdout
--- status 2
