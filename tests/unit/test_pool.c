/* Command pools (lp_pool_new, lp_pool_submit, lp_pool_submit_call): the workers bound, exact
 * captured output of many jobs, as-completed vs submission order, per-job timeouts that stop
 * the whole process group, retries and attempts, cancel (pending and running), max_pending,
 * shutdown, callbacks, LP_POOL_SLOT, spilling large output, start failures, no descriptor or
 * child left behind, and submitting from several threads at once.
 *
 * Jobs that must stay running until the test lets them go read a pipe the test holds (lp-reader
 * on LP_FD) or wait on a flag in shared memory (lp_pool_submit_call): nothing here depends on
 * a sleep being long enough; the timeouts given to waits are hang guards only. */
#include "testutil.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define ARGV(...) ((char *const[]){__VA_ARGS__, NULL})
#define HANG_MS 60000 /* a hang guard on waits, never expected to expire */

/* A count of jobs: LP_POOL_JOBS overrides, else `normal`, or `valgrind` under valgrind. */
static size_t njobs(size_t normal, size_t valgrind)
{
    return test_count("LP_POOL_JOBS", normal, valgrind);
}

static lp_pool *pool_new(lp_pool_opts o)
{
    lp_pool *p = lp_pool_new(&o);
    cr_assert(p, "lp_pool_new: %s", strerror(errno));
    return p;
}

/* Submit argv with stdout (and stderr) captured; the future. */
static lp_future *submit_r(lp_pool *p, char *const *argv, const lp_run_opts *r)
{
    lp_spawn_opts o = {.argv = argv, .out = LP_PIPE, .err = LP_PIPE};
    lp_future *f = NULL;
    int e = lp_pool_submit(p, &o, r, &f);
    cr_assert_eq(e, 0, "lp_pool_submit %s: %s", argv[0], lp_strerror(e));
    cr_assert(f);
    return f;
}

static lp_future *submit(lp_pool *p, char *const *argv)
{
    return submit_r(p, argv, NULL);
}

/* Wait for f (hang guard) and return its result, which must be there. */
static const lp_result *wait_res(lp_future *f)
{
    int e = lp_future_wait(f, HANG_MS);
    cr_assert_eq(e, 0, "lp_future_wait: %s", lp_strerror(e));
    const lp_result *res = lp_future_result(f);
    cr_assert(res, "an ended job has a result");
    return res;
}

static void *shared_mem(size_t n)
{
    void *m = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    cr_assert(m != MAP_FAILED);
    return m;
}

static void wait_dead(pid_t pid)
{
    for (int i = 0; i < 500 && !proc_dead(pid); i++)
        usleep(20000);
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* A fresh empty directory under $TMPDIR or /tmp (the caller removes it). */
static char *temp_dir(void)
{
    const char *t = getenv("TMPDIR");
    char *d = malloc(4096);
    snprintf(d, 4096, "%s/lp-pool-test.XXXXXX", t && *t ? t : "/tmp");
    cr_assert(mkdtemp(d), "mkdtemp: %s", strerror(errno));
    return d;
}

static int dir_entries(const char *path)
{
    DIR *d = opendir(path);
    cr_assert(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void check_pattern(const lp_buf *b, char base, size_t len)
{
    cr_assert_eq(b->len, len, "length %zu, expected %zu", b->len, len);
    for (size_t i = 0; i < len; i++)
        if (b->data[i] != (char)(base + (int)(i % 26)))
            cr_assert_fail("byte %zu is %d, expected %d", i, b->data[i], base + (int)(i % 26));
}

/* ---- basics -------------------------------------------------------------------------------- */

Test(pool, basic_results_and_accessors, .timeout = 60)
{
    lp_pool *p = pool_new((lp_pool_opts){.workers = 2});
    lp_future *ok = submit(p, ARGV((char *)helper("lp-exit"), "-p", "hello", "0"));
    lp_future *bad = submit(p, ARGV((char *)helper("lp-exit"), "-p", "three", "3"));
    lp_future *sig = submit(p, ARGV((char *)helper("lp-exit"), "-s", "15"));
    int tag = 7;
    lp_future_set_data(ok, &tag);
    cr_assert_eq(lp_future_data(ok), &tag);
    cr_assert_null(lp_future_data(bad), "ctx is NULL initially");
    cr_assert_eq(lp_future_seq(ok), 1);
    cr_assert_eq(lp_future_seq(bad), 2);
    cr_assert_eq(lp_future_seq(sig), 3);

    const lp_result *r = wait_res(ok);
    cr_assert_eq(r->rc, 0);
    cr_assert_str_eq(r->out.data, "hello\n");
    cr_assert_eq(r->err.len, 0);
    cr_assert(!r->timed_out);
    cr_assert_eq(r->attempts, 1);
    cr_assert_gt(r->pid, 0);
    cr_assert_eq(lp_future_error(ok), 0);
    cr_assert_str_eq(lp_future_errmsg(ok), "");
    cr_assert(lp_future_slot(ok) >= 1 && lp_future_slot(ok) <= 2, "slot %d", lp_future_slot(ok));

    r = wait_res(bad);
    cr_assert_eq(r->rc, 3);
    cr_assert_str_eq(r->out.data, "three\n");
    cr_assert_eq(lp_future_error(bad), LP_ECHECK);
    cr_assert_eq(r->attempts, 1);

    r = wait_res(sig);
    cr_assert_eq(r->rc, -SIGTERM);
    cr_assert_eq(lp_future_error(sig), LP_ECHECK);

    size_t pending, running, done;
    lp_pool_stats(p, &pending, &running, &done);
    cr_assert_eq(pending, 0);
    cr_assert_eq(running, 0);
    cr_assert_eq(done, 3);
    lp_pool_free(p);
    lp_pool_free(NULL);
}

Test(pool, submit_without_argv_is_einval)
{
    lp_pool *p = pool_new((lp_pool_opts){.workers = 1});
    lp_future *f = NULL;
    lp_spawn_opts o = {.argv = NULL};
    cr_assert_eq(lp_pool_submit(p, &o, NULL, &f), -EINVAL);
    lp_spawn_opts empty = {.argv = (char *const[]){NULL}};
    int e = lp_pool_submit(p, &empty, NULL, &f);
    cr_assert(e == -EINVAL || e == 0, "an empty argv: %s", lp_strerror(e));
    if (e == 0)
        cr_assert_neq(lp_future_error(f), 0, "an empty argv cannot run");
    lp_pool_free(p);
}

Test(pool, argv_and_options_are_copied, .timeout = 60)
{
    lp_pool *p = pool_new((lp_pool_opts){.workers = 1});
    lp_future *f[20];
    for (int i = 0; i < 20; i++) {
        char text[32], *argv[5];
        snprintf(text, sizeof text, "job-%d", i);
        argv[0] = strdup(helper("lp-exit"));
        argv[1] = strdup("-p");
        argv[2] = strdup(text);
        argv[3] = strdup("0");
        argv[4] = NULL;
        lp_spawn_opts o = {.argv = argv, .out = LP_PIPE};
        lp_run_opts r = {.timeout_ms = 0};
        cr_assert_eq(lp_pool_submit(p, &o, &r, &f[i]), 0);
        for (int k = 0; k < 4; k++) { /* the caller's copies go at once */
            memset(argv[k], 'X', strlen(argv[k]));
            free(argv[k]);
        }
        memset(&o, 0xff, sizeof o);
    }
    for (int i = 0; i < 20; i++) {
        char want[32];
        snprintf(want, sizeof want, "job-%d\n", i);
        const lp_result *r = wait_res(f[i]);
        cr_assert_eq(r->rc, 0, "job %d rc %d: %s", i, r->rc, lp_future_errmsg(f[i]));
        cr_assert_str_eq(r->out.data, want);
    }
    lp_pool_free(p);
}

/* ---- the workers bound --------------------------------------------------------------------- */

Test(pool, workers_bound_with_sleepers, .timeout = 60)
{
    /* 5 jobs of 0.3 s on 2 workers need 3 rounds (>= 0.9 s); 3 at once would take 0.6 s. */
    lp_pool *p = pool_new((lp_pool_opts){.workers = 2});
    for (int i = 0; i < 5; i++)
        submit(p, ARGV((char *)helper("lp-sleeper"), "0.3"));
    double t0 = now_s();
    size_t got = 0, max_running = 0;
    while (got < 5) {
        size_t pending, running, done;
        lp_pool_stats(p, &pending, &running, &done);
        cr_assert_leq(running, 2, "%zu jobs run on 2 workers", running);
        cr_assert_eq(pending + running + done, 5, "%zu+%zu+%zu", pending, running, done);
        if (running > max_running)
            max_running = running;
        lp_future *f;
        int e = lp_pool_next(p, 20, &f);
        cr_assert(e == 0 || e == -ETIMEDOUT, "lp_pool_next: %s", lp_strerror(e));
        if (e == 0) {
            got++;
            cr_assert_eq(lp_future_error(f), 0);
        }
        cr_assert_lt(now_s() - t0, 30, "hang guard");
    }
    double dt = now_s() - t0;
    cr_assert_geq(dt, 0.89, "5 x 0.3 s on 2 workers took %.3f s", dt);
    cr_assert_eq(max_running, 2, "both workers were used (max %zu)", max_running);
    lp_future *f;
    cr_assert_eq(lp_pool_next(p, 0, &f), -ECHILD);
    lp_pool_free(p);
}

/* Shared between the test and its forked jobs. */
struct conc {
    _Atomic int cur, max, started, violations;
    _Atomic int busy[17]; /* per slot: jobs running in it */
    _Atomic int bad_slot;
    int workers;
};

static int conc_job(void *arg)
{
    struct conc *c = arg;
    const char *s = getenv("LP_POOL_SLOT");
    int slot = s ? atoi(s) : 0;
    if (slot < 1 || slot > c->workers || slot > 16) {
        atomic_fetch_add(&c->bad_slot, 1);
        slot = 0;
    } else if (atomic_fetch_add(&c->busy[slot], 1) != 0) {
        atomic_fetch_add(&c->violations, 1); /* two jobs in one slot at once */
    }
    int now = atomic_fetch_add(&c->cur, 1) + 1;
    atomic_fetch_add(&c->started, 1);
    int m = atomic_load(&c->max);
    while (now > m && !atomic_compare_exchange_weak(&c->max, &m, now))
        ;
    /* Hold the slot until `workers` jobs have been seen at once (hang guard 5 s), so the peak
     * is reached whatever the scheduling; later jobs only overlap a little. */
    for (int i = 0; i < 5000 && atomic_load(&c->max) < c->workers; i++)
        usleep(1000);
    usleep(2000);
    if (slot)
        atomic_fetch_sub(&c->busy[slot], 1);
    atomic_fetch_sub(&c->cur, 1);
    return 0;
}

Test(pool, workers_bound_exact_peak_and_slots, .timeout = 120)
{
    struct conc *c = shared_mem(sizeof *c);
    c->workers = 3;
    lp_pool *p = pool_new((lp_pool_opts){.workers = 3});
    lp_future *f[15];
    for (int i = 0; i < 15; i++)
        cr_assert_eq(lp_pool_submit_call(p, conc_job, c, NULL, NULL, &f[i]), 0);
    cr_assert_eq(lp_pool_shutdown(p, true, false), 0);
    for (int i = 0; i < 15; i++) {
        const lp_result *r = lp_future_result(f[i]);
        cr_assert(r, "shutdown(wait) left job %d unfinished", i);
        cr_assert_eq(r->rc, 0, "job %d: rc %d, %s", i, r->rc, lp_future_errmsg(f[i]));
        int slot = lp_future_slot(f[i]);
        cr_assert(slot >= 1 && slot <= 3, "slot %d", slot);
    }
    cr_assert_eq(atomic_load(&c->started), 15);
    cr_assert_eq(atomic_load(&c->max), 3, "peak concurrency %d on 3 workers", atomic_load(&c->max));
    cr_assert_eq(atomic_load(&c->bad_slot), 0, "LP_POOL_SLOT missing or outside 1..3");
    cr_assert_eq(atomic_load(&c->violations), 0, "two running jobs shared a slot");
    lp_pool_free(p);
    munmap(c, sizeof *c);
}

Test(pool, slot_env_in_command_jobs, .timeout = 60)
{
    lp_pool *p = pool_new((lp_pool_opts){.workers = 3});
    lp_future *f[30];
    for (int i = 0; i < 30; i++)
        f[i] = submit(p, ARGV((char *)helper("lp-envcwd"), "LP_POOL_SLOT"));
    for (int i = 0; i < 30; i++) {
        const lp_result *r = wait_res(f[i]);
        cr_assert_eq(r->rc, 0);
        const char *s = strstr(r->out.data, "LP_POOL_SLOT=");
        cr_assert(s, "no LP_POOL_SLOT in the job's environment: %s", r->out.data);
        int slot = atoi(s + strlen("LP_POOL_SLOT="));
        cr_assert(slot >= 1 && slot <= 3, "LP_POOL_SLOT=%d", slot);
        cr_assert_eq(slot, lp_future_slot(f[i]), "env %d, lp_future_slot %d", slot,
                     lp_future_slot(f[i]));
    }
    lp_pool_free(p);
}

Test(pool, workers_zero_means_online_cpus, .timeout = 60)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    lp_pool *p = pool_new((lp_pool_opts){.workers = 0});
    lp_future *f[12];
    for (int i = 0; i < 12; i++)
        f[i] = submit(p, ARGV((char *)helper("lp-exit"), "0"));
    for (int i = 0; i < 12; i++) {
        wait_res(f[i]);
        int slot = lp_future_slot(f[i]);
        cr_assert(slot >= 1 && slot <= ncpu, "slot %d with %ld CPUs", slot, ncpu);
    }
    lp_pool_free(p);
}

/* ---- many jobs, exact output ----------------------------------------------------------------- */

static void many_jobs(size_t n, int workers)
{
    lp_pool *p = pool_new((lp_pool_opts){.workers = workers});
    lp_future **f = calloc(n, sizeof *f);
    char *exit_path = strdup(helper("lp-exit"));
    double t0 = now_s();
    for (size_t i = 0; i < n; i++) {
        char text[32];
        snprintf(text, sizeof text, "job %zu", i);
        f[i] = submit(p, ARGV(exit_path, "-p", text, "0"));
    }
    /* as completed: every job exactly once */
    unsigned char *seen = calloc(n, 1);
    for (size_t k = 0; k < n; k++) {
        lp_future *g;
        int e = lp_pool_next(p, HANG_MS, &g);
        cr_assert_eq(e, 0, "lp_pool_next #%zu: %s", k, lp_strerror(e));
        uint64_t seq = lp_future_seq(g);
        cr_assert(seq >= 1 && seq <= n, "seq %llu", (unsigned long long)seq);
        cr_assert_eq(seen[seq - 1], 0, "job %llu returned twice", (unsigned long long)seq);
        seen[seq - 1] = 1;
        cr_assert_eq(g, f[seq - 1], "seq %llu is not the future submitted as #%llu",
                     (unsigned long long)seq, (unsigned long long)seq);
    }
    lp_future *g;
    cr_assert_eq(lp_pool_next(p, 0, &g), -ECHILD);
    /* futures in submission order: exact output */
    for (size_t i = 0; i < n; i++) {
        char want[32];
        snprintf(want, sizeof want, "job %zu\n", i);
        const lp_result *r = lp_future_result(f[i]);
        cr_assert(r);
        cr_assert_eq(r->rc, 0, "job %zu: rc %d %s", i, r->rc, lp_future_errmsg(f[i]));
        cr_assert_eq(r->out.len, strlen(want), "job %zu: '%s'", i, r->out.data);
        cr_assert_str_eq(r->out.data, want);
        cr_assert_eq(lp_future_seq(f[i]), i + 1);
    }
    cr_log_info("%zu jobs on %d workers: %.2f s", n, workers, now_s() - t0);
    lp_pool_free(p);
    free(seen);
    free(exit_path);
    free(f);
}

Test(pool, two_thousand_jobs_exact_output, .timeout = 300)
{
    many_jobs(njobs(2000, 200), 4);
}

Test(pool, ten_thousand_jobs_exact_output, .timeout = 600)
{
    many_jobs(njobs(10000, 500), 4);
}

/* ---- order ------------------------------------------------------------------------------- */

Test(pool, next_is_as_completed_futures_in_submission_order, .timeout = 60)
{
    /* Four lp-readers, each on a pipe of ours; they end in the order we close the pipes. */
    enum { N = 4 };
    int rfd[N], wfd[N];
    lp_pool *p = pool_new((lp_pool_opts){.workers = N});
    lp_future *f[N];
    for (int i = 0; i < N; i++) {
        int pp[2];
        cr_assert_eq(pipe2(pp, O_CLOEXEC), 0);
        rfd[i] = pp[0];
        wfd[i] = pp[1];
        lp_spawn_opts o = {.argv = ARGV((char *)helper("lp-reader")), .in = LP_FD(rfd[i]),
                           .out = LP_PIPE};
        cr_assert_eq(lp_pool_submit(p, &o, NULL, &f[i]), 0);
    }
    const int order[N] = {2, 0, 3, 1};
    for (int k = 0; k < N; k++) {
        int i = order[k];
        char bytes[N + 1] = "xxxx";
        cr_assert_eq(write(wfd[i], bytes, (size_t)i + 1), i + 1);
        close(wfd[i]);
        lp_future *g;
        int e = lp_pool_next(p, HANG_MS, &g);
        cr_assert_eq(e, 0, "lp_pool_next: %s", lp_strerror(e));
        cr_assert_eq(g, f[i], "lp_pool_next gave job #%llu, but #%d ended",
                     (unsigned long long)lp_future_seq(g), i + 1);
        for (int j = k + 1; j < N; j++) /* the others still run */
            cr_assert_null(lp_future_result(f[order[j]]));
    }
    lp_future *g;
    cr_assert_eq(lp_pool_next(p, 0, &g), -ECHILD);
    for (int i = 0; i < N; i++) {
        char want[32];
        snprintf(want, sizeof want, "read %d\n", i + 1);
        cr_assert_str_eq(lp_future_result(f[i])->out.data, want);
        cr_assert_eq(lp_future_seq(f[i]), (uint64_t)i + 1);
        close(rfd[i]);
    }
    lp_pool_free(p);
}

Test(pool, wait_poll_timeout_and_not_ended_state, .timeout = 60)
{
    int pp[2];
    cr_assert_eq(pipe2(pp, O_CLOEXEC), 0);
    lp_pool *p = pool_new((lp_pool_opts){.workers = 1});
    lp_future *g;
    cr_assert_eq(lp_pool_next(p, 0, &g), -ECHILD, "an empty pool has nothing to return");
    cr_assert_eq(lp_pool_next(p, 100, &g), -ECHILD, "and does not wait for nothing");
    lp_spawn_opts o = {.argv = ARGV((char *)helper("lp-reader")), .in = LP_FD(pp[0]), .out = LP_PIPE};
    lp_future *f;
    cr_assert_eq(lp_pool_submit(p, &o, NULL, &f), 0);
    cr_assert_eq(lp_future_wait(f, 0), -ETIMEDOUT);
    cr_assert_eq(lp_future_wait(f, 100), -ETIMEDOUT);
    cr_assert_eq(lp_pool_next(p, 100, &g), -ETIMEDOUT);
    cr_assert_null(lp_future_result(f));
    cr_assert_eq(lp_future_error(f), -EAGAIN);
    size_t pending, running, done;
    lp_pool_stats(p, &pending, &running, &done);
    cr_assert_eq(pending + running, 1);
    cr_assert_eq(done, 0);
    close(pp[1]);
    cr_assert_eq(lp_pool_next(p, HANG_MS, &g), 0);
    cr_assert_eq(g, f);
    cr_assert_str_eq(lp_future_result(f)->out.data, "read 0\n");
    cr_assert_eq(lp_future_wait(f, 0), 0, "waiting on an ended job returns at once");
    cr_assert_eq(lp_pool_next(p, 0, &g), -ECHILD);
    close(pp[0]);
    lp_pool_free(p);
}

/* ---- timeouts ------------------------------------------------------------------------------ */

Test(pool, job_timeout_kills_the_process_group, .timeout = 60)
{
    lp_pool *p = pool_new((lp_pool_opts){.workers = 2, .job_timeout_ms = 300});
    lp_future *f = submit(p, ARGV((char *)helper("lp-forker"), "30"));
    lp_future *quick = submit(p, ARGV((char *)helper("lp-exit"), "-p", "quick", "0"));
    double t0 = now_s();
    const lp_result *r = wait_res(f);
    double dt = now_s() - t0;
    cr_assert(r->timed_out);
    cr_assert_eq(lp_future_error(f), -ETIMEDOUT);
    cr_assert(strstr(lp_future_errmsg(f), "timed out"), "errmsg '%s'", lp_future_errmsg(f));
    cr_assert_eq(r->rc, -SIGKILL, "kill_grace_ms 0: SIGKILL at once (rc %d)", r->rc);
    cr_assert_eq(r->attempts, 1);
    cr_assert_geq(dt, 0.25);
    cr_assert_lt(dt, 10, "the timeout took %.3f s (a grandchild holds the pipes)", dt);
    int gc = 0;
    cr_assert(r->out.data && sscanf(r->out.data, "GRANDCHILD %d", &gc) == 1,
              "output before the timeout lost: '%s'", r->out.data ? r->out.data : "(null)");
    wait_dead(gc);
    cr_assert(proc_dead(gc), "grandchild %d survived the timeout", gc);
    r = wait_res(quick);
    cr_assert_eq(r->rc, 0);
    cr_assert(!r->timed_out);
    cr_assert_eq(lp_future_error(quick), 0);
    lp_pool_free(p);
    int z;
    cr_assert_eq(count_children(&z), 0);
}

Test(pool, run_opts_timeout_overrides_pool_timeout, .timeout = 60)
{
    lp_pool *p = pool_new((lp_pool_opts){.workers = 2, .job_timeout_ms = 200});
    /* the job's own longer timeout wins: a 0.6 s sleeper completes */
    lp_run_opts longer = {.timeout_ms = 20000};
    lp_future *a = submit_r(p, ARGV((char *)helper("lp-sleeper"), "0.6"), &longer);
    /* in a pool without job_timeout_ms, the job's own timeout applies */
    lp_pool *q = pool_new((lp_pool_opts){.workers = 1});
    lp_run_opts shorter = {.timeout_ms = 200};
    lp_future *b = submit_r(q, ARGV((char *)helper("lp-sleeper"), "30"), &shorter);
    const lp_result *r = wait_res(a);
    cr_assert(!r->timed_out);
    cr_assert_eq(lp_future_error(a), 0, "%s", lp_future_errmsg(a));
    r = wait_res(b);
    cr_assert(r->timed_out);
    cr_assert_eq(lp_future_error(b), -ETIMEDOUT);
    lp_pool_free(p);
    lp_pool_free(q);
}

Test(pool, kill_grace_term_then_kill, .timeout = 60)
{
    lp_pool *p = pool_new((lp_pool_opts){.workers = 2, .job_timeout_ms = 100, .kill_grace_ms = 5000});
    lp_future *term = submit(p, ARGV((char *)helper("lp-sleeper"), "30"));
    const lp_result *r = wait_res(term);
    cr_assert(r->timed_out);
    cr_assert_eq(r->rc, -SIGTERM, "a job that honours SIGTERM ends with it (rc %d)", r->rc);
    lp_pool_free(p);

    p = pool_new((lp_pool_opts){.workers = 1, .job_timeout_ms = 100, .kill_grace_ms = 300});
    lp_future *stubborn = submit(p, ARGV((char *)helper("lp-sleeper"), "30", "--ignore-term", "--ready"));
    double t0 = now_s();
    r = wait_res(stubborn);
    double dt = now_s() - t0;
    cr_assert(r->timed_out);
    cr_assert_eq(r->rc, -SIGKILL);
    cr_assert_geq(dt, 0.35, "SIGKILL came after %.3f s, before the grace period", dt);
    cr_assert_str_eq(r->out.data, "ready\n");
    lp_pool_free(p);
}

/* ---- retries --------------------------------------------------------------------------------- */

Test(pool, retries_of_a_job_that_always_fails, .timeout = 60)
{
    lp_pool *p = pool_new((lp_pool_opts){.workers = 2, .retries = 2});
    lp_future *f = submit(p, ARGV((char *)helper("lp-exit"), "-p", "try", "3"));
    lp_future *ok = submit(p, ARGV((char *)helper("lp-exit"), "0"));
    const lp_result *r = wait_res(f);
    cr_assert_eq(r->attempts, 3);
    cr_assert_eq(r->rc, 3);
    cr_assert_eq(lp_future_error(f), LP_ECHECK);
    cr_assert_str_eq(r->out.data, "try\n", "the result is the last attempt's, not all of them");
    r = wait_res(ok);
    cr_assert_eq(r->attempts, 1, "a job that succeeds is not retried");
    lp_pool_free(p);
}

/* Appends one byte to the file at arg per attempt; fails until the file has `need` bytes. */
struct attempt_file {
    char path[512];
    int need; /* attempts that fail before one succeeds; -1: always fail */
};

static int attempt_job(void *arg)
{
    struct attempt_file *a = arg;
    int fd = open(a->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0)
        return 100;
    if (write(fd, "x", 1) != 1)
        return 101;
    close(fd);
    struct stat st;
    if (stat(a->path, &st) != 0)
        return 102;
    printf("attempt %lld\n", (long long)st.st_size);
    fflush(stdout);
    if (a->need < 0 || st.st_size <= a->need)
        return 1;
    return 0;
}

static off_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : -1;
}

Test(pool, retries_counted_with_a_counter_file, .timeout = 60)
{
    char *dir = temp_dir();
    lp_pool *p = pool_new((lp_pool_opts){.workers = 2, .retries = 2});
    struct attempt_file once = {.need = 1}, always = {.need = -1};
    snprintf(once.path, sizeof once.path, "%s/once", dir);
    snprintf(always.path, sizeof always.path, "%s/always", dir);
    lp_spawn_opts o = {.out = LP_PIPE};
    lp_future *f1, *f2;
    cr_assert_eq(lp_pool_submit_call(p, attempt_job, &once, &o, NULL, &f1), 0);
    cr_assert_eq(lp_pool_submit_call(p, attempt_job, &always, &o, NULL, &f2), 0);
    const lp_result *r = wait_res(f1);
    cr_assert_eq(r->attempts, 2, "fails once then succeeds: %d attempts", r->attempts);
    cr_assert_eq(r->rc, 0);
    cr_assert_eq(lp_future_error(f1), 0);
    cr_assert_str_eq(r->out.data, "attempt 2\n");
    cr_assert_eq(file_size(once.path), 2);
    r = wait_res(f2);
    cr_assert_eq(r->attempts, 3);
    cr_assert_eq(r->rc, 1);
    cr_assert_eq(lp_future_error(f2), LP_ECHECK);
    cr_assert_eq(file_size(always.path), 3, "retries 2: exactly 3 runs");
    lp_pool_free(p);
    unlink(once.path);
    unlink(always.path);
    rmdir(dir);
    free(dir);
}

Test(pool, retries_after_timeouts, .timeout = 60)
{
    lp_pool *p = pool_new((lp_pool_opts){.workers = 1, .retries = 1, .job_timeout_ms = 150});
    double t0 = now_s();
    lp_future *f = submit(p, ARGV((char *)helper("lp-sleeper"), "30"));
    const lp_result *r = wait_res(f);
    cr_assert_eq(r->attempts, 2);
    cr_assert(r->timed_out);
    cr_assert_eq(lp_future_error(f), -ETIMEDOUT);
    cr_assert_geq(now_s() - t0, 0.29, "two attempts of 150 ms each");
    lp_pool_free(p);
}

/* ---- cancel ------------------------------------------------------------------------------- */

Test(pool, cancel_pending_job_never_runs, .timeout = 60)
{
    char *dir = temp_dir();
    char marker[4200];
    snprintf(marker, sizeof marker, "%s/ran", dir);
    int pp[2];
    cr_assert_eq(pipe2(pp, O_CLOEXEC), 0);
    lp_pool *p = pool_new((lp_pool_opts){.workers = 1, .retries = 2});
    lp_spawn_opts blk = {.argv = ARGV((char *)helper("lp-reader")), .in = LP_FD(pp[0]), .out = LP_PIPE};
    lp_future *blocker, *victim, *after;
    cr_assert_eq(lp_pool_submit(p, &blk, NULL, &blocker), 0);
    /* the job would create `marker` (its stdout) if it ever started */
    lp_spawn_opts v = {.argv = ARGV((char *)helper("lp-exit"), "-p", "ran", "0"),
                       .out = LP_PATH(marker, O_WRONLY | O_CREAT | O_TRUNC)};
    cr_assert_eq(lp_pool_submit(p, &v, NULL, &victim), 0);
    after = submit(p, ARGV((char *)helper("lp-exit"), "-p", "after", "0"));
    cr_assert_eq(lp_future_wait(blocker, 50), -ETIMEDOUT);
    cr_assert_null(lp_future_result(victim));
    cr_assert_eq(lp_future_cancel(victim), 0);
    const lp_result *r = lp_future_result(victim);
    cr_assert(r, "a cancelled pending job has ended");
    cr_assert_eq(r->attempts, 0);
    cr_assert_eq(lp_future_error(victim), -ECANCELED);
    cr_assert_eq(lp_future_slot(victim), 0, "it never ran in a slot");
    cr_assert_eq(lp_future_wait(victim, 0), 0);
    cr_assert_eq(lp_future_cancel(victim), -EALREADY);
    close(pp[1]);
    r = wait_res(after);
    cr_assert_str_eq(r->out.data, "after\n", "the job after the cancelled one runs");
    cr_assert_eq(lp_future_error(blocker), 0);
    cr_assert_eq(lp_future_cancel(blocker), -EALREADY);
    cr_assert_eq(lp_pool_shutdown(p, true, false), 0);
    cr_assert(!exists(marker), "the cancelled job ran");
    lp_pool_free(p);
    close(pp[0]);
    rmdir(dir);
    free(dir);
}

struct running_job {
    _Atomic int ready;
    _Atomic int grandchild;
};

/* Starts a grandchild in the job's process group, prints, says ready, waits to be killed. */
static int running_job_fn(void *arg)
{
    struct running_job *s = arg;
    pid_t gc = fork();
    if (gc == 0) {
        for (;;)
            pause();
    }
    atomic_store(&s->grandchild, (int)gc);
    static const char msg[] = "partial\n";
    if (write(1, msg, sizeof msg - 1) != (ssize_t)(sizeof msg - 1))
        return 3;
    atomic_store(&s->ready, 1);
    for (;;)
        pause();
}

Test(pool, cancel_running_job_stops_its_group_no_retry, .timeout = 60)
{
    struct running_job *s = shared_mem(sizeof *s);
    lp_pool *p = pool_new((lp_pool_opts){.workers = 1, .retries = 3});
    lp_spawn_opts o = {.out = LP_PIPE};
    lp_future *f;
    cr_assert_eq(lp_pool_submit_call(p, running_job_fn, s, &o, NULL, &f), 0);
    double t0 = now_s();
    while (!atomic_load(&s->ready)) { /* drive the pool until the job is under way */
        cr_assert_eq(lp_future_wait(f, 20), -ETIMEDOUT, "the job ended by itself");
        cr_assert_lt(now_s() - t0, 30, "hang guard: the job never started");
    }
    cr_assert_eq(lp_future_cancel(f), 0);
    const lp_result *r = wait_res(f);
    cr_assert_eq(lp_future_error(f), -ECANCELED);
    cr_assert_eq(r->attempts, 1, "no retry after a cancel (%d attempts)", r->attempts);
    cr_assert_str_eq(r->out.data ? r->out.data : "", "partial\n", "output read so far is kept");
    cr_assert_eq(r->rc, -SIGKILL);
    pid_t gc = atomic_load(&s->grandchild);
    cr_assert_gt(gc, 0);
    wait_dead(gc);
    cr_assert(proc_dead(gc), "the job's grandchild %d survived the cancel", (int)gc);
    cr_assert_eq(lp_future_cancel(f), -EALREADY);
    lp_pool_free(p);
    int z;
    cr_assert_eq(count_children(&z), 0);
    munmap(s, sizeof *s);
}

/* ---- max_pending ----------------------------------------------------------------------------- */

struct submitter {
    lp_pool *p;
    char *const *argv;
    lp_future *f;
    int err;
    _Atomic int returned;
};

static void *submit_thread(void *arg)
{
    struct submitter *s = arg;
    lp_spawn_opts o = {.argv = s->argv, .out = LP_PIPE};
    s->err = lp_pool_submit(s->p, &o, NULL, &s->f);
    atomic_store(&s->returned, 1);
    return NULL;
}

Test(pool, max_pending_blocks_submit_until_space_frees, .timeout = 60)
{
    int pp[2];
    cr_assert_eq(pipe2(pp, O_CLOEXEC), 0);
    lp_pool *p = pool_new((lp_pool_opts){.workers = 1, .max_pending = 1});
    lp_spawn_opts blk = {.argv = ARGV((char *)helper("lp-reader")), .in = LP_FD(pp[0]), .out = LP_PIPE};
    lp_future *blocker;
    cr_assert_eq(lp_pool_submit(p, &blk, NULL, &blocker), 0);
    lp_future *second = submit(p, ARGV((char *)helper("lp-exit"), "-p", "second", "0"));
    cr_assert_eq(lp_future_wait(blocker, 100), -ETIMEDOUT);
    size_t pending, running, done;
    lp_pool_stats(p, &pending, &running, &done);
    cr_assert_eq(running, 1);
    cr_assert_eq(pending, 1);

    struct submitter s = {.p = p, .argv = ARGV((char *)helper("lp-exit"), "-p", "third", "0")};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, submit_thread, &s), 0);
    /* it must block while one job waits (we keep the blocker running meanwhile) */
    cr_assert_eq(lp_future_wait(blocker, 300), -ETIMEDOUT);
    cr_assert_eq(atomic_load(&s.returned), 0, "lp_pool_submit did not block at max_pending");
    lp_pool_stats(p, &pending, &running, &done);
    cr_assert_leq(pending, 1, "%zu jobs pending with max_pending 1", pending);
    close(pp[1]); /* the blocker ends; `second` starts; the submit can return */
    cr_assert_eq(pthread_join(t, NULL), 0);
    cr_assert_eq(s.err, 0, "blocked submit: %s", lp_strerror(s.err));
    cr_assert(s.f);
    cr_assert_str_eq(wait_res(second)->out.data, "second\n");
    cr_assert_str_eq(wait_res(s.f)->out.data, "third\n");
    cr_assert_eq(lp_future_seq(s.f), 3);
    lp_pool_free(p);
    close(pp[0]);
}

/* ---- shutdown ------------------------------------------------------------------------------- */

static int return_arg(void *arg)
{
    return (int)(intptr_t)arg;
}

Test(pool, shutdown_wait_then_submit_is_epipe, .timeout = 60)
{
    lp_pool *p = pool_new((lp_pool_opts){.workers = 2});
    lp_future *f[6];
    for (int i = 0; i < 6; i++)
        f[i] = submit(p, ARGV((char *)helper("lp-sleeper"), "0.05"));
    cr_assert_eq(lp_pool_shutdown(p, true, false), 0);
    for (int i = 0; i < 6; i++) {
        const lp_result *r = lp_future_result(f[i]);
        cr_assert(r, "shutdown(wait) returned before job %d ended", i);
        cr_assert_eq(lp_future_error(f[i]), 0);
    }
    size_t pending, running, done;
    lp_pool_stats(p, &pending, &running, &done);
    cr_assert_eq(done, 6);
    lp_future *g = (lp_future *)&g;
    lp_spawn_opts o = {.argv = ARGV((char *)helper("lp-exit"), "0")};
    cr_assert_eq(lp_pool_submit(p, &o, NULL, &g), -EPIPE);
    cr_assert_eq(lp_pool_submit_call(p, return_arg, NULL, NULL, NULL, &g), -EPIPE);
    /* the finished jobs can still be collected */
    int n = 0;
    while (lp_pool_next(p, 0, &g) == 0)
        n++;
    cr_assert_eq(n, 6);
    cr_assert_eq(lp_pool_shutdown(p, true, false), 0, "a second shutdown is harmless");
    lp_pool_free(p);
}

Test(pool, shutdown_cancel_pending, .timeout = 60)
{
    char *dir = temp_dir();
    int pp[2];
    cr_assert_eq(pipe2(pp, O_CLOEXEC), 0);
    lp_pool *p = pool_new((lp_pool_opts){.workers = 1});
    lp_spawn_opts blk = {.argv = ARGV((char *)helper("lp-reader")), .in = LP_FD(pp[0]), .out = LP_PIPE};
    lp_future *blocker, *pend[3];
    char path[3][4200];
    cr_assert_eq(lp_pool_submit(p, &blk, NULL, &blocker), 0);
    for (int i = 0; i < 3; i++) {
        snprintf(path[i], sizeof path[i], "%s/ran%d", dir, i);
        lp_spawn_opts v = {.argv = ARGV((char *)helper("lp-exit"), "0"),
                           .out = LP_PATH(path[i], O_WRONLY | O_CREAT | O_TRUNC)};
        cr_assert_eq(lp_pool_submit(p, &v, NULL, &pend[i]), 0);
    }
    cr_assert_eq(lp_future_wait(blocker, 50), -ETIMEDOUT);
    cr_assert_eq(lp_pool_shutdown(p, false, true), 0);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(lp_future_error(pend[i]), -ECANCELED, "pending job %d: %s", i,
                     lp_strerror(lp_future_error(pend[i])));
        cr_assert_eq(lp_future_result(pend[i])->attempts, 0);
    }
    cr_assert_null(lp_future_result(blocker), "the running job is not cancelled");
    lp_future *g;
    lp_spawn_opts o = {.argv = ARGV((char *)helper("lp-exit"), "0")};
    cr_assert_eq(lp_pool_submit(p, &o, NULL, &g), -EPIPE);
    cr_assert_eq(write(pp[1], "abc", 3), 3);
    close(pp[1]);
    const lp_result *r = wait_res(blocker);
    cr_assert_eq(lp_future_error(blocker), 0);
    cr_assert_str_eq(r->out.data, "read 3\n");
    for (int i = 0; i < 3; i++)
        cr_assert(!exists(path[i]), "cancelled job %d ran", i);
    lp_pool_free(p);
    close(pp[0]);
    rmdir(dir);
    free(dir);
}

Test(pool, shutdown_wait_and_cancel_pending, .timeout = 60)
{
    lp_pool *p = pool_new((lp_pool_opts){.workers = 1});
    lp_future *run = submit(p, ARGV((char *)helper("lp-sleeper"), "0.3", "--ready"));
    lp_future *pend = submit(p, ARGV((char *)helper("lp-exit"), "0"));
    /* drive until the first job has started */
    size_t pending, running, done;
    double t0 = now_s();
    do {
        lp_future_wait(run, 10);
        lp_pool_stats(p, &pending, &running, &done);
        cr_assert_lt(now_s() - t0, 30, "hang guard");
    } while (running == 0 && done == 0);
    cr_assert_eq(lp_pool_shutdown(p, true, true), 0);
    cr_assert(lp_future_result(run), "shutdown(wait) returned while a job ran");
    cr_assert_eq(lp_future_error(run), 0);
    cr_assert_str_eq(lp_future_result(run)->out.data, "ready\n");
    cr_assert_eq(lp_future_error(pend), -ECANCELED);
    lp_pool_free(p);
}

/* ---- callbacks ------------------------------------------------------------------------------- */

struct cb_counts {
    int success[64], error[64];
    int no_result, wrong_thread, errcode_mismatch;
    pthread_t driver;
    lp_pool *pool;
    lp_future *followup;
    int followup_err;
};

static void on_success(lp_future *f, void *ctx)
{
    struct cb_counts *c = ctx;
    uint64_t seq = lp_future_seq(f);
    if (seq < 64)
        c->success[seq]++;
    c->no_result += lp_future_result(f) == NULL;
    c->wrong_thread += !pthread_equal(pthread_self(), c->driver);
    c->errcode_mismatch += lp_future_error(f) != 0;
    if (seq == 1 && !c->followup) { /* a callback may submit */
        lp_spawn_opts o = {.argv = ARGV((char *)helper("lp-exit"), "-p", "followup", "0"),
                           .out = LP_PIPE};
        c->followup_err = lp_pool_submit(c->pool, &o, NULL, &c->followup);
    }
}

static void on_error(lp_future *f, void *ctx)
{
    struct cb_counts *c = ctx;
    uint64_t seq = lp_future_seq(f);
    if (seq < 64)
        c->error[seq]++;
    c->no_result += lp_future_result(f) == NULL;
    c->wrong_thread += !pthread_equal(pthread_self(), c->driver);
    c->errcode_mismatch += lp_future_error(f) == 0;
}

Test(pool, callbacks_once_per_job, .timeout = 60)
{
    static struct cb_counts c;
    memset(&c, 0, sizeof c);
    c.driver = pthread_self();
    int pp[2];
    cr_assert_eq(pipe2(pp, O_CLOEXEC), 0);
    lp_pool *p = pool_new((lp_pool_opts){.workers = 1, .retries = 1, .on_success = on_success,
                                         .on_error = on_error, .cb_ctx = &c});
    c.pool = p;
    lp_spawn_opts blk = {.argv = ARGV((char *)helper("lp-reader")), .in = LP_FD(pp[0]), .out = LP_PIPE};
    lp_future *f[13];
    cr_assert_eq(lp_pool_submit(p, &blk, NULL, &f[0]), 0);                           /* 1: ok */
    for (int i = 1; i <= 5; i++)                                                      /* 2-6: ok */
        f[i] = submit(p, ARGV((char *)helper("lp-exit"), "0"));
    for (int i = 6; i <= 9; i++)                                                      /* 7-10: rc 1 */
        f[i] = submit(p, ARGV((char *)helper("lp-exit"), "1"));
    f[10] = submit(p, ARGV("lp-no-such-program-xyz"));                                /* 11: start */
    lp_run_opts to = {.timeout_ms = 100};
    f[11] = submit_r(p, ARGV((char *)helper("lp-sleeper"), "30"), &to);              /* 12: timeout */
    f[12] = submit(p, ARGV((char *)helper("lp-exit"), "0"));                          /* 13: cancel */
    cr_assert_eq(lp_future_cancel(f[12]), 0);
    close(pp[1]);
    size_t n = 0;
    lp_future *g;
    int e;
    while ((e = lp_pool_next(p, HANG_MS, &g)) == 0)
        n++;
    cr_assert_eq(e, -ECHILD, "lp_pool_next: %s", lp_strerror(e));
    cr_assert_eq(c.followup_err, 0, "submit from a callback: %s", lp_strerror(c.followup_err));
    cr_assert(c.followup);
    cr_assert_eq(n, 14, "13 jobs and the follow-up, each once (%zu)", n);
    cr_assert_str_eq(lp_future_result(c.followup)->out.data, "followup\n");
    for (int seq = 1; seq <= 14; seq++) {
        bool ok = seq <= 6 || seq == 14;
        cr_assert_eq(c.success[seq], ok ? 1 : 0, "job %d: on_success called %d times", seq,
                     c.success[seq]);
        cr_assert_eq(c.error[seq], ok ? 0 : 1, "job %d: on_error called %d times", seq, c.error[seq]);
    }
    cr_assert_eq(c.no_result, 0, "a callback ran before the result was there");
    cr_assert_eq(c.wrong_thread, 0, "a callback ran on a thread not driving the pool");
    cr_assert_eq(c.errcode_mismatch, 0);
    cr_assert_eq(lp_future_result(f[7])->attempts, 2, "rc 1 with retries 1: 2 attempts");
    lp_pool_free(p);
    close(pp[0]);
}

/* ---- lp_pool_submit_call ------------------------------------------------------------------- */

struct call_arg {
    const char *text;
    int ret;
};

static int call_fn(void *arg)
{
    struct call_arg *a = arg;
    char cwd[4096];
    const char *foo = getenv("LP_POOL_TEST_FOO");
    const char *slot = getenv("LP_POOL_SLOT");
    printf("%s pid=%d cwd=%s foo=%s slot=%s\n", a->text, (int)getpid(),
           getcwd(cwd, sizeof cwd) ? cwd : "?", foo ? foo : "(unset)", slot ? slot : "(unset)");
    fflush(stdout);
    fprintf(stderr, "to stderr\n");
    fflush(stderr);
    return a->ret;
}

Test(pool, submit_call_runs_fn_in_a_child, .timeout = 60)
{
    char *dir = temp_dir();
    char real[4096];
    cr_assert(realpath(dir, real));
    lp_pool *p = pool_new((lp_pool_opts){.workers = 2});
    struct call_arg a = {.text = "hello", .ret = 0}, b = {.text = "three-hundred", .ret = 300};
    lp_spawn_opts o = {.out = LP_PIPE, .err = LP_PIPE, .cwd = dir,
                       .env_set = (char *const[]){"LP_POOL_TEST_FOO=bar", NULL}};
    lp_future *fa, *fb;
    cr_assert_eq(lp_pool_submit_call(p, call_fn, &a, &o, NULL, &fa), 0);
    cr_assert_eq(lp_pool_submit_call(p, call_fn, &b, &o, NULL, &fb), 0);
    const lp_result *r = wait_res(fa);
    cr_assert_eq(r->rc, 0);
    cr_assert_eq(lp_future_error(fa), 0);
    cr_assert_neq(r->pid, getpid());
    char want[8192];
    snprintf(want, sizeof want, "hello pid=%d cwd=%s foo=bar slot=%d\n", (int)r->pid, real,
             lp_future_slot(fa));
    cr_assert_str_eq(r->out.data, want);
    cr_assert_str_eq(r->err.data, "to stderr\n");
    cr_assert_eq(r->attempts, 1);
    r = wait_res(fb);
    cr_assert_eq(r->rc, 300 & 255);
    cr_assert_eq(lp_future_error(fb), LP_ECHECK);
    cr_assert(strncmp(r->out.data, "three-hundred pid=", 18) == 0, "%s", r->out.data);
    lp_pool_free(p);
    rmdir(dir);
    free(dir);
    int z;
    cr_assert_eq(count_children(&z), 0);
}

static int crash_fn(void *arg)
{
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    signal(SIGSEGV, SIG_DFL); /* not a sanitizer's handler */
    raise(SIGSEGV);
    return 99;
}

Test(pool, submit_call_null_opts_and_crash, .timeout = 60)
{
    lp_pool *p = pool_new((lp_pool_opts){.workers = 1});
    lp_future *f, *g;
    cr_assert_eq(lp_pool_submit_call(p, return_arg, (void *)(intptr_t)5, NULL, NULL, &f), 0);
    cr_assert_eq(lp_pool_submit_call(p, crash_fn, NULL, NULL, NULL, &g), 0);
    const lp_result *r = wait_res(f);
    cr_assert_eq(r->rc, 5);
    cr_assert_eq(r->out.len, 0, "nothing captured without LP_PIPE");
    r = wait_res(g);
    cr_assert_eq(r->rc, -SIGSEGV);
    cr_assert_eq(lp_future_error(g), LP_ECHECK, "a command job killed by a signal ran: LP_ECHECK");
    lp_pool_free(p);
}

/* ---- spilling large output -------------------------------------------------------------- */

static int maps_lines_with(const char *needle)
{
    FILE *m = fopen("/proc/self/maps", "r");
    cr_assert(m);
    char line[8192];
    int n = 0;
    while (fgets(line, sizeof line, m))
        n += strstr(line, needle) != NULL;
    fclose(m);
    return n;
}

Test(pool, spill_large_output_exact, .timeout = 120)
{
    int fds0 = count_fds();
    char *dir = temp_dir();
    lp_pool *p = pool_new((lp_pool_opts){.workers = 2, .spill_bytes = 64 << 10, .spill_dir = dir});
    lp_future *big = submit(p, ARGV((char *)helper("lp-writer"), "10M", "1M"));
    lp_future *big2 = submit(p, ARGV((char *)helper("lp-writer"), "3M", "0"));
    lp_future *small = submit(p, ARGV((char *)helper("lp-writer"), "1000", "10"));
    const lp_result *r = wait_res(big);
    cr_assert_eq(r->rc, 0);
    check_pattern(&r->out, 'a', 10 << 20);
    check_pattern(&r->err, 'A', 1 << 20);
    cr_assert_eq(r->out.data[r->out.len], 0, "NUL-terminated past len");
    r = wait_res(big2);
    check_pattern(&r->out, 'a', 3 << 20);
    cr_assert_eq(r->err.len, 0);
    r = wait_res(small);
    check_pattern(&r->out, 'a', 1000);
    check_pattern(&r->err, 'A', 10);
    cr_assert_eq(dir_entries(dir), 0, "spill files are unlinked");
    cr_assert_gt(maps_lines_with(dir), 0, "10 MiB over spill_bytes 64 KiB: no spill file mapped");
    lp_pool_free(p);
    cr_assert_eq(maps_lines_with(dir), 0, "a spill mapping outlived lp_pool_free");
    cr_assert_eq(count_fds(), fds0);
    rmdir(dir);
    free(dir);
}

Test(pool, never_spill_keeps_output_in_memory, .timeout = 60)
{
    char *dir = temp_dir();
    lp_pool *p = pool_new((lp_pool_opts){.workers = 1, .spill_bytes = SIZE_MAX, .spill_dir = dir});
    lp_future *big = submit(p, ARGV((char *)helper("lp-writer"), "6M", "0"));
    const lp_result *r = wait_res(big);
    check_pattern(&r->out, 'a', 6 << 20);
    cr_assert_eq(maps_lines_with(dir), 0, "spill_bytes SIZE_MAX: never spill");
    lp_pool_free(p);
    rmdir(dir);
    free(dir);
}

/* ---- start failures ---------------------------------------------------------------------- */

Test(pool, program_not_found_and_bad_cwd, .timeout = 60)
{
    lp_pool *p = pool_new((lp_pool_opts){.workers = 2});
    lp_future *f = submit(p, ARGV("lp-no-such-program-xyz"));
    lp_spawn_opts o = {.argv = ARGV((char *)helper("lp-exit"), "0"), .cwd = "/nonexistent-lp-dir"};
    lp_future *g;
    cr_assert_eq(lp_pool_submit(p, &o, NULL, &g), 0, "a job that cannot start is still queued");
    lp_future *ok = submit(p, ARGV((char *)helper("lp-exit"), "0"));
    cr_assert_eq(lp_future_wait(f, HANG_MS), 0);
    cr_assert_eq(lp_future_error(f), -ENOENT);
    cr_assert(strstr(lp_future_errmsg(f), "lp-no-such-program-xyz"), "errmsg '%s'",
              lp_future_errmsg(f));
    cr_assert(lp_future_result(f), "a job that failed to start has ended");
    cr_assert_eq(lp_future_wait(g, HANG_MS), 0);
    cr_assert_eq(lp_future_error(g), -ENOENT);
    cr_assert(strstr(lp_future_errmsg(g), "nonexistent-lp-dir"), "errmsg '%s'", lp_future_errmsg(g));
    wait_res(ok);
    cr_assert_eq(lp_future_error(ok), 0, "%s", lp_future_errmsg(ok));
    lp_pool_free(p);
    int z;
    cr_assert_eq(count_children(&z), 0);
}

/* ---- nothing left behind ----------------------------------------------------------------- */

Test(pool, no_fd_leak_no_zombie, .timeout = 120)
{
    int fds0 = count_fds();
    char *dir = temp_dir();
    for (int round = 0; round < 3; round++) {
        lp_pool *p = pool_new((lp_pool_opts){.workers = 3, .job_timeout_ms = 200,
                                             .spill_bytes = 4096, .spill_dir = dir});
        for (int i = 0; i < 10; i++)
            submit(p, ARGV((char *)helper("lp-writer"), "100K", "1K"));
        submit(p, ARGV((char *)helper("lp-forker"), "30"));          /* times out */
        submit(p, ARGV("lp-no-such-program-xyz"));                   /* cannot start */
        lp_future *c = submit(p, ARGV((char *)helper("lp-exit"), "0"));
        lp_future_cancel(c);
        lp_future *g;
        for (int i = 0; i < 13; i++)
            cr_assert_eq(lp_pool_next(p, HANG_MS, &g), 0);
        cr_assert_eq(lp_pool_next(p, 0, &g), -ECHILD);
        /* freed with jobs running and pending */
        for (int i = 0; i < 5; i++)
            submit(p, ARGV((char *)helper("lp-sleeper"), "30"));
        cr_assert_eq(lp_pool_next(p, 100, &g), -ETIMEDOUT);
        double t0 = now_s();
        lp_pool_free(p);
        cr_assert_lt(now_s() - t0, 10, "lp_pool_free waited for running jobs");
        int z;
        cr_assert_eq(count_children(&z), 0, "round %d: children left (%d zombies)", round, z);
        errno = 0;
        cr_assert_eq(waitpid(-1, NULL, WNOHANG), -1);
        cr_assert_eq(errno, ECHILD);
        cr_assert_eq(count_fds(), fds0, "round %d: descriptors leaked", round);
    }
    cr_assert_eq(dir_entries(dir), 0);
    rmdir(dir);
    free(dir);
}

/* ---- several threads at once --------------------------------------------------------- */

#define NTHREADS 4

struct thread_arg {
    lp_pool *p;
    int id, n, failures;
    char *exe;
};

static void *submitter_thread(void *arg)
{
    struct thread_arg *a = arg;
    for (int i = 0; i < a->n; i++) {
        char text[32];
        snprintf(text, sizeof text, "%d %d", a->id, i);
        lp_spawn_opts o = {.argv = ARGV(a->exe, "-p", text, "0"), .out = LP_PIPE};
        lp_future *f;
        if (lp_pool_submit(a->p, &o, NULL, &f) != 0 || !f)
            a->failures++;
    }
    return NULL;
}

Test(pool, threads_submit_while_main_drains, .timeout = 600)
{
    int per = (int)njobs(500, 50);
    lp_pool *p = pool_new((lp_pool_opts){.workers = 4});
    char *exe = strdup(helper("lp-exit"));
    struct thread_arg ta[NTHREADS];
    pthread_t t[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        ta[i] = (struct thread_arg){.p = p, .id = i, .n = per, .exe = exe};
        cr_assert_eq(pthread_create(&t[i], NULL, submitter_thread, &ta[i]), 0);
    }
    int total = NTHREADS * per;
    unsigned char *seen = calloc((size_t)total, 1);
    unsigned char *seq_seen = calloc((size_t)total + 1, 1);
    int got = 0, bad = 0;
    double t0 = now_s();
    while (got < total) {
        lp_future *f;
        int e = lp_pool_next(p, 1000, &f);
        if (e == -ECHILD || e == -ETIMEDOUT) { /* drained faster than they submit */
            cr_assert_lt(now_s() - t0, 500, "hang guard: %d of %d jobs", got, total);
            if (e == -ECHILD)
                usleep(1000);
            continue;
        }
        cr_assert_eq(e, 0, "lp_pool_next: %s", lp_strerror(e));
        const lp_result *r = lp_future_result(f);
        cr_assert(r);
        int id, i;
        if (r->rc != 0 || !r->out.data || sscanf(r->out.data, "%d %d", &id, &i) != 2 || id < 0 ||
            id >= NTHREADS || i < 0 || i >= per) {
            if (bad++ < 5)
                cr_log_error("job #%llu: rc %d error %s out '%s'", (unsigned long long)lp_future_seq(f),
                             r->rc, lp_future_errmsg(f), r->out.data ? r->out.data : "");
        } else {
            cr_assert_eq(seen[id * per + i], 0, "job %d %d returned twice", id, i);
            seen[id * per + i] = 1;
        }
        uint64_t seq = lp_future_seq(f);
        cr_assert(seq >= 1 && seq <= (uint64_t)total);
        cr_assert_eq(seq_seen[seq], 0, "seq %llu returned twice", (unsigned long long)seq);
        seq_seen[seq] = 1;
        got++;
    }
    for (int i = 0; i < NTHREADS; i++) {
        cr_assert_eq(pthread_join(t[i], NULL), 0);
        cr_assert_eq(ta[i].failures, 0, "thread %d: %d submits failed", i, ta[i].failures);
    }
    cr_assert_eq(bad, 0, "%d jobs failed or printed the wrong thing", bad);
    lp_future *f;
    cr_assert_eq(lp_pool_next(p, 0, &f), -ECHILD);
    size_t pending, running, done;
    lp_pool_stats(p, &pending, &running, &done);
    cr_assert_eq(done, (size_t)total);
    lp_pool_free(p);
    free(seen);
    free(seq_seen);
    free(exe);
}

/* ---- jobs and the threads that start them ------------------------------------------------- */

struct orphan {
    _Atomic int pid[2];
};

static int report_pid_and_wait(void *arg)
{
    _Atomic int *slot = arg;
    atomic_store(slot, (int)getpid());
    while (pause() < 0 || true)
        ;
    return 0;
}

struct starter {
    lp_pool *p;
    _Atomic int *slot;
    int err;
};

static void *start_call_job(void *arg)
{
    struct starter *s = arg;
    s->err = lp_pool_submit_call(s->p, report_pid_and_wait, s->slot, NULL, NULL, NULL);
    return NULL;
}

static lp_pool *dying_pool; /* reachable at the abrupt exit (no leak report under valgrind) */

Test(pool, jobs_started_by_the_creating_thread_die_with_the_process, .timeout = 60)
{
    /* A process with a pool exits abruptly: the jobs that the thread which created the pool
     * started are killed (PDEATHSIG).  The header says a job started while another thread
     * drives the pool does not get it; such a job is only cleaned up here, not judged. */
    struct orphan *o = shared_mem(sizeof *o);
    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (child == 0) {
        dying_pool = lp_pool_new(&(lp_pool_opts){.workers = 2});
        if (!dying_pool)
            _exit(10);
        if (lp_pool_submit_call(dying_pool, report_pid_and_wait, &o->pid[0], NULL, NULL, NULL) != 0)
            _exit(11);
        static struct starter s;
        s = (struct starter){.p = dying_pool, .slot = &o->pid[1]};
        pthread_t t;
        if (pthread_create(&t, NULL, start_call_job, &s) != 0 || pthread_join(t, NULL) != 0 || s.err)
            _exit(12);
        lp_future *g;
        for (int i = 0; i < 1000 && !(atomic_load(&o->pid[0]) && atomic_load(&o->pid[1])); i++)
            lp_pool_next(dying_pool, 10, &g);
        _exit(0);
    }
    int st;
    cr_assert_eq(waitpid(child, &st, 0), child);
    pid_t a = atomic_load(&o->pid[0]), b = atomic_load(&o->pid[1]);
    if (b > 0 && !proc_dead(b))
        kill(b, SIGKILL);
    bool a_dead = true;
    if (a > 0) {
        wait_dead(a);
        if (!(a_dead = proc_dead(a)))
            kill(a, SIGKILL);
    }
    cr_assert(a > 0 && b > 0, "the pool's process did not start both jobs (status %d)", st);
    cr_assert(a_dead, "a job started by the pool's creating thread outlived the process");
    munmap(o, sizeof *o);
}

/* ---- lp_future_release, lp_set_wait_interrupt ------------------------------------------- */

Test(pool, future_release, .timeout = 60)
{
    int pp[2];
    cr_assert_eq(pipe2(pp, O_CLOEXEC), 0);
    lp_pool *p = pool_new((lp_pool_opts){.workers = 2});
    lp_future *one = submit(p, ARGV((char *)helper("lp-exit"), "-p", "one", "0"));
    lp_spawn_opts o = {.argv = ARGV((char *)helper("lp-reader")), .in = LP_FD(pp[0]), .out = LP_PIPE};
    lp_future *run;
    cr_assert_eq(lp_pool_submit(p, &o, NULL, &run), 0);
    cr_assert_str_eq(wait_res(one)->out.data, "one\n");
    cr_assert_eq(lp_future_release(run), -EBUSY, "a running job cannot be released");
    /* ended, waited for, never returned by lp_pool_next: released, it is not returned later */
    cr_assert_eq(lp_future_release(one), 0);
    close(pp[1]);
    lp_future *g;
    cr_assert_eq(lp_pool_next(p, HANG_MS, &g), 0);
    cr_assert_eq(g, run, "lp_pool_next returned a released future");
    cr_assert_eq(lp_pool_next(p, 0, &g), -ECHILD);
    cr_assert_str_eq(lp_future_result(run)->out.data, "read 0\n");
    cr_assert_eq(lp_future_release(run), 0);
    /* a long-lived pool: release as they complete */
    int n = (int)njobs(300, 30);
    for (int i = 0; i < n; i++)
        submit(p, ARGV((char *)helper("lp-exit"), "-p", "x", "0"));
    for (int i = 0; i < n; i++) {
        cr_assert_eq(lp_pool_next(p, HANG_MS, &g), 0);
        cr_assert_str_eq(lp_future_result(g)->out.data, "x\n");
        cr_assert_eq(lp_future_release(g), 0);
    }
    cr_assert_eq(lp_pool_next(p, 0, &g), -ECHILD);
    lp_pool_free(p);
    close(pp[0]);
}

Test(pool, wait_interrupt_descriptor_stops_waits_not_jobs, .timeout = 60)
{
    int job[2], intr[2];
    cr_assert_eq(pipe2(job, O_CLOEXEC), 0);
    cr_assert_eq(pipe2(intr, O_CLOEXEC), 0);
    lp_pool *p = pool_new((lp_pool_opts){.workers = 1});
    lp_spawn_opts o = {.argv = ARGV((char *)helper("lp-reader")), .in = LP_FD(job[0]), .out = LP_PIPE};
    lp_future *f, *pend;
    cr_assert_eq(lp_pool_submit(p, &o, NULL, &f), 0);
    pend = submit(p, ARGV((char *)helper("lp-exit"), "-p", "later", "0"));
    lp_set_wait_interrupt(intr[0]);
    cr_assert_eq(write(intr[1], "!", 1), 1);
    double t0 = now_s();
    cr_assert_eq(lp_future_wait(f, HANG_MS), -EINTR);
    cr_assert_eq(lp_pool_next(p, HANG_MS, &(lp_future *){NULL}), -EINTR);
    cr_assert_eq(lp_pool_shutdown(p, true, false), -EINTR);
    cr_assert_lt(now_s() - t0, 10, "the interrupt was not seen at once");
    cr_assert_null(lp_future_result(f), "the job goes on running");
    cr_assert_eq(lp_future_error(pend), -EAGAIN, "the pending job was not cancelled");
    lp_set_wait_interrupt(-1);
    cr_assert_eq(write(job[1], "ab", 2), 2);
    close(job[1]);
    const lp_result *r = wait_res(f);
    cr_assert_str_eq(r->out.data, "read 2\n");
    cr_assert_str_eq(wait_res(pend)->out.data, "later\n");
    lp_pool_free(p);
    close(job[0]);
    close(intr[0]);
    close(intr[1]);
}

/* ---- pipeline jobs ------------------------------------------------------------------------ */

static lp_pipeline *pipeline_of(char *const *a, char *const *b, bool pipefail)
{
    lp_pipeline *pl = lp_pipeline_new();
    cr_assert(pl);
    cr_assert_eq(lp_pipeline_add(pl, &(lp_spawn_opts){.argv = a}), 0);
    cr_assert_eq(lp_pipeline_add(pl, &(lp_spawn_opts){.argv = b, .out = LP_PIPE, .err = LP_PIPE}), 0);
    lp_pipeline_set_pipefail(pl, pipefail);
    return pl;
}

Test(pool, pipeline_jobs, .timeout = 60)
{
    lp_pool *p = pool_new((lp_pool_opts){.workers = 2, .retries = 1});
    lp_future *f[4];
    /* output of the last stage, input to the first; the caller frees pl at once */
    lp_pipeline *pl = pipeline_of(ARGV((char *)helper("lp-writer"), "100K", "0"),
                                  ARGV((char *)helper("lp-echo")), false);
    cr_assert_eq(lp_pool_submit_pipeline(p, pl, NULL, &f[0]), 0);
    lp_pipeline_free(pl);
    pl = pipeline_of(ARGV((char *)helper("lp-echo")), ARGV((char *)helper("lp-reader")), false);
    lp_run_opts in = {.input = "12345", .input_len = 5};
    cr_assert_eq(lp_pool_submit_pipeline(p, pl, &in, &f[1]), 0);
    lp_pipeline_free(pl);
    /* pipefail, retried: every attempt starts a fresh copy */
    pl = pipeline_of(ARGV((char *)helper("lp-exit"), "3"), ARGV((char *)helper("lp-echo")), true);
    cr_assert_eq(lp_pool_submit_pipeline(p, pl, NULL, &f[2]), 0);
    lp_pipeline_free(pl);
    pl = pipeline_of(ARGV((char *)helper("lp-exit"), "3"), ARGV((char *)helper("lp-echo")), false);
    cr_assert_eq(lp_pool_submit_pipeline(p, pl, NULL, &f[3]), 0);

    const lp_result *r = wait_res(f[0]);
    cr_assert_eq(r->rc, 0, "%s", lp_future_errmsg(f[0]));
    check_pattern(&r->out, 'a', 100 << 10);
    r = wait_res(f[1]);
    cr_assert_str_eq(r->out.data, "read 5\n");
    r = wait_res(f[2]);
    cr_assert_eq(r->rc, 3, "pipefail: the failing stage's rc");
    cr_assert_eq(r->attempts, 2);
    cr_assert_eq(lp_future_error(f[2]), LP_ECHECK);
    r = wait_res(f[3]);
    cr_assert_eq(r->rc, 0, "without pipefail: the last stage's rc");
    cr_assert_eq(r->attempts, 1);
    /* a started pipeline is refused */
    cr_assert_eq(lp_pipeline_start(pl), 0);
    lp_future *g;
    cr_assert_eq(lp_pool_submit_pipeline(p, pl, NULL, &g), -EBUSY);
    int rc;
    cr_assert_eq(lp_pipeline_wait(pl, HANG_MS, &rc), 0);
    lp_pipeline_free(pl);
    lp_pool_free(p);
    int z;
    cr_assert_eq(count_children(&z), 0);
}

Test(pool, pipeline_job_timeout_stops_its_group, .timeout = 60)
{
    lp_pool *p = pool_new((lp_pool_opts){.workers = 1, .job_timeout_ms = 300});
    lp_pipeline *pl = pipeline_of(ARGV((char *)helper("lp-forker"), "30"),
                                  ARGV((char *)helper("lp-echo")), false);
    lp_future *f;
    cr_assert_eq(lp_pool_submit_pipeline(p, pl, NULL, &f), 0);
    lp_pipeline_free(pl);
    double t0 = now_s();
    const lp_result *r = wait_res(f);
    cr_assert_lt(now_s() - t0, 10);
    cr_assert(r->timed_out);
    cr_assert_eq(lp_future_error(f), -ETIMEDOUT);
    int gc = 0;
    cr_assert(r->out.data && sscanf(r->out.data, "GRANDCHILD %d", &gc) == 1,
              "output before the timeout lost: '%s'", r->out.data ? r->out.data : "(null)");
    wait_dead(gc);
    cr_assert(proc_dead(gc), "a grandchild of the first stage survived the timeout");
    lp_pool_free(p);
}

/* ---- own_thread --------------------------------------------------------------------------- */

struct own {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int ended, on_main;
    pthread_t main;
};

static void own_cb(lp_future *f, void *ctx)
{
    struct own *o = ctx;
    pthread_mutex_lock(&o->mu);
    o->ended++;
    o->on_main += pthread_equal(pthread_self(), o->main) != 0;
    pthread_cond_broadcast(&o->cv);
    pthread_mutex_unlock(&o->mu);
}

Test(pool, own_thread_runs_jobs_and_callbacks_without_waiters, .timeout = 60)
{
    static struct own o = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    o.main = pthread_self();
    lp_pool *p = pool_new((lp_pool_opts){.workers = 2, .own_thread = true, .on_success = own_cb,
                                         .on_error = own_cb, .cb_ctx = &o});
    lp_future *f[6];
    for (int i = 0; i < 5; i++)
        f[i] = submit(p, ARGV((char *)helper("lp-exit"), "-p", "own", "0"));
    f[5] = submit(p, ARGV((char *)helper("lp-exit"), "1"));
    /* nobody waits on the pool: the callbacks arrive by themselves */
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 30;
    pthread_mutex_lock(&o.mu);
    while (o.ended < 6 && pthread_cond_timedwait(&o.cv, &o.mu, &until) == 0)
        ;
    int ended = o.ended, on_main = o.on_main;
    pthread_mutex_unlock(&o.mu);
    cr_assert_eq(ended, 6, "%d of 6 callbacks without a waiter", ended);
    cr_assert_eq(on_main, 0, "callbacks ran on the caller's thread, not the pool's");
    for (int i = 0; i < 5; i++)
        cr_assert_str_eq(lp_future_result(f[i])->out.data, "own\n");
    cr_assert_eq(lp_future_error(f[5]), LP_ECHECK);
    /* waiting still works */
    lp_future *g = submit(p, ARGV((char *)helper("lp-exit"), "-p", "waited", "0"));
    cr_assert_str_eq(wait_res(g)->out.data, "waited\n");
    lp_future *h;
    int n = 0;
    while (lp_pool_next(p, 0, &h) == 0)
        n++;
    cr_assert_eq(n, 7);
    lp_pool_free(p);
    int z;
    cr_assert_eq(count_children(&z), 0);
}
