/* The shm: queue store (libpipe/queue_shm.c): order semantics, items between processes,
 * bounds and timeouts, close, reopen, remove, list, a producer or consumer killed at the worst
 * moment (played deterministically with the segment's layout from queue_shm.h), interrupts,
 * and a stress run of 2 producer and 2 consumer processes. */
#include "testutil.h"
#include "../../libpipe/queue_shm.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

/* ---- helpers -------------------------------------------------------------------------------- */

/* A queue name of this test process ("lpqt-PID-TAG"); *uri gets "shm:" + it. */
static const char *qname(const char *tag, char *uri, size_t len)
{
    static _Thread_local char names[8][96];
    static _Thread_local int k;
    char *n = names[k++ % 8];
    snprintf(n, sizeof names[0], "lpqt-%d-%s", (int)getpid(), tag);
    snprintf(uri, len, "shm:%s", n);
    return n;
}

/* Unlink every queue this test process made (also after a failed assertion). */
static void cleanup(void)
{
    char prefix[64];
    int pl = snprintf(prefix, sizeof prefix, "lpq.lpqt-%d-", (int)getpid());
    DIR *d = opendir("/dev/shm");
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strncmp(e->d_name, prefix, (size_t)pl) == 0) {
            char path[512];
            snprintf(path, sizeof path, "/dev/shm/%s", e->d_name);
            unlink(path);
        }
    closedir(d);
}

static lp_queue *open_q(const char *uri, lp_queue_order order, size_t max_items, size_t bytes)
{
    lp_queue *q = NULL;
    lp_queue_opts o = {.order = order, .max_items = max_items, .shm_bytes = bytes};
    int rc = lp_queue_open(&q, uri, &o);
    cr_assert_eq(rc, 0, "open %s: %d %s", uri, rc, lp_queue_errmsg());
    return q;
}

static void put_str(lp_queue *q, const char *s, int prio)
{
    int rc = lp_queue_put(q, s, strlen(s), prio, 0);
    cr_assert_eq(rc, 0, "put '%s': %d %s", s, rc, lp_queue_errmsg());
}

static void expect_get(lp_queue *q, const char *want)
{
    lp_queue_item it;
    int rc = lp_queue_get(q, &it, 0);
    cr_assert_eq(rc, 0, "get (want '%s'): %d %s", want, rc, lp_queue_errmsg());
    cr_expect_eq(it.data.len, strlen(want));
    cr_expect_str_eq(it.data.data, want);
    cr_expect_eq(it.id, 0);
    cr_expect_eq(it.attempts, 1);
    lp_queue_item_free(&it);
}

static void expect_empty(lp_queue *q)
{
    lp_queue_item it;
    cr_expect_eq(lp_queue_get(q, &it, 0), -ETIMEDOUT);
    size_t n = 99;
    cr_expect_eq(lp_queue_len(q, &n), 0);
    cr_expect_eq(n, 0);
}

/* The segment of a queue, mapped the way the library maps it. */
static struct lpq_shm *map_seg(const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof path, "/dev/shm/lpq.%s", name);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
    struct stat st;
    cr_assert_eq(fstat(fd, &st), 0);
    void *m = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    cr_assert_neq(m, MAP_FAILED);
    *len = (size_t)st.st_size;
    struct lpq_shm *h = m;
    cr_assert_eq(h->magic, LPQ_SHM_MAGIC);
    return h;
}

/* The getters (or putters) registered as sleeping on the queue. */
static uint32_t sleepers(struct lpq_shm *h, bool getters)
{
    if (h->order == LP_QUEUE_FIFO) /* generation, ticket, count (bits 0-19) in one word */
        return (uint32_t)(atomic_load(getters ? &h->fifo_getters : &h->fifo_putters) & 0xfffff);
    pthread_mutex_lock(&h->lock);
    uint32_t k = getters ? h->getters : h->putters;
    pthread_mutex_unlock(&h->lock);
    return k;
}

/* Wait (bounded: 10 s) until `n` getters (or putters) sleep on the queue. */
static void wait_sleepers(struct lpq_shm *h, bool getters, uint32_t n)
{
    double until = now_s() + 10;
    for (;;) {
        uint32_t k = sleepers(h, getters);
        if (k == n)
            return;
        cr_assert_lt(now_s(), until, "%u %s never slept (%u)", n, getters ? "getters" : "putters",
                     k);
        usleep(1000);
    }
}

static int wait_child(pid_t pid)
{
    int st;
    pid_t r;
    while ((r = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
        ;
    cr_assert_eq(r, pid);
    return st;
}

static void expect_exit(pid_t pid, int code)
{
    int st = wait_child(pid);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == code, "child %d: status 0x%x, want exit %d",
              (int)pid, st, code);
}

static void no_children(void)
{
    int z = 0;
    cr_expect_eq(count_children(&z), 0);
    cr_expect_eq(z, 0);
}

/* End a forked child, freeing the queue handles it holds (valgrind checks children's leaks). */
__attribute__((noreturn)) static void child_exit(int code, lp_queue *a, lp_queue *b)
{
    lp_queue_free(a);
    lp_queue_free(b);
    _exit(code);
}

/* In a child: one get; 0 when it returns `want` (NULL: when it returns rc). */
static int child_get(lp_queue *q, int timeout_ms, int rc, const char *want)
{
    lp_queue_item it;
    int r = lp_queue_get(q, &it, timeout_ms);
    int ok = r == rc && (!want || (r == 0 && strcmp(it.data.data, want) == 0));
    lp_queue_item_free(&it);
    return ok ? 0 : 1;
}

#define T(name, ...) Test(queue_shm, name, .fini = cleanup, ##__VA_ARGS__)

/* ---- order ---------------------------------------------------------------------------------- */

T(fifo_order)
{
    char uri[128];
    qname("fifo", uri, sizeof uri);
    int fds = count_fds();
    lp_queue *q = open_q(uri, LP_QUEUE_FIFO, 0, 0);
    put_str(q, "one", 5);
    put_str(q, "two", 1);
    put_str(q, "", 0);
    put_str(q, "four", 9);
    size_t n;
    cr_expect_eq(lp_queue_len(q, &n), 0);
    cr_expect_eq(n, 4);
    expect_get(q, "one");
    expect_get(q, "two");
    expect_get(q, "");
    expect_get(q, "four");
    expect_empty(q);
    lp_queue_free(q);
    cr_expect_eq(count_fds(), fds, "no descriptor kept");
    cr_expect_eq(lp_queue_remove(uri), 0);
}

T(lifo_order)
{
    char uri[128];
    qname("lifo", uri, sizeof uri);
    lp_queue *q = open_q(uri, LP_QUEUE_LIFO, 0, 0);
    put_str(q, "one", 0);
    put_str(q, "two", 0);
    put_str(q, "three", 0);
    expect_get(q, "three");
    put_str(q, "four", 0);
    expect_get(q, "four");
    expect_get(q, "two");
    expect_get(q, "one");
    expect_empty(q);
    lp_queue_free(q);
    cr_expect_eq(lp_queue_remove(uri), 0);
}

T(priority_order)
{
    char uri[128];
    qname("prio", uri, sizeof uri);
    lp_queue *q = open_q(uri, LP_QUEUE_PRIORITY, 0, 0);
    put_str(q, "p5a", 5);
    put_str(q, "p1a", 1);
    put_str(q, "p5b", 5);
    put_str(q, "m3", -3);
    put_str(q, "p1b", 1);
    put_str(q, "p9", 9);
    put_str(q, "p1c", 1);
    lp_queue_item it;
    cr_assert_eq(lp_queue_get(q, &it, 0), 0);
    cr_expect_str_eq(it.data.data, "m3");
    cr_expect_eq(it.priority, -3);
    lp_queue_item_free(&it);
    expect_get(q, "p1a");
    expect_get(q, "p1b");
    put_str(q, "p0", 0);
    expect_get(q, "p0");
    expect_get(q, "p1c");
    expect_get(q, "p5a");
    expect_get(q, "p5b");
    expect_get(q, "p9");
    expect_empty(q);
    lp_queue_free(q);
    cr_expect_eq(lp_queue_remove(uri), 0);
}

/* A model check per order on a small ring: items of many lengths wrap around its end. */
static void model_run(lp_queue_order order)
{
    char uri[128];
    const char *tags[] = {"mfifo", "mlifo", "mprio"};
    qname(tags[order], uri, sizeof uri);
    lp_queue *q = open_q(uri, order, 0, 1000);
    enum { MAXN = 64 };
    struct { int prio; unsigned seq; size_t len; unsigned char fill; } model[MAXN];
    size_t mn = 0;
    unsigned seq = 0;
    srand(42 + (unsigned)order);
    size_t rounds = test_count("LP_QSHM_MODEL_N", 4000, 400);
    unsigned char buf[256];
    for (size_t r = 0; r < rounds; r++) {
        bool put = mn == 0 || (rand() % 2 && mn < MAXN);
        if (put) {
            size_t len = (size_t)rand() % 200;
            unsigned char fill = (unsigned char)rand();
            int prio = rand() % 5;
            for (size_t i = 0; i < len; i++)
                buf[i] = (unsigned char)(fill + i);
            int rc = lp_queue_put(q, buf, len, prio, 0);
            if (rc == -ETIMEDOUT)
                continue; /* the ring is full: fine, the model does not add it */
            cr_assert_eq(rc, 0, "put: %d %s", rc, lp_queue_errmsg());
            model[mn].prio = prio;
            model[mn].seq = seq++;
            model[mn].len = len;
            model[mn].fill = fill;
            mn++;
        } else {
            size_t k = 0; /* which model entry comes out */
            if (order == LP_QUEUE_LIFO)
                k = mn - 1;
            else if (order == LP_QUEUE_PRIORITY)
                for (size_t i = 1; i < mn; i++)
                    if (model[i].prio < model[k].prio ||
                        (model[i].prio == model[k].prio && model[i].seq < model[k].seq))
                        k = i;
            if (r % 7 == 0) { /* peek agrees with the next get */
                lp_queue_item *items;
                size_t pn;
                cr_assert_eq(lp_queue_peek(q, 3, &items, &pn), 0);
                cr_assert_eq(pn, mn < 3 ? mn : 3);
                cr_expect_eq(items[0].data.len, model[k].len);
                lp_queue_items_free(items, pn);
            }
            lp_queue_item it;
            cr_assert_eq(lp_queue_get(q, &it, 0), 0);
            cr_assert_eq(it.data.len, model[k].len, "round %zu", r);
            cr_assert_eq(it.priority, model[k].prio);
            for (size_t i = 0; i < it.data.len; i++)
                cr_assert_eq((unsigned char)it.data.data[i], (unsigned char)(model[k].fill + i));
            cr_assert_eq(it.data.data[it.data.len], 0);
            lp_queue_item_free(&it);
            memmove(&model[k], &model[k + 1], (mn - k - 1) * sizeof model[0]);
            mn--;
        }
        size_t n;
        cr_assert_eq(lp_queue_len(q, &n), 0);
        cr_assert_eq(n, mn);
    }
    lp_queue_free(q);
    cr_expect_eq(lp_queue_remove(uri), 0);
}

T(model_fifo) { model_run(LP_QUEUE_FIFO); }
T(model_lifo) { model_run(LP_QUEUE_LIFO); }
T(model_priority) { model_run(LP_QUEUE_PRIORITY); }

/* PRIORITY: the space of items taken out of arrival order is reclaimed even while an old,
 * low-priority item stays (the oldest records move to the tail, keeping their order). */
T(priority_space_reclaimed)
{
    char uri[128];
    qname("reclaim", uri, sizeof uri);
    lp_queue *q = open_q(uri, LP_QUEUE_PRIORITY, 0, 1024);
    put_str(q, "old-a", 9);
    put_str(q, "old-b", 9);
    char item[100];
    for (int i = 0; i < 200; i++) { /* 200 x 120 bytes through a 1 KiB ring */
        memset(item, 'a' + i % 26, sizeof item);
        int rc = lp_queue_put(q, item, sizeof item, i % 3, 0);
        cr_assert_eq(rc, 0, "put %d: %d", i, rc);
        if (i % 2) {
            if (i % 20 == 1) /* 10 of them stay until the end */
                put_str(q, "mid", 5);
            lp_queue_item it;
            cr_assert_eq(lp_queue_get(q, &it, 0), 0);
            cr_assert_eq(it.data.len, sizeof item);
            lp_queue_item_free(&it);
            cr_assert_eq(lp_queue_get(q, &it, 0), 0);
            cr_assert_eq(it.data.len, sizeof item);
            lp_queue_item_free(&it);
        }
    }
    size_t n;
    cr_assert_eq(lp_queue_len(q, &n), 0);
    cr_expect_eq(n, 2 + 10);
    for (int i = 0; i < 10; i++)
        expect_get(q, "mid");
    expect_get(q, "old-a");
    expect_get(q, "old-b");
    expect_empty(q);
    lp_queue_free(q);
    cr_expect_eq(lp_queue_remove(uri), 0);
}

T(peek_and_stat)
{
    char uri[128];
    qname("peek", uri, sizeof uri);
    lp_queue *q = open_q(uri, LP_QUEUE_PRIORITY, 10, 0);
    put_str(q, "c", 3);
    put_str(q, "a", 1);
    put_str(q, "b", 2);
    lp_queue_item *items;
    size_t n;
    cr_assert_eq(lp_queue_peek(q, 10, &items, &n), 0);
    cr_assert_eq(n, 3);
    cr_expect_str_eq(items[0].data.data, "a");
    cr_expect_str_eq(items[1].data.data, "b");
    cr_expect_str_eq(items[2].data.data, "c");
    cr_expect_eq(items[2].priority, 3);
    lp_queue_items_free(items, n);
    cr_assert_eq(lp_queue_dead(q, 10, &items, &n), 0);
    cr_expect_eq(n, 0);
    lp_queue_items_free(items, n);
    lp_queue_stats s;
    cr_assert_eq(lp_queue_stat(q, &s), 0);
    cr_expect_eq(s.waiting, 3);
    cr_expect_eq(s.inflight, 0);
    cr_expect_eq(s.dead, 0);
    cr_expect_eq(s.max_items, 10);
    cr_expect_eq(s.order, LP_QUEUE_PRIORITY);
    cr_expect(!s.closed);
    cr_expect_eq(lp_queue_ack(q, 0), 0);
    cr_expect_eq(lp_queue_release(q, 0, true), 0);
    cr_expect_eq(lp_queue_touch(q, 0, 0), 0);
    lp_queue_free(q);
    cr_expect_eq(lp_queue_remove(uri), 0);
}

T(binary_items)
{
    char uri[128];
    qname("bin", uri, sizeof uri);
    lp_queue *q = open_q(uri, LP_QUEUE_FIFO, 0, 4096);
    unsigned char buf[1000];
    for (size_t len = 0; len < 1000; len += 37) {
        for (size_t i = 0; i < len; i++)
            buf[i] = (unsigned char)(i * 7 + len); /* NULs included */
        cr_assert_eq(lp_queue_put(q, buf, len, 0, 0), 0);
        lp_queue_item it;
        cr_assert_eq(lp_queue_get(q, &it, 0), 0);
        cr_assert_eq(it.data.len, len);
        cr_assert_eq(memcmp(it.data.data, buf, len), 0);
        cr_assert_eq(it.data.data[len], 0);
        lp_queue_item_free(&it);
    }
    lp_queue_free(q);
    cr_expect_eq(lp_queue_remove(uri), 0);
}

/* ---- between processes ----------------------------------------------------------------------- */

T(put_in_child_get_in_parent)
{
    char uri[128];
    qname("xproc", uri, sizeof uri);
    lp_queue *q = open_q(uri, LP_QUEUE_FIFO, 0, 0);
    enum { N = 1000 };
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) { /* a new process opening the queue by name */
        lp_queue *c;
        if (lp_queue_open(&c, uri, &(lp_queue_opts){.no_create = true}) != 0)
            child_exit(10, q, NULL);
        for (int i = 0; i < N; i++) {
            char s[32];
            int len = snprintf(s, sizeof s, "item %d", i);
            if (lp_queue_put(c, s, (size_t)len, 0, 5000) != 0)
                child_exit(11, q, c);
        }
        child_exit(0, q, c);
    }
    for (int i = 0; i < N; i++) {
        lp_queue_item it;
        int rc = lp_queue_get(q, &it, 10000); /* blocks for the child's items */
        cr_assert_eq(rc, 0, "get %d: %d", i, rc);
        char s[32];
        snprintf(s, sizeof s, "item %d", i);
        cr_assert_str_eq(it.data.data, s);
        lp_queue_item_free(&it);
    }
    expect_exit(pid, 0);
    expect_empty(q);
    lp_queue_free(q);
    cr_expect_eq(lp_queue_remove(uri), 0);
    no_children();
}

T(blocked_get_woken_by_put_in_other_process)
{
    char uri[128];
    const char *name = qname("wake", uri, sizeof uri);
    lp_queue *q = open_q(uri, LP_QUEUE_FIFO, 0, 0);
    size_t len;
    struct lpq_shm *h = map_seg(name, &len);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0)
        child_exit(child_get(q, 20000, 0, "hello"), q, NULL);
    wait_sleepers(h, true, 1);
    put_str(q, "hello", 0);
    expect_exit(pid, 0);
    cr_expect_eq(sleepers(h, true), 0);
    munmap(h, len);
    lp_queue_free(q);
    cr_expect_eq(lp_queue_remove(uri), 0);
}

/* ---- bounds and timeouts --------------------------------------------------------------------- */

T(bound_put_times_out)
{
    char uri[128];
    const char *name = qname("bound", uri, sizeof uri);
    lp_queue *q = open_q(uri, LP_QUEUE_FIFO, 3, 0);
    put_str(q, "a", 0);
    put_str(q, "b", 0);
    put_str(q, "c", 0);
    double t0 = now_s();
    cr_expect_eq(lp_queue_put(q, "d", 1, 0, 100), -ETIMEDOUT);
    cr_expect_geq(now_s() - t0, 0.099);
    cr_expect_eq(lp_queue_put(q, "d", 1, 0, 0), -ETIMEDOUT);
    /* a putter blocked in another process goes on when an item is taken */
    size_t len;
    struct lpq_shm *h = map_seg(name, &len);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0)
        child_exit(lp_queue_put(q, "d", 1, 0, 20000) == 0 ? 0 : 1, q, NULL);
    wait_sleepers(h, false, 1);
    expect_get(q, "a");
    expect_exit(pid, 0);
    expect_get(q, "b");
    expect_get(q, "c");
    expect_get(q, "d");
    munmap(h, len);
    lp_queue_free(q);
    cr_expect_eq(lp_queue_remove(uri), 0);
}

T(ring_full_put_times_out)
{
    char uri[128];
    qname("full", uri, sizeof uri);
    lp_queue *q = open_q(uri, LP_QUEUE_FIFO, 0, 256); /* 256 bytes: 4 records of 56 bytes */
    char item[56];
    memset(item, 'x', sizeof item);
    int put = 0;
    while (lp_queue_put(q, item, sizeof item, 0, 0) == 0)
        put++;
    cr_expect_eq(put, 4);
    double t0 = now_s();
    cr_expect_eq(lp_queue_put(q, item, sizeof item, 0, 50), -ETIMEDOUT);
    cr_expect_geq(now_s() - t0, 0.049);
    /* a small item still fits in what is left (256 - 4 * 64 = 0: no) */
    cr_expect_eq(lp_queue_put(q, "", 0, 0, 0), -ETIMEDOUT);
    lp_queue_item it;
    cr_assert_eq(lp_queue_get(q, &it, 0), 0);
    lp_queue_item_free(&it);
    cr_expect_eq(lp_queue_put(q, item, sizeof item, 0, 0), 0);
    /* larger than the ring can ever hold */
    char big[300] = {0};
    cr_expect_eq(lp_queue_put(q, big, sizeof big, 0, -1), -EMSGSIZE);
    cr_expect_neq(strstr(lp_queue_errmsg(), "300"), NULL, "%s", lp_queue_errmsg());
    cr_expect_eq(lp_queue_put(q, big, 249, 0, 0), -EMSGSIZE);
    lp_queue_free(q);
    cr_expect_eq(lp_queue_remove(uri), 0);
}

T(get_timeout)
{
    char uri[128];
    qname("gett", uri, sizeof uri);
    lp_queue *q = open_q(uri, LP_QUEUE_FIFO, 0, 0);
    lp_queue_item it;
    double t0 = now_s();
    cr_expect_eq(lp_queue_get(q, &it, 0), -ETIMEDOUT);
    cr_expect_lt(now_s() - t0, 0.05);
    t0 = now_s();
    cr_expect_eq(lp_queue_get(q, &it, 120), -ETIMEDOUT);
    double dt = now_s() - t0;
    cr_expect_geq(dt, 0.119);
    cr_expect_lt(dt, 3.0);
    cr_expect_eq(it.data.data, NULL);
    lp_queue_free(q);
    cr_expect_eq(lp_queue_remove(uri), 0);
}

/* ---- close ------------------------------------------------------------------------------------ */

T(close_wakes_getters_in_other_processes)
{
    char uri[128];
    const char *name = qname("close", uri, sizeof uri);
    lp_queue *q = open_q(uri, LP_QUEUE_FIFO, 0, 0);
    size_t len;
    struct lpq_shm *h = map_seg(name, &len);
    pid_t kids[2];
    for (int i = 0; i < 2; i++) {
        kids[i] = fork();
        cr_assert_geq(kids[i], 0);
        if (kids[i] == 0) {
            lp_queue *c;
            if (lp_queue_open(&c, uri, NULL) != 0)
                child_exit(10, q, NULL);
            child_exit(child_get(c, -1, LP_ECLOSED, NULL), q, c);
        }
    }
    wait_sleepers(h, true, 2);
    cr_assert_eq(lp_queue_close(q), 0);
    expect_exit(kids[0], 0);
    expect_exit(kids[1], 0);
    munmap(h, len);
    lp_queue_free(q);
    cr_expect_eq(lp_queue_remove(uri), 0);
    no_children();
}

T(close_drains_then_closed)
{
    char uri[128];
    qname("drain", uri, sizeof uri);
    lp_queue *q = open_q(uri, LP_QUEUE_LIFO, 0, 0);
    put_str(q, "a", 0);
    put_str(q, "b", 0);
    cr_assert_eq(lp_queue_close(q), 0);
    cr_expect_eq(lp_queue_put(q, "c", 1, 0, -1), LP_ECLOSED);
    lp_queue_stats s;
    cr_assert_eq(lp_queue_stat(q, &s), 0);
    cr_expect(s.closed);
    cr_expect_eq(s.waiting, 2);
    /* another handle sees the close too */
    lp_queue *q2 = open_q(uri, LP_QUEUE_FIFO, 0, 0);
    expect_get(q2, "b");
    expect_get(q, "a");
    lp_queue_item it;
    cr_expect_eq(lp_queue_get(q, &it, -1), LP_ECLOSED);
    cr_expect_eq(lp_queue_get(q2, &it, 0), LP_ECLOSED);
    lp_queue_free(q2);
    lp_queue_free(q);
    cr_expect_eq(lp_queue_remove(uri), 0);
}

T(close_wakes_blocked_putter)
{
    char uri[128];
    const char *name = qname("closep", uri, sizeof uri);
    lp_queue *q = open_q(uri, LP_QUEUE_FIFO, 1, 0);
    put_str(q, "a", 0);
    size_t len;
    struct lpq_shm *h = map_seg(name, &len);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0)
        child_exit(lp_queue_put(q, "b", 1, 0, -1) == LP_ECLOSED ? 0 : 1, q, NULL);
    wait_sleepers(h, false, 1);
    cr_assert_eq(lp_queue_close(q), 0);
    expect_exit(pid, 0);
    munmap(h, len);
    lp_queue_free(q);
    cr_expect_eq(lp_queue_remove(uri), 0);
}

/* ---- names, reopen, remove, list ----------------------------------------------------------- */

T(two_queues_do_not_interfere)
{
    char u1[128], u2[128];
    qname("one", u1, sizeof u1);
    qname("two", u2, sizeof u2);
    lp_queue *a = open_q(u1, LP_QUEUE_FIFO, 0, 0), *b = open_q(u2, LP_QUEUE_FIFO, 0, 0);
    put_str(a, "for a", 0);
    put_str(b, "for b", 0);
    put_str(a, "for a 2", 0);
    cr_assert_eq(lp_queue_close(b), 0);
    expect_get(a, "for a");
    expect_get(b, "for b");
    expect_get(a, "for a 2");
    put_str(a, "still open", 0);
    expect_get(a, "still open");
    lp_queue_free(a);
    lp_queue_free(b);
    cr_expect_eq(lp_queue_remove(u1), 0);
    cr_expect_eq(lp_queue_remove(u2), 0);
}

T(reopen_keeps_geometry_and_order)
{
    char uri[128];
    qname("reopen", uri, sizeof uri);
    lp_queue *q = open_q(uri, LP_QUEUE_LIFO, 5, 512);
    put_str(q, "x", 0);
    put_str(q, "y", 0);
    lp_queue_free(q);
    /* other options: the queue keeps its own */
    q = open_q(uri, LP_QUEUE_PRIORITY, 100, 1 << 20);
    lp_queue_stats s;
    cr_assert_eq(lp_queue_stat(q, &s), 0);
    cr_expect_eq(s.order, LP_QUEUE_LIFO);
    cr_expect_eq(s.max_items, 5);
    cr_expect_eq(s.waiting, 2);
    char big[600] = {0};
    cr_expect_eq(lp_queue_put(q, big, sizeof big, 0, 0), -EMSGSIZE, "the 512-byte ring stays");
    expect_get(q, "y");
    expect_get(q, "x");
    lp_queue_free(q);
    cr_expect_eq(lp_queue_remove(uri), 0);
}

T(remove_and_no_create)
{
    char uri[128];
    const char *name = qname("rm", uri, sizeof uri);
    lp_queue *q = NULL;
    cr_expect_eq(lp_queue_open(&q, uri, &(lp_queue_opts){.no_create = true}), -ENOENT);
    cr_expect_eq(q, NULL);
    cr_expect_neq(strstr(lp_queue_errmsg(), name), NULL, "%s", lp_queue_errmsg());
    q = open_q(uri, LP_QUEUE_FIFO, 0, 0);
    char path[256];
    snprintf(path, sizeof path, "/dev/shm/lpq.%s", name);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_expect_eq(st.st_mode & 07777, 0600);
    lp_queue_free(q);
    cr_expect_eq(lp_queue_remove(uri), 0);
    cr_expect_neq(stat(path, &st), 0);
    cr_expect_eq(lp_queue_remove(uri), -ENOENT);
    cr_expect_eq(lp_queue_open(&q, uri, &(lp_queue_opts){.no_create = true}), -ENOENT);
}

T(bad_names)
{
    lp_queue *q;
    cr_expect_eq(lp_queue_open(&q, "shm:", NULL), -EINVAL);
    cr_expect_neq(strstr(lp_queue_errmsg(), "name"), NULL, "%s", lp_queue_errmsg());
    cr_expect_eq(lp_queue_open(&q, "shm:a/b", NULL), -EINVAL);
    cr_expect_neq(strstr(lp_queue_errmsg(), "a/b"), NULL, "%s", lp_queue_errmsg());
    char uri[260] = "shm:";
    memset(uri + 4, 'n', 201);
    uri[205] = 0;
    cr_expect_eq(lp_queue_open(&q, uri, NULL), -EINVAL);
    cr_expect_eq(lp_queue_remove("shm:x/y"), -EINVAL);
    /* 200 characters is fine */
    char name[201];
    int pl = snprintf(name, sizeof name, "lpqt-%d-", (int)getpid());
    memset(name + pl, 'n', 200 - (size_t)pl);
    name[200] = 0;
    snprintf(uri, sizeof uri, "shm:%s", name);
    cr_assert_eq(lp_queue_open(&q, uri, NULL), 0, "%s", lp_queue_errmsg());
    lp_queue_free(q);
    cr_expect_eq(lp_queue_remove(uri), 0);
}

T(list)
{
    char u1[128], u2[128];
    const char *n1 = qname("lsa", u1, sizeof u1), *n2 = qname("lsb", u2, sizeof u2);
    lp_queue *a = open_q(u1, LP_QUEUE_FIFO, 0, 0), *b = open_q(u2, LP_QUEUE_FIFO, 0, 0);
    char **names;
    size_t n;
    cr_assert_eq(lp_queue_list("shm:", &names, &n), 0);
    int seen = 0;
    for (size_t i = 0; i < n; i++) {
        seen |= strcmp(names[i], n1) == 0 ? 1 : 0;
        seen |= strcmp(names[i], n2) == 0 ? 2 : 0;
        if (i > 0)
            cr_expect_lt(strcmp(names[i - 1], names[i]), 0, "sorted");
    }
    cr_expect_eq(names[n], NULL);
    cr_expect_eq(seen, 3);
    lp_queue_names_free(names);
    cr_expect_eq(lp_queue_remove(u1), 0);
    cr_assert_eq(lp_queue_list("shm:", &names, &n), 0);
    seen = 0;
    for (size_t i = 0; i < n; i++)
        seen |= strcmp(names[i], n1) == 0 ? 1 : strcmp(names[i], n2) == 0 ? 2 : 0;
    cr_expect_eq(seen, 2);
    lp_queue_names_free(names);
    /* a handle outlives the name */
    put_str(a, "still", 0);
    expect_get(a, "still");
    lp_queue_free(a);
    lp_queue_free(b);
    cr_expect_eq(lp_queue_remove(u2), 0);
}

/* Many processes creating the same queue at once all get the same one. */
T(create_race)
{
    char uri[128];
    qname("race", uri, sizeof uri);
    enum { K = 6 };
    int go[2];
    cr_assert_eq(pipe2(go, O_CLOEXEC), 0);
    pid_t kids[K];
    for (int i = 0; i < K; i++) {
        kids[i] = fork();
        cr_assert_geq(kids[i], 0);
        if (kids[i] == 0) {
            close(go[1]);
            char c;
            if (read(go[0], &c, 1) != 0) /* EOF: everybody starts */
                _exit(9);
            lp_queue *q;
            if (lp_queue_open(&q, uri, &(lp_queue_opts){.order = LP_QUEUE_FIFO}) != 0)
                _exit(10);
            char s[16];
            int len = snprintf(s, sizeof s, "%d", i);
            child_exit(lp_queue_put(q, s, (size_t)len, 0, 5000) == 0 ? 0 : 11, q, NULL);
        }
    }
    close(go[0]);
    close(go[1]);
    for (int i = 0; i < K; i++)
        expect_exit(kids[i], 0);
    lp_queue *q = open_q(uri, LP_QUEUE_FIFO, 0, 0);
    size_t n;
    cr_assert_eq(lp_queue_len(q, &n), 0);
    cr_expect_eq(n, K, "every process put into the same queue");
    lp_queue_free(q);
    cr_expect_eq(lp_queue_remove(uri), 0);
    /* no temporary file left behind */
    DIR *d = opendir("/dev/shm");
    struct dirent *e;
    while (d && (e = readdir(d)))
        cr_expect_neq(strncmp(e->d_name, "lpq-tmp.", 8), 0, "%s", e->d_name);
    if (d)
        closedir(d);
}

/* ---- processes killed at the worst moment ---------------------------------------------------- */

/* In a child: take the queue's lock the way the library does, do `what` to the segment, and
 * die by SIGKILL while holding it. */
enum half_op {
    HALF_PUT,
    HALF_GET,
    HALF_COMMIT,
    HALF_TAKEN,
    HALF_ROTATE,
    HALF_PEND_PUT, /* FIFO: the record written, its pending tail and count, not committed */
    HALF_PEND_GET, /* FIFO: the pending head and count written, not committed */
    HALF_BOTH,     /* FIFO: both locks held, a put and a get each committed and not counted */
    HALF_PEND1_PUT, /* FIFO: the record and its pending tail written (not the count) */
    HALF_PEND1_GET  /* FIFO: the pending head written (not the count) */
};

/* FIFO: write the record "new" at ftail (prio -50) and its pending values (in the library's
 * order: position, then count); stage 1: the position only, 2: both, 3: and the commit. */
static void fifo_half_put(struct lpq_shm *h, int stage)
{
    unsigned char *ring = (unsigned char *)h + h->ring_off;
    uint64_t tail = atomic_load(&h->ftail), off = tail % h->cap;
    struct lpq_rec r = {.len = 3, .prio = -50};
    memcpy(ring + off, &r, sizeof r);
    for (size_t i = 0; i < 3; i++)
        ring[(off + 8 + i) % h->cap] = "new"[i];
    atomic_store(&h->pend_tail, tail + lpq_rec_size(h->order, 3));
    if (stage >= 2)
        atomic_store(&h->pend_puts, atomic_load(&h->puts) + 1);
    if (stage >= 3)
        atomic_store(&h->ftail, tail + lpq_rec_size(h->order, 3));
}

/* FIFO: the pending values of a get of the oldest item, in stages as fifo_half_put. */
static void fifo_half_get(struct lpq_shm *h, int stage)
{
    unsigned char *ring = (unsigned char *)h + h->ring_off;
    uint64_t head = atomic_load(&h->fhead);
    struct lpq_rec *r = (struct lpq_rec *)(ring + head % h->cap);
    if (atomic_load(&h->tail_seen) < head + lpq_rec_size(h->order, r->len))
        atomic_store(&h->tail_seen, atomic_load(&h->ftail)); /* as a getter does first */
    atomic_store(&h->pend_head, head + lpq_rec_size(h->order, r->len));
    if (stage >= 2)
        atomic_store(&h->pend_gets, atomic_load(&h->gets) + 1);
    if (stage >= 3)
        atomic_store(&h->fhead, head + lpq_rec_size(h->order, r->len));
}

static void die_holding_fifo_lock(struct lpq_shm *h, enum half_op what)
{
    bool put = what == HALF_PUT || what == HALF_PEND_PUT || what == HALF_PEND1_PUT ||
               what == HALF_COMMIT;
    if ((put || what == HALF_BOTH) && pthread_mutex_lock(&h->tail_lock) != 0)
        _exit(20);
    if (!put && pthread_mutex_lock(&h->head_lock) != 0)
        _exit(20);
    if (what == HALF_PUT) {
        /* a record of 100 bytes of which 50 are written, nothing else */
        unsigned char *ring = (unsigned char *)h + h->ring_off;
        uint64_t off = atomic_load(&h->ftail) % h->cap;
        struct lpq_rec r = {.len = 100, .prio = -100};
        memcpy(ring + off, &r, sizeof r);
        for (size_t i = 0; i < 50; i++)
            ring[(off + 8 + i) % h->cap] = 'H';
    } else if (put)
        fifo_half_put(h, what == HALF_PEND1_PUT ? 1 : what == HALF_PEND_PUT ? 2 : 3);
    else if (what == HALF_PEND1_GET || what == HALF_PEND_GET || what == HALF_TAKEN)
        fifo_half_get(h, what == HALF_PEND1_GET ? 1 : what == HALF_PEND_GET ? 2 : 3);
    else if (what == HALF_BOTH) {
        fifo_half_get(h, 3);
        fifo_half_put(h, 3);
    }
    raise(SIGKILL);
    _exit(21);
}

static void die_holding_lock(const char *name, enum half_op what)
{
    size_t len;
    struct lpq_shm *h = map_seg(name, &len);
    if (h->order == LP_QUEUE_FIFO)
        die_holding_fifo_lock(h, what);
    if (pthread_mutex_lock(&h->lock) != 0)
        _exit(20);
    unsigned char *ring = (unsigned char *)h + h->ring_off;
    uint64_t tail = atomic_load(&h->tail), head = atomic_load(&h->head);
    if (what == HALF_PUT) {
        /* a record of 100 bytes of which 50 are written, tail not moved */
        struct lpq_rec r = {.len = 100, .prio = -100};
        if (h->order == LP_QUEUE_LIFO) {
            memset(ring + tail, 'H', 50);
        } else {
            uint64_t off = tail % h->cap;
            memcpy(ring + off, &r, sizeof r);
            for (size_t i = 0; i < 50; i++)
                ring[(off + 8 + i) % h->cap] = 'H';
        }
    } else if (what == HALF_GET) {
        /* a getter that copied the next item out, and died before its commit */
        (void)head;
    } else if (what == HALF_TAKEN) {
        /* a getter that committed its get and died before it uncounted the item (and, for
         * PRIORITY, before it took the entry off the heap) */
        if (h->order == LP_QUEUE_FIFO) {
            struct lpq_rec *r = (struct lpq_rec *)(ring + head % h->cap);
            atomic_store(&h->head, head + lpq_rec_size(h->order, r->len));
        } else if (h->order == LP_QUEUE_LIFO) {
            struct lpq_rec *r = (struct lpq_rec *)(ring + tail - 8);
            atomic_store(&h->tail, tail - lpq_rec_size(h->order, r->len));
        } else {
            struct lpq_heap_ent *hp = (struct lpq_heap_ent *)((char *)h + h->heap_off);
            struct lpq_rec *r = (struct lpq_rec *)(ring + hp[0].pos % h->cap);
            r->len |= LPQ_CONSUMED;
        }
    } else if (what == HALF_ROTATE) {
        /* PRIORITY: a put that moved the oldest record to the tail (copy committed) and died
         * before marking the original taken */
        struct lpq_rec *r = (struct lpq_rec *)(ring + head % h->cap);
        uint64_t size = lpq_rec_size(h->order, r->len);
        for (uint64_t i = 0; i < size; i++)
            ring[(tail + i) % h->cap] = ring[(head + i) % h->cap];
        atomic_store(&h->tail, tail + size);
    } else {
        /* a put that committed (tail moved) and died before it counted the item, and for
         * PRIORITY in the middle of its heap insertion (garbage where the sift was going on) */
        struct lpq_rec r = {.len = 3, .prio = -50};
        if (h->order == LP_QUEUE_LIFO) {
            memcpy(ring + tail, "new", 3);
            memcpy(ring + tail + 8, &r, sizeof r);
        } else {
            uint64_t off = tail % h->cap, data = 8;
            memcpy(ring + off, &r, sizeof r);
            if (h->order == LP_QUEUE_PRIORITY) { /* its seq, next_seq not bumped */
                memcpy(ring + (off + 8) % h->cap, &h->next_seq, 8);
                data = 16;
            }
            for (size_t i = 0; i < 3; i++)
                ring[(off + data + i) % h->cap] = "new"[i];
        }
        atomic_store(&h->tail, tail + lpq_rec_size(h->order, 3));
        if (h->order == LP_QUEUE_PRIORITY) {
            struct lpq_heap_ent *hp = (struct lpq_heap_ent *)((char *)h + h->heap_off);
            hp[0] = (struct lpq_heap_ent){.pos = 12345, .prio = 77}; /* a half-moved entry */
        }
    }
    raise(SIGKILL);
    _exit(21);
}

static void killed_holding_lock(lp_queue_order order, enum half_op what)
{
    char uri[128], tag[32];
    snprintf(tag, sizeof tag, "kill%d%d", (int)order, (int)what);
    const char *name = qname(tag, uri, sizeof uri);
    lp_queue *q = open_q(uri, order, 0, 1024);
    /* move the positions along so that the records below wrap around the ring's end */
    for (int i = 0; i < 9; i++) {
        char pad[90];
        memset(pad, 'p', sizeof pad);
        cr_assert_eq(lp_queue_put(q, pad, sizeof pad, 100, 0), 0);
        lp_queue_item it;
        cr_assert_eq(lp_queue_get(q, &it, 0), 0);
        lp_queue_item_free(&it);
    }
    const char *items[] = {"first", "second", "third"};
    for (int i = 0; i < 3; i++)
        put_str(q, items[i], order == LP_QUEUE_PRIORITY ? i : 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0)
        die_holding_lock(name, what);
    int st = wait_child(pid);
    cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "status 0x%x", st);

    /* another process (this one) can go on: nothing lost, nothing doubled, no half record */
    /* PRIORITY after a committed put: "after" ties with "new" and must come after it */
    put_str(q, "after", order != LP_QUEUE_PRIORITY ? 0 : what == HALF_COMMIT ? -50 : 10);
    size_t n;
    cr_assert_eq(lp_queue_len(q, &n), 0);
    static const char *const want[3][10][6] = {
        /* FIFO */ {{"first", "second", "third", "after"}, {"first", "second", "third", "after"},
                    {"first", "second", "third", "new", "after"}, {"second", "third", "after"},
                    {NULL},
                    {"first", "second", "third", "after"}, {"first", "second", "third", "after"},
                    {"second", "third", "new", "after"},
                    {"first", "second", "third", "after"}, {"first", "second", "third", "after"}},
        /* LIFO */ {{"after", "third", "second", "first"}, {"after", "third", "second", "first"},
                    {"after", "new", "third", "second", "first"}, {"after", "second", "first"}},
        /* PRIORITY */ {{"first", "second", "third", "after"}, {"first", "second", "third", "after"},
                        {"new", "after", "first", "second", "third"},
                        {"second", "third", "after"}, {"first", "second", "third", "after"}},
    };
    const char *const *w = want[order][what];
    size_t nw = 0;
    while (nw < 6 && w[nw])
        nw++;
    cr_expect_eq(n, nw, "items counted after the repair");
    for (size_t i = 0; i < nw; i++) {
        lp_queue_item it;
        cr_assert_eq(lp_queue_get(q, &it, 0), 0, "item %zu", i);
        cr_expect_eq(memchr(it.data.data, 'H', it.data.len), NULL, "the half record appeared");
        cr_expect_str_eq(it.data.data, w[i], "item %zu", i);
        lp_queue_item_free(&it);
    }
    expect_empty(q);
    put_str(q, "again", 0);
    expect_get(q, "again");
    lp_queue_free(q);
    cr_expect_eq(lp_queue_remove(uri), 0);
    no_children();
}

T(killed_mid_put_fifo) { killed_holding_lock(LP_QUEUE_FIFO, HALF_PUT); }
T(killed_mid_put_lifo) { killed_holding_lock(LP_QUEUE_LIFO, HALF_PUT); }
T(killed_mid_put_priority) { killed_holding_lock(LP_QUEUE_PRIORITY, HALF_PUT); }
T(killed_mid_get_fifo) { killed_holding_lock(LP_QUEUE_FIFO, HALF_GET); }
T(killed_mid_get_priority) { killed_holding_lock(LP_QUEUE_PRIORITY, HALF_GET); }
T(killed_after_get_commit_fifo) { killed_holding_lock(LP_QUEUE_FIFO, HALF_TAKEN); }
T(killed_after_get_commit_lifo) { killed_holding_lock(LP_QUEUE_LIFO, HALF_TAKEN); }
T(killed_after_get_commit_priority) { killed_holding_lock(LP_QUEUE_PRIORITY, HALF_TAKEN); }
T(killed_mid_rotate_priority) { killed_holding_lock(LP_QUEUE_PRIORITY, HALF_ROTATE); }
T(killed_after_commit_fifo) { killed_holding_lock(LP_QUEUE_FIFO, HALF_COMMIT); }
T(killed_after_commit_lifo) { killed_holding_lock(LP_QUEUE_LIFO, HALF_COMMIT); }
T(killed_after_commit_priority) { killed_holding_lock(LP_QUEUE_PRIORITY, HALF_COMMIT); }
T(killed_before_put_commit_fifo) { killed_holding_lock(LP_QUEUE_FIFO, HALF_PEND_PUT); }
T(killed_before_get_commit_fifo) { killed_holding_lock(LP_QUEUE_FIFO, HALF_PEND_GET); }
T(killed_holding_both_locks_fifo) { killed_holding_lock(LP_QUEUE_FIFO, HALF_BOTH); }
T(killed_between_put_pendings_fifo) { killed_holding_lock(LP_QUEUE_FIFO, HALF_PEND1_PUT); }
T(killed_between_get_pendings_fifo) { killed_holding_lock(LP_QUEUE_FIFO, HALF_PEND1_GET); }

/* FIFO, bounded: a consumer killed after its commit and before it counted the get still made
 * room: a producer (holding only the tail lock) sees it at once, without waiting, and the
 * bound still holds. */
T(killed_after_get_commit_bounded_fifo)
{
    char uri[128];
    const char *name = qname("killbound", uri, sizeof uri);
    lp_queue *q = open_q(uri, LP_QUEUE_FIFO, 3, 0);
    put_str(q, "a", 0);
    put_str(q, "b", 0);
    put_str(q, "c", 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0)
        die_holding_lock(name, HALF_TAKEN);
    int st = wait_child(pid);
    cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "status 0x%x", st);
    cr_expect_eq(lp_queue_put(q, "d", 1, 0, 0), 0, "%s", lp_queue_errmsg());
    cr_expect_eq(lp_queue_put(q, "e", 1, 0, 0), -ETIMEDOUT, "the bound of 3");
    size_t n;
    cr_assert_eq(lp_queue_len(q, &n), 0);
    cr_expect_eq(n, 3);
    expect_get(q, "b");
    expect_get(q, "c");
    expect_get(q, "d");
    expect_empty(q);
    lp_queue_free(q);
    cr_expect_eq(lp_queue_remove(uri), 0);
    no_children();
}

/* A real producer killed by SIGKILL while putting large items as fast as it can: whatever the
 * moment, the queue stays whole (every item is complete) and usable. */
T(producer_killed_while_putting)
{
    char uri[128];
    qname("killput", uri, sizeof uri);
    lp_queue *q = open_q(uri, LP_QUEUE_FIFO, 0, 64 * 1024);
    int ready[2];
    cr_assert_eq(pipe2(ready, O_CLOEXEC), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        static unsigned char buf[8000];
        for (unsigned i = 0;; i++) {
            memset(buf, (int)(i & 0xff), sizeof buf);
            if (lp_queue_put(q, buf, sizeof buf, 0, -1) != 0)
                _exit(1);
            if (i == 2 && write(ready[1], "r", 1) != 1)
                _exit(2);
        }
    }
    close(ready[1]);
    char c;
    cr_assert_eq(read(ready[0], &c, 1), 1);
    close(ready[0]);
    /* take a few while it is running, then kill it in the middle of whatever it does */
    for (int i = 0; i < 20; i++) {
        lp_queue_item it;
        cr_assert_eq(lp_queue_get(q, &it, 5000), 0);
        lp_queue_item_free(&it);
    }
    kill(pid, SIGKILL);
    int st = wait_child(pid);
    cr_expect(WIFSIGNALED(st));
    lp_queue_item it;
    int rc;
    size_t got = 0;
    while ((rc = lp_queue_get(q, &it, 0)) == 0) {
        cr_assert_eq(it.data.len, 8000);
        for (size_t i = 1; i < it.data.len; i++)
            cr_assert_eq(it.data.data[i], it.data.data[0], "a torn item");
        lp_queue_item_free(&it);
        got++;
    }
    cr_expect_eq(rc, -ETIMEDOUT);
    cr_expect_leq(got, 8);
    put_str(q, "after", 0);
    expect_get(q, "after");
    lp_queue_free(q);
    cr_expect_eq(lp_queue_remove(uri), 0);
}

T(consumer_killed_while_blocked)
{
    char uri[128];
    const char *name = qname("killget", uri, sizeof uri);
    lp_queue *q = open_q(uri, LP_QUEUE_FIFO, 0, 0);
    size_t len;
    struct lpq_shm *h = map_seg(name, &len);
    pid_t dead = fork();
    cr_assert_geq(dead, 0);
    if (dead == 0)
        child_exit(child_get(q, -1, 0, NULL), q, NULL); /* killed before it returns */
    wait_sleepers(h, true, 1);
    kill(dead, SIGKILL);
    int st = wait_child(dead);
    cr_expect(WIFSIGNALED(st));
    /* its registration stays behind; a new blocked getter still gets woken */
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0)
        child_exit(child_get(q, 20000, 0, "for the living"), q, NULL);
    wait_sleepers(h, true, 2);
    put_str(q, "for the living", 0);
    expect_exit(pid, 0);
    /* the dead getter's count went with the wake: puts make no more wake calls */
    cr_expect_eq(sleepers(h, true), 0);
    put_str(q, "x", 0);
    expect_get(q, "x");
    expect_empty(q);
    munmap(h, len);
    lp_queue_free(q);
    cr_expect_eq(lp_queue_remove(uri), 0);
    no_children();
}

/* FIFO: a putter killed after it bumped the getters' futex word and before its wake (or its
 * uncounting) leaves the sleeper counted and asleep: the next put wakes it. */
T(waker_killed_before_its_wake_fifo)
{
    char uri[128];
    const char *name = qname("killwake", uri, sizeof uri);
    lp_queue *q = open_q(uri, LP_QUEUE_FIFO, 0, 0);
    size_t len;
    struct lpq_shm *h = map_seg(name, &len);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0)
        child_exit(child_get(q, 20000, 0, "woken"), q, NULL);
    wait_sleepers(h, true, 1);
    atomic_fetch_add(&h->get_seq, 1); /* the dead waker's bump: no wake, nobody uncounted */
    put_str(q, "woken", 0);
    expect_exit(pid, 0);
    cr_expect_eq(sleepers(h, true), 0);
    munmap(h, len);
    lp_queue_free(q);
    cr_expect_eq(lp_queue_remove(uri), 0);
}

/* ---- interrupts ------------------------------------------------------------------------------ */

struct intr_arg {
    struct lpq_shm *h;
    int fd;
};

static void *interrupter(void *p)
{
    struct intr_arg *a = p;
    wait_sleepers(a->h, true, 1);
    if (write(a->fd, "i", 1) != 1)
        abort();
    return NULL;
}

T(wait_interrupt)
{
    char uri[128];
    const char *name = qname("intr", uri, sizeof uri);
    lp_queue *q = open_q(uri, LP_QUEUE_FIFO, 1, 0);
    int p[2];
    cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
    lp_set_wait_interrupt(p[0]);
    lp_queue_item it;
    cr_expect_eq(lp_queue_get(q, &it, 0), -ETIMEDOUT, "not readable: a plain timeout");
    /* readable while the get sleeps */
    size_t len;
    struct intr_arg a = {.h = map_seg(name, &len), .fd = p[1]};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, interrupter, &a), 0);
    double t0 = now_s();
    cr_expect_eq(lp_queue_get(q, &it, 20000), -EINTR);
    cr_expect_lt(now_s() - t0, 5.0);
    pthread_join(t, NULL);
    /* readable before: at once, for a full queue's put too */
    put_str(q, "a", 0);
    cr_expect_eq(lp_queue_put(q, "b", 1, 0, -1), -EINTR);
    /* an item waiting is taken even when the fd is readable */
    expect_get(q, "a");
    lp_set_wait_interrupt(-1);
    close(p[0]);
    close(p[1]);
    munmap(a.h, len);
    lp_queue_free(q);
    cr_expect_eq(lp_queue_remove(uri), 0);
}

/* ---- stress ---------------------------------------------------------------------------------- */

static void stress(lp_queue_order order)
{
    char uri[128], tag[32];
    snprintf(tag, sizeof tag, "stress%d", (int)order);
    qname(tag, uri, sizeof uri);
    size_t per = test_count("LP_QSHM_STRESS_N", 20000, 300);
    lp_queue *q = open_q(uri, order, 0, 4096); /* a small ring: puts wait for room */
    size_t total = 2 * per;
    _Atomic unsigned *seen = mmap(NULL, total * sizeof *seen, PROT_READ | PROT_WRITE,
                                  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(seen, MAP_FAILED);
    pid_t kids[4];
    for (int k = 0; k < 4; k++) {
        kids[k] = fork();
        cr_assert_geq(kids[k], 0);
        if (kids[k] != 0)
            continue;
        lp_queue *c;
        if (lp_queue_open(&c, uri, NULL) != 0)
            child_exit(10, q, NULL);
        if (k < 2) { /* producer k: ids k*per .. k*per+per-1, lengths 4..100 */
            for (size_t i = 0; i < per; i++) {
                uint32_t id = (uint32_t)(k * per + i);
                unsigned char buf[104];
                size_t len = 4 + id % 97;
                memcpy(buf, &id, 4);
                for (size_t j = 4; j < len; j++)
                    buf[j] = (unsigned char)(id + j);
                if (lp_queue_put(c, buf, len, (int)(id % 7), 20000) != 0)
                    child_exit(11, q, c);
            }
        } else {
            for (;;) {
                lp_queue_item it;
                int rc = lp_queue_get(c, &it, 20000);
                if (rc == LP_ECLOSED)
                    break;
                if (rc != 0 || it.data.len < 4)
                    child_exit(12, q, c);
                uint32_t id;
                memcpy(&id, it.data.data, 4);
                if (id >= total || it.data.len != 4 + id % 97 || it.priority != (int)(id % 7))
                    child_exit(13, q, c);
                for (size_t j = 4; j < it.data.len; j++)
                    if ((unsigned char)it.data.data[j] != (unsigned char)(id + j))
                        child_exit(14, q, c);
                atomic_fetch_add(&seen[id], 1);
                lp_queue_item_free(&it);
            }
        }
        child_exit(0, q, c);
    }
    expect_exit(kids[0], 0);
    expect_exit(kids[1], 0);
    cr_assert_eq(lp_queue_close(q), 0);
    expect_exit(kids[2], 0);
    expect_exit(kids[3], 0);
    size_t bad = 0;
    for (size_t i = 0; i < total; i++)
        bad += seen[i] != 1;
    cr_expect_eq(bad, 0, "%zu of %zu items not seen exactly once", bad, total);
    munmap(seen, total * sizeof *seen);
    lp_queue_free(q);
    cr_expect_eq(lp_queue_remove(uri), 0);
    no_children();
}

T(stress_fifo) { stress(LP_QUEUE_FIFO); }
T(stress_lifo) { stress(LP_QUEUE_LIFO); }
T(stress_priority) { stress(LP_QUEUE_PRIORITY); }
