/* The file: queue store (SQLite, WAL): order, several queues in one database, binary items,
 * blocking across processes, bound, close, claims (ack/release/touch), leases, dead holders,
 * dead letters, durability across kill -9, file mode, errors. */
#include "testutil.h"

#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sched.h>

static char dir[256];
static char uri_buf[8][512];
static int uri_k;

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/lpq-file-XXXXXX");
    cr_assert(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
}

/* "file:DIR/DB" or "file:DIR/DB#QUEUE" */
static const char *U(const char *db, const char *queue)
{
    char *b = uri_buf[uri_k++ % 8];
    if (queue)
        snprintf(b, sizeof uri_buf[0], "file:%s/%s#%s", dir, db, queue);
    else
        snprintf(b, sizeof uri_buf[0], "file:%s/%s", dir, db);
    return b;
}

static lp_queue *open_q(const char *uri, const lp_queue_opts *o)
{
    lp_queue *q;
    int r = lp_queue_open(&q, uri, o);
    cr_assert_eq(r, 0, "open %s: %d %s", uri, r, lp_queue_errmsg());
    return q;
}

static void put_s(lp_queue *q, const char *s, int prio)
{
    int r = lp_queue_put(q, s, strlen(s), prio, 0);
    cr_assert_eq(r, 0, "put %s: %d %s", s, r, lp_queue_errmsg());
}

/* get (timeout 0) and ack; returns the item's text in a static buffer */
static const char *get_ack(lp_queue *q)
{
    static char buf[256];
    lp_queue_item it;
    int r = lp_queue_get(q, &it, 0);
    cr_assert_eq(r, 0, "get: %d %s", r, lp_queue_errmsg());
    snprintf(buf, sizeof buf, "%s", it.data.data);
    cr_assert_eq(lp_queue_ack(q, it.id), 0, "ack: %s", lp_queue_errmsg());
    lp_queue_item_free(&it);
    return buf;
}

static void no_zombies(void)
{
    int z;
    count_children(&z);
    cr_expect_eq(z, 0, "zombies left");
}

TestSuite(queue_file, .init = setup, .fini = teardown, .timeout = 30);

Test(queue_file, order)
{
    int fds = count_fds();
    const lp_queue_order orders[] = {LP_QUEUE_FIFO, LP_QUEUE_LIFO, LP_QUEUE_PRIORITY};
    const char *want[] = {"abcd", "dcba", "cadb"};
    const char *qn[] = {"fifo", "lifo", "prio"};
    for (int i = 0; i < 3; i++) {
        lp_queue *q = open_q(U("o.db", qn[i]), &(lp_queue_opts){.order = orders[i]});
        put_s(q, "a", 5);
        put_s(q, "b", 9);
        put_s(q, "c", 1);
        put_s(q, "d", 5);
        lp_queue_item *items;
        size_t n;
        cr_assert_eq(lp_queue_peek(q, 10, &items, &n), 0);
        cr_assert_eq(n, 4);
        char got[5] = {0}, peeked[5] = {0};
        for (size_t k = 0; k < 4; k++)
            peeked[k] = items[k].data.data[0];
        lp_queue_items_free(items, n);
        for (int k = 0; k < 4; k++)
            got[k] = get_ack(q)[0];
        cr_expect_str_eq(got, want[i], "order %d", i);
        cr_expect_str_eq(peeked, want[i], "peek order %d", i);
        lp_queue_stats st;
        cr_assert_eq(lp_queue_stat(q, &st), 0);
        cr_expect_eq(st.order, orders[i]);
        cr_expect_eq(st.waiting + st.inflight + st.dead, 0);
        lp_queue_free(q);
    }
    /* the order is fixed at creation: reopening with another order keeps it */
    lp_queue *q = open_q(U("o.db", "lifo"), &(lp_queue_opts){.order = LP_QUEUE_FIFO});
    put_s(q, "1", 0);
    put_s(q, "2", 0);
    cr_expect_str_eq(get_ack(q), "2");
    lp_queue_free(q);
    cr_expect_eq(count_fds(), fds);
}

Test(queue_file, several_queues_and_list)
{
    lp_queue *a = open_q(U("m.db", "alpha"), NULL);
    lp_queue *b = open_q(U("m.db", "beta"), &(lp_queue_opts){.order = LP_QUEUE_LIFO});
    lp_queue *d = open_q(U("m.db", NULL), NULL); /* "default" */
    lp_queue *h = open_q(U("m.db", "x#y"), NULL); /* the path ends at the first '#' */
    put_s(h, "h1", 0);
    lp_queue_free(h);
    put_s(a, "a1", 0);
    put_s(a, "a2", 0);
    put_s(b, "b1", 0);
    put_s(b, "b2", 0);
    put_s(d, "d1", 0);
    size_t n;
    cr_assert_eq(lp_queue_len(a, &n), 0);
    cr_expect_eq(n, 2);
    cr_assert_eq(lp_queue_len(d, &n), 0);
    cr_expect_eq(n, 1);
    cr_expect_str_eq(get_ack(a), "a1");
    cr_expect_str_eq(get_ack(b), "b2");
    cr_expect_str_eq(get_ack(d), "d1");
    lp_queue_item it;
    cr_expect_eq(lp_queue_get(d, &it, 0), -ETIMEDOUT);
    char **names;
    cr_assert_eq(lp_queue_list(U("m.db", NULL), &names, &n), 0);
    cr_assert_eq(n, 4);
    cr_expect_str_eq(names[0], "alpha");
    cr_expect_str_eq(names[1], "beta");
    cr_expect_str_eq(names[2], "default");
    cr_expect_str_eq(names[3], "x#y");
    cr_expect_null(names[4]);
    lp_queue_names_free(names);
    cr_assert_eq(lp_queue_remove(U("m.db", "x#y")), 0);
    /* remove drops one queue and its items */
    cr_assert_eq(lp_queue_remove(U("m.db", "beta")), 0);
    cr_expect_eq(lp_queue_remove(U("m.db", "beta")), -ENOENT);
    cr_expect_eq(lp_queue_remove(U("nosuch.db", "beta")), -ENOENT);
    cr_assert_eq(lp_queue_list(U("m.db", NULL), &names, &n), 0);
    cr_expect_eq(n, 2);
    lp_queue_names_free(names);
    lp_queue *b2;
    cr_expect_eq(lp_queue_open(&b2, U("m.db", "beta"), &(lp_queue_opts){.no_create = true}), -ENOENT);
    cr_expect_null(b2);
    cr_assert_eq(lp_queue_len(a, &n), 0);
    cr_expect_eq(n, 1);
    /* a handle still open on a removed queue finds it empty, and a put makes it again */
    lp_queue_item it2;
    cr_expect_eq(lp_queue_get(b, &it2, 0), -ETIMEDOUT);
    put_s(b, "b3", 0);
    put_s(b, "b4", 0);
    cr_expect_str_eq(get_ack(b), "b4"); /* with its order */
    cr_assert_eq(lp_queue_list(U("m.db", NULL), &names, &n), 0);
    cr_expect_eq(n, 3);
    lp_queue_names_free(names);
    /* a missing database lists no queues */
    cr_assert_eq(lp_queue_list(U("none.db", NULL), &names, &n), 0);
    cr_expect_eq(n, 0);
    cr_expect_null(names[0]);
    lp_queue_names_free(names);
    lp_queue_free(a);
    lp_queue_free(b);
    lp_queue_free(d);
}

Test(queue_file, binary_data)
{
    lp_queue *q = open_q(U("bin.db", NULL), NULL);
    size_t big = 1 << 20;
    unsigned char *data = malloc(big);
    for (size_t i = 0; i < big; i++)
        data[i] = (unsigned char)(i * 7 + (i >> 8));
    data[0] = 0;
    cr_assert_eq(lp_queue_put(q, data, big, 0, 0), 0);
    cr_assert_eq(lp_queue_put(q, "", 0, 0, 0), 0);
    cr_assert_eq(lp_queue_put(q, "a\0b", 3, 0, 0), 0);
    lp_queue_item it;
    cr_assert_eq(lp_queue_get(q, &it, 0), 0);
    cr_assert_eq(it.data.len, big);
    cr_expect_eq(memcmp(it.data.data, data, big), 0);
    cr_expect_eq(it.attempts, 1);
    cr_expect_neq(it.id, 0);
    cr_assert_eq(lp_queue_ack(q, it.id), 0);
    lp_queue_item_free(&it);
    cr_assert_eq(lp_queue_get(q, &it, 0), 0);
    cr_expect_eq(it.data.len, 0);
    cr_expect_eq(it.data.data[0], 0);
    cr_assert_eq(lp_queue_ack(q, it.id), 0);
    lp_queue_item_free(&it);
    cr_assert_eq(lp_queue_get(q, &it, 0), 0);
    cr_expect_eq(it.data.len, 3);
    cr_expect_eq(memcmp(it.data.data, "a\0b", 4), 0);
    cr_assert_eq(lp_queue_ack(q, it.id), 0);
    lp_queue_item_free(&it);
    free(data);
    lp_queue_free(q);
}

/* ---- other processes: tests/helpers/lp-qtool ---------------------------------------------- */

/* Start `lp-qtool URI ARGS...` with its stdout piped. */
static lp_proc *tool4(const char *uri, const char *a1, const char *a2, const char *a3,
                      const char *a4)
{
    char *argv[] = {(char *)helper("lp-qtool"), (char *)uri, (char *)a1, (char *)a2, (char *)a3,
                    (char *)a4, NULL};
    lp_proc *p;
    int r = lp_spawn(&p, &(lp_spawn_opts){.argv = argv, .out = LP_PIPE});
    cr_assert_eq(r, 0, "spawn lp-qtool: %s", lp_proc_errmsg(NULL));
    return p;
}

static lp_proc *tool(const char *uri, const char *a1, const char *a2, const char *a3)
{
    return tool4(uri, a1, a2, a3, NULL);
}

/* One line of its output (without the newline); "" at EOF. */
static const char *tool_line(lp_proc *p)
{
    static char buf[256];
    size_t n = 0;
    for (;;) {
        char c;
        ssize_t k = read(lp_proc_fd(p, 1), &c, 1);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0 || c == '\n' || n == sizeof buf - 1)
            break;
        buf[n++] = c;
    }
    buf[n] = 0;
    return buf;
}

/* Wait for it: its exit status, -SIGNAL if killed. */
static int tool_end(lp_proc *p)
{
    int rc;
    cr_assert_eq(lp_proc_wait(p, 20000, &rc), 0);
    lp_proc_free(p);
    return rc;
}

Test(queue_file, blocking_get_across_processes)
{
    int fds = count_fds();
    lp_queue *q = open_q(U("x.db", NULL), NULL);
    double t0 = now_s();
    lp_proc *p = tool(U("x.db", NULL), "get", "10000", NULL);
    cr_assert_str_eq(tool_line(p), "ready");
    put_s(q, "hello", 0);
    cr_expect_str_eq(tool_line(p), "hello");
    cr_expect_eq(tool_end(p), 0);
    cr_expect_lt(now_s() - t0, 5.0, "the getter was not woken by the put");
    lp_queue_stats st;
    cr_assert_eq(lp_queue_stat(q, &st), 0);
    cr_expect_eq(st.waiting + st.inflight + st.dead, 0);
    /* commits to another queue of the database wake the getter, which looks and waits on */
    lp_queue *other = open_q(U("x.db", "other"), NULL);
    p = tool(U("x.db", NULL), "get", "10000", NULL);
    cr_assert_str_eq(tool_line(p), "ready");
    for (int i = 0; i < 20; i++) {
        put_s(other, "o", 0);
        cr_expect_str_eq(get_ack(other), "o");
    }
    put_s(q, "mine", 0);
    cr_expect_str_eq(tool_line(p), "mine");
    cr_expect_eq(tool_end(p), 0);
    lp_queue_free(other);
    lp_queue_free(q);
    /* through a symbolic link in another directory (the WAL is beside the real file) */
    char real[400], link[400];
    snprintf(real, sizeof real, "%s/sub", dir);
    cr_assert_eq(mkdir(real, 0700), 0);
    snprintf(real, sizeof real, "%s/sub/real.db", dir);
    snprintf(link, sizeof link, "%s/link.db", dir);
    cr_assert_eq(symlink(real, link), 0);
    q = open_q(U("sub/real.db", NULL), NULL);
    p = tool(U("link.db", NULL), "get", "10000", NULL);
    cr_assert_str_eq(tool_line(p), "ready");
    put_s(q, "linked", 0);
    cr_expect_str_eq(tool_line(p), "linked");
    cr_expect_eq(tool_end(p), 0);
    lp_queue_free(q);
    cr_expect_lt(now_s() - t0, 5.0, "the getter was not woken by the put");
    cr_expect_eq(count_fds(), fds);
    no_zombies();
}

Test(queue_file, get_timeout)
{
    lp_queue *q = open_q(U("t.db", NULL), NULL);
    lp_queue_item it;
    double t0 = now_s();
    cr_expect_eq(lp_queue_get(q, &it, 0), -ETIMEDOUT);
    cr_expect_eq(lp_queue_get(q, &it, 200), -ETIMEDOUT);
    double el = now_s() - t0;
    cr_expect_geq(el, 0.19);
    cr_expect_lt(el, 5.0);
    cr_expect_neq(lp_queue_errmsg()[0], 0);
    lp_queue_free(q);
}

Test(queue_file, close_wakes_getter_in_other_process)
{
    lp_queue *q = open_q(U("c.db", NULL), NULL);
    lp_proc *p = tool(U("c.db", NULL), "get", "10000", NULL);
    cr_assert_str_eq(tool_line(p), "ready");
    double t0 = now_s();
    cr_assert_eq(lp_queue_close(q), 0);
    cr_expect_eq(tool_end(p), 3);
    cr_expect_lt(now_s() - t0, 5.0);
    cr_expect_eq(lp_queue_put(q, "x", 1, 0, 0), LP_ECLOSED);
    lp_queue_stats st;
    cr_assert_eq(lp_queue_stat(q, &st), 0);
    cr_expect(st.closed);
    lp_queue_free(q);
    /* the flag is persistent; what was left is still delivered, then LP_ECLOSED */
    q = open_q(U("c.db", NULL), NULL);
    lp_queue_item it;
    cr_expect_eq(lp_queue_get(q, &it, 1000), LP_ECLOSED);
    lp_queue_free(q);
    lp_queue *r = open_q(U("c.db", "other"), NULL);
    put_s(r, "left", 0);
    cr_assert_eq(lp_queue_close(r), 0);
    cr_expect_str_eq(get_ack(r), "left");
    cr_expect_eq(lp_queue_get(r, &it, -1), LP_ECLOSED);
    lp_queue_free(r);
    no_zombies();
}

Test(queue_file, claims_ack_release_touch)
{
    lp_queue *q = open_q(U("a.db", NULL), &(lp_queue_opts){.max_attempts = 5});
    put_s(q, "one", 0);
    put_s(q, "two", 0);
    lp_queue_item it;
    cr_assert_eq(lp_queue_get(q, &it, 0), 0);
    cr_expect_str_eq(it.data.data, "one");
    uint64_t id1 = it.id;
    lp_queue_item_free(&it);
    lp_queue_stats st;
    cr_assert_eq(lp_queue_stat(q, &st), 0);
    cr_expect_eq(st.waiting, 1);
    cr_expect_eq(st.inflight, 1);
    cr_expect_eq(lp_queue_touch(q, id1, 1000), 0);
    cr_expect_eq(lp_queue_touch(q, id1, 0), 0);
    /* released uncounted: back in its place, attempts not counted */
    cr_assert_eq(lp_queue_release(q, id1, false), 0);
    cr_expect_eq(lp_queue_release(q, id1, false), -ENOENT);
    cr_expect_eq(lp_queue_ack(q, id1), -ENOENT);
    cr_expect_eq(lp_queue_touch(q, id1, 0), -ENOENT);
    cr_expect_neq(lp_queue_errmsg()[0], 0);
    cr_assert_eq(lp_queue_get(q, &it, 0), 0);
    cr_expect_str_eq(it.data.data, "one");
    cr_expect_eq(it.attempts, 1);
    cr_expect_neq(it.id, id1);
    uint64_t id2 = it.id;
    lp_queue_item_free(&it);
    /* released failed: counted */
    cr_assert_eq(lp_queue_release(q, id2, true), 0);
    cr_assert_eq(lp_queue_get(q, &it, 0), 0);
    cr_expect_str_eq(it.data.data, "one");
    cr_expect_eq(it.attempts, 2);
    cr_expect_eq(lp_queue_ack(q, id2), -ENOENT); /* a stale claim of the same item */
    cr_expect_eq(lp_queue_ack(q, it.id), 0);
    cr_expect_eq(lp_queue_ack(q, it.id), -ENOENT);
    lp_queue_item_free(&it);
    /* a claim of another queue is not this queue's */
    lp_queue *o = open_q(U("a.db", "other"), NULL);
    cr_assert_eq(lp_queue_get(q, &it, 0), 0);
    cr_expect_eq(lp_queue_ack(o, it.id), -ENOENT);
    cr_expect_eq(lp_queue_ack(q, it.id), 0);
    lp_queue_item_free(&it);
    lp_queue_free(o);
    cr_assert_eq(lp_queue_stat(q, &st), 0);
    cr_expect_eq(st.waiting + st.inflight + st.dead, 0);
    lp_queue_free(q);
}

Test(queue_file, bound)
{
    lp_queue *q = open_q(U("b.db", NULL), &(lp_queue_opts){.max_items = 2});
    put_s(q, "1", 0);
    put_s(q, "2", 0);
    double t0 = now_s();
    cr_expect_eq(lp_queue_put(q, "3", 1, 0, 100), -ETIMEDOUT);
    cr_expect_geq(now_s() - t0, 0.09);
    /* a claimed item still counts */
    lp_queue_item it;
    cr_assert_eq(lp_queue_get(q, &it, 0), 0);
    cr_expect_eq(lp_queue_put(q, "3", 1, 0, 0), -ETIMEDOUT);
    lp_queue_stats st;
    cr_assert_eq(lp_queue_stat(q, &st), 0);
    cr_expect_eq(st.max_items, 2);
    /* a process blocked in put wakes when this one acks */
    lp_proc *p = tool(U("b.db", NULL), "putwait", "3", "10000");
    cr_assert_str_eq(tool_line(p), "ready");
    cr_assert_eq(lp_queue_ack(q, it.id), 0);
    lp_queue_item_free(&it);
    cr_expect_eq(tool_end(p), 0);
    cr_assert_eq(lp_queue_stat(q, &st), 0);
    cr_expect_eq(st.waiting, 2);
    cr_expect_str_eq(get_ack(q), "2");
    cr_expect_str_eq(get_ack(q), "3");
    /* and one blocked in put wakes at a close, with LP_ECLOSED */
    put_s(q, "4", 0);
    put_s(q, "5", 0);
    p = tool(U("b.db", NULL), "putwait", "6", "10000");
    cr_assert_str_eq(tool_line(p), "ready");
    cr_assert_eq(lp_queue_close(q), 0);
    cr_expect_eq(tool_end(p), 3);
    lp_queue_free(q);
    /* the bound is fixed at creation */
    q = open_q(U("b.db", NULL), &(lp_queue_opts){.max_items = 10});
    cr_assert_eq(lp_queue_stat(q, &st), 0);
    cr_expect_eq(st.max_items, 2);
    lp_queue_free(q);
    no_zombies();
}

Test(queue_file, lease_expiry)
{
    lp_queue *q = open_q(U("l.db", NULL), &(lp_queue_opts){.lease_ms = 200});
    put_s(q, "job", 0);
    lp_queue_item it;
    double t0 = now_s();
    cr_assert_eq(lp_queue_get(q, &it, 0), 0);
    uint64_t id = it.id;
    lp_queue_item_free(&it);
    /* the blocked get returns the item when its lease ends, not before */
    cr_assert_eq(lp_queue_get(q, &it, 5000), 0, "%s", lp_queue_errmsg());
    double el = now_s() - t0;
    cr_expect_geq(el, 0.2);
    cr_expect_lt(el, 4.0);
    cr_expect_str_eq(it.data.data, "job");
    cr_expect_eq(it.attempts, 2);
    cr_expect_eq(lp_queue_ack(q, id), -ENOENT); /* the lost claim */
    cr_expect_eq(lp_queue_ack(q, it.id), 0);
    lp_queue_item_free(&it);
    /* touch extends a lease */
    put_s(q, "job2", 0);
    t0 = now_s();
    cr_assert_eq(lp_queue_get(q, &it, 0), 0);
    cr_assert_eq(lp_queue_touch(q, it.id, 600), 0);
    lp_queue_item it2;
    cr_assert_eq(lp_queue_get(q, &it2, 5000), 0);
    cr_expect_geq(now_s() - t0, 0.6);
    cr_expect_str_eq(it2.data.data, "job2");
    cr_expect_eq(lp_queue_ack(q, it.id), -ENOENT);
    cr_expect_eq(lp_queue_ack(q, it2.id), 0);
    lp_queue_item_free(&it);
    lp_queue_item_free(&it2);
    lp_queue_free(q);
}

Test(queue_file, holder_dead)
{
    lp_queue *q = open_q(U("h.db", NULL), NULL); /* 5 min lease */
    put_s(q, "work", 0);
    lp_proc *p = tool(U("h.db", NULL), "hold", NULL, NULL);
    cr_assert_str_eq(tool_line(p), "held 1");
    lp_queue_item it;
    cr_expect_eq(lp_queue_get(q, &it, 0), -ETIMEDOUT); /* the other process holds it */
    lp_queue_stats st;
    cr_assert_eq(lp_queue_stat(q, &st), 0);
    cr_expect_eq(st.inflight, 1);
    cr_assert_eq(lp_proc_kill(p, SIGKILL), 0);
    cr_expect_eq(tool_end(p), -SIGKILL);
    double t0 = now_s();
    cr_assert_eq(lp_queue_get(q, &it, 0), 0, "%s", lp_queue_errmsg());
    cr_expect_lt(now_s() - t0, 2.0);
    cr_expect_str_eq(it.data.data, "work");
    cr_expect_eq(it.attempts, 2);
    cr_expect_eq(lp_queue_ack(q, it.id), 0);
    lp_queue_item_free(&it);
    lp_queue_free(q);
    no_zombies();
}

/* A get already blocked wakes the moment the holder dies (pidfd), not at the lease's end. */
struct blocked_get {
    lp_queue *q;
    pid_t tid;
    int r;
    lp_queue_item it;
};

static void *blocked_get_main(void *arg)
{
    struct blocked_get *b = arg;
    __atomic_store_n(&b->tid, gettid(), __ATOMIC_SEQ_CST);
    b->r = lp_queue_get(b->q, &b->it, 20000);
    return NULL;
}

/* Whether thread tid of this process sleeps in poll(2) (x86-64: 7, ppoll 271; elsewhere any
 * sleep in a system call). */
static bool in_poll(pid_t tid)
{
    char path[128], buf[64] = {0};
    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
#if defined(__x86_64__)
    return strncmp(buf, "7 ", 2) == 0 || strncmp(buf, "271 ", 4) == 0;
#else
    return buf[0] >= '0' && buf[0] <= '9';
#endif
}

Test(queue_file, holder_death_wakes_blocked_get)
{
    lp_queue *q = open_q(U("hw.db", NULL), NULL);
    put_s(q, "work", 0);
    lp_proc *p = tool(U("hw.db", NULL), "hold", NULL, NULL);
    cr_assert_str_eq(tool_line(p), "held 1");
    struct blocked_get b = {.q = q};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, blocked_get_main, &b), 0);
    pid_t tid;
    while (!(tid = __atomic_load_n(&b.tid, __ATOMIC_SEQ_CST)))
        sched_yield();
    while (!in_poll(tid)) /* it found nothing and waits */
        sched_yield();
    double t0 = now_s();
    cr_assert_eq(lp_proc_kill(p, SIGKILL), 0);
    pthread_join(th, NULL);
    cr_assert_eq(b.r, 0, "%d %s", b.r, lp_queue_errmsg());
    cr_expect_lt(now_s() - t0, 5.0);
    cr_expect_str_eq(b.it.data.data, "work");
    cr_expect_eq(b.it.attempts, 2);
    cr_expect_eq(lp_queue_ack(q, b.it.id), 0);
    lp_queue_item_free(&b.it);
    cr_expect_eq(tool_end(p), -SIGKILL);
    lp_queue_free(q);
    no_zombies();
}

Test(queue_file, dead_letters)
{
    lp_queue *q = open_q(U("d.db", NULL), &(lp_queue_opts){.max_attempts = 2});
    put_s(q, "x", 0);
    put_s(q, "y", 0);
    lp_queue_item it;
    for (int attempt = 1; attempt <= 2; attempt++) {
        cr_assert_eq(lp_queue_get(q, &it, 0), 0);
        cr_expect_str_eq(it.data.data, "x");
        cr_expect_eq(it.attempts, (unsigned)attempt);
        cr_assert_eq(lp_queue_release(q, it.id, true), 0);
        lp_queue_item_free(&it);
    }
    /* a lost lease counts too: the blocked get takes y again when its 1 ms lease ends; at the
     * second loss y is dead, and a get finds nothing */
    cr_assert_eq(lp_queue_get(q, &it, 0), 0);
    cr_expect_str_eq(it.data.data, "y");
    cr_assert_eq(lp_queue_touch(q, it.id, 1), 0);
    lp_queue_item_free(&it);
    cr_assert_eq(lp_queue_get(q, &it, 5000), 0);
    cr_expect_str_eq(it.data.data, "y");
    cr_expect_eq(it.attempts, 2);
    cr_assert_eq(lp_queue_touch(q, it.id, 1), 0);
    lp_queue_item_free(&it);
    cr_expect_eq(lp_queue_get(q, &it, 300), -ETIMEDOUT);
    put_s(q, "z", 0);
    lp_queue_stats st;
    cr_assert_eq(lp_queue_stat(q, &st), 0);
    cr_expect_eq(st.dead, 2);
    cr_expect_eq(st.waiting, 1);
    cr_expect_eq(st.inflight, 0);
    lp_queue_item *items;
    size_t n;
    cr_assert_eq(lp_queue_dead(q, 10, &items, &n), 0);
    cr_assert_eq(n, 2);
    cr_expect_str_eq(items[0].data.data, "x");
    cr_expect_str_eq(items[1].data.data, "y");
    cr_expect_eq(items[0].attempts, 2);
    lp_queue_items_free(items, n);
    cr_assert_eq(lp_queue_dead(q, 1, &items, &n), 0);
    cr_expect_eq(n, 1);
    lp_queue_items_free(items, n);
    cr_expect_str_eq(get_ack(q), "z");
    cr_expect_eq(lp_queue_get(q, &it, 0), -ETIMEDOUT);
    lp_queue_free(q);
}

/* A producer killed with SIGKILL at some point of its puts (small items, and items of 256 KiB
 * whose write takes a while): every put it was told about is there, whole, and nothing else
 * but perhaps the one under way, whole too. */
static void durability(const char *db, size_t total, size_t size)
{
    char sz[32];
    snprintf(sz, sizeof sz, "%zu", size);
    lp_proc *p = tool4(U(db, NULL), "produce", "0", "0", sz);
    long last = -1;
    for (size_t k = 0; k < total; k++) {
        const char *l = tool_line(p);
        cr_assert_eq(atol(l), last + 1, "line '%s'", l);
        last++;
    }
    cr_assert_eq(lp_proc_kill(p, SIGKILL), 0);
    for (const char *l; *(l = tool_line(p));) /* puts acknowledged before the kill */
        last = atol(l);
    cr_expect_eq(tool_end(p), -SIGKILL);
    lp_queue *q = open_q(U(db, NULL), NULL);
    size_t n;
    cr_assert_eq(lp_queue_len(q, &n), 0);
    cr_expect(n == (size_t)last + 1 || n == (size_t)last + 2, "%zu items, last acknowledged %ld",
              n, last);
    for (size_t i = 0; i < n; i++) {
        lp_queue_item it;
        cr_assert_eq(lp_queue_get(q, &it, 0), 0);
        cr_assert_eq(it.data.len, size);
        uint32_t v;
        memcpy(&v, it.data.data, 4);
        cr_expect_eq(v, i);
        for (size_t k = 4; k < size; k++)
            if (it.data.data[k] != (char)('a' + (v + k) % 26))
                cr_assert_fail("item %u: byte %zu is wrong", v, k);
        cr_assert_eq(lp_queue_ack(q, it.id), 0);
        lp_queue_item_free(&it);
    }
    lp_queue_free(q);
    no_zombies();
}

Test(queue_file, durability_kill)
{
    durability("k.db", test_count("LPQ_ITEMS", 300, 50), 4);
    durability("k2.db", test_count("LPQ_ITEMS", 40, 10), 256 * 1024);
}

Test(queue_file, file_mode_and_no_create)
{
    mode_t old = umask(0);
    lp_queue *q = open_q(U("mode.db", NULL), NULL);
    put_s(q, "x", 0);
    umask(old);
    char path[400];
    struct stat sb;
    snprintf(path, sizeof path, "%s/mode.db", dir);
    cr_assert_eq(stat(path, &sb), 0);
    cr_expect_eq(sb.st_mode & 0777, 0600, "mode %o", sb.st_mode & 0777);
    snprintf(path, sizeof path, "%s/mode.db-wal", dir);
    cr_assert_eq(stat(path, &sb), 0);
    cr_expect_eq(sb.st_mode & 0777, 0600, "wal mode %o", sb.st_mode & 0777);
    lp_queue_free(q);
    lp_queue_opts nc = {.no_create = true};
    cr_expect_eq(lp_queue_open(&q, U("missing.db", NULL), &nc), -ENOENT);
    cr_expect_null(q);
    snprintf(path, sizeof path, "%s/missing.db", dir);
    cr_expect_neq(access(path, F_OK), 0, "no_create made the file");
    cr_expect_eq(lp_queue_open(&q, U("mode.db", "nope"), &nc), -ENOENT);
    cr_expect_neq(strstr(lp_queue_errmsg(), "nope"), NULL, "%s", lp_queue_errmsg());
    q = open_q(U("mode.db", NULL), &nc);
    cr_expect_str_eq(get_ack(q), "x");
    lp_queue_free(q);
}

Test(queue_file, errors)
{
    lp_queue *q;
    cr_expect_eq(lp_queue_open(&q, "file:/proc/nonexistent/x.db", NULL), -ENOENT);
    cr_expect_str_eq(lp_queue_errmsg(), "file:/proc/nonexistent/x.db: unable to open database file");
    int r = lp_queue_open(&q, U("", NULL), NULL); /* the directory itself */
    cr_expect_lt(r, 0);
    cr_expect_null(q);
    cr_expect_neq(strstr(lp_queue_errmsg(), dir), NULL, "%s", lp_queue_errmsg());
    cr_expect_eq(lp_queue_open(&q, "file:", NULL), -EINVAL);
    cr_expect_eq(lp_queue_open(&q, "file:#x", NULL), -EINVAL);
    cr_expect_eq(lp_queue_open(&q, U("e.db", ""), NULL), -EINVAL);
    /* a file that is not a database */
    char path[400];
    snprintf(path, sizeof path, "%s/junk.db", dir);
    FILE *f = fopen(path, "w");
    cr_assert(f);
    for (int i = 0; i < 200; i++)
        fputs("this is not an SQLite database\n", f);
    fclose(f);
    r = lp_queue_open(&q, U("junk.db", NULL), NULL);
    cr_expect_lt(r, 0);
    cr_expect_neq(strstr(lp_queue_errmsg(), "junk.db"), NULL, "%s", lp_queue_errmsg());
}

/* 2 producers and 2 consumers in 4 processes: every item exactly once. */
Test(queue_file, producers_consumers)
{
    int fds = count_fds();
    size_t per = test_count("LPQ_ITEMS", 500, 100);
    char n1[32], n2[32];
    snprintf(n1, sizeof n1, "%zu", per);
    snprintf(n2, sizeof n2, "%zu", 2 * per);
    lp_queue *q = open_q(U("pc.db", NULL), NULL);
    lp_proc *prod[2] = {tool(U("pc.db", NULL), "produce", "0", n1),
                        tool(U("pc.db", NULL), "produce", n1, n1)};
    lp_proc *cons[2] = {tool(U("pc.db", NULL), "consume", NULL, NULL),
                        tool(U("pc.db", NULL), "consume", NULL, NULL)};
    for (int k = 0; k < 2; k++) {
        free(read_all(lp_proc_fd(prod[k], 1), NULL));
        cr_expect_eq(tool_end(prod[k]), 0);
    }
    /* once the producers are done, close: the consumers take what is left, then stop */
    cr_assert_eq(lp_queue_close(q), 0);
    unsigned char *seen = calloc(2 * per, 1);
    size_t got = 0;
    for (int k = 0; k < 2; k++) {
        size_t len;
        char *out = read_all(lp_proc_fd(cons[k], 1), &len);
        cr_expect_eq(tool_end(cons[k]), 0);
        cr_assert_eq(len % 4, 0);
        for (size_t i = 0; i < len; i += 4) {
            uint32_t v;
            memcpy(&v, out + i, 4);
            cr_assert_lt(v, 2 * per);
            cr_expect_eq(seen[v], 0, "item %u twice", v);
            seen[v] = 1;
            got++;
        }
        free(out);
    }
    cr_expect_eq(got, 2 * per);
    free(seen);
    lp_queue_stats st;
    cr_assert_eq(lp_queue_stat(q, &st), 0);
    cr_expect_eq(st.waiting + st.inflight + st.dead, 0);
    lp_queue_free(q);
    cr_expect_eq(count_fds(), fds);
    no_zombies();
}

static off_t file_size(const char *name)
{
    char path[400];
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &sb) == 0 ? sb.st_size : -1;
}

/* A process killed in the middle of a write transaction (its uncommitted pages already in the
 * WAL, the write lock held): nothing of it is seen, and the others go on at once. */
Test(queue_file, kill_in_transaction)
{
    lp_queue *q = open_q(U("tx.db", NULL), NULL);
    put_s(q, "before1", 0);
    put_s(q, "before2", 0);
    off_t wal0 = file_size("tx.db-wal");
    cr_assert_gt(wal0, 0);
    char db[400];
    snprintf(db, sizeof db, "%s/tx.db", dir);
    char *argv[] = {(char *)helper("lp-sqlhold"), db, "default", "400", NULL};
    lp_proc *p;
    cr_assert_eq(lp_spawn(&p, &(lp_spawn_opts){.argv = argv, .out = LP_PIPE}), 0);
    char line[32] = {0};
    ssize_t n = read(lp_proc_fd(p, 1), line, sizeof line - 1);
    cr_assert_gt(n, 0);
    cr_assert_str_eq(line, "holding\n");
    cr_expect_gt(file_size("tx.db-wal"), wal0 + 400 * 4096 / 2, "the transaction did not spill");
    cr_assert_eq(lp_proc_kill(p, SIGKILL), 0);
    int rc;
    cr_assert_eq(lp_proc_wait(p, -1, &rc), 0);
    cr_expect_eq(rc, -SIGKILL);
    lp_proc_free(p);
    /* the handle opened before goes on (the lock died with the holder), and so does a new one */
    double t0 = now_s();
    put_s(q, "after", 0);
    cr_expect_lt(now_s() - t0, 2.0);
    lp_queue_free(q);
    q = open_q(U("tx.db", NULL), NULL);
    size_t len;
    cr_assert_eq(lp_queue_len(q, &len), 0);
    cr_expect_eq(len, 3);
    cr_expect_str_eq(get_ack(q), "before1");
    cr_expect_str_eq(get_ack(q), "before2");
    cr_expect_str_eq(get_ack(q), "after");
    lp_queue_free(q);
}

Test(queue_file, wait_interrupt)
{
    lp_queue *q = open_q(U("i.db", NULL), &(lp_queue_opts){.max_items = 1});
    int p[2];
    cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
    cr_assert_eq(write(p[1], "x", 1), 1);
    lp_set_wait_interrupt(p[0]);
    lp_queue_item it;
    double t0 = now_s();
    cr_expect_eq(lp_queue_get(q, &it, 5000), -EINTR);
    put_s(q, "x", 0);
    cr_expect_eq(lp_queue_put(q, "y", 1, 0, 5000), -EINTR);
    cr_expect_lt(now_s() - t0, 2.0);
    /* an item there is returned without waiting */
    cr_expect_eq(lp_queue_get(q, &it, 5000), 0);
    lp_queue_item_free(&it);
    lp_set_wait_interrupt(-1);
    lp_queue_free(q);
    close(p[0]);
    close(p[1]);
}

/* One handle shared by threads: 2 putters, 2 getters (blocking), every item exactly once. */
struct thr {
    lp_queue *q;
    int k;
    size_t per;
    unsigned char *seen;
    pthread_mutex_t *mu;
    int err;
};

static void *thr_main(void *arg)
{
    struct thr *t = arg;
    if (t->k < 2) {
        for (size_t i = 0; i < t->per; i++) {
            uint32_t v = (uint32_t)(t->k * t->per + i);
            if (lp_queue_put(t->q, &v, sizeof v, 0, -1) < 0)
                t->err = 1;
        }
        return NULL;
    }
    for (;;) {
        lp_queue_item it;
        int r = lp_queue_get(t->q, &it, -1);
        if (r == LP_ECLOSED)
            break;
        if (r < 0 || it.data.len != 4) {
            t->err = 2;
            break;
        }
        uint32_t v;
        memcpy(&v, it.data.data, 4);
        if (lp_queue_ack(t->q, it.id) < 0)
            t->err = 3;
        pthread_mutex_lock(t->mu);
        if (v >= 2 * t->per || t->seen[v]++)
            t->err = 4;
        pthread_mutex_unlock(t->mu);
        lp_queue_item_free(&it);
    }
    return NULL;
}

Test(queue_file, threads_share_a_handle)
{
    size_t per = test_count("LPQ_ITEMS", 300, 30);
    lp_queue *q = open_q(U("th.db", NULL), NULL);
    unsigned char *seen = calloc(2 * per, 1);
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    struct thr t[4];
    pthread_t th[4];
    for (int k = 0; k < 4; k++) {
        t[k] = (struct thr){.q = q, .k = k, .per = per, .seen = seen, .mu = &mu};
        cr_assert_eq(pthread_create(&th[k], NULL, thr_main, &t[k]), 0);
    }
    pthread_join(th[0], NULL);
    pthread_join(th[1], NULL);
    cr_assert_eq(lp_queue_close(q), 0);
    pthread_join(th[2], NULL);
    pthread_join(th[3], NULL);
    for (int k = 0; k < 4; k++)
        cr_expect_eq(t[k].err, 0, "thread %d: error %d", k, t[k].err);
    for (size_t i = 0; i < 2 * per; i++)
        cr_expect_eq(seen[i], 1, "item %zu seen %d times", i, seen[i]);
    free(seen);
    lp_queue_free(q);
}

/* Processes creating one new database at the same time (the switch to WAL and the schema). */
Test(queue_file, concurrent_creation)
{
    enum { N = 6 };
    lp_proc *p[N];
    char qn[N][8];
    for (int k = 0; k < N; k++) {
        snprintf(qn[k], sizeof qn[k], "q%d", k);
        p[k] = tool(U("new.db", qn[k]), "put", "x", NULL);
    }
    for (int k = 0; k < N; k++) {
        cr_expect_str_eq(tool_line(p[k]), "put 0");
        cr_expect_eq(tool_end(p[k]), 0);
    }
    char **names;
    size_t n;
    cr_assert_eq(lp_queue_list(U("new.db", NULL), &names, &n), 0);
    cr_expect_eq(n, N);
    for (size_t k = 0; k < n && k < N; k++)
        cr_expect_str_eq(names[k], qn[k]);
    lp_queue_names_free(names);
    no_zombies();
}
