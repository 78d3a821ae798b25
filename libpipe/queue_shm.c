/* The shm: queue store: a queue in POSIX shared memory (/dev/shm/lpq.NAME) shared by the
 * processes of one machine.  The segment's layout is in queue_shm.h.
 *
 * Creation.  The segment is made unnamed (O_TMPFILE in /dev/shm; a uniquely named temporary
 * file where O_TMPFILE is not supported), sized, initialised (geometry, robust mutex, magic),
 * and only then linked to its name with linkat(), which fails with EEXIST when another process
 * won the race: the loser drops its copy and opens the winner's.  So a segment found under its
 * name is always complete, and nobody waits for anybody to finish creating one.
 *
 * Locking.  FIFO queues: a lock per side (fifo_put, fifo_get; queue_shm.h), so that a putter
 * and a getter on two cores do not hand a lock's cache line to each other on every item; a
 * side reads the other's position only when its cached copy says full (empty); stat, peek
 * take both locks (tail, then head).  What follows is about LIFO and PRIORITY queues, and for
 * FIFO queues holds per side.  One process-shared robust mutex guards the state.  A process killed while it holds
 * it hands the next locker EOWNERDEAD: that process rebuilds the derived state from the
 * records (repair) and marks the mutex consistent.  Every operation commits with a single
 * aligned store (queue_shm.h), made after the bytes it publishes are in place, so a killed
 * producer's half-written record lies past tail and is never seen, and a killed consumer's
 * item is still there.
 *
 * Waiting.  Sleepers wait on futex words in the segment (get_seq, put_seq), not on
 * process-shared condition variables: glibc's condition variable keeps per-waiter accounting
 * (group references, the count of waiters pthread_cond_destroy waits for, the signals owed to
 * a group) that a waiter killed while blocked leaves behind, so later signals can go to a dead
 * waiter's slot and be lost, and there is no EOWNERDEAD for a condition variable to repair it.
 * A futex word carries no such state: a sleeper registers under the lock (getters++ and the
 * current generation), reads the word, unlocks and sleeps while the word is unchanged.  A put
 * that finds getters != 0 bumps get_seq and get_gen, sets getters to 0 (the woken no longer
 * count: a sleeper whose generation is still current when it comes back uncounts itself) and
 * wakes them all after unlocking.  A sleeper killed while blocked therefore costs one useless
 * wake at most, never a lost one, and the common case (nobody asleep) makes no system call at
 * all: the counts are read under the lock the operation holds anyway.  Before sleeping, a
 * waiter spins for a few microseconds watching count (without the lock), which catches the
 * next item of a busy producer without either side entering the kernel.  The price of waking
 * every sleeper of a side (a dead one cannot swallow a wake-one) is a herd when many getters
 * sleep on an empty queue: each put wakes them all, one gets the item, the others sleep again.
 *
 * Orders.  FIFO: a byte ring of records.  LIFO: a stack of records.  PRIORITY: the FIFO ring
 * plus a binary heap of (priority, arrival number, position) in the segment; its records are
 * taken out of arrival order, and the holes they leave are reclaimed by moving the oldest
 * records to the tail (rotate).
 *
 * Interrupts.  A futex cannot watch a descriptor.  A thread with an lp_set_wait_interrupt
 * descriptor checks it (poll, timeout 0) before every sleep and sleeps in slices of at most
 * INTR_SLICE_NS; a signal caught by a handler installed without SA_RESTART also ends the sleep
 * at once (FUTEX_WAIT fails with EINTR).  So an interrupt is seen at once when its signal
 * reaches the waiting thread, and within INTR_SLICE_NS otherwise. */
#include "queue.h"
#include "queue_shm.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define INTR_SLICE_NS (20 * 1000000LL) /* longest sleep of a thread with an interrupt fd      */
#define SPIN_WAIT 1000 /* pauses (a few us: ~30 ns each on a recent x86) before sleeping for an
                        * item or for room; counted, not timed: reading the clock costs more
                        * than a pause in a VM */
#define SPIN_LOCK 200                  /* trylock attempts before sleeping on the mutex       */
#define ROTATE_AHEAD 8                 /* PRIORITY: moves per put while there is room (rotate) */
#define CAP_MIN 64
#define CAP_MAX ((uint64_t)1 << 40)

struct shm_queue {
    lp_queue base;
    struct lpq_shm *h;
    unsigned char *ring;
    struct lpq_heap_ent *heap;
    size_t map_len;
};

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#else
    __asm__ __volatile__("" ::: "memory");
#endif
}

/* ---- names -------------------------------------------------------------------------------- */

static int check_name(const char *rest)
{
    size_t len = strlen(rest);
    if (len == 0 || len > LPQ_NAME_MAX || strchr(rest, '/'))
        return lp__queue_seterr(-EINVAL,
                                "bad shm queue name '%s' (1 to %d characters, no '/')", rest,
                                LPQ_NAME_MAX);
    return 0;
}

/* ---- futex -------------------------------------------------------------------------------- */

/* Sleep while *w == val, until woken or the CLOCK_MONOTONIC deadline d (-1: none). */
static void futex_wait(_Atomic uint32_t *w, uint32_t val, lp_deadline d)
{
    struct timespec ts, *tp = NULL;
    if (d >= 0) {
        ts.tv_sec = (time_t)(d / 1000000000);
        ts.tv_nsec = (long)(d % 1000000000);
        tp = &ts;
    }
    /* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC time.  Not FUTEX_PRIVATE_FLAG: the
     * word is shared between processes.  Errors (EAGAIN: the word changed, ETIMEDOUT, EINTR)
     * all mean "look again". */
    syscall(SYS_futex, (uint32_t *)w, FUTEX_WAIT_BITSET, val, tp, NULL, FUTEX_BITSET_MATCH_ANY);
}

static void futex_wake_all(_Atomic uint32_t *w)
{
    syscall(SYS_futex, (uint32_t *)w, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* ---- ring access -------------------------------------------------------------------------- */

static void ring_write(struct shm_queue *q, uint64_t pos, const void *src, size_t n)
{
    uint64_t cap = q->h->cap, off = pos % cap;
    size_t first = n < cap - off ? n : (size_t)(cap - off);
    memcpy(q->ring + off, src, first);
    if (n > first)
        memcpy(q->ring, (const char *)src + first, n - first);
}

static void ring_read(struct shm_queue *q, uint64_t pos, void *dst, size_t n)
{
    uint64_t cap = q->h->cap, off = pos % cap;
    size_t first = n < cap - off ? n : (size_t)(cap - off);
    memcpy(dst, q->ring + off, first);
    if (n > first)
        memcpy((char *)dst + first, q->ring, n - first);
}

static inline struct lpq_rec *rec_at(struct shm_queue *q, uint64_t pos)
{
    return (struct lpq_rec *)(q->ring + pos % q->h->cap);
}

/* LIFO: the header of the record that ends at stack offset top. */
static inline struct lpq_rec *lifo_rec(struct shm_queue *q, uint64_t top)
{
    return (struct lpq_rec *)(q->ring + top - sizeof(struct lpq_rec));
}

/* PRIORITY: the arrival number of the record at pos (after its header; never wraps). */
static inline uint64_t rec_seq(struct shm_queue *q, uint64_t pos)
{
    uint64_t seq;
    ring_read(q, pos + sizeof(struct lpq_rec), &seq, sizeof seq);
    return seq;
}

/* Offset of the item's bytes in a record. */
static inline uint64_t rec_data(const struct lpq_shm *h)
{
    return sizeof(struct lpq_rec) + (h->order == LP_QUEUE_PRIORITY ? sizeof(uint64_t) : 0);
}

static inline uint64_t rec_size(const struct lpq_shm *h, uint64_t n)
{
    return lpq_rec_size(h->order, n);
}

/* ---- the PRIORITY heap: (prio, seq) ascending ---------------------------------------------- */

static inline bool ent_less(const struct lpq_heap_ent *a, const struct lpq_heap_ent *b)
{
    return a->prio < b->prio || (a->prio == b->prio && a->seq < b->seq);
}

static void heap_push(struct lpq_heap_ent *hp, uint64_t n, struct lpq_heap_ent e)
{
    uint64_t i = n;
    while (i > 0) {
        uint64_t parent = (i - 1) / 2;
        if (!ent_less(&e, &hp[parent]))
            break;
        hp[i] = hp[parent];
        i = parent;
    }
    hp[i] = e;
}

/* Remove hp[0] from a heap of n entries. */
static void heap_pop(struct lpq_heap_ent *hp, uint64_t n)
{
    if (n == 0)
        return;
    struct lpq_heap_ent last = hp[--n];
    uint64_t i = 0;
    for (;;) {
        uint64_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && ent_less(&hp[c + 1], &hp[c]))
            c++;
        if (!ent_less(&hp[c], &last))
            break;
        hp[i] = hp[c];
        i = c;
    }
    if (n > 0)
        hp[i] = last;
}

static int ent_cmp(const void *a, const void *b)
{
    const struct lpq_heap_ent *x = a, *y = b;
    return ent_less(x, y) ? -1 : ent_less(y, x) ? 1 : 0;
}

/* ---- repair after a lock holder died ------------------------------------------------------- */

/* Rebuild count (and the PRIORITY heap and head) from the committed records.  A record that
 * does not fit (never expected: only a bug or a foreign writer makes one) ends the queue
 * there, so what follows can at least be used again. */
static void repair(struct shm_queue *q)
{
    struct lpq_shm *h = q->h;
    uint64_t cap = h->cap, count = 0;
    if (h->order == LP_QUEUE_LIFO) {
        uint64_t top = atomic_load_explicit(&h->tail, memory_order_relaxed);
        if (top % 8 || top > cap)
            top = 0;
        for (uint64_t t = top; t > 0;) {
            struct lpq_rec *r = lifo_rec(q, t);
            uint64_t need = rec_size(h, r->len);
            if (r->len > LPQ_ITEM_MAX || need > t) { /* no way down past a break */
                top = t = count = 0;
                break;
            }
            t -= need;
            count++;
        }
        atomic_store_explicit(&h->tail, top, memory_order_relaxed);
        atomic_store_explicit(&h->count, count, memory_order_relaxed);
        return;
    }
    uint64_t head = atomic_load_explicit(&h->head, memory_order_relaxed);
    uint64_t tail = atomic_load_explicit(&h->tail, memory_order_relaxed);
    if (tail < head || tail - head > cap || head % 8 || tail % 8) {
        tail = head - head % 8;
        head = tail;
        atomic_store_explicit(&h->tail, tail, memory_order_relaxed);
    }
    bool prio = h->order == LP_QUEUE_PRIORITY;
    /* first pass: the committed records end where one does not fit (never expected); for
     * PRIORITY, find the last one not taken */
    uint64_t last = UINT64_MAX;
    for (uint64_t pos = head; pos < tail;) {
        struct lpq_rec *r = rec_at(q, pos);
        uint32_t len = r->len & ~LPQ_CONSUMED;
        uint64_t need = rec_size(h, len);
        if (len > LPQ_ITEM_MAX || need > tail - pos || (!prio && (r->len & LPQ_CONSUMED))) {
            tail = pos;
            atomic_store_explicit(&h->tail, tail, memory_order_relaxed);
            break;
        }
        if (!(r->len & LPQ_CONSUMED))
            last = pos;
        pos += need;
    }
    if (prio) {
        /* skip the taken records at the front */
        while (head < tail && (rec_at(q, head)->len & LPQ_CONSUMED))
            head += rec_size(h, rec_at(q, head)->len & ~LPQ_CONSUMED);
        /* a rotation cut short: the oldest record is also the newest (one seq): drop the first */
        if (head < tail && last != UINT64_MAX && last != head && rec_seq(q, head) == rec_seq(q, last)) {
            struct lpq_rec *r = rec_at(q, head);
            atomic_store_explicit((_Atomic uint32_t *)&r->len, r->len | LPQ_CONSUMED,
                                  memory_order_release);
            while (head < tail && (rec_at(q, head)->len & LPQ_CONSUMED))
                head += rec_size(h, rec_at(q, head)->len & ~LPQ_CONSUMED);
        }
    }
    atomic_store_explicit(&h->head, head, memory_order_relaxed);
    uint64_t live = 0, next_seq = prio ? h->next_seq : 0;
    for (uint64_t pos = head; pos < tail;) {
        struct lpq_rec *r = rec_at(q, pos);
        uint64_t need = rec_size(h, r->len & ~LPQ_CONSUMED);
        if (!(r->len & LPQ_CONSUMED)) {
            if (prio) {
                if (count == h->heap_cap) { /* cannot happen: records are >= 16 bytes */
                    atomic_store_explicit(&h->tail, pos, memory_order_relaxed);
                    break;
                }
                uint64_t seq = rec_seq(q, pos);
                heap_push(q->heap, count,
                          (struct lpq_heap_ent){.seq = seq, .pos = pos, .prio = r->prio});
                live += need;
                if (seq >= next_seq)
                    next_seq = seq + 1;
            }
            count++;
        }
        pos += need;
    }
    if (prio) {
        h->live_bytes = live;
        h->next_seq = next_seq;
    }
    atomic_store_explicit(&h->count, count, memory_order_relaxed);
}

/* ---- locking ------------------------------------------------------------------------------- */

/* Lock a robust mutex of the segment: pthread_mutex_lock's result (0, EOWNERDEAD...).
 * Test, then test-and-set: a failed trylock still writes the lock's cache line, and two cores
 * hammering it made lock and unlock 70% of a put/get profile.  Spin reading the owner word
 * (glibc's __data.__lock: 0 when free) and try only when it looks free; then sleep in the
 * kernel. */
static int spin_lock(pthread_mutex_t *m)
{
    int rc = EBUSY;
    const _Atomic int *owner = (const _Atomic int *)(const void *)&m->__data.__lock;
    for (int i = 0; i < SPIN_LOCK && rc == EBUSY; i++) {
        if (atomic_load_explicit(owner, memory_order_relaxed) == 0)
            rc = pthread_mutex_trylock(m);
        if (rc == EBUSY)
            cpu_relax();
    }
    return rc == EBUSY ? pthread_mutex_lock(m) : rc;
}

static int lock_q(struct shm_queue *q)
{
    pthread_mutex_t *m = &q->h->lock;
    int rc = spin_lock(m);
    if (rc == EOWNERDEAD) {
        repair(q);
        pthread_mutex_consistent(m);
        return 0;
    }
    if (rc != 0)
        return lp__queue_seterr(-EIO, "shm queue lock: %s", strerror(rc));
    return 0;
}

static inline void unlock_q(struct shm_queue *q)
{
    pthread_mutex_unlock(&q->h->lock);
}

/* Called with the lock held, when a getter (getter) or putter cannot go on.  Returns with the
 * lock held: 0 (look again), -ETIMEDOUT, -EINTR; or an error with the lock not held
 * (*locked = false). */
static int wait_turn(struct shm_queue *q, bool getter, lp_deadline d, bool *spun, bool *locked)
{
    struct lpq_shm *h = q->h;
    if (d >= 0 && lp__now_ns() >= d)
        return -ETIMEDOUT;
    int intr = lp__wait_interrupt_fd();
    if (lp__wait_interrupted())
        return -EINTR;
    if (!*spun) {
        /* a busy peer is likely to make progress within microseconds: watch for it without
         * the lock, and without entering the kernel */
        *spun = true;
        uint64_t c0 = atomic_load_explicit(&h->count, memory_order_relaxed);
        uint64_t h0 = atomic_load_explicit(&h->head, memory_order_relaxed);
        uint64_t t0 = atomic_load_explicit(&h->tail, memory_order_relaxed);
        unlock_q(q);
        for (unsigned i = 0; i < SPIN_WAIT; i++) {
            if (atomic_load_explicit(&h->closed, memory_order_relaxed))
                break;
            uint64_t c = atomic_load_explicit(&h->count, memory_order_relaxed);
            if (getter ? c > 0
                       : c != c0 || atomic_load_explicit(&h->head, memory_order_relaxed) != h0 ||
                             atomic_load_explicit(&h->tail, memory_order_relaxed) != t0)
                break;
            cpu_relax();
        }
        int rc = lock_q(q);
        if (rc < 0)
            *locked = false;
        return rc;
    }
    _Atomic uint32_t *seq = getter ? &h->get_seq : &h->put_seq;
    uint32_t s = atomic_load_explicit(seq, memory_order_relaxed);
    uint32_t gen;
    if (getter) {
        h->getters++;
        gen = h->get_gen;
    } else {
        h->putters++;
        gen = h->put_gen;
    }
    unlock_q(q);
    lp_deadline until = d;
    if (intr >= 0) {
        lp_deadline slice = lp__now_ns() + INTR_SLICE_NS;
        if (until < 0 || slice < until)
            until = slice;
    }
    futex_wait(seq, s, until);
    int rc = lock_q(q);
    if (rc < 0) {
        *locked = false;
        return rc;
    }
    /* still counted unless a waker uncounted every sleeper of this generation */
    if (getter && h->get_gen == gen && h->getters > 0)
        h->getters--;
    else if (!getter && h->put_gen == gen && h->putters > 0)
        h->putters--;
    return 0;
}

/* Under the lock: uncount the sleepers of one side and bump their word; the caller wakes
 * them (futex_wake_all) after unlocking. */
static bool take_sleepers(struct lpq_shm *h, bool getters)
{
    if (getters) {
        if (!h->getters)
            return false;
        h->getters = 0;
        h->get_gen++;
        atomic_fetch_add_explicit(&h->get_seq, 1, memory_order_relaxed);
    } else {
        if (!h->putters)
            return false;
        h->putters = 0;
        h->put_gen++;
        atomic_fetch_add_explicit(&h->put_seq, 1, memory_order_relaxed);
    }
    return true;
}

/* ---- FIFO: a lock per side --------------------------------------------------------------- */

/* The side's counter after its lock owner died: the commit (the store to the position) was
 * made exactly when the position equals the pending one, and then the counter's new value is
 * the pending one (queue_shm.h).  Nothing else is derived: the records between fhead and
 * ftail are complete (each was written before its commit). */
static void fifo_repair(_Atomic uint64_t *pos, _Atomic uint64_t *cnt, _Atomic uint64_t *pend_pos,
                        _Atomic uint64_t *pend_cnt)
{
    if (atomic_load_explicit(pos, memory_order_relaxed) ==
        atomic_load_explicit(pend_pos, memory_order_relaxed))
        atomic_store_explicit(cnt, atomic_load_explicit(pend_cnt, memory_order_relaxed),
                              memory_order_relaxed);
}

/* Lock one side of a FIFO queue (tail: producers, else consumers), repairing its counter when
 * the previous owner died.  0 or -EIO. */
static int fifo_lock(struct shm_queue *q, bool tail)
{
    struct lpq_shm *h = q->h;
    pthread_mutex_t *m = tail ? &h->tail_lock : &h->head_lock;
    int rc = spin_lock(m);
    if (rc == EOWNERDEAD) {
        if (tail)
            fifo_repair(&h->ftail, &h->puts, &h->pend_tail, &h->pend_puts);
        else
            fifo_repair(&h->fhead, &h->gets, &h->pend_head, &h->pend_gets);
        pthread_mutex_consistent(m);
        return 0;
    }
    if (rc != 0)
        return lp__queue_seterr(-EIO, "shm queue %s lock: %s", tail ? "tail" : "head",
                                strerror(rc));
    return 0;
}

static inline void fifo_unlock(struct shm_queue *q, bool tail)
{
    pthread_mutex_unlock(tail ? &q->h->tail_lock : &q->h->head_lock);
}

/* Both locks, in the fixed order. */
static int fifo_lock_both(struct shm_queue *q)
{
    int rc = fifo_lock(q, true);
    if (rc < 0)
        return rc;
    rc = fifo_lock(q, false);
    if (rc < 0)
        fifo_unlock(q, true);
    return rc;
}

static void fifo_unlock_both(struct shm_queue *q)
{
    fifo_unlock(q, false);
    fifo_unlock(q, true);
}

/* A side's FIFO sleepers word: registered count (bits 0-19), a ticket bumped by every
 * registration (bits 20-41: a waker's compare-and-swap fails when anybody registered since it
 * looked, even if the count is back to what it was), the generation (bits 42-63: bumped when
 * a waker uncounts the sleepers).  A ticket that wraps carries into the generation: those
 * registered then do not uncount themselves, which costs one useless wake, nothing more. */
#define SLEEPERS_MASK ((UINT64_C(1) << 20) - 1)
#define SLEEPER_ONE (UINT64_C(1) + (UINT64_C(1) << 20))
#define TICKET_MASK (((UINT64_C(1) << 22) - 1) << 20)
#define GEN_SHIFT 42

/* Wake the FIFO sleepers of one side, if any registered.  The caller has made its change
 * visible and fenced (seq_cst) before: see fifo_wait.  Bump the word and wake, and only then
 * uncount the sleepers seen (a new generation, so those that come back do not uncount
 * themselves again), and only if no sleeper came or went meanwhile (else again: a sleeper
 * that registered after the bump read the bumped word and would sleep through this wake).
 * So a waker killed at any point leaves the sleepers counted, and the next put (get) wakes
 * them: it costs one useless wake at most, never a lost one. */
static void fifo_wake(_Atomic uint64_t *sleepers, _Atomic uint32_t *seq)
{
    uint64_t w = atomic_load_explicit(sleepers, memory_order_seq_cst);
    for (int tries = 0; (w & SLEEPERS_MASK) && tries < 100; tries++) {
        atomic_fetch_add_explicit(seq, 1, memory_order_seq_cst);
        futex_wake_all(seq);
        if (atomic_compare_exchange_strong_explicit(sleepers, &w,
                                                    (((w >> GEN_SHIFT) + 1) << GEN_SHIFT) |
                                                        (w & TICKET_MASK),
                                                    memory_order_seq_cst,
                                                    memory_order_seq_cst))
            return;
    }
    /* sleepers keep coming and going: those still counted are woken by the next one */
}

/* Uncount a sleeper registered in generation gen, unless a waker uncounted it. */
static void fifo_unregister(_Atomic uint64_t *sleepers, uint64_t gen)
{
    uint64_t w = atomic_load_explicit(sleepers, memory_order_seq_cst);
    while ((w >> GEN_SHIFT) == gen && (w & SLEEPERS_MASK)) {
        if (atomic_compare_exchange_weak_explicit(sleepers, &w, w - 1, memory_order_seq_cst,
                                                  memory_order_seq_cst))
            return;
    }
}

/* Room for a record of need bytes (the producer holds the tail lock)?  The bytes by fhead,
 * which the consumer's commit moves; the items by puts - gets, where gets may lag fhead by
 * one while a consumer is between its commit and its count, or after it died there: when the
 * count says full, look again under the head lock (which repairs gets).  1, 0, or -EIO. */
static int fifo_room(struct shm_queue *q, uint64_t need)
{
    struct lpq_shm *h = q->h;
    uint64_t t = atomic_load_explicit(&h->ftail, memory_order_relaxed);
    uint64_t used = t - atomic_load_explicit(&h->head_seen, memory_order_relaxed);
    if (used > h->cap || h->cap - used < need) { /* (more than cap: never expected) */
        /* the consumers' line only when the copy says full (acquire: the bytes they read
         * before moving fhead are read before this producer overwrites them) */
        uint64_t head = atomic_load_explicit(&h->fhead, memory_order_seq_cst);
        atomic_store_explicit(&h->head_seen, head, memory_order_relaxed);
        if (h->cap - (t - head) < need)
            return 0;
    }
    if (!h->max_items)
        return 1;
    uint64_t puts = atomic_load_explicit(&h->puts, memory_order_relaxed);
    if (puts - atomic_load_explicit(&h->gets, memory_order_seq_cst) < h->max_items)
        return 1;
    int rc = fifo_lock(q, false);
    if (rc < 0)
        return rc;
    rc = puts - atomic_load_explicit(&h->gets, memory_order_relaxed) < h->max_items;
    fifo_unlock(q, false);
    return rc;
}

/* Is there something for a getter (which holds the head lock): an item, or the close? */
static bool fifo_ready_get(struct lpq_shm *h)
{
    return atomic_load_explicit(&h->closed, memory_order_seq_cst) ||
           atomic_load_explicit(&h->ftail, memory_order_seq_cst) !=
               atomic_load_explicit(&h->fhead, memory_order_relaxed);
}

/* Called with the side's lock held, when a getter (getter) or putter cannot go on.  Returns
 * with the lock held: 0 (look again), -ETIMEDOUT, -EINTR; or an error with the lock not held
 * (*locked = false).
 *
 * No lost wake-up (Dekker): the sleeper reads the futex word, registers (seq_cst), then looks
 * again (seq_cst loads) and sleeps only while the word is unchanged; the other side commits,
 * fences (seq_cst) and then reads the registrations.  One of the two sees the other: either
 * the sleeper sees the commit, or the waker sees the registration and bumps the word (and
 * wakes).  A waker uncounts every registered sleeper once they are woken, so a sleeper killed
 * while registered costs one useless wake at most (fifo_wake). */
static int fifo_wait(struct shm_queue *q, bool getter, lp_deadline d, uint64_t need, bool *spun,
                     bool *locked)
{
    struct lpq_shm *h = q->h;
    if (d >= 0 && lp__now_ns() >= d)
        return -ETIMEDOUT;
    int intr = lp__wait_interrupt_fd();
    if (lp__wait_interrupted())
        return -EINTR;
    int rc;
    if (!*spun) {
        /* a busy peer is likely to make progress within microseconds: watch for it without
         * the lock, and without entering the kernel */
        *spun = true;
        uint64_t h0 = atomic_load_explicit(&h->fhead, memory_order_relaxed);
        uint64_t g0 = atomic_load_explicit(&h->gets, memory_order_relaxed);
        fifo_unlock(q, !getter);
        for (unsigned i = 0; i < SPIN_WAIT; i++) {
            if (atomic_load_explicit(&h->closed, memory_order_relaxed))
                break;
            if (getter ? atomic_load_explicit(&h->ftail, memory_order_relaxed) !=
                             atomic_load_explicit(&h->fhead, memory_order_relaxed)
                       : atomic_load_explicit(&h->fhead, memory_order_relaxed) != h0 ||
                             atomic_load_explicit(&h->gets, memory_order_relaxed) != g0)
                break;
            cpu_relax();
        }
        rc = fifo_lock(q, !getter);
        if (rc < 0)
            *locked = false;
        return rc;
    }
    _Atomic uint64_t *sleepers = getter ? &h->fifo_getters : &h->fifo_putters;
    _Atomic uint32_t *seq = getter ? &h->get_seq : &h->put_seq;
    uint32_t s = atomic_load_explicit(seq, memory_order_seq_cst);
    uint64_t gen = atomic_fetch_add_explicit(sleepers, SLEEPER_ONE, memory_order_seq_cst) >>
                   GEN_SHIFT;
    atomic_thread_fence(memory_order_seq_cst);
    bool ready;
    if (getter)
        ready = fifo_ready_get(h);
    else {
        rc = atomic_load_explicit(&h->closed, memory_order_seq_cst) ? 1 : fifo_room(q, need);
        if (rc < 0) {
            fifo_unregister(sleepers, gen);
            return rc; /* the tail lock is still held */
        }
        ready = rc > 0;
    }
    if (ready) {
        fifo_unregister(sleepers, gen);
        return 0;
    }
    fifo_unlock(q, !getter);
    lp_deadline until = d;
    if (intr >= 0) {
        lp_deadline slice = lp__now_ns() + INTR_SLICE_NS;
        if (until < 0 || slice < until)
            until = slice;
    }
    futex_wait(seq, s, until);
    fifo_unregister(sleepers, gen);
    rc = fifo_lock(q, !getter);
    if (rc < 0)
        *locked = false;
    return rc;
}

static int fifo_put(struct shm_queue *q, const void *data, size_t n, int prio, uint64_t need,
                    lp_deadline d)
{
    struct lpq_shm *h = q->h;
    int rc = fifo_lock(q, true);
    if (rc < 0)
        return rc;
    bool spun = false, locked = true;
    for (;;) {
        if (atomic_load_explicit(&h->closed, memory_order_relaxed)) {
            rc = LP_ECLOSED;
            break;
        }
        rc = fifo_room(q, need);
        if (rc < 0)
            break;
        if (rc > 0) {
            uint64_t tail = atomic_load_explicit(&h->ftail, memory_order_relaxed);
            uint64_t puts = atomic_load_explicit(&h->puts, memory_order_relaxed);
            struct lpq_rec r = {.len = (uint32_t)n, .prio = prio};
            memcpy(rec_at(q, tail), &r, sizeof r);
            ring_write(q, tail + sizeof r, data, n);
            /* pend_tail first: one killed between the two leaves pend_tail != ftail, and
             * then pend_puts is not used (release: no store moves past the one after it) */
            atomic_store_explicit(&h->pend_tail, tail + need, memory_order_release);
            atomic_store_explicit(&h->pend_puts, puts + 1, memory_order_release);
            /* the commit: a process killed before this store leaves the queue as it was */
            atomic_store_explicit(&h->ftail, tail + need, memory_order_release);
            atomic_store_explicit(&h->puts, puts + 1, memory_order_release);
            rc = 0;
            break;
        }
        rc = fifo_wait(q, false, d, need, &spun, &locked);
        if (rc < 0)
            break;
    }
    if (locked)
        fifo_unlock(q, true);
    if (rc == 0) {
        atomic_thread_fence(memory_order_seq_cst);
        fifo_wake(&h->fifo_getters, &h->get_seq);
    }
    return rc;
}

static int fifo_get(struct shm_queue *q, lp_queue_item *it, lp_deadline d)
{
    struct lpq_shm *h = q->h;
    int rc = fifo_lock(q, false);
    if (rc < 0)
        return rc;
    bool spun = false, locked = true;
    for (;;) {
        /* closed before tail: a close is made under the tail lock, after every put it lets
         * through, so a getter that sees it sees their commits too */
        bool closed = atomic_load_explicit(&h->closed, memory_order_acquire) != 0;
        uint64_t head = atomic_load_explicit(&h->fhead, memory_order_relaxed);
        uint64_t seen = atomic_load_explicit(&h->tail_seen, memory_order_relaxed);
        bool more = seen > head && seen - head <= h->cap; /* (else: never expected) */
        if (!more) {
            /* the producers' line only when the copy says empty */
            uint64_t tail = atomic_load_explicit(&h->ftail, memory_order_acquire);
            atomic_store_explicit(&h->tail_seen, tail, memory_order_relaxed);
            more = tail != head;
        }
        if (more) {
            struct lpq_rec *r = rec_at(q, head);
            uint32_t len = r->len;
            if (lp__buf_reserve(&it->data, len) < 0) {
                rc = lp__queue_seterr(-ENOMEM, "no memory for a shm queue item");
                break;
            }
            ring_read(q, head + sizeof *r, it->data.data, len);
            it->priority = r->prio;
            uint64_t gets = atomic_load_explicit(&h->gets, memory_order_relaxed);
            /* pend_head first (see fifo_put) */
            atomic_store_explicit(&h->pend_head, head + rec_size(h, len), memory_order_release);
            atomic_store_explicit(&h->pend_gets, gets + 1, memory_order_release);
            /* the commit: a process killed before this store leaves the item in the queue */
            atomic_store_explicit(&h->fhead, head + rec_size(h, len), memory_order_release);
            atomic_store_explicit(&h->gets, gets + 1, memory_order_release);
            it->data.len = len;
            it->data.data[len] = 0;
            it->id = 0;
            it->attempts = 1;
            rc = 0;
            break;
        }
        if (closed) {
            rc = LP_ECLOSED;
            break;
        }
        rc = fifo_wait(q, true, d, 0, &spun, &locked);
        if (rc < 0)
            break;
    }
    if (locked)
        fifo_unlock(q, false);
    if (rc == 0) {
        atomic_thread_fence(memory_order_seq_cst);
        fifo_wake(&h->fifo_putters, &h->put_seq);
    } else
        lp_buf_free(&it->data);
    return rc;
}

/* ---- put / get ----------------------------------------------------------------------------- */

/* Room for one more item by count (max_items, the PRIORITY heap)? */
static bool items_room(struct lpq_shm *h)
{
    uint64_t count = atomic_load_explicit(&h->count, memory_order_relaxed);
    return (!h->max_items || count < h->max_items) &&
           (h->order != LP_QUEUE_PRIORITY || count < h->heap_cap);
}

static bool has_room(struct lpq_shm *h, uint64_t need)
{
    if (!items_room(h))
        return false;
    uint64_t tail = atomic_load_explicit(&h->tail, memory_order_relaxed);
    if (h->order == LP_QUEUE_LIFO)
        return h->cap - tail >= need;
    return h->cap - (tail - atomic_load_explicit(&h->head, memory_order_relaxed)) >= need;
}

/* Copy size bytes of the ring from position src to position dst (regions apart). */
static void ring_copy(struct shm_queue *q, uint64_t dst, uint64_t src, uint64_t size)
{
    unsigned char buf[512];
    for (uint64_t done = 0; done < size;) {
        size_t k = size - done < sizeof buf ? (size_t)(size - done) : sizeof buf;
        ring_read(q, src + done, buf, k);
        ring_write(q, dst + done, buf, k);
        done += k;
    }
}

/* PRIORITY: records are taken out of arrival order, and the space of a taken record is free
 * only once every record before it is taken too, so a long-waiting item would hold the space
 * of all that came after it.  Before a put, when the free space runs low (below need plus a
 * quarter of the ring) while taken records leave holes, move the oldest records to the tail
 * (each keeps its seq: the order does not change), so that the holes after them become free.
 * Each move is a copy past tail committed by the store to tail, then the original marked
 * taken: a process killed between the two leaves the record twice, oldest and newest with one
 * seq, and repair drops the oldest.  A move needs free space for the record, hence the margin:
 * it starts while a quarter of the ring is still free.  While need bytes are free, a put makes
 * at most ROTATE_AHEAD moves (the work is spread over the puts); when they are not, as many as
 * it takes (at most count).  Each move looks the record up in the heap: O(count). */
static void rotate(struct shm_queue *q, uint64_t need)
{
    struct lpq_shm *h = q->h;
    uint64_t head = atomic_load_explicit(&h->head, memory_order_relaxed);
    uint64_t tail = atomic_load_explicit(&h->tail, memory_order_relaxed);
    uint64_t count = atomic_load_explicit(&h->count, memory_order_relaxed);
    uint64_t want = need + h->cap / 4;
    for (uint64_t moves = 0; moves < count && h->cap - (tail - head) < want &&
                             tail - head > h->live_bytes &&
                             (moves < ROTATE_AHEAD || h->cap - (tail - head) < need);
         moves++) {
        struct lpq_rec *r = rec_at(q, head); /* not taken: head never rests on a taken one */
        uint64_t size = rec_size(h, r->len);
        if (h->cap - (tail - head) < size)
            return;
        ring_copy(q, tail, head, size);
        atomic_store_explicit(&h->tail, tail + size, memory_order_release);
        uint64_t seq = rec_seq(q, head);
        for (uint64_t i = 0; i < count; i++)
            if (q->heap[i].seq == seq) {
                q->heap[i].pos = tail;
                break;
            }
        atomic_store_explicit((_Atomic uint32_t *)&r->len, r->len | LPQ_CONSUMED,
                              memory_order_release);
        tail += size;
        while (head < tail && (rec_at(q, head)->len & LPQ_CONSUMED))
            head += rec_size(h, rec_at(q, head)->len & ~LPQ_CONSUMED);
        atomic_store_explicit(&h->head, head, memory_order_release);
    }
}

static void put_locked(struct shm_queue *q, const void *data, size_t n, int prio, uint64_t need)
{
    struct lpq_shm *h = q->h;
    uint64_t tail = atomic_load_explicit(&h->tail, memory_order_relaxed);
    struct lpq_rec r = {.len = (uint32_t)n, .prio = prio};
    uint64_t seq = 0;
    if (h->order == LP_QUEUE_LIFO) {
        memcpy(q->ring + tail, data, n);
        memcpy(q->ring + tail + need - sizeof r, &r, sizeof r);
    } else {
        memcpy(rec_at(q, tail), &r, sizeof r);
        if (h->order == LP_QUEUE_PRIORITY) {
            seq = h->next_seq++;
            ring_write(q, tail + sizeof r, &seq, sizeof seq);
            ring_write(q, tail + sizeof r + sizeof seq, data, n);
        } else
            ring_write(q, tail + sizeof r, data, n);
    }
    /* the commit: a process killed before this store leaves the queue as it was */
    atomic_store_explicit(&h->tail, tail + need, memory_order_release);
    uint64_t count = atomic_load_explicit(&h->count, memory_order_relaxed);
    if (h->order == LP_QUEUE_PRIORITY) {
        heap_push(q->heap, count, (struct lpq_heap_ent){.seq = seq, .pos = tail, .prio = prio});
        h->live_bytes += need;
    }
    atomic_store_explicit(&h->count, count + 1, memory_order_relaxed);
}

static int q_put(lp_queue *qq, const void *data, size_t n, int priority, lp_deadline d)
{
    struct shm_queue *q = (struct shm_queue *)qq;
    struct lpq_shm *h = q->h;
    uint64_t need = rec_size(h, n);
    if (n > LPQ_ITEM_MAX || need > h->cap)
        return lp__queue_seterr(-EMSGSIZE,
                                "item of %zu bytes is larger than the shm queue's ring can hold "
                                "(%llu bytes, %llu per item at most)",
                                n, (unsigned long long)h->cap,
                                (unsigned long long)(h->cap - rec_data(h)));
    if (h->order == LP_QUEUE_FIFO)
        return fifo_put(q, data, n, priority, need, d);
    int rc = lock_q(q);
    if (rc < 0)
        return rc;
    bool spun = false, locked = true, wake = false;
    for (;;) {
        if (atomic_load_explicit(&h->closed, memory_order_relaxed)) {
            rc = LP_ECLOSED;
            break;
        }
        if (h->order == LP_QUEUE_PRIORITY &&
            h->cap - (atomic_load_explicit(&h->tail, memory_order_relaxed) -
                      atomic_load_explicit(&h->head, memory_order_relaxed)) < need + h->cap / 4)
            rotate(q, need);
        if (has_room(h, need)) {
            put_locked(q, data, n, priority, need);
            wake = take_sleepers(h, true);
            rc = 0;
            break;
        }
        rc = wait_turn(q, false, d, &spun, &locked);
        if (rc < 0)
            break;
    }
    if (locked)
        unlock_q(q);
    if (wake)
        futex_wake_all(&h->get_seq);
    return rc;
}

/* Take the next item into *it; the lock is held and count > 0.  0 or -ENOMEM (nothing taken). */
static int get_locked(struct shm_queue *q, lp_queue_item *it)
{
    struct lpq_shm *h = q->h;
    uint64_t count = atomic_load_explicit(&h->count, memory_order_relaxed);
    if (h->order == LP_QUEUE_LIFO) {
        uint64_t top = atomic_load_explicit(&h->tail, memory_order_relaxed);
        struct lpq_rec *r = lifo_rec(q, top);
        uint32_t len = r->len;
        uint64_t need = rec_size(h, len);
        if (lp__buf_reserve(&it->data, len) < 0)
            return -ENOMEM;
        memcpy(it->data.data, q->ring + top - need, len);
        it->priority = r->prio;
        atomic_store_explicit(&h->tail, top - need, memory_order_release); /* the commit */
        it->data.len = len;
    } else if (h->order == LP_QUEUE_FIFO) {
        uint64_t head = atomic_load_explicit(&h->head, memory_order_relaxed);
        struct lpq_rec *r = rec_at(q, head);
        uint32_t len = r->len;
        if (lp__buf_reserve(&it->data, len) < 0)
            return -ENOMEM;
        ring_read(q, head + sizeof *r, it->data.data, len);
        it->priority = r->prio;
        atomic_store_explicit(&h->head, head + rec_size(h, len), memory_order_release);
        it->data.len = len;
    } else {
        uint64_t pos = q->heap[0].pos;
        struct lpq_rec *r = rec_at(q, pos);
        uint32_t len = r->len;
        if (lp__buf_reserve(&it->data, len) < 0)
            return -ENOMEM;
        ring_read(q, pos + rec_data(h), it->data.data, len);
        it->priority = r->prio;
        /* the commit: one store marks the record taken */
        atomic_store_explicit((_Atomic uint32_t *)&r->len, len | LPQ_CONSUMED,
                              memory_order_release);
        it->data.len = len;
        heap_pop(q->heap, count);
        h->live_bytes -= rec_size(h, len);
        uint64_t head = atomic_load_explicit(&h->head, memory_order_relaxed);
        uint64_t tail = atomic_load_explicit(&h->tail, memory_order_relaxed);
        while (head < tail && (rec_at(q, head)->len & LPQ_CONSUMED))
            head += rec_size(h, rec_at(q, head)->len & ~LPQ_CONSUMED);
        atomic_store_explicit(&h->head, head, memory_order_release);
    }
    atomic_store_explicit(&h->count, count - 1, memory_order_relaxed);
    it->data.data[it->data.len] = 0;
    it->id = 0;
    it->attempts = 1;
    return 0;
}

static int q_get(lp_queue *qq, lp_queue_item *it, lp_deadline d)
{
    struct shm_queue *q = (struct shm_queue *)qq;
    struct lpq_shm *h = q->h;
    if (h->order == LP_QUEUE_FIFO)
        return fifo_get(q, it, d);
    int rc = lock_q(q);
    if (rc < 0)
        return rc;
    bool spun = false, locked = true, wake = false;
    for (;;) {
        if (atomic_load_explicit(&h->count, memory_order_relaxed) > 0) {
            rc = get_locked(q, it);
            if (rc == 0)
                wake = take_sleepers(h, false);
            else
                rc = lp__queue_seterr(rc, "no memory for a shm queue item");
            break;
        }
        if (atomic_load_explicit(&h->closed, memory_order_relaxed)) {
            rc = LP_ECLOSED;
            break;
        }
        rc = wait_turn(q, true, d, &spun, &locked);
        if (rc < 0)
            break;
    }
    if (locked)
        unlock_q(q);
    if (wake)
        futex_wake_all(&h->put_seq);
    if (rc < 0)
        lp_buf_free(&it->data);
    return rc;
}

/* ---- stat, peek, close --------------------------------------------------------------------- */

static int q_stat(lp_queue *qq, lp_queue_stats *s)
{
    struct shm_queue *q = (struct shm_queue *)qq;
    struct lpq_shm *h = q->h;
    if (h->order == LP_QUEUE_FIFO) {
        int rc = fifo_lock_both(q);
        if (rc < 0)
            return rc;
        s->waiting = (size_t)(atomic_load_explicit(&h->puts, memory_order_relaxed) -
                              atomic_load_explicit(&h->gets, memory_order_relaxed));
        s->closed = atomic_load_explicit(&h->closed, memory_order_relaxed) != 0;
        fifo_unlock_both(q);
    } else {
        int rc = lock_q(q);
        if (rc < 0)
            return rc;
        s->waiting = (size_t)atomic_load_explicit(&h->count, memory_order_relaxed);
        s->closed = atomic_load_explicit(&h->closed, memory_order_relaxed) != 0;
        unlock_q(q);
    }
    s->max_items = (size_t)h->max_items;
    s->order = (lp_queue_order)h->order;
    return 0;
}

static int peek_add(lp_queue_item *items, size_t *n, struct shm_queue *q, const void *data,
                    uint32_t len, int prio)
{
    (void)q;
    lp_queue_item *it = &items[*n];
    *it = (lp_queue_item){0};
    if (lp__queue_item_set(it, data, len, 0, prio, 0) < 0)
        return -ENOMEM;
    (*n)++;
    return 0;
}

/* Copy a record that may wrap into a contiguous scratch buffer (or point into the ring). */
static const void *rec_bytes(struct shm_queue *q, uint64_t pos, uint32_t len, lp_buf *scratch)
{
    uint64_t off = pos % q->h->cap;
    if (off + len <= q->h->cap)
        return q->ring + off;
    scratch->len = 0;
    if (lp__buf_reserve(scratch, len) < 0)
        return NULL;
    ring_read(q, pos, scratch->data, len);
    return scratch->data;
}

static int q_peek(lp_queue *qq, bool dead, size_t max, lp_queue_item **items, size_t *n)
{
    struct shm_queue *q = (struct shm_queue *)qq;
    struct lpq_shm *h = q->h;
    if (dead)
        return 0;
    bool fifo = h->order == LP_QUEUE_FIFO;
    int rc = fifo ? fifo_lock_both(q) : lock_q(q);
    if (rc < 0)
        return rc;
    uint64_t count = fifo ? atomic_load_explicit(&h->puts, memory_order_relaxed) -
                                atomic_load_explicit(&h->gets, memory_order_relaxed)
                          : atomic_load_explicit(&h->count, memory_order_relaxed);
    size_t want = count < max ? (size_t)count : max;
    lp_queue_item *v = want ? calloc(want, sizeof *v) : NULL;
    struct lpq_heap_ent *ents = NULL;
    lp_buf scratch = {0};
    size_t got = 0;
    if (want && !v)
        rc = -ENOMEM;
    else if (want && h->order == LP_QUEUE_LIFO) {
        uint64_t top = atomic_load_explicit(&h->tail, memory_order_relaxed);
        while (rc == 0 && got < want && top > 0) {
            struct lpq_rec *r = lifo_rec(q, top);
            uint64_t need = rec_size(h, r->len);
            rc = peek_add(v, &got, q, q->ring + top - need, r->len, r->prio);
            top -= need;
        }
    } else if (want && h->order == LP_QUEUE_FIFO) {
        uint64_t pos = atomic_load_explicit(&h->fhead, memory_order_relaxed);
        while (rc == 0 && got < want) {
            struct lpq_rec *r = rec_at(q, pos);
            const void *b = rec_bytes(q, pos + sizeof *r, r->len, &scratch);
            rc = b ? peek_add(v, &got, q, b, r->len, r->prio) : -ENOMEM;
            pos += rec_size(h, r->len);
        }
    } else if (want) {
        ents = malloc((size_t)count * sizeof *ents);
        if (!ents)
            rc = -ENOMEM;
        else {
            memcpy(ents, q->heap, (size_t)count * sizeof *ents);
            qsort(ents, (size_t)count, sizeof *ents, ent_cmp);
            for (size_t i = 0; rc == 0 && i < want; i++) {
                struct lpq_rec *r = rec_at(q, ents[i].pos);
                const void *b = rec_bytes(q, ents[i].pos + rec_data(h), r->len, &scratch);
                rc = b ? peek_add(v, &got, q, b, r->len, r->prio) : -ENOMEM;
            }
        }
    }
    if (fifo)
        fifo_unlock_both(q);
    else
        unlock_q(q);
    free(ents);
    lp_buf_free(&scratch);
    if (rc < 0) {
        lp_queue_items_free(v, got);
        return lp__queue_seterr(rc, "no memory for a peek of the shm queue");
    }
    *items = v;
    *n = got;
    return 0;
}

static int q_close(lp_queue *qq)
{
    struct shm_queue *q = (struct shm_queue *)qq;
    struct lpq_shm *h = q->h;
    if (h->order == LP_QUEUE_FIFO) {
        /* under the tail lock: every put either went through before or sees the close */
        int rc = fifo_lock(q, true);
        if (rc < 0)
            return rc;
        atomic_store_explicit(&h->closed, 1, memory_order_seq_cst);
        fifo_unlock(q, true);
        atomic_thread_fence(memory_order_seq_cst);
        fifo_wake(&h->fifo_getters, &h->get_seq);
        fifo_wake(&h->fifo_putters, &h->put_seq);
        return 0;
    }
    int rc = lock_q(q);
    if (rc < 0)
        return rc;
    atomic_store_explicit(&h->closed, 1, memory_order_relaxed);
    bool wg = take_sleepers(h, true), wp = take_sleepers(h, false);
    unlock_q(q);
    if (wg)
        futex_wake_all(&h->get_seq);
    if (wp)
        futex_wake_all(&h->put_seq);
    return 0;
}

static void q_free(lp_queue *qq)
{
    struct shm_queue *q = (struct shm_queue *)qq;
    munmap(q->h, q->map_len);
    free(q);
}

/* ---- open / create ------------------------------------------------------------------------- */

static uint64_t round_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) / a * a;
}

/* Map and check an open segment; on success *out owns the mapping (fd not kept). */
static int attach(int fd, const char *name, struct shm_queue **out)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return lp__queue_seterr(-errno, "shm queue '%s': fstat: %s", name, strerror(errno));
    if ((uint64_t)st.st_size < sizeof(struct lpq_shm))
        return lp__queue_seterr(-EIO, "shm queue '%s': %s/%s%s is not a libpipe queue", name,
                                LPQ_SHM_DIR, LPQ_SHM_PREFIX, name);
    size_t len = (size_t)st.st_size;
    void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED)
        return lp__queue_seterr(-errno, "shm queue '%s': mmap: %s", name, strerror(errno));
    struct lpq_shm *h = m;
    bool ok = h->magic == LPQ_SHM_MAGIC && h->version == LPQ_SHM_VERSION && h->size == len &&
              h->order <= LP_QUEUE_PRIORITY && h->cap >= CAP_MIN && h->cap % 8 == 0 &&
              h->ring_off >= sizeof *h && h->ring_off <= len && h->cap <= len - h->ring_off;
    if (ok && h->order == LP_QUEUE_PRIORITY)
        ok = h->heap_off >= h->ring_off + h->cap && h->heap_off <= len &&
             h->heap_cap <= (len - h->heap_off) / sizeof(struct lpq_heap_ent) && h->heap_cap > 0;
    if (!ok) {
        munmap(m, len);
        return lp__queue_seterr(-EIO, "shm queue '%s': %s/%s%s is not a libpipe queue (or of "
                                "another version)", name, LPQ_SHM_DIR, LPQ_SHM_PREFIX, name);
    }
    struct shm_queue *q = calloc(1, sizeof *q);
    if (!q) {
        munmap(m, len);
        return lp__queue_seterr(-ENOMEM, "no memory for a shm queue");
    }
    q->h = h;
    q->map_len = len;
    q->ring = (unsigned char *)m + h->ring_off;
    q->heap = h->order == LP_QUEUE_PRIORITY ? (struct lpq_heap_ent *)((char *)m + h->heap_off)
                                            : NULL;
    *out = q;
    return 0;
}

/* A new unnamed segment in /dev/shm (named "lpq-tmp.PID.N" where O_TMPFILE is missing: then
 * *tmp gets its path, to unlink). */
static int new_segment(char *tmp, size_t tmplen)
{
    tmp[0] = 0;
    int fd = open(LPQ_SHM_DIR, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
        return fd;
    static _Atomic unsigned counter;
    for (int tries = 0; tries < 100; tries++) {
        snprintf(tmp, tmplen, "%s/lpq-tmp.%d.%u", LPQ_SHM_DIR, (int)getpid(),
                 atomic_fetch_add(&counter, 1));
        fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    return -1;
}

/* Create the segment of `name` unless it exists: 0 when it exists afterwards (ours or
 * another process's), else -errno with the message set. */
static int create(const char *name, const char *path, const lp_queue_opts *o)
{
    uint64_t cap = o->shm_bytes < CAP_MIN ? CAP_MIN : round_up(o->shm_bytes, 8);
    if (o->shm_bytes > CAP_MAX)
        return lp__queue_seterr(-EINVAL, "shm queue '%s': shm_bytes %zu is too large", name,
                                o->shm_bytes);
    uint64_t ring_off = round_up(sizeof(struct lpq_shm), 64), heap_off = 0, heap_cap = 0;
    uint64_t size = ring_off + cap;
    if (o->order == LP_QUEUE_PRIORITY) {
        heap_cap = cap / lpq_rec_size(LP_QUEUE_PRIORITY, 0);
        if (o->max_items && o->max_items < heap_cap)
            heap_cap = o->max_items;
        heap_off = round_up(size, 64);
        size = heap_off + heap_cap * sizeof(struct lpq_heap_ent);
    }
    char tmp[128];
    int fd = new_segment(tmp, sizeof tmp);
    if (fd < 0)
        return lp__queue_seterr(-errno, "shm queue '%s': cannot create it in %s: %s", name,
                                LPQ_SHM_DIR, strerror(errno));
    int rc = 0, err;
    void *m = MAP_FAILED;
    err = fchmod(fd, 0600) < 0 ? errno : posix_fallocate(fd, 0, (off_t)size);
    if (err) {
        rc = lp__queue_seterr(-err, "shm queue '%s': cannot size it (%llu bytes): %s", name,
                              (unsigned long long)size, strerror(err));
        goto out;
    }
    m = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) {
        rc = lp__queue_seterr(-errno, "shm queue '%s': mmap: %s", name, strerror(errno));
        goto out;
    }
    struct lpq_shm *h = m;
    h->version = LPQ_SHM_VERSION;
    h->order = (uint32_t)o->order;
    h->size = size;
    h->cap = cap;
    h->ring_off = ring_off;
    h->heap_off = heap_off;
    h->heap_cap = heap_cap;
    h->max_items = o->max_items;
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    err = pthread_mutex_init(&h->lock, &a);
    if (!err)
        err = pthread_mutex_init(&h->tail_lock, &a);
    if (!err)
        err = pthread_mutex_init(&h->head_lock, &a);
    pthread_mutexattr_destroy(&a);
    if (err) {
        rc = lp__queue_seterr(-err, "shm queue '%s': mutex: %s", name, strerror(err));
        goto out;
    }
    atomic_store_explicit((_Atomic uint64_t *)&h->magic, LPQ_SHM_MAGIC, memory_order_release);
    /* the segment is complete: give it its name, unless another process was quicker */
    if (tmp[0])
        err = link(tmp, path) < 0 ? errno : 0;
    else {
        char proc[64];
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
        err = linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW) < 0 ? errno : 0;
        if (err == ENOENT) /* no /proc: this needs CAP_DAC_READ_SEARCH, but try */
            err = linkat(fd, "", AT_FDCWD, path, AT_EMPTY_PATH) < 0 ? errno : 0;
    }
    if (err && err != EEXIST)
        rc = lp__queue_seterr(-err, "shm queue '%s': cannot name it %s: %s", name, path,
                              strerror(err));
out:
    if (m != MAP_FAILED)
        munmap(m, (size_t)size);
    if (tmp[0])
        unlink(tmp);
    close(fd);
    return rc;
}

static int q_open(lp_queue **out, const char *uri, const char *rest, const lp_queue_opts *o)
{
    (void)uri;
    int rc = check_name(rest);
    if (rc < 0)
        return rc;
    char shm_name[LPQ_NAME_MAX + 8], path[LPQ_NAME_MAX + 32];
    snprintf(shm_name, sizeof shm_name, "/%s%s", LPQ_SHM_PREFIX, rest);
    snprintf(path, sizeof path, "%s/%s%s", LPQ_SHM_DIR, LPQ_SHM_PREFIX, rest);
    int fd = -1;
    for (int tries = 0; fd < 0 && tries < 10; tries++) {
        fd = shm_open(shm_name, O_RDWR | O_CLOEXEC, 0);
        if (fd >= 0)
            break;
        if (errno != ENOENT)
            return lp__queue_seterr(-errno, "shm queue '%s': %s: %s", rest, path,
                                    strerror(errno));
        if (o->no_create)
            return lp__queue_seterr(-ENOENT, "no shm queue '%s' (%s)", rest, path);
        rc = create(rest, path, o);
        if (rc < 0)
            return rc;
        /* created (by us or another process); it may be removed again before we open it */
    }
    if (fd < 0)
        return lp__queue_seterr(-ENOENT, "shm queue '%s' keeps disappearing (%s)", rest, path);
    struct shm_queue *q = NULL;
    rc = attach(fd, rest, &q);
    close(fd);
    if (rc < 0)
        return rc;
    *out = &q->base;
    return 0;
}

/* ---- remove, list -------------------------------------------------------------------------- */

static int q_remove(const char *uri, const char *rest)
{
    (void)uri;
    int rc = check_name(rest);
    if (rc < 0)
        return rc;
    char shm_name[LPQ_NAME_MAX + 8];
    snprintf(shm_name, sizeof shm_name, "/%s%s", LPQ_SHM_PREFIX, rest);
    if (shm_unlink(shm_name) < 0) {
        int e = errno;
        if (e == ENOENT)
            return lp__queue_seterr(-ENOENT, "no shm queue '%s'", rest);
        return lp__queue_seterr(-e, "shm queue '%s': %s", rest, strerror(e));
    }
    return 0;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int q_list(const char *uri, const char *rest, char ***names, size_t *n)
{
    (void)uri;
    (void)rest;
    DIR *d = opendir(LPQ_SHM_DIR);
    if (!d) {
        if (errno == ENOENT)
            return 0;
        return lp__queue_seterr(-errno, "%s: %s", LPQ_SHM_DIR, strerror(errno));
    }
    struct dirent *e;
    size_t plen = strlen(LPQ_SHM_PREFIX);
    int rc = 0;
    while (rc == 0 && (e = readdir(d)))
        if (strncmp(e->d_name, LPQ_SHM_PREFIX, plen) == 0 && e->d_name[plen])
            rc = lp__queue_names_add(names, n, e->d_name + plen);
    closedir(d);
    if (rc < 0)
        return lp__queue_seterr(rc, "no memory for the list of shm queues");
    if (*n > 1)
        qsort(*names, *n, sizeof **names, name_cmp);
    return 0;
}

const struct lp__queue_ops lp__queue_shm_ops = {
    .scheme = "shm",
    .open = q_open,
    .put = q_put,
    .get = q_get,
    .stat = q_stat,
    .peek = q_peek,
    .close = q_close,
    .free = q_free,
    .remove = q_remove,
    .list = q_list,
};
