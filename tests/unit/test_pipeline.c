/* lp_pipeline: shell-exact EOF/SIGPIPE propagation, per-stage status, pipefail, function stages,
 * start failures, timeouts with grandchildren, no leaks over many pipelines. */
#include "testutil.h"

#include <ctype.h>
#include <signal.h>

#define ARGV(...) ((char *const[]){__VA_ARGS__, NULL})

static void add(lp_pipeline *pl, lp_spawn_opts o)
{
    cr_assert_eq(lp_pipeline_add(pl, &o), 0);
}

Test(pipeline, yes_head_ends_at_once)
{
    signal(SIGPIPE, SIG_IGN); /* the stages still get the default */
    for (int mode = 0; mode < 3; mode++) {
        lp_pipeline *pl = lp_pipeline_new();
        add(pl, (lp_spawn_opts){.argv = ARGV("yes")});
        add(pl, (lp_spawn_opts){.argv = ARGV("head", "-n", "1"), .out = LP_PIPE});
        lp_pipeline_set_pipefail(pl, mode >= 1);
        lp_pipeline_set_sigpipe_ok(pl, mode == 2);
        cr_assert_eq(lp_pipeline_start(pl), 0, "%s", lp_pipeline_errmsg(pl));
        lp_buf out = {0};
        cr_assert_eq(lp_pipeline_communicate(pl, NULL, 0, &out, NULL, 10000), 0);
        cr_assert_str_eq(out.data, "y\n");
        cr_assert_eq(lp_pipeline_status(pl, 0), -SIGPIPE);
        cr_assert_eq(lp_pipeline_status(pl, 1), 0);
        int rc;
        cr_assert_eq(lp_pipeline_wait(pl, 0, &rc), 0);
        cr_assert_eq(rc, mode == 1 ? -SIGPIPE : 0, "mode %d rc %d", mode, rc);
        lp_buf_free(&out);
        lp_pipeline_free(pl);
    }
}

Test(pipeline, seq_sort_head_byte_exact)
{
    lp_pipeline *pl = lp_pipeline_new();
    add(pl, (lp_spawn_opts){.argv = ARGV("seq", "1000000")});
    add(pl, (lp_spawn_opts){.argv = ARGV("sort", "-rn")});
    add(pl, (lp_spawn_opts){.argv = ARGV("head", "-3"), .out = LP_PIPE});
    lp_result res;
    cr_assert_eq(lp_pipeline_run(pl, NULL, &res), 0, "%s", lp_pipeline_errmsg(pl));
    cr_assert_str_eq(res.out.data, "1000000\n999999\n999998\n");
    cr_assert_eq(res.rc, 0);
    cr_assert_eq(lp_pipeline_len(pl), 3);
    lp_result_free(&res);
    lp_pipeline_free(pl);
}

Test(pipeline, twenty_stage_cat_chain_64mib, .timeout = 300)
{
    lp_pipeline *pl = lp_pipeline_new();
    add(pl, (lp_spawn_opts){.argv = ARGV((char *)helper("lp-writer"), "64M", "0")});
    for (int i = 0; i < 18; i++)
        add(pl, (lp_spawn_opts){.argv = ARGV("cat")});
    add(pl, (lp_spawn_opts){.argv = ARGV("cat"), .out = LP_PIPE});
    lp_result res;
    cr_assert_eq(lp_pipeline_run(pl, NULL, &res), 0);
    cr_assert_eq(res.rc, 0);
    cr_assert_eq(res.out.len, (size_t)64 << 20);
    for (size_t i = 0; i < res.out.len; i += 4093)
        cr_assert_eq(res.out.data[i], (char)('a' + i % 26), "byte %zu", i);
    for (size_t i = 0; i < 20; i++)
        cr_assert_eq(lp_pipeline_status(pl, i), 0);
    lp_result_free(&res);
    lp_pipeline_free(pl);
}

Test(pipeline, middle_stage_exits_early)
{
    lp_pipeline *pl = lp_pipeline_new();
    add(pl, (lp_spawn_opts){.argv = ARGV((char *)helper("lp-writer"), "100M", "0")});
    add(pl, (lp_spawn_opts){.argv = ARGV((char *)helper("lp-reader"), "1000")});
    add(pl, (lp_spawn_opts){.argv = ARGV((char *)helper("lp-echo")), .out = LP_PIPE});
    lp_result res;
    cr_assert_eq(lp_pipeline_run(pl, &(lp_run_opts){.timeout_ms = 30000}, &res), 0);
    cr_assert_str_eq(res.out.data, "read 1000\n");
    cr_assert_eq(lp_pipeline_status(pl, 0), -SIGPIPE);
    cr_assert_eq(lp_pipeline_status(pl, 1), 0);
    cr_assert_eq(lp_pipeline_status(pl, 2), 0);
    lp_result_free(&res);
    lp_pipeline_free(pl);
}

static int status_of(int a, int b, int c, bool pipefail)
{
    char sa[8], sb[8], sc[8];
    sprintf(sa, "%d", a);
    sprintf(sb, "%d", b);
    sprintf(sc, "%d", c);
    lp_pipeline *pl = lp_pipeline_new();
    add(pl, (lp_spawn_opts){.argv = ARGV((char *)helper("lp-exit"), sa)});
    add(pl, (lp_spawn_opts){.argv = ARGV((char *)helper("lp-exit"), sb)});
    add(pl, (lp_spawn_opts){.argv = ARGV((char *)helper("lp-exit"), sc)});
    lp_pipeline_set_pipefail(pl, pipefail);
    cr_assert_eq(lp_pipeline_start(pl), 0);
    int rc;
    cr_assert_eq(lp_pipeline_wait(pl, -1, &rc), 0);
    cr_assert_eq(lp_pipeline_status(pl, 0), a);
    cr_assert_eq(lp_pipeline_status(pl, 1), b);
    cr_assert_eq(lp_pipeline_status(pl, 2), c);
    lp_pipeline_free(pl);
    return rc;
}

Test(pipeline, pipefail_vs_not)
{
    cr_assert_eq(status_of(3, 4, 0, false), 0);
    cr_assert_eq(status_of(3, 4, 0, true), 4, "bash: the last non-zero");
    cr_assert_eq(status_of(3, 0, 0, true), 3);
    cr_assert_eq(status_of(0, 0, 5, false), 5);
    cr_assert_eq(status_of(0, 0, 0, true), 0);
}

static int upcase(void *arg)
{
    int *calls = arg;
    (*calls)++; /* in the child: the parent's copy stays 0 */
    char buf[4096];
    ssize_t n;
    while ((n = read(0, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++)
            buf[i] = (char)toupper((unsigned char)buf[i]);
        if (write(1, buf, (size_t)n) != n)
            return 9;
    }
    return 7;
}

Test(pipeline, function_stage)
{
    int calls = 0;
    lp_pipeline *pl = lp_pipeline_new();
    add(pl, (lp_spawn_opts){.argv = ARGV((char *)helper("lp-writer"), "30", "0")});
    cr_assert_eq(lp_pipeline_add_fn(pl, upcase, &calls), 0);
    add(pl, (lp_spawn_opts){.argv = ARGV((char *)helper("lp-echo")), .out = LP_PIPE});
    lp_result res;
    cr_assert_eq(lp_pipeline_run(pl, NULL, &res), 0);
    cr_assert_str_eq(res.out.data, "ABCDEFGHIJKLMNOPQRSTUVWXYZABCD");
    cr_assert_eq(lp_pipeline_status(pl, 1), 7);
    cr_assert_eq(calls, 0);
    lp_result_free(&res);
    lp_pipeline_free(pl);
}

Test(pipeline, stage_stderr_capture_and_merge)
{
    lp_pipeline *pl = lp_pipeline_new();
    /* stage 0: stderr captured; stage 1: stderr into its stdout (|&) which is the last pipe */
    add(pl, (lp_spawn_opts){.argv = ARGV((char *)helper("lp-writer"), "4", "3"), .err = LP_PIPE});
    add(pl, (lp_spawn_opts){.argv = ARGV((char *)helper("lp-echo"), "2"), .err = LP_STDOUT});
    add(pl, (lp_spawn_opts){.argv = ARGV((char *)helper("lp-reader")), .out = LP_PIPE, .err = LP_PIPE});
    lp_result res;
    cr_assert_eq(lp_pipeline_run(pl, NULL, &res), 0);
    cr_assert_str_eq(res.err.data, "ABC");
    cr_assert_str_eq(res.out.data, "read 8\n", "4 echoed + 4 of stderr merged");
    lp_result_free(&res);
    lp_pipeline_free(pl);
}

Test(pipeline, start_failure_names_stage_and_cleans_up)
{
    lp_pipeline *pl = lp_pipeline_new();
    add(pl, (lp_spawn_opts){.argv = ARGV((char *)helper("lp-sleeper"), "30")});
    add(pl, (lp_spawn_opts){.argv = ARGV("lp-no-such-frob")});
    add(pl, (lp_spawn_opts){.argv = ARGV("cat"), .out = LP_PIPE});
    int fds0 = count_fds();
    cr_assert_eq(lp_pipeline_start(pl), -ENOENT);
    cr_assert(strstr(lp_pipeline_errmsg(pl), "stage 1 (lp-no-such-frob)"), "got '%s'", lp_pipeline_errmsg(pl));
    int z;
    cr_assert_eq(count_children(&z), 0, "the started stage was not reaped");
    cr_assert_eq(count_fds(), fds0);
    cr_assert_eq(lp_pipeline_start(pl), -EBUSY);
    lp_pipeline_free(pl);
}

Test(pipeline, timeout_with_grandchildren)
{
    int fds0 = count_fds();
    lp_pipeline *pl = lp_pipeline_new();
    add(pl, (lp_spawn_opts){.argv = ARGV((char *)helper("lp-forker"), "30")});
    add(pl, (lp_spawn_opts){.argv = ARGV((char *)helper("lp-forker"), "30"), .err = LP_PIPE});
    add(pl, (lp_spawn_opts){.argv = ARGV((char *)helper("lp-echo")), .out = LP_PIPE});
    lp_result res;
    double t0 = now_s();
    cr_assert_eq(lp_pipeline_run(pl, &(lp_run_opts){.timeout_ms = 300, .kill_grace_ms = 100}, &res), -ETIMEDOUT);
    double dt = now_s() - t0;
    cr_assert(res.timed_out);
    cr_assert_lt(dt, 1.5, "took %.3f s", dt);
    /* both forkers' grandchildren print through the chain: the first's goes through stage 2 */
    int gc = 0;
    const char *line = strstr(res.out.data ? res.out.data : "", "GRANDCHILD");
    cr_assert(line && sscanf(line, "GRANDCHILD %d", &gc) == 1, "got '%s'", res.out.data);
    for (int i = 0; i < 100 && !proc_dead(gc); i++)
        usleep(20000);
    cr_assert(proc_dead(gc), "grandchild %d survived", gc);
    for (size_t i = 0; i < 3; i++)
        cr_assert_neq(lp_pipeline_status(pl, i), -EAGAIN);
    lp_result_free(&res);
    lp_pipeline_free(pl);
    int z;
    cr_assert_eq(count_children(&z), 0);
    cr_assert_eq(count_fds(), fds0);
}

Test(pipeline, thousand_pipelines_leave_nothing, .timeout = 600)
{
    int fds0 = count_fds();
    for (int i = 0; i < 1000; i++) {
        lp_pipeline *pl = lp_pipeline_new();
        add(pl, (lp_spawn_opts){.argv = ARGV((char *)helper("lp-echo"))});
        add(pl, (lp_spawn_opts){.argv = ARGV((char *)helper("lp-echo")), .err = LP_PIPE});
        add(pl, (lp_spawn_opts){.argv = ARGV((char *)helper("lp-echo")), .out = LP_PIPE});
        lp_result res;
        cr_assert_eq(lp_pipeline_run(pl, &(lp_run_opts){.input = "hello", .input_len = 5}, &res), 0);
        cr_assert_str_eq(res.out.data, "hello");
        lp_result_free(&res);
        lp_pipeline_free(pl);
    }
    int z;
    cr_assert_eq(count_fds(), fds0);
    cr_assert_eq(count_children(&z), 0);
}

Test(pipeline, failed_start_in_callers_group_is_safe)
{
    /* joining our own group: a failed start must stop its stages, not signal the group */
    lp_pipeline *pl = lp_pipeline_new();
    lp_pipeline_set_pgroup(pl, getpgrp());
    add(pl, (lp_spawn_opts){.argv = ARGV((char *)helper("lp-sleeper"), "30")});
    add(pl, (lp_spawn_opts){.argv = ARGV("lp-no-such-frob")});
    cr_assert_eq(lp_pipeline_start(pl), -ENOENT);
    int rc;
    cr_assert_eq(lp_pipeline_wait(pl, 0, &rc), -ENOENT, "wait after a failed start");
    lp_buf out = {0};
    cr_assert_eq(lp_pipeline_communicate(pl, NULL, 0, &out, NULL, 0), -ENOENT);
    cr_assert_eq(lp_pipeline_kill(pl, SIGTERM), -ESRCH);
    lp_pipeline_free(pl);
    int z;
    cr_assert_eq(count_children(&z), 0);
}

Test(pipeline, write_end_by_hand_then_close)
{
    lp_pipeline *pl = lp_pipeline_new();
    add(pl, (lp_spawn_opts){.argv = ARGV((char *)helper("lp-echo")), .in = LP_PIPE});
    add(pl, (lp_spawn_opts){.argv = ARGV((char *)helper("lp-reader")), .out = LP_PIPE});
    cr_assert_eq(lp_pipeline_start(pl), 0);
    cr_assert_eq(write(lp_pipeline_fd(pl, 0), "12345", 5), 5);
    lp_pipeline_close_fd(pl, 0);
    cr_assert_eq(lp_pipeline_fd(pl, 0), -1);
    lp_buf out = {0};
    cr_assert_eq(lp_pipeline_communicate(pl, NULL, 0, &out, NULL, 10000), 0);
    cr_assert_str_eq(out.data, "read 5\n");
    lp_usage u;
    cr_assert_eq(lp_pipeline_usage(pl, 1, &u), 0);
    cr_assert_gt(u.wall_s, 0);
    cr_assert_gt(lp_pipeline_pid(pl, 0), 0);
    lp_buf_free(&out);
    lp_pipeline_free(pl);
}

/* a function stage whose stdout is the pipeline's captured end (what a shell's $(...) needs) */
static int fn_hello(void *arg)
{
    printf("hello %s\n", (const char *)arg);
    fflush(stdout); /* a pipe is fully buffered: order the two streams */
    fprintf(stderr, "to-stderr\n");
    return 7;
}

Test(pipeline, function_stage_with_captured_ends)
{
    /* a single function stage: stdout captured, stderr merged into it */
    lp_pipeline *pl = lp_pipeline_new();
    lp_spawn_opts io = {.out = LP_PIPE, .err = LP_STDOUT};
    cr_assert_eq(lp_pipeline_add_fn_opts(pl, fn_hello, "fn", &io), 0);
    lp_result res;
    cr_assert_eq(lp_pipeline_run(pl, NULL, &res), 0, "%s", lp_pipeline_errmsg(pl));
    cr_assert_str_eq(res.out.data, "hello fn\nto-stderr\n");
    cr_assert_eq(res.rc, 7);
    lp_result_free(&res);
    lp_pipeline_free(pl);

    /* first stage reads /dev/null, last is a program; stderr of the function to the pipe */
    pl = lp_pipeline_new();
    lp_spawn_opts io2 = {.in = LP_DEVNULL, .err = LP_PIPE};
    cr_assert_eq(lp_pipeline_add_fn_opts(pl, fn_hello, "x", &io2), 0);
    add(pl, (lp_spawn_opts){.argv = ARGV("tr", "a-z", "A-Z"), .out = LP_PIPE});
    cr_assert_eq(lp_pipeline_run(pl, NULL, &res), 0);
    cr_assert_str_eq(res.out.data, "HELLO X\n");
    cr_assert_str_eq(res.err.data, "to-stderr\n");
    cr_assert_eq(lp_pipeline_status(pl, 0), 7);
    lp_result_free(&res);
    lp_pipeline_free(pl);

    /* LP_PATH is refused for function stages (the caller opens the file) */
    pl = lp_pipeline_new();
    lp_spawn_opts bad = {.out = LP_PATH("/tmp/x", O_WRONLY)};
    cr_assert_eq(lp_pipeline_add_fn_opts(pl, fn_hello, "x", &bad), -EINVAL);
    lp_pipeline_free(pl);
}

Test(pipeline, exec_path_skips_path_search)
{
    /* argv[0] names nothing in PATH; exec_path is the program */
    lp_pipeline *pl = lp_pipeline_new();
    add(pl, (lp_spawn_opts){.argv = ARGV("no-such-name-in-path", "abc"), .exec_path = "/bin/echo",
                            .out = LP_PIPE});
    lp_result res;
    cr_assert_eq(lp_pipeline_run(pl, NULL, &res), 0, "%s", lp_pipeline_errmsg(pl));
    cr_assert_str_eq(res.out.data, "abc\n");
    lp_result_free(&res);
    lp_pipeline_free(pl);
}

/* lp_pipeline_wait_job: a stop is reported, the job continues, then its end */
Test(pipeline, wait_job_reports_stop_then_end)
{
    lp_pipeline *pl = lp_pipeline_new();
    add(pl, (lp_spawn_opts){.argv = ARGV((char *)helper("lp-sleeper"), "30")});
    add(pl, (lp_spawn_opts){.argv = ARGV("cat")});
    cr_assert_eq(lp_pipeline_start(pl), 0, "%s", lp_pipeline_errmsg(pl));
    cr_assert_gt(lp_pipeline_pgid(pl), 0);
    cr_assert_eq(lp_pipeline_kill(pl, SIGSTOP), 0);
    int rc = 12345;
    cr_assert_eq(lp_pipeline_wait_job(pl, &rc), LP_ESTOPPED);
    cr_assert_eq(rc, 12345);
    cr_assert_str_eq(lp_strerror(LP_ESTOPPED), "stopped by a signal");
    /* continue and end it: the next wait reports the end, every stage reaped */
    cr_assert_eq(lp_pipeline_kill(pl, SIGCONT), 0);
    cr_assert_eq(lp_pipeline_kill(pl, SIGTERM), 0);
    cr_assert_eq(lp_pipeline_wait_job(pl, &rc), 0);
    cr_assert_eq(rc, -SIGTERM);
    cr_assert_eq(lp_pipeline_status(pl, 0), -SIGTERM);
    lp_pipeline_free(pl);
    int z;
    cr_assert_eq(count_children(&z), 0);

    /* not in its own group: refused */
    pl = lp_pipeline_new();
    lp_pipeline_set_pgroup(pl, LP_PGROUP_INHERIT);
    add(pl, (lp_spawn_opts){.argv = ARGV("true")});
    cr_assert_eq(lp_pipeline_start(pl), 0);
    cr_assert_eq(lp_pipeline_wait_job(pl, &rc), -EINVAL);
    cr_assert_eq(lp_pipeline_wait(pl, -1, &rc), 0);
    lp_pipeline_free(pl);
}

/* sigdefault: a signal the caller ignores is at its default in the child */
Test(pipeline, sigdefault_undoes_an_ignored_signal)
{
    signal(SIGUSR1, SIG_IGN);
    sigset_t def;
    sigemptyset(&def);
    sigaddset(&def, SIGUSR1);
    for (int with = 0; with < 2; with++) {
        lp_pipeline *pl = lp_pipeline_new();
        add(pl, (lp_spawn_opts){.argv = ARGV((char *)helper("lp-sleeper"), "30"),
                                .sigdefault = with ? &def : NULL});
        cr_assert_eq(lp_pipeline_start(pl), 0);
        lp_pipeline_kill(pl, SIGUSR1);
        int rc;
        if (with) {
            cr_assert_eq(lp_pipeline_wait(pl, 10000, &rc), 0);
            cr_assert_eq(rc, -SIGUSR1);
        } else {
            /* still ignored: it runs on */
            cr_assert_eq(lp_pipeline_wait(pl, 200, &rc), -ETIMEDOUT);
        }
        lp_pipeline_free(pl);
    }
    signal(SIGUSR1, SIG_DFL);
}
