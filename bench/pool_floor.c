/* pool_floor — the anchor of the pool yardstick (bench/README.md): run /bin/true N times with
 * at most P in flight, the least a job pool can do, and print the throughput.
 *
 *   pool_floor floor [--arg] -j P -n N
 *       posix_spawn() P children of /bin/true (stdio inherited), then each time waitpid(-1)
 *       reaps one, spawn the next, until N have run and been reaped.  --arg (mode name
 *       floor_arg) runs `/bin/true K`, K = 1..N, as the tools that append the item to the
 *       command do (xargs, parallel, pshell's pool): coreutils' true with exactly one argument
 *       checks it for --help/--version and so first loads the locale (LANG=C.UTF-8 here: ~30
 *       more openat per job), which costs the child ~40% more CPU than without.
 *   pool_floor cmd LABEL -j P -n N -- PROG [ARG...]
 *       time one run of PROG (posix_spawn()ed with stdin from /dev/null, stdout/stderr
 *       inherited) that runs N jobs at -jP by itself (e.g. sh -c 'seq N | xargs -P P ...'):
 *       how run-all times the xargs, parallel and pshell rows.  P and N are only reported.
 *
 * Output, one line (jobs_per_s = N / secs; secs from just before the first spawn to just
 * after the last reap, CLOCK_MONOTONIC):
 *
 *   MODE j=P n=N secs=S jobs_per_s=X
 *
 * Any failure (spawn error, a child not exiting 0) prints a message and exits non-zero. */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

extern char **environ;

#define PROG "/bin/true"

static char *const child_argv[] = {PROG, NULL};
static const char *mode = "floor";

__attribute__((noreturn)) static void die(const char *what, const char *detail)
{
    fprintf(stderr, "pool_floor %s: %s: %s\n", mode, what, detail);
    exit(1);
}

__attribute__((noreturn)) static void usage(void)
{
    fprintf(stderr, "usage: pool_floor floor [--arg] -j P -n N\n"
                    "       pool_floor cmd LABEL -j P -n N -- PROG [ARG...]\n");
    exit(2);
}

static void check_status(const char *what, int st)
{
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        char buf[64];
        if (WIFSIGNALED(st))
            snprintf(buf, sizeof buf, "killed by signal %d", WTERMSIG(st));
        else
            snprintf(buf, sizeof buf, "exit status %d", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        die(what, buf);
    }
}

static pid_t spawn(const char *path, char *const argv[], const posix_spawn_file_actions_t *fa)
{
    pid_t pid;
    int r = posix_spawn(&pid, path, fa, NULL, argv, environ);
    if (r != 0)
        die("posix_spawn", strerror(r));
    return pid;
}

static pid_t reap_any(void)
{
    int st;
    pid_t pid;
    while ((pid = waitpid(-1, &st, 0)) < 0) {
        if (errno != EINTR)
            die("waitpid", strerror(errno));
    }
    check_status(PROG, st);
    return pid;
}

/* Spawn job number k (1..N): /bin/true, or /bin/true k. */
static void spawn_job(long k, int with_arg)
{
    char num[24];
    char *const argv_arg[] = {PROG, num, NULL};
    if (!with_arg) {
        spawn(PROG, child_argv, NULL);
        return;
    }
    snprintf(num, sizeof num, "%ld", k);
    spawn(PROG, argv_arg, NULL); /* posix_spawn has exec'ed the child when it returns */
}

static double run_floor(long p, long n, int with_arg)
{
    double t0 = now_s();
    long started = 0, reaped = 0;
    while (started < n && started < p)
        spawn_job(++started, with_arg);
    while (reaped < n) {
        reap_any();
        reaped++;
        if (started < n)
            spawn_job(++started, with_arg);
    }
    return now_s() - t0;
}

static double run_cmd(char *const argv[])
{
    posix_spawn_file_actions_t fa;
    if (posix_spawn_file_actions_init(&fa) != 0 ||
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0) != 0)
        die("posix_spawn_file_actions", "out of memory");
    double t0 = now_s();
    pid_t pid = spawn(argv[0], argv, &fa);
    int st;
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR)
            die("waitpid", strerror(errno));
    }
    double secs = now_s() - t0;
    check_status(argv[0], st);
    posix_spawn_file_actions_destroy(&fa);
    return secs;
}

int main(int argc, char **argv)
{
    long p = 0, n = 0;
    int i = 1, with_arg = 0;
    if (argc < 2)
        usage();
    mode = argv[i++];
    int is_cmd = strcmp(mode, "cmd") == 0;
    if (!is_cmd && strcmp(mode, "floor") != 0)
        usage();
    if (is_cmd) {
        if (i >= argc)
            usage();
        mode = argv[i++];
    }
    for (; i < argc; i++) {
        if (strcmp(argv[i], "-j") == 0 && i + 1 < argc)
            p = bench_count("pool_floor", argv[++i], "-j", 1);
        else if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
            n = bench_count("pool_floor", argv[++i], "-n", 1);
        else if (strcmp(argv[i], "--arg") == 0 && !is_cmd) {
            with_arg = 1;
            mode = "floor_arg";
        } else if (strcmp(argv[i], "--") == 0 && is_cmd) {
            i++;
            break;
        } else
            usage();
    }
    if (p < 1 || n < 1 || (is_cmd && i >= argc))
        usage();
    double secs = is_cmd ? run_cmd(argv + i) : run_floor(p, n, with_arg);
    printf("%s j=%ld n=%ld secs=%.4f jobs_per_s=%.1f\n", mode, p, n, secs,
           secs > 0 ? (double)n / secs : 0.0);
    return 0;
}
