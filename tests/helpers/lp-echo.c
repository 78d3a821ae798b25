/* lp-echo [ERR_EVERY]
 *
 * Copies stdin to stdout byte-exactly (64 KiB reads). With ERR_EVERY (a size,
 * K/M/G suffix allowed), after every ERR_EVERY bytes of input copied it also
 * writes ERR_EVERY bytes to stderr using lp-writer's stderr pattern
 * ('A' + i % 26, i counted over the whole stderr stream).
 * Exit 0; exit 3 on a write error; exit 1 on a read error; exit 2 on bad
 * arguments. SIGPIPE keeps the inherited disposition. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define PIECE 65536

static unsigned char err_pat[PIECE + 26];

static _Noreturn void usage(void)
{
    fputs("usage: lp-echo [ERR_EVERY]  (size > 0: N, NK, NM, NG)\n", stderr);
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

int main(int argc, char **argv)
{
    static unsigned char buf[65536];
    uint64_t every = 0, in_total = 0, err_pos = 0;

    if (argc > 2 || (argc == 2 && (parse_size(argv[1], &every) < 0 || every == 0)))
        usage();
    for (size_t i = 0; i < sizeof err_pat; i++)
        err_pat[i] = (unsigned char)('A' + i % 26);

    for (;;) {
        ssize_t r = read(0, buf, sizeof buf);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            perror("lp-echo: read");
            return 1;
        }
        if (r == 0)
            break;
        if (write_all(1, buf, (size_t)r) < 0)
            return 3;
        in_total += (uint64_t)r;
        if (every == 0)
            continue;
        /* Emit one ERR_EVERY block per completed block of input. */
        while (in_total - err_pos >= every) {
            uint64_t left = every;
            while (left > 0) {
                size_t k = left > PIECE ? PIECE : (size_t)left;
                if (write_all(2, err_pat + err_pos % 26, k) < 0)
                    return 3;
                err_pos += k;
                left -= k;
            }
        }
    }
    return 0;
}
