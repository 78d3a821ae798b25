/* lp_proc lifecycle: waits with deadlines, EINTR, kill, terminate, free, no leaks. */
#include "testutil.h"

#include <pthread.h>
#include <signal.h>
#include <sys/time.h>
#include <sys/wait.h>

#define ARGV(...) ((char *const[]){__VA_ARGS__, NULL})

static lp_proc *sleeper(const char *secs, bool ignore_term)
{
    lp_spawn_opts o = {.argv = ignore_term ? ARGV((char *)helper("lp-sleeper"), (char *)secs, "--ignore-term")
                                           : ARGV((char *)helper("lp-sleeper"), (char *)secs)};
    lp_proc *p;
    cr_assert_eq(lp_spawn(&p, &o), 0, "%s", lp_proc_errmsg(NULL));
    return p;
}

static void wait_modes(void)
{
    lp_proc *p = sleeper("0.5", false);
    int rc = 12345;
    cr_assert_eq(lp_proc_wait(p, 0, &rc), -ETIMEDOUT);
    cr_assert_eq(rc, 12345, "rc must not be touched on timeout");
    double t0 = now_s();
    cr_assert_eq(lp_proc_wait(p, 100, &rc), -ETIMEDOUT);
    double dt = now_s() - t0;
    cr_assert_geq(dt, 0.099, "returned early: %f", dt);
    cr_assert(!lp_proc_done(p));
    cr_assert_eq(lp_proc_wait(p, -1, &rc), 0);
    cr_assert_eq(rc, 0);
    cr_assert_eq(lp_proc_wait(p, 0, &rc), 0, "waiting again after reaping is fine");
    lp_proc_free(p);
}

Test(proc, wait_poll_timeout_forever)
{
    wait_modes();
}

Test(proc, wait_poll_timeout_forever_without_pidfd)
{
    setenv("LIBPIPE_NO_PIDFD", "1", 1);
    wait_modes();
}

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
    (void)sig;
    alarms++;
}

static void eintr_check(void)
{
    struct sigaction sa = {.sa_handler = on_alarm}; /* no SA_RESTART */
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {.it_interval = {0, 7000}, .it_value = {0, 7000}};
    setitimer(ITIMER_REAL, &it, NULL);

    lp_proc *p = sleeper("5", false);
    double t0 = now_s();
    int r = lp_proc_wait(p, 300, NULL);
    double dt = now_s() - t0;
    cr_assert_eq(r, -ETIMEDOUT);
    cr_assert_geq(dt, 0.299, "EINTR shortened the timeout: %f", dt);
    cr_assert_lt(dt, 3.0, "EINTR extended the timeout: %f", dt);
    cr_assert_gt(alarms, 5, "signals were not delivered during the wait");
    lp_proc_free(p);

    p = sleeper("0.3", false);
    cr_assert_eq(lp_proc_wait(p, -1, NULL), 0, "EINTR must not end an infinite wait");
    struct itimerval off = {0};
    setitimer(ITIMER_REAL, &off, NULL);
    lp_proc_free(p);
}

Test(proc, eintr_does_not_change_timeout)
{
    eintr_check();
}

Test(proc, eintr_does_not_change_timeout_without_pidfd)
{
    setenv("LIBPIPE_NO_PIDFD", "1", 1);
    eintr_check();
}

Test(proc, kill_and_esrch)
{
    lp_proc *p = sleeper("30", false);
    int rc;
    cr_assert_eq(lp_proc_kill(p, 0), 0);
    cr_assert_eq(lp_proc_kill(p, SIGTERM), 0);
    cr_assert_eq(lp_proc_wait(p, 5000, &rc), 0);
    cr_assert_eq(rc, -SIGTERM);
    cr_assert_eq(lp_proc_kill(p, SIGTERM), -ESRCH);
    lp_proc_free(p);
}

Test(proc, terminate_graceful_and_forced)
{
    int rc;
    lp_proc *p = sleeper("30", false);
    cr_assert_eq(lp_proc_terminate(p, 2000, &rc), 0);
    cr_assert_eq(rc, -SIGTERM);
    lp_proc_free(p);

    /* Ignores SIGTERM: killed after the grace period. Wait for its "ready" line so the
     * handler change is in place before we signal. */
    lp_spawn_opts o = {.argv = ARGV((char *)helper("lp-sleeper"), "30", "--ignore-term", "--ready"),
                       .out = LP_PIPE};
    cr_assert_eq(lp_spawn(&p, &o), 0);
    char buf[16];
    cr_assert_eq(read(lp_proc_fd(p, 1), buf, 6), 6);
    double t0 = now_s();
    cr_assert_eq(lp_proc_terminate(p, 200, &rc), 0);
    cr_assert_eq(rc, -SIGKILL);
    cr_assert_geq(now_s() - t0, 0.199);
    lp_proc_free(p);
}

Test(proc, terminate_reaches_group)
{
    char pidfile[] = "/tmp/lp-gc-XXXXXX";
    int fd = mkstemp(pidfile);
    cr_assert_geq(fd, 0);
    close(fd);
    lp_spawn_opts o = {.argv = ARGV((char *)helper("lp-forker"), "30", "--pidfile", pidfile),
                       .out = LP_PIPE, .pgroup = LP_PGROUP_NEW};
    lp_proc *p;
    cr_assert_eq(lp_spawn(&p, &o), 0);
    char line[64] = {0};
    cr_assert_gt(read(lp_proc_fd(p, 1), line, sizeof line - 1), 0);
    int gc = 0;
    cr_assert_eq(sscanf(line, "GRANDCHILD %d", &gc), 1, "got: %s", line);
    int rc;
    cr_assert_eq(lp_proc_terminate(p, 1000, &rc), 0);
    cr_assert_eq(rc, -SIGTERM);
    for (int i = 0; i < 100 && !proc_dead(gc); i++)
        usleep(20000);
    cr_assert(proc_dead(gc), "grandchild %d survived the group kill", gc);
    lp_proc_free(p);
    unlink(pidfile);
}

Test(proc, free_kills_and_reaps_running_child)
{
    lp_proc *p = sleeper("30", false);
    pid_t pid = lp_proc_pid(p);
    lp_proc_free(p);
    int z;
    cr_assert_eq(count_children(&z), 0);
    cr_assert(proc_dead(pid));
    lp_proc_free(NULL);
}

Test(proc, usage_and_wall_time)
{
    lp_proc *p = sleeper("0.1", false);
    lp_usage u;
    cr_assert_eq(lp_proc_usage(p, &u), -EAGAIN);
    cr_assert_eq(lp_proc_wait(p, -1, NULL), 0);
    cr_assert_eq(lp_proc_usage(p, &u), 0);
    cr_assert_geq(u.wall_s, 0.099);
    cr_assert_gt(u.max_rss_kb, 0);
    cr_assert(!u.core_dumped);
    lp_proc_free(p);
}

struct thr_arg {
    lp_proc *p;
};

static void *spawn_in_thread(void *arg)
{
    struct thr_arg *a = arg;
    lp_spawn_opts o = {.argv = ARGV((char *)helper("lp-sleeper"), "30"), .die_with_parent = true};
    cr_assert_eq(lp_spawn(&a->p, &o), 0);
    return NULL;
}

Test(proc, die_with_parent_thread)
{
    struct thr_arg a = {0};
    pthread_t t;
    pthread_create(&t, NULL, spawn_in_thread, &a);
    pthread_join(t, NULL); /* the spawning thread is gone: PDEATHSIG fires */
    int rc;
    cr_assert_eq(lp_proc_wait(a.p, 5000, &rc), 0);
    cr_assert_eq(rc, -SIGKILL);
    lp_proc_free(a.p);
}

Test(proc, ten_thousand_cycles_leave_nothing, .timeout = 600)
{
    int fds0 = count_fds();
    lp_spawn_opts o = {.argv = ARGV((char *)helper("lp-exit"), "3"), .out = LP_PIPE, .err = LP_PIPE};
    for (int i = 0; i < 10000; i++) {
        lp_proc *p;
        cr_assert_eq(lp_spawn(&p, &o), 0, "cycle %d: %s", i, lp_proc_errmsg(NULL));
        int rc;
        cr_assert_eq(lp_proc_wait(p, -1, &rc), 0);
        cr_assert_eq(rc, 3);
        lp_proc_free(p);
    }
    int z;
    cr_assert_eq(count_fds(), fds0);
    cr_assert_eq(count_children(&z), 0);
}

Test(proc, strerror_names)
{
    cr_assert_str_eq(lp_strerror(-ENOENT), "No such file or directory");
    cr_assert_str_eq(lp_strerror(-ETIMEDOUT), "Connection timed out");
    cr_assert_str_eq(lp_strerror(0), "Success");
    cr_assert_str_eq(lp_strerror(LP_ECHECK), "child exited with non-zero status");
    cr_assert_str_eq(lp_strerror(-99999), "Unknown error");
}

/* lp_set_wait_interrupt: a readable descriptor ends a blocking wait with -EINTR, nothing reaped */
static void wait_interrupt(bool pidfd)
{
    setenv("LIBPIPE_NO_PIDFD", pidfd ? "" : "1", 1);
    if (pidfd)
        unsetenv("LIBPIPE_NO_PIDFD");
    lp_proc *p;
    cr_assert_eq(lp_spawn(&p, &(lp_spawn_opts){.argv = (char *const[]){(char *)helper("lp-sleeper"), "30", NULL}}), 0);
    int pf[2];
    cr_assert_eq(pipe(pf), 0);
    cr_assert_eq(write(pf[1], "x", 1), 1);
    lp_set_wait_interrupt(pf[0]);
    int rc = 12345;
    cr_assert_eq(lp_proc_wait(p, 5000, &rc), -EINTR);
    cr_assert_eq(rc, 12345);
    cr_assert(!lp_proc_done(p));
    lp_set_wait_interrupt(-1);
    cr_assert_eq(lp_proc_wait(p, 0, &rc), -ETIMEDOUT); /* still running, still ours */
    lp_proc_kill(p, SIGKILL);
    cr_assert_eq(lp_proc_wait(p, -1, &rc), 0);
    cr_assert_eq(rc, -SIGKILL);
    lp_proc_free(p);
    close(pf[0]);
    close(pf[1]);
    unsetenv("LIBPIPE_NO_PIDFD");
}

Test(proc, wait_interrupt_fd)
{
    wait_interrupt(true);
}

Test(proc, wait_interrupt_fd_without_pidfd)
{
    wait_interrupt(false);
}
