/* spawn_bench — the spawn yardstick (DESIGN.md section 6): spawn /bin/true and wait for it, N
 * times, with one of several mechanisms, and print the mean wall time per iteration.
 *
 *   spawn_bench [-n N] [--heap-mib M] MODE
 *
 * MODE:
 *   posix_spawn  posix_spawn() + waitpid(): the anchor, the floor for spawning
 *   fork         fork() + execve() + waitpid(): the classic way, copies the page tables
 *   lp           lp_spawn() with default options + lp_proc_wait() + lp_proc_free()
 *   lp_opts      lp_spawn() with every option of the fast path set: .cwd = "/tmp",
 *                .pgroup = LP_PGROUP_NEW, .pass_fds = {one open fd}, .env_set = {"BENCH=1"},
 *                .set_umask = true, .umask = 022; + wait + free
 *
 * --heap-mib M first mallocs M MiB and touches every page, so the parent is large (what a
 * fork-based spawner pays for).  One warm-up spawn, then N (default 2000) timed iterations on
 * CLOCK_MONOTONIC.  Output, one line:
 *
 *   MODE heap=M n=N per_spawn_us=X.X
 *
 * Any failure (spawn error, child not exiting 0) prints a message and exits non-zero. */
#include "libpipe.h"

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

__attribute__((noreturn)) static void die(const char *mode, const char *what, const char *detail)
{
    fprintf(stderr, "spawn_bench %s: %s: %s\n", mode, what, detail);
    exit(1);
}

__attribute__((noreturn)) static void usage(void)
{
    fprintf(stderr, "usage: spawn_bench [-n N] [--heap-mib M] posix_spawn|fork|lp|lp_opts\n");
    exit(2);
}

static void check_status(const char *mode, int st)
{
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        char buf[64];
        if (WIFSIGNALED(st))
            snprintf(buf, sizeof buf, "killed by signal %d", WTERMSIG(st));
        else
            snprintf(buf, sizeof buf, "exit status %d", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        die(mode, PROG, buf);
    }
}

static void reap(const char *mode, pid_t pid)
{
    int st;
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR)
            die(mode, "waitpid", strerror(errno));
    }
    check_status(mode, st);
}

static void once_posix_spawn(void)
{
    pid_t pid;
    int r = posix_spawn(&pid, PROG, NULL, NULL, child_argv, environ);
    if (r != 0)
        die("posix_spawn", "posix_spawn", strerror(r));
    reap("posix_spawn", pid);
}

static void once_fork(void)
{
    pid_t pid = fork();
    if (pid < 0)
        die("fork", "fork", strerror(errno));
    if (pid == 0) {
        execve(PROG, child_argv, environ);
        _exit(127);
    }
    reap("fork", pid);
}

static void lp_once(const char *mode, const lp_spawn_opts *o)
{
    lp_proc *p;
    int r = lp_spawn(&p, o);
    if (r < 0)
        die(mode, "lp_spawn", lp_proc_errmsg(NULL));
    int rc;
    r = lp_proc_wait(p, -1, &rc);
    if (r < 0)
        die(mode, "lp_proc_wait", lp_proc_errmsg(p));
    lp_proc_free(p);
    if (rc != 0) {
        char buf[64];
        snprintf(buf, sizeof buf, "rc %d", rc);
        die(mode, PROG, buf);
    }
}

static lp_spawn_opts opts_default;
static lp_spawn_opts opts_all;
static int pass_fd[1];
static char *const env_set[] = {"BENCH=1", NULL};

static void once_lp(void)
{
    lp_once("lp", &opts_default);
}

static void once_lp_opts(void)
{
    lp_once("lp_opts", &opts_all);
}

static void setup_lp(void)
{
    opts_default = (lp_spawn_opts){.argv = child_argv, .in = LP_INHERIT, .out = LP_INHERIT,
                                   .err = LP_INHERIT};
    /* Not close-on-exec, like a descriptor a caller wants to hand down; >= 3 since 0-2 are
     * open.  lp_spawn marks all others close-on-exec in the child and keeps this one. */
    pass_fd[0] = open("/dev/null", O_RDONLY);
    if (pass_fd[0] < 0)
        die("lp_opts", "open /dev/null", strerror(errno));
    if (pass_fd[0] < 3)
        die("lp_opts", "open /dev/null", "stdio is not open (fd < 3)");
    opts_all = opts_default;
    opts_all.cwd = "/tmp";
    opts_all.pgroup = LP_PGROUP_NEW;
    opts_all.pass_fds = pass_fd;
    opts_all.n_pass_fds = 1;
    opts_all.env_set = env_set;
    opts_all.set_umask = true;
    opts_all.umask = 022;
}

int main(int argc, char **argv)
{
    long n = 2000, heap_mib = 0;
    const char *mode = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
            n = bench_count("spawn_bench", argv[++i], "-n", 1);
        else if (strcmp(argv[i], "--heap-mib") == 0 && i + 1 < argc)
            heap_mib = bench_count("spawn_bench", argv[++i], "--heap-mib", 0);
        else if (argv[i][0] == '-' || mode)
            usage();
        else
            mode = argv[i];
    }
    if (!mode)
        usage();

    void (*once)(void) = NULL;
    if (strcmp(mode, "posix_spawn") == 0)
        once = once_posix_spawn;
    else if (strcmp(mode, "fork") == 0)
        once = once_fork;
    else if (strcmp(mode, "lp") == 0)
        once = once_lp;
    else if (strcmp(mode, "lp_opts") == 0)
        once = once_lp_opts;
    else
        usage();
    setup_lp();

    /* The large parent: every page touched, so it is resident and mapped in the page tables. */
    volatile unsigned char *heap = NULL;
    if (heap_mib > 0) {
        size_t bytes = (size_t)heap_mib << 20;
        unsigned char *h = malloc(bytes);
        if (!h)
            die(mode, "heap", strerror(ENOMEM));
        memset(h, 0x5a, bytes);
        heap = h;
    }

    once(); /* warm-up: page cache, dynamic linker, lazy bindings */

    double t0 = now_s();
    for (long i = 0; i < n; i++)
        once();
    double t1 = now_s();

    if (heap && heap[((size_t)heap_mib << 20) - 1] != 0x5a) /* keep the heap alive */
        die(mode, "heap", "corrupted");
    printf("%s heap=%ld n=%ld per_spawn_us=%.1f\n", mode, heap_mib, n, (t1 - t0) / (double)n * 1e6);
    return fflush(stdout) == 0 ? 0 : 1;
}
