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

struct comm {
    lp_proc *p;
    lp_loop loop;
    lp_watch w[3]; /* 0: stdin (or pty master), 1: stdout, 2: stderr */
    lp_watch w_exit;
    lp_buf *dst[3];
    const struct lp__comm_opts *co;
    bool epipe; /* one of our writes hit EPIPE: a SIGPIPE may be pending for this thread */
    int cb_ret; /* the callback's non-zero return that stopped us */
};

static void set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0 && !(fl & O_NONBLOCK))
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void stop_cb(struct comm *c, int r)
{
    c->cb_ret = r;
    c->loop.stop = 1;
}

static void input_done(struct comm *c)
{
    lp_proc *p = c->p;
    p->in_ptr = NULL;
    p->in_left = 0;
    free(p->in_own);
    p->in_own = NULL;
    if (p->is_pty) {
        if (c->w[0].events & EPOLLOUT)
            lp__loop_mod(&c->loop, &c->w[0], EPOLLIN);
        return;
    }
    lp__loop_del(&c->loop, &c->w[0]);
    lp_proc_close_fd(p, 0);
}

static void on_writable(struct comm *c)
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
static int deliver(struct comm *c, int i, bool eof)
{
    lp_buf *b = &c->p->pend[i];
    const struct lp__comm_opts *co = c->co;
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

static void on_eof(struct comm *c, int i)
{
    lp_proc *p = c->p;
    bool master = p->is_pty && i == 1; /* the pty master carries stdout (and stdin) */
    p->eof[i] = true;
    lp__loop_del(&c->loop, &c->w[master ? 0 : i]);
    if (!master)
        lp_proc_close_fd(p, i);
    if (c->co->cb) {
        int r = deliver(c, i, true);
        if (r)
            stop_cb(c, r);
    }
}

static void on_readable(struct comm *c, int i)
{
    lp_proc *p = c->p;
    int fd = p->fds[i == 1 && p->is_pty ? 0 : i];
    char scratch[READ_MIN];
    for (int rounds = 0; rounds < 4; rounds++) {
        lp_buf *b = c->co->cb ? &p->pend[i] : c->dst[i];
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
                    c->loop.stop = -ENOMEM;
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
    struct comm *c = w->data;
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
    struct comm *c = w->data;
    lp__proc_reap(c->p, true);
    lp__loop_del(l, w);
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
    if (in && in_len && (p->in_left || (p->comm_started && !p->is_pty)))
        return -EINVAL; /* input is given once: stdin was closed (or is still being fed) */
    struct comm c = {.p = p, .dst = {NULL, out, err}, .co = co};
    int r = lp__loop_init(&c.loop);
    if (r < 0)
        return r;

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
        c.w[0] = (lp_watch){.fd = in_fd, .events = ev, .fn = on_fd, .data = &c};
        if (ev && (r = lp__loop_add(&c.loop, &c.w[0])) < 0)
            goto out;
    } else if (in_fd >= 0 && !p->is_pty) {
        lp_proc_close_fd(p, 0); /* nothing (more) to send: EOF now, as Python does */
    }
    for (int i = 1; i <= 2; i++) {
        if (p->fds[i] < 0 || p->eof[i])
            continue;
        set_nonblock(p->fds[i]);
        c.w[i] = (lp_watch){.fd = p->fds[i], .events = EPOLLIN, .fn = on_fd, .data = &c};
        if ((r = lp__loop_add(&c.loop, &c.w[i])) < 0)
            goto out;
    }
    if (!p->reaped) {
        c.w_exit = (lp_watch){.fd = p->exitfd, .events = EPOLLIN, .fn = on_exit_fd, .data = &c};
        if ((r = lp__loop_add(&c.loop, &c.w_exit)) < 0)
            goto out;
    }

    sigset_t pipe_set, old;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    sigset_t pending;
    sigpending(&pending);
    bool was_pending = sigismember(&pending, SIGPIPE);

    r = lp__loop_run(&c.loop, d);

    if (c.epipe && !was_pending) {
        struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);

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
    if (r == 0 && c.loop.active == 0 && !p->reaped)
        lp__proc_reap(p, true);
    if (r == 0 && rc && p->reaped)
        lp_proc_wait(p, 0, rc);
out:
    lp__loop_close(&c.loop);
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
