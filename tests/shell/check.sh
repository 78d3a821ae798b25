#!/bin/sh
# make check entry point for the shell cases: runs tests/shell/run-cases against $PSHELL (the
# built pshell, set by Makefile.am's AM_TESTS_ENVIRONMENT, as is LP_HELPERS) and exits with
# its status.  Run from the build directory; the cases are found beside this script.
here=$(cd "$(dirname "$0")" && pwd) || exit 99
if [ -z "$PSHELL" ]; then
    echo "check.sh: PSHELL (the shell to test) is not set" >&2
    exit 99
fi
if ! command -v python3 >/dev/null 2>&1; then
    echo "check.sh: python3 is needed to run $here/run-cases" >&2
    exit 99
fi
exec python3 "$here/run-cases" --shell "$PSHELL" "$@"
