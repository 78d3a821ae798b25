/* pool_fn_bench — the libpipe rows of the pool yardstick (bench/README.md), part B: N tiny
 * tasks through a function pool of W workers.
 *
 *   pool_fn_bench [-n N] [-w W] [-b B] map1|map0|mapb|submit
 *
 * The task: 4 bytes in (a native-endian int32 x), 8 bytes out (the int64 x*x), rc 0.  The
 * pool is lp_pool_new_fn(.workers = W (default 2), other options 0) with no initializer; it
 * is created before the clock starts (pool_fn.py times only multiprocessing's map, too).
 *
 *   map1    lp_pool_map_fn(batch 1): one item per message, multiprocessing's chunksize=1
 *   map0    lp_pool_map_fn(batch 0): the library chooses the batch
 *   mapb    lp_pool_map_fn(batch B) (default 1000)
 *   submit  N x lp_pool_submit_fn() (futures not kept), then lp_pool_next() until -ECHILD
 *
 * Every output is checked: rc 0, 8 bytes, the square of its input (map: after the clock stops;
 * submit: as each future comes back, its input found from lp_future_seq, a few ns per task
 * inside the timed loop).  Output, one line:
 *
 *   MODE w=W n=N secs=S tasks_per_s=X
 *
 * Any failure prints a message and exits non-zero. */
#include "libpipe.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

static const char *mode = "?";

__attribute__((noreturn)) static void die(const char *what, const char *detail)
{
    fprintf(stderr, "pool_fn_bench %s: %s: %s\n", mode, what, detail);
    exit(1);
}

__attribute__((noreturn)) static void usage(void)
{
    fprintf(stderr, "usage: pool_fn_bench [-n N] [-w W] [-b B] map1|map0|mapb|submit\n");
    exit(2);
}

/* The task, run in a worker: int32 in, its int64 square out. */
static int square(const void *in, size_t n, lp_buf *out)
{
    int32_t x;
    if (n != sizeof x)
        return 1;
    memcpy(&x, in, sizeof x);
    int64_t y = (int64_t)x * x;
    return lp_buf_append(out, &y, sizeof y) == 0 ? 0 : 2;
}

static void check_one(long i, int rc, const lp_buf *out)
{
    char buf[128];
    int64_t y;
    if (rc != 0) {
        snprintf(buf, sizeof buf, "item %ld: rc %d", i, rc);
        die("result", buf);
    }
    if (out->len != sizeof y) {
        snprintf(buf, sizeof buf, "item %ld: %zu bytes of output, not 8", i, out->len);
        die("result", buf);
    }
    memcpy(&y, out->data, sizeof y);
    if (y != (int64_t)i * i) {
        snprintf(buf, sizeof buf, "item %ld: %lld, not its square", i, (long long)y);
        die("result", buf);
    }
}

int main(int argc, char **argv)
{
    long n = 100000, w = 2, b = 1000;
    const char *m = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
            n = bench_count("pool_fn_bench", argv[++i], "-n", 1);
        else if (strcmp(argv[i], "-w") == 0 && i + 1 < argc)
            w = bench_count("pool_fn_bench", argv[++i], "-w", 1);
        else if (strcmp(argv[i], "-b") == 0 && i + 1 < argc)
            b = bench_count("pool_fn_bench", argv[++i], "-b", 1);
        else if (argv[i][0] == '-' || m)
            usage();
        else
            m = argv[i];
    }
    if (!m || w > 10000)
        usage();
    mode = m;
    size_t batch = 0;
    bool map = true;
    if (strcmp(m, "map1") == 0)
        batch = 1;
    else if (strcmp(m, "map0") == 0)
        batch = 0;
    else if (strcmp(m, "mapb") == 0)
        batch = (size_t)b;
    else if (strcmp(m, "submit") == 0)
        map = false;
    else
        usage();

    int32_t *x = malloc((size_t)n * sizeof *x);
    lp_buf *in = calloc((size_t)n, sizeof *in);
    lp_buf *out = calloc((size_t)n, sizeof *out);
    int *rc = malloc((size_t)n * sizeof *rc);
    if (!x || !in || !out || !rc)
        die("malloc", strerror(errno));
    for (long i = 0; i < n; i++) {
        x[i] = (int32_t)i;
        in[i] = (lp_buf){.data = (char *)&x[i], .len = sizeof x[i], .cap = sizeof x[i]};
    }

    lp_pool *pool = lp_pool_new_fn(&(lp_pool_opts){.workers = (int)w}, square, NULL);
    if (!pool)
        die("lp_pool_new_fn", strerror(errno));

    double t0 = now_s(), secs;
    if (map) {
        int r = lp_pool_map_fn(pool, in, (size_t)n, batch, out, rc);
        secs = now_s() - t0;
        if (r < 0)
            die("lp_pool_map_fn", lp_strerror(r));
        for (long i = 0; i < n; i++) {
            check_one(i, rc[i], &out[i]);
            lp_buf_free(&out[i]);
        }
    } else {
        for (long i = 0; i < n; i++) {
            int r = lp_pool_submit_fn(pool, &x[i], sizeof x[i], NULL);
            if (r < 0)
                die("lp_pool_submit_fn", lp_strerror(r));
        }
        long ended = 0;
        char *seen = calloc((size_t)n, 1);
        if (!seen)
            die("calloc", strerror(errno));
        for (;;) {
            lp_future *f;
            int r = lp_pool_next(pool, -1, &f);
            if (r == -ECHILD)
                break;
            if (r < 0)
                die("lp_pool_next", lp_strerror(r));
            ended++;
            int e = lp_future_error(f);
            if (e != 0)
                die("task", *lp_future_errmsg(f) ? lp_future_errmsg(f) : lp_strerror(e));
            uint64_t seq = lp_future_seq(f);
            const lp_result *res = lp_future_result(f);
            if (!res)
                die("lp_future_result", "NULL for an ended task");
            if (seq < 1 || seq > (uint64_t)n || seen[seq - 1])
                die("lp_future_seq", "out of range or seen twice");
            seen[seq - 1] = 1;
            check_one((long)(seq - 1), res->rc, &res->out);
        }
        secs = now_s() - t0;
        free(seen);
        if (ended != n) {
            char buf[96];
            snprintf(buf, sizeof buf, "%ld tasks ended, %ld submitted", ended, n);
            die("lp_pool_next", buf);
        }
    }
    lp_pool_free(pool);
    free(x);
    free(in);
    free(out);
    free(rc);
    printf("%s w=%ld n=%ld secs=%.4f tasks_per_s=%.1f\n", mode, w, n, secs,
           secs > 0 ? (double)n / secs : 0.0);
    return 0;
}
