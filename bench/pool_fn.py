#!/usr/bin/env python3
"""The Python rows of the pool yardstick (bench/README.md), part B: the function pool.

    pool_fn.py [-n N] [-w W] chunk1|default

Creates multiprocessing.Pool(W) (default 2 workers; the platform's default start method, fork
on Linux), then times one pool.map(square, range(N)) with chunksize=1 (mode chunk1) or with
map's default chunking (mode default: chunksize = ceil(N / (4 * W))).  square(x) returns x*x,
the counterpart of pool_fn_bench's task (4-byte int in, its 8-byte square out).  Only the map
is timed, not the creation of the pool (pool_fn_bench times only its map or submit loop too).
The results are checked (sum of squares).  One line, in the format of pool_fn_bench:

    python_MODE w=W n=N secs=S tasks_per_s=X
"""
import argparse
import multiprocessing
import sys
import time


def square(x):
    return x * x


def positive(s):
    v = int(s)
    if v < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return v


def main():
    ap = argparse.ArgumentParser(description="multiprocessing.Pool(W).map of a tiny function")
    ap.add_argument("-n", type=positive, default=100000, help="tasks (default 100000)")
    ap.add_argument("-w", type=positive, default=2, help="workers (default 2)")
    ap.add_argument("mode", choices=["chunk1", "default"])
    a = ap.parse_args()

    with multiprocessing.Pool(a.w) as pool:
        t0 = time.monotonic()
        if a.mode == "chunk1":
            res = pool.map(square, range(a.n), chunksize=1)
        else:
            res = pool.map(square, range(a.n))
        secs = time.monotonic() - t0
    want = (a.n - 1) * a.n * (2 * a.n - 1) // 6
    if len(res) != a.n or sum(res) != want or res[a.n - 1] != (a.n - 1) ** 2:
        sys.exit("pool_fn.py %s: wrong results" % a.mode)
    print("python_%s w=%d n=%d secs=%.4f tasks_per_s=%.1f" % (a.mode, a.w, a.n, secs, a.n / secs))


if __name__ == "__main__":
    main()
