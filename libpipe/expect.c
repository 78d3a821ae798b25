/* Expect: wait for patterns in a running child's output, and send it input.
 *
 * The output read from the child accumulates in one lp_buf; [start, len) is not consumed yet.
 * A match consumes [start, match end): start moves past it, and the consumed bytes stay where
 * they are until the next call, so the captures and the text before the match are plain
 * offsets into the buffer, valid until then (no copies).  The next call drops the consumed
 * bytes (memmove) only when they are at least as many as the ones kept, so a long dialogue
 * over a large unconsumed tail costs amortised linear time.
 *
 * Reads are non-blocking after poll() against a CLOCK_MONOTONIC deadline.  After each round
 * of reads every pattern is run over the unconsumed output from its first byte (so ^ anchors
 * at the start of what is not consumed); a round reads until the pipe is empty or it read as
 * much as was already unconsumed, so a large output is searched O(log n) times, not once per
 * 64 KiB. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define READ_MIN ((size_t)64 << 10)
#define READ_MAX ((size_t)4 << 20)

struct lp_expect {
    lp_proc *p;
    int stdio;
    lp_buf buf;
    size_t start;       /* first unconsumed byte */
    bool eof;           /* EOF (or EIO on a pty) seen: nothing more will come */
    /* the last call's result, as offsets into buf */
    int last;           /* its return value */
    size_t before_off, before_len;
    lp_regmatch *m;     /* captures of the pattern that matched (absolute offsets) */
    size_t nm, mcap;
};

int lp_expect_new(struct lp_expect **out, lp_proc *p, int stdio)
{
    *out = NULL;
    if (!p || stdio < 0 || stdio > 2 || p->fds[stdio] < 0 || (stdio == 0 && !p->is_pty))
        return -EINVAL;
    struct lp_expect *e = calloc(1, sizeof *e);
    if (!e)
        return -ENOMEM;
    e->p = p;
    e->stdio = stdio;
    e->last = -EAGAIN;
    *out = e;
    return 0;
}

void lp_expect_free(struct lp_expect *e)
{
    if (!e)
        return;
    lp_buf_free(&e->buf);
    free(e->m);
    free(e);
}

/* Drop the consumed bytes when that is cheap relative to what stays. */
static void compact(struct lp_expect *e)
{
    size_t keep = e->buf.len - e->start;
    if (e->start == 0 || keep > e->start)
        return;
    if (keep)
        memmove(e->buf.data, e->buf.data + e->start, keep);
    e->buf.len = keep;
    e->buf.data[keep] = 0;
    e->start = 0;
}

/* Run every pattern over the unconsumed output: the index of the earliest match (lowest index
 * among those starting at the same byte), its captures in e->m; -1 for none; -ENOMEM. */
static int search(struct lp_expect *e, lp_regex *const *pats, size_t n)
{
    const char *subj = e->buf.data ? e->buf.data + e->start : "";
    size_t len = e->buf.len - e->start;
    int best = -1;
    size_t best_start = SIZE_MAX;
    lp_regmatch m0;
    for (size_t k = 0; k < n; k++) {
        int r = lp_regex_match(pats[k], subj, len, 0, &m0, 1);
        if (r < 0)
            return r;
        if (r == 1 && m0.start < best_start) {
            best = (int)k;
            best_start = m0.start;
            if (best_start == 0)
                break; /* nothing can start earlier, and later indexes lose ties */
        }
    }
    if (best < 0)
        return -1;
    size_t nm = lp_regex_groups(pats[best]) + 1;
    if (nm > e->mcap) {
        lp_regmatch *m = realloc(e->m, nm * sizeof *m);
        if (!m)
            return -ENOMEM;
        e->m = m;
        e->mcap = nm;
    }
    int r = lp_regex_match(pats[best], subj, len, 0, e->m, nm); /* again: the groups */
    if (r < 0)
        return r;
    if (r == 0) /* cannot happen: the same pattern on the same subject */
        return -1;
    for (size_t i = 0; i < nm; i++)
        if (e->m[i].start != SIZE_MAX) {
            e->m[i].start += e->start;
            e->m[i].end += e->start;
        }
    e->nm = nm;
    return best;
}

/* Read what the descriptor holds now, up to about as much as is unconsumed already.  0, or
 * -errno; sets e->eof on EOF or a pty's EIO. */
static int read_some(struct lp_expect *e, int fd)
{
    size_t unconsumed = e->buf.len - e->start, got = 0;
    size_t limit = unconsumed < READ_MIN ? READ_MIN : unconsumed;
    while (got < limit) {
        size_t want = e->buf.len < READ_MIN ? READ_MIN : e->buf.len > READ_MAX ? READ_MAX : e->buf.len;
        if (lp__buf_reserve(&e->buf, want) < 0)
            return -ENOMEM;
        ssize_t r = read(fd, e->buf.data + e->buf.len, e->buf.cap - e->buf.len - 1);
        if (r > 0) {
            e->buf.len += (size_t)r;
            /* PCRE2's JIT scans in vector-sized blocks and may look at bytes past the subject's
             * end (harmless, same page) which a malloc'ed buffer leaves uninitialised (valgrind
             * reports it): keep a zeroed margin after the data */
            size_t room = e->buf.cap - e->buf.len;
            memset(e->buf.data + e->buf.len, 0, room < 64 ? room : 64);
            got += (size_t)r;
            continue;
        }
        if (r == 0 || (errno == EIO && e->stdio == 0)) {
            e->eof = true;
            return 0;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        return -errno;
    }
    return 0;
}

static void set_result(struct lp_expect *e, int r)
{
    e->last = r;
    if (r >= 0) {
        e->before_off = e->start;
        e->before_len = e->m[0].start - e->start;
        e->start = e->m[0].end;
    } else {
        e->nm = 0;
        e->before_off = e->start;
        e->before_len = e->buf.len - e->start;
    }
}

int lp_expect(struct lp_expect *e, lp_regex *const *pats, size_t n, int timeout_ms)
{
    lp_deadline d = lp__deadline(timeout_ms);
    e->nm = 0;
    e->last = -EAGAIN;
    e->before_off = e->start;
    e->before_len = 0;
    if (!pats || n == 0 || n > INT32_MAX)
        return -EINVAL;
    for (size_t k = 0; k < n; k++)
        if (!pats[k])
            return -EINVAL;
    compact(e);
    int fd = e->p->fds[e->stdio];
    int r = search(e, pats, n);
    if (r != -1) {
        if (r >= 0)
            set_result(e, r);
        return r;
    }
    if (e->eof) {
        set_result(e, LP_EEOF);
        return LP_EEOF;
    }
    if (fd < 0)
        return -EBADF; /* closed behind our back (lp_proc_close_fd) */
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return -errno;
    if (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -errno;
    int intr = lp__wait_interrupt_fd();
    for (;;) {
        struct pollfd pf[2] = {{.fd = fd, .events = POLLIN}, {.fd = intr, .events = POLLIN}};
        int pr = poll(pf, intr >= 0 ? 2 : 1, lp__remaining_ms(d));
        if (pr < 0 && errno != EINTR) {
            r = -errno;
            break;
        }
        if (pr > 0 && pf[0].revents) {
            r = read_some(e, fd);
            if (r < 0)
                break;
            r = search(e, pats, n);
            if (r != -1) {
                if (r >= 0)
                    set_result(e, r);
                break;
            }
            if (e->eof) {
                r = LP_EEOF;
                set_result(e, r);
                break;
            }
            continue; /* more may be ready: poll again (it does not wait when it is) */
        }
        if (pr > 0 && intr >= 0 && pf[1].revents) {
            r = -EINTR;
            set_result(e, r);
            break;
        }
        if (lp__remaining_ms(d) == 0) {
            r = -ETIMEDOUT;
            set_result(e, r);
            break;
        }
    }
    if (!(fl & O_NONBLOCK))
        fcntl(fd, F_SETFL, fl);
    return r;
}

const char *lp_expect_group(const struct lp_expect *e, size_t i, size_t *len)
{
    if (len)
        *len = 0;
    if (e->last < 0 || i >= e->nm || e->m[i].start == SIZE_MAX)
        return NULL;
    if (len)
        *len = e->m[i].end - e->m[i].start;
    return e->buf.data + e->m[i].start;
}

const char *lp_expect_before(const struct lp_expect *e, size_t *len)
{
    if (len)
        *len = e->before_len;
    return e->buf.data ? e->buf.data + e->before_off : "";
}

size_t lp_expect_groups(const struct lp_expect *e)
{
    return e->last >= 0 && e->nm ? e->nm - 1 : 0;
}

int lp_proc_send(lp_proc *p, const void *data, size_t n, int timeout_ms)
{
    if (!p || (n && !data))
        return -EINVAL;
    int fd = p->fds[0];
    if (fd < 0)
        return -EINVAL;
    if (n == 0)
        return 0;
    lp_deadline d = lp__deadline(timeout_ms);
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return -errno;
    if (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -errno;
    int intr = lp__wait_interrupt_fd();
    struct lp__sigpipe sp;
    lp__sigpipe_block(&sp);
    bool epipe = false;
    const char *s = data;
    int r = 0;
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w > 0) {
            s += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EPIPE) {
            epipe = true;
            r = -EPIPE;
            break;
        }
        if (w < 0 && errno == EIO && p->is_pty) { /* the terminal's other side is gone */
            r = -EPIPE;
            break;
        }
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            r = -errno;
            break;
        }
        struct pollfd pf[2] = {{.fd = fd, .events = POLLOUT}, {.fd = intr, .events = POLLIN}};
        int pr = poll(pf, intr >= 0 ? 2 : 1, lp__remaining_ms(d));
        if (pr < 0 && errno != EINTR) {
            r = -errno;
            break;
        }
        if (pr > 0 && pf[0].revents)
            continue; /* writable, or an error the next write reports */
        if (pr > 0 && intr >= 0 && pf[1].revents) {
            r = -EINTR;
            break;
        }
        if (lp__remaining_ms(d) == 0) {
            r = -ETIMEDOUT;
            break;
        }
    }
    lp__sigpipe_restore(&sp, epipe);
    if (!(fl & O_NONBLOCK))
        fcntl(fd, F_SETFL, fl);
    return r;
}
