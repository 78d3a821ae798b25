/* Framed message channels over a socketpair or a pipe pair.  See libpipe.h "Channels".
 *
 * A frame is a 4-byte length in network byte order (big-endian) followed by that many bytes.
 *
 * Sending: the header and the payload go out in one sendmsg (sockets: MSG_NOSIGNAL |
 * MSG_DONTWAIT, the descriptor's own flags untouched) or writev (pipes: O_NONBLOCK, SIGPIPE
 * blocked around the write), straight from the caller's buffer.  Only when a send gives up
 * (deadline, interrupt) after part of its frame went out is the unwritten rest copied into the
 * channel, to be written first by the next send or flush: the reader then sees the frame whole.
 *
 * Receiving: reads go into a read-ahead buffer (RBUF bytes), so many small frames come out of
 * one read and a frame is delivered only once all of it is there.  A frame too large for that
 * buffer is read straight into its own lp_buf (the read-ahead buffer taking what follows it, in
 * the same readv), which is then handed to the caller by swapping buffers: no byte of a large
 * frame is copied after the kernel's copy.  State survives -ETIMEDOUT/-EINTR, so a partial frame
 * is kept for the next call; at EOF it is dropped and LP_ECLOSED returned.
 *
 * One thread may send while another receives: the two directions share no mutable field. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define RBUF ((size_t)64 * 1024) /* read-ahead buffer: frames up to this (header included) */
#define PEND_KEEP RBUF           /* a pending-bytes buffer up to this size is kept for reuse */

struct lp_chan {
    int rfd, wfd;
    bool rsock, wsock; /* a socket: recvmsg/sendmsg with MSG_DONTWAIT; else O_NONBLOCK was set */

    /* sending: the unwritten rest of a frame a send gave up on (owned copy) */
    char *pend;
    size_t pend_off, pend_len, pend_cap;
    bool wdead; /* the write side was shut after a frame could not be completed */

    /* receiving */
    char *rbuf;        /* RBUF bytes, unread ones at [rpos, rlen) */
    size_t rpos, rlen;
    bool big;          /* a frame longer than RBUF is being read into `frame` */
    size_t want;       /* its length */
    lp_buf frame;
    bool eof, bad;     /* the peer closed; a malformed frame was seen (the stream is lost) */
};

static void put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static uint32_t get_u32(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static bool is_socket(int fd, int *err)
{
    struct stat st;
    if (fstat(fd, &st) < 0) {
        *err = -errno;
        return false;
    }
    return S_ISSOCK(st.st_mode);
}

/* Mark fd close-on-exec and, unless it is a socket, non-blocking. */
static int prepare_fd(int fd, bool sock)
{
    int fdfl = fcntl(fd, F_GETFD);
    if (fdfl < 0 || (!(fdfl & FD_CLOEXEC) && fcntl(fd, F_SETFD, fdfl | FD_CLOEXEC) < 0))
        return -errno;
    if (sock)
        return 0;
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0))
        return -errno;
    return 0;
}

int lp_chan_open(lp_chan **c, int rfd, int wfd)
{
    if (!c)
        return -EINVAL;
    *c = NULL;
    if (rfd < 0 && wfd < 0)
        return -EINVAL;
    int err = 0;
    bool rsock = rfd >= 0 && is_socket(rfd, &err);
    bool wsock = wfd >= 0 && (wfd == rfd ? rsock : is_socket(wfd, &err));
    if (err < 0 || (rfd >= 0 && prepare_fd(rfd, rsock) < 0) ||
        (wfd >= 0 && wfd != rfd && prepare_fd(wfd, wsock) < 0))
        return -EINVAL; /* not an open descriptor */
    lp_chan *ch = calloc(1, sizeof *ch);
    if (!ch)
        return -ENOMEM;
    ch->rfd = rfd;
    ch->wfd = wfd;
    ch->rsock = rsock;
    ch->wsock = wsock;
    *c = ch;
    return 0;
}

int lp_chan_pair(lp_chan **a, lp_chan **b)
{
    if (!a || !b)
        return -EINVAL;
    *a = *b = NULL;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return -errno;
    lp_chan *x = calloc(1, sizeof *x), *y = calloc(1, sizeof *y);
    if (!x || !y) {
        free(x);
        free(y);
        close(sv[0]);
        close(sv[1]);
        return -ENOMEM;
    }
    x->rfd = x->wfd = sv[0];
    y->rfd = y->wfd = sv[1];
    x->rsock = x->wsock = y->rsock = y->wsock = true;
    *a = x;
    *b = y;
    return 0;
}

int lp_chan_fd(const lp_chan *c, int which)
{
    if (!c)
        return -1;
    return which == 0 ? c->rfd : which == 1 ? c->wfd : -1;
}

void lp_chan_free(lp_chan *c)
{
    if (!c)
        return;
    if (c->rfd >= 0)
        close(c->rfd);
    if (c->wfd >= 0 && c->wfd != c->rfd)
        close(c->wfd);
    free(c->pend);
    free(c->rbuf);
    lp_buf_free(&c->frame);
    free(c);
}

/* Wait until fd is ready for `ev`: 0; -ETIMEDOUT at the deadline; -EINTR when the interrupt
 * descriptor is readable (and fd is not ready). */
static int wait_fd(int fd, short ev, lp_deadline d, int intr)
{
    for (;;) {
        struct pollfd pf[2] = {{.fd = fd, .events = ev}, {.fd = intr, .events = POLLIN}};
        int ms = lp__remaining_ms(d);
        int pr = poll(pf, intr >= 0 ? 2 : 1, ms);
        if (pr < 0 && errno != EINTR)
            return -errno;
        if (pr > 0 && pf[0].revents)
            return 0; /* ready, or an error/hangup the next read or write reports */
        if (pr > 0 && pf[1].revents)
            return -EINTR;
        if (ms == 0 || lp__remaining_ms(d) == 0)
            return -ETIMEDOUT;
    }
}

/* ---- sending ---- */

/* Write iov[0..cnt) (every entry non-empty) until all is written, the deadline passes or the
 * thread's interrupt descriptor is readable.  *done gets the bytes written.  0, -ETIMEDOUT,
 * -EINTR, -EPIPE, -errno. */
static int write_iov(lp_chan *c, struct iovec *iov, int cnt, lp_deadline d, size_t *done)
{
    int intr = lp__wait_interrupt_fd();
    /* a socket with neither deadline nor interrupt: one blocking sendmsg does the whole job */
    int flags = MSG_NOSIGNAL | (d < 0 && intr < 0 ? 0 : MSG_DONTWAIT);
    struct lp__sigpipe sp;
    if (!c->wsock)
        lp__sigpipe_block(&sp);
    bool epipe = false;
    int r = 0, i = 0;
    *done = 0;
    while (i < cnt) {
        ssize_t w;
        if (c->wsock) {
            struct msghdr mh = {.msg_iov = iov + i, .msg_iovlen = (size_t)(cnt - i)};
            w = sendmsg(c->wfd, &mh, flags);
        } else {
            w = writev(c->wfd, iov + i, cnt - i);
        }
        if (w >= 0) {
            size_t left = (size_t)w;
            *done += left;
            while (i < cnt && left >= iov[i].iov_len)
                left -= iov[i++].iov_len;
            if (i < cnt) {
                iov[i].iov_base = (char *)iov[i].iov_base + left;
                iov[i].iov_len -= left;
            }
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno == EPIPE || errno == ECONNRESET) {
            epipe = errno == EPIPE;
            r = -EPIPE;
            break;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            r = -errno;
            break;
        }
        r = wait_fd(c->wfd, POLLOUT, d, intr);
        if (r < 0)
            break;
    }
    if (!c->wsock)
        lp__sigpipe_restore(&sp, epipe);
    return r;
}

static void pend_clear(lp_chan *c)
{
    c->pend_off = c->pend_len = 0;
    if (c->pend_cap > PEND_KEEP) {
        free(c->pend);
        c->pend = NULL;
        c->pend_cap = 0;
    }
}

/* Part of a frame is out and its rest cannot be kept: end the stream so the reader drops the
 * partial frame (it gets LP_ECLOSED) instead of taking later bytes for its rest. */
static void write_side_fail(lp_chan *c)
{
    c->wdead = true;
    pend_clear(c);
    if (c->wsock)
        shutdown(c->wfd, SHUT_WR);
    else if (c->wfd != c->rfd) {
        close(c->wfd);
        c->wfd = -1;
    }
}

int lp_chan_send(lp_chan *c, const void *data, size_t n, int timeout_ms)
{
    if (!c || (!data && n) || c->wfd < 0)
        return -EINVAL;
    if (n > LP_CHAN_MAX)
        return -EMSGSIZE;
    if (c->wdead)
        return -EPIPE;
    unsigned char hdr[4];
    put_u32(hdr, (uint32_t)n);
    struct iovec iov[3];
    int cnt = 0;
    size_t pend = c->pend_len - c->pend_off;
    if (pend)
        iov[cnt++] = (struct iovec){c->pend + c->pend_off, pend};
    iov[cnt++] = (struct iovec){hdr, 4};
    if (n)
        iov[cnt++] = (struct iovec){(void *)data, n};
    size_t done;
    int r = write_iov(c, iov, cnt, timeout_ms < 0 ? -1 : lp__deadline(timeout_ms), &done);
    if (r == 0) {
        if (pend)
            pend_clear(c);
        return 0;
    }
    if (r != -ETIMEDOUT && r != -EINTR) { /* the stream is unusable (peer gone): drop the rest */
        pend_clear(c);
        return r;
    }
    if (done < pend) { /* still busy with the earlier frame: nothing of this one went out */
        c->pend_off += done;
        return r;
    }
    size_t sent = done - pend; /* bytes of this frame (header included) written */
    if (sent == 0) {
        pend_clear(c);
        return r;
    }
    /* keep the rest of this frame */
    size_t rest = 4 + n - sent;
    if (rest > c->pend_cap) {
        char *p = malloc(rest);
        if (!p) {
            write_side_fail(c);
            return -ENOMEM;
        }
        free(c->pend);
        c->pend = p;
        c->pend_cap = rest;
    }
    size_t k = 0;
    if (sent < 4) {
        memcpy(c->pend, hdr + sent, 4 - sent);
        k = 4 - sent;
        sent = 4;
    }
    if (n)
        memcpy(c->pend + k, (const char *)data + (sent - 4), n - (sent - 4));
    c->pend_off = 0;
    c->pend_len = rest;
    return r;
}

int lp_chan_flush(lp_chan *c, int timeout_ms)
{
    if (!c)
        return -EINVAL;
    size_t pend = c->pend_len - c->pend_off;
    if (!pend)
        return c->wdead ? -EPIPE : 0;
    struct iovec iov = {c->pend + c->pend_off, pend};
    size_t done;
    int r = write_iov(c, &iov, 1, timeout_ms < 0 ? -1 : lp__deadline(timeout_ms), &done);
    if (r == 0 || (r != -ETIMEDOUT && r != -EINTR))
        pend_clear(c);
    else
        c->pend_off += done;
    return r;
}

/* ---- receiving ---- */

/* The frame at rbuf[rpos] is complete: copy it into out. */
static int deliver_small(lp_chan *c, lp_buf *out, size_t len)
{
    out->len = 0;
    if (lp__buf_reserve(out, len) < 0)
        return -ENOMEM;
    memcpy(out->data, c->rbuf + c->rpos + 4, len);
    out->len = len;
    out->data[len] = 0;
    c->rpos += 4 + len;
    if (c->rpos == c->rlen)
        c->rpos = c->rlen = 0;
    return 0;
}

/* `frame` is complete: swap it into out (out's old storage is kept for the next big frame). */
static void deliver_big(lp_chan *c, lp_buf *out)
{
    lp_buf old = *out;
    *out = c->frame;
    out->data[out->len] = 0;
    c->frame = old;
    c->frame.len = 0;
    c->big = false;
}

int lp_chan_recv(lp_chan *c, lp_buf *out, int timeout_ms)
{
    if (!c || !out || c->rfd < 0)
        return -EINVAL;
    if (c->bad)
        return -EPROTO;
    if (!c->rbuf && !(c->rbuf = malloc(RBUF)))
        return -ENOMEM;
    lp_deadline d = -2; /* computed at the first wait: a frame already buffered costs no clock */
    int intr = lp__wait_interrupt_fd();
    for (;;) {
        if (!c->big) {
            size_t avail = c->rlen - c->rpos;
            if (avail >= 4) {
                uint32_t len = get_u32(c->rbuf + c->rpos);
                if (len > LP_CHAN_MAX) {
                    c->bad = true;
                    return -EPROTO;
                }
                if (avail - 4 >= len)
                    return deliver_small(c, out, len);
                if (4 + (size_t)len > RBUF) { /* read the rest straight into its own buffer */
                    c->frame.len = 0;
                    if (lp__buf_reserve(&c->frame, len) < 0)
                        return -ENOMEM;
                    memcpy(c->frame.data, c->rbuf + c->rpos + 4, avail - 4);
                    c->frame.len = avail - 4;
                    c->want = len;
                    c->big = true;
                    c->rpos = c->rlen = 0;
                    continue;
                }
            }
            if (c->eof) {
                c->rpos = c->rlen = 0; /* a partial frame at EOF is dropped */
                return LP_ECLOSED;
            }
            if (c->rpos > 0) { /* the partial frame (< RBUF) to the front: room behind it */
                memmove(c->rbuf, c->rbuf + c->rpos, avail);
                c->rpos = 0;
                c->rlen = avail;
            }
        } else if (c->frame.len == c->want) {
            deliver_big(c, out);
            return 0;
        } else if (c->eof) {
            c->big = false;
            c->frame.len = 0;
            return LP_ECLOSED;
        }
        struct iovec iov[2];
        int cnt = 0;
        if (c->big)
            iov[cnt++] = (struct iovec){c->frame.data + c->frame.len, c->want - c->frame.len};
        iov[cnt++] = (struct iovec){c->rbuf + c->rlen, RBUF - c->rlen};
        ssize_t got;
        if (c->rsock) {
            struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)cnt};
            bool block = timeout_ms < 0 && intr < 0;
            got = recvmsg(c->rfd, &mh, MSG_CMSG_CLOEXEC | (block ? 0 : MSG_DONTWAIT));
        } else {
            got = readv(c->rfd, iov, cnt);
        }
        if (got > 0) {
            size_t g = (size_t)got;
            if (c->big) {
                size_t k = c->want - c->frame.len < g ? c->want - c->frame.len : g;
                c->frame.len += k;
                g -= k;
            }
            c->rlen += g;
            continue;
        }
        if (got == 0 || errno == ECONNRESET) {
            c->eof = true;
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -errno;
        if (d == -2)
            d = timeout_ms < 0 ? -1 : lp__deadline(timeout_ms);
        int r = wait_fd(c->rfd, POLLIN, d, intr);
        if (r < 0)
            return r;
    }
}
