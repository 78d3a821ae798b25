#!/usr/bin/env python3
"""The Python rows of the queue yardstick: N messages of S bytes (default 64) from a producer
process to a consumer process, the counterpart of bench/queue_shm_bench.

    queue_mp.py [-n N] [-s S] queue|simple

queue:  multiprocessing.Queue() (the anchor: a feeder thread pickles into a pipe)
simple: multiprocessing.SimpleQueue() (a locked pipe, no feeder thread)

The consumer (a multiprocessing.Process, the platform's default start method: fork on Linux)
gets N items, checking each one's length and sequence number, after saying it is ready on an
Event; the parent starts the clock once it is ready, puts the N items (bytes: an 8-byte
little-endian sequence number and S - 8 filler bytes) and stops the clock when the consumer
has been joined.  One line, in the format of queue_shm_bench:

    python_MODE size=S n=N secs=T msgs_per_s=X
"""
import argparse
import multiprocessing
import sys
import time


def consume(q, n, size, ready):
    ready.set()
    for i in range(n):
        m = q.get()
        if len(m) != size or int.from_bytes(m[:8], "little") != i:
            sys.exit(1)


def positive(s):
    v = int(s)
    if v < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return v


def main():
    ap = argparse.ArgumentParser(description="multiprocessing queue throughput, 2 processes")
    ap.add_argument("-n", type=positive, default=200000, help="messages (default 200000)")
    ap.add_argument("-s", type=positive, default=64, help="bytes per message (default 64, >= 8)")
    ap.add_argument("mode", choices=["queue", "simple"])
    a = ap.parse_args()
    if a.s < 8:
        ap.error("-s must be >= 8")

    q = multiprocessing.Queue() if a.mode == "queue" else multiprocessing.SimpleQueue()
    ready = multiprocessing.Event()
    p = multiprocessing.Process(target=consume, args=(q, a.n, a.s, ready))
    p.start()
    ready.wait()
    filler = b"m" * (a.s - 8)
    put = q.put
    t0 = time.monotonic()
    for i in range(a.n):
        put(i.to_bytes(8, "little") + filler)
    p.join()
    secs = time.monotonic() - t0
    if p.exitcode != 0:
        sys.exit("queue_mp.py %s: consumer failed (exit %s)" % (a.mode, p.exitcode))
    print("python_%s size=%d n=%d secs=%.4f msgs_per_s=%.1f" % (a.mode, a.s, a.n, secs, a.n / secs))


if __name__ == "__main__":
    main()
