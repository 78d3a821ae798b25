#!/usr/bin/env python3
"""The Python row of the spawn yardstick (DESIGN.md section 6).

    spawn.py [-n N] [--heap-mib M]

Runs subprocess.run(["/bin/true"]) once to warm up, then N (default 2000) timed times, and
prints one line in the format of spawn_bench:

    python heap=M n=N per_spawn_us=X.X

--heap-mib M first allocates a bytearray of M MiB and touches every page, so the parent is
large.  Exits non-zero with a message on any failure.
"""
import argparse
import subprocess
import sys
import time

PROG = "/bin/true"
PAGE = 4096


def positive(s):
    v = int(s)
    if v < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return v


def non_negative(s):
    v = int(s)
    if v < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return v


def once():
    r = subprocess.run([PROG])
    if r.returncode != 0:
        sys.exit("spawn.py python: %s: returncode %d" % (PROG, r.returncode))


def main():
    ap = argparse.ArgumentParser(description="spawn+wait of /bin/true with subprocess.run")
    ap.add_argument("-n", type=positive, default=2000, help="timed iterations (default 2000)")
    ap.add_argument("--heap-mib", type=non_negative, default=0, help="MiB of touched heap")
    a = ap.parse_args()

    heap = None
    if a.heap_mib:
        size = a.heap_mib << 20
        heap = bytearray(size)  # calloc'ed: zero pages are not resident until written
        for off in range(0, size, PAGE):
            heap[off] = 0x5A

    try:
        once()  # warm-up
        t0 = time.monotonic()
        for _ in range(a.n):
            once()
        t1 = time.monotonic()
    except OSError as e:
        sys.exit("spawn.py python: %s: %s" % (PROG, e))

    if heap is not None and heap[len(heap) - PAGE] != 0x5A:
        sys.exit("spawn.py python: heap corrupted")
    print("python heap=%d n=%d per_spawn_us=%.1f" % (a.heap_mib, a.n, (t1 - t0) / a.n * 1e6))


if __name__ == "__main__":
    main()
