/* The mem: queue store: a queue inside this process, shared by its threads.  See libpipe.h
 * "Queues" and queue.h.
 *
 * Items.  One allocation per item: a block holding the bytes (NUL-terminated) followed by the
 * item's header.  A get hands a small block to the caller's lp_buf as it is (its data pointer is
 * the block), so a get allocates and copies nothing; a large one is copied out (the copy costs
 * no more than the put's).  FIFO and LIFO keep a singly linked list (O(1) both ends); PRIORITY
 * a binary min-heap of (priority, sequence number, item) entries, the keys beside the pointers
 * so that sifting reads no item: lowest priority first, equal priorities in put order.
 *
 * Waiting.  One mutex guards the queue.  A thread with no lp_set_wait_interrupt descriptor
 * waits on a condition variable (CLOCK_MONOTONIC deadline); one with such a descriptor cannot
 * (a condition variable cannot watch a descriptor), so it waits in poll() on a fresh eventfd of
 * its own plus the interrupt descriptor, its eventfd linked into the queue's list of such
 * waiters.  Whoever makes an item or a slot available wakes one waiter of the kind that wants
 * it (a list waiter first, by writing its eventfd, else a condition signal); nothing is signalled
 * when nobody waits, so an uncontended put or get is a lock, a pointer move and an unlock.
 * A woken waiter that finds its wish already taken waits again; one that takes an item and
 * sees more left (or a putter that sees more room) wakes the next waiter: a wake-up given to a
 * waiter that was already awake is never the one that leaves items unclaimed.  A waiter leaves
 * on timeout or interrupt only after a last look finds nothing for it. */
#include "queue.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* A get hands over blocks below this size (malloc'ed, as lp_buf keeps small buffers; buf.c maps
 * its own only from 1 MiB on) and copies larger ones. */
#define ADOPT_MAX ((size_t)64 * 1024)

struct mem_item {
    struct mem_item *next; /* FIFO/LIFO list */
    char *block;           /* the allocation: bytes at its start, this header after them */
    size_t len, room;      /* bytes; room: usable bytes before the header (> len)          */
    int priority;
};

struct heap_ent { /* the key beside the pointer: sifting touches no item */
    uint64_t seq;
    int priority;
    struct mem_item *it;
};

struct waiter { /* a thread waiting in poll() (it has an interrupt descriptor) */
    struct waiter *next, *prev;
    int efd;
    bool woken;
};

struct side { /* the waiters of one kind: getters (want an item) or putters (want room) */
    pthread_cond_t cv;
    int ncond;            /* waiting on cv */
    struct waiter *list;  /* waiting in poll() */
};

struct mem_queue {
    struct lp_queue base;
    pthread_mutex_t mu;
    struct side getters, putters;
    lp_queue_order order;
    size_t max_items, count;
    struct mem_item *head, *tail; /* FIFO / LIFO */
    struct heap_ent *heap;        /* PRIORITY */
    size_t heap_cap;
    uint64_t seq;
    bool closed;
};

/* ---- items ---- */

static size_t header_offset(size_t n)
{
    size_t a = alignof(struct mem_item);
    return (n + 1 + a - 1) / a * a;
}

static struct mem_item *item_new(const void *data, size_t n, int priority)
{
    if (n > SIZE_MAX - sizeof(struct mem_item) - 2 * alignof(struct mem_item))
        return NULL;
    size_t off = header_offset(n);
    char *block = malloc(off + sizeof(struct mem_item));
    if (!block)
        return NULL;
    memcpy(block, data, n);
    block[n] = 0;
    struct mem_item *it = (struct mem_item *)(void *)(block + off);
    *it = (struct mem_item){.block = block, .len = n, .room = off, .priority = priority};
    return it;
}

static void item_free(struct mem_item *it)
{
    free(it->block);
}

/* Hand an item taken off the queue to the caller's *out. */
static int item_out(struct mem_item *it, lp_queue_item *out)
{
    if (it->room < ADOPT_MAX) {
        out->data = (lp_buf){.data = it->block, .len = it->len, .cap = it->room};
        out->id = 0;
        out->priority = it->priority;
        out->attempts = 1;
        return 0; /* the header after the bytes is dead from here on: the block is out's */
    }
    int r = lp__queue_item_set(out, it->block, it->len, 0, it->priority, 1);
    item_free(it);
    return r;
}

/* ---- the heap: (priority, seq) ascending ---- */

static bool before(const struct heap_ent *a, const struct heap_ent *b)
{
    return a->priority != b->priority ? a->priority < b->priority : a->seq < b->seq;
}

static void heap_up(struct heap_ent *h, size_t i)
{
    struct heap_ent x = h[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(&x, &h[p]))
            break;
        h[i] = h[p];
        i = p;
    }
    h[i] = x;
}

static void heap_down(struct heap_ent *h, size_t n, size_t i)
{
    struct heap_ent x = h[i];
    for (;;) {
        size_t l = 2 * i + 1;
        if (l >= n)
            break;
        size_t m = l + 1 < n && before(&h[l + 1], &h[l]) ? l + 1 : l;
        if (!before(&h[m], &x))
            break;
        h[i] = h[m];
        i = m;
    }
    h[i] = x;
}

static struct mem_item *heap_pop(struct heap_ent *h, size_t *n)
{
    struct mem_item *top = h[0].it;
    if (--*n > 0) {
        h[0] = h[*n];
        heap_down(h, *n, 0);
    }
    return top;
}

/* ---- the queue's contents (mutex held) ---- */

static int push(struct mem_queue *q, struct mem_item *it)
{
    switch (q->order) {
    case LP_QUEUE_FIFO:
        it->next = NULL;
        if (q->tail)
            q->tail->next = it;
        else
            q->head = it;
        q->tail = it;
        break;
    case LP_QUEUE_LIFO:
        it->next = q->head;
        q->head = it;
        break;
    case LP_QUEUE_PRIORITY:
        if (q->count == q->heap_cap) {
            size_t cap = q->heap_cap ? 2 * q->heap_cap : 64;
            struct heap_ent *h = cap < SIZE_MAX / sizeof *h ? realloc(q->heap, cap * sizeof *h) : NULL;
            if (!h)
                return -ENOMEM;
            q->heap = h;
            q->heap_cap = cap;
        }
        q->heap[q->count] = (struct heap_ent){.seq = q->seq++, .priority = it->priority, .it = it};
        heap_up(q->heap, q->count);
        break;
    }
    q->count++;
    return 0;
}

static struct mem_item *pop(struct mem_queue *q)
{
    struct mem_item *it;
    if (q->order == LP_QUEUE_PRIORITY) {
        it = heap_pop(q->heap, &q->count);
        if (q->heap_cap > 1024 && q->count < q->heap_cap / 8) { /* give back a drained peak */
            struct heap_ent *h = realloc(q->heap, q->heap_cap / 2 * sizeof *h);
            if (h) {
                q->heap = h;
                q->heap_cap /= 2;
            }
        }
        return it;
    }
    it = q->head;
    q->head = it->next;
    if (!q->head)
        q->tail = NULL;
    q->count--;
    return it;
}

/* ---- waiting (mutex held) ---- */

static bool has_waiters(const struct side *s)
{
    return s->ncond > 0 || s->list;
}

static void unlink_waiter(struct side *s, struct waiter *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        s->list = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->next = w->prev = NULL;
}

static void wake_one(struct side *s)
{
    struct waiter *w = s->list;
    if (w) {
        unlink_waiter(s, w);
        w->woken = true;
        uint64_t one = 1;
        while (write(w->efd, &one, sizeof one) < 0 && errno == EINTR)
            ;
    } else if (s->ncond > 0) {
        pthread_cond_signal(&s->cv);
    }
}

static void wake_all(struct side *s)
{
    while (s->list)
        wake_one(s);
    if (s->ncond > 0)
        pthread_cond_broadcast(&s->cv);
}

/* Wait once on side s until woken (0: look again), the deadline (-ETIMEDOUT) or the thread's
 * interrupt descriptor (-EINTR).  Woken or not, the caller looks at the queue again. */
static int wait_on(struct mem_queue *q, struct side *s, lp_deadline d)
{
    int intr = lp__wait_interrupt_fd();
    if (intr < 0) {
        int e;
        s->ncond++;
        if (d < 0) {
            e = pthread_cond_wait(&s->cv, &q->mu);
        } else {
            struct timespec ts = {.tv_sec = d / 1000000000, .tv_nsec = d % 1000000000};
            e = pthread_cond_timedwait(&s->cv, &q->mu, &ts);
        }
        s->ncond--;
        return e == ETIMEDOUT ? -ETIMEDOUT : 0;
    }
    int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (efd < 0)
        return -errno;
    struct waiter w = {.efd = efd, .next = s->list};
    if (s->list)
        s->list->prev = &w;
    s->list = &w;
    pthread_mutex_unlock(&q->mu);
    int r;
    for (;;) {
        struct pollfd pf[2] = {{.fd = efd, .events = POLLIN}, {.fd = intr, .events = POLLIN}};
        int ms = lp__remaining_ms(d);
        int pr = poll(pf, 2, ms);
        if (pr < 0 && errno != EINTR) {
            r = -errno;
            break;
        }
        if (pr > 0 && pf[0].revents) {
            r = 0;
            break;
        }
        if (pr > 0 && pf[1].revents) {
            r = -EINTR;
            break;
        }
        if (ms == 0 || lp__remaining_ms(d) == 0) {
            r = -ETIMEDOUT;
            break;
        }
    }
    pthread_mutex_lock(&q->mu);
    if (!w.woken)
        unlink_waiter(s, &w);
    close(efd);
    return r;
}

static bool expired(lp_deadline d)
{
    return d >= 0 && lp__now_ns() >= d;
}

/* ---- operations ---- */

static int mem_put(lp_queue *qq, const void *data, size_t n, int priority, lp_deadline d)
{
    struct mem_queue *q = (struct mem_queue *)qq;
    struct mem_item *it = item_new(data, n, priority);
    if (!it)
        return lp__queue_seterr(-ENOMEM, "mem: no memory for an item of %zu bytes", n);
    pthread_mutex_lock(&q->mu);
    int r;
    for (;;) {
        if (q->closed) {
            r = LP_ECLOSED;
            break;
        }
        if (!q->max_items || q->count < q->max_items) {
            r = push(q, it);
            if (r == 0) {
                it = NULL;
                if (has_waiters(&q->getters))
                    wake_one(&q->getters);
                if (q->max_items && q->count < q->max_items && has_waiters(&q->putters))
                    wake_one(&q->putters); /* pass on a wake-up this put may have used */
            }
            break;
        }
        if (expired(d)) {
            r = -ETIMEDOUT;
            break;
        }
        r = wait_on(q, &q->putters, d);
        if (r < 0 && !q->closed && q->count >= q->max_items)
            break; /* nothing changed for us at the last look */
    }
    pthread_mutex_unlock(&q->mu);
    if (it)
        item_free(it);
    if (r == -ENOMEM)
        return lp__queue_seterr(r, "mem: no memory to grow the queue");
    if (r == -ETIMEDOUT)
        return lp__queue_seterr(r, "mem: queue full (%zu items)", q->max_items);
    if (r < 0 && r != LP_ECLOSED && r != -EINTR)
        return lp__queue_seterr(r, "mem: cannot wait: %s", lp_strerror(r));
    return r;
}

static int mem_get(lp_queue *qq, lp_queue_item *out, lp_deadline d)
{
    struct mem_queue *q = (struct mem_queue *)qq;
    struct mem_item *it = NULL;
    pthread_mutex_lock(&q->mu);
    int r;
    for (;;) {
        if (q->count) {
            it = pop(q);
            r = 0;
            if (q->max_items && has_waiters(&q->putters))
                wake_one(&q->putters);
            if (q->count && has_waiters(&q->getters))
                wake_one(&q->getters); /* pass on a wake-up this get may have used */
            break;
        }
        if (q->closed) {
            r = LP_ECLOSED;
            break;
        }
        if (expired(d)) {
            r = -ETIMEDOUT;
            break;
        }
        r = wait_on(q, &q->getters, d);
        if (r < 0 && !q->count && !q->closed)
            break;
    }
    pthread_mutex_unlock(&q->mu);
    if (it)
        return item_out(it, out) < 0 ? lp__queue_seterr(-ENOMEM, "mem: no memory for an item")
                                     : 0;
    if (r < 0 && r != LP_ECLOSED && r != -EINTR && r != -ETIMEDOUT)
        return lp__queue_seterr(r, "mem: cannot wait: %s", lp_strerror(r));
    return r;
}

static int mem_stat(lp_queue *qq, lp_queue_stats *s)
{
    struct mem_queue *q = (struct mem_queue *)qq;
    pthread_mutex_lock(&q->mu);
    s->waiting = q->count;
    s->inflight = 0;
    s->dead = 0;
    s->max_items = q->max_items;
    s->order = q->order;
    s->closed = q->closed;
    pthread_mutex_unlock(&q->mu);
    return 0;
}

static int mem_peek(lp_queue *qq, bool dead, size_t max, lp_queue_item **items, size_t *n)
{
    struct mem_queue *q = (struct mem_queue *)qq;
    if (dead)
        return 0; /* no dead letters in memory */
    pthread_mutex_lock(&q->mu);
    size_t k = q->count < max ? q->count : max;
    lp_queue_item *v = k ? calloc(k, sizeof *v) : NULL;
    struct heap_ent *h = NULL;
    int r = k && !v ? -ENOMEM : 0;
    if (r == 0 && k && q->order == LP_QUEUE_PRIORITY) {
        /* pop k from a copy of the heap: O(n + k log n) */
        h = malloc(q->count * sizeof *h);
        if (!h)
            r = -ENOMEM;
        else
            memcpy(h, q->heap, q->count * sizeof *h);
    }
    size_t hn = q->count, got = 0;
    const struct mem_item *cur = q->head;
    while (r == 0 && got < k) {
        const struct mem_item *it;
        if (h)
            it = heap_pop(h, &hn);
        else {
            it = cur;
            cur = cur->next;
        }
        /* not delivered: attempts 0, as in every store */
        r = lp__queue_item_set(&v[got], it->block, it->len, 0, it->priority, 0);
        if (r == 0)
            got++;
    }
    pthread_mutex_unlock(&q->mu);
    free(h);
    if (r < 0) {
        lp_queue_items_free(v, got);
        return lp__queue_seterr(r, "mem: no memory to copy %zu items", k);
    }
    *items = v;
    *n = got;
    return 0;
}

static int mem_close(lp_queue *qq)
{
    struct mem_queue *q = (struct mem_queue *)qq;
    pthread_mutex_lock(&q->mu);
    q->closed = true;
    wake_all(&q->getters);
    wake_all(&q->putters);
    pthread_mutex_unlock(&q->mu);
    return 0;
}

static void mem_free(lp_queue *qq)
{
    struct mem_queue *q = (struct mem_queue *)qq;
    while (q->count)
        item_free(pop(q));
    free(q->heap);
    pthread_cond_destroy(&q->getters.cv);
    pthread_cond_destroy(&q->putters.cv);
    pthread_mutex_destroy(&q->mu);
    free(q);
}

static int cond_init(pthread_cond_t *cv)
{
    pthread_condattr_t a;
    int e = pthread_condattr_init(&a);
    if (e)
        return -e;
    e = pthread_condattr_setclock(&a, CLOCK_MONOTONIC); /* lp_deadline's clock */
    if (!e)
        e = pthread_cond_init(cv, &a);
    pthread_condattr_destroy(&a);
    return -e;
}

static int mem_open(lp_queue **qq, const char *uri, const char *rest, const lp_queue_opts *o)
{
    if (*rest)
        return lp__queue_seterr(-EINVAL, "bad queue URI '%s' (mem: takes no name: each open of "
                                         "\"mem:\" is a new queue)", uri);
    if (o->no_create)
        return lp__queue_seterr(-ENOENT, "%s: no_create, but each open of \"mem:\" creates a "
                                         "new queue", uri);
    struct mem_queue *q = calloc(1, sizeof *q);
    if (!q)
        return lp__queue_seterr(-ENOMEM, "mem: no memory for a queue");
    q->order = o->order;
    q->max_items = o->max_items;
    int e = pthread_mutex_init(&q->mu, NULL);
    if (e) {
        free(q);
        return lp__queue_seterr(-e, "mem: pthread_mutex_init failed");
    }
    if ((e = cond_init(&q->getters.cv)) < 0) {
        pthread_mutex_destroy(&q->mu);
        free(q);
        return lp__queue_seterr(e, "mem: pthread_cond_init failed");
    }
    if ((e = cond_init(&q->putters.cv)) < 0) {
        pthread_cond_destroy(&q->getters.cv);
        pthread_mutex_destroy(&q->mu);
        free(q);
        return lp__queue_seterr(e, "mem: pthread_cond_init failed");
    }
    *qq = &q->base;
    return 0;
}

const struct lp__queue_ops lp__queue_mem_ops = {
    .scheme = "mem",
    .open = mem_open,
    .put = mem_put,
    .get = mem_get,
    .stat = mem_stat,
    .peek = mem_peek,
    .close = mem_close,
    .free = mem_free,
    /* ack, release, touch: no-ops; remove, list: a mem: queue has no name */
};
