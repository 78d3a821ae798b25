#!/usr/bin/env python3
"""The Python row of the pipeline yardstick (DESIGN.md section 6).

    pipeline.py [-n N]

Builds an 8-stage /bin/true pipeline with subprocess.Popen, the way a Python program chains
one: stage i gets the previous stage's stdout as its stdin and, but for the last, stdout=PIPE;
the parent closes its copy of each inner pipe end as soon as the next stage has it; then every
stage is waited for.  Once untimed as a warm-up, then N (default 500) timed times; prints one
line in the format of pipeline_bench:

    python_true8 n=N per_pipeline_us=X.X

Exits non-zero with a message on any failure (a stage not exiting 0).
"""
import argparse
import subprocess
import sys
import time

PROG = "/bin/true"
STAGES = 8


def positive(s):
    v = int(s)
    if v < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return v


def once():
    procs = []
    prev = None  # the parent's copy of the read end feeding the next stage
    for i in range(STAGES):
        last = i == STAGES - 1
        p = subprocess.Popen([PROG], stdin=prev, stdout=None if last else subprocess.PIPE)
        if prev is not None:
            prev.close()
        prev = p.stdout
        procs.append(p)
    for i, p in enumerate(procs):
        if p.wait() != 0:
            sys.exit("pipeline.py python_true8: stage %d (%s): returncode %d"
                     % (i, PROG, p.returncode))


def main():
    ap = argparse.ArgumentParser(description="8-stage /bin/true pipeline with subprocess.Popen")
    ap.add_argument("-n", type=positive, default=500, help="timed pipelines (default 500)")
    a = ap.parse_args()

    try:
        once()  # warm-up
        t0 = time.monotonic()
        for _ in range(a.n):
            once()
        t1 = time.monotonic()
    except OSError as e:
        sys.exit("pipeline.py python_true8: %s: %s" % (PROG, e))

    print("python_true8 n=%d per_pipeline_us=%.1f" % (a.n, (t1 - t0) / a.n * 1e6))


if __name__ == "__main__":
    main()
