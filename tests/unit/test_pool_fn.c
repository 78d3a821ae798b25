/* Function pools (lp_pool_new_fn, lp_pool_submit_fn, lp_pool_map_fn): futures, map order and
 * outputs with every batch size, a crashing task that fails alone while its worker is
 * replaced, max_tasks_per_worker, the initializer (once per worker, and failing), per-task
 * timeouts that kill the worker, retries, cancel, shutdown, large results, and nothing left
 * behind.
 *
 * One task function serves every test; its input is a small command (see task_fn).  It runs
 * in the pool's worker processes, forked from the test: it never asserts, it answers. */
#include "testutil.h"

#include <dirent.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define HANG_MS 60000 /* a hang guard on waits, never expected to expire */

/* A count of items: LP_POOL_ITEMS overrides, else `normal`, or `valgrind` under valgrind. */
static size_t nitems(size_t normal, size_t valgrind)
{
    return test_count("LP_POOL_ITEMS", normal, valgrind);
}

/* ---- what runs in the workers ------------------------------------------------------------- */

static int init_calls;   /* set by the initializer, in each worker */
static long init_value;  /* the init_arg it was given */
static int tasks_done;   /* tasks run by this worker */

static int initializer(void *arg)
{
    init_calls++;
    init_value = arg ? *(const long *)arg : -1;
    return 0;
}

static int failing_initializer(void *arg)
{
    return 1;
}

static _Noreturn void die_by(int sig)
{
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    signal(sig, SIG_DFL); /* not a sanitizer's handler */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    raise(sig);
    _exit(99);
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Descriptors at or above the soft RLIMIT_NOFILE are not the program's: valgrind keeps its
 * own there (a pipe and the vgdb FIFO of each process) and lowers the limit the client sees. */
static bool above_limit(int fd)
{
    struct rlimit rl;
    return getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
           (rlim_t)fd >= rl.rlim_cur;
}

static bool is(const char *in, size_t n, const char *cmd)
{
    size_t k = strlen(cmd);
    return n >= k && memcmp(in, cmd, k) == 0;
}

/* The argument after "cmd:" as a NUL-terminated string (static storage). */
static const char *arg_of(const char *in, size_t n, const char *cmd)
{
    static char buf[4096];
    size_t k = strlen(cmd);
    size_t m = n - k < sizeof buf - 1 ? n - k : sizeof buf - 1;
    memcpy(buf, in + k, m);
    buf[m] = 0;
    return buf;
}

static int appendf(lp_buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int appendf(lp_buf *out, const char *fmt, ...)
{
    char s[512];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(s, sizeof s, fmt, ap);
    va_end(ap);
    return lp_buf_append(out, s, (size_t)k) == 0 ? 0 : 100;
}

/* Commands:
 *   decimal N       output N*N in decimal, rc N % 4
 *   "echo:TEXT"     output TEXT, rc 0
 *   "rc:N"          no output, rc N
 *   "pid"           output the worker's pid
 *   "init"          output "init=<initializer calls> arg=<init_arg> tasks=<tasks before>"
 *   "segv", "abort" die by SIGSEGV / SIGABRT
 *   "crash-once:PATH"  die by SIGSEGV if PATH could be created, else output "survived"
 *   "touch:PATH"    create PATH, output "touched"
 *   "fds"           output "FD TARGET" per open descriptor
 *   "loop"          never return
 *   "big:N"         output N bytes of the 'a'.. pattern
 *   a first byte 0  output the input reversed (binary data)
 *   empty input     output "empty" */
static int task_fn(const void *in_, size_t n, lp_buf *out)
{
    const char *in = in_;
    tasks_done++;
    if (n == 0)
        return appendf(out, "empty");
    if (in[0] >= '0' && in[0] <= '9') {
        unsigned long long v = strtoull(arg_of(in, n, ""), NULL, 10);
        if (appendf(out, "%llu", v * v))
            return 100;
        return (int)(v % 4);
    }
    if (in[0] == 0) {
        for (size_t i = n; i-- > 0;)
            if (lp_buf_append(out, in + i, 1))
                return 100;
        return 0;
    }
    if (is(in, n, "echo:"))
        return lp_buf_append(out, in + 5, n - 5) == 0 ? 0 : 100;
    if (is(in, n, "rc:"))
        return atoi(arg_of(in, n, "rc:"));
    if (is(in, n, "pid"))
        return appendf(out, "%d", (int)getpid());
    if (is(in, n, "init"))
        return appendf(out, "init=%d arg=%ld tasks=%d", init_calls, init_value, tasks_done - 1);
    if (is(in, n, "segv"))
        die_by(SIGSEGV);
    if (is(in, n, "abort"))
        die_by(SIGABRT);
    if (is(in, n, "crash-once:")) {
        int fd = open(arg_of(in, n, "crash-once:"), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0)
            die_by(SIGSEGV);
        return appendf(out, "survived");
    }
    if (is(in, n, "touch:")) {
        int fd = open(arg_of(in, n, "touch:"), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0)
            return 100;
        close(fd);
        return appendf(out, "touched");
    }
    if (is(in, n, "fds")) { /* the targets of its descriptors, one a line */
        DIR *d = opendir("/proc/self/fd");
        if (!d)
            return 100;
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d) || above_limit(atoi(e->d_name)))
                continue;
            char path[300], target[512];
            snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
            ssize_t m = readlink(path, target, sizeof target - 1);
            if (m < 0)
                continue;
            target[m] = 0;
            if (appendf(out, "%s %s\n", e->d_name, target))
                return 100;
        }
        closedir(d);
        return 0;
    }
    if (is(in, n, "loop"))
        for (;;)
            pause();
    if (is(in, n, "big:")) {
        size_t len = strtoul(arg_of(in, n, "big:"), NULL, 10);
        for (size_t i = 0; i < len; i++) {
            char c = (char)('a' + (int)(i % 26));
            if (lp_buf_append(out, &c, 1))
                return 100;
        }
        return 0;
    }
    return 42; /* unknown command */
}

/* ---- test side ---------------------------------------------------------------------------- */

static lp_pool *fn_pool(lp_pool_opts o, int (*init)(void *))
{
    lp_pool *p = lp_pool_new_fn(&o, task_fn, init);
    cr_assert(p, "lp_pool_new_fn: %s", strerror(errno));
    return p;
}

static lp_future *task(lp_pool *p, const char *cmd)
{
    char copy[4096]; /* the pool copies the bytes: ours go at once */
    size_t n = strlen(cmd);
    cr_assert_lt(n, sizeof copy);
    memcpy(copy, cmd, n);
    lp_future *f = NULL;
    int e = lp_pool_submit_fn(p, copy, n, &f);
    memset(copy, 'X', n);
    cr_assert_eq(e, 0, "lp_pool_submit_fn '%s': %s", cmd, lp_strerror(e));
    cr_assert(f);
    return f;
}

static const lp_result *wait_res(lp_future *f)
{
    int e = lp_future_wait(f, HANG_MS);
    cr_assert_eq(e, 0, "lp_future_wait: %s", lp_strerror(e));
    const lp_result *r = lp_future_result(f);
    cr_assert(r, "an ended task has a result");
    return r;
}

/* The output of a successful task, as a string. */
static const char *ok_out(lp_future *f)
{
    const lp_result *r = wait_res(f);
    cr_assert_eq(lp_future_error(f), 0, "task failed: rc %d, %s", r->rc, lp_future_errmsg(f));
    cr_assert_eq(r->rc, 0);
    return r->out.data ? r->out.data : "";
}

static void wait_dead(pid_t pid)
{
    for (int i = 0; i < 500 && !proc_dead(pid); i++)
        usleep(20000);
    cr_assert(proc_dead(pid), "worker %d still alive", (int)pid);
}

static pid_t pid_of(lp_future *f)
{
    return (pid_t)atoi(ok_out(f));
}

/* ---- futures ----------------------------------------------------------------------------- */

Test(pool_fn, submit_fn_futures, .timeout = 60)
{
    lp_pool *p = fn_pool((lp_pool_opts){.workers = 2}, NULL);
    lp_future *f[50];
    for (int i = 0; i < 50; i++) {
        char cmd[64];
        if (i % 10 == 9)
            snprintf(cmd, sizeof cmd, "rc:%d", i);
        else
            snprintf(cmd, sizeof cmd, "echo:task %d", i);
        f[i] = task(p, cmd);
        cr_assert_eq(lp_future_seq(f[i]), (uint64_t)i + 1);
    }
    for (int i = 0; i < 50; i++) {
        const lp_result *r = wait_res(f[i]);
        if (i % 10 == 9) {
            cr_assert_eq(r->rc, i);
            cr_assert_eq(lp_future_error(f[i]), LP_ECHECK, "a task that returned non-zero");
            cr_assert_eq(r->out.len, 0);
        } else {
            char want[64];
            snprintf(want, sizeof want, "task %d", i);
            cr_assert_eq(r->rc, 0);
            cr_assert_eq(lp_future_error(f[i]), 0);
            cr_assert_eq(r->out.len, strlen(want));
            cr_assert_str_eq(r->out.data, want);
            cr_assert_str_eq(lp_future_errmsg(f[i]), "");
        }
        cr_assert_eq(r->attempts, 1);
        int slot = lp_future_slot(f[i]);
        cr_assert(slot >= 1 && slot <= 2, "slot %d", slot);
    }
    lp_pool_free(p);
}

Test(pool_fn, binary_and_empty_input, .timeout = 60)
{
    lp_pool *p = fn_pool((lp_pool_opts){.workers = 1}, NULL);
    unsigned char bin[256];
    for (int i = 0; i < 256; i++)
        bin[i] = (unsigned char)i; /* starts with a 0: reversed */
    lp_future *b, *e;
    cr_assert_eq(lp_pool_submit_fn(p, bin, sizeof bin, &b), 0);
    cr_assert_eq(lp_pool_submit_fn(p, NULL, 0, &e), 0);
    const lp_result *r = wait_res(b);
    cr_assert_eq(r->out.len, 256);
    for (int i = 0; i < 256; i++)
        cr_assert_eq((unsigned char)r->out.data[i], 255 - i, "byte %d", i);
    cr_assert_str_eq(ok_out(e), "empty");
    lp_pool_free(p);
}

Test(pool_fn, large_result_exact, .timeout = 120)
{
    lp_pool *p = fn_pool((lp_pool_opts){.workers = 2, .spill_bytes = 64 << 10}, NULL);
    size_t len = under_valgrind() ? (size_t)1 << 20 : (size_t)3 << 20;
    char cmd[64];
    snprintf(cmd, sizeof cmd, "big:%zu", len);
    lp_future *f = task(p, cmd);
    lp_future *g = task(p, "echo:after");
    const lp_result *r = wait_res(f);
    cr_assert_eq(r->rc, 0);
    cr_assert_eq(r->out.len, len);
    for (size_t i = 0; i < len; i++)
        if (r->out.data[i] != (char)('a' + (int)(i % 26)))
            cr_assert_fail("byte %zu wrong", i);
    cr_assert_str_eq(ok_out(g), "after");
    lp_pool_free(p);
}

/* ---- map --------------------------------------------------------------------------------- */

static void map_check(size_t n, size_t batch, int workers, bool with_rc)
{
    lp_pool *p = fn_pool((lp_pool_opts){.workers = workers}, NULL);
    lp_buf *in = calloc(n, sizeof *in), *out = calloc(n, sizeof *out);
    int *rc = with_rc ? calloc(n, sizeof *rc) : NULL;
    for (size_t i = 0; i < n; i++) {
        char s[32];
        int k = snprintf(s, sizeof s, "%zu", i);
        cr_assert_eq(lp_buf_append(&in[i], s, (size_t)k), 0);
    }
    if (rc)
        for (size_t i = 0; i < n; i++)
            rc[i] = -12345;
    double t0 = now_s();
    int e = lp_pool_map_fn(p, in, n, batch, out, rc);
    cr_assert_eq(e, 0, "lp_pool_map_fn: %s", lp_strerror(e));
    cr_log_info("map of %zu items, batch %zu, %d workers: %.2f s", n, batch, workers, now_s() - t0);
    for (size_t i = 0; i < n; i++) {
        char want[32];
        unsigned long long v = i;
        snprintf(want, sizeof want, "%llu", v * v);
        if (out[i].len != strlen(want) || memcmp(out[i].data, want, out[i].len) != 0)
            cr_assert_fail("item %zu: '%.*s', expected '%s'", i, (int)out[i].len,
                           out[i].data ? out[i].data : "", want);
        if (rc && rc[i] != (int)(i % 4))
            cr_assert_fail("item %zu: rc %d, expected %d", i, rc[i], (int)(i % 4));
    }
    for (size_t i = 0; i < n; i++) {
        lp_buf_free(&in[i]);
        lp_buf_free(&out[i]);
    }
    free(in);
    free(out);
    free(rc);
    lp_pool_free(p);
}

Test(pool_fn, map_order_batch_0, .timeout = 600)
{
    map_check(nitems(100000, 5000), 0, 2, true);
}

Test(pool_fn, map_order_batch_1, .timeout = 600)
{
    map_check(nitems(100000, 5000), 1, 2, true);
}

Test(pool_fn, map_order_batch_64, .timeout = 600)
{
    map_check(nitems(100000, 5000), 64, 3, true);
}

Test(pool_fn, map_rc_null_small_and_empty, .timeout = 60)
{
    map_check(1000, 7, 2, false);
    map_check(1, 0, 4, true);
    lp_pool *p = fn_pool((lp_pool_opts){.workers = 1}, NULL);
    cr_assert_eq(lp_pool_map_fn(p, NULL, 0, 0, NULL, NULL), 0, "nothing to map");
    lp_pool_free(p);
}

Test(pool_fn, map_crash_fails_only_that_item, .timeout = 120)
{
    enum { N = 100 };
    lp_pool *p = fn_pool((lp_pool_opts){.workers = 2}, NULL);
    lp_buf in[N] = {{0}}, out[N] = {{0}};
    int rc[N];
    for (int i = 0; i < N; i++) {
        char s[32];
        int k = i == 37 ? snprintf(s, sizeof s, "segv") : snprintf(s, sizeof s, "%d", i);
        cr_assert_eq(lp_buf_append(&in[i], s, (size_t)k), 0);
    }
    cr_assert_eq(lp_pool_map_fn(p, in, N, 10, out, rc), 0);
    for (int i = 0; i < N; i++) {
        if (i == 37) {
            cr_assert_eq(rc[i], -SIGSEGV, "the crashing item: rc %d", rc[i]);
            continue;
        }
        char want[32];
        snprintf(want, sizeof want, "%d", i * i);
        cr_assert_eq(rc[i], i % 4, "item %d (batch of the crash: %d): rc %d", i, i / 10 == 3, rc[i]);
        cr_assert(out[i].data && strcmp(out[i].data, want) == 0, "item %d: '%s'", i,
                  out[i].data ? out[i].data : "(null)");
    }
    for (int i = 0; i < N; i++) {
        lp_buf_free(&in[i]);
        lp_buf_free(&out[i]);
    }
    /* the pool still works */
    cr_assert_str_eq(ok_out(task(p, "echo:still")), "still");
    lp_pool_free(p);
}

/* ---- crashes, recycling, initializer ----------------------------------------------------- */

Test(pool_fn, crash_fails_only_that_task_and_worker_is_replaced, .timeout = 60)
{
    lp_pool *p = fn_pool((lp_pool_opts){.workers = 1}, NULL);
    lp_future *p1 = task(p, "pid");
    lp_future *segv = task(p, "segv");
    lp_future *p2 = task(p, "pid");
    lp_future *ab = task(p, "abort");
    lp_future *p3 = task(p, "pid");
    pid_t w1 = pid_of(p1);
    const lp_result *r = wait_res(segv);
    cr_assert_eq(r->rc, -SIGSEGV, "rc %d", r->rc);
    cr_assert_eq(lp_future_error(segv), -EOWNERDEAD);
    const char *msg = lp_future_errmsg(segv);
    cr_assert(strstr(msg, "signal 11") || strstr(msg, "SIGSEGV") || strstr(msg, "Segmentation"),
              "errmsg '%s' does not name the signal", msg);
    pid_t w2 = pid_of(p2);
    cr_assert_neq(w1, w2, "the crashed worker was not replaced");
    r = wait_res(ab);
    cr_assert_eq(r->rc, -SIGABRT, "rc %d", r->rc);
    cr_assert_eq(lp_future_error(ab), -EOWNERDEAD);
    msg = lp_future_errmsg(ab);
    cr_assert(strstr(msg, "signal 6") || strstr(msg, "SIGABRT") || strstr(msg, "Abort"),
              "errmsg '%s' does not name the signal", msg);
    pid_t w3 = pid_of(p3);
    cr_assert_neq(w3, w2);
    lp_pool_free(p);
    int z;
    cr_assert_eq(count_children(&z), 0);
}

Test(pool_fn, max_tasks_per_worker_recycles, .timeout = 120)
{
    enum { N = 100 };
    lp_pool *p = fn_pool((lp_pool_opts){.workers = 1, .max_tasks_per_worker = 10}, NULL);
    lp_future *f[N];
    for (int i = 0; i < N; i++)
        f[i] = task(p, "pid");
    pid_t pids[N];
    int distinct = 0;
    for (int i = 0; i < N; i++) {
        pids[i] = pid_of(f[i]);
        cr_assert_gt(pids[i], 0);
        bool seen = false;
        int uses = 0;
        for (int j = 0; j < i; j++) {
            seen |= pids[j] == pids[i];
            uses += pids[j] == pids[i];
        }
        cr_assert_lt(uses, 10, "worker %d ran more than 10 tasks", (int)pids[i]);
        distinct += !seen;
    }
    cr_assert_geq(distinct, 10, "%d distinct workers for 100 tasks at 10 per worker", distinct);
    lp_pool_free(p);
    int z;
    cr_assert_eq(count_children(&z), 0);
}

Test(pool_fn, initializer_runs_once_per_worker, .timeout = 60)
{
    long arg = 4242;
    lp_pool *p = fn_pool((lp_pool_opts){.workers = 2, .init_arg = &arg}, initializer);
    cr_assert_eq(init_calls, 0, "the initializer ran in the caller");
    lp_future *f[40];
    for (int i = 0; i < 40; i++)
        f[i] = task(p, "init");
    int max_tasks = 0;
    for (int i = 0; i < 40; i++) {
        const char *s = ok_out(f[i]);
        int calls, tasks;
        long a;
        cr_assert_eq(sscanf(s, "init=%d arg=%ld tasks=%d", &calls, &a, &tasks), 3, "'%s'", s);
        cr_assert_eq(calls, 1, "initializer called %d times in one worker", calls);
        cr_assert_eq(a, 4242, "init_arg");
        if (tasks > max_tasks)
            max_tasks = tasks;
    }
    cr_assert_geq(max_tasks, 19, "workers keep their state between tasks (at most %d before)",
                  max_tasks);
    lp_pool_free(p);

    /* with recycling, every new worker calls it once */
    p = fn_pool((lp_pool_opts){.workers = 1, .init_arg = &arg, .max_tasks_per_worker = 3},
                initializer);
    for (int i = 0; i < 10; i++)
        f[i] = task(p, "init");
    for (int i = 0; i < 10; i++) {
        char want[64];
        snprintf(want, sizeof want, "init=1 arg=4242 tasks=%d", i % 3);
        cr_assert_str_eq(ok_out(f[i]), want);
    }
    lp_pool_free(p);
}

Test(pool_fn, initializer_failure_fails_tasks, .timeout = 60)
{
    lp_pool_opts o = {.workers = 1};
    lp_pool *p = lp_pool_new_fn(&o, task_fn, failing_initializer);
    if (!p) { /* failing at creation is also a way to fail */
        cr_assert_neq(errno, 0);
        return;
    }
    lp_future *f = task(p, "echo:never");
    const lp_result *r = wait_res(f);
    cr_assert_neq(lp_future_error(f), 0, "a task ran on a worker whose initializer failed");
    cr_assert_eq(lp_future_error(f), -EOWNERDEAD, "'like a crash': %s",
                 lp_strerror(lp_future_error(f)));
    cr_assert_neq(lp_future_errmsg(f)[0], 0, "no errmsg");
    cr_assert(r->out.len == 0, "output '%s'", r->out.data);
    lp_pool_free(p);
    int z;
    cr_assert_eq(count_children(&z), 0);
}

/* ---- timeouts, retries, cancel ---------------------------------------------------------- */

Test(pool_fn, timeout_kills_worker_next_task_runs, .timeout = 60)
{
    lp_pool *p = fn_pool((lp_pool_opts){.workers = 1, .job_timeout_ms = 300}, NULL);
    lp_future *a = task(p, "pid");
    lp_future *loop = task(p, "loop");
    lp_future *b = task(p, "pid");
    pid_t w1 = pid_of(a);
    double t0 = now_s();
    const lp_result *r = wait_res(loop);
    double dt = now_s() - t0;
    cr_assert(r->timed_out);
    cr_assert_eq(lp_future_error(loop), -ETIMEDOUT);
    cr_assert(strstr(lp_future_errmsg(loop), "timed out"), "'%s'", lp_future_errmsg(loop));
    cr_assert_lt(dt, 10, "timeout of 300 ms took %.3f s", dt);
    cr_assert_eq(r->attempts, 1);
    pid_t w2 = pid_of(b);
    cr_assert_neq(w1, w2, "the worker that timed out was not replaced");
    wait_dead(w1);
    lp_pool_free(p);
    int z;
    cr_assert_eq(count_children(&z), 0);
}

Test(pool_fn, retries_when_worker_dies, .timeout = 60)
{
    const char *t = getenv("TMPDIR");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/lp-pool-fn.XXXXXX", t && *t ? t : "/tmp");
    cr_assert(mkdtemp(dir));
    char cmd[4400], path[4200];
    snprintf(path, sizeof path, "%s/crashed", dir);
    snprintf(cmd, sizeof cmd, "crash-once:%s", path);
    lp_pool *p = fn_pool((lp_pool_opts){.workers = 1, .retries = 2}, NULL);
    lp_future *once = task(p, cmd);
    lp_future *always = task(p, "segv");
    lp_future *rc = task(p, "rc:3");
    const lp_result *r = wait_res(once);
    cr_assert_eq(r->attempts, 2, "crashed once, then succeeded: %d attempts", r->attempts);
    cr_assert_eq(r->rc, 0);
    cr_assert_eq(lp_future_error(once), 0, "%s", lp_future_errmsg(once));
    cr_assert_str_eq(r->out.data, "survived");
    r = wait_res(always);
    cr_assert_eq(r->attempts, 3);
    cr_assert_eq(r->rc, -SIGSEGV);
    cr_assert_eq(lp_future_error(always), -EOWNERDEAD);
    r = wait_res(rc);
    cr_assert_eq(r->rc, 3);
    cr_assert_eq(r->attempts, 3, "a non-zero rc is retried as well");
    cr_assert_eq(lp_future_error(rc), LP_ECHECK);
    lp_pool_free(p);
    unlink(path);
    rmdir(dir);
}

/* Drive the pool until the "loop" task f is running (hang guard 30 s). */
static void until_running(lp_pool *p, lp_future *f)
{
    size_t pending, running, done;
    double t0 = now_s();
    do {
        cr_assert_eq(lp_future_wait(f, 10), -ETIMEDOUT, "the loop task ended");
        lp_pool_stats(p, &pending, &running, &done);
        cr_assert_lt(now_s() - t0, 30, "hang guard");
    } while (running == 0);
}

Test(pool_fn, stats_running_within_workers, .timeout = 60)
{
    lp_pool *p = fn_pool((lp_pool_opts){.workers = 1}, NULL);
    lp_future *loop = task(p, "loop");
    for (int i = 0; i < 3; i++)
        task(p, "echo:queued");
    until_running(p, loop);
    size_t pending, running, done;
    lp_pool_stats(p, &pending, &running, &done);
    cr_assert_eq(running, 1, "%zu tasks running on 1 worker", running);
    cr_assert_eq(pending, 3, "%zu tasks waiting to start behind the running one", pending);
    cr_assert_eq(done, 0);
    lp_pool_free(p);
}

Test(pool_fn, cancel_queued_task_never_runs, .timeout = 60)
{
    const char *t = getenv("TMPDIR");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/lp-pool-fn.XXXXXX", t && *t ? t : "/tmp");
    cr_assert(mkdtemp(dir));
    char cmd[4400], path[4200];
    snprintf(path, sizeof path, "%s/ran", dir);
    snprintf(cmd, sizeof cmd, "touch:%s", path);
    lp_pool *p = fn_pool((lp_pool_opts){.workers = 1}, NULL);
    lp_future *loop = task(p, "loop");
    lp_future *victim = task(p, cmd);
    until_running(p, loop);
    cr_assert_eq(lp_future_cancel(victim), 0);
    cr_assert_eq(lp_future_error(victim), -ECANCELED, "a task that had not started: %s",
                 lp_strerror(lp_future_error(victim)));
    cr_assert(lp_future_result(victim));
    cr_assert_eq(lp_future_result(victim)->attempts, 0);
    cr_assert_eq(lp_future_cancel(victim), -EALREADY);
    cr_assert_eq(lp_future_cancel(loop), 0);
    cr_assert_eq(lp_future_wait(loop, 10000), 0, "the cancelled running task did not end");
    cr_assert_str_eq(ok_out(task(p, "echo:next")), "next");
    cr_assert(!exists(path), "the cancelled task ran");
    lp_pool_free(p);
    rmdir(dir);
}

Test(pool_fn, cancel_running_task_kills_its_worker, .timeout = 60)
{
    lp_pool *p = fn_pool((lp_pool_opts){.workers = 1, .retries = 2}, NULL);
    pid_t w1 = pid_of(task(p, "pid"));
    lp_future *loop = task(p, "loop");
    until_running(p, loop);
    cr_assert_eq(lp_future_cancel(loop), 0);
    double t0 = now_s();
    int e = lp_future_wait(loop, 10000);
    double dt = now_s() - t0;
    cr_assert_eq(e, 0, "lp_future_wait after cancelling a running task: %s after %.1f s",
                 lp_strerror(e), dt);
    cr_assert_lt(dt, 5, "the cancel took %.3f s", dt);
    cr_assert_eq(lp_future_error(loop), -ECANCELED);
    cr_assert_eq(lp_future_result(loop)->attempts, 1, "no retry after a cancel");
    cr_assert_eq(lp_future_cancel(loop), -EALREADY);
    pid_t w2 = pid_of(task(p, "pid"));
    cr_assert_neq(w1, w2, "the worker of the cancelled task still runs");
    wait_dead(w1);
    lp_pool_free(p);
}

/* The targets of the test process's descriptors, one a line, each followed by '\n'. */
static char *my_fd_targets(void)
{
    lp_buf b = {0};
    DIR *d = opendir("/proc/self/fd");
    cr_assert(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d) || above_limit(atoi(e->d_name)))
            continue;
        char path[300], target[512];
        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        ssize_t m = readlink(path, target, sizeof target - 2);
        if (m < 0)
            continue;
        target[m] = '\n';
        lp_buf_append(&b, target, (size_t)m + 1);
    }
    closedir(d);
    lp_buf_append(&b, "", 0);
    return b.data ? b.data : strdup("");
}

Test(pool_fn, workers_hold_no_descriptor_of_other_workers, .timeout = 60)
{
    /* A worker needs its own socket; whatever else of the pool it inherits from the fork (the
     * pidfd, socket or exit pipe of another worker) keeps that worker's end open: with the
     * pidfd fallback (no pidfd_open: valgrind, old kernels) the pool then never sees that a
     * worker died.  Workers forked while others exist must not hold their descriptors. */
    char *base = my_fd_targets();
    lp_pool *p = fn_pool((lp_pool_opts){.workers = 3, .max_tasks_per_worker = 1}, NULL);
    lp_future *f[6];
    for (int i = 0; i < 6; i++)
        f[i] = task(p, "fds");
    for (int i = 0; i < 6; i++) {
        char *list = strdup(ok_out(f[i]));
        int extra = 0;
        char extras[2048] = "";
        for (char *line = strtok(list, "\n"); line; line = strtok(NULL, "\n")) {
            char *target = strchr(line, ' ');
            cr_assert(target);
            target++;
            char needle[600];
            snprintf(needle, sizeof needle, "%s\n", target);
            if (strstr(base, needle) == NULL) { /* not one the test process had before */
                extra++;
                size_t k = strlen(extras);
                snprintf(extras + k, sizeof extras - k, " [%s]", line);
            }
        }
        cr_assert_leq(extra, 1, "task %d: the worker holds %d pool descriptors (its socket and):%s",
                      i, extra, extras);
        free(list);
    }
    lp_pool_free(p);
    free(base);
}

/* ---- shutdown, callbacks, nothing left behind --------------------------------------------- */

Test(pool_fn, shutdown_then_submit_and_map_are_epipe, .timeout = 60)
{
    lp_pool *p = fn_pool((lp_pool_opts){.workers = 2}, NULL);
    lp_future *f[10];
    for (int i = 0; i < 10; i++)
        f[i] = task(p, "echo:x");
    cr_assert_eq(lp_pool_shutdown(p, true, false), 0);
    for (int i = 0; i < 10; i++)
        cr_assert(lp_future_result(f[i]), "task %d not ended after shutdown(wait)", i);
    lp_future *g;
    cr_assert_eq(lp_pool_submit_fn(p, "pid", 3, &g), -EPIPE);
    lp_buf in = {0}, out = {0};
    lp_buf_append(&in, "1", 1);
    cr_assert_eq(lp_pool_map_fn(p, &in, 1, 0, &out, NULL), -EPIPE);
    lp_buf_free(&in);
    lp_buf_free(&out);
    lp_pool_free(p);
}

static int successes, errors;
static void count_success(lp_future *f, void *ctx)
{
    successes += ctx == &successes;
}
static void count_error(lp_future *f, void *ctx)
{
    errors += ctx == &successes;
}

Test(pool_fn, callbacks_once_per_task, .timeout = 60)
{
    lp_pool *p = fn_pool((lp_pool_opts){.workers = 2, .retries = 1, .on_success = count_success,
                                        .on_error = count_error, .cb_ctx = &successes},
                         NULL);
    for (int i = 0; i < 10; i++)
        task(p, "echo:y");
    task(p, "segv");
    task(p, "rc:1");
    cr_assert_eq(lp_pool_shutdown(p, true, false), 0);
    cr_assert_eq(successes, 10);
    cr_assert_eq(errors, 2, "on_error once per failed task, after its last attempt");
    lp_pool_free(p);
}

Test(pool_fn, no_fd_leak_no_zombie, .timeout = 120)
{
    int fds0 = count_fds();
    for (int round = 0; round < 3; round++) {
        lp_pool *p = fn_pool((lp_pool_opts){.workers = 3, .job_timeout_ms = 200,
                                            .max_tasks_per_worker = 4},
                             NULL);
        for (int i = 0; i < 20; i++)
            task(p, "echo:z");
        task(p, "segv");
        task(p, "loop");
        lp_future *g;
        for (int i = 0; i < 22; i++)
            cr_assert_eq(lp_pool_next(p, HANG_MS, &g), 0);
        cr_assert_eq(lp_pool_next(p, 0, &g), -ECHILD);
        task(p, "loop"); /* freed while a task runs */
        task(p, "echo:pending");
        lp_pool_free(p);
        int z;
        cr_assert_eq(count_children(&z), 0, "round %d: children left (%d zombies)", round, z);
        errno = 0;
        cr_assert_eq(waitpid(-1, NULL, WNOHANG), -1);
        cr_assert_eq(errno, ECHILD);
        cr_assert_eq(count_fds(), fds0, "round %d: descriptors leaked", round);
    }
}
