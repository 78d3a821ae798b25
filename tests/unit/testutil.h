/* Shared helpers for the Criterion unit tests. */
#ifndef LP_TESTUTIL_H
#define LP_TESTUTIL_H

#include "libpipe.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Absolute path of a helper program from tests/helpers (LP_HELPERS is set by make check). */
static inline const char *helper(const char *name)
{
    static _Thread_local char buf[8][4096];
    static _Thread_local int k;
    static _Thread_local char exe_dir[2048];
    const char *dir = getenv("LP_HELPERS");
    if (!dir) { /* run by hand: the helpers are built beside tests/unit */
        ssize_t n = readlink("/proc/self/exe", exe_dir, sizeof exe_dir - 20);
        cr_assert_gt(n, 0);
        exe_dir[n] = 0;
        for (int up = 0; up < 2; up++) { /* .../tests/unit/test_x -> .../tests */
            char *slash = strrchr(exe_dir, '/');
            cr_assert(slash);
            *slash = 0;
        }
        strcat(exe_dir, "/helpers");
        dir = exe_dir;
    }
    char *b = buf[k++ % 8];
    snprintf(b, sizeof buf[0], "%s/%s", dir, name);
    return b;
}

/* Number of descriptors this process has open. */
static inline int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    cr_assert(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory's own fd */
}

/* Children of this process (any state); *zombies gets how many are zombies. */
static inline int count_children(int *zombies)
{
    DIR *d = opendir("/proc");
    cr_assert(d);
    int n = 0, z = 0;
    pid_t me = getpid();
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char path[300], buf[512];
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t len = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[len] = 0;
        char *rp = strrchr(buf, ')');
        char state;
        int ppid;
        if (rp && sscanf(rp + 2, "%c %d", &state, &ppid) == 2 && ppid == me) {
            n++;
            z += state == 'Z';
        }
    }
    closedir(d);
    if (zombies)
        *zombies = z;
    return n;
}

/* Whether a process is gone or a zombie (dead, perhaps not reaped by PID 1). */
static inline int proc_dead(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 1;
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = 0;
    char *rp = strrchr(buf, ')');
    return !rp || rp[2] == 'Z' || rp[2] == 'X';
}

/* Read fd to EOF into a malloc'ed NUL-terminated string. */
static inline char *read_all(int fd, size_t *lenp)
{
    size_t cap = 4096, len = 0;
    char *s = malloc(cap);
    for (;;) {
        if (len + 1 >= cap)
            s = realloc(s, cap *= 2);
        ssize_t n = read(fd, s + len, cap - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    s[len] = 0;
    if (lenp)
        *lenp = len;
    return s;
}

/* CI runs the unit programs under valgrind with LP_VALGRIND=1: big sizes and counts shrink. */
static inline bool under_valgrind(void)
{
    const char *v = getenv("LP_VALGRIND");
    return v && *v == '1';
}

/* A size or count: the environment variable `env` overrides (when set and not empty), else
 * `normal`, or `valgrind` under valgrind. */
static inline size_t test_count(const char *env, size_t normal, size_t valgrind)
{
    const char *v = getenv(env);
    if (v && *v)
        return (size_t)strtoul(v, NULL, 10);
    return under_valgrind() ? valgrind : normal;
}

static inline double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Spawn argv with stdout piped, read it all, wait; returns the output (malloc'ed). */
static inline char *spawn_capture(lp_spawn_opts *o, int *rc)
{
    o->out = LP_PIPE;
    lp_proc *p;
    int r = lp_spawn(&p, o);
    cr_assert_eq(r, 0, "spawn %s: %s", o->argv[0], lp_proc_errmsg(NULL));
    char *s = read_all(lp_proc_fd(p, 1), NULL);
    cr_assert_eq(lp_proc_wait(p, -1, rc), 0);
    lp_proc_free(p);
    return s;
}

#endif
