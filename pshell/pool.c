/* pshell — the pool builtin: run a command once per input item, N at a time (GNU parallel's
 * habits), on libpipe's worker pool.
 *
 *   pool [OPTIONS] COMMAND [ARG...] [::: ITEM... | :::: FILE]...     items from the arguments
 *   ... | pool [OPTIONS] COMMAND [ARG...]                            items: lines of stdin
 *   pool [OPTIONS] { list; } [::: ITEM...]...                        a body as the job
 *
 * Items only ever become argv words (or positional parameters of a function or body): they are
 * never parsed as shell code.  A program job is one lp_pool_submit; a builtin, a function, a
 * body, and any job whose words use {%} (the slot is only known when the job starts) run as
 * lp_pool_submit_call jobs: the forked child builds its words, then runs them as a subshell
 * would.  Output is captured per job and printed whole when the job ends (with -k, in input
 * order), or streamed line by line with --line-buffer.  Status: the number of failed jobs
 * (at most 101), or 255 for a usage error, as parallel. */
#include "libpipe.h"
#include "shell.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define POOL_EUSAGE 255  /* bad option or usage, as parallel */
#define POOL_MAX_JOBS 256 /* -j 0: "as many as possible" */
#define POOL_MAX_STATUS 101

/* ---- options ----------------------------------------------------------------------------------- */
enum halt_when { HALT_NONE, HALT_SOON, HALT_NOW };

typedef struct popts {
    int jobs;
    bool keep, line_buffer, dry_run, bar, null_sep;
    long timeout_ms; /* 0: none (as for the timeout builtin) */
    int tries;       /* --retries N: attempts in all, as parallel (0 and 1: no retry) */
    enum halt_when halt;
    int halt_fail, halt_success; /* thresholds (0: not used) */
    const char *joblog;
} popts;

static void usage_error(const char *fmt, const char *what)
{
    fputs("pshell: pool: ", stderr);
    fprintf(stderr, fmt, what);
    fputc('\n', stderr);
}

int sh_parse_int(const char *who, const char *opt, const char *s, int lo, int hi, int *out)
{
    char *e;
    errno = 0;
    long v = strtol(s, &e, 10);
    if (!*s || *e || errno || v < lo || v > hi) {
        fprintf(stderr, "pshell: %s: %s: invalid number '%s' (%d..%d)\n", who, opt, s, lo, hi);
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int parse_halt(const char *s, popts *o)
{
    const char *comma = strchr(s, ',');
    size_t wl = comma ? (size_t)(comma - s) : strlen(s);
    if (wl == 3 && strncmp(s, "now", 3) == 0)
        o->halt = HALT_NOW;
    else if (wl == 4 && strncmp(s, "soon", 4) == 0)
        o->halt = HALT_SOON;
    else if (wl == 5 && strncmp(s, "never", 5) == 0 && !comma) {
        o->halt = HALT_NONE;
        return 0;
    } else
        goto bad;
    if (!comma)
        goto bad;
    const char *cond = comma + 1;
    int n;
    if (strncmp(cond, "fail=", 5) == 0 && sh_parse_int("pool", "--halt fail", cond + 5, 1, INT_MAX, &n) == 0)
        o->halt_fail = n;
    else if (strncmp(cond, "success=", 8) == 0 &&
             sh_parse_int("pool", "--halt success", cond + 8, 1, INT_MAX, &n) == 0)
        o->halt_success = n;
    else
        goto bad;
    return 0;
bad:
    usage_error("--halt: '%s': expected now,fail=N  soon,fail=N  now,success=N  soon,success=N  never", s);
    return -1;
}

static int online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (n > POOL_MAX_JOBS ? POOL_MAX_JOBS : (int)n) : 1;
}

/* Options up to the command (or up to the body: words then all belong to the options).
 * Returns the index of the first command word, or -1 (reported). */
static int parse_opts(int argc, char **argv, popts *o)
{
    *o = (popts){.jobs = online_cpus()};
    int i = 1;
    while (i < argc) {
        const char *a = argv[i];
        if (a[0] != '-' || !a[1])
            break;
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        /* option with a value: -jN, -j N, --jobs N, --jobs=N, --timeout=DUR ... */
        const char *val = NULL;
        const char *name = a;
        char nb[32];
        static const char *const with_val[] = {"--jobs", "--timeout", "--retries", "--halt",
                                               "--joblog", NULL};
        bool takes = false;
        if (a[1] == 'j') {
            name = "-j";
            takes = true;
            if (a[2])
                val = a + 2;
        } else if (a[1] == '-') {
            const char *eq = strchr(a, '=');
            size_t l = eq ? (size_t)(eq - a) : strlen(a);
            for (int k = 0; with_val[k]; k++)
                if (strlen(with_val[k]) == l && strncmp(a, with_val[k], l) == 0) {
                    takes = true;
                    if (l < sizeof nb) {
                        memcpy(nb, a, l);
                        nb[l] = 0;
                        name = nb;
                    }
                    if (eq)
                        val = eq + 1;
                }
        }
        if (takes) {
            if (!val) {
                if (i + 1 >= argc) {
                    usage_error("%s: needs a value", name);
                    return -1;
                }
                val = argv[++i];
            }
            i++;
            if (strcmp(name, "-j") == 0 || strcmp(name, "--jobs") == 0) {
                int n;
                if (sh_parse_int("pool", name, val, 0, 100000, &n) < 0)
                    return -1;
                o->jobs = n == 0 ? POOL_MAX_JOBS : n;
            } else if (strcmp(name, "--timeout") == 0) {
                o->timeout_ms = sh_parse_duration(val);
                if (o->timeout_ms < 0) {
                    usage_error("--timeout: '%s': invalid duration (examples: 1.5  2s  100ms  1m)", val);
                    return -1;
                }
            } else if (strcmp(name, "--retries") == 0) {
                if (sh_parse_int("pool", name, val, 0, 1000, &o->tries) < 0)
                    return -1;
            } else if (strcmp(name, "--halt") == 0) {
                if (parse_halt(val, o) < 0)
                    return -1;
            } else {
                o->joblog = val;
            }
            continue;
        }
        if (strcmp(a, "-k") == 0 || strcmp(a, "--keep-order") == 0)
            o->keep = true;
        else if (strcmp(a, "--line-buffer") == 0 || strcmp(a, "--lb") == 0)
            o->line_buffer = true;
        else if (strcmp(a, "--dry-run") == 0)
            o->dry_run = true;
        else if (strcmp(a, "--bar") == 0)
            o->bar = true;
        else if (strcmp(a, "-0") == 0 || strcmp(a, "--null") == 0)
            o->null_sep = true;
        else {
            usage_error("%s: unknown option", a);
            return -1;
        }
        i++;
    }
    return i;
}

/* ---- strings ------------------------------------------------------------------------------------ */
typedef struct sbuf {
    char *s;
    size_t n, cap;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->s = xrealloc(b->s, b->cap);
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
}

static void sb_str(sbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

static char *sb_take(sbuf *b)
{
    if (!b->s)
        return xstrdup("");
    char *s = b->s;
    *b = (sbuf){0};
    return s;
}

/* a word as sh reads it back: as is when it holds only safe characters, else in '...' */
static void sb_quoted(sbuf *b, const char *w)
{
    bool safe = *w != 0;
    for (const char *p = w; *p && safe; p++)
        safe = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-+=./:,@%^", *p) != NULL;
    if (safe) {
        sb_str(b, w);
        return;
    }
    sb_add(b, "'", 1);
    for (const char *p = w; *p; p++) {
        if (*p == '\'')
            sb_str(b, "'\\''");
        else
            sb_add(b, p, 1);
    }
    sb_add(b, "'", 1);
}

static void sb_words(sbuf *b, char **v, int n)
{
    for (int i = 0; i < n; i++) {
        if (i)
            sb_add(b, " ", 1);
        sb_quoted(b, v[i]);
    }
}

/* ---- replacement strings ------------------------------------------------------------------------- */
enum rkind { R_ITEM, R_NOEXT, R_BASE, R_DIR, R_BASE_NOEXT, R_SEQ, R_SLOT };

/* A replacement string at s: {} {.} {/} {//} {/.} {#} {%}, or {N} {N.} {N/} {N//} {N/.} for
 * input source N.  Its length (0: none there), *idx (0: every source) and *kind. */
static size_t repl_at(const char *s, int *idx, enum rkind *kind)
{
    if (s[0] != '{')
        return 0;
    const char *p = s + 1;
    *idx = 0;
    if ((p[0] == '#' || p[0] == '%') && p[1] == '}') {
        *kind = p[0] == '#' ? R_SEQ : R_SLOT;
        return 3;
    }
    int n = 0;
    bool digits = false;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (n < 1000000)
            n = n * 10 + (*p - '0');
        digits = true;
    }
    if (digits && n == 0)
        return 0;
    static const struct { const char *t; enum rkind k; } forms[] = {
        {"}", R_ITEM}, {".}", R_NOEXT}, {"/}", R_BASE}, {"//}", R_DIR}, {"/.}", R_BASE_NOEXT},
    };
    for (size_t k = 0; k < sizeof forms / sizeof forms[0]; k++) {
        size_t l = strlen(forms[k].t);
        if (strncmp(p, forms[k].t, l) == 0) {
            *idx = n;
            *kind = forms[k].k;
            return (size_t)(p - s) + l;
        }
    }
    return 0;
}

/* {.}: without the extension of the last path component (parallel: s:\.[^/.]*$::) */
static size_t noext_len(const char *s, size_t n)
{
    for (size_t i = n; i > 0; i--) {
        if (s[i - 1] == '/')
            break;
        if (s[i - 1] == '.')
            return i - 1;
    }
    return n;
}

static void sb_transform(sbuf *b, const char *s, enum rkind k)
{
    size_t n = strlen(s);
    const char *base = strrchr(s, '/');
    base = base ? base + 1 : s;
    switch (k) {
    case R_ITEM:
        sb_add(b, s, n);
        break;
    case R_NOEXT:
        sb_add(b, s, noext_len(s, n));
        break;
    case R_BASE:
        sb_str(b, base);
        break;
    case R_BASE_NOEXT:
        sb_add(b, base, noext_len(base, strlen(base)));
        break;
    case R_DIR: {
        /* dirname(1): "a/b" -> "a", "b" -> ".", "/b" -> "/", "a/b/" -> "a" */
        while (n > 1 && s[n - 1] == '/')
            n--;
        while (n > 0 && s[n - 1] != '/')
            n--;
        if (n == 0) {
            sb_str(b, ".");
            break;
        }
        while (n > 1 && s[n - 1] == '/')
            n--;
        sb_add(b, s, n);
        break;
    }
    case R_SEQ:
    case R_SLOT:
        break;
    }
}

/* ---- the run ------------------------------------------------------------------------------------- */
typedef struct prun prun;

/* a job: its seq (1, 2, ... in input order), one item per input source */
typedef sh_job pjob;

struct prun {
    sh_jobtmpl t; /* the template (t.ngroups: the number of input sources) */
    popts o;
    char ***groups; /* input sources: NULL-terminated item lists */
    size_t *gn;
    char **bufs; /* storage of items read from files, freed at the end */
    int nbufs;
    pjob *jobs;
    size_t njobs;
    char **argsv; /* njobs * ngroups item pointers */
    int logfd;
    int nfail, nsucc;
    bool halted;
    int halt_status; /* >= 0: the status a halt on failure gives */
    /* jobs are submitted as slots free up (a halt then starts nothing more); nsub and the
     * futures are shared with the interrupt watcher, under mu */
    pthread_mutex_t mu;
    size_t nsub, nended;
    bool stopping;
};

/* The words of job j (slot: its slot, 0 when not known): the template with its replacement
 * strings replaced, the items appended when it has none.  A word that is exactly a
 * replacement of every source ({} with two ::: lists) gives one word per item. */
void sh_job_words(const sh_job *j, int slot, strlist *out)
{
    const sh_jobtmpl *r = j->t;
    char num[32];
    for (int w = 0; w < r->ntmpl; w++) {
        const char *t = r->tmpl[w];
        int idx;
        enum rkind k;
        size_t l = repl_at(t, &idx, &k);
        if (l && !t[l] && idx == 0 && k <= R_BASE_NOEXT && r->ngroups > 1) {
            for (int g = 0; g < r->ngroups; g++) {
                sbuf b = {0};
                sb_transform(&b, j->args[g], k);
                sl_push(out, sb_take(&b));
            }
            continue;
        }
        sbuf b = {0};
        for (const char *p = t; *p;) {
            l = repl_at(p, &idx, &k);
            if (!l || idx > r->ngroups) {
                sb_add(&b, p, 1);
                p++;
                continue;
            }
            p += l;
            if (k == R_SEQ || k == R_SLOT) {
                snprintf(num, sizeof num, "%llu",
                         (unsigned long long)(k == R_SEQ ? j->seq : (uint64_t)slot));
                sb_str(&b, num);
            } else if (idx > 0)
                sb_transform(&b, j->args[idx - 1], k);
            else
                for (int g = 0; g < r->ngroups; g++) {
                    if (g)
                        sb_add(&b, " ", 1);
                    sb_transform(&b, j->args[g], k);
                }
        }
        sl_push(out, sb_take(&b));
    }
    if (!r->has_repl && !r->body)
        for (int g = 0; g < r->ngroups; g++)
            sl_push(out, xstrdup(j->args[g]));
    if (r->body)
        for (int g = 0; g < r->ngroups; g++)
            sl_push(out, xstrdup(j->args[g]));
}

/* Signals that would kill the shell (not trapped, not ignored) while jobs run: the jobs run in
 * process groups of their own, so a kill of the shell alone would leave them (and what they
 * started) running.  Our handler makes the watcher stop every job; then the shell restores
 * the default action and dies of the signal as it would have. */
static const int fatal_sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
#define NFATAL (sizeof fatal_sigs / sizeof fatal_sigs[0])
static struct sigaction fatal_old[NFATAL];
static bool fatal_set[NFATAL];
static volatile sig_atomic_t fatal_sig;
static int fatal_pipe[2] = {-1, -1};
static pid_t fatal_pid;
static struct sigaction old_pipe; /* SIGPIPE is ignored while jobs run: EPIPE stops the pool */

static void on_fatal(int sig)
{
    if (getpid() != fatal_pid) { /* a job's child between fork and exec: as without us */
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    int e = errno;
    fatal_sig = sig;
    (void)!write(fatal_pipe[1], "", 1);
    errno = e;
}

static void fatal_install(void)
{
    fatal_sig = 0;
    fatal_pid = getpid();
    if (fatal_pipe[0] < 0 && pipe2(fatal_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
        return;
    char b[64];
    while (read(fatal_pipe[0], b, sizeof b) > 0) /* nothing from an earlier run counts */
        ;
    for (size_t k = 0; k < NFATAL; k++) {
        fatal_set[k] = false;
        if (sigaction(fatal_sigs[k], NULL, &fatal_old[k]) < 0 || fatal_old[k].sa_handler != SIG_DFL)
            continue;
        struct sigaction sa = {.sa_handler = on_fatal};
        sigemptyset(&sa.sa_mask);
        fatal_set[k] = sigaction(fatal_sigs[k], &sa, NULL) == 0;
    }
}

/* put back the shell's actions (also in a job's child) */
static void fatal_restore(void)
{
    for (size_t k = 0; k < NFATAL; k++)
        if (fatal_set[k]) {
            sigaction(fatal_sigs[k], &fatal_old[k], NULL);
            fatal_set[k] = false;
        }
}

void sh_jobs_signals_begin(void)
{
    /* a reader of our output that goes away (pool ... | head) gives EPIPE, not our death:
     * then every job is stopped, with its process group, not only its first process */
    struct sigaction ign = {.sa_handler = SIG_IGN};
    sigemptyset(&ign.sa_mask);
    sigaction(SIGPIPE, &ign, &old_pipe);
    fatal_install();
}

void sh_jobs_signals_end(void)
{
    sigaction(SIGPIPE, &old_pipe, NULL);
    fatal_restore();
    if (fatal_sig) { /* every job is gone: now die of it, as without the pool */
        char b[64];
        while (read(fatal_pipe[0], b, sizeof b) > 0)
            ;
        sh_flush();
        kill(getpid(), fatal_sig);
    }
}

int sh_jobs_fatal_sig(void)
{
    return fatal_sig;
}

/* the child of a call job (builtin, function, body, or a command using {%}) */
static int job_child(void *arg)
{
    pjob *j = arg;
    sigaction(SIGPIPE, &old_pipe, NULL);
    fatal_restore();
    lp_set_wait_interrupt(-1); /* not the one of the thread that forked us (queue work sets one) */
    const char *s = getenv("LP_POOL_SLOT");
    int slot = s ? atoi(s) : 0;
    if (s)
        var_set("LP_POOL_SLOT", s, V_EXPORT);
    strlist w = {0};
    sh_job_words(j, slot, &w);
    if (w.n == 0)
        _exit(0);
    sh_child_run(w.n, w.v, j->t->body);
}

static void emit(sh_jobtmpl *r, int fd, const char *p, size_t n)
{
    if (n == 0 || (fd == 1 && r->write_errno))
        return;
    if (r->bar && fd == 2)
        sh_write_all(2, "\r\033[K", 4);
    if (sh_write_all(fd, p, n) < 0 && fd == 1)
        r->write_errno = errno;
}

/* --line-buffer: whole lines as they come, on this (the driving) thread */
static int on_line(void *ctx, int stdio, const char *data, size_t len)
{
    pjob *j = ctx;
    if (stdio == 1)
        j->received += len;
    emit(j->t, stdio == 2 ? 2 : 1, data, len);
    return 0;
}

/* the command line of a job for messages and the job log */
static char *job_text(const pjob *j)
{
    const sh_jobtmpl *r = j->t;
    strlist w = {0};
    sh_job_words(j, lp_future_slot(j->f), &w);
    sbuf b = {0};
    if (r->body)
        sb_str(&b, w.n ? "{ ... } " : "{ ... }");
    sb_words(&b, w.v, w.n);
    sl_free(&w);
    return sb_take(&b);
}

/* a job that could not be started: the shell's message ("frob: command not found") */
static int start_failure(const pjob *j, int err)
{
    strlist w = {0};
    sh_job_words(j, lp_future_slot(j->f), &w);
    const char *name = w.n ? w.v[0] : "";
    const char *d = lp_future_errmsg(j->f);
    int st = 126;
    if (err == -ENOENT) {
        st = 127;
        fprintf(stderr, "pshell: %s: %s\n", name,
                strchr(name, '/') ? "No such file or directory" : "command not found");
    } else if (err == -EACCES)
        fprintf(stderr, "pshell: %s: Permission denied\n", name);
    else
        fprintf(stderr, "pshell: %s: %s\n", name, d && *d ? d : lp_strerror(err));
    sl_free(&w);
    return st;
}

static void log_job(prun *r, pjob *j, const lp_result *res, int exitval, int sig)
{
    if (r->logfd < 0)
        return;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    double wall = res ? res->usage.wall_s : 0;
    double start = (double)now.tv_sec + now.tv_nsec / 1e9 - wall;
    char *cmd = job_text(j);
    char head[160];
    int n = snprintf(head, sizeof head, "%llu\t:\t%.3f\t%.3f\t0\t%zu\t%d\t%d\t",
                     (unsigned long long)j->seq, start, wall,
                     r->o.line_buffer ? j->received : res ? res->out.len : 0, exitval, sig);
    sbuf b = {0};
    sb_add(&b, head, (size_t)n);
    sb_str(&b, cmd);
    sb_add(&b, "\n", 1);
    sh_write_all(r->logfd, b.s, b.n);
    free(b.s);
    free(cmd);
}

/* a job ended: count it, log it, report what went wrong, check --halt */
static void job_ended(prun *r, pjob *j)
{
    j->done = true;
    int err = lp_future_error(j->f);
    const lp_result *res = lp_future_result(j->f);
    if (err == -ECANCELED) {
        if (res && res->attempts > 0)
            log_job(r, j, res, 0, res->rc < 0 ? -res->rc : 0);
        return;
    }
    int st = 0;
    bool started = err == 0 || err == LP_ECHECK || err == -ETIMEDOUT;
    if (!started) {
        /* printed after the job's output would be, in order with it: see show() */
        st = err == -ENOENT ? 127 : 126;
        log_job(r, j, res, st, 0);
    } else {
        st = lp_rc_shell(res ? res->rc : 1);
        log_job(r, j, res, res && res->rc > 0 ? res->rc : 0, res && res->rc < 0 ? -res->rc : 0);
    }
    if (err == 0)
        r->nsucc++;
    else
        r->nfail++;
    if (r->halted || r->o.halt == HALT_NONE)
        return;
    bool fail_hit = r->o.halt_fail && err != 0 && r->nfail >= r->o.halt_fail;
    bool succ_hit = r->o.halt_success && err == 0 && r->nsucc >= r->o.halt_success;
    if (!fail_hit && !succ_hit)
        return;
    r->halted = true;
    r->halt_status = fail_hit ? (st ? st : 1) : 0;
    if (r->o.halt == HALT_NOW)
        for (size_t i = 0; i < r->nsub; i++)
            if (!r->jobs[i].done && r->jobs[i].f)
                lp_future_cancel(r->jobs[i].f);
}

/* print a job's output (stdout, then stderr) and what went wrong */
void sh_job_show(sh_job *j)
{
    sh_jobtmpl *r = j->t;
    int err = lp_future_error(j->f);
    if (err == -ECANCELED)
        return;
    const lp_result *res = lp_future_result(j->f);
    if (!r->line_buffer && res) {
        emit(r, 1, res->out.data, res->out.len);
        emit(r, 2, res->err.data, res->err.len);
    }
    if (err != 0 && err != LP_ECHECK && err != -ETIMEDOUT) {
        if (r->bar)
            sh_write_all(2, "\r\033[K", 4);
        start_failure(j, err);
    } else if (err == -ETIMEDOUT) {
        char *cmd = job_text(j);
        fprintf(stderr, "pshell: %s: timed out: %s\n", r->who, cmd);
        free(cmd);
    }
}

static void show_bar(prun *r, lp_pool *p, bool last)
{
    if (!r->t.bar)
        return;
    size_t pend = 0, run = 0, done = 0;
    lp_pool_stats(p, &pend, &run, &done);
    char b[128];
    int n = snprintf(b, sizeof b, "\r%zu%% %zu/%zu running %zu\033[K%s",
                     r->njobs ? done * 100 / r->njobs : 100, done, r->njobs, run, last ? "\n" : "");
    sh_write_all(2, b, (size_t)n);
}

/* program lookup, cached for the common case of one program for every job */
static const char *lookup(sh_jobtmpl *r, const char *name)
{
    if (r->cached_name && strcmp(r->cached_name, name) == 0)
        return r->cached_path;
    free(r->cached_name);
    free(r->cached_path);
    r->cached_name = xstrdup(name);
    r->cached_path = path_search(name);
    return r->cached_path;
}

int sh_job_submit(lp_pool *p, sh_job *j)
{
    sh_jobtmpl *r = j->t;
    lp_run_opts ro = {0};
    if (r->line_buffer) {
        ro.on_output = on_line;
        ro.ctx = j;
        ro.lines = true;
    }
    strlist w = {0};
    bool call = r->body || r->has_slot;
    if (!call) {
        sh_job_words(j, 0, &w);
        call = w.n == 0 || sh_is_builtin_or_func(w.v[0]);
    }
    int e;
    if (call) {
        lp_spawn_opts so = {.in = LP_DEVNULL, .out = LP_PIPE, .err = LP_PIPE};
        e = lp_pool_submit_call(p, job_child, j, &so, &ro, &j->f);
    } else {
        lp_spawn_opts so = {0};
        char **owned = NULL;
        const char *path = lookup(r, w.v[0]);
        sh_job_spawn_opts(&so, w.v, path, r->pass, &owned);
        if (so.handled_signals)
            r->handled = *so.handled_signals;
        else
            sigemptyset(&r->handled);
        for (size_t k = 0; k < NFATAL; k++)
            sigaddset(&r->handled, fatal_sigs[k]);
        so.handled_signals = &r->handled;
        so.in = LP_DEVNULL;
        so.out = LP_PIPE;
        so.err = LP_PIPE;
        e = lp_pool_submit(p, &so, &ro, &j->f);
        free(owned);
    }
    sl_free(&w);
    if (e == 0 && j->f)
        lp_future_set_data(j->f, j);
    return e;
}

/* submit jobs while a slot is free and no halt or interrupt stopped the run: 0 or an error
 * (reported) */
static int submit_more(prun *r, lp_pool *p)
{
    /* with --halt only what may start now; else as many again waiting, which the pool starts
     * the moment a job ends */
    size_t window = (size_t)r->o.jobs * (r->o.halt == HALT_NONE ? 2 : 1);
    while (r->nsub < r->njobs && r->nsub - r->nended < window && !r->halted) {
        pthread_mutex_lock(&r->mu);
        int e = r->stopping ? 0 : sh_job_submit(p, &r->jobs[r->nsub]);
        if (e == 0 && !r->stopping)
            r->nsub++;
        bool stop = r->stopping;
        pthread_mutex_unlock(&r->mu);
        if (stop)
            return 0;
        if (e < 0) {
            fprintf(stderr, "pshell: pool: cannot submit job %zu: %s\n", r->nsub + 1, lp_strerror(e));
            return e;
        }
    }
    return 0;
}

static int dry_run(prun *r)
{
    for (size_t i = 0; i < r->njobs && !r->t.write_errno; i++) {
        pjob *j = &r->jobs[i];
        strlist w = {0};
        sh_job_words(j, (int)((j->seq - 1) % (uint64_t)r->o.jobs) + 1, &w);
        sbuf b = {0};
        if (r->t.body)
            sb_str(&b, w.n ? "{ ... } " : "{ ... }");
        sb_words(&b, w.v, w.n);
        sb_add(&b, "\n", 1);
        emit(&r->t, 1, b.s, b.n);
        free(b.s);
        sl_free(&w);
    }
    return r->t.write_errno ? 1 : 0;
}

/* Interrupts.  A thread of ours waits (poll, no CPU) for the shell's self-pipe, written by its
 * handlers of Ctrl-C and trapped signals, and for the signals caught by sh_jobs_signals_begin,
 * and then calls its function (pool: cancel every job, so that lp_pool_next returns them at
 * once and the loop sees the interrupt; it touches only the pool and the futures, both
 * thread-safe). */
struct sh_intr_watch {
    void (*fn)(void *ctx);
    void *ctx;
    int intr_fd, stop[2];
    pthread_t t;
};

static void *watch_main(void *arg)
{
    sh_intr_watch *w = arg;
    struct pollfd pf[3] = {{.fd = w->stop[0], .events = POLLIN}, {.fd = w->intr_fd, .events = POLLIN},
                           {.fd = fatal_pipe[0], .events = POLLIN}};
    while (poll(pf, 3, -1) < 0 && errno == EINTR)
        ;
    if (!pf[0].revents && ((pf[1].revents | pf[2].revents) & (POLLIN | POLLHUP)))
        w->fn(w->ctx);
    return NULL;
}

sh_intr_watch *sh_intr_watch_start(void (*fn)(void *ctx), void *ctx)
{
    sh_intr_watch *w = xmalloc(sizeof *w);
    *w = (sh_intr_watch){.fn = fn, .ctx = ctx, .intr_fd = sh_signal_fd(), .stop = {-1, -1}};
    if ((w->intr_fd < 0 && fatal_pipe[0] < 0) || pipe2(w->stop, O_CLOEXEC) < 0) {
        free(w);
        return NULL;
    }
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old); /* the shell's handlers run on this thread only */
    bool on = pthread_create(&w->t, NULL, watch_main, w) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!on) {
        close(w->stop[0]);
        close(w->stop[1]);
        free(w);
        return NULL;
    }
    return w;
}

void sh_intr_watch_stop(sh_intr_watch *w)
{
    if (!w)
        return;
    (void)!write(w->stop[1], "", 1);
    pthread_join(w->t, NULL);
    close(w->stop[0]);
    close(w->stop[1]);
    free(w);
}

static void pool_on_intr(void *ctx)
{
    prun *r = ctx;
    pthread_mutex_lock(&r->mu);
    r->stopping = true;
    for (size_t i = 0; i < r->nsub; i++)
        lp_future_cancel(r->jobs[i].f);
    pthread_mutex_unlock(&r->mu);
}

static int run_jobs(prun *r)
{
    if (r->o.joblog) {
        r->logfd = open(r->o.joblog, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
        if (r->logfd < 0) {
            fprintf(stderr, "pshell: pool: --joblog: %s: %s\n", r->o.joblog, strerror(errno));
            return POOL_EUSAGE;
        }
        static const char hdr[] =
            "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n";
        sh_write_all(r->logfd, hdr, sizeof hdr - 1);
    }
    lp_pool_opts po = {
        .workers = r->o.jobs,
        .job_timeout_ms = (int)r->o.timeout_ms,
        .retries = r->o.tries > 1 ? r->o.tries - 1 : 0,
        .kill_grace_ms = 200,
    };
    lp_pool *p = lp_pool_new(&po);
    if (!p) {
        fprintf(stderr, "pshell: pool: cannot create the pool: %s\n", strerror(errno));
        return POOL_EUSAGE;
    }
    r->t.bar = r->o.bar && isatty(2);
    int status = 0;
    sh_jobs_signals_begin();
    size_t next_show = 0;
    status = sh_interrupt_status(); /* drains the self-pipe: what is left there is news */
    sh_intr_watch *w = sh_intr_watch_start(pool_on_intr, r);
    if (!status && submit_more(r, p) < 0)
        status = POOL_EUSAGE;
    while (!status) {
        lp_future *f = NULL;
        int e = lp_pool_next(p, -1, &f);
        if ((status = sh_interrupt_status()) != 0)
            break;
        if (fatal_sig) {
            status = 128 + fatal_sig;
            break;
        }
        if (e == -ECHILD)
            break;
        if (e < 0) {
            fprintf(stderr, "pshell: pool: %s\n", lp_strerror(e));
            status = 1;
            break;
        }
        pjob *j = lp_future_data(f);
        r->nended++;
        job_ended(r, j);
        if (!r->o.keep || r->o.line_buffer)
            sh_job_show(j);
        else
            while (next_show < r->njobs && r->jobs[next_show].done)
                sh_job_show(&r->jobs[next_show++]);
        show_bar(r, p, false);
        if (r->t.write_errno)
            break;
        if (submit_more(r, p) < 0) {
            status = POOL_EUSAGE;
            break;
        }
    }
    sh_intr_watch_stop(w);
    show_bar(r, p, true);
    lp_pool_free(p); /* kills what still runs (interrupted, write error) */
    sh_jobs_signals_end();
    if (r->t.write_errno) {
        if (r->t.write_errno == EPIPE) /* a reader that went away: as a SIGPIPE death */
            return status ? status : 128 + 13;
        fprintf(stderr, "pshell: pool: write error: %s\n", strerror(r->t.write_errno));
        return status ? status : 1;
    }
    if (status)
        return status;
    if (r->halted && r->halt_status >= 0)
        return r->halt_status; /* parallel: the failing job's status; 0 after success=N */
    return r->nfail > POOL_MAX_STATUS ? POOL_MAX_STATUS : r->nfail;
}

/* ---- input sources and the entry points ------------------------------------------------------------ */
static bool is_sep(const char *w)
{
    return strcmp(w, ":::") == 0 || strcmp(w, "::::") == 0;
}

static void add_group(prun *r, char **items, size_t n)
{
    r->groups = xrealloc(r->groups, (size_t)(r->t.ngroups + 1) * sizeof *r->groups);
    r->gn = xrealloc(r->gn, (size_t)(r->t.ngroups + 1) * sizeof *r->gn);
    r->groups[r->t.ngroups] = items;
    r->gn[r->t.ngroups] = n;
    r->t.ngroups++;
}

/* the lines (or NUL-separated items with -0) of a file, "-" or NULL: stdin */
static int read_group(prun *r, const char *name)
{
    int fd = 0;
    if (name && strcmp(name, "-") != 0) {
        fd = open(name, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            fprintf(stderr, "pshell: pool: %s: %s\n", name, strerror(errno));
            return -1;
        }
    }
    size_t len = 0;
    char *buf = sh_read_fd(fd, &len);
    int e = errno;
    if (fd != 0)
        close(fd);
    if (!buf) {
        fprintf(stderr, "pshell: pool: %s: %s\n", name ? name : "standard input", strerror(e));
        return -1;
    }
    r->bufs = xrealloc(r->bufs, (size_t)(r->nbufs + 1) * sizeof *r->bufs);
    r->bufs[r->nbufs++] = buf;
    char sep = r->o.null_sep ? '\0' : '\n';
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += buf[i] == sep;
    if (len > 0 && buf[len - 1] != sep)
        n++;
    char **items = xmalloc((n + 1) * sizeof *items);
    size_t k = 0;
    for (size_t i = 0; i < len && k < n;) {
        items[k++] = buf + i;
        while (i < len && buf[i] != sep)
            i++;
        if (i < len)
            buf[i++] = 0;
    }
    items[n] = NULL;
    r->bufs = xrealloc(r->bufs, (size_t)(r->nbufs + 1) * sizeof *r->bufs);
    r->bufs[r->nbufs++] = (char *)items;
    add_group(r, items, n);
    return 0;
}

/* ::: ITEM... and :::: FILE... after the command (or the body); none: stdin */
static int collect_sources(prun *r, char **v, int n)
{
    int i = 0;
    while (i < n) {
        if (strcmp(v[i], ":::") == 0) {
            int s = ++i;
            while (i < n && !is_sep(v[i]))
                i++;
            add_group(r, v + s, (size_t)(i - s));
        } else if (strcmp(v[i], "::::") == 0) {
            int s = ++i;
            for (; i < n && !is_sep(v[i]); i++)
                if (read_group(r, v[i]) < 0)
                    return -1;
            if (i == s) {
                usage_error("%s: needs a file name after it", "::::");
                return -1;
            }
        } else {
            usage_error("%s: expected ::: or :::: here", v[i]);
            return -1;
        }
    }
    if (r->t.ngroups == 0)
        return read_group(r, NULL);
    return 0;
}

int sh_jobtmpl_check(sh_jobtmpl *r)
{
    for (int w = 0; w < r->ntmpl; w++)
        for (const char *p = r->tmpl[w]; *p; p++) {
            int idx;
            enum rkind k;
            size_t l = repl_at(p, &idx, &k);
            if (!l)
                continue;
            if (idx > r->ngroups) {
                char t[64];
                snprintf(t, sizeof t, "%.*s", (int)l, p);
                fprintf(stderr, "pshell: %s: %s: there %s only %d input source%s\n", r->who, t,
                        r->ngroups == 1 ? "is" : "are", r->ngroups, r->ngroups == 1 ? "" : "s");
                return -1;
            }
            r->has_repl = true;
            r->has_slot |= k == R_SLOT;
            p += l - 1;
        }
    return 0;
}

void sh_jobtmpl_done(sh_jobtmpl *t)
{
    free(t->cached_name);
    free(t->cached_path);
    t->cached_name = t->cached_path = NULL;
}

static int make_jobs(prun *r)
{
    size_t n = 1;
    for (int g = 0; g < r->t.ngroups; g++) {
        if (r->gn[g] && n > (size_t)100000000 / r->gn[g]) {
            usage_error("%s: more than 100000000 jobs", "::: lists");
            return -1;
        }
        n *= r->gn[g];
    }
    r->njobs = n;
    if (n == 0)
        return 0;
    size_t ng = (size_t)(r->t.ngroups ? r->t.ngroups : 1);
    r->jobs = xcalloc(n, sizeof *r->jobs);
    r->argsv = xcalloc(n * ng, sizeof *r->argsv);
    size_t *at = xcalloc(ng, sizeof *at); /* odometer: the last source turns fastest */
    for (size_t i = 0; i < n; i++) {
        pjob *j = &r->jobs[i];
        j->t = &r->t;
        j->seq = i + 1;
        j->args = r->argsv + i * ng;
        for (int g = 0; g < r->t.ngroups; g++)
            j->args[g] = r->groups[g][at[g]];
        for (int g = r->t.ngroups - 1; g >= 0; g--) {
            if (++at[g] < r->gn[g])
                break;
            at[g] = 0;
        }
    }
    free(at);
    return 0;
}

static int pool_run(const popts *o, char **tmpl, int ntmpl, node *body, char **sources, int nsrc)
{
    prun r = {.t = {.who = "pool", .tmpl = tmpl, .ntmpl = ntmpl, .body = body, .line_buffer = o->line_buffer},
              .o = *o, .logfd = -1, .halt_status = -1};
    pthread_mutex_init(&r.mu, NULL);
    int st = POOL_EUSAGE;
    if (collect_sources(&r, sources, nsrc) < 0 || sh_jobtmpl_check(&r.t) < 0 || make_jobs(&r) < 0)
        goto out;
    sh_flush();
    st = r.o.dry_run ? dry_run(&r) : run_jobs(&r);
out:
    if (r.logfd >= 0)
        close(r.logfd);
    for (int i = 0; i < r.nbufs; i++)
        free(r.bufs[i]);
    free(r.bufs);
    free(r.groups);
    free(r.gn);
    free(r.jobs);
    free(r.argsv);
    sh_jobtmpl_done(&r.t);
    pthread_mutex_destroy(&r.mu);
    return st;
}

int bi_pool(int argc, char **argv)
{
    popts o;
    int i = parse_opts(argc, argv, &o);
    if (i < 0)
        return POOL_EUSAGE;
    int k = i;
    while (k < argc && !is_sep(argv[k]))
        k++;
    if (k == i) {
        usage_error("%s", "no command given (usage: pool [OPTIONS] COMMAND [ARG...] [::: ITEM...])");
        return POOL_EUSAGE;
    }
    return pool_run(&o, argv + i, k - i, NULL, argv + k, argc - k);
}

int sh_pool_body(int npre, char **pre, node *body, int npost, char **post)
{
    char **v = xmalloc((size_t)(npre + 2) * sizeof *v);
    v[0] = "pool";
    for (int i = 0; i < npre; i++)
        v[i + 1] = pre[i];
    v[npre + 1] = NULL;
    popts o;
    int st = POOL_EUSAGE;
    int i = parse_opts(npre + 1, v, &o);
    if (i >= 0 && i <= npre)
        usage_error("%s: unexpected before the body (a body takes its items after it)", v[i]);
    else if (i >= 0)
        st = pool_run(&o, NULL, 0, body, post, npost);
    free(v);
    return st;
}
