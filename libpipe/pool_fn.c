/* Function pools: pre-forked worker processes running a C function over framed messages.
 *
 * Each worker is a forked child with one end of a socketpair.  A message to a worker is a frame
 * [u32 payload length][u32 item count] followed by `count` items [u32 n][n bytes]; the worker
 * answers each frame with one frame of `count` results [i32 rc][u32 n][n bytes], in order.  A
 * future is one frame: one item (lp_pool_submit_fn) or a batch of lp_pool_map_fn.  Several
 * frames are in flight per worker, so a worker never waits for the parent between tasks, and
 * the parent reads many answers per read(2).  Everything on the parent side runs on the pool's
 * event loop (pool.c): the socket of each worker and the pidfd of its process.
 *
 * A worker that dies (signal, exit, timeout kill) fails only the frame it was running: a one-item
 * frame gets rc = minus the signal (retried while retries remain), a batch is split into
 * one-item frames that run again; frames queued behind it go back to the front of the queue
 * untouched.  max_tasks_per_worker closes a worker's input after that many frames: it finishes
 * them, sees EOF and exits; a new worker is forked when work is waiting. */
#include "pool.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define INFLIGHT 8          /* frames sent to one worker and not yet answered */
#define HDR 8               /* u32 length + u32 count */
#define EXIT_INIT_FAILED 120
#define EXIT_IO 121

struct lp__fn_map {
    lp_buf *out;
    int *rc;
    size_t remaining;  /* batches not yet answered */
    lp_future *futs;   /* every future of this map (linked by all_next), freed at its end */
};

struct lp__fn_worker {
    lp_pool *pool;
    lp_proc *proc;          /* NULL: no worker in this slot */
    int fd;                 /* our end of the socketpair (non-blocking) */
    lp_watch w_sock, w_exit;
    lp_buf outq;            /* frames not yet written */
    size_t out_off;
    lp_buf inq;             /* answers read, not yet parsed */
    lp_future *fly[INFLIGHT]; /* frames sent, in order: fly[head..] */
    int head, nfly;
    unsigned sent;          /* frames sent to this worker (max_tasks_per_worker) */
    bool retiring;          /* input closed: no more frames */
    bool exited;            /* reaped; cleaned up by check */
    bool killed_timeout;    /* we killed it: the head frame timed out */
    lp_deadline deadline;   /* of the frame at the head */
};

/* ---- the worker process --------------------------------------------------------------------- */

static int read_full(int fd, void *buf, size_t n)
{
    char *b = buf;
    while (n > 0) {
        ssize_t r = read(fd, b, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r < 0 ? -1 : 1; /* 1: EOF */
        b += r;
        n -= (size_t)r;
    }
    return 0;
}

static void put32(lp_buf *b, uint32_t v)
{
    memcpy(b->data + b->len, &v, 4);
    b->len += 4;
}

static uint32_t get32(const char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static _Noreturn void worker_main(lp_pool *p, int fd)
{
    if (p->init && p->init(p->o.init_arg) != 0)
        _exit(EXIT_INIT_FAILED);
    lp_buf in = {0}, reply = {0}, out = {0};
    for (;;) {
        char hdr[HDR];
        int r = read_full(fd, hdr, HDR);
        if (r != 0)
            _exit(r > 0 ? 0 : EXIT_IO); /* EOF: the pool closed us (retired, or gone) */
        uint32_t len = get32(hdr), count = get32(hdr + 4);
        in.len = 0;
        if (lp__buf_reserve(&in, len) < 0 || read_full(fd, in.data, len) != 0)
            _exit(EXIT_IO);
        reply.len = 0;
        if (lp__buf_reserve(&reply, HDR) < 0)
            _exit(EXIT_IO);
        reply.len = HDR;
        size_t off = 0;
        for (uint32_t k = 0; k < count; k++) {
            uint32_t n = get32(in.data + off);
            off += 4;
            out.len = 0;
            int rc = p->fn(in.data + off, n, &out);
            off += n;
            if (lp__buf_reserve(&reply, 8 + out.len) < 0)
                _exit(EXIT_IO);
            put32(&reply, (uint32_t)rc);
            put32(&reply, (uint32_t)out.len);
            if (out.len)
                memcpy(reply.data + reply.len, out.data, out.len);
            reply.len += out.len;
        }
        uint32_t plen = (uint32_t)(reply.len - HDR);
        memcpy(reply.data, &plen, 4);
        memcpy(reply.data + 4, &count, 4);
        if (lp__write_all(fd, reply.data, reply.len) < 0)
            _exit(EXIT_IO);
    }
}

static void on_sock(lp_loop *l, lp_watch *w, uint32_t ev);
static void on_worker_exit(lp_loop *l, lp_watch *w, uint32_t ev);

/* Fork the worker of slot i (mu held, driver or creator). */
static int worker_spawn(lp_pool *p, int i)
{
    struct lp__fn_worker *w = &p->fw[i];
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return -errno;
    bool pdeath = lp__pool_thread_lasts(p);
    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        int e = -errno;
        close(sv[0]);
        close(sv[1]);
        return e;
    }
    if (pid == 0) {
        if (pdeath) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != parent)
                _exit(EXIT_IO);
        }
        sigset_t none;
        sigemptyset(&none);
        pthread_sigmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        /* keep stdio and the channel (as fd 3), nothing else: an inherited end of another
         * process's pipe (other workers', the pool's jobs', exit watchers') would keep EOFs
         * from arriving while this worker lives */
        int ch = sv[1] == 3 ? 3 : dup2(sv[1], 3);
        if (ch != 3)
            _exit(EXIT_IO);
        fcntl(3, F_SETFD, 0);
        lp__close_from(4);
        worker_main(p, 3);
    }
    close(sv[1]);
    lp_proc *proc = lp__proc_adopt(pid, false);
    if (!proc) {
        int e = errno ? -errno : -ENOMEM;
        close(sv[0]);
        kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        return e;
    }
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    *w = (struct lp__fn_worker){.pool = p, .proc = proc, .fd = sv[0], .deadline = -1};
    w->w_sock = (lp_watch){.fd = sv[0], .events = EPOLLIN, .fn = on_sock, .data = w};
    w->w_exit = (lp_watch){.fd = proc->exitfd, .events = EPOLLIN, .fn = on_worker_exit, .data = w};
    int r = lp__loop_add(&p->loop, &w->w_sock);
    if (r == 0 && (r = lp__loop_add(&p->loop, &w->w_exit)) < 0)
        lp__loop_del(&p->loop, &w->w_sock);
    if (r < 0) {
        close(sv[0]);
        lp_proc_free(proc);
        w->proc = NULL;
        w->fd = -1;
    }
    return r;
}

/* ---- the parent side ------------------------------------------------------------------------ */

static void flush_out(lp_pool *p, struct lp__fn_worker *w)
{
    while (w->out_off < w->outq.len) {
        /* MSG_NOSIGNAL: a dead worker gives EPIPE, never a SIGPIPE to guard against */
        ssize_t n = send(w->fd, w->outq.data + w->out_off, w->outq.len - w->out_off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n < 0) { /* EPIPE: the worker is gone; its exit watch cleans up */
            w->out_off = w->outq.len;
            break;
        }
        w->out_off += (size_t)n;
    }
    bool pending = w->out_off < w->outq.len;
    if (!pending) {
        w->outq.len = w->out_off = 0;
        if (w->retiring)
            shutdown(w->fd, SHUT_WR);
    }
    if (w->w_sock.active) {
        uint32_t want = EPOLLIN | (pending ? EPOLLOUT : 0);
        if (want != w->w_sock.events)
            lp__loop_mod(&p->loop, &w->w_sock, want);
    }
}

/* Parse the answers in w->inq; every complete frame finishes the future at the head. */
static void parse_answers(lp_pool *p, struct lp__fn_worker *w)
{
    size_t off = 0;
    while (w->nfly > 0 && w->inq.len - off >= HDR) {
        uint32_t len = get32(w->inq.data + off), count = get32(w->inq.data + off + 4);
        if (w->inq.len - off - HDR < len)
            break;
        const char *d = w->inq.data + off + HDR;
        lp_future *f = w->fly[w->head];
        w->head = (w->head + 1) % INFLIGHT;
        w->nfly--;
        size_t pos = 0;
        for (uint32_t k = 0; k < count; k++) {
            int rc = (int)get32(d + pos);
            uint32_t n = get32(d + pos + 4);
            pos += 8;
            lp_buf *dst = f->map ? &f->map->out[f->map_first + k] : &f->res.out;
            if (f->map && f->map->rc)
                f->map->rc[f->map_first + k] = rc;
            if (!f->map)
                f->res.rc = rc;
            if (n && lp_buf_append(dst, d + pos, n) < 0)
                f->error = -ENOMEM;
            pos += n;
        }
        off += HDR + len;
        lp__pool_fin_push(p, f);
        int t = p->o.job_timeout_ms;
        w->deadline = t > 0 && w->nfly ? lp__deadline(t) : -1;
    }
    memmove(w->inq.data, w->inq.data + off, w->inq.len - off);
    w->inq.len -= off;
}

/* Read what the socket holds (until it would block, or EOF: then stop watching it). */
static void read_answers(lp_pool *p, struct lp__fn_worker *w)
{
    for (;;) {
        if (lp__buf_reserve(&w->inq, 64 << 10) < 0)
            return;
        ssize_t n = read(w->fd, w->inq.data + w->inq.len, w->inq.cap - w->inq.len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0 || errno != EAGAIN)
                lp__loop_del(&p->loop, &w->w_sock);
            return;
        }
        w->inq.len += (size_t)n;
        parse_answers(p, w);
    }
}

static void on_sock(lp_loop *l, lp_watch *w, uint32_t ev)
{
    (void)l;
    struct lp__fn_worker *wk = w->data;
    if (ev & EPOLLOUT)
        flush_out(wk->pool, wk);
    if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR))
        read_answers(wk->pool, wk);
}

static void on_worker_exit(lp_loop *l, lp_watch *w, uint32_t ev)
{
    (void)ev;
    struct lp__fn_worker *wk = w->data;
    lp__loop_del(l, w);
    lp__proc_reap(wk->proc, true);
    if (wk->w_sock.active) /* answers written before it died are all in the socket now */
        read_answers(wk->pool, wk);
    wk->exited = true;
}

/* A future whose frame was answered or lost (mu held): retry, or it is done. */
static void task_finished(lp_pool *p, lp_future *f)
{
    p->running--; /* it left its worker */
    bool failed = f->error == 0 && (f->res.rc != 0 || f->res.timed_out || f->crashed);
    if (!f->map && failed && !f->cancel_req && !p->freeing && f->res.attempts <= p->o.retries) {
        f->crashed = f->res.timed_out = false;
        lp_buf_free(&f->res.out);
        f->errmsg[0] = 0;
        f->state = LP__PENDING;
        lp__pool_push_front(p, f);
        return;
    }
    if (f->cancel_req) {
        f->error = -ECANCELED;
        snprintf(f->errmsg, sizeof f->errmsg, "cancelled while running (worker killed)");
    } else if (f->res.timed_out) {
        f->error = -ETIMEDOUT;
        snprintf(f->errmsg, sizeof f->errmsg, "timed out after %d ms (worker killed)", p->o.job_timeout_ms);
    } else if (f->crashed) {
        f->error = -EOWNERDEAD;
    } else if (f->error == 0 && f->res.rc != 0) {
        f->error = LP_ECHECK;
        snprintf(f->errmsg, sizeof f->errmsg, "function returned %d", f->res.rc);
    }
    if (f->map) {
        if (f->crashed || f->res.timed_out || f->cancel_req)
            for (size_t k = 0; k < f->map_n && f->map->rc; k++)
                f->map->rc[f->map_first + k] = f->res.rc;
        f->map->remaining--;
        f->state = LP__DONE;
        pthread_cond_broadcast(&p->cv);
        return;
    }
    lp__pool_job_done(p, f);
}

/* The worker running f died (mu held).  rc: minus the signal, or its exit status. */
static void task_lost(lp_pool *p, lp_future *f, int rc, bool timed_out)
{
    if (f->map && f->map_n > 1 && !f->cancel_req && !p->freeing) {
        /* run each item of the batch on its own: only one that crashes again fails */
        const char *d = f->task.data;
        size_t off = 0;
        for (size_t k = 0; k < f->map_n; k++) {
            uint32_t n = get32(d + off);
            lp_future *g = lp__future_new(p, LP__JOB_FN);
            if (!g || lp_buf_append(&g->task, d + off, 4 + (size_t)n) < 0) {
                free(g);
                if (f->map->rc)
                    f->map->rc[f->map_first + k] = -ENOMEM;
                off += 4 + n;
                continue;
            }
            g->hidden = true;
            g->map = f->map;
            g->map_first = f->map_first + k;
            g->map_n = 1;
            g->all_next = f->map->futs;
            f->map->futs = g;
            f->map->remaining++;
            lp_buf_free(&f->map->out[g->map_first]);
            lp__pool_push_front(p, g);
            off += 4 + n;
        }
        p->running--;
        f->map->remaining--;
        f->state = LP__DONE;
        return;
    }
    f->crashed = true;
    f->res.rc = rc;
    f->res.timed_out = timed_out;
    if (rc < 0)
        snprintf(f->errmsg, sizeof f->errmsg, "worker killed by signal %d (%s)", -rc, strsignal(-rc));
    else if (rc == EXIT_INIT_FAILED)
        snprintf(f->errmsg, sizeof f->errmsg, "the initializer failed in the worker");
    else
        snprintf(f->errmsg, sizeof f->errmsg, "worker exited with status %d", rc);
    task_finished(p, f);
}

/* A dead worker's slot (mu held): its head frame is lost, the ones behind it queue again. */
static void worker_cleanup(lp_pool *p, struct lp__fn_worker *w)
{
    int rc = 0;
    lp_proc_wait(w->proc, 0, &rc);
    for (int k = w->nfly - 1; k >= 1; k--) { /* never started: back to the front, in order */
        lp_future *f = w->fly[(w->head + k) % INFLIGHT];
        f->res.attempts--;
        f->state = LP__PENDING;
        p->running--;
        lp__pool_push_front(p, f);
    }
    lp_future *head = w->nfly > 0 ? w->fly[w->head] : NULL;
    bool timed_out = w->killed_timeout;
    if (w->w_sock.active)
        lp__loop_del(&p->loop, &w->w_sock);
    close(w->fd);
    lp_proc_free(w->proc);
    lp_buf_free(&w->outq);
    lp_buf_free(&w->inq);
    *w = (struct lp__fn_worker){.pool = p, .fd = -1, .deadline = -1};
    if (head)
        task_lost(p, head, rc, timed_out);
}

static bool can_take(const struct lp__fn_worker *w)
{
    return w->proc && !w->exited && !w->retiring && w->nfly < INFLIGHT;
}

bool lp__fn_has_room(lp_pool *p)
{
    for (int i = 0; i < p->workers; i++)
        if (!p->fw[i].proc || can_take(&p->fw[i]))
            return true;
    return false;
}

void lp__fn_start(lp_pool *p)
{
    if (p->freeing)
        return;
    for (int i = 0; i < p->workers && p->pend_head; i++)
        if (!p->fw[i].proc && worker_spawn(p, i) < 0)
            break; /* out of processes now; the next turn tries again */
    bool popped = false;
    while (p->pend_head) {
        struct lp__fn_worker *best = NULL;
        for (int i = 0; i < p->workers; i++) {
            struct lp__fn_worker *w = &p->fw[i];
            if (can_take(w) && (!best || w->nfly < best->nfly))
                best = w;
        }
        if (!best)
            break;
        lp_future *f = lp__pool_pop(p);
        popped = true;
        f->state = LP__RUNNING;
        f->res.attempts++;
        f->slot = (int)(best - p->fw) + 1;
        uint32_t hdr[2] = {(uint32_t)f->task.len, f->map ? (uint32_t)f->map_n : 1};
        if (lp_buf_append(&best->outq, hdr, sizeof hdr) < 0 ||
            lp_buf_append(&best->outq, f->task.data, f->task.len) < 0) {
            f->error = -ENOMEM;
            snprintf(f->errmsg, sizeof f->errmsg, "pool: out of memory sending the task");
            p->running++;
            task_finished(p, f);
            continue;
        }
        p->running++;
        best->fly[(best->head + best->nfly) % INFLIGHT] = f;
        if (best->nfly++ == 0 && p->o.job_timeout_ms > 0)
            best->deadline = lp__deadline(p->o.job_timeout_ms);
        if (p->o.max_tasks_per_worker && ++best->sent >= p->o.max_tasks_per_worker)
            best->retiring = true;
    }
    for (int i = 0; i < p->workers; i++)
        if (p->fw[i].proc && p->fw[i].outq.len > p->fw[i].out_off)
            flush_out(p, &p->fw[i]);
    if (popped)
        pthread_cond_broadcast(&p->cv);
}

lp_deadline lp__fn_deadline(lp_pool *p)
{
    lp_deadline next = -1;
    for (int i = 0; i < p->workers; i++) {
        struct lp__fn_worker *w = &p->fw[i];
        if (w->proc && w->exited)
            return 0;
        if (w->proc && w->nfly > 0 && w->deadline >= 0 && (next < 0 || w->deadline < next))
            next = w->deadline;
    }
    return next;
}

void lp__fn_check(lp_pool *p)
{
    int64_t now = lp__now_ns();
    for (int i = 0; i < p->workers; i++) {
        struct lp__fn_worker *w = &p->fw[i];
        if (!w->proc || w->exited || w->nfly == 0)
            continue;
        bool cancel = w->fly[w->head]->cancel_req || p->freeing;
        bool late = w->deadline >= 0 && now >= w->deadline;
        if ((cancel || late) && !w->killed_timeout) {
            w->killed_timeout = late && !cancel;
            lp_proc_kill(w->proc, SIGKILL);
        }
    }
    for (lp_future *f = lp__pool_fin_take(p), *n; f; f = n) { /* answered, in order */
        n = f->fin_next;
        task_finished(p, f);
    }
    for (int i = 0; i < p->workers; i++)
        if (p->fw[i].proc && p->fw[i].exited)
            worker_cleanup(p, &p->fw[i]);
}

void lp__fn_free(lp_pool *p)
{
    for (int i = 0; p->fw && i < p->workers; i++) {
        struct lp__fn_worker *w = &p->fw[i];
        if (!w->proc)
            continue;
        close(w->fd); /* an idle worker sees EOF and exits */
        lp_proc_free(w->proc);
        lp_buf_free(&w->outq);
        lp_buf_free(&w->inq);
    }
    free(p->fw);
    p->fw = NULL;
}

/* ---- public API --------------------------------------------------------------------------- */

lp_pool *lp_pool_new_fn(const lp_pool_opts *o, lp_pool_fn fn, int (*initializer)(void *arg))
{
    if (!fn) {
        errno = EINVAL;
        return NULL;
    }
    lp_pool *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    int r = lp__pool_init(p, o, LP__JOB_FN);
    p->fn = fn;
    p->init = initializer;
    if (r == 0 && !(p->fw = calloc((size_t)p->workers, sizeof *p->fw)))
        r = -ENOMEM;
    for (int i = 0; r == 0 && i < p->workers; i++) {
        p->fw[i] = (struct lp__fn_worker){.pool = p, .fd = -1, .deadline = -1};
        r = worker_spawn(p, i);
    }
    if (r == 0)
        r = lp__pool_start_thread(p);
    if (r < 0) {
        lp_pool_free(p);
        errno = -r;
        return NULL;
    }
    return p;
}

int lp_pool_submit_fn(lp_pool *p, const void *in, size_t n, lp_future **out)
{
    if (out)
        *out = NULL;
    if (!p || p->kind != LP__JOB_FN || (n && !in) || n > UINT32_MAX - 16)
        return -EINVAL;
    lp_future *f = lp__future_new(p, LP__JOB_FN);
    if (!f)
        return -ENOMEM;
    uint32_t len = (uint32_t)n;
    if (lp_buf_append(&f->task, &len, 4) < 0 || (n && lp_buf_append(&f->task, in, n) < 0)) {
        lp_buf_free(&f->task);
        free(f);
        return -ENOMEM;
    }
    return lp__pool_enqueue(p, f, out);
}

static bool cond_map(lp_pool *p, void *arg)
{
    (void)p;
    return ((struct lp__fn_map *)arg)->remaining == 0;
}

int lp_pool_map_fn(lp_pool *p, const lp_buf *in, size_t n, size_t batch, lp_buf *out, int *rc)
{
    if (!p || p->kind != LP__JOB_FN || (n && (!in || !out)))
        return -EINVAL;
    memset(out, 0, n * sizeof *out);
    if (rc)
        memset(rc, 0, n * sizeof *rc);
    if (n == 0)
        return 0;
    if (batch == 0) { /* multiprocessing's rule: about four batches per worker */
        size_t chunks = (size_t)p->workers * 4;
        batch = n / chunks + (n % chunks ? 1 : 0);
    }
    struct lp__fn_map m = {.out = out, .rc = rc};
    int err = 0;
    pthread_mutex_lock(&p->mu);
    if (p->shut)
        err = -EPIPE;
    for (size_t i = 0; err == 0 && i < n; i += batch) {
        size_t cnt = n - i < batch ? n - i : batch, bytes = 0;
        for (size_t k = 0; k < cnt; k++)
            bytes += 4 + in[i + k].len;
        lp_future *f = lp__future_new(p, LP__JOB_FN);
        if (!f || bytes > UINT32_MAX - 16 || lp__buf_reserve(&f->task, bytes) < 0) {
            free(f);
            err = f ? -EINVAL : -ENOMEM;
            break;
        }
        for (size_t k = 0; k < cnt; k++) {
            uint32_t len = (uint32_t)in[i + k].len;
            memcpy(f->task.data + f->task.len, &len, 4);
            if (len)
                memcpy(f->task.data + f->task.len + 4, in[i + k].data, len);
            f->task.len += 4 + len;
        }
        f->hidden = true;
        f->map = &m;
        f->map_first = i;
        f->map_n = cnt;
        f->all_next = m.futs;
        m.futs = f;
        m.remaining++;
        f->seq = ++p->nseq;
        lp__pool_push_back(p, f);
    }
    if (err < 0) { /* nothing of this map may run: take its batches back */
        for (lp_future *f = m.futs; f; f = f->all_next)
            if (f->state == LP__PENDING)
                lp__pool_unlink_pending(p, f);
    } else {
        lp__pool_wake(p);
        lp__pool_drive(p, cond_map, &m, -1);
    }
    pthread_mutex_unlock(&p->mu);
    for (lp_future *f = m.futs, *nx; f; f = nx) {
        nx = f->all_next;
        lp__future_free(f);
    }
    return err;
}
