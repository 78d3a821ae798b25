/* helper.h -- what the test helpers in this directory share.
 *
 * Header-only: every function is `static inline`, so each helper gets its own copy of just the
 * ones it calls, and the ones it does not call neither warn nor end up in the binary.
 * tests/helpers/README.md documents the conventions these implement (K/M/G sizes, the 'a'/'A'
 * byte patterns, exit 1 on an error, exit 3 on a failed write). */
#ifndef LP_TEST_HELPER_H
#define LP_TEST_HELPER_H

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

/* ---- arguments ------------------------------------------------------------------------- */

/* Parses a non-negative decimal size with an optional K/M/G suffix (powers of 1024, either
 * case): digits only, no sign or white space, nothing after the suffix, no overflow.
 * 0 and *out set on success, -1 otherwise. */
static inline int parse_size(const char *s, uint64_t *out)
{
    uint64_t v = 0, mul = 1;
    if (*s < '0' || *s > '9')
        return -1;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
            return -1;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    switch (*s) {
    case '\0': break;
    case 'K': case 'k': mul = 1ULL << 10; s++; break;
    case 'M': case 'm': mul = 1ULL << 20; s++; break;
    case 'G': case 'g': mul = 1ULL << 30; s++; break;
    default: return -1;
    }
    if (*s != '\0' || (v != 0 && v > UINT64_MAX / mul))
        return -1;
    *out = v * mul;
    return 0;
}

/* Parses a plain decimal integer (digits only: no sign or white space) in [lo, hi].
 * 0 and *out set on success, -1 otherwise. */
static inline int parse_int(const char *s, long lo, long hi, long *out)
{
    char *end;
    if (*s < '0' || *s > '9')
        return -1;
    long v = strtol(s, &end, 10);
    if (*end != '\0' || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* Parses a duration in seconds, fractions allowed ("0.2", "1e-3"): plain decimal only -- no
 * sign, white space, hex, inf or nan -- and at most 1e9. 0 and *out set on success, -1
 * otherwise (*out may have been changed). */
static inline int parse_seconds(const char *s, double *out)
{
    char *end;
    if (!((*s >= '0' && *s <= '9') || *s == '.') || s[strspn(s, "0123456789.eE+-")] != '\0')
        return -1;
    errno = 0;
    *out = strtod(s, &end);
    if (errno != 0 || *end != '\0' || end == s || !isfinite(*out) || *out < 0 || *out > 1e9)
        return -1;
    return 0;
}

/* ---- time ------------------------------------------------------------------------------- */

/* Sleeps secs seconds on CLOCK_MONOTONIC against an absolute deadline, so signals that
 * interrupt the sleep never shorten it. */
static inline void sleep_for(double secs)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    time_t whole = (time_t)secs;
    long nsec = t.tv_nsec + (long)((secs - (double)whole) * 1e9);
    t.tv_sec += whole + nsec / 1000000000L;
    t.tv_nsec = nsec % 1000000000L;
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) == EINTR)
        ;
}

/* ---- I/O -------------------------------------------------------------------------------- */

/* read(2), retried while it is interrupted by a signal (EINTR). */
static inline ssize_t read_retry(int fd, void *buf, size_t n)
{
    ssize_t r;
    while ((r = read(fd, buf, n)) < 0 && errno == EINTR)
        ;
    return r;
}

/* Writes all n bytes, retrying short and interrupted writes. 0, or -1 with errno set. */
static inline int write_all(int fd, const void *buf, size_t n)
{
    const unsigned char *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Exit status for a helper that is done printing to stdout: 0, or 1 if flushing failed. */
static inline int flush_stdout_status(void)
{
    return fflush(stdout) == 0 ? 0 : 1;
}

/* ---- the byte patterns ------------------------------------------------------------------ */

/* Byte i of a pattern stream: 'a' + i % 26 on stdout, 'A' + i % 26 on stderr. */
static inline unsigned char pattern_byte(char base, uint64_t i)
{
    return (unsigned char)(base + (int)(i % 26));
}

/* write_pattern writes at most this many bytes per write(2). */
#define PATTERN_PIECE 65536

/* The first PATTERN_PIECE + 26 bytes of the pattern stream starting with base, so that any
 * PATTERN_PIECE bytes from position pos are the table from pos % 26 on. Fast for 'a' plus one
 * other base; correct for any. */
static inline const unsigned char *pattern_table(char base)
{
    static unsigned char lower[PATTERN_PIECE + 26], other[PATTERN_PIECE + 26];
    unsigned char *t = base == 'a' ? lower : other;
    if (t[0] != (unsigned char)base)
        for (size_t i = 0; i < sizeof lower; i++)
            t[i] = pattern_byte(base, i);
    return t;
}

/* Writes bytes [*pos, *pos + n) of the pattern stream starting with base to fd, in pieces of
 * at most PATTERN_PIECE bytes, advancing *pos. 0, or -1 if a write failed. */
static inline int write_pattern(int fd, char base, uint64_t *pos, uint64_t n)
{
    const unsigned char *pat = pattern_table(base);
    while (n > 0) {
        size_t k = n > PATTERN_PIECE ? PATTERN_PIECE : (size_t)n;
        if (write_all(fd, pat + *pos % 26, k) < 0)
            return -1;
        *pos += k;
        n -= k;
    }
    return 0;
}

#endif
