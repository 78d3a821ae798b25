/* lp-echo [ERR_EVERY]
 *
 * Copies stdin to stdout byte-exactly (64 KiB reads). With ERR_EVERY (a size,
 * K/M/G suffix allowed), after every ERR_EVERY bytes of input copied it also
 * writes ERR_EVERY bytes to stderr using lp-writer's stderr pattern
 * ('A' + i % 26, i counted over the whole stderr stream).
 * Exit 0; exit 3 on a write error; exit 1 on a read error; exit 2 on bad
 * arguments. SIGPIPE keeps the inherited disposition. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "helper.h"

static _Noreturn void usage(void)
{
    fputs("usage: lp-echo [ERR_EVERY]  (size > 0: N, NK, NM, NG)\n", stderr);
    exit(2);
}

int main(int argc, char **argv)
{
    static unsigned char buf[65536];
    uint64_t every = 0, in_total = 0, err_pos = 0;

    if (argc > 2 || (argc == 2 && (parse_size(argv[1], &every) < 0 || every == 0)))
        usage();

    for (;;) {
        ssize_t r = read_retry(0, buf, sizeof buf);
        if (r < 0) {
            perror("lp-echo: read");
            return 1;
        }
        if (r == 0)
            break;
        if (write_all(1, buf, (size_t)r) < 0)
            return 3;
        in_total += (uint64_t)r;
        /* Emit one ERR_EVERY block per completed block of input. */
        while (every != 0 && in_total - err_pos >= every)
            if (write_pattern(2, 'A', &err_pos, every) < 0)
                return 3;
    }
    return 0;
}
