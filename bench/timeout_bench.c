/* timeout_bench FORKER [N]: how long lp_run takes to return after its timeout when a grandchild
 * keeps the pipes open.  Runs `FORKER 30` (tests/helpers/lp-forker) with a 300 ms timeout N times
 * (default 20) per containment mode and prints mean and worst wall time.  The bound is
 * timeout + 200 ms. */
#include <errno.h>
#include <libpipe.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: timeout_bench FORKER [N]\n");
        return 2;
    }
    int n = argc > 2 ? atoi(argv[2]) : 20;
    char *av[] = {argv[1], "30", NULL};
    static const struct {
        enum lp_contain mode;
        const char *name;
    } modes[] = {{LP_CONTAIN_PGROUP, "pgroup"}, {LP_CONTAIN_CGROUP, "cgroup"},
                 {LP_CONTAIN_TREE, "tree"}, {LP_CONTAIN_SUBREAPER, "subreaper"},
                 {LP_CONTAIN_AUTO, "auto"}};
    for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
        double sum = 0, worst = 0;
        int ok = 0;
        for (int i = 0; i < n; i++) {
            lp_spawn_opts o = {.argv = av, .out = LP_PIPE, .err = LP_PIPE};
            lp_run_opts r = {.timeout_ms = 300, .contain = modes[m].mode};
            lp_result res;
            double t0 = now();
            int e = lp_run(&o, &r, &res);
            double dt = now() - t0;
            lp_result_free(&res);
            if (e != -ETIMEDOUT) {
                printf("%-10s unavailable: %s\n", modes[m].name, lp_proc_errmsg(NULL));
                break;
            }
            ok++;
            sum += dt;
            if (dt > worst)
                worst = dt;
        }
        if (ok == n)
            printf("%-10s n=%d mean=%.1fms worst=%.1fms (timeout 300 ms)\n", modes[m].name, n,
                   sum / n * 1000, worst * 1000);
    }
    return 0;
}
