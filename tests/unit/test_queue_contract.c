/* One API over four stores: the same script of calls gives the same observable trace on mem:,
 * shm:, file: and redis:// (a redis-server started for the test), and that trace is the one the
 * contract in libpipe.h describes.  The per-store programs test each store in depth; this one
 * catches the stores drifting apart. */
#include "redisutil.h"

#include <limits.h>
#include <stdarg.h>

static struct srv R;
static char dir[64];
static char uris[4][256];

static void setup(void)
{
    srv_start(&R);
    snprintf(dir, sizeof dir, "/tmp/lpq-contract-XXXXXX");
    cr_assert(mkdtemp(dir));
}

static void teardown(void)
{
    for (int i = 1; i < 4; i++)
        if (uris[i][0])
            lp_queue_remove(uris[i]);
    srv_stop(&R);
    char db[128];
    const char *sfx[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(db, sizeof db, "%s/c.db%s", dir, sfx[i]);
        unlink(db);
    }
    rmdir(dir);
}

static void make_uris(const char *name)
{
    snprintf(uris[0], sizeof uris[0], "mem:");
    snprintf(uris[1], sizeof uris[1], "shm:lpqc-%d-%s", (int)getpid(), name);
    snprintf(uris[2], sizeof uris[2], "file:%s/c.db#%s", dir, name);
    snprintf(uris[3], sizeof uris[3], "redis://127.0.0.1:%d/%s", R.port, name);
}

struct trace {
    char s[4096];
    size_t n;
};

static void add(struct trace *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(t->s + t->n, sizeof t->s - t->n, fmt, ap);
    va_end(ap);
    cr_assert(k >= 0 && (size_t)k < sizeof t->s - t->n, "trace too long");
    t->n += (size_t)k;
}

/* An item as text: its bytes (NUL shown as \0), priority and attempts. */
static void add_item(struct trace *t, const lp_queue_item *it)
{
    add(t, "[");
    for (size_t i = 0; i < it->data.len; i++)
        add(t, it->data.data[i] ? "%c" : "\\0", it->data.data[i]);
    add(t, " p%d a%u]", it->priority, it->attempts);
}

/* The script: orders, priorities, binary items, peek, get, ack, stat, bound, close. */
static void script(const char *uri, lp_queue_order order, struct trace *t)
{
    lp_queue *q;
    lp_queue_opts o = {.order = order, .max_items = 5};
    int rc = lp_queue_open(&q, uri, &o);
    cr_assert_eq(rc, 0, "%s: %s", uri, lp_queue_errmsg());
    add(t, "put:%d", lp_queue_put(q, "a", 1, 5, 0));
    add(t, "%d", lp_queue_put(q, "b", 1, -1, 0));
    add(t, "%d", lp_queue_put(q, "c", 1, 5, 0));
    add(t, "%d", lp_queue_put(q, "", 0, 0, 0));
    add(t, "%d", lp_queue_put(q, "n\0l", 3, INT_MIN, 0));
    add(t, " full:%d", lp_queue_put(q, "x", 1, 0, 0) == -ETIMEDOUT);
    size_t len = 99;
    rc = lp_queue_len(q, &len);
    add(t, " len:%d/%zu", rc, len);
    lp_queue_item *items;
    size_t n;
    cr_assert_eq(lp_queue_peek(q, 3, &items, &n), 0);
    add(t, " peek%zu:", n);
    for (size_t i = 0; i < n; i++)
        add_item(t, &items[i]);
    lp_queue_items_free(items, n);
    add(t, " get:");
    lp_queue_item it;
    for (int k = 0; k < 3; k++) {
        cr_assert_eq(lp_queue_get(q, &it, 0), 0, "%s", lp_queue_errmsg());
        add_item(t, &it);
        cr_assert_eq(lp_queue_ack(q, it.id), 0);
        lp_queue_item_free(&it);
    }
    lp_queue_stats s;
    cr_assert_eq(lp_queue_stat(q, &s), 0);
    add(t, " stat:w%zu i%zu d%zu m%zu o%d c%d", s.waiting, s.inflight, s.dead, s.max_items,
        (int)s.order, s.closed);
    add(t, " close:%d", lp_queue_close(q));
    add(t, " put:%d", lp_queue_put(q, "y", 1, 0, 0) == LP_ECLOSED);
    add(t, " rest:");
    while ((rc = lp_queue_get(q, &it, 50)) == 0) {
        add_item(t, &it);
        lp_queue_ack(q, it.id);
        lp_queue_item_free(&it);
    }
    add(t, " end:%d", rc == LP_ECLOSED);
    cr_assert_eq(lp_queue_stat(q, &s), 0);
    add(t, " closed:%d w%zu", s.closed, s.waiting);
    lp_queue_free(q);
}

static void same_everywhere(const char *name, lp_queue_order order, const char *want)
{
    make_uris(name);
    struct trace t[4];
    for (int i = 0; i < 4; i++) {
        t[i].n = 0;
        t[i].s[0] = 0;
        script(uris[i], order, &t[i]);
    }
    cr_expect_str_eq(t[0].s, want, "mem: trace: %s", t[0].s);
    for (int i = 1; i < 4; i++)
        cr_expect_str_eq(t[i].s, t[0].s, "%s differs from mem:", uris[i]);
}

TestSuite(queue_contract, .init = setup, .fini = teardown, .timeout = 60);

Test(queue_contract, fifo)
{
    same_everywhere("fifo", LP_QUEUE_FIFO,
                    "put:00000 full:1 len:0/5 peek3:[a p5 a0][b p-1 a0][c p5 a0]"
                    " get:[a p5 a1][b p-1 a1][c p5 a1] stat:w2 i0 d0 m5 o0 c0 close:0 put:1"
                    " rest:[ p0 a1][n\\0l p-2147483648 a1] end:1 closed:1 w0");
}

Test(queue_contract, lifo)
{
    same_everywhere("lifo", LP_QUEUE_LIFO,
                    "put:00000 full:1 len:0/5 peek3:[n\\0l p-2147483648 a0][ p0 a0][c p5 a0]"
                    " get:[n\\0l p-2147483648 a1][ p0 a1][c p5 a1] stat:w2 i0 d0 m5 o1 c0 close:0"
                    " put:1 rest:[b p-1 a1][a p5 a1] end:1 closed:1 w0");
}

Test(queue_contract, priority)
{
    same_everywhere("prio", LP_QUEUE_PRIORITY,
                    "put:00000 full:1 len:0/5 peek3:[n\\0l p-2147483648 a0][b p-1 a0][ p0 a0]"
                    " get:[n\\0l p-2147483648 a1][b p-1 a1][ p0 a1] stat:w2 i0 d0 m5 o2 c0 close:0"
                    " put:1 rest:[a p5 a1][c p5 a1] end:1 closed:1 w0");
}

/* Claims: what a durable store does with ack, release and a second delivery is the same in
 * both (mem: and shm: have no claims: their ack and release are no-ops that return 0). */
Test(queue_contract, claims_file_and_redis)
{
    make_uris("claims");
    struct trace t[2];
    for (int k = 0; k < 2; k++) {
        t[k].n = 0;
        t[k].s[0] = 0;
        lp_queue *q;
        lp_queue_opts o = {.max_attempts = 2};
        cr_assert_eq(lp_queue_open(&q, uris[2 + k], &o), 0, "%s", lp_queue_errmsg());
        lp_queue_put(q, "j", 1, 0, 0);
        lp_queue_item it, it2;
        cr_assert_eq(lp_queue_get(q, &it, 0), 0);
        lp_queue_stats s;
        lp_queue_stat(q, &s);
        add(&t[k], "claimed:w%zu i%zu", s.waiting, s.inflight);
        add(&t[k], " release:%d", lp_queue_release(q, it.id, true));
        add(&t[k], " stale-ack:%d", lp_queue_ack(q, it.id));
        cr_assert_eq(lp_queue_get(q, &it2, 0), 0);
        add(&t[k], " again:a%u", it2.attempts);
        add(&t[k], " last-fail:%d", lp_queue_release(q, it2.id, true));
        lp_queue_stat(q, &s);
        add(&t[k], " w%zu i%zu d%zu", s.waiting, s.inflight, s.dead);
        lp_queue_item *items;
        size_t n;
        cr_assert_eq(lp_queue_dead(q, 5, &items, &n), 0);
        add(&t[k], " dead%zu:", n);
        for (size_t i = 0; i < n; i++)
            add_item(&t[k], &items[i]);
        lp_queue_items_free(items, n);
        lp_queue_item_free(&it);
        lp_queue_item_free(&it2);
        lp_queue_free(q);
    }
    cr_expect_str_eq(t[0].s, "claimed:w0 i1 release:0 stale-ack:-2 again:a2 last-fail:0 w0 i0 d1"
                             " dead1:[j p0 a2]");
    cr_expect_str_eq(t[1].s, t[0].s, "redis differs from file");
}
