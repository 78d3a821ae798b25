/* Channels (lp_chan_pair, lp_chan_open, lp_chan_send, lp_chan_flush, lp_chan_recv): whole
 * messages of every size (0 bytes to 16 MiB) both ways at once, many small ones in order, a
 * sender SIGKILLed in the middle of a frame, receive and send timeouts with partial frames
 * kept, -EPIPE without SIGPIPE, -EINTR from lp_set_wait_interrupt, pipe pairs, malformed
 * frames, argument checks, and no descriptor left behind.
 *
 * Nothing here relies on a sleep: a partial frame is made by writing raw bytes on the
 * descriptor, a full socket by sending with timeout 0 until it times out, a child's progress
 * is announced by closing a pipe; the timeouts given to waits are hang guards only. */
#include "testutil.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#define HANG_MS 60000 /* a hang guard on waits, never expected to expire */

/* ---- helpers ---- */

static void fill(char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (char)(i * 131 + (i >> 9) + seed);
}

static bool same(const char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != (char)(i * 131 + (i >> 9) + seed))
            return false;
    return true;
}

static void pair(lp_chan **a, lp_chan **b)
{
    int r = lp_chan_pair(a, b);
    cr_assert_eq(r, 0, "lp_chan_pair: %s", strerror(-r));
}

static void hdr(unsigned char *h, uint32_t n)
{
    h[0] = (unsigned char)(n >> 24);
    h[1] = (unsigned char)(n >> 16);
    h[2] = (unsigned char)(n >> 8);
    h[3] = (unsigned char)n;
}

static bool write_all(int fd, const void *p, size_t n)
{
    const char *s = p;
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        s += w;
        n -= (size_t)w;
    }
    return true;
}

static bool sigpipe_pending(void)
{
    sigset_t s;
    sigpending(&s);
    return sigismember(&s, SIGPIPE);
}

static bool sigpipe_blocked(void)
{
    sigset_t s;
    pthread_sigmask(SIG_SETMASK, NULL, &s);
    return sigismember(&s, SIGPIPE);
}

/* Send with timeout 0 until the channel is full; the number of messages sent whole. */
static size_t fill_up(lp_chan *a, size_t msg, unsigned *seq)
{
    char *buf = calloc(1, msg);
    size_t k = 0;
    for (;;) {
        snprintf(buf, msg, "%u", *seq);
        int r = lp_chan_send(a, buf, msg, 0);
        if (r == -ETIMEDOUT)
            break;
        cr_assert_eq(r, 0, "send %u: %s", *seq, strerror(-r));
        (*seq)++;
        k++;
        cr_assert_lt(k, 100000, "the channel never filled up");
    }
    free(buf);
    return k;
}

/* Read everything on b (flushing a's pending rest as room appears) until both are idle; check
 * that every message is whole: its number (at its start) > the previous, its size `msg`.
 * Returns the numbers in order in *got (malloc'ed). */
static size_t drain_numbered(lp_chan *a, lp_chan *b, size_t msg, unsigned **got)
{
    size_t n = 0, cap = 1024;
    *got = malloc(cap * sizeof **got);
    lp_buf m = {0};
    int flushed = -ETIMEDOUT;
    for (int rounds = 0;; rounds++) {
        cr_assert_lt(rounds, 10000000);
        int r = lp_chan_recv(b, &m, 0);
        if (r == 0) {
            cr_assert_eq(m.len, msg, "a message of %zu bytes, not %zu", m.len, msg);
            unsigned v = (unsigned)strtoul(m.data, NULL, 10);
            cr_assert(n == 0 || v > (*got)[n - 1], "message %u after %u", v, (*got)[n - 1]);
            if (n == cap)
                *got = realloc(*got, (cap *= 2) * sizeof **got);
            (*got)[n++] = v;
            continue;
        }
        cr_assert_eq(r, -ETIMEDOUT, "recv: %s", strerror(-r));
        if (flushed == 0)
            break; /* nothing pending and nothing readable: done */
        flushed = lp_chan_flush(a, 0);
        cr_assert(flushed == 0 || flushed == -ETIMEDOUT, "flush: %s", strerror(-flushed));
    }
    lp_buf_free(&m);
    return n;
}

/* ---- round trips ---- */

struct echo_arg {
    lp_chan *c;
    size_t n;
};

static void *echo_thread(void *p)
{
    struct echo_arg *e = p;
    lp_buf m = {0};
    for (;;) {
        int r = lp_chan_recv(e->c, &m, HANG_MS);
        if (r == LP_ECLOSED)
            break;
        cr_assert_eq(r, 0, "echo recv: %s", strerror(-r));
        r = lp_chan_send(e->c, m.data, m.len, HANG_MS);
        cr_assert_eq(r, 0, "echo send: %s", strerror(-r));
        e->n++;
    }
    lp_buf_free(&m);
    return NULL;
}

struct sizes_arg {
    lp_chan *c;
    const size_t *sizes;
    size_t n;
};

static void *send_sizes(void *p)
{
    struct sizes_arg *s = p;
    for (size_t i = 0; i < s->n; i++) {
        char *buf = malloc(s->sizes[i] + 1);
        fill(buf, s->sizes[i], (unsigned)i);
        int r = lp_chan_send(s->c, buf, s->sizes[i], HANG_MS);
        cr_assert_eq(r, 0, "send %zu bytes: %s", s->sizes[i], strerror(-r));
        free(buf);
    }
    return NULL;
}

/* Messages of every size go a -> b, are echoed b -> a while a is still sending: both
 * directions carry big frames at once (an echo blocked sending while its peer is blocked
 * sending to it would deadlock, unless each side's receiver keeps reading). */
static void round_trip(lp_chan *a, lp_chan *b)
{
    size_t big = test_count("LP_CHAN_BIG", (size_t)16 << 20, (size_t)2 << 20);
    const size_t sizes[] = {0, 1, 2, 3, 4, 5, 100, 0, 4096, 65531, 65532, 65533, 65536, 0,
                            100000, 1 << 20, big, 7, big, 0, 3 << 20, 1};
    size_t ns = sizeof sizes / sizeof sizes[0];
    struct echo_arg e = {.c = b};
    struct sizes_arg s = {.c = a, .sizes = sizes, .n = ns};
    pthread_t te, ts;
    cr_assert_eq(pthread_create(&te, NULL, echo_thread, &e), 0);
    cr_assert_eq(pthread_create(&ts, NULL, send_sizes, &s), 0);
    lp_buf m = {0};
    for (size_t i = 0; i < ns; i++) {
        int r = lp_chan_recv(a, &m, HANG_MS);
        cr_assert_eq(r, 0, "recv #%zu: %s", i, strerror(-r));
        cr_assert_eq(m.len, sizes[i], "#%zu: %zu bytes, not %zu", i, m.len, sizes[i]);
        cr_assert(same(m.data, m.len, (unsigned)i), "#%zu (%zu bytes) corrupted", i, m.len);
        cr_assert_eq(m.data[m.len], 0, "not NUL-terminated");
    }
    pthread_join(ts, NULL);
    lp_chan_free(a); /* the echo's recv sees the end */
    pthread_join(te, NULL);
    cr_assert_eq(e.n, ns);
    lp_chan_free(b);
    lp_buf_free(&m);
}

Test(chan, round_trip_sizes_both_ways)
{
    int fds = count_fds();
    lp_chan *a, *b;
    pair(&a, &b);
    round_trip(a, b);
    cr_assert_eq(count_fds(), fds, "descriptors leaked");
}

Test(chan, pipe_pair_round_trip)
{
    int fds = count_fds();
    int p1[2], p2[2];
    cr_assert_eq(pipe2(p1, O_CLOEXEC), 0);
    cr_assert_eq(pipe2(p2, O_CLOEXEC), 0);
    lp_chan *a, *b;
    cr_assert_eq(lp_chan_open(&a, p1[0], p2[1]), 0);
    cr_assert_eq(lp_chan_open(&b, p2[0], p1[1]), 0);
    cr_assert_eq(lp_chan_fd(a, 0), p1[0]);
    cr_assert_eq(lp_chan_fd(a, 1), p2[1]);
    cr_assert_eq(lp_chan_fd(b, 0), p2[0]);
    cr_assert_eq(lp_chan_fd(b, 1), p1[1]);
    cr_assert(fcntl(p1[0], F_GETFD) & FD_CLOEXEC);
    round_trip(a, b);
    cr_assert_eq(count_fds(), fds, "descriptors leaked");
}

Test(chan, pipe_without_cloexec_gets_it)
{
    int p[2];
    cr_assert_eq(pipe(p), 0);
    lp_chan *r, *w;
    cr_assert_eq(lp_chan_open(&r, p[0], -1), 0);
    cr_assert_eq(lp_chan_open(&w, -1, p[1]), 0);
    cr_assert(fcntl(p[0], F_GETFD) & FD_CLOEXEC);
    cr_assert(fcntl(p[1], F_GETFD) & FD_CLOEXEC);
    cr_assert_eq(lp_chan_fd(r, 1), -1);
    cr_assert_eq(lp_chan_fd(w, 0), -1);
    cr_assert_eq(lp_chan_send(r, "x", 1, 0), -EINVAL, "no write side");
    lp_buf m = {0};
    cr_assert_eq(lp_chan_recv(w, &m, 0), -EINVAL, "no read side");
    cr_assert_eq(lp_chan_send(w, "hello", 5, HANG_MS), 0);
    cr_assert_eq(lp_chan_recv(r, &m, HANG_MS), 0);
    cr_assert_str_eq(m.data, "hello");
    lp_chan_free(w);
    cr_assert_eq(lp_chan_recv(r, &m, HANG_MS), LP_ECLOSED);
    lp_chan_free(r);
    lp_buf_free(&m);
}

struct many_arg {
    lp_chan *c;
    size_t n;
};

static void *send_many(void *p)
{
    struct many_arg *s = p;
    char buf[64] = {0};
    for (size_t i = 0; i < s->n; i++) {
        int len = snprintf(buf, sizeof buf, "message %zu", i);
        int r = lp_chan_send(s->c, buf, (size_t)len + (i % 3), HANG_MS); /* some with NULs */
        cr_assert_eq(r, 0, "send %zu: %s", i, strerror(-r));
    }
    return NULL;
}

Test(chan, many_small_in_order)
{
    size_t n = test_count("LP_CHAN_MANY", 200000, 5000);
    lp_chan *a, *b;
    pair(&a, &b);
    struct many_arg s = {.c = a, .n = n};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, send_many, &s), 0);
    lp_buf m = {0};
    char want[64];
    for (size_t i = 0; i < n; i++) {
        int r = lp_chan_recv(b, &m, HANG_MS);
        cr_assert_eq(r, 0, "recv %zu: %s", i, strerror(-r));
        int len = snprintf(want, sizeof want, "message %zu", i);
        cr_assert_eq(m.len, (size_t)len + (i % 3), "message %zu: length %zu", i, m.len);
        cr_assert_eq(memcmp(m.data, want, (size_t)len), 0, "got '%s', want '%s'", m.data, want);
        for (size_t k = (size_t)len; k < m.len; k++)
            cr_assert_eq(m.data[k], 0);
    }
    pthread_join(t, NULL);
    lp_chan_free(a);
    cr_assert_eq(lp_chan_recv(b, &m, HANG_MS), LP_ECLOSED);
    cr_assert_eq(lp_chan_recv(b, &m, 0), LP_ECLOSED, "the end stays the end");
    lp_chan_free(b);
    lp_buf_free(&m);
}

/* ---- a sender killed in the middle of a frame ---- */

struct collect_arg {
    lp_chan *c;
    lp_buf msgs[8];
    size_t n;
    int end;
};

static void *collect(void *p)
{
    struct collect_arg *s = p;
    for (;;) {
        lp_buf m = {0};
        int r = lp_chan_recv(s->c, &m, HANG_MS);
        if (r != 0) {
            lp_buf_free(&m);
            s->end = r;
            return NULL;
        }
        if (s->n < 8)
            s->msgs[s->n] = m;
        else
            lp_buf_free(&m);
        s->n++;
    }
}

/* The child sends 3 whole messages through lp_chan, then by raw write(2) the header of a frame
 * of `size` bytes and half its payload, then closes `ready`; the parent kills it. */
static void killed_mid_frame(size_t size)
{
    int fds = count_fds();
    lp_chan *a, *b;
    pair(&a, &b);
    int ready[2];
    cr_assert_eq(pipe2(ready, O_CLOEXEC), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        close(ready[0]);
        lp_chan_free(a);
        int fd = lp_chan_fd(b, 0);
        lp_chan *c;
        if (lp_chan_open(&c, fd, fd) != 0)
            _exit(1);
        char *buf = malloc(size);
        if (!buf)
            _exit(1);
        fill(buf, size, 9);
        for (int i = 0; i < 3; i++) {
            char msg[32];
            int len = snprintf(msg, sizeof msg, "whole %d", i);
            if (lp_chan_send(c, msg, (size_t)len, HANG_MS) != 0)
                _exit(1);
        }
        unsigned char h[4];
        hdr(h, (uint32_t)size);
        if (!write_all(fd, h, 4) || !write_all(fd, buf, size / 2))
            _exit(1);
        close(ready[1]);
        for (;;)
            pause();
    }
    close(ready[1]);
    lp_chan_free(b);
    struct collect_arg s = {.c = a};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, collect, &s), 0);
    char c;
    cr_assert_eq(read(ready[0], &c, 1), 0, "the child did not get half way");
    close(ready[0]);
    cr_assert_eq(kill(pid, SIGKILL), 0);
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "the child ended on its own: %#x", st);
    pthread_join(t, NULL);
    cr_assert_eq(s.end, LP_ECLOSED, "end: %d", s.end);
    cr_assert_eq(s.n, 3, "%zu messages, not the 3 whole ones", s.n);
    for (int i = 0; i < 3; i++) {
        char want[32];
        snprintf(want, sizeof want, "whole %d", i);
        cr_assert_str_eq(s.msgs[i].data, want);
        lp_buf_free(&s.msgs[i]);
    }
    lp_buf m = {0};
    cr_assert_eq(lp_chan_recv(a, &m, 0), LP_ECLOSED);
    lp_chan_free(a);
    lp_buf_free(&m);
    cr_assert_eq(count_fds(), fds, "descriptors leaked");
}

Test(chan, sender_killed_mid_small_frame)
{
    killed_mid_frame(1000);
}

Test(chan, sender_killed_mid_big_frame)
{
    killed_mid_frame(test_count("LP_CHAN_BIG", (size_t)8 << 20, (size_t)2 << 20));
}

/* ---- timeouts ---- */

struct raw_arg {
    int fd;
    const char *p;
    size_t n;
};

static void *raw_writer(void *p)
{
    struct raw_arg *w = p;
    cr_assert(write_all(w->fd, w->p, w->n));
    return NULL;
}

Test(chan, recv_timeout_keeps_partial_frame)
{
    lp_chan *a, *b;
    pair(&a, &b);
    lp_buf m = {0};
    double t0 = now_s();
    cr_assert_eq(lp_chan_recv(b, &m, 50), -ETIMEDOUT);
    cr_assert_geq(now_s() - t0, 0.045, "timed out early");
    cr_assert_eq(lp_chan_recv(b, &m, 0), -ETIMEDOUT);

    /* a small frame in three pieces: header, half, rest + one more message */
    int fd = lp_chan_fd(a, 1);
    char small[1000];
    fill(small, sizeof small, 1);
    unsigned char h[4];
    hdr(h, sizeof small);
    cr_assert(write_all(fd, h, 2));
    cr_assert_eq(lp_chan_recv(b, &m, 0), -ETIMEDOUT, "half a header");
    cr_assert(write_all(fd, h + 2, 2));
    cr_assert(write_all(fd, small, 500));
    cr_assert_eq(lp_chan_recv(b, &m, 0), -ETIMEDOUT, "half a frame is not a message");
    cr_assert_eq(lp_chan_recv(b, &m, 20), -ETIMEDOUT);
    cr_assert(write_all(fd, small + 500, 500));
    cr_assert_eq(lp_chan_send(a, "next", 4, HANG_MS), 0);
    cr_assert_eq(lp_chan_recv(b, &m, HANG_MS), 0);
    cr_assert_eq(m.len, sizeof small);
    cr_assert(same(m.data, m.len, 1));
    cr_assert_eq(lp_chan_recv(b, &m, HANG_MS), 0);
    cr_assert_str_eq(m.data, "next");

    /* a big frame (larger than any read-ahead): header + 32 KiB, then the rest from a thread */
    size_t big = (size_t)1 << 20;
    char *buf = malloc(big);
    fill(buf, big, 2);
    hdr(h, (uint32_t)big);
    cr_assert(write_all(fd, h, 4));
    cr_assert(write_all(fd, buf, 32768));
    cr_assert_eq(lp_chan_recv(b, &m, 0), -ETIMEDOUT);
    cr_assert_eq(lp_chan_recv(b, &m, 10), -ETIMEDOUT);
    struct raw_arg w = {.fd = fd, .p = buf + 32768, .n = big - 32768};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, raw_writer, &w), 0);
    cr_assert_eq(lp_chan_recv(b, &m, HANG_MS), 0);
    pthread_join(t, NULL);
    cr_assert_eq(m.len, big);
    cr_assert(same(m.data, big, 2), "the big frame was corrupted");
    cr_assert_eq(lp_chan_send(a, "after", 5, HANG_MS), 0);
    cr_assert_eq(lp_chan_recv(b, &m, HANG_MS), 0);
    cr_assert_str_eq(m.data, "after");
    free(buf);
    lp_chan_free(a);
    lp_chan_free(b);
    lp_buf_free(&m);
}

Test(chan, send_timeout_keeps_rest_of_big_frame)
{
    lp_chan *a, *b;
    pair(&a, &b);
    size_t big = (size_t)4 << 20;
    char *buf = malloc(big);
    fill(buf, big, 3);
    double t0 = now_s();
    cr_assert_eq(lp_chan_send(a, buf, big, 50), -ETIMEDOUT, "4 MiB fit in a socket?");
    cr_assert_geq(now_s() - t0, 0.045, "timed out early");
    fill(buf, big, 99); /* the channel must have kept its own copy of the rest */
    lp_buf m = {0};
    cr_assert_eq(lp_chan_recv(b, &m, 0), -ETIMEDOUT, "part of a frame was delivered");
    int r, rounds = 0;
    while ((r = lp_chan_recv(b, &m, 0)) == -ETIMEDOUT) {
        int f = lp_chan_flush(a, 0);
        cr_assert(f == 0 || f == -ETIMEDOUT, "flush: %s", strerror(-f));
        cr_assert_lt(++rounds, 1000000);
    }
    cr_assert_eq(r, 0, "recv: %s", strerror(-r));
    cr_assert_eq(m.len, big);
    cr_assert(same(m.data, big, 3), "the frame was corrupted");
    cr_assert_eq(lp_chan_flush(a, 0), 0);
    cr_assert_eq(lp_chan_send(a, "after", 5, HANG_MS), 0);
    cr_assert_eq(lp_chan_recv(b, &m, HANG_MS), 0);
    cr_assert_str_eq(m.data, "after");
    free(buf);
    lp_chan_free(a);
    lp_chan_free(b);
    lp_buf_free(&m);
}

Test(chan, send_timeout_when_peer_does_not_read)
{
    lp_chan *a, *b;
    pair(&a, &b);
    unsigned seq = 0;
    size_t k = fill_up(a, 3000, &seq);
    cr_assert_gt(k, 0);
    /* full: more sends time out (they may leave the rest of one frame pending) */
    char msg[3000] = {0};
    snprintf(msg, sizeof msg, "%u", seq + 1);
    double t0 = now_s();
    cr_assert_eq(lp_chan_send(a, msg, sizeof msg, 30), -ETIMEDOUT);
    cr_assert_geq(now_s() - t0, 0.025, "timed out early");
    unsigned *got;
    size_t n = drain_numbered(a, b, 3000, &got);
    /* 0..k-1 whole and in order; then possibly k (the one that timed out, if it went out in
     * part) and k+1; nothing else, nothing broken */
    cr_assert_geq(n, k);
    cr_assert_leq(n, k + 2);
    for (size_t i = 0; i < k; i++)
        cr_assert_eq(got[i], i, "message %zu is %u", i, got[i]);
    for (size_t i = k; i < n; i++)
        cr_assert(got[i] == k || got[i] == k + 1, "message %u", got[i]);
    free(got);
    cr_assert_eq(lp_chan_send(a, "after", 5, HANG_MS), 0);
    lp_buf m = {0};
    cr_assert_eq(lp_chan_recv(b, &m, HANG_MS), 0);
    cr_assert_str_eq(m.data, "after");
    lp_chan_free(a);
    lp_chan_free(b);
    lp_buf_free(&m);
}

/* ---- the peer gone: -EPIPE, never SIGPIPE ---- */

Test(chan, epipe_socket_no_sigpipe)
{
    cr_assert_not(sigpipe_pending());
    lp_chan *a, *b;
    pair(&a, &b);
    lp_chan_free(b);
    cr_assert_eq(lp_chan_send(a, "x", 1, HANG_MS), -EPIPE);
    cr_assert_eq(lp_chan_send(a, "", 0, 0), -EPIPE);
    cr_assert_not(sigpipe_pending(), "SIGPIPE raised");
    lp_buf m = {0};
    cr_assert_eq(lp_chan_recv(a, &m, HANG_MS), LP_ECLOSED);
    lp_chan_free(a);
    lp_buf_free(&m);
}

struct close_arg {
    lp_chan *b;
};

/* Wait until b has bytes to read (a's big send is under way), then close b. */
static void *close_when_readable(void *p)
{
    struct close_arg *c = p;
    struct pollfd pf = {.fd = lp_chan_fd(c->b, 0), .events = POLLIN};
    cr_assert_eq(poll(&pf, 1, HANG_MS), 1);
    lp_chan_free(c->b);
    return NULL;
}

static void epipe_mid_send(lp_chan *a, lp_chan *b)
{
    size_t big = (size_t)8 << 20;
    char *buf = calloc(1, big);
    struct close_arg c = {.b = b};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, close_when_readable, &c), 0);
    cr_assert_eq(lp_chan_send(a, buf, big, HANG_MS), -EPIPE);
    pthread_join(t, NULL);
    cr_assert_not(sigpipe_pending(), "SIGPIPE raised");
    cr_assert_not(sigpipe_blocked(), "SIGPIPE left blocked");
    cr_assert_eq(lp_chan_flush(a, 0), 0, "nothing kept after -EPIPE");
    cr_assert_eq(lp_chan_send(a, "x", 1, 0), -EPIPE);
    free(buf);
    lp_chan_free(a);
}

Test(chan, epipe_socket_mid_send)
{
    lp_chan *a, *b;
    pair(&a, &b);
    epipe_mid_send(a, b);
}

Test(chan, epipe_pipe_no_sigpipe)
{
    int fds = count_fds();
    int p1[2], p2[2];
    cr_assert_eq(pipe2(p1, O_CLOEXEC), 0);
    cr_assert_eq(pipe2(p2, O_CLOEXEC), 0);
    lp_chan *a, *b;
    cr_assert_eq(lp_chan_open(&a, p1[0], p2[1]), 0);
    cr_assert_eq(lp_chan_open(&b, p2[0], p1[1]), 0);
    epipe_mid_send(a, b);
    cr_assert_eq(count_fds(), fds, "descriptors leaked");

    cr_assert_eq(pipe2(p1, O_CLOEXEC), 0);
    cr_assert_eq(lp_chan_open(&a, -1, p1[1]), 0);
    close(p1[0]);
    cr_assert_eq(lp_chan_send(a, "x", 1, HANG_MS), -EPIPE);
    cr_assert_not(sigpipe_pending(), "SIGPIPE raised");
    cr_assert_not(sigpipe_blocked(), "SIGPIPE left blocked");
    lp_chan_free(a);
    cr_assert_eq(count_fds(), fds, "descriptors leaked");
}

/* ---- lp_set_wait_interrupt ---- */

Test(chan, wait_interrupt)
{
    lp_chan *a, *b;
    pair(&a, &b);
    int ip[2];
    cr_assert_eq(pipe2(ip, O_CLOEXEC), 0);
    cr_assert_eq(write(ip[1], "!", 1), 1);
    lp_set_wait_interrupt(ip[0]);
    lp_buf m = {0};
    cr_assert_eq(lp_chan_recv(b, &m, HANG_MS), -EINTR);
    cr_assert_eq(lp_chan_recv(b, &m, -1), -EINTR);
    /* a message that is there is taken, interrupt or not */
    cr_assert_eq(lp_chan_send(a, "there", 5, HANG_MS), 0);
    cr_assert_eq(lp_chan_recv(b, &m, -1), 0);
    cr_assert_str_eq(m.data, "there");
    /* a send that has to wait for room */
    lp_set_wait_interrupt(-1);
    unsigned seq = 0;
    size_t k = fill_up(a, 3000, &seq);
    lp_set_wait_interrupt(ip[0]);
    char msg[3000] = {0};
    snprintf(msg, sizeof msg, "%u", seq + 1);
    cr_assert_eq(lp_chan_send(a, msg, sizeof msg, HANG_MS), -EINTR);
    cr_assert_eq(lp_chan_send(a, msg, sizeof msg, -1), -EINTR);
    lp_set_wait_interrupt(-1);
    unsigned *got;
    size_t n = drain_numbered(a, b, 3000, &got);
    cr_assert_geq(n, k);
    cr_assert_leq(n, k + 2);
    free(got);
    close(ip[0]);
    close(ip[1]);
    lp_chan_free(a);
    lp_chan_free(b);
    lp_buf_free(&m);
}

/* ---- malformed input and arguments ---- */

Test(chan, malformed_frame)
{
    lp_chan *a, *b;
    pair(&a, &b);
    cr_assert_eq(lp_chan_send(a, "ok", 2, HANG_MS), 0);
    unsigned char h[4];
    hdr(h, 0x80000001u); /* longer than LP_CHAN_MAX */
    cr_assert(write_all(lp_chan_fd(a, 1), h, 4));
    lp_buf m = {0};
    cr_assert_eq(lp_chan_recv(b, &m, HANG_MS), 0);
    cr_assert_str_eq(m.data, "ok");
    cr_assert_eq(lp_chan_recv(b, &m, HANG_MS), -EPROTO);
    cr_assert_eq(lp_chan_send(a, "more", 4, HANG_MS), 0);
    cr_assert_eq(lp_chan_recv(b, &m, HANG_MS), -EPROTO, "the stream stays lost");
    lp_chan_free(a);
    lp_chan_free(b);
    lp_buf_free(&m);
}

Test(chan, arguments)
{
    int fds = count_fds();
    lp_chan *a, *b;
    cr_assert_eq(lp_chan_pair(NULL, &b), -EINVAL);
    cr_assert_eq(lp_chan_open(NULL, 0, 1), -EINVAL);
    cr_assert_eq(lp_chan_open(&a, -1, -1), -EINVAL);
    cr_assert_null(a);
    int bad = open("/dev/null", O_RDONLY | O_CLOEXEC);
    close(bad);
    cr_assert_eq(lp_chan_open(&a, bad, -1), -EINVAL, "a closed descriptor");
    pair(&a, &b);
    cr_assert_eq(lp_chan_fd(a, 0), lp_chan_fd(a, 1), "one socket both ways");
    cr_assert_eq(lp_chan_fd(a, 2), -1);
    cr_assert_eq(lp_chan_fd(NULL, 0), -1);
    cr_assert(fcntl(lp_chan_fd(a, 0), F_GETFD) & FD_CLOEXEC);
    cr_assert(fcntl(lp_chan_fd(b, 0), F_GETFD) & FD_CLOEXEC);
    cr_assert_eq(lp_chan_send(a, NULL, 1, 0), -EINVAL);
    cr_assert_eq(lp_chan_send(NULL, "x", 1, 0), -EINVAL);
    cr_assert_eq(lp_chan_send(a, "x", LP_CHAN_MAX + 1, 0), -EMSGSIZE);
    cr_assert_eq(lp_chan_send(a, NULL, 0, 0), 0, "an empty message needs no data");
    lp_buf m = {0};
    cr_assert_eq(lp_chan_recv(NULL, &m, 0), -EINVAL);
    cr_assert_eq(lp_chan_recv(b, NULL, 0), -EINVAL);
    cr_assert_eq(lp_chan_recv(b, &m, HANG_MS), 0);
    cr_assert_eq(m.len, 0);
    cr_assert_eq(lp_chan_flush(NULL, 0), -EINVAL);
    cr_assert_eq(lp_chan_flush(a, 0), 0);
    lp_chan_free(NULL);
    lp_chan_free(a);
    lp_chan_free(b);
    lp_buf_free(&m);
    for (int i = 0; i < 100; i++) {
        pair(&a, &b);
        cr_assert_eq(lp_chan_send(a, "x", 1, 0), 0);
        lp_chan_free(a);
        lp_chan_free(b);
    }
    cr_assert_eq(count_fds(), fds, "descriptors leaked");
}
