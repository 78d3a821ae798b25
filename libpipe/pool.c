/* Worker pools: bounded parallelism with futures.
 *
 * A pool is one event loop (loop.c) holding every running job: each job's pipes (through the
 * communicate machinery, lp__comm_start) and the descriptor that becomes readable when its
 * process exits.  Nobody polls: whichever thread waits on the pool (lp_future_wait,
 * lp_pool_next, lp_pool_shutdown, a blocking lp_pool_submit) becomes the driver, runs the loop
 * with the pool unlocked, and after every wake-up, with the pool locked, finishes the jobs that
 * ended, escalates timeouts (SIGTERM, then SIGKILL after the grace period) and starts pending
 * jobs in the freed slots.  Other waiters sleep on a condition variable; a submit, cancel or
 * shutdown from another thread wakes the driver through an eventfd.  The driver alone touches
 * the running jobs, so output callbacks and captures need no lock.
 *
 * Command jobs are lp_spawn children; call jobs are one-stage lp_pipelines of a forked
 * function; function pools (pool_fn.c) keep pre-forked workers on the same loop.  Captured
 * output stays in memory up to spill_bytes per stream, then goes to an unlinked temporary file
 * that the result's lp_buf maps at the end. */
#include "pool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#define SPILL_DEFAULT ((size_t)4 << 20)
#define MAP_MIN ((size_t)1 << 20) /* lp_buf's own threshold for mapped storage */

/* ---- locking and waking ------------------------------------------------------------------- */

void lp__pool_wake(lp_pool *p)
{
    if (p->driving && !pthread_equal(p->driver, pthread_self())) {
        uint64_t one = 1;
        (void)!write(p->wakefd, &one, sizeof one);
    }
}

static void on_wake(lp_loop *l, lp_watch *w, uint32_t ev)
{
    (void)l;
    (void)ev;
    uint64_t v;
    (void)!read(w->fd, &v, sizeof v);
}

/* Sleep on the condition variable until signalled or the deadline (mu held). */
static void cond_wait_until(lp_pool *p, lp_deadline d)
{
    if (d < 0) {
        pthread_cond_wait(&p->cv, &p->mu);
        return;
    }
    struct timespec ts = {.tv_sec = d / 1000000000, .tv_nsec = d % 1000000000};
    pthread_cond_timedwait(&p->cv, &p->mu, &ts);
}

/* ---- futures -------------------------------------------------------------------------------- */

lp_future *lp__future_new(lp_pool *p, enum lp__job_kind kind)
{
    lp_future *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->pool = p;
    f->kind = kind;
    f->spill_fd[1] = f->spill_fd[2] = -1;
    return f;
}

void lp__future_free(lp_future *f)
{
    if (f->tmpl)
        lp_pipeline_free(f->tmpl);
    lp__opts_free(&f->o);
    free(f->input);
    lp_result_free(&f->res);
    for (int i = 1; i <= 2; i++)
        if (f->spill_fd[i] >= 0)
            close(f->spill_fd[i]);
    lp_buf_free(&f->task);
    free(f);
}

void lp__pool_push_front(lp_pool *p, lp_future *f)
{
    f->next = p->pend_head;
    p->pend_head = f;
    if (!p->pend_tail)
        p->pend_tail = f;
    p->npending++;
}

lp_future *lp__pool_pop(lp_pool *p)
{
    lp_future *f = p->pend_head;
    if (f) {
        p->pend_head = f->next;
        if (!p->pend_head)
            p->pend_tail = NULL;
        p->npending--;
        f->next = NULL;
    }
    return f;
}

void lp__pool_fin_push(lp_pool *p, lp_future *f)
{
    f->fin_next = p->fin_head;
    p->fin_head = f;
}

lp_future *lp__pool_fin_take(lp_pool *p)
{
    lp_future *rev = NULL; /* pushed newest first: give them back in the order they ended */
    for (lp_future *f = p->fin_head, *n; f; f = n) {
        n = f->fin_next;
        f->fin_next = rev;
        rev = f;
    }
    p->fin_head = NULL;
    return rev;
}

void lp__pool_push_back(lp_pool *p, lp_future *f)
{
    f->next = NULL;
    if (p->pend_tail)
        p->pend_tail->next = f;
    else
        p->pend_head = f;
    p->pend_tail = f;
    p->npending++;
}

/* Record the end of a job (mu held): done list, counters, callbacks to run, waiters woken. */
void lp__pool_job_done(lp_pool *p, lp_future *f)
{
    f->state = LP__DONE;
    p->ndone++;
    if (!f->hidden) {
        f->next = NULL;
        if (p->done_tail)
            p->done_tail->next = f;
        else
            p->done_head = f;
        p->done_tail = f;
    }
    if ((f->error == 0 && p->o.on_success) || (f->error != 0 && p->o.on_error)) {
        f->cb_next = NULL;
        if (p->cb_tail)
            p->cb_tail->cb_next = f;
        else
            p->cb_head = f;
        p->cb_tail = f;
    }
    pthread_cond_broadcast(&p->cv);
}

static void cancel_pending_job(lp_pool *p, lp_future *f)
{
    f->error = -ECANCELED;
    snprintf(f->errmsg, sizeof f->errmsg, "cancelled before it started");
    lp__pool_job_done(p, f);
}

/* ---- captured output ------------------------------------------------------------------------ */

int lp__write_all(int fd, const char *d, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, d, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        d += w;
        n -= (size_t)w;
    }
    return 0;
}

static int spill_open(lp_pool *p)
{
    int fd = open(p->spill_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
        return fd < 0 ? -errno : fd;
    char path[4200];
    snprintf(path, sizeof path, "%s/lp-pool-XXXXXX", p->spill_dir);
    fd = mkostemp(path, O_CLOEXEC);
    if (fd < 0)
        return -errno;
    unlink(path);
    return fd;
}

/* The output callback of captured jobs: memory up to spill_bytes, then the spill file. */
static int capture_cb(void *ctx, int stdio, const char *data, size_t len)
{
    lp_future *f = ctx;
    lp_pool *p = f->pool;
    lp_buf *b = stdio == 1 ? &f->res.out : &f->res.err;
    size_t max = f->r.max_output;
    if (max && f->stream_len[stdio] + len > max) {
        f->res.truncated = true;
        len = max > f->stream_len[stdio] ? max - f->stream_len[stdio] : 0;
    }
    if (!len)
        return 0;
    f->stream_len[stdio] += len;
    if (f->spill_fd[stdio] < 0 && b->len + len > p->spill_bytes) {
        int fd = spill_open(p);
        if (fd < 0)
            return fd;
        f->spill_fd[stdio] = fd;
        int r = lp__write_all(fd, b->data ? b->data : "", b->len);
        lp_buf_free(b);
        if (r < 0)
            return r;
    }
    if (f->spill_fd[stdio] >= 0)
        return lp__write_all(f->spill_fd[stdio], data, len);
    return lp_buf_append(b, data, len);
}

/* A spilled stream becomes its lp_buf again: mapped from the file (read back when small). */
static int spill_finish(lp_future *f, int stdio)
{
    int fd = f->spill_fd[stdio];
    if (fd < 0)
        return 0;
    f->spill_fd[stdio] = -1;
    lp_buf *b = stdio == 1 ? &f->res.out : &f->res.err;
    size_t total = f->stream_len[stdio];
    int r = 0;
    lp_buf_free(b);
    if (total + 1 < MAP_MIN) {
        if ((r = lp__buf_reserve(b, total)) == 0) {
            ssize_t n = pread(fd, b->data, total, 0);
            b->len = n > 0 ? (size_t)n : 0;
            b->data[b->len] = 0;
            r = n < 0 ? -errno : 0;
        }
    } else if (ftruncate(fd, (off_t)total + 1) < 0) { /* the NUL past len */
        r = -errno;
    } else {
        void *m = mmap(NULL, total + 1, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            r = -errno;
        } else {
            b->data = m;
            b->len = total;
            b->cap = total + 1;
        }
    }
    close(fd);
    return r;
}

/* ---- attempts of command and call jobs ---------------------------------------------------- */

static void attempt_maybe_ended(lp_future *f)
{
    if (f->comm_ended && f->exited && !f->finished) {
        f->finished = true;
        lp__pool_fin_push(f->pool, f);
    }
}

static void on_comm_end(struct lp__comm *c)
{
    lp_future *f = c->data;
    f->comm_ended = true;
    attempt_maybe_ended(f);
}

static void on_job_exit(lp_loop *l, lp_watch *w, uint32_t ev)
{
    (void)ev;
    struct lp__xwatch *x = (struct lp__xwatch *)w;
    lp__loop_del(l, w);
    lp__proc_reap(x->proc, true);
    if (--x->f->xleft == 0) {
        x->f->exited = true;
        attempt_maybe_ended(x->f);
    }
}

/* Signal a running job: its process group (every stage, what they started).  `stragglers`:
 * also once every process we started was reaped (members that ignored SIGTERM). */
static void job_kill(lp_future *f, int sig, bool stragglers)
{
    if (!f->pl) {
        lp_proc_kill_group(f->proc, sig);
    } else if (lp_pipeline_kill(f->pl, sig) == -ESRCH && stragglers && lp_pipeline_pgid(f->pl) > 0 &&
               f->r.contain != LP_CONTAIN_NONE) {
        kill(-lp_pipeline_pgid(f->pl), sig);
    }
}

static int call_trampoline(void *arg)
{
    lp_future *f = arg;
    if (f->pdeath) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != f->parent_pid)
            _exit(137);
    }
    char slot[16];
    snprintf(slot, sizeof slot, "%d", f->slot);
    setenv("LP_POOL_SLOT", slot, 1);
    for (size_t i = 0; f->o.env_set && f->o.env_set[i]; i++) {
        char *eq = strchr(f->o.env_set[i], '=');
        if (eq) {
            *eq = 0;
            setenv(f->o.env_set[i], eq + 1, 1);
            *eq = '=';
        } else {
            unsetenv(f->o.env_set[i]);
        }
    }
    if (f->o.cwd && chdir(f->o.cwd) < 0) {
        dprintf(2, "libpipe: pool: cd '%s': %s\n", f->o.cwd, strerror(errno));
        return 126;
    }
    return f->fn(f->arg);
}

/* Start one attempt of f in f->slot (mu not held, driver).  <0: it could not start. */
static int attempt_start(lp_pool *p, lp_future *f)
{
    f->res.attempts++;
    lp_buf_free(&f->res.out);
    lp_buf_free(&f->res.err);
    f->res.timed_out = f->res.truncated = false;
    f->stream_len[1] = f->stream_len[2] = 0;
    f->comm_ended = f->exited = f->finished = false;
    f->phase = 0;
    f->pdeath = lp__pool_thread_lasts(p);
    f->parent_pid = p->pid;
    int r;
    lp_proc *io;
    if (f->kind == LP__JOB_CMD) {
        snprintf(f->slot_env, SLOT_ENV_MAX, "LP_POOL_SLOT=%d", f->slot);
        lp_spawn_opts so = f->o;
        so.die_with_parent = so.die_with_parent || f->pdeath;
        r = lp_spawn(&f->proc, &so);
        if (r < 0) {
            snprintf(f->errmsg, sizeof f->errmsg, "%s", lp_proc_errmsg(NULL));
            return r;
        }
        io = f->proc;
        f->xw = &f->xw1;
        f->nxw = 1;
        f->xw1.proc = f->proc;
    } else {
        lp_pipeline *pl;
        if (f->kind == LP__JOB_PIPE) {
            pl = lp__pipeline_clone(f->tmpl);
            if (pl && f->r.input_len)
                lp__pipeline_stdin_pipe(pl);
        } else {
            pl = lp_pipeline_new();
            lp_spawn_opts so = {.in = f->o.in, .out = f->o.out, .err = f->o.err};
            if (pl && f->r.contain == LP_CONTAIN_NONE)
                lp_pipeline_set_pgroup(pl, LP_PGROUP_INHERIT);
            if (pl && (r = lp_pipeline_add_fn_opts(pl, call_trampoline, f, &so)) < 0) {
                lp_pipeline_free(pl);
                return r;
            }
        }
        if (!pl)
            return -ENOMEM;
        r = lp_pipeline_start(pl);
        if (r < 0) {
            snprintf(f->errmsg, sizeof f->errmsg, "%s", lp_pipeline_errmsg(pl)[0] ? lp_pipeline_errmsg(pl) : lp_strerror(r));
            lp_pipeline_free(pl);
            return r;
        }
        f->pl = pl;
        io = lp__pipeline_ends(pl);
        f->nxw = lp_pipeline_len(pl);
        f->xw = f->nxw == 1 ? &f->xw1 : calloc(f->nxw, sizeof *f->xw);
        if (!f->xw) {
            lp_pipeline_free(pl); /* kills and reaps the stages */
            f->pl = NULL;
            return -ENOMEM;
        }
        for (size_t i = 0; i < f->nxw; i++)
            f->xw[i].proc = lp__pipeline_stage(pl, i);
    }
    f->res.pid = f->xw[f->nxw - 1].proc->pid;
    f->co = (struct lp__comm_opts){.no_exit_watch = true, .cb = capture_cb, .ctx = f};
    if (f->r.on_output) {
        f->co.cb = f->r.on_output;
        f->co.ctx = f->r.ctx;
        f->co.lines = f->r.lines;
    }
    f->comm.on_end = on_comm_end;
    f->comm.data = f;
    f->xleft = f->nxw;
    r = 0;
    for (size_t i = 0; i < f->nxw && r == 0; i++) {
        struct lp__xwatch *x = &f->xw[i];
        x->f = f;
        x->w = (lp_watch){.fd = x->proc->exitfd, .events = EPOLLIN, .fn = on_job_exit, .data = x};
        if (x->proc->reaped) /* a stage that could not even wait (pidfd fallback) */
            f->xleft--;
        else
            r = lp__loop_add(&p->loop, &x->w);
    }
    if (r == 0)
        r = lp__comm_start(&f->comm, &p->loop, io, f->input, f->r.input_len, NULL, NULL, &f->co);
    if (r == 0 && f->r.input_len && io->fds[0] >= 0) {
        f->fed = true;
        p->feeding++;
    }
    if (r < 0) {
        for (size_t i = 0; i < f->nxw; i++)
            lp__loop_del(&p->loop, &f->xw[i].w);
        lp__comm_stop(&f->comm);
        snprintf(f->errmsg, sizeof f->errmsg, "pool: watching pid %d: %s", (int)f->res.pid, lp_strerror(r));
        f->phase = 2;
        job_kill(f, SIGKILL, false);
        for (size_t i = 0; i < f->nxw; i++)
            lp__proc_reap(f->xw[i].proc, true);
        f->comm_ended = f->exited = true;
        attempt_maybe_ended(f); /* ends as killed */
        return 0;
    }
    if (f->xleft == 0) {
        f->exited = true;
        attempt_maybe_ended(f);
    }
    int t = f->r.timeout_ms > 0 ? f->r.timeout_ms : p->o.job_timeout_ms;
    f->deadline = t > 0 ? lp__deadline(t) : -1;
    return 0;
}

static int grace_ms(lp_pool *p, lp_future *f)
{
    return f->r.kill_grace_ms > 0 ? f->r.kill_grace_ms : p->o.kill_grace_ms;
}

/* Time out or cancel a running attempt: SIGTERM and a grace deadline, or SIGKILL. */
static void attempt_stop(lp_pool *p, lp_future *f)
{
    if (f->phase == 0 && grace_ms(p, f) > 0) {
        f->phase = 1;
        job_kill(f, SIGTERM, false);
        f->deadline = lp__deadline(grace_ms(p, f));
    } else if (f->phase < 2) {
        f->phase = 2;
        job_kill(f, SIGKILL, false);
        f->deadline = -1;
    }
}

/* The attempt's process has ended (mu held): collect its status, release it. */
static void attempt_collect(lp_pool *p, lp_future *f)
{
    int rc = 0;
    if (f->pl) {
        lp_pipeline_wait(f->pl, 0, &rc);
        lp_pipeline_usage(f->pl, f->nxw - 1, &f->res.usage);
    } else {
        lp_proc_wait(f->proc, 0, &rc);
        lp_proc_usage(f->proc, &f->res.usage);
    }
    f->res.rc = rc;
    if (f->phase > 0) /* members of its group that ignored SIGTERM do not survive it */
        job_kill(f, SIGKILL, true);
    for (int i = 1; i <= 2; i++) {
        int r = spill_finish(f, i);
        if (r < 0 && !f->errmsg[0])
            snprintf(f->errmsg, sizeof f->errmsg, "pool: output of pid %d: %s", (int)f->res.pid, lp_strerror(r));
    }
    if (f->fed) {
        f->fed = false;
        p->feeding--;
    }
    if (f->pl)
        lp_pipeline_free(f->pl);
    else
        lp_proc_free(f->proc);
    if (f->xw != &f->xw1)
        free(f->xw);
    f->xw = NULL;
    f->pl = NULL;
    f->proc = NULL;
}

static void describe_rc(char *buf, size_t n, int rc)
{
    if (rc >= 0)
        snprintf(buf, n, "exited with status %d", rc);
    else
        snprintf(buf, n, "killed by signal %d (%s)", -rc, strsignal(-rc));
}

/* An attempt ended (mu held): retry, or the job is done. */
static void attempt_ended(lp_pool *p, lp_future *f)
{
    if (f->kind != LP__JOB_FN)
        attempt_collect(p, f);
    bool failed = f->res.rc != 0 || f->res.timed_out;
    if (failed && !f->cancel_req && f->res.attempts <= p->o.retries && !p->freeing) {
        f->errmsg[0] = 0;
        f->retry = true; /* start_jobs runs it again in its slot before anything pending */
        return;
    }
    p->slots[f->slot - 1] = NULL;
    p->running--;
    if (f->cancel_req) {
        f->error = -ECANCELED;
        snprintf(f->errmsg, sizeof f->errmsg, "cancelled while running");
    } else if (f->res.timed_out) {
        f->error = -ETIMEDOUT;
        int t = f->r.timeout_ms > 0 ? f->r.timeout_ms : p->o.job_timeout_ms;
        snprintf(f->errmsg, sizeof f->errmsg, "timed out after %d ms", t);
    } else if (f->error == 0 && f->res.rc != 0) {
        f->error = f->kind == LP__JOB_FN && f->res.rc < 0 && f->crashed ? -EOWNERDEAD : LP_ECHECK;
        if (!f->errmsg[0])
            describe_rc(f->errmsg, sizeof f->errmsg, f->res.rc);
    }
    lp__pool_job_done(p, f);
}

/* ---- driving --------------------------------------------------------------------------------- */

/* Start what can start (mu held; released around each spawn). */
static void start_jobs(lp_pool *p)
{
    if (p->kind == LP__JOB_FN) {
        lp__fn_start(p);
        return;
    }
    for (int s = 0; s < p->workers; s++) {
        lp_future *f = p->slots[s];
        if (f && f->retry) {
            f->retry = false;
        } else if (!f && p->pend_head && !p->freeing) {
            f = lp__pool_pop(p);
            p->slots[s] = f;
            p->running++;
            f->slot = s + 1;
            f->state = LP__RUNNING;
            pthread_cond_broadcast(&p->cv); /* a submit blocked on max_pending may go on */
        } else {
            continue;
        }
        pthread_mutex_unlock(&p->mu);
        int r = attempt_start(p, f);
        pthread_mutex_lock(&p->mu);
        if (r < 0) { /* never ran: no retry */
            f->error = r;
            f->res.rc = 127;
            p->slots[s] = NULL;
            p->running--;
            lp__pool_job_done(p, f);
            s--; /* the slot is free again */
        }
    }
}

/* Timeouts, cancels and kills of running attempts (mu held). */
static lp_deadline check_running(lp_pool *p)
{
    lp_deadline next = -1;
    int64_t now = lp__now_ns();
    for (int s = 0; s < p->workers; s++) {
        lp_future *f = p->slots[s];
        if (!f || f->kind == LP__JOB_FN || f->finished || f->retry)
            continue;
        if ((f->cancel_req || p->freeing) && f->phase == 0)
            attempt_stop(p, f);
        if (f->deadline >= 0 && now >= f->deadline) {
            if (f->phase == 0 && !f->cancel_req)
                f->res.timed_out = true;
            attempt_stop(p, f);
        }
        if (f->phase == 2 && f->exited && !f->comm_ended) {
            /* killed and reaped: take what the pipes hold, do not wait for an escaped holder */
            lp__comm_drain(&f->comm);
            lp__comm_stop(&f->comm);
            f->comm_ended = true;
            attempt_maybe_ended(f);
        }
        if (f->deadline >= 0 && (next < 0 || f->deadline < next))
            next = f->deadline;
    }
    return next;
}

static void on_interrupt(lp_loop *l, lp_watch *w, uint32_t ev)
{
    (void)ev;
    *(bool *)w->data = true;
    lp__loop_del(l, w);
}

/* One turn of the loop by the driver (mu held on entry and exit).  -EINTR when the thread's
 * interrupt descriptor (lp_set_wait_interrupt) became readable. */
static int drive_step(lp_pool *p, lp_deadline d)
{
    start_jobs(p);
    lp_deadline next = p->kind == LP__JOB_FN ? lp__fn_deadline(p) : check_running(p);
    if (p->fin_head) /* something ended while starting: no waiting */
        d = 0;
    else if (next >= 0 && (d < 0 || next < d))
        d = next;
    pthread_mutex_unlock(&p->mu);
    bool interrupted = false;
    lp_watch w_intr = {.fd = p->freeing ? -1 : lp__wait_interrupt_fd(), .events = EPOLLIN, .fn = on_interrupt, .data = &interrupted};
    if (w_intr.fd >= 0 && lp__loop_add(&p->loop, &w_intr) < 0)
        w_intr.fd = -1;
    /* only writes to a job's stdin pipe can raise SIGPIPE (workers' sockets use
     * MSG_NOSIGNAL): the guard costs three system calls, so only when someone is fed */
    bool guard = p->feeding > 0;
    struct lp__sigpipe sp;
    if (guard)
        lp__sigpipe_block(&sp);
    int n = lp__loop_once(&p->loop, d);
    if (w_intr.fd >= 0)
        lp__loop_del(&p->loop, &w_intr);
    bool epipe = false;
    for (int s = 0; s < p->workers; s++) {
        lp_future *f = p->slots[s];
        if (f && f->comm.epipe) {
            epipe = true;
            f->comm.epipe = false;
        }
    }
    if (guard)
        lp__sigpipe_restore(&sp, epipe);
    pthread_mutex_lock(&p->mu);
    if (p->kind == LP__JOB_FN)
        lp__fn_check(p);
    else
        check_running(p);
    for (lp_future *f = lp__pool_fin_take(p), *nx; f; f = nx) {
        nx = f->fin_next;
        attempt_ended(p, f);
    }
    start_jobs(p);
    return interrupted ? -EINTR : n < 0 ? n : 0;
}

/* Run the pool's callbacks queued by finished jobs (mu held; released around each call). */
static void run_callbacks(lp_pool *p)
{
    while (p->cb_head) {
        lp_future *f = p->cb_head;
        p->cb_head = f->cb_next;
        if (!p->cb_head)
            p->cb_tail = NULL;
        lp_future_cb cb = f->error == 0 ? p->o.on_success : p->o.on_error;
        p->cb_active++;
        pthread_mutex_unlock(&p->mu);
        if (cb)
            cb(f, p->o.cb_ctx);
        pthread_mutex_lock(&p->mu);
        p->cb_active--;
        pthread_cond_broadcast(&p->cv); /* lp_pool_shutdown(wait) waits for callbacks too */
    }
}

/* Drive (or wait for the driver) until cond holds (0) or the deadline passes (-ETIMEDOUT).
 * mu held on entry and exit. */
int lp__pool_drive(lp_pool *p, bool (*cond)(lp_pool *, void *), void *arg, lp_deadline d)
{
    for (;;) {
        if (cond(p, arg))
            return 0;
        /* a pool with its own thread is driven by that thread alone (callbacks run there) */
        bool others = p->thread_drives && !(__atomic_load_n(&p->thread_up, __ATOMIC_ACQUIRE) &&
                                            pthread_equal(pthread_self(), p->thread_id));
        if (p->driving || others) {
            if (d >= 0 && lp__now_ns() >= d)
                return -ETIMEDOUT;
            cond_wait_until(p, d);
            continue;
        }
        p->driving = true;
        p->driver = pthread_self();
        int r = drive_step(p, d);
        p->driving = false;
        pthread_cond_broadcast(&p->cv); /* another waiter may take over */
        run_callbacks(p);
        if (cond(p, arg))
            return 0;
        if (r < 0)
            return r;
        if (d >= 0 && lp__now_ns() >= d)
            return -ETIMEDOUT;
    }
}

static bool cond_false(lp_pool *p, void *arg)
{
    (void)p;
    (void)arg;
    return false;
}

/* ---- public API --------------------------------------------------------------------------- */

int lp__pool_init(lp_pool *p, const lp_pool_opts *o, enum lp__job_kind kind)
{
    static const lp_pool_opts defaults;
    p->o = o ? *o : defaults;
    p->kind = kind;
    p->workers = p->o.workers > 0 ? p->o.workers : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (p->workers < 1)
        p->workers = 1;
    p->spill_bytes = p->o.spill_bytes ? p->o.spill_bytes : SPILL_DEFAULT;
    const char *dir = p->o.spill_dir ? p->o.spill_dir : getenv("TMPDIR");
    p->spill_dir = strdup(dir && *dir ? dir : "/tmp");
    p->o.spill_dir = NULL;
    p->creator = pthread_self();
    p->pid = getpid();
    p->wakefd = -1;
    p->loop.epfd = -1;
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    pthread_mutex_init(&p->mu, &ma);
    pthread_mutexattr_destroy(&ma);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cv, &ca);
    pthread_condattr_destroy(&ca);
    p->slots = calloc((size_t)p->workers, sizeof *p->slots);
    if (!p->slots || !p->spill_dir)
        return -ENOMEM;
    int r = lp__loop_init(&p->loop);
    if (r < 0)
        return r;
    p->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (p->wakefd < 0)
        return -errno;
    p->w_wake = (lp_watch){.fd = p->wakefd, .events = EPOLLIN, .fn = on_wake, .data = p};
    return lp__loop_add(&p->loop, &p->w_wake);
}

bool lp__pool_thread_lasts(lp_pool *p)
{
    pthread_t self = pthread_self();
    return pthread_equal(self, p->creator) ||
           (__atomic_load_n(&p->thread_up, __ATOMIC_ACQUIRE) && pthread_equal(self, p->thread_id));
}

static bool cond_stop_thread(lp_pool *p, void *arg)
{
    (void)arg;
    return p->stop_thread;
}

static void *pool_thread(void *arg)
{
    lp_pool *p = arg;
    p->thread_id = pthread_self();
    __atomic_store_n(&p->thread_up, true, __ATOMIC_RELEASE);
    pthread_mutex_lock(&p->mu);
    while (!p->stop_thread)
        lp__pool_drive(p, cond_stop_thread, NULL, -1);
    p->thread_drives = false;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int lp__pool_start_thread(lp_pool *p)
{
    if (!p->o.own_thread)
        return 0;
    sigset_t all, old;
    sigfillset(&all);
    /* from now on only that thread drives, even before it first runs */
    p->thread_drives = true;
    pthread_sigmask(SIG_SETMASK, &all, &old); /* it never runs the caller's signal handlers */
    int r = pthread_create(&p->thread, NULL, pool_thread, p);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r != 0) {
        p->thread_drives = false;
        return -r;
    }
    p->has_thread = true;
    return 0;
}

lp_pool *lp_pool_new(const lp_pool_opts *o)
{
    lp_pool *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    int r = lp__pool_init(p, o, LP__JOB_CMD);
    if (r == 0)
        r = lp__pool_start_thread(p);
    if (r < 0) {
        lp_pool_free(p);
        errno = -r;
        return NULL;
    }
    return p;
}

static bool cond_room(lp_pool *p, void *arg)
{
    (void)arg;
    return p->shut || !p->o.max_pending || p->npending < p->o.max_pending;
}

/* Queue f (mu not held): waits for room, registers it, starts what can start now. */
int lp__pool_enqueue(lp_pool *p, lp_future *f, lp_future **out)
{
    pthread_mutex_lock(&p->mu);
    int r = lp__pool_drive(p, cond_room, NULL, -1);
    if (p->shut || r < 0) {
        pthread_mutex_unlock(&p->mu);
        lp__future_free(f);
        if (out)
            *out = NULL;
        return r < 0 ? r : -EPIPE;
    }
    f->seq = ++p->nseq;
    f->all_next = p->all_head;
    if (p->all_head)
        p->all_head->all_prev = f;
    p->all_head = f;
    if (!f->hidden)
        p->nvisible++;
    lp__pool_push_back(p, f);
    if (out)
        *out = f;
    if (p->driving || p->thread_drives) {
        lp__pool_wake(p);
    } else if (p->kind == LP__JOB_FN ? lp__fn_has_room(p) : p->running < p->workers) {
        /* start it now: a non-blocking turn of the loop (when every slot is busy the job
         * waits for whoever drives next: a burst of submits costs no loop turns) */
        lp__pool_drive(p, cond_false, NULL, 0);
    }
    pthread_mutex_unlock(&p->mu);
    return 0;
}

static int submit_common(lp_pool *p, lp_future *f, const lp_run_opts *r, lp_future **out)
{
    if (r)
        f->r = *r;
    if (f->r.input && f->r.input_len) {
        if (!(f->input = malloc(f->r.input_len))) {
            lp__future_free(f);
            return -ENOMEM;
        }
        memcpy(f->input, f->r.input, f->r.input_len);
        if (f->o.in.kind == LP_STDIO_INHERIT)
            f->o.in = LP_PIPE;
    }
    f->r.input = f->input;
    if (f->r.contain != LP_CONTAIN_NONE && f->o.pgroup == LP_PGROUP_INHERIT && !f->o.new_session && !f->o.pty)
        f->o.pgroup = LP_PGROUP_NEW;
    return lp__pool_enqueue(p, f, out);
}

int lp_pool_submit(lp_pool *p, const lp_spawn_opts *job, const lp_run_opts *r, lp_future **out)
{
    if (out)
        *out = NULL;
    if (!p || !job || !job->argv || !job->argv[0] || p->kind == LP__JOB_FN)
        return -EINVAL;
    lp_future *f = lp__future_new(p, LP__JOB_CMD);
    if (!f)
        return -ENOMEM;
    /* the copy gets one more env_set entry: LP_POOL_SLOT, written at each start */
    lp_spawn_opts o = *job;
    size_t n = 0;
    while (job->env_set && job->env_set[n])
        n++;
    char **es = calloc(n + 2, sizeof *es);
    if (!es) {
        free(f);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        es[i] = job->env_set[i];
    es[n] = "LP_POOL_SLOT=0";
    o.env_set = es;
    int e = lp__opts_copy(&f->o, &o);
    free(es);
    if (e < 0) {
        free(f);
        return e;
    }
    char *slot = realloc((char *)f->o.env_set[n], SLOT_ENV_MAX);
    if (!slot) {
        lp__future_free(f);
        return -ENOMEM;
    }
    ((char **)f->o.env_set)[n] = slot;
    f->slot_env = slot;
    return submit_common(p, f, r, out);
}

int lp_pool_submit_call(lp_pool *p, int (*fn)(void *arg), void *arg, const lp_spawn_opts *o,
                        const lp_run_opts *r, lp_future **out)
{
    if (out)
        *out = NULL;
    if (!p || !fn || p->kind == LP__JOB_FN)
        return -EINVAL;
    lp_future *f = lp__future_new(p, LP__JOB_CALL);
    if (!f)
        return -ENOMEM;
    f->fn = fn;
    f->arg = arg;
    if (o) {
        lp_spawn_opts c = {.in = o->in, .out = o->out, .err = o->err, .cwd = o->cwd, .env_set = o->env_set};
        if (c.in.kind == LP_STDIO_PATH || c.out.kind == LP_STDIO_PATH || c.err.kind == LP_STDIO_PATH) {
            free(f);
            return -EINVAL;
        }
        int e = lp__opts_copy(&f->o, &c);
        if (e < 0) {
            free(f);
            return e;
        }
    } else {
        f->o.in = f->o.out = f->o.err = LP_INHERIT;
    }
    return submit_common(p, f, r, out);
}

int lp_pool_submit_pipeline(lp_pool *p, const lp_pipeline *pl, const lp_run_opts *r, lp_future **out)
{
    if (out)
        *out = NULL;
    if (!p || !pl || p->kind == LP__JOB_FN || lp_pipeline_len(pl) == 0)
        return -EINVAL;
    if (lp__pipeline_started(pl))
        return -EBUSY;
    lp_future *f = lp__future_new(p, LP__JOB_PIPE);
    if (!f)
        return -ENOMEM;
    if (!(f->tmpl = lp__pipeline_clone(pl))) {
        free(f);
        return -ENOMEM;
    }
    return submit_common(p, f, r, out);
}

static bool cond_done(lp_pool *p, void *arg)
{
    (void)p;
    return ((lp_future *)arg)->state == LP__DONE;
}

int lp_future_wait(lp_future *f, int timeout_ms)
{
    lp_pool *p = f->pool;
    pthread_mutex_lock(&p->mu);
    int r = lp__pool_drive(p, cond_done, f, lp__deadline(timeout_ms));
    pthread_mutex_unlock(&p->mu);
    return r;
}

static bool future_is_done(const lp_future *f)
{
    pthread_mutex_lock(&f->pool->mu);
    bool d = f->state == LP__DONE;
    pthread_mutex_unlock(&f->pool->mu);
    return d;
}

const lp_result *lp_future_result(const lp_future *f)
{
    return f && future_is_done(f) ? &f->res : NULL;
}

int lp_future_error(const lp_future *f)
{
    return future_is_done(f) ? f->error : -EAGAIN;
}

const char *lp_future_errmsg(const lp_future *f)
{
    return future_is_done(f) ? f->errmsg : "";
}

uint64_t lp_future_seq(const lp_future *f)
{
    return f->seq;
}

int lp_future_slot(const lp_future *f)
{
    pthread_mutex_lock(&f->pool->mu);
    int s = f->slot;
    pthread_mutex_unlock(&f->pool->mu);
    return s;
}

void lp_future_set_data(lp_future *f, void *data)
{
    f->data = data;
}

void *lp_future_data(const lp_future *f)
{
    return f->data;
}

/* Take f off the pending queue (mu held).  false if it is not there. */
bool lp__pool_unlink_pending(lp_pool *p, lp_future *f)
{
    lp_future *prev = NULL;
    for (lp_future *x = p->pend_head; x; prev = x, x = x->next) {
        if (x != f)
            continue;
        if (prev)
            prev->next = x->next;
        else
            p->pend_head = x->next;
        if (p->pend_tail == x)
            p->pend_tail = prev;
        p->npending--;
        return true;
    }
    return false;
}

int lp_future_cancel(lp_future *f)
{
    lp_pool *p = f->pool;
    pthread_mutex_lock(&p->mu);
    int r = 0;
    if (f->state == LP__DONE) {
        r = -EALREADY;
    } else if (f->state == LP__PENDING && lp__pool_unlink_pending(p, f)) {
        cancel_pending_job(p, f);
        pthread_cond_broadcast(&p->cv);
    } else if (f->kind == LP__JOB_FN && lp__fn_cancel_queued(p, f)) {
        f->cancel_req = true;
    } else {
        f->cancel_req = true;
        lp__pool_wake(p);
    }
    pthread_mutex_unlock(&p->mu);
    return r;
}

static bool cond_next(lp_pool *p, void *arg)
{
    (void)arg;
    return p->done_head || p->nreturned == p->nvisible;
}

int lp_pool_next(lp_pool *p, int timeout_ms, lp_future **out)
{
    *out = NULL;
    pthread_mutex_lock(&p->mu);
    int r = lp__pool_drive(p, cond_next, NULL, lp__deadline(timeout_ms));
    if (r == 0 && p->done_head) {
        lp_future *f = p->done_head;
        p->done_head = f->next;
        if (!p->done_head)
            p->done_tail = NULL;
        f->next = NULL;
        f->returned = true;
        p->nreturned++;
        *out = f;
    } else if (r == 0) {
        r = -ECHILD;
    }
    pthread_mutex_unlock(&p->mu);
    return r;
}

int lp_future_release(lp_future *f)
{
    lp_pool *p = f->pool;
    pthread_mutex_lock(&p->mu);
    bool queued_cb = false;
    for (lp_future *x = p->cb_head; x; x = x->cb_next)
        queued_cb |= x == f;
    if (f->state != LP__DONE || queued_cb || f->hidden || f->worker) {
        pthread_mutex_unlock(&p->mu);
        return -EBUSY;
    }
    if (!f->returned) { /* still on lp_pool_next's queue: it will never be returned now */
        lp_future *prev = NULL;
        for (lp_future *x = p->done_head; x; prev = x, x = x->next)
            if (x == f) {
                if (prev)
                    prev->next = x->next;
                else
                    p->done_head = x->next;
                if (p->done_tail == x)
                    p->done_tail = prev;
                break;
            }
        p->nvisible--;
        pthread_cond_broadcast(&p->cv);
    }
    if (f->all_prev)
        f->all_prev->all_next = f->all_next;
    else
        p->all_head = f->all_next;
    if (f->all_next)
        f->all_next->all_prev = f->all_prev;
    pthread_mutex_unlock(&p->mu);
    lp__future_free(f);
    return 0;
}

static bool cond_idle(lp_pool *p, void *arg)
{
    (void)arg;
    /* (an attempt on the driver's fin list still counts in running: no need to look there,
     * and a waiter that is not the driver may not) */
    return p->npending == 0 && p->running == 0 && !p->cb_head && !p->cb_active;
}

int lp_pool_shutdown(lp_pool *p, bool wait, bool cancel_pending)
{
    pthread_mutex_lock(&p->mu);
    p->shut = true;
    if (cancel_pending) {
        while (p->pend_head) {
            lp_future *f = p->pend_head;
            lp__pool_unlink_pending(p, f);
            cancel_pending_job(p, f);
        }
    }
    pthread_cond_broadcast(&p->cv);
    lp__pool_wake(p);
    int r = wait ? lp__pool_drive(p, cond_idle, NULL, -1) : 0;
    run_callbacks(p);
    pthread_mutex_unlock(&p->mu);
    return r;
}

void lp_pool_stats(const lp_pool *p, size_t *pending, size_t *running, size_t *done)
{
    lp_pool *q = (lp_pool *)p;
    pthread_mutex_lock(&q->mu);
    size_t pend = p->npending, run = (size_t)p->running;
    if (p->kind == LP__JOB_FN) /* tasks queued inside a worker are pending, not running */
        lp__fn_stats(q, &pend, &run);
    if (pending)
        *pending = pend;
    if (running)
        *running = run;
    if (done)
        *done = p->ndone;
    pthread_mutex_unlock(&q->mu);
}

void lp_pool_free(lp_pool *p)
{
    if (!p)
        return;
    if (p->has_thread) {
        pthread_mutex_lock(&p->mu);
        p->stop_thread = true;
        lp__pool_wake(p);
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        pthread_join(p->thread, NULL);
    }
    if (p->slots && p->loop.epfd >= 0 && p->wakefd >= 0) {
        pthread_mutex_lock(&p->mu);
        p->shut = true;
        p->freeing = true;
        p->o.on_success = p->o.on_error = NULL; /* no callbacks from inside free */
        p->cb_head = p->cb_tail = NULL;
        while (p->pend_head) {
            lp_future *f = p->pend_head;
            lp__pool_unlink_pending(p, f);
            cancel_pending_job(p, f);
        }
        for (int s = 0; s < p->workers; s++) {
            lp_future *f = p->slots[s];
            if (f && f->kind != LP__JOB_FN && !f->finished) {
                f->cancel_req = true;
                f->phase = 1; /* straight to SIGKILL */
                attempt_stop(p, f);
            }
        }
        lp__pool_drive(p, cond_idle, NULL, -1);
        pthread_mutex_unlock(&p->mu);
    }
    if (p->kind == LP__JOB_FN)
        lp__fn_free(p);
    for (lp_future *f = p->all_head, *n; f; f = n) {
        n = f->all_next;
        lp__future_free(f);
    }
    if (p->wakefd >= 0)
        close(p->wakefd);
    lp__loop_close(&p->loop);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p->slots);
    free(p->spill_dir);
    free(p);
}
