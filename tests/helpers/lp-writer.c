/* lp-writer OUT_BYTES ERR_BYTES [CHUNK]
 *
 * Writes OUT_BYTES to fd 1 and ERR_BYTES to fd 2, alternating chunks of CHUNK
 * bytes (default 4096): one to stdout, one to stderr, until both are done.
 * Byte i of stdout is 'a' + i % 26, byte i of stderr is 'A' + i % 26.
 * Sizes take an optional suffix K, M or G (powers of 1024).
 * Exit 0; exit 3 silently if a write fails; exit 2 on bad arguments.
 * SIGPIPE keeps the inherited disposition (default: the process is killed). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PIECE 65536

static unsigned char out_pat[PIECE + 26];
static unsigned char err_pat[PIECE + 26];

static _Noreturn void usage(void)
{
    fputs("usage: lp-writer OUT_BYTES ERR_BYTES [CHUNK]  (sizes: N, NK, NM, NG)\n", stderr);
    exit(2);
}

/* Parses a non-negative decimal size with an optional K/M/G suffix. */
static int parse_size(const char *s, uint64_t *out)
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

static int write_all(int fd, const unsigned char *p, size_t n)
{
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

/* Writes bytes [*pos, *pos + n) of the pattern stream pat to fd. */
static void write_pattern(int fd, const unsigned char *pat, uint64_t *pos, uint64_t n)
{
    while (n > 0) {
        size_t k = n > PIECE ? PIECE : (size_t)n;
        if (write_all(fd, pat + *pos % 26, k) < 0)
            exit(3);
        *pos += k;
        n -= k;
    }
}

int main(int argc, char **argv)
{
    uint64_t out_n, err_n, chunk = 4096, out_pos = 0, err_pos = 0;

    if (argc < 3 || argc > 4 || parse_size(argv[1], &out_n) < 0 ||
        parse_size(argv[2], &err_n) < 0 ||
        (argc == 4 && parse_size(argv[3], &chunk) < 0) || chunk == 0)
        usage();

    for (size_t i = 0; i < sizeof out_pat; i++) {
        out_pat[i] = (unsigned char)('a' + i % 26);
        err_pat[i] = (unsigned char)('A' + i % 26);
    }

    while (out_pos < out_n || err_pos < err_n) {
        uint64_t k = out_n - out_pos < chunk ? out_n - out_pos : chunk;
        write_pattern(1, out_pat, &out_pos, k);
        k = err_n - err_pos < chunk ? err_n - err_pos : chunk;
        write_pattern(2, err_pat, &err_pos, k);
    }
    return 0;
}
