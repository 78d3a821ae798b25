/* lp-reader [MAXBYTES]
 *
 * Reads stdin until EOF, or until MAXBYTES bytes have been read (then stops
 * without reading more), and prints "read N\n" to stdout. Exit 0; exit 1 on a
 * read error; exit 2 on bad arguments. MAXBYTES takes a K/M/G suffix. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "helper.h"

static _Noreturn void usage(void)
{
    fputs("usage: lp-reader [MAXBYTES]  (size: N, NK, NM, NG)\n", stderr);
    exit(2);
}

int main(int argc, char **argv)
{
    static char buf[65536];
    uint64_t max = UINT64_MAX, total = 0;

    if (argc > 2 || (argc == 2 && parse_size(argv[1], &max) < 0))
        usage();

    while (total < max) {
        size_t want = max - total < sizeof buf ? (size_t)(max - total) : sizeof buf;
        ssize_t r = read_retry(0, buf, want);
        if (r < 0) {
            perror("lp-reader: read");
            return 1;
        }
        if (r == 0)
            break;
        total += (uint64_t)r;
    }
    printf("read %" PRIu64 "\n", total);
    return flush_stdout_status();
}
