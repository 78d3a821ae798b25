/* lp_run: capture, input, check, timeouts that stop the whole tree and return on time,
 * output caps, containment modes, no leaks over many runs. */
#include "testutil.h"

#include <signal.h>
#include <sys/stat.h>

#define ARGV(...) ((char *const[]){__VA_ARGS__, NULL})

Test(run, capture_both_and_usage)
{
    lp_spawn_opts o = {.argv = ARGV((char *)helper("lp-writer"), "100000", "50000"), .out = LP_PIPE,
                       .err = LP_PIPE};
    lp_result res;
    cr_assert_eq(lp_run(&o, NULL, &res), 0);
    cr_assert_eq(res.rc, 0);
    cr_assert(!res.timed_out);
    cr_assert(!res.truncated);
    cr_assert_eq(res.out.len, 100000);
    cr_assert_eq(res.err.len, 50000);
    cr_assert_eq(res.out.data[25], 'z');
    cr_assert_eq(res.err.data[26], 'A');
    cr_assert_gt(res.usage.wall_s, 0);
    cr_assert_gt(res.usage.max_rss_kb, 0);
    cr_assert_gt(res.pid, 0);
    lp_result_free(&res);
}

Test(run, input_implies_stdin_pipe)
{
    char data[12345];
    memset(data, 'x', sizeof data);
    lp_spawn_opts o = {.argv = ARGV((char *)helper("lp-reader")), .out = LP_PIPE};
    lp_run_opts r = {.input = data, .input_len = sizeof data};
    lp_result res;
    cr_assert_eq(lp_run(&o, &r, &res), 0);
    cr_assert_str_eq(res.out.data, "read 12345\n");
    lp_result_free(&res);
}

Test(run, check_nonzero)
{
    lp_spawn_opts o = {.argv = ARGV((char *)helper("lp-exit"), "-p", "partial", "3"), .out = LP_PIPE};
    lp_run_opts r = {.check = true};
    lp_result res;
    cr_assert_eq(lp_run(&o, &r, &res), LP_ECHECK);
    cr_assert_eq(res.rc, 3);
    cr_assert_str_eq(res.out.data, "partial\n");
    lp_result_free(&res);
    o.argv = ARGV((char *)helper("lp-exit"), "-s", "15");
    cr_assert_eq(lp_run(&o, &r, &res), LP_ECHECK);
    cr_assert_eq(res.rc, -15);
    lp_result_free(&res);
    r.check = false;
    cr_assert_eq(lp_run(&o, &r, &res), 0);
    lp_result_free(&res);
}

Test(run, exec_failure)
{
    lp_spawn_opts o = {.argv = ARGV("lp-no-such-program-xyz"), .out = LP_PIPE};
    lp_result res;
    cr_assert_eq(lp_run(&o, NULL, &res), -ENOENT);
    cr_assert(strstr(lp_proc_errmsg(NULL), "lp-no-such-program-xyz"));
    lp_result_free(&res);
    int z;
    cr_assert_eq(count_children(&z), 0);
}

static pid_t grandchild_of(const lp_result *res)
{
    int gc = 0;
    cr_assert(res->out.data && sscanf(res->out.data, "GRANDCHILD %d", &gc) == 1,
              "partial output lost: '%s'", res->out.data ? res->out.data : "(null)");
    return gc;
}

static void wait_dead(pid_t pid)
{
    for (int i = 0; i < 100 && !proc_dead(pid); i++)
        usleep(20000);
}

Test(run, timeout_with_grandchild_holding_pipes)
{
    int fds0 = count_fds();
    lp_spawn_opts o = {.argv = ARGV((char *)helper("lp-forker"), "30"), .out = LP_PIPE, .err = LP_PIPE};
    lp_run_opts r = {.timeout_ms = 300};
    lp_result res;
    double t0 = now_s();
    cr_assert_eq(lp_run(&o, &r, &res), -ETIMEDOUT);
    double dt = now_s() - t0;
    cr_assert(res.timed_out);
    cr_assert_geq(dt, 0.299);
    /* The issue asks for timeout + 200 ms; measured ~0.30 s here.  The bound below leaves room
     * for sanitizers and valgrind on a loaded 2-core machine. */
    cr_assert_lt(dt, 1.5, "lp_run took %.3f s", dt);
    cr_assert_eq(res.rc, -SIGKILL);
    pid_t gc = grandchild_of(&res);
    wait_dead(gc);
    cr_assert(proc_dead(gc), "grandchild %d still alive", gc);
    lp_result_free(&res);
    int z;
    cr_assert_eq(count_children(&z), 0);
    cr_assert_eq(count_fds(), fds0);
}

Test(run, timeout_grace_term_then_kill)
{
    lp_spawn_opts o = {.argv = ARGV((char *)helper("lp-sleeper"), "30"), .out = LP_PIPE};
    lp_run_opts r = {.timeout_ms = 100, .kill_grace_ms = 2000};
    lp_result res;
    cr_assert_eq(lp_run(&o, &r, &res), -ETIMEDOUT);
    cr_assert_eq(res.rc, -SIGTERM, "a child that honours SIGTERM ends with it");
    lp_result_free(&res);

    o.argv = ARGV((char *)helper("lp-sleeper"), "30", "--ignore-term", "--ready");
    r.kill_grace_ms = 300;
    double t0 = now_s();
    cr_assert_eq(lp_run(&o, &r, &res), -ETIMEDOUT);
    double dt = now_s() - t0;
    cr_assert_eq(res.rc, -SIGKILL);
    cr_assert_geq(dt, 0.399);
    cr_assert_str_eq(res.out.data, "ready\n");
    lp_result_free(&res);
}

Test(run, max_output_drains_and_truncates)
{
    lp_spawn_opts o = {.argv = ARGV((char *)helper("lp-writer"), "16M", "8M"), .out = LP_PIPE, .err = LP_PIPE};
    lp_run_opts r = {.max_output = 1000};
    lp_result res;
    cr_assert_eq(lp_run(&o, &r, &res), 0);
    cr_assert_eq(res.rc, 0, "the writer was not blocked or killed");
    cr_assert(res.truncated);
    cr_assert_eq(res.out.len, 1000);
    cr_assert_eq(res.err.len, 1000);
    cr_assert_eq(res.out.data[26], 'a');
    lp_result_free(&res);
}

Test(run, stderr_merge_and_devnull)
{
    lp_spawn_opts o = {.argv = ARGV((char *)helper("lp-writer"), "5", "5", "5"), .out = LP_PIPE,
                       .err = LP_STDOUT};
    lp_result res;
    cr_assert_eq(lp_run(&o, NULL, &res), 0);
    cr_assert_str_eq(res.out.data, "abcdeABCDE");
    cr_assert_eq(res.err.len, 0);
    lp_result_free(&res);
    o.err = LP_DEVNULL;
    cr_assert_eq(lp_run(&o, NULL, &res), 0);
    cr_assert_str_eq(res.out.data, "abcde");
    lp_result_free(&res);
}

static int count_lines(void *ctx, int stdio, const char *data, size_t len)
{
    (void)stdio;
    cr_assert_eq(data[len - 1], '\n');
    (*(int *)ctx)++;
    return 0;
}

Test(run, streaming_callback)
{
    char in[] = "a\nb\nc\nd\n";
    lp_spawn_opts o = {.argv = ARGV((char *)helper("lp-echo")), .out = LP_PIPE};
    int n = 0;
    lp_run_opts r = {.input = in, .input_len = 8, .on_output = count_lines, .ctx = &n, .lines = true};
    lp_result res;
    cr_assert_eq(lp_run(&o, &r, &res), 0);
    cr_assert_eq(n, 4);
    cr_assert_eq(res.out.len, 0);
    lp_result_free(&res);
}

static pid_t run_setsid_forker(enum lp_contain mode, int *ret)
{
    lp_spawn_opts o = {.argv = ARGV((char *)helper("lp-forker"), "30", "--setsid"), .out = LP_PIPE};
    lp_run_opts r = {.timeout_ms = 300, .contain = mode};
    lp_result res;
    *ret = lp_run(&o, &r, &res);
    pid_t gc = *ret == -ETIMEDOUT ? grandchild_of(&res) : 0;
    lp_result_free(&res);
    return gc;
}

Test(run, setsid_escapee_pgroup_vs_tree)
{
    int ret;
    pid_t gc = run_setsid_forker(LP_CONTAIN_PGROUP, &ret);
    cr_assert_eq(ret, -ETIMEDOUT);
    usleep(100000);
    cr_assert(!proc_dead(gc), "a setsid grandchild escapes a process-group kill (documented)");
    kill(gc, SIGKILL);

    gc = run_setsid_forker(LP_CONTAIN_TREE, &ret);
    cr_assert_eq(ret, -ETIMEDOUT);
    wait_dead(gc);
    cr_assert(proc_dead(gc), "LP_CONTAIN_TREE missed the setsid grandchild %d", gc);
}

Test(run, setsid_escapee_cgroup)
{
    int ret;
    pid_t gc = run_setsid_forker(LP_CONTAIN_CGROUP, &ret);
    if (ret == -EPERM || ret == -EACCES || ret == -EROFS || ret == -ENOENT)
        cr_skip_test("no writable cgroup v2 tree here: %s", lp_proc_errmsg(NULL));
    cr_assert_eq(ret, -ETIMEDOUT, "%s", lp_strerror(ret));
    wait_dead(gc);
    cr_assert(proc_dead(gc), "cgroup.kill missed the setsid grandchild %d", gc);
}

Test(run, auto_containment_works_everywhere)
{
    int ret;
    pid_t gc = run_setsid_forker(LP_CONTAIN_AUTO, &ret);
    cr_assert_eq(ret, -ETIMEDOUT);
    wait_dead(gc);
    cr_assert(proc_dead(gc));
}

Test(run, thousand_runs_leave_nothing, .timeout = 600)
{
    int fds0 = count_fds();
    char in[100];
    memset(in, 'q', sizeof in);
    lp_spawn_opts o = {.argv = ARGV((char *)helper("lp-mix"), "100", "300", "200"), .out = LP_PIPE,
                       .err = LP_PIPE};
    lp_run_opts r = {.input = in, .input_len = sizeof in, .timeout_ms = 60000};
    for (int i = 0; i < 1000; i++) {
        lp_result res;
        cr_assert_eq(lp_run(&o, &r, &res), 0, "run %d: %s", i, lp_proc_errmsg(NULL));
        cr_assert_eq(res.rc, 0);
        cr_assert_eq(res.out.len, 300);
        cr_assert_eq(res.err.len, 200);
        lp_result_free(&res);
    }
    int z;
    cr_assert_eq(count_fds(), fds0);
    cr_assert_eq(count_children(&z), 0);
}

static int stop_at_once(void *ctx, int stdio, const char *data, size_t len)
{
    (void)ctx, (void)stdio, (void)data, (void)len;
    return 7;
}

Test(run, callback_stop_value_stops_the_child)
{
    lp_spawn_opts o = {.argv = ARGV((char *)helper("lp-writer"), "1G", "0"), .out = LP_PIPE};
    lp_run_opts r = {.on_output = stop_at_once};
    lp_result res;
    cr_assert_eq(lp_run(&o, &r, &res), 7);
    cr_assert_eq(res.rc, -SIGKILL);
    lp_result_free(&res);
    int z;
    cr_assert_eq(count_children(&z), 0);
}

/* sh (the run's child) starts lp-forker, which starts a setsid grandchild and exits at once: the
 * grandchild is an orphan.  TREE alone cannot find it (it re-parents to init); with the child a
 * subreaper it re-parents to sh and is found. */
static pid_t run_orphaning(enum lp_contain mode, int *ret)
{
    char script[4300];
    snprintf(script, sizeof script, "'%s' 30 --setsid --parent-exits; exec '%s' 30",
             helper("lp-forker"), helper("lp-sleeper"));
    lp_spawn_opts o = {.argv = ARGV("/bin/sh", "-c", script), .out = LP_PIPE};
    lp_run_opts r = {.timeout_ms = 500, .contain = mode};
    lp_result res;
    *ret = lp_run(&o, &r, &res);
    pid_t gc = *ret == -ETIMEDOUT ? grandchild_of(&res) : 0;
    lp_result_free(&res);
    return gc;
}

Test(run, subreaper_catches_orphaned_setsid_descendant)
{
    int ret;
    pid_t gc = run_orphaning(LP_CONTAIN_TREE, &ret);
    cr_assert_eq(ret, -ETIMEDOUT);
    usleep(100000);
    cr_assert(!proc_dead(gc), "TREE cannot see an orphan re-parented to init (documented)");
    kill(gc, SIGKILL);

    gc = run_orphaning(LP_CONTAIN_SUBREAPER, &ret);
    cr_assert_eq(ret, -ETIMEDOUT);
    wait_dead(gc);
    cr_assert(proc_dead(gc), "LP_CONTAIN_SUBREAPER missed the orphan %d", gc);
}
