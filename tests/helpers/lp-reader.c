/* lp-reader [MAXBYTES]
 *
 * Reads stdin until EOF, or until MAXBYTES bytes have been read (then stops
 * without reading more), and prints "read N\n" to stdout. Exit 0; exit 1 on a
 * read error; exit 2 on bad arguments. MAXBYTES takes a K/M/G suffix. */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static _Noreturn void usage(void)
{
    fputs("usage: lp-reader [MAXBYTES]  (size: N, NK, NM, NG)\n", stderr);
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

int main(int argc, char **argv)
{
    static char buf[65536];
    uint64_t max = UINT64_MAX, total = 0;

    if (argc > 2 || (argc == 2 && parse_size(argv[1], &max) < 0))
        usage();

    while (total < max) {
        size_t want = max - total < sizeof buf ? (size_t)(max - total) : sizeof buf;
        ssize_t r = read(0, buf, want);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            perror("lp-reader: read");
            return 1;
        }
        if (r == 0)
            break;
        total += (uint64_t)r;
    }
    printf("read %" PRIu64 "\n", total);
    return fflush(stdout) == 0 ? 0 : 1;
}
