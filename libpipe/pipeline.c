/* Multi-stage pipelines: a | b | c.
 *
 * Every stage is an lp_proc: program stages come from lp_spawn (the vfork fast path), function
 * stages from fork() and are adopted with a pidfd.  All share one process group.  Inner pipes
 * are created one at a time and the parent closes its copies as soon as the stages that use
 * them exist, so it never holds an inner end: EOF and SIGPIPE travel exactly as in a shell.
 * The pipeline's own ends live in an lp_proc without a process, so communicate is the same
 * code as for one child. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct stage {
    lp_spawn_opts o; /* deep copy (program stages) */
    int (*fn)(void *);
    void *arg;
    lp_proc *p;
};

struct lp_pipeline {
    struct stage *st;
    size_t n, cap;
    bool pipefail, sigpipe_ok, started;
    int start_err; /* lp_pipeline_start failed with this: nothing runs */
    pid_t pgroup;  /* option */
    pid_t pgid;    /* the group the stages are in (0: the caller's) */
    bool own_group; /* pgid is a group the first stage created: ours to signal as a whole */
    lp_proc *ends; /* fds[0..2]: the pipeline's stdin / stdout / captured stderr */
    char errmsg[LP_ERRMSG_MAX];
};

/* ---- building ------------------------------------------------------------------------------ */

lp_pipeline *lp_pipeline_new(void)
{
    lp_pipeline *pl = calloc(1, sizeof *pl);
    if (!pl)
        return NULL;
    pl->pgroup = LP_PGROUP_NEW;
    pl->ends = lp__proc_ends();
    if (!pl->ends) {
        free(pl);
        return NULL;
    }
    return pl;
}

void lp_pipeline_set_pipefail(lp_pipeline *pl, bool on)
{
    pl->pipefail = on;
}

void lp_pipeline_set_sigpipe_ok(lp_pipeline *pl, bool on)
{
    pl->sigpipe_ok = on;
}

void lp_pipeline_set_pgroup(lp_pipeline *pl, pid_t pgroup)
{
    pl->pgroup = pgroup;
}

static struct stage *push(lp_pipeline *pl)
{
    if (pl->n == pl->cap) {
        size_t cap = pl->cap ? pl->cap * 2 : 4;
        struct stage *s = realloc(pl->st, cap * sizeof *s);
        if (!s)
            return NULL;
        pl->st = s;
        pl->cap = cap;
    }
    struct stage *s = &pl->st[pl->n];
    memset(s, 0, sizeof *s);
    return s;
}

int lp_pipeline_add(lp_pipeline *pl, const lp_spawn_opts *stage)
{
    if (pl->started)
        return -EBUSY;
    if (!stage || !stage->argv || !stage->argv[0])
        return -EINVAL;
    struct stage *s = push(pl);
    if (!s || lp__opts_copy(&s->o, stage) < 0)
        return -ENOMEM;
    pl->n++;
    return 0;
}

int lp_pipeline_add_fn(lp_pipeline *pl, int (*fn)(void *arg), void *arg)
{
    if (pl->started)
        return -EBUSY;
    if (!fn)
        return -EINVAL;
    struct stage *s = push(pl);
    if (!s)
        return -ENOMEM;
    s->fn = fn;
    s->arg = arg;
    pl->n++;
    return 0;
}

static bool fn_stdio_ok(const lp_stdio *x, bool is_err)
{
    return x->kind == LP_STDIO_INHERIT || x->kind == LP_STDIO_PIPE || x->kind == LP_STDIO_DEVNULL ||
           (x->kind == LP_STDIO_FD && x->fd >= 0) || (is_err && x->kind == LP_STDIO_STDOUT);
}

int lp_pipeline_add_fn_opts(lp_pipeline *pl, int (*fn)(void *arg), void *arg, const lp_spawn_opts *o)
{
    if (o && (!fn_stdio_ok(&o->in, false) || !fn_stdio_ok(&o->out, false) || !fn_stdio_ok(&o->err, true)))
        return -EINVAL;
    int r = lp_pipeline_add_fn(pl, fn, arg);
    if (r == 0 && o) {
        struct stage *s = &pl->st[pl->n - 1];
        s->o.in = o->in;
        s->o.out = o->out;
        s->o.err = o->err;
    }
    return r;
}

/* ---- starting ------------------------------------------------------------------------------ */

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

/* A function stage: fork, wire stdio, close every descriptor of this pipeline, run fn. */
static int start_fn(lp_pipeline *pl, size_t i, int in, int out, int err, int *others, size_t nothers,
                    lp_proc **pp)
{
    fflush(NULL); /* no buffered output of ours is written twice */
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        if (pl->pgroup != LP_PGROUP_INHERIT && setpgid(0, pl->pgid ? pl->pgid : 0) < 0) {
            /* as a program stage would fail with the errno: do not run in the wrong group */
            const char m[] = "libpipe: function stage: setpgid failed\n";
            (void)!write(2, m, sizeof m - 1);
            _exit(126);
        }
        int src[3] = {in, out, err};
        for (int k = 0; k < 3; k++) /* move sources above 2 so no dup2 clobbers another */
            if (src[k] >= 0 && src[k] < 3)
                src[k] = fcntl(src[k], F_DUPFD_CLOEXEC, 3);
        for (int k = 0; k < 3; k++)
            if (src[k] >= 0)
                dup2(src[k], k);
        for (size_t k = 0; k < nothers; k++)
            if (others[k] > 2)
                close(others[k]);
        signal(SIGPIPE, SIG_DFL);
        int r = pl->st[i].fn(pl->st[i].arg);
        fflush(NULL);
        _exit(r & 255);
    }
    pid_t pg = pl->pgroup == LP_PGROUP_INHERIT ? 0 : pl->pgid ? pl->pgid : pid;
    if (pg)
        setpgid(pid, pg); /* also here, so the group exists before we go on (as shells do) */
    errno = 0;
    *pp = lp__proc_adopt(pid, pg == pid);
    if (!*pp) {
        int e = errno ? -errno : -ENOMEM;
        kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        return e;
    }
    return 0;
}

static void kill_started(lp_pipeline *pl)
{
    if (pl->own_group)
        kill(-pl->pgid, SIGKILL);
    for (size_t i = 0; i < pl->n; i++)
        if (pl->st[i].p) {
            lp_proc_kill(pl->st[i].p, SIGKILL);
            lp_proc_wait(pl->st[i].p, -1, NULL);
        }
}

int lp_pipeline_start(lp_pipeline *pl)
{
    if (pl->started)
        return -EBUSY;
    if (pl->n == 0) {
        lp__set_errmsg(pl->errmsg, "pipeline: no stages");
        return -EINVAL;
    }
    pl->started = true;
    pl->pgid = pl->pgroup > 0 ? pl->pgroup : 0;
    int *e = pl->ends->fds; /* our ends */
    int in_rd = -1, err_wr = -1, out_wr = -1, next_rd = -1, r = 0;

    /* the pipeline's stdin, stdout and shared stderr pipes */
    const lp_stdio *first_in = &pl->st[0].o.in;
    const lp_stdio *last_out = &pl->st[pl->n - 1].o.out;
    int pfd[2];
    if (first_in && first_in->kind == LP_STDIO_PIPE) {
        if (pipe2(pfd, O_CLOEXEC) < 0)
            goto sys_fail;
        in_rd = pfd[0];
        e[0] = pfd[1];
    }
    bool want_err = false;
    for (size_t i = 0; i < pl->n; i++)
        want_err |= pl->st[i].o.err.kind == LP_STDIO_PIPE;
    if (want_err) {
        if (pipe2(pfd, O_CLOEXEC) < 0)
            goto sys_fail;
        e[2] = pfd[0];
        err_wr = pfd[1];
    }
    if (last_out && last_out->kind == LP_STDIO_PIPE) {
        if (pipe2(pfd, O_CLOEXEC) < 0)
            goto sys_fail;
        e[1] = pfd[0];
        out_wr = pfd[1];
    }

    for (size_t i = 0; i < pl->n; i++) {
        struct stage *s = &pl->st[i];
        bool last = i == pl->n - 1;
        int cur_rd = i == 0 ? in_rd : next_rd; /* this stage's stdin, -1: as its options say */
        int cur_wr = last ? out_wr : -1;
        next_rd = -1;
        if (!last) {
            if (pipe2(pfd, O_CLOEXEC) < 0)
                goto sys_fail;
            next_rd = pfd[0];
            cur_wr = pfd[1];
        }
        if (s->fn) {
            /* the stage's ends as its options say (program stages resolve them in lp_spawn) */
            int fin = cur_rd, fout = cur_wr, ferr = -1, nul = -1;
            bool need_nul = (i == 0 && fin < 0 && s->o.in.kind == LP_STDIO_DEVNULL) ||
                            (last && fout < 0 && s->o.out.kind == LP_STDIO_DEVNULL) ||
                            s->o.err.kind == LP_STDIO_DEVNULL;
            if (need_nul && (nul = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
                goto sys_fail;
            if (i == 0 && fin < 0)
                fin = s->o.in.kind == LP_STDIO_FD ? s->o.in.fd : s->o.in.kind == LP_STDIO_DEVNULL ? nul : -1;
            if (last && fout < 0)
                fout = s->o.out.kind == LP_STDIO_FD ? s->o.out.fd : s->o.out.kind == LP_STDIO_DEVNULL ? nul : -1;
            switch (s->o.err.kind) {
            case LP_STDIO_PIPE: ferr = err_wr; break;
            case LP_STDIO_FD: ferr = s->o.err.fd; break;
            case LP_STDIO_DEVNULL: ferr = nul; break;
            case LP_STDIO_STDOUT: ferr = fout >= 0 ? fout : 1; break;
            default: break;
            }
            int others[] = {e[0], e[1], e[2], in_rd, err_wr, out_wr, next_rd, cur_wr, cur_rd, nul};
            r = start_fn(pl, i, fin, fout, ferr, others, sizeof others / sizeof others[0], &s->p);
            if (nul >= 0)
                close(nul);
            if (r < 0)
                lp__set_errmsg(pl->errmsg, "stage %zu (function): %s", i, lp_strerror(r));
        } else {
            lp_spawn_opts o = s->o;
            if (i > 0 || cur_rd >= 0)
                o.in = cur_rd >= 0 ? LP_FD(cur_rd) : LP_DEVNULL;
            if (!last || cur_wr >= 0)
                o.out = LP_FD(cur_wr);
            if (o.err.kind == LP_STDIO_PIPE)
                o.err = LP_FD(err_wr);
            o.new_session = false;
            o.pty = false;
            o.pgroup = pl->pgroup == LP_PGROUP_INHERIT ? LP_PGROUP_INHERIT
                       : pl->pgid ? pl->pgid : LP_PGROUP_NEW;
            r = lp_spawn(&s->p, &o);
            if (r < 0)
                lp__set_errmsg(pl->errmsg, "stage %zu (%s): %s", i, s->o.argv[0], lp_proc_errmsg(NULL));
        }
        /* the stage has its copies; ours go now */
        if (i == 0)
            in_rd = -1;
        if (cur_rd >= 0)
            close(cur_rd);
        if (cur_wr >= 0)
            close(cur_wr);
        if (last)
            out_wr = -1;
        if (r < 0)
            goto fail;
        if (pl->pgroup != LP_PGROUP_INHERIT && !pl->pgid) {
            pl->pgid = lp_proc_pid(s->p);
            pl->own_group = true;
        }
    }
    close_fd(&err_wr);
    return 0;

sys_fail:
    r = -errno;
    lp__set_errmsg(pl->errmsg, "pipeline: pipe: %s", lp_strerror(r));
fail:
    pl->start_err = r;
    kill_started(pl);
    close_fd(&in_rd);
    close_fd(&err_wr);
    close_fd(&out_wr);
    close_fd(&next_rd);
    for (int k = 0; k < 3; k++)
        lp_proc_close_fd(pl->ends, k);
    return r;
}

/* ---- running ------------------------------------------------------------------------------- */

int lp_pipeline_fd(const lp_pipeline *pl, int stdio)
{
    return lp_proc_fd(pl->ends, stdio);
}

size_t lp_pipeline_len(const lp_pipeline *pl)
{
    return pl->n;
}

static const lp_proc *stage_proc(const lp_pipeline *pl, size_t i)
{
    return i < pl->n ? pl->st[i].p : NULL;
}

int lp_pipeline_status(const lp_pipeline *pl, size_t stage)
{
    const lp_proc *p = stage_proc(pl, stage);
    if (!p || !lp_proc_done(p))
        return -EAGAIN;
    int rc;
    lp_proc_wait((lp_proc *)p, 0, &rc);
    return rc;
}

pid_t lp_pipeline_pid(const lp_pipeline *pl, size_t stage)
{
    const lp_proc *p = stage_proc(pl, stage);
    return p ? lp_proc_pid(p) : -1;
}

int lp_pipeline_usage(const lp_pipeline *pl, size_t stage, lp_usage *u)
{
    const lp_proc *p = stage_proc(pl, stage);
    return p ? lp_proc_usage(p, u) : -EINVAL;
}

const char *lp_pipeline_errmsg(const lp_pipeline *pl)
{
    return pl->errmsg;
}

static bool any_running(const lp_pipeline *pl)
{
    for (size_t i = 0; i < pl->n; i++)
        if (pl->st[i].p && !lp_proc_done(pl->st[i].p))
            return true;
    return false;
}

int lp_pipeline_kill(lp_pipeline *pl, int sig)
{
    if (sig < 0 || sig >= NSIG)
        return -EINVAL;
    /* The group as a whole only when we created it and a stage still holds its id (so it
     * cannot have been reused); a group we joined may hold others (a shell's job, the caller) */
    if (pl->own_group && any_running(pl) && kill(-pl->pgid, sig) == 0)
        return 0;
    int r = -ESRCH;
    for (size_t i = 0; i < pl->n; i++)
        if (pl->st[i].p && !lp_proc_done(pl->st[i].p) && lp_proc_kill(pl->st[i].p, sig) == 0)
            r = 0;
    return r;
}

void lp_pipeline_close_fd(lp_pipeline *pl, int stdio)
{
    lp_proc_close_fd(pl->ends, stdio);
}

static int wait_all(lp_pipeline *pl, lp_deadline d, int *rc)
{
    if (!pl->started)
        return -EINVAL;
    if (pl->start_err)
        return pl->start_err;
    int result = 0;
    for (size_t i = 0; i < pl->n; i++) {
        int r, s;
        if ((r = lp_proc_wait(pl->st[i].p, lp__remaining_ms(d), &s)) < 0)
            return r;
        if (pl->sigpipe_ok && s == -SIGPIPE)
            s = 0;
        if (!pl->pipefail || s != 0)
            result = s;
        if (!pl->pipefail && i + 1 < pl->n)
            result = 0;
    }
    if (rc)
        *rc = result;
    return 0;
}

int lp_pipeline_wait(lp_pipeline *pl, int timeout_ms, int *rc)
{
    return wait_all(pl, lp__deadline(timeout_ms), rc);
}

pid_t lp_pipeline_pgid(const lp_pipeline *pl)
{
    return pl->started ? pl->pgid : 0;
}

int lp_pipeline_wait_job(lp_pipeline *pl, int *rc)
{
    if (!pl->started || pl->start_err || !pl->own_group)
        return pl->start_err ? pl->start_err : -EINVAL;
    for (;;) {
        /* everything ended? (reaps what has) */
        bool running = false;
        for (size_t i = 0; i < pl->n; i++)
            if (lp_proc_wait(pl->st[i].p, 0, NULL) == -ETIMEDOUT)
                running = true;
        if (!running)
            return wait_all(pl, lp__deadline(0), rc);
        /* The group is ours alone (its leader is our first stage), so any state change in it is
         * one of our stages.  WNOWAIT: an exit is left for lp_proc_wait to reap (above). */
        siginfo_t si;
        memset(&si, 0, sizeof si);
        if (waitid(P_PGID, (id_t)pl->pgid, &si, WEXITED | WSTOPPED | WNOWAIT) < 0) {
            if (errno == EINTR)
                continue;
            if (errno == ECHILD)
                continue; /* all reaped meanwhile: the loop above sees it */
            return -errno;
        }
        if (si.si_code == CLD_STOPPED) {
            /* consume this stop report (the child stays ours, unreaped) */
            siginfo_t s2;
            while (waitid(P_PID, (id_t)si.si_pid, &s2, WSTOPPED) < 0 && errno == EINTR)
                ;
            return LP_ESTOPPED;
        }
        /* an exit: reap that stage now (without a pidfd its waiter thread may not have
         * noticed yet, and the loop would spin on the same report) */
        for (size_t i = 0; i < pl->n; i++)
            if (lp_proc_pid(pl->st[i].p) == si.si_pid) {
                lp_proc_wait(pl->st[i].p, -1, NULL);
                break;
            }
    }
}

static int communicate(lp_pipeline *pl, const void *in, size_t n, lp_buf *out, lp_buf *err,
                       const struct lp__comm_opts *co, lp_deadline d)
{
    if (!pl->started)
        return -EINVAL;
    if (pl->start_err)
        return pl->start_err;
    int r = lp__communicate(pl->ends, in, n, out, err, co, d, NULL);
    if (r == 0)
        r = wait_all(pl, d, NULL);
    return r;
}

int lp_pipeline_communicate(lp_pipeline *pl, const void *in, size_t n, lp_buf *out, lp_buf *err,
                            int timeout_ms)
{
    struct lp__comm_opts co = {0};
    return communicate(pl, in, n, out, err, &co, lp__deadline(timeout_ms));
}

int lp_pipeline_run(lp_pipeline *pl, const lp_run_opts *r, lp_result *res)
{
    static const lp_run_opts defaults;
    if (!r)
        r = &defaults;
    memset(res, 0, sizeof *res);
    if (pl->start_err)
        return pl->start_err;
    if (pl->n && r->input && !pl->st[0].fn && pl->st[0].o.in.kind == LP_STDIO_INHERIT)
        pl->st[0].o.in = LP_PIPE;
    if (r->contain != LP_CONTAIN_NONE && pl->pgroup == LP_PGROUP_INHERIT)
        pl->pgroup = LP_PGROUP_NEW;
    int err = lp_pipeline_start(pl);
    if (err < 0) {
        lp__set_errmsg(lp__tls_errmsg(), "%s", pl->errmsg);
        return err;
    }
    lp__enlarge_out_pipes(pl->ends);
    struct lp__comm_opts co = {.max_output = r->max_output, .truncated = &res->truncated,
                               .cb = r->on_output, .ctx = r->ctx, .lines = r->lines};
    lp_buf *out = r->on_output ? NULL : &res->out, *errb = r->on_output ? NULL : &res->err;
    lp_deadline d = r->timeout_ms > 0 ? lp__deadline(r->timeout_ms) : -1;
    err = communicate(pl, r->input, r->input_len, out, errb, &co, d);
    if (err == -ETIMEDOUT) {
        res->timed_out = true;
        if (r->kill_grace_ms > 0) {
            lp_pipeline_kill(pl, SIGTERM);
            communicate(pl, NULL, 0, out, errb, &co, lp__deadline(r->kill_grace_ms));
        }
        /* the group too when every stage already ended: members that ignored SIGTERM */
        if (pl->own_group)
            kill(-pl->pgid, SIGKILL);
        lp_pipeline_kill(pl, SIGKILL);
        wait_all(pl, -1, NULL);
        lp__communicate(pl->ends, NULL, 0, out, errb, &co, lp__deadline(0), NULL);
    } else if (err != 0) {
        lp_pipeline_kill(pl, SIGKILL);
        wait_all(pl, -1, NULL);
        lp__set_errmsg(lp__tls_errmsg(), "pipeline: %s", lp_strerror(err));
    }
    wait_all(pl, -1, &res->rc);
    lp_proc *last = pl->st[pl->n - 1].p;
    lp_proc_usage(last, &res->usage);
    res->pid = lp_proc_pid(last);
    res->attempts = 1;
    if (err == 0 && r->check && res->rc != 0)
        err = LP_ECHECK;
    return err;
}

void lp_pipeline_free(lp_pipeline *pl)
{
    if (!pl)
        return;
    lp_pipeline_kill(pl, SIGKILL);
    for (size_t i = 0; i < pl->n; i++) {
        lp_proc_free(pl->st[i].p); /* SIGKILLs and reaps a stage still running */
        if (!pl->st[i].fn)
            lp__opts_free(&pl->st[i].o);
    }
    lp_proc_free(pl->ends);
    free(pl->st);
    free(pl);
}

lp_proc *lp__pipeline_ends(lp_pipeline *pl)
{
    return pl->ends;
}

lp_proc *lp__pipeline_stage(lp_pipeline *pl, size_t i)
{
    return i < pl->n ? pl->st[i].p : NULL;
}

lp_pipeline *lp__pipeline_clone(const lp_pipeline *src)
{
    lp_pipeline *pl = lp_pipeline_new();
    if (!pl)
        return NULL;
    pl->pipefail = src->pipefail;
    pl->sigpipe_ok = src->sigpipe_ok;
    pl->pgroup = src->pgroup;
    for (size_t i = 0; i < src->n; i++) {
        const struct stage *s = &src->st[i];
        int r = s->fn ? lp_pipeline_add_fn_opts(pl, s->fn, s->arg, &s->o) : lp_pipeline_add(pl, &s->o);
        if (r < 0) {
            lp_pipeline_free(pl);
            return NULL;
        }
    }
    return pl;
}

bool lp__pipeline_started(const lp_pipeline *pl)
{
    return pl->started;
}

void lp__pipeline_stdin_pipe(lp_pipeline *pl)
{
    if (pl->n && pl->st[0].o.in.kind == LP_STDIO_INHERIT)
        pl->st[0].o.in = LP_PIPE;
}
