#!/usr/bin/env python3
"""The Python row of the pool yardstick (bench/README.md), part A.

    pool.py -j P -n N

Runs N jobs of subprocess.run(["/bin/true"]) on a concurrent.futures.ThreadPoolExecutor with
max_workers=P (the idiomatic Python command pool) and prints one line in the format of
pool_floor:

    python j=P n=N secs=S jobs_per_s=X

The time runs from just before the executor is created to just after the last result was
collected (as_completed).  Exits non-zero with a message on any failure (a job not exiting 0).
"""
import argparse
import concurrent.futures
import subprocess
import sys
import time

PROG = "/bin/true"


def positive(s):
    v = int(s)
    if v < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return v


def job():
    return subprocess.run([PROG]).returncode


def main():
    ap = argparse.ArgumentParser(description="N x /bin/true on a ThreadPoolExecutor(P)")
    ap.add_argument("-j", type=positive, required=True, help="max_workers")
    ap.add_argument("-n", type=positive, default=3000, help="jobs (default 3000)")
    a = ap.parse_args()

    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=a.j) as ex:
        futs = [ex.submit(job) for _ in range(a.n)]
        bad = 0
        for f in concurrent.futures.as_completed(futs):
            if f.result() != 0:
                bad += 1
    secs = time.monotonic() - t0
    if bad:
        sys.exit("pool.py python: %d of %d jobs of %s did not exit 0" % (bad, a.n, PROG))
    print("python j=%d n=%d secs=%.4f jobs_per_s=%.1f" % (a.j, a.n, secs, a.n / secs))


if __name__ == "__main__":
    main()
