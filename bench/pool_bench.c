/* pool_bench — the libpipe rows of the pool yardstick (bench/README.md), part A: N jobs of
 * /bin/true through a command pool of P workers.
 *
 *   pool_bench -j P -n N lp|lp_pipe
 *
 * lp_pool_new(.workers = P, other options 0), N x lp_pool_submit() of {"/bin/true"} (future
 * not kept: lp_pool_next hands them back), then lp_pool_next() until -ECHILD, then
 * lp_pool_free().  Every job must end with lp_future_error 0 and rc 0, and N of them must come
 * back.
 *
 *   lp       stdio inherited (the default: nothing captured), like the floor's children
 *   lp_pipe  .out = LP_PIPE: stdout captured (empty for /bin/true), as pshell's pool does
 *
 * The time runs from just before lp_pool_new to just after lp_pool_free (CLOCK_MONOTONIC).
 * Output, one line, in the format of pool_floor:
 *
 *   MODE j=P n=N secs=S jobs_per_s=X
 *
 * Any failure prints a message and exits non-zero. */
#include "libpipe.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

#define PROG "/bin/true"

static char *const child_argv[] = {PROG, NULL};
static const char *mode = "?";

__attribute__((noreturn)) static void die(const char *what, const char *detail)
{
    fprintf(stderr, "pool_bench %s: %s: %s\n", mode, what, detail);
    exit(1);
}

__attribute__((noreturn)) static void usage(void)
{
    fprintf(stderr, "usage: pool_bench -j P -n N lp|lp_pipe\n");
    exit(2);
}

int main(int argc, char **argv)
{
    long p = 0, n = 3000;
    const char *m = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-j") == 0 && i + 1 < argc)
            p = bench_count("pool_bench", argv[++i], "-j", 1);
        else if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
            n = bench_count("pool_bench", argv[++i], "-n", 1);
        else if (argv[i][0] == '-' || m)
            usage();
        else
            m = argv[i];
    }
    if (!m || p < 1 || p > 100000)
        usage();
    mode = m;
    bool capture;
    if (strcmp(m, "lp") == 0)
        capture = false;
    else if (strcmp(m, "lp_pipe") == 0)
        capture = true;
    else
        usage();

    lp_spawn_opts job = {.argv = child_argv, .in = LP_INHERIT, .out = LP_INHERIT,
                         .err = LP_INHERIT};
    if (capture)
        job.out = LP_PIPE;

    double t0 = now_s();
    lp_pool *pool = lp_pool_new(&(lp_pool_opts){.workers = (int)p});
    if (!pool)
        die("lp_pool_new", strerror(errno));
    for (long i = 0; i < n; i++) {
        int r = lp_pool_submit(pool, &job, NULL, NULL);
        if (r < 0)
            die("lp_pool_submit", lp_strerror(r));
    }
    long ended = 0;
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
            die(PROG, *lp_future_errmsg(f) ? lp_future_errmsg(f) : lp_strerror(e));
        const lp_result *res = lp_future_result(f);
        if (!res)
            die("lp_future_result", "NULL for an ended job");
        if (res->rc != 0) {
            char buf[64];
            snprintf(buf, sizeof buf, "rc %d", res->rc);
            die(PROG, buf);
        }
        if (res->out.len != 0)
            die(PROG, "unexpected output");
    }
    lp_pool_free(pool);
    double secs = now_s() - t0;
    if (ended != n) {
        char buf[96];
        snprintf(buf, sizeof buf, "%ld jobs ended, %ld submitted", ended, n);
        die("lp_pool_next", buf);
    }
    printf("%s j=%ld n=%ld secs=%.4f jobs_per_s=%.1f\n", mode, p, n, secs,
           secs > 0 ? (double)n / secs : 0.0);
    return 0;
}
