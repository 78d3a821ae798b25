/* lp-mix IN OUT ERR [CHUNK]: interleaves reading stdin with writing stdout and stderr, chunk by
 * chunk (default 64K), with blocking I/O, so a parent that does not drain and feed at the same
 * time deadlocks with it.  stdout byte i is 'a' + i % 26, stderr byte i is 'A' + i % 26 (the
 * lp-writer patterns).  Reads stdin to EOF; exits 0 if it read exactly IN bytes, 1 if not. */
#include <ctype.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>

#include "helper.h"

#define MAX_CHUNK (1 << 20)

/* A size as lp-mix has always read them (strtoll syntax): parse_size, but leading white space
 * and a '+' are allowed, so is "-0", and the value must fit a long long. */
static int mix_size(const char *s, uint64_t *out)
{
    while (isspace((unsigned char)*s))
        s++;
    int minus = *s == '-';
    if (*s == '+' || *s == '-')
        s++;
    if (parse_size(s, out) < 0 || *out > LLONG_MAX || (minus && *out != 0))
        return -1;
    return 0;
}

/* Writes the next chunk (at most chunk bytes) of the pattern stream starting with base. */
static int put(int fd, char base, uint64_t *done, uint64_t total, uint64_t chunk)
{
    uint64_t left = total - *done;
    return write_pattern(fd, base, done, left < chunk ? left : chunk);
}

int main(int argc, char **argv)
{
    static char rbuf[MAX_CHUNK];
    uint64_t in, out, err, chunk = 65536, got = 0, o = 0, e = 0;
    int eof = 0;

    if (argc < 4 || argc > 5) {
        fprintf(stderr, "usage: lp-mix IN OUT ERR [CHUNK]\n");
        return 2;
    }
    if (mix_size(argv[1], &in) < 0 || mix_size(argv[2], &out) < 0 ||
        mix_size(argv[3], &err) < 0 || (argc == 5 && mix_size(argv[4], &chunk) < 0) ||
        chunk == 0 || chunk > MAX_CHUNK) {
        fprintf(stderr, "lp-mix: bad size\n");
        return 2;
    }
    while (!eof || o < out || e < err) {
        if (!eof) {
            ssize_t n = read_retry(0, rbuf, (size_t)chunk);
            if (n <= 0)
                eof = 1;
            else
                got += (uint64_t)n;
        }
        if (put(1, 'a', &o, out, chunk) < 0 || put(2, 'A', &e, err, chunk) < 0)
            return 3;
    }
    return got == in ? 0 : 1;
}
