/* pipeline_bench — the pipeline yardstick (DESIGN.md section 6): build, start and wait for
 * multi-stage pipelines with lp_pipeline, and time the same pipelines run by a shell.
 *
 *   pipeline_bench true8 N             lp: N times lp_pipeline_new + 8 x lp_pipeline_add of
 *                                      /bin/true + lp_pipeline_start + lp_pipeline_wait +
 *                                      lp_pipeline_free (default options: one new process
 *                                      group, stdin and stdout inherited)
 *   pipeline_bench zero2g [SIZE]       lp: HEAD -c SIZE /dev/zero | CAT | CAT | WC -c through
 *                                      lp_pipeline_run, the last stage's .out = LP_PIPE
 *                                      (captured), default lp_run_opts
 *   pipeline_bench sh_true8 SHELL N    SHELL -c 'i=0; while [ $i -lt N ]; do /bin/true | ...
 *                                      (8 stages) || exit 1; i=$((i+1)); done'
 *   pipeline_bench sh_zero2g SHELL [SIZE]  SHELL -c 'HEAD -c SIZE /dev/zero | CAT | CAT | WC -c'
 *
 * SIZE defaults to 2G (head's syntax: N, NK, NM or NG, powers of 1024).  HEAD, CAT and WC are
 * the absolute paths of head, cat and wc found in PATH (as `command -v` does), so lp and the
 * shell run the same binaries without a PATH search; /bin/true is absolute as well.
 *
 * lp modes: one untimed warm-up pipeline (true8) / nothing (zero2g), then the timed work on
 * CLOCK_MONOTONIC, from before lp_pipeline_new to after lp_pipeline_free.  Shell modes: the
 * shell is started with posix_spawn() (stdout a pipe this program reads), once untimed with
 * N = 1 (true8 only), then timed from before posix_spawn() to after waitpid(); that includes
 * the shell's own start-up (about 1 ms: well under 0.1% of a run).  Output, one line:
 *
 *   MODE_true8 n=N per_pipeline_us=X.X
 *   MODE_zero2g secs=S mib_per_s=X
 *
 * where MODE is lp or the shell's basename (dash, bash).  zero2g checks that the output is the
 * byte count and a newline ("2147483648\n" for 2G).  Any failure (start error, a stage or the
 * shell not exiting 0, wrong output) prints a message and exits non-zero. */
#include "libpipe.h"

#include <errno.h>
#include <limits.h>
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

#define TRUE_PROG "/bin/true"
#define STAGES 8
#define MIB (1024.0 * 1024.0)

static char mode[64] = "pipeline_bench";

__attribute__((noreturn)) static void die(const char *what, const char *detail)
{
    fprintf(stderr, "pipeline_bench %s: %s: %s\n", mode, what, detail);
    exit(1);
}

__attribute__((noreturn)) static void usage(void)
{
    fprintf(stderr, "usage: pipeline_bench true8 N\n"
                    "       pipeline_bench zero2g [SIZE]\n"
                    "       pipeline_bench sh_true8 SHELL N\n"
                    "       pipeline_bench sh_zero2g SHELL [SIZE]\n"
                    "  (SIZE: N, NK, NM or NG; default 2G)\n");
    exit(2);
}

/* SIZE in head's syntax (N, NK, NM, NG: powers of 1024) -> bytes. */
static unsigned long long parse_size(const char *s)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    int shift = 0;
    if (*end == 'K')
        shift = 10, end++;
    else if (*end == 'M')
        shift = 20, end++;
    else if (*end == 'G')
        shift = 30, end++;
    if (errno || end == s || *end || s[0] < '0' || s[0] > '9' || v > (ULLONG_MAX >> shift)) {
        fprintf(stderr, "pipeline_bench: bad size '%s'\n", s);
        usage();
    }
    return v << shift;
}

/* The absolute path of `name` in PATH (an executable regular file), like `command -v`. */
static char *which(const char *name)
{
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    for (const char *p = path;;) {
        const char *colon = strchr(p, ':');
        size_t len = colon ? (size_t)(colon - p) : strlen(p);
        if (len > 0 && p[0] == '/') {
            char buf[PATH_MAX];
            int k = snprintf(buf, sizeof buf, "%.*s/%s", (int)len, p, name);
            if (k > 0 && (size_t)k < sizeof buf && access(buf, X_OK) == 0) {
                char *r = strdup(buf);
                if (!r)
                    die("which", strerror(ENOMEM));
                return r;
            }
        }
        if (!colon)
            break;
        p = colon + 1;
    }
    die(name, "not found in PATH");
}

/* ---- lp ---------------------------------------------------------------------------------- */

static char *const true_argv[] = {TRUE_PROG, NULL};

static void lp_true8_once(void)
{
    lp_pipeline *pl = lp_pipeline_new();
    if (!pl)
        die("lp_pipeline_new", strerror(ENOMEM));
    lp_spawn_opts o = {.argv = true_argv, .in = LP_INHERIT, .out = LP_INHERIT, .err = LP_INHERIT};
    for (int i = 0; i < STAGES; i++) {
        int r = lp_pipeline_add(pl, &o);
        if (r < 0)
            die("lp_pipeline_add", lp_strerror(r));
    }
    int r = lp_pipeline_start(pl);
    if (r < 0)
        die("lp_pipeline_start", lp_pipeline_errmsg(pl));
    int rc;
    r = lp_pipeline_wait(pl, -1, &rc);
    if (r < 0)
        die("lp_pipeline_wait", lp_pipeline_errmsg(pl));
    for (size_t i = 0; i < STAGES; i++) {
        int s = lp_pipeline_status(pl, i);
        if (s != 0) {
            char buf[64];
            snprintf(buf, sizeof buf, "stage %zu: rc %d", i, s);
            die(TRUE_PROG, buf);
        }
    }
    lp_pipeline_free(pl);
}

static void lp_true8(long n)
{
    lp_true8_once(); /* warm-up: page cache, dynamic linker, lazy bindings */
    double t0 = now_s();
    for (long i = 0; i < n; i++)
        lp_true8_once();
    double t1 = now_s();
    printf("lp_true8 n=%ld per_pipeline_us=%.1f\n", n, (t1 - t0) / (double)n * 1e6);
}

struct tools {
    char *head, *cat, *wc;
};

static struct tools find_tools(void)
{
    return (struct tools){.head = which("head"), .cat = which("cat"), .wc = which("wc")};
}

static void check_count(const char *out, size_t len, unsigned long long bytes)
{
    char want[32];
    snprintf(want, sizeof want, "%llu\n", bytes);
    if (len != strlen(want) || memcmp(out, want, len) != 0) {
        char buf[96];
        snprintf(buf, sizeof buf, "output '%.*s', expected '%llu\\n'", (int)(len > 40 ? 40 : len),
                 out, bytes);
        die("wc -c", buf);
    }
}

static void report_zero(const char *name, unsigned long long bytes, double secs)
{
    printf("%s_zero2g secs=%.3f mib_per_s=%.1f\n", name, secs, (double)bytes / MIB / secs);
}

static void lp_zero(const char *size, unsigned long long bytes)
{
    struct tools t = find_tools();
    char *const head_argv[] = {t.head, "-c", (char *)size, "/dev/zero", NULL};
    char *const cat_argv[] = {t.cat, NULL};
    char *const wc_argv[] = {t.wc, "-c", NULL};
    char *const *argvs[] = {head_argv, cat_argv, cat_argv, wc_argv};

    double t0 = now_s();
    lp_pipeline *pl = lp_pipeline_new();
    if (!pl)
        die("lp_pipeline_new", strerror(ENOMEM));
    for (size_t i = 0; i < sizeof argvs / sizeof argvs[0]; i++) {
        bool last = i + 1 == sizeof argvs / sizeof argvs[0];
        lp_spawn_opts o = {.argv = argvs[i], .in = LP_INHERIT, .out = last ? LP_PIPE : LP_INHERIT,
                           .err = LP_INHERIT};
        int r = lp_pipeline_add(pl, &o);
        if (r < 0)
            die("lp_pipeline_add", lp_strerror(r));
    }
    lp_result res;
    int r = lp_pipeline_run(pl, NULL, &res);
    if (r < 0)
        die("lp_pipeline_run", lp_pipeline_errmsg(pl));
    for (size_t i = 0; i < sizeof argvs / sizeof argvs[0]; i++) {
        int s = lp_pipeline_status(pl, i);
        if (s != 0) {
            char buf[64];
            snprintf(buf, sizeof buf, "stage %zu (%s): rc %d", i, argvs[i][0], s);
            die("pipeline", buf);
        }
    }
    lp_pipeline_free(pl);
    double t1 = now_s();

    check_count(res.out.data ? res.out.data : "", res.out.len, bytes);
    lp_result_free(&res);
    report_zero("lp", bytes, t1 - t0);
}

/* ---- shells -------------------------------------------------------------------------------- */

/* Run SHELL -c SCRIPT with stdout a pipe; *out gets what it wrote (NUL-terminated, at most
 * cap - 1 bytes kept); returns the wall time from spawn to reap.  Dies unless it exits 0. */
static double run_shell(const char *shell, const char *script, char *out, size_t cap)
{
    int pfd[2];
    if (pipe(pfd) < 0)
        die("pipe", strerror(errno));
    posix_spawn_file_actions_t fa;
    if (posix_spawn_file_actions_init(&fa) != 0 ||
        posix_spawn_file_actions_adddup2(&fa, pfd[1], 1) != 0 ||
        posix_spawn_file_actions_addclose(&fa, pfd[0]) != 0 ||
        posix_spawn_file_actions_addclose(&fa, pfd[1]) != 0)
        die("posix_spawn_file_actions", strerror(ENOMEM));
    char *const argv[] = {(char *)shell, "-c", (char *)script, NULL};

    double t0 = now_s();
    pid_t pid;
    int r = posix_spawn(&pid, shell, &fa, NULL, argv, environ);
    if (r != 0)
        die(shell, strerror(r));
    close(pfd[1]);
    size_t len = 0;
    for (;;) {
        char buf[4096];
        ssize_t k = read(pfd[0], buf, sizeof buf);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            die("read", strerror(errno));
        if (k == 0)
            break;
        size_t keep = (size_t)k < cap - 1 - len ? (size_t)k : cap - 1 - len;
        memcpy(out + len, buf, keep);
        len += keep;
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            die("waitpid", strerror(errno));
    double t1 = now_s();

    close(pfd[0]);
    posix_spawn_file_actions_destroy(&fa);
    out[len] = '\0';
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        char buf[64];
        if (WIFSIGNALED(st))
            snprintf(buf, sizeof buf, "killed by signal %d", WTERMSIG(st));
        else
            snprintf(buf, sizeof buf, "exit status %d", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        die(shell, buf);
    }
    return t1 - t0;
}

static void true8_script(char *buf, size_t cap, long n)
{
    int k = snprintf(buf, cap, "i=0; while [ $i -lt %ld ]; do ", n);
    for (int s = 0; s < STAGES; s++)
        k += snprintf(buf + k, cap - (size_t)k, "%s%s", s ? " | " : "", TRUE_PROG);
    snprintf(buf + k, cap - (size_t)k, " || exit 1; i=$((i+1)); done");
}

static void sh_true8(const char *shell, const char *name, long n)
{
    char script[512], out[64];
    true8_script(script, sizeof script, 1);
    run_shell(shell, script, out, sizeof out); /* warm-up */
    true8_script(script, sizeof script, n);
    double secs = run_shell(shell, script, out, sizeof out);
    printf("%s_true8 n=%ld per_pipeline_us=%.1f\n", name, n, secs / (double)n * 1e6);
}

static void sh_zero(const char *shell, const char *name, const char *size, unsigned long long bytes)
{
    struct tools t = find_tools();
    char script[4 * PATH_MAX + 64], out[64];
    int k = snprintf(script, sizeof script, "%s -c %s /dev/zero | %s | %s | %s -c", t.head, size,
                     t.cat, t.cat, t.wc);
    if (k < 0 || (size_t)k >= sizeof script)
        die("script", "too long");
    double secs = run_shell(shell, script, out, sizeof out);
    check_count(out, strlen(out), bytes);
    report_zero(name, bytes, secs);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        usage();
    const char *m = argv[1];
    snprintf(mode, sizeof mode, "%s", m);
    if (strcmp(m, "true8") == 0 && argc == 3) {
        snprintf(mode, sizeof mode, "lp_true8");
        lp_true8(bench_count("pipeline_bench", argv[2], "count", 1));
    } else if (strcmp(m, "zero2g") == 0 && argc <= 3) {
        snprintf(mode, sizeof mode, "lp_zero2g");
        const char *size = argc == 3 ? argv[2] : "2G";
        lp_zero(size, parse_size(size));
    } else if ((strcmp(m, "sh_true8") == 0 && argc == 4) ||
               (strcmp(m, "sh_zero2g") == 0 && (argc == 3 || argc == 4))) {
        const char *shell = argv[2];
        if (!strchr(shell, '/'))
            shell = which(shell);
        const char *name = strrchr(shell, '/') + 1;
        bool zero = strcmp(m, "sh_zero2g") == 0;
        snprintf(mode, sizeof mode, "%s_%s", name, zero ? "zero2g" : "true8");
        if (zero) {
            const char *size = argc == 4 ? argv[3] : "2G";
            sh_zero(shell, name, size, parse_size(size));
        } else {
            sh_true8(shell, name, bench_count("pipeline_bench", argv[3], "count", 1));
        }
    } else {
        usage();
    }
    return fflush(stdout) == 0 ? 0 : 1;
}
