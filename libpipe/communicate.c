/* Feeding stdin and draining stdout/stderr without deadlock.
 *
 * One loop run watches the stdin pipe for room, the stdout/stderr pipes for data and the child's
 * exit descriptor, all non-blocking, so no write can wait on a child that is itself waiting for
 * us to read.  Reads go straight into the capture buffer (no second copy).  SIGPIPE is blocked
 * in this thread for the duration and a SIGPIPE our own write raised is consumed, so a child
 * that stops reading never kills or interrupts the caller.  State that must survive a timeout
 * (input not yet written, EOF seen, partial lines) lives in the lp_proc. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#define READ_MIN ((size_t)64 << 10)
#define READ_MAX ((size_t)1 << 20)
#define WRITE_MAX ((size_t)1 << 20)

static void set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0 && !(fl & O_NONBLOCK))
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* Stop: on its own loop, stop the loop; on a shared one, remove our watches and tell the owner. */
static void halt(struct lp__comm *c, int err)
{
    if (!c->on_end) {
        c->loop->stop = err < 0 ? err : 1;
        return;
    }
    c->err = err;
    lp__comm_stop(c);
}

static void stop_cb(struct lp__comm *c, int r)
{
    c->cb_ret = r;
    halt(c, 0);
}

static int comm_add(struct lp__comm *c, lp_watch *w)
{
    int r = lp__loop_add(c->loop, w);
    if (r == 0)
        c->live++;
    return r;
}

static void comm_del(struct lp__comm *c, lp_watch *w)
{
    if (!w->active)
        return;
    lp__loop_del(c->loop, w);
    if (--c->live == 0 && c->on_end && !c->ended) {
        c->ended = true;
        c->on_end(c);
    }
}

void lp__comm_stop(struct lp__comm *c)
{
    c->ended = true; /* no on_end for a stop asked for */
    for (int i = 0; i < 3; i++)
        comm_del(c, &c->w[i]);
    comm_del(c, &c->w_exit);
}

static void input_done(struct lp__comm *c)
{
    lp_proc *p = c->p;
    p->in_ptr = NULL;
    p->in_left = 0;
    free(p->in_own);
    p->in_own = NULL;
    if (p->is_pty) {
        if (c->w[0].events & EPOLLOUT)
            lp__loop_mod(c->loop, &c->w[0], EPOLLIN);
        return;
    }
    comm_del(c, &c->w[0]);
    lp_proc_close_fd(p, 0);
}

static void on_writable(struct lp__comm *c)
{
    lp_proc *p = c->p;
    while (p->in_left > 0) {
        size_t n = p->in_left < WRITE_MAX ? p->in_left : WRITE_MAX;
        ssize_t w = write(p->fds[0], p->in_ptr, n);
        if (w > 0) {
            p->in_ptr += w;
            p->in_left -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN)
            return;
        if (w < 0 && errno == EPIPE)
            c->epipe = true;
        break; /* EPIPE (the child stopped reading) or another error: drop the rest */
    }
    input_done(c);
}

/* Hand newly read bytes (in pend[i] from `from` on) to the callback, whole lines if asked. */
static int deliver(struct lp__comm *c, int i, bool eof)
{
    lp_buf *b = &c->p->pend[i];
    const struct lp__comm_opts *co = c->co;
    if (b->len == 0)
        return 0; /* nothing kept (or never allocated: streaming straight from the stack) */
    size_t start = 0;
    int r = 0;
    if (!co->lines) {
        if (b->len)
            r = co->cb(co->ctx, i, b->data, b->len);
        start = b->len;
    } else {
        for (;;) {
            char *nl = memchr(b->data + start, '\n', b->len - start);
            if (!nl)
                break;
            size_t end = (size_t)(nl - b->data) + 1;
            r = co->cb(co->ctx, i, b->data + start, end - start);
            start = end;
            if (r)
                break;
        }
        if (!r && eof && start < b->len) {
            r = co->cb(co->ctx, i, b->data + start, b->len - start);
            start = b->len;
        }
    }
    memmove(b->data, b->data + start, b->len - start);
    b->len -= start;
    if (b->data)
        b->data[b->len] = 0;
    return r;
}

static void on_eof(struct lp__comm *c, int i)
{
    lp_proc *p = c->p;
    bool master = p->is_pty && i == 1; /* the pty master carries stdout (and stdin) */
    p->eof[i] = true;
    comm_del(c, &c->w[master ? 0 : i]);
    if (!master)
        lp_proc_close_fd(p, i);
    if (c->co->cb) {
        int r = deliver(c, i, true);
        if (r)
            stop_cb(c, r);
    }
}

static void on_readable(struct lp__comm *c, int i)
{
    lp_proc *p = c->p;
    int fd = p->fds[i == 1 && p->is_pty ? 0 : i];
    char scratch[READ_MIN];
    /* streaming without lines: straight from the stack to the callback, nothing kept */
    bool direct = c->co->cb && !c->co->lines && p->pend[i].len == 0;
    for (int rounds = 0; rounds < 4; rounds++) {
        lp_buf *b = direct ? NULL : c->co->cb ? &p->pend[i] : c->dst[i];
        char *into = scratch;
        size_t room = sizeof scratch;
        bool keep = false;
        if (b) {
            size_t max = c->co->max_output;
            size_t want = b->len < READ_MIN ? READ_MIN : b->len > READ_MAX ? READ_MAX : b->len;
            if (max && !c->co->cb) {
                if (b->len >= max)
                    want = 0;
                else if (want > max - b->len)
                    want = max - b->len;
            }
            if (want) {
                if (lp__buf_reserve(b, want) < 0) {
                    halt(c, -ENOMEM);
                    return;
                }
                into = b->data + b->len;
                room = b->cap - b->len - 1;
                if (max && !c->co->cb && room > max - b->len)
                    room = max - b->len;
                keep = true;
            }
        }
        ssize_t n = read(fd, into, room);
        if (n > 0) {
            if (keep) {
                b->len += (size_t)n;
                b->data[b->len] = 0;
                if (c->co->cb) {
                    int r = deliver(c, i, false);
                    if (r) {
                        stop_cb(c, r);
                        return;
                    }
                }
            } else if (direct) {
                int r = c->co->cb(c->co->ctx, i, scratch, (size_t)n);
                if (r) {
                    stop_cb(c, r);
                    return;
                }
            } else if (b && c->co->truncated) {
                *c->co->truncated = true; /* over max_output: drained and dropped */
            }
            if ((size_t)n < room)
                return; /* the pipe is empty for now */
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        on_eof(c, i); /* 0: EOF; EIO: a pty whose other side closed; other errors end it too */
        return;
    }
}

static void on_fd(lp_loop *l, lp_watch *w, uint32_t ev)
{
    (void)l;
    struct lp__comm *c = w->data;
    int i = (int)(w - c->w);
    if (i == 0 && (ev & (EPOLLOUT | EPOLLERR)) && c->p->in_left)
        on_writable(c);
    else if (i == 0 && !c->p->is_pty)
        input_done(c); /* EPOLLERR/HUP: the child closed its stdin */
    if (i != 0 || c->p->is_pty) {
        /* w[0] of a pty child is its master, which carries its output: stream 1 */
        if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR))
            on_readable(c, i == 0 ? 1 : i);
    }
}

static void on_exit_fd(lp_loop *l, lp_watch *w, uint32_t ev)
{
    (void)ev;
    (void)l;
    struct lp__comm *c = w->data;
    lp__proc_reap(c->p, true);
    comm_del(c, w);
}

void lp__comm_drain(struct lp__comm *c)
{
    for (int i = 1; i <= 2 && !c->ended; i++)
        if (c->w[i].active)
            on_readable(c, i);
    if (!c->ended && c->p->is_pty && c->w[0].active)
        on_readable(c, 1);
}

void lp__sigpipe_block(struct lp__sigpipe *s)
{
    sigemptyset(&s->set);
    sigaddset(&s->set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &s->set, &s->old);
    sigset_t pending;
    sigpending(&pending);
    s->was_pending = sigismember(&pending, SIGPIPE);
}

void lp__sigpipe_restore(struct lp__sigpipe *s, bool epipe)
{
    if (epipe && !s->was_pending) { /* consume the SIGPIPE our own write raised */
        struct timespec zero = {0, 0};
        while (sigtimedwait(&s->set, NULL, &zero) < 0 && errno == EINTR)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &s->old, NULL);
}

int lp__comm_start(struct lp__comm *c, lp_loop *l, lp_proc *p, const void *in, size_t in_len,
                   lp_buf *out, lp_buf *err, const struct lp__comm_opts *co)
{
    if (in && in_len && (p->in_left || (p->comm_started && !p->is_pty)))
        return -EINVAL; /* input is given once: stdin was closed (or is still being fed) */
    void (*on_end)(struct lp__comm *) = c->on_end;
    void *data = c->data;
    *c = (struct lp__comm){.p = p, .loop = l, .dst = {NULL, out, err}, .co = co, .on_end = on_end,
                           .data = data};
    int r = 0;
    int in_fd = p->fds[0];
    if (!p->comm_started) {
        p->comm_started = true;
        if (in_fd >= 0) {
            p->in_ptr = in;
            p->in_left = in ? in_len : 0;
        }
    }
    /* the stdin pipe (or pty master) */
    if (in_fd >= 0 && (p->in_left || p->is_pty)) {
        set_nonblock(in_fd);
        uint32_t ev = (p->in_left ? EPOLLOUT : 0) | (p->is_pty && !p->eof[1] ? EPOLLIN : 0);
        c->w[0] = (lp_watch){.fd = in_fd, .events = ev, .fn = on_fd, .data = c};
        if (ev && (r = comm_add(c, &c->w[0])) < 0)
            goto fail;
    } else if (in_fd >= 0 && !p->is_pty) {
        lp_proc_close_fd(p, 0); /* nothing (more) to send: EOF now, as Python does */
    }
    for (int i = 1; i <= 2; i++) {
        if (p->fds[i] < 0 || p->eof[i])
            continue;
        set_nonblock(p->fds[i]);
        c->w[i] = (lp_watch){.fd = p->fds[i], .events = EPOLLIN, .fn = on_fd, .data = c};
        if ((r = comm_add(c, &c->w[i])) < 0)
            goto fail;
    }
    if (!p->reaped && !co->no_exit_watch) {
        c->w_exit = (lp_watch){.fd = p->exitfd, .events = EPOLLIN, .fn = on_exit_fd, .data = c};
        if ((r = comm_add(c, &c->w_exit)) < 0)
            goto fail;
    }
    if (c->live == 0 && c->on_end) { /* nothing to watch: ended already */
        c->ended = true;
        c->on_end(c);
    }
    return 0;
fail:
    lp__comm_stop(c);
    return r;
}

void lp__enlarge_out_pipes(lp_proc *p)
{
    for (int i = 1; i <= 2; i++)
        if (p->fds[i] >= 0)
            fcntl(p->fds[i], F_SETPIPE_SZ, READ_MAX);
}

int lp__communicate(lp_proc *p, const void *in, size_t in_len, lp_buf *out, lp_buf *err,
                    const struct lp__comm_opts *co, lp_deadline d, int *rc)
{
    lp_loop loop;
    struct lp__comm c = {0};
    int r = lp__loop_init(&loop);
    if (r < 0)
        return r;
    if ((r = lp__comm_start(&c, &loop, p, in, in_len, out, err, co)) < 0)
        goto out;

    struct lp__sigpipe sp;
    lp__sigpipe_block(&sp);
    r = lp__loop_run(&loop, d);
    lp__sigpipe_restore(&sp, c.epipe);

    if (c.cb_ret)
        r = c.cb_ret;
    if (p->in_left && !p->in_own) {
        /* keep the unwritten rest (once): the caller's buffer need not outlive this call */
        char *own = malloc(p->in_left);
        if (!own) {
            r = -ENOMEM;
        } else {
            memcpy(own, p->in_ptr, p->in_left);
            p->in_own = own;
            p->in_ptr = own;
        }
    }
    if (r == 0 && c.live == 0 && !p->reaped)
        lp__proc_reap(p, true);
    if (r == 0 && rc && p->reaped)
        lp_proc_wait(p, 0, rc);
out:
    lp__loop_close(&loop);
    if (r < 0 && r != -ETIMEDOUT && !co->cb)
        lp__set_errmsg(p->errmsg, "communicate pid %d: %s", (int)p->pid, lp_strerror(r));
    return r;
}

int lp_proc_communicate(lp_proc *p, const void *in, size_t in_len, lp_buf *out, lp_buf *err,
                        int timeout_ms, int *rc)
{
    struct lp__comm_opts co = {0};
    return lp__communicate(p, in, in_len, out, err, &co, lp__deadline(timeout_ms), rc);
}

int lp_proc_stream(lp_proc *p, const void *in, size_t in_len, lp_output_cb cb, void *ctx,
                   bool lines, int timeout_ms, int *rc)
{
    if (!cb)
        return -EINVAL;
    struct lp__comm_opts co = {.cb = cb, .ctx = ctx, .lines = lines};
    return lp__communicate(p, in, in_len, NULL, NULL, &co, lp__deadline(timeout_ms), rc);
}
