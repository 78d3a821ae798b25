#!/usr/bin/env python3
"""The Python row of the capture yardstick (DESIGN.md section 6).

    capture.py WRITER [OUT_BYTES ERR_BYTES]

Runs WRITER (tests/helpers/lp-writer) once with OUT_BYTES ERR_BYTES 64K (default 512M 128M;
suffixes K, M, G are powers of 1024) under subprocess.run(capture_output=True), checks the
captured byte counts, the exit status and the pattern at a few offsets, and prints one line in
the format of capture_bench:

    python bytes=N secs=S mib_per_s=X peak_rss_mib=R rss_ratio=Q

R is this process's peak resident set (resource.getrusage(RUSAGE_SELF).ru_maxrss, read after
the capture; the child's memory is separate) and Q = R / N.  Exits non-zero with a message on
any failure.
"""
import os
import resource
import subprocess
import sys
import time

CHUNK = "64K"
MIB = 1024.0 * 1024.0
SUFFIX = {"": 0, "K": 10, "M": 20, "G": 30}


def usage():
    sys.exit("usage: capture.py WRITER [OUT_BYTES ERR_BYTES]  (sizes: N, NK, NM, NG)")


def parse_size(s):
    digits = s.rstrip("KkMmGg")
    suffix = s[len(digits):].upper()
    if not digits.isdigit() or suffix not in SUFFIX:
        usage()
    return int(digits) << SUFFIX[suffix]


def fail(what, detail):
    sys.exit("capture.py python: %s: %s" % (what, detail))


def check_stream(name, data, want, base):
    """The pattern of lp-writer: byte i of the stream is base + i % 26."""
    if len(data) != want:
        fail(name, "%d bytes captured, %d expected" % (len(data), want))
    if want == 0:
        return
    at = [0, 1, 25, 26, 65535, 65536, 65537, want // 3, want // 2, want - 26, want - 1]
    x = 0x9E3779B97F4A7C15 ^ want
    mask = (1 << 64) - 1
    for _ in range(13):  # xorshift64, as capture_bench.c
        x ^= (x << 13) & mask
        x ^= x >> 7
        x ^= (x << 17) & mask
        at.append(x % want)
    for i in at:
        if 0 <= i < want and data[i] != base + i % 26:
            fail(name, "byte %d is 0x%02x, expected %r" % (i, data[i], chr(base + i % 26)))


def main():
    if len(sys.argv) not in (2, 4):
        usage()
    writer = sys.argv[1]
    want_out = parse_size(sys.argv[2]) if len(sys.argv) == 4 else 512 << 20
    want_err = parse_size(sys.argv[3]) if len(sys.argv) == 4 else 128 << 20
    if not os.access(writer, os.X_OK):
        fail(writer, "not executable")

    argv = [writer, str(want_out), str(want_err), CHUNK]
    try:
        t0 = time.monotonic()
        r = subprocess.run(argv, capture_output=True)
        t1 = time.monotonic()
    except OSError as e:
        fail(writer, e)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    if r.returncode != 0:
        fail("writer", "returncode %d" % r.returncode)
    check_stream("stdout", r.stdout, want_out, ord("a"))
    check_stream("stderr", r.stderr, want_err, ord("A"))

    n = len(r.stdout) + len(r.stderr)
    secs = t1 - t0
    rss = peak_kib * 1024.0
    print("python bytes=%d secs=%.3f mib_per_s=%.1f peak_rss_mib=%.1f rss_ratio=%.3f"
          % (n, secs, n / MIB / secs, rss / MIB, rss / n if n else 0.0))


if __name__ == "__main__":
    main()
