/* lp-writer OUT_BYTES ERR_BYTES [CHUNK]
 *
 * Writes OUT_BYTES to fd 1 and ERR_BYTES to fd 2, alternating chunks of CHUNK
 * bytes (default 4096): one to stdout, one to stderr, until both are done.
 * Byte i of stdout is 'a' + i % 26, byte i of stderr is 'A' + i % 26.
 * Sizes take an optional suffix K, M or G (powers of 1024).
 * Exit 0; exit 3 silently if a write fails; exit 2 on bad arguments.
 * SIGPIPE keeps the inherited disposition (default: the process is killed). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "helper.h"

static _Noreturn void usage(void)
{
    fputs("usage: lp-writer OUT_BYTES ERR_BYTES [CHUNK]  (sizes: N, NK, NM, NG)\n", stderr);
    exit(2);
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

int main(int argc, char **argv)
{
    uint64_t out_n, err_n, chunk = 4096, out_pos = 0, err_pos = 0;

    if (argc < 3 || argc > 4 || parse_size(argv[1], &out_n) < 0 ||
        parse_size(argv[2], &err_n) < 0 ||
        (argc == 4 && parse_size(argv[3], &chunk) < 0) || chunk == 0)
        usage();

    while (out_pos < out_n || err_pos < err_n) {
        if (write_pattern(1, 'a', &out_pos, min_u64(out_n - out_pos, chunk)) < 0 ||
            write_pattern(2, 'A', &err_pos, min_u64(err_n - err_pos, chunk)) < 0)
            return 3;
    }
    return 0;
}
