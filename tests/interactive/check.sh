#!/bin/sh
# make check entry point for the interactive cases: drives $PSHELL on a pseudo-terminal with
# $LP_HELPERS/lp-pty (both set by Makefile.am's AM_TESTS_ENVIRONMENT), one case at a time.
#
#   check.sh [CASE...]     CASE: a base name (05-ctrl-c) or a file name; default: every case
#
# A case is NN-name.pty (an lp-pty script), run in a fresh empty HOME that is also the cwd,
# after NN-name.setup (sh, same cwd) if there is one; NN-name.2.pty, NN-name.3.pty, ... then
# run in the same HOME (a second session of the shell).  Prints PASS/FAIL per case, with
# lp-pty's trace and the transcript of a failure.  Exit 0 if all passed, 1 if one failed,
# 77 if no pseudo-terminal can be made (lp-pty exits 77 on the first case), 99 on a setup error.
# LP_PTY_TIMEOUT (seconds, default 10) is the deadline of each wait; LP_PTY_KEEP=1 keeps the
# temporary directories.
here=$(cd "$(dirname "$0")" && pwd) || exit 99
cases=$here/cases
if [ -z "$PSHELL" ] || [ ! -x "$PSHELL" ]; then
    echo "check.sh: PSHELL (the shell to test) is not set or not executable" >&2
    exit 99
fi
pty=${LP_HELPERS:-$here/../helpers}/lp-pty
if [ ! -x "$pty" ]; then
    echo "check.sh: $pty is missing (build it: make check builds it)" >&2
    exit 99
fi
timeout=${LP_PTY_TIMEOUT:-10}

tmp=${TMPDIR:-/tmp}/lp-interactive.$$
mkdir -m 700 "$tmp" || exit 99
if [ "${LP_PTY_KEEP:-0}" = 1 ]; then
    echo "check.sh: keeping $tmp"
else
    trap 'rm -rf "$tmp"' EXIT
fi
trap 'exit 130' INT
trap 'exit 143' TERM

if [ $# -eq 0 ]; then
    set -- "$cases"/[0-9]*.pty
fi

# Indents a file, CRs dropped and other control characters made visible where cat -v can.
show() {
    if [ -s "$1" ]; then
        tr -d '\r' <"$1" | { cat -v 2>/dev/null || cat; } | sed 's/^/    | /'
        echo
    fi
}

# run_part SCRIPT HOME LOG: lp-pty on the shell with SCRIPT as its script, in HOME;
# lp-pty's stderr in LOG.err, the transcript in LOG.out.  Exit status of lp-pty.
run_part() {
    (
        cd "$2" || exit 99
        HOME=$2 XDG_STATE_HOME=$2/.local/state LC_ALL=C
        export HOME XDG_STATE_HOME LC_ALL
        unset PSHELL_HISTFILE HISTFILE HISTSIZE ENV PS1 PS2 PS4 CDPATH MAIL MAILPATH TMOUT \
            PROMPT_COMMAND INPUTRC COLUMNS LINES
        exec "$pty" -v -t "$timeout" -l "$3.out" -- "$PSHELL" <"$1" 2>"$3.err"
    )
}

n=0 passed=0 failed=0
for arg; do
    name=$(basename "$arg" .pty)
    case $name in *.[0-9]) continue ;; esac   # a later session: run with its first
    file=$cases/$name.pty
    if [ ! -f "$file" ]; then
        echo "check.sh: no case $arg ($file)" >&2
        exit 99
    fi
    n=$((n + 1))
    what=$(sed -n '1s/^# *//p' "$file")
    home=$tmp/$n-$name/home
    log=$tmp/$n-$name/log
    mkdir -p "$home" || exit 99
    rc=0
    if [ -f "$cases/$name.setup" ]; then
        (cd "$home" && HOME=$home sh "$cases/$name.setup") >"$log.err" 2>&1 || rc=setup
    fi
    part=$file k=1
    while [ "$rc" = 0 ] && [ -f "$part" ]; do
        run_part "$part" "$home" "$log"
        rc=$?
        [ "$rc" = 0 ] || break
        k=$((k + 1))
        part=$cases/$name.$k.pty
    done
    if [ "$rc" = 77 ] && [ $n -eq 1 ]; then
        echo "SKIP: interactive cases: $(cat "$log.err")"
        exit 77
    elif [ "$rc" = 0 ]; then
        passed=$((passed + 1))
        echo "PASS $name: $what"
    else
        failed=$((failed + 1))
        [ "$rc" = setup ] && stage="$name.setup failed" || stage="$(basename "$part") exit $rc"
        echo "FAIL $name: $what ($stage)"
        show "$log.err"
        if [ -s "$log.out" ]; then
            echo "    transcript of $(basename "$part"):"
            show "$log.out"
        fi
    fi
done
echo "interactive: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
