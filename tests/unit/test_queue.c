/* Queues: the front end (URI checks, lp_queue_errmsg, NULL arguments) and the mem: store:
 * FIFO / LIFO / PRIORITY order (equal priorities FIFO, negative priorities), binary items,
 * the bound with put timeouts, get timeouts, blocking gets woken by puts, close waking blocked
 * getters and putters (items left are still delivered), peek, -EINTR from
 * lp_set_wait_interrupt, and producers and consumers in several threads at once.
 *
 * A thread that must be blocked before the test goes on is waited for by its state in
 * /proc/self/task/TID/stat (sleeping), never by a sleep; the timeouts given to waits are hang
 * guards only. */
#include "testutil.h"

#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/syscall.h>

#define HANG_MS 60000 /* a hang guard on waits, never expected to expire */

static lp_queue *open_q(lp_queue_order order, size_t max_items)
{
    lp_queue_opts o = {.order = order, .max_items = max_items};
    lp_queue *q = NULL;
    int r = lp_queue_open(&q, "mem:", &o);
    cr_assert_eq(r, 0, "open mem: %s (%s)", strerror(-r), lp_queue_errmsg());
    return q;
}

static void put_str(lp_queue *q, const char *s, int prio)
{
    int r = lp_queue_put(q, s, strlen(s), prio, 0);
    cr_assert_eq(r, 0, "put %s: %s", s, strerror(-r));
}

/* Get one item with timeout 0 and check it is `want`. */
static void get_is(lp_queue *q, const char *want)
{
    lp_queue_item it;
    int r = lp_queue_get(q, &it, 0);
    cr_assert_eq(r, 0, "get (want %s): %s", want, strerror(-r));
    cr_assert_eq(it.data.len, strlen(want));
    cr_assert_str_eq(it.data.data, want);
    cr_assert_eq(it.id, 0);
    cr_assert_eq(it.attempts, 1);
    lp_queue_item_free(&it);
}

static size_t qlen(lp_queue *q)
{
    size_t n = 99;
    cr_assert_eq(lp_queue_len(q, &n), 0);
    return n;
}

/* Wait until thread tid sleeps (blocked in a wait), for at most 10 s. */
static void wait_sleeping(_Atomic pid_t *tidp)
{
    double t0 = now_s();
    pid_t tid;
    while (!(tid = atomic_load(tidp))) {
        cr_assert_lt(now_s() - t0, 10.0, "the thread never started");
        sched_yield();
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
    for (;;) {
        FILE *f = fopen(path, "re");
        cr_assert(f);
        char buf[512];
        size_t len = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[len] = 0;
        char *rp = strrchr(buf, ')');
        if (rp && rp[2] == 'S')
            return;
        cr_assert_lt(now_s() - t0, 10.0, "the thread never blocked");
        sched_yield();
    }
}

static pid_t my_tid(void)
{
    return (pid_t)syscall(SYS_gettid);
}

/* ---- the front end ---- */

Test(queue, bad_uris)
{
    const char *bad[] = {"", "nosuch:", "mem", "memory:", "MEM:", "mem:name", ":mem", "x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        lp_queue *q = (lp_queue *)&q;
        int r = lp_queue_open(&q, bad[i], NULL);
        cr_assert_eq(r, -EINVAL, "'%s': %d", bad[i], r);
        cr_assert_null(q);
        char want[64];
        snprintf(want, sizeof want, "'%s'", bad[i]);
        cr_assert(strstr(lp_queue_errmsg(), want), "'%s': message '%s'", bad[i], lp_queue_errmsg());
    }
    lp_queue *q;
    cr_assert_eq(lp_queue_open(&q, NULL, NULL), -EINVAL);
    cr_assert(strstr(lp_queue_errmsg(), "(null)"), "%s", lp_queue_errmsg());
    cr_assert_eq(lp_queue_open(NULL, "mem:", NULL), -EINVAL);
    lp_queue_opts o = {.order = (lp_queue_order)7};
    cr_assert_eq(lp_queue_open(&q, "mem:", &o), -EINVAL);
    cr_assert(strstr(lp_queue_errmsg(), "order"), "%s", lp_queue_errmsg());
    o = (lp_queue_opts){.lease_ms = -1};
    cr_assert_eq(lp_queue_open(&q, "mem:", &o), -EINVAL);
    o = (lp_queue_opts){.no_create = true};
    cr_assert_eq(lp_queue_open(&q, "mem:", &o), -ENOENT);
    cr_assert(strstr(lp_queue_errmsg(), "mem:"), "%s", lp_queue_errmsg());
    /* a good call clears the message */
    cr_assert_eq(lp_queue_open(&q, "mem:", NULL), 0);
    cr_assert_str_eq(lp_queue_errmsg(), "");
    lp_queue_free(q);
    cr_assert_eq(lp_queue_remove("nosuch:x"), -EINVAL);
    cr_assert(strstr(lp_queue_errmsg(), "'nosuch:x'"), "%s", lp_queue_errmsg());
    cr_assert_eq(lp_queue_remove(NULL), -EINVAL);
    char **names = (char **)&q;
    size_t n = 9;
    cr_assert_eq(lp_queue_list("nosuch:", &names, &n), -EINVAL);
    cr_assert_null(names);
    cr_assert_eq(n, 0);
}

Test(queue, null_arguments)
{
    lp_queue *q = open_q(LP_QUEUE_FIFO, 0);
    lp_queue_item it = {0};
    lp_queue_stats s;
    lp_queue_item *items;
    size_t n;
    cr_assert_eq(lp_queue_put(NULL, "x", 1, 0, 0), -EINVAL);
    cr_assert_eq(lp_queue_put(q, NULL, 1, 0, 0), -EINVAL);
    cr_assert_eq(lp_queue_put(q, NULL, 0, 0, 0), 0, "an empty item needs no data");
    cr_assert_eq(lp_queue_get(NULL, &it, 0), -EINVAL);
    cr_assert_eq(lp_queue_get(q, NULL, 0), -EINVAL);
    cr_assert_eq(lp_queue_ack(NULL, 1), -EINVAL);
    cr_assert_eq(lp_queue_release(NULL, 1, true), -EINVAL);
    cr_assert_eq(lp_queue_touch(NULL, 1, 0), -EINVAL);
    cr_assert_eq(lp_queue_touch(q, 1, -1), -EINVAL);
    cr_assert_eq(lp_queue_stat(NULL, &s), -EINVAL);
    cr_assert_eq(lp_queue_stat(q, NULL), -EINVAL);
    cr_assert_eq(lp_queue_len(q, NULL), -EINVAL);
    cr_assert_eq(lp_queue_len(NULL, &n), -EINVAL);
    cr_assert_eq(lp_queue_peek(NULL, 1, &items, &n), -EINVAL);
    cr_assert_eq(lp_queue_peek(q, 1, NULL, &n), -EINVAL);
    cr_assert_eq(lp_queue_peek(q, 1, &items, NULL), -EINVAL);
    cr_assert_eq(lp_queue_dead(NULL, 1, &items, &n), -EINVAL);
    cr_assert_eq(lp_queue_close(NULL), -EINVAL);
    cr_assert_eq(lp_queue_list("mem:", NULL, &n), -EINVAL);
    lp_queue_free(NULL);
    lp_queue_item_free(NULL);
    lp_queue_items_free(NULL, 0);
    lp_queue_names_free(NULL);
    cr_assert_eq(qlen(q), 1);
    lp_queue_free(q);
}

Test(queue, mem_no_names)
{
    cr_assert_eq(lp_queue_remove("mem:"), -EINVAL);
    cr_assert(strstr(lp_queue_errmsg(), "mem:"), "%s", lp_queue_errmsg());
    char **names;
    size_t n = 9;
    cr_assert_eq(lp_queue_list("mem:", &names, &n), 0);
    cr_assert_eq(n, 0);
    cr_assert_not_null(names);
    cr_assert_null(names[0]);
    lp_queue_names_free(names);
    /* each open is a queue of its own */
    lp_queue *a = open_q(LP_QUEUE_FIFO, 0), *b = open_q(LP_QUEUE_FIFO, 0);
    put_str(a, "in a", 0);
    cr_assert_eq(qlen(a), 1);
    cr_assert_eq(qlen(b), 0);
    lp_queue_free(a);
    lp_queue_free(b);
}

/* ---- order ---- */

Test(queue, fifo_order)
{
    lp_queue *q = open_q(LP_QUEUE_FIFO, 0);
    put_str(q, "one", 5);
    put_str(q, "two", -1);
    put_str(q, "three", 0);
    get_is(q, "one");
    put_str(q, "four", 0);
    get_is(q, "two");
    get_is(q, "three");
    get_is(q, "four");
    lp_queue_item it;
    cr_assert_eq(lp_queue_get(q, &it, 0), -ETIMEDOUT);
    lp_queue_stats s;
    cr_assert_eq(lp_queue_stat(q, &s), 0);
    cr_assert_eq(s.order, LP_QUEUE_FIFO);
    cr_assert_eq(s.waiting, 0);
    lp_queue_free(q);
}

Test(queue, lifo_order)
{
    lp_queue *q = open_q(LP_QUEUE_LIFO, 0);
    put_str(q, "one", 0);
    put_str(q, "two", 0);
    put_str(q, "three", 0);
    get_is(q, "three");
    put_str(q, "four", 0);
    get_is(q, "four");
    get_is(q, "two");
    get_is(q, "one");
    lp_queue_stats s;
    cr_assert_eq(lp_queue_stat(q, &s), 0);
    cr_assert_eq(s.order, LP_QUEUE_LIFO);
    lp_queue_free(q);
}

Test(queue, priority_order)
{
    lp_queue *q = open_q(LP_QUEUE_PRIORITY, 0);
    put_str(q, "p5a", 5);
    put_str(q, "pm3", -3);
    put_str(q, "p5b", 5);
    put_str(q, "p0a", 0);
    put_str(q, "max", INT_MAX);
    put_str(q, "min", INT_MIN);
    put_str(q, "p5c", 5);
    put_str(q, "p0b", 0);
    lp_queue_item it;
    cr_assert_eq(lp_queue_get(q, &it, 0), 0);
    cr_assert_str_eq(it.data.data, "min");
    cr_assert_eq(it.priority, INT_MIN);
    lp_queue_item_free(&it);
    get_is(q, "pm3");
    get_is(q, "p0a");
    put_str(q, "p0c", 0);
    get_is(q, "p0b");
    get_is(q, "p0c");
    get_is(q, "p5a");
    get_is(q, "p5b");
    get_is(q, "p5c");
    get_is(q, "max");
    cr_assert_eq(qlen(q), 0);
    lp_queue_free(q);
}

/* Many random priorities, some equal: gets come out by (priority, put order). */
Test(queue, priority_heap_random)
{
    size_t n = test_count("LP_QUEUE_N", 20000, 2000);
    lp_queue *q = open_q(LP_QUEUE_PRIORITY, 0);
    unsigned seed = 12345;
    int *prio = malloc(n * sizeof *prio);
    size_t got = 0;
    int last_p = INT_MIN;
    long last_i = -1;
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245 + 12345;
        prio[i] = (int)((seed >> 16) % 200) - 100;
        char buf[32];
        snprintf(buf, sizeof buf, "%zu", i);
        put_str(q, buf, prio[i]);
        if (i % 7 == 6) { /* take some while putting: the order holds among what is there */
            lp_queue_item it;
            cr_assert_eq(lp_queue_get(q, &it, 0), 0);
            lp_queue_item_free(&it);
            got++;
        }
    }
    size_t left = qlen(q);
    cr_assert_eq(left, n - got);
    for (size_t k = 0; k < left; k++) {
        lp_queue_item it;
        cr_assert_eq(lp_queue_get(q, &it, 0), 0);
        long i = strtol(it.data.data, NULL, 10);
        cr_assert_eq(it.priority, prio[i]);
        cr_assert(it.priority > last_p || (it.priority == last_p && i > last_i),
                  "item %ld (priority %d) after %ld (priority %d)", i, it.priority, last_i,
                  last_p);
        last_p = it.priority;
        last_i = i;
        lp_queue_item_free(&it);
    }
    free(prio);
    lp_queue_free(q);
}

/* ---- items ---- */

Test(queue, binary_and_sizes)
{
    lp_queue *q = open_q(LP_QUEUE_FIFO, 0);
    const char bin[] = "a\0b\0\0c\n\xff";
    size_t sizes[] = {0, 1, 100, 65535, 65536, 200000, (size_t)3 << 20};
    cr_assert_eq(lp_queue_put(q, bin, sizeof bin, 7, 0), 0);
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        char *buf = malloc(sizes[k] + 1);
        for (size_t i = 0; i < sizes[k]; i++)
            buf[i] = (char)(i * 7 + k);
        cr_assert_eq(lp_queue_put(q, buf, sizes[k], (int)k, 0), 0);
        free(buf);
    }
    lp_queue_item it;
    cr_assert_eq(lp_queue_get(q, &it, 0), 0);
    cr_assert_eq(it.data.len, sizeof bin);
    cr_assert_eq(memcmp(it.data.data, bin, sizeof bin), 0);
    cr_assert_eq(it.priority, 7);
    lp_queue_item_free(&it);
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        cr_assert_eq(lp_queue_get(q, &it, 0), 0);
        cr_assert_eq(it.data.len, sizes[k]);
        cr_assert_not_null(it.data.data);
        cr_assert_eq(it.data.data[sizes[k]], 0, "not NUL-terminated");
        cr_assert_eq(it.priority, (int)k);
        for (size_t i = 0; i < sizes[k]; i++)
            cr_assert_eq(it.data.data[i], (char)(i * 7 + k), "item %zu byte %zu", k, i);
        /* the buffer is the caller's: it may grow it */
        cr_assert_eq(lp_buf_append(&it.data, "more", 4), 0);
        cr_assert_str_eq(it.data.data + sizes[k], "more");
        lp_queue_item_free(&it);
    }
    lp_queue_free(q);
}

Test(queue, no_ops_and_stat)
{
    lp_queue *q = open_q(LP_QUEUE_PRIORITY, 5);
    put_str(q, "x", 1);
    cr_assert_eq(lp_queue_ack(q, 1), 0);
    cr_assert_eq(lp_queue_release(q, 1, true), 0);
    cr_assert_eq(lp_queue_touch(q, 1, 1000), 0);
    lp_queue_stats s;
    cr_assert_eq(lp_queue_stat(q, &s), 0);
    cr_assert_eq(s.waiting, 1);
    cr_assert_eq(s.inflight, 0);
    cr_assert_eq(s.dead, 0);
    cr_assert_eq(s.max_items, 5);
    cr_assert_eq(s.order, LP_QUEUE_PRIORITY);
    cr_assert_not(s.closed);
    lp_queue_item *items = (lp_queue_item *)&s;
    size_t n = 9;
    cr_assert_eq(lp_queue_dead(q, 10, &items, &n), 0);
    cr_assert_eq(n, 0);
    cr_assert_null(items);
    lp_queue_free(q); /* with an item still in it */
}

/* ---- peek ---- */

static void peek_is(lp_queue *q, size_t max, const char *const *want, size_t nwant)
{
    lp_queue_item *items;
    size_t n;
    cr_assert_eq(lp_queue_peek(q, max, &items, &n), 0);
    cr_assert_eq(n, nwant, "peek %zu: %zu items, not %zu", max, n, nwant);
    for (size_t i = 0; i < n; i++) {
        cr_assert_str_eq(items[i].data.data, want[i], "peek %zu: item %zu", max, i);
        cr_assert_eq(items[i].attempts, 0, "a waiting item was delivered 0 times");
        items[i].data.data[0] = '#'; /* a copy: the queue's item stays as it was */
    }
    lp_queue_items_free(items, n);
}

Test(queue, peek_copies_in_get_order)
{
    static const char *const fifo[] = {"a", "b", "c", "d"};
    static const char *const lifo[] = {"d", "c", "b", "a"};
    static const char *const prio[] = {"c", "a", "d", "b"}; /* c -1, a 0, d 0, b 3 */
    const lp_queue_order orders[] = {LP_QUEUE_FIFO, LP_QUEUE_LIFO, LP_QUEUE_PRIORITY};
    const char *const *want[] = {fifo, lifo, prio};
    for (int k = 0; k < 3; k++) {
        lp_queue *q = open_q(orders[k], 0);
        peek_is(q, 10, NULL, 0);
        put_str(q, "a", 0);
        put_str(q, "b", 3);
        put_str(q, "c", -1);
        put_str(q, "d", 0);
        peek_is(q, 0, NULL, 0);
        peek_is(q, 1, want[k], 1);
        peek_is(q, 3, want[k], 3);
        peek_is(q, 100, want[k], 4);
        cr_assert_eq(qlen(q), 4, "peek took items");
        for (int i = 0; i < 4; i++)
            get_is(q, want[k][i]);
        lp_queue_free(q);
    }
}

/* ---- timeouts and the bound ---- */

Test(queue, get_timeout)
{
    lp_queue *q = open_q(LP_QUEUE_FIFO, 0);
    lp_queue_item it;
    cr_assert_eq(lp_queue_get(q, &it, 0), -ETIMEDOUT);
    double t0 = now_s();
    cr_assert_eq(lp_queue_get(q, &it, 50), -ETIMEDOUT);
    double dt = now_s() - t0;
    cr_assert_geq(dt, 0.045, "timed out after %.3f s", dt);
    cr_assert_eq(it.data.len, 0);
    put_str(q, "late", 0);
    cr_assert_eq(lp_queue_get(q, &it, 50), 0);
    cr_assert_str_eq(it.data.data, "late");
    lp_queue_item_free(&it);
    lp_queue_free(q);
}

Test(queue, bound_and_put_timeout)
{
    lp_queue *q = open_q(LP_QUEUE_FIFO, 3);
    put_str(q, "1", 0);
    put_str(q, "2", 0);
    put_str(q, "3", 0);
    cr_assert_eq(lp_queue_put(q, "4", 1, 0, 0), -ETIMEDOUT);
    cr_assert(strstr(lp_queue_errmsg(), "full"), "%s", lp_queue_errmsg());
    double t0 = now_s();
    cr_assert_eq(lp_queue_put(q, "4", 1, 0, 50), -ETIMEDOUT);
    double dt = now_s() - t0;
    cr_assert_geq(dt, 0.045, "timed out after %.3f s", dt);
    cr_assert_eq(qlen(q), 3);
    get_is(q, "1");
    put_str(q, "4", 0);
    cr_assert_eq(lp_queue_put(q, "5", 1, 0, 0), -ETIMEDOUT);
    get_is(q, "2");
    get_is(q, "3");
    get_is(q, "4");
    lp_queue_free(q);
}

/* ---- blocking, waking, closing ---- */

struct getter {
    lp_queue *q;
    int intr;            /* lp_set_wait_interrupt descriptor, or -1 */
    int timeout_ms;
    _Atomic pid_t tid;
    int r;
    lp_queue_item it;
};

static void *getter_thread(void *p)
{
    struct getter *g = p;
    lp_set_wait_interrupt(g->intr);
    atomic_store(&g->tid, my_tid());
    g->r = lp_queue_get(g->q, &g->it, g->timeout_ms);
    return NULL;
}

struct putter {
    lp_queue *q;
    int intr;
    _Atomic pid_t tid;
    int r;
};

static void *putter_thread(void *p)
{
    struct putter *w = p;
    lp_set_wait_interrupt(w->intr);
    atomic_store(&w->tid, my_tid());
    w->r = lp_queue_put(w->q, "blocked", 7, 0, HANG_MS);
    return NULL;
}

/* intr: the getter's interrupt descriptor (never readable here): it waits in poll(), not on
 * the condition variable. */
static void blocked_get_woken(int intr)
{
    lp_queue *q = open_q(LP_QUEUE_FIFO, 0);
    struct getter g = {.q = q, .intr = intr, .timeout_ms = HANG_MS};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, getter_thread, &g), 0);
    wait_sleeping(&g.tid);
    put_str(q, "wake", 0);
    pthread_join(t, NULL);
    cr_assert_eq(g.r, 0, "get: %s", strerror(-g.r));
    cr_assert_str_eq(g.it.data.data, "wake");
    lp_queue_item_free(&g.it);
    lp_queue_free(q);
}

Test(queue, blocking_get_woken_by_put)
{
    blocked_get_woken(-1);
}

Test(queue, blocking_get_with_interrupt_fd_woken_by_put)
{
    int fds = count_fds();
    int ip[2];
    cr_assert_eq(pipe2(ip, O_CLOEXEC), 0);
    blocked_get_woken(ip[0]);
    close(ip[0]);
    close(ip[1]);
    cr_assert_eq(count_fds(), fds, "descriptors leaked");
}

Test(queue, close_wakes_getters)
{
    int ip[2];
    cr_assert_eq(pipe2(ip, O_CLOEXEC), 0);
    lp_queue *q = open_q(LP_QUEUE_FIFO, 0);
    struct getter g[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        /* two wait on the condition variable, two in poll() */
        g[i] = (struct getter){.q = q, .intr = i % 2 ? ip[0] : -1, .timeout_ms = HANG_MS};
        cr_assert_eq(pthread_create(&t[i], NULL, getter_thread, &g[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        wait_sleeping(&g[i].tid);
    cr_assert_eq(lp_queue_close(q), 0);
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        cr_assert_eq(g[i].r, LP_ECLOSED, "getter %d: %d", i, g[i].r);
    }
    lp_queue_item it;
    cr_assert_eq(lp_queue_get(q, &it, HANG_MS), LP_ECLOSED);
    cr_assert_eq(lp_queue_put(q, "x", 1, 0, HANG_MS), LP_ECLOSED);
    lp_queue_stats s;
    cr_assert_eq(lp_queue_stat(q, &s), 0);
    cr_assert(s.closed);
    cr_assert_eq(lp_queue_close(q), 0, "closing twice is fine");
    lp_queue_free(q);
    close(ip[0]);
    close(ip[1]);
}

static void close_wakes_putter(int intr)
{
    lp_queue *q = open_q(LP_QUEUE_FIFO, 2);
    put_str(q, "left 1", 0);
    put_str(q, "left 2", 0);
    struct putter w = {.q = q, .intr = intr};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, putter_thread, &w), 0);
    wait_sleeping(&w.tid);
    cr_assert_eq(lp_queue_close(q), 0);
    pthread_join(t, NULL);
    cr_assert_eq(w.r, LP_ECLOSED, "putter: %d", w.r);
    /* what was left at the close is still delivered, then the end */
    cr_assert_eq(qlen(q), 2);
    get_is(q, "left 1");
    get_is(q, "left 2");
    lp_queue_item it;
    cr_assert_eq(lp_queue_get(q, &it, HANG_MS), LP_ECLOSED);
    lp_queue_free(q);
}

Test(queue, close_wakes_putter_items_left_delivered)
{
    close_wakes_putter(-1);
    int ip[2];
    cr_assert_eq(pipe2(ip, O_CLOEXEC), 0);
    close_wakes_putter(ip[0]);
    close(ip[0]);
    close(ip[1]);
}

Test(queue, blocked_putter_woken_by_get)
{
    lp_queue *q = open_q(LP_QUEUE_FIFO, 1);
    put_str(q, "first", 0);
    struct putter w = {.q = q, .intr = -1};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, putter_thread, &w), 0);
    wait_sleeping(&w.tid);
    get_is(q, "first");
    pthread_join(t, NULL);
    cr_assert_eq(w.r, 0);
    get_is(q, "blocked");
    lp_queue_free(q);
}

Test(queue, wait_interrupt)
{
    int fds = count_fds();
    int ip[2];
    cr_assert_eq(pipe2(ip, O_CLOEXEC), 0);
    lp_queue *q = open_q(LP_QUEUE_FIFO, 1);
    lp_set_wait_interrupt(ip[0]);
    lp_queue_item it;
    /* not readable yet: a plain timeout */
    cr_assert_eq(lp_queue_get(q, &it, 20), -ETIMEDOUT);
    cr_assert_eq(write(ip[1], "!", 1), 1);
    cr_assert_eq(lp_queue_get(q, &it, HANG_MS), -EINTR);
    cr_assert_eq(lp_queue_get(q, &it, -1), -EINTR);
    put_str(q, "there", 0); /* room: no wait, no -EINTR */
    cr_assert_eq(lp_queue_put(q, "full", 4, 0, HANG_MS), -EINTR);
    cr_assert_eq(lp_queue_put(q, "full", 4, 0, -1), -EINTR);
    get_is(q, "there"); /* an item: no wait, no -EINTR */
    lp_set_wait_interrupt(-1);
    cr_assert_eq(lp_queue_get(q, &it, 0), -ETIMEDOUT);
    char c;
    cr_assert_eq(read(ip[0], &c, 1), 1);

    /* a getter blocked in its wait when the descriptor becomes readable */
    struct getter g = {.q = q, .intr = ip[0], .timeout_ms = HANG_MS};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, getter_thread, &g), 0);
    wait_sleeping(&g.tid);
    cr_assert_eq(write(ip[1], "!", 1), 1);
    pthread_join(t, NULL);
    cr_assert_eq(g.r, -EINTR, "get: %d", g.r);
    /* the queue still works, and the interrupted waiter left no trace */
    put_str(q, "after", 0);
    get_is(q, "after");
    lp_queue_free(q);
    close(ip[0]);
    close(ip[1]);
    cr_assert_eq(count_fds(), fds, "descriptors leaked");
}

/* ---- many threads ---- */

#define NPROD 4
#define NCONS 4

struct stress {
    lp_queue *q;
    size_t n;             /* items per producer */
    _Atomic unsigned char *seen; /* NPROD * n */
    _Atomic size_t dups, bad;
    int intr;
};

struct worker {
    struct stress *s;
    int id;
    size_t got;
};

static void *producer(void *p)
{
    struct worker *w = p;
    struct stress *s = w->s;
    if (w->id % 2)
        lp_set_wait_interrupt(s->intr);
    char buf[48];
    for (size_t i = 0; i < s->n; i++) {
        int len = snprintf(buf, sizeof buf, "%d:%zu", w->id, i);
        int r = lp_queue_put(s->q, buf, (size_t)len, (int)(i % 5), HANG_MS);
        if (r != 0)
            atomic_fetch_add(&s->bad, 1);
    }
    return NULL;
}

static void *consumer(void *p)
{
    struct worker *w = p;
    struct stress *s = w->s;
    if (w->id % 2)
        lp_set_wait_interrupt(s->intr);
    for (;;) {
        lp_queue_item it;
        int r = lp_queue_get(s->q, &it, HANG_MS);
        if (r == LP_ECLOSED)
            break;
        if (r != 0) {
            atomic_fetch_add(&s->bad, 1);
            break;
        }
        int pid;
        size_t i;
        if (sscanf(it.data.data, "%d:%zu", &pid, &i) != 2 || pid < 0 || pid >= NPROD ||
            i >= s->n)
            atomic_fetch_add(&s->bad, 1);
        else if (atomic_fetch_add(&s->seen[(size_t)pid * s->n + i], 1) != 0)
            atomic_fetch_add(&s->dups, 1);
        w->got++;
        lp_queue_item_free(&it);
    }
    return NULL;
}

/* n items per producer (LP_QUEUE_N overrides; shrunk under valgrind).  A tight bound makes
 * every item a hand-over between threads (a wake-up each), so those runs take fewer. */
static void stress(lp_queue_order order, size_t max_items, size_t n)
{
    int ip[2];
    cr_assert_eq(pipe2(ip, O_CLOEXEC), 0);
    struct stress s = {.q = open_q(order, max_items), .n = test_count("LP_QUEUE_N", n, 1000),
                       .intr = ip[0]};
    s.seen = calloc(NPROD * s.n, 1);
    pthread_t tp[NPROD], tc[NCONS];
    struct worker wp[NPROD], wc[NCONS];
    for (int i = 0; i < NCONS; i++) {
        wc[i] = (struct worker){.s = &s, .id = i};
        cr_assert_eq(pthread_create(&tc[i], NULL, consumer, &wc[i]), 0);
    }
    for (int i = 0; i < NPROD; i++) {
        wp[i] = (struct worker){.s = &s, .id = i};
        cr_assert_eq(pthread_create(&tp[i], NULL, producer, &wp[i]), 0);
    }
    for (int i = 0; i < NPROD; i++)
        pthread_join(tp[i], NULL);
    cr_assert_eq(lp_queue_close(s.q), 0);
    size_t total = 0;
    for (int i = 0; i < NCONS; i++) {
        pthread_join(tc[i], NULL);
        total += wc[i].got;
    }
    cr_assert_eq(atomic_load(&s.bad), 0, "failed puts/gets or bad items");
    cr_assert_eq(atomic_load(&s.dups), 0, "items delivered twice");
    cr_assert_eq(total, NPROD * s.n, "%zu of %zu items delivered", total, NPROD * s.n);
    for (size_t i = 0; i < NPROD * s.n; i++)
        cr_assert_eq(atomic_load(&s.seen[i]), 1, "item %zu delivered %d times", i,
                     atomic_load(&s.seen[i]));
    cr_assert_eq(qlen(s.q), 0);
    free((void *)s.seen);
    lp_queue_free(s.q);
    close(ip[0]);
    close(ip[1]);
}

Test(queue, stress_fifo_unbounded)
{
    stress(LP_QUEUE_FIFO, 0, 50000);
}

Test(queue, stress_fifo_bounded)
{
    stress(LP_QUEUE_FIFO, 8, 20000);
}

Test(queue, stress_lifo_bounded)
{
    stress(LP_QUEUE_LIFO, 3, 10000);
}

Test(queue, stress_priority_bounded)
{
    stress(LP_QUEUE_PRIORITY, 16, 20000);
}

Test(queue, stress_bound_one)
{
    stress(LP_QUEUE_FIFO, 1, 5000);
}
