/* The redis:// queue store against a real redis-server that each test starts on a free loopback
 * port (in a temporary directory, append-only file fsynced always) and stops at its end.  When
 * redis-server cannot be started the tests fail. */
#include "redisutil.h"

#include <arpa/inet.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

static struct srv S;

static int fds_at_start;

static void setup(void)
{
    srv_start(&S);
    fds_at_start = count_fds();
}

static void teardown(void)
{
    srv_stop(&S);
    int z;
    count_children(&z);
    cr_expect_eq(z, 0, "zombie children left");
}

TestSuite(queue_redis, .init = setup, .fini = teardown, .timeout = 60);

static const char *uri_at(int port, const char *userinfo, const char *name)
{
    static _Thread_local char b[4][256];
    static _Thread_local int k;
    char *u = b[k++ % 4];
    snprintf(u, sizeof b[0], "redis://%s127.0.0.1:%d/%s", userinfo ? userinfo : "", port, name);
    return u;
}

static const char *uri(const char *name)
{
    return uri_at(S.port, NULL, name);
}

static lp_queue *open_q(const char *name, const lp_queue_opts *o)
{
    lp_queue *q;
    int rc = lp_queue_open(&q, uri(name), o);
    cr_assert_eq(rc, 0, "open %s: %d %s", name, rc, lp_queue_errmsg());
    return q;
}

/* Wait until n clients of the server are blocked (in BLPOP). */
static void wait_blocked(int n)
{
    double t0 = now_s();
    for (;;) {
        char *r = rcmd(S.port, S.pass, "INFO clients");
        cr_assert(r);
        const char *b = strstr(r, "blocked_clients:");
        cr_assert(b);
        int have = atoi(b + 16);
        free(r);
        if (have >= n)
            return;
        cr_assert_lt(now_s() - t0, 30.0, "no %d blocked clients", n);
        nap(2);
    }
}

static void put_s(lp_queue *q, const char *s, int prio)
{
    int rc = lp_queue_put(q, s, strlen(s), prio, 0);
    cr_assert_eq(rc, 0, "put %s: %d %s", s, rc, lp_queue_errmsg());
}

/* Get with timeout: the item's text must be want. */
static uint64_t get_s(lp_queue *q, const char *want, int timeout_ms)
{
    lp_queue_item it;
    int rc = lp_queue_get(q, &it, timeout_ms);
    cr_assert_eq(rc, 0, "get (want %s): %d %s", want, rc, lp_queue_errmsg());
    cr_assert_str_eq(it.data.data, want);
    uint64_t id = it.id;
    cr_assert_neq(id, 0);
    lp_queue_item_free(&it);
    return id;
}

Test(queue_redis, order)
{
    static const int prios[] = {5, -3, 5, INT_MAX, INT_MIN, 0, -3};
    const size_t n = sizeof prios / sizeof prios[0];
    static const char *const want[3][7] = {
        {"i0", "i1", "i2", "i3", "i4", "i5", "i6"},
        {"i6", "i5", "i4", "i3", "i2", "i1", "i0"},
        {"i4", "i1", "i6", "i5", "i0", "i2", "i3"},
    };
    for (int ord = 0; ord < 3; ord++) {
        /* sequence numbers from 1, past 2^32, and past 10^14 (where Lua's %.14g of a number
         * would lose digits) */
        static const char *const seeds[] = {NULL, "4294967294", "99999999999998"};
        for (int big = 0; big < 3; big++) {
            char name[32];
            snprintf(name, sizeof name, "ord%d-%d", ord, big);
            lp_queue_opts o = {.order = (lp_queue_order)ord};
            lp_queue *q = open_q(name, &o);
            if (seeds[big]) {
                char cmd[128];
                snprintf(cmd, sizeof cmd, "HSET lpq:{%s}:meta seq %s claimseq %s", name, seeds[big], seeds[big]);
                char *r = rcmd(S.port, NULL, cmd);
                cr_assert(r);
                cr_assert_str_eq(r, ":0");
                free(r);
            }
            for (size_t i = 0; i < n; i++) {
                char s[8];
                snprintf(s, sizeof s, "i%zu", i);
                put_s(q, s, prios[i]);
            }
            lp_queue_item *items;
            size_t cnt;
            cr_assert_eq(lp_queue_peek(q, 100, &items, &cnt), 0);
            cr_assert_eq(cnt, n);
            for (size_t i = 0; i < n; i++)
                cr_assert_str_eq(items[i].data.data, want[ord][i], "order %d peek %zu", ord, i);
            lp_queue_items_free(items, cnt);
            lp_queue_stats st;
            cr_assert_eq(lp_queue_stat(q, &st), 0);
            cr_assert_eq(st.order, (lp_queue_order)ord);
            cr_assert_eq(st.waiting, n);
            for (size_t i = 0; i < n; i++) {
                lp_queue_item it;
                cr_assert_eq(lp_queue_get(q, &it, 0), 0);
                cr_assert_str_eq(it.data.data, want[ord][i], "order %d get %zu", ord, i);
                cr_assert_eq(it.attempts, 1);
                cr_assert_eq(lp_queue_ack(q, it.id), 0);
                lp_queue_item_free(&it);
            }
            lp_queue_free(q);
        }
    }
    /* an existing queue keeps its order */
    lp_queue_opts o = {.order = LP_QUEUE_FIFO};
    lp_queue *q = open_q("ord1-0", &o);
    lp_queue_stats st;
    cr_assert_eq(lp_queue_stat(q, &st), 0);
    cr_assert_eq(st.order, LP_QUEUE_LIFO);
    lp_queue_free(q);
}

Test(queue_redis, binary_data)
{
    lp_queue *q = open_q("bin", NULL);
    size_t big = test_count("LP_QUEUE_BIG", 1 << 20, 1 << 16);
    unsigned char *b = malloc(big);
    for (size_t i = 0; i < big; i++)
        b[i] = (unsigned char)(i * 7 + (i >> 8));
    static const char small[] = "a\0b\r\n\xff\0";
    cr_assert_eq(lp_queue_put(q, small, sizeof small, 0, 0), 0);
    cr_assert_eq(lp_queue_put(q, b, big, 0, 0), 0);
    cr_assert_eq(lp_queue_put(q, NULL, 0, 0, 0), 0);
    lp_queue_item it;
    cr_assert_eq(lp_queue_get(q, &it, 0), 0);
    cr_assert_eq(it.data.len, sizeof small);
    cr_assert_eq(memcmp(it.data.data, small, sizeof small), 0);
    cr_assert_eq(it.data.data[it.data.len], 0);
    lp_queue_item_free(&it);
    cr_assert_eq(lp_queue_get(q, &it, 0), 0);
    cr_assert_eq(it.data.len, big);
    cr_assert_eq(memcmp(it.data.data, b, big), 0);
    lp_queue_item_free(&it);
    cr_assert_eq(lp_queue_get(q, &it, 0), 0);
    cr_assert_eq(it.data.len, 0);
    cr_assert_eq(it.data.data[0], 0);
    lp_queue_item_free(&it);
    free(b);
    lp_queue_free(q);
}

/* A child that opens name and gets one item (timeout_ms), writes "rc:text" to fd, acks.  It
 * frees the parent's handle first (valgrind checks the child's leaks when it exits). */
static pid_t child_get(lp_queue *parent, const char *name, int timeout_ms, int fd)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        lp_queue_free(parent);
        lp_queue *q;
        int rc = lp_queue_open(&q, uri(name), NULL);
        lp_queue_item it = {0};
        if (rc == 0)
            rc = lp_queue_get(q, &it, timeout_ms);
        char out[256];
        int n = snprintf(out, sizeof out, "%d:%s", rc, rc == 0 ? it.data.data : lp_queue_errmsg());
        if (rc == 0)
            lp_queue_ack(q, it.id);
        lp_queue_item_free(&it);
        lp_queue_free(q);
        if (write(fd, out, (size_t)n) != n)
            _exit(2);
        _exit(0);
    }
    return pid;
}

static void reap(pid_t pid)
{
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %d", st);
}

Test(queue_redis, blocking_get_across_processes)
{
    lp_queue *q = open_q("xp", NULL);
    int pf[2];
    cr_assert_eq(pipe2(pf, O_CLOEXEC), 0);
    double t0 = now_s();
    pid_t pid = child_get(q, "xp", 20000, pf[1]);
    close(pf[1]);
    wait_blocked(1);
    put_s(q, "hello", 0);
    char *out = read_all(pf[0], NULL);
    close(pf[0]);
    reap(pid);
    cr_assert_str_eq(out, "0:hello");
    free(out);
    cr_assert_lt(now_s() - t0, 15.0);
    lp_queue_stats st;
    cr_assert_eq(lp_queue_stat(q, &st), 0);
    cr_assert_eq(st.waiting + st.inflight, 0);
    lp_queue_free(q);
}

Test(queue_redis, get_timeout)
{
    lp_queue *q = open_q("to", NULL);
    lp_queue_item it;
    double t0 = now_s();
    cr_assert_eq(lp_queue_get(q, &it, 0), -ETIMEDOUT);
    cr_assert_eq(lp_queue_get(q, &it, 300), -ETIMEDOUT);
    double dt = now_s() - t0;
    cr_assert_geq(dt, 0.29);
    cr_assert_lt(dt, 5.0);
    lp_queue_free(q);
}

Test(queue_redis, bound)
{
    lp_queue_opts o = {.max_items = 2};
    lp_queue *q = open_q("bound", &o);
    put_s(q, "a", 0);
    put_s(q, "b", 0);
    cr_assert_eq(lp_queue_put(q, "c", 1, 0, 0), -ETIMEDOUT);
    double t0 = now_s();
    cr_assert_eq(lp_queue_put(q, "c", 1, 0, 200), -ETIMEDOUT);
    cr_assert_geq(now_s() - t0, 0.19);
    uint64_t id = get_s(q, "a", 0);
    /* claimed, not acked: still counts */
    cr_assert_eq(lp_queue_put(q, "c", 1, 0, 0), -ETIMEDOUT);
    lp_queue_stats st;
    cr_assert_eq(lp_queue_stat(q, &st), 0);
    cr_assert_eq(st.max_items, 2);
    cr_assert_eq(st.waiting, 1);
    cr_assert_eq(st.inflight, 1);
    /* a putter in another process blocks until the ack */
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        lp_queue_free(q);
        lp_queue *cq;
        if (lp_queue_open(&cq, uri("bound"), NULL) != 0)
            _exit(3);
        int rc = lp_queue_put(cq, "c", 1, 0, 20000);
        lp_queue_free(cq);
        _exit(rc == 0 ? 0 : 4);
    }
    wait_blocked(1);
    cr_assert_eq(lp_queue_ack(q, id), 0);
    reap(pid);
    get_s(q, "b", 0);
    get_s(q, "c", 0);
    lp_queue_free(q);
}

Test(queue_redis, close_wakes_getters)
{
    lp_queue *q = open_q("cl", NULL);
    int pf[2][2];
    pid_t pid[2];
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(pipe2(pf[i], O_CLOEXEC), 0);
        pid[i] = child_get(q, "cl", 20000, pf[i][1]);
        close(pf[i][1]);
    }
    wait_blocked(2);
    cr_assert_eq(lp_queue_close(q), 0);
    for (int i = 0; i < 2; i++) {
        char *out = read_all(pf[i][0], NULL);
        close(pf[i][0]);
        reap(pid[i]);
        char want[16];
        snprintf(want, sizeof want, "%d:", LP_ECLOSED);
        cr_assert_eq(strncmp(out, want, strlen(want)), 0, "child %d: %s", i, out);
        free(out);
    }
    cr_assert_eq(lp_queue_put(q, "x", 1, 0, 0), LP_ECLOSED);
    lp_queue_stats st;
    cr_assert_eq(lp_queue_stat(q, &st), 0);
    cr_assert(st.closed);
    lp_queue_item it;
    cr_assert_eq(lp_queue_get(q, &it, 1000), LP_ECLOSED);
    lp_queue_free(q);

    /* what is left is still delivered after close */
    q = open_q("cl2", NULL);
    put_s(q, "left", 0);
    cr_assert_eq(lp_queue_close(q), 0);
    get_s(q, "left", 0);
    cr_assert_eq(lp_queue_get(q, &it, -1), LP_ECLOSED);
    lp_queue_free(q);
}

Test(queue_redis, ack_release_touch)
{
    lp_queue *q = open_q("art", NULL);
    put_s(q, "a", 0);
    put_s(q, "b", 0);
    lp_queue_item it;
    cr_assert_eq(lp_queue_get(q, &it, 0), 0);
    cr_assert_str_eq(it.data.data, "a");
    cr_assert_eq(it.attempts, 1);
    uint64_t id1 = it.id;
    lp_queue_item_free(&it);
    cr_assert_eq(lp_queue_touch(q, id1, 0), 0);
    cr_assert_eq(lp_queue_touch(q, id1, 60000), 0);
    cr_assert_eq(lp_queue_release(q, id1, false), 0);
    cr_assert_eq(lp_queue_release(q, id1, false), -ENOENT);
    cr_assert(strstr(lp_queue_errmsg(), "claim"), "%s", lp_queue_errmsg());
    cr_assert_eq(lp_queue_ack(q, id1), -ENOENT);
    cr_assert_eq(lp_queue_touch(q, id1, 0), -ENOENT);
    /* back at its place, uncounted */
    cr_assert_eq(lp_queue_get(q, &it, 0), 0);
    cr_assert_str_eq(it.data.data, "a");
    cr_assert_eq(it.attempts, 1);
    uint64_t id2 = it.id;
    cr_assert_neq(id2, id1);
    lp_queue_item_free(&it);
    cr_assert_eq(lp_queue_release(q, id2, true), 0);
    cr_assert_eq(lp_queue_get(q, &it, 0), 0);
    cr_assert_str_eq(it.data.data, "a");
    cr_assert_eq(it.attempts, 2);
    uint64_t id3 = it.id;
    lp_queue_item_free(&it);
    lp_queue_stats st;
    cr_assert_eq(lp_queue_stat(q, &st), 0);
    cr_assert_eq(st.waiting, 1);
    cr_assert_eq(st.inflight, 1);
    cr_assert_eq(lp_queue_ack(q, id3), 0);
    cr_assert_eq(lp_queue_ack(q, id3), -ENOENT);
    cr_assert_eq(lp_queue_stat(q, &st), 0);
    cr_assert_eq(st.waiting, 1);
    cr_assert_eq(st.inflight, 0);
    cr_assert_eq(st.dead, 0);
    get_s(q, "b", 0);
    lp_queue_free(q);
}

Test(queue_redis, lease_expiry)
{
    int lease = under_valgrind() ? 1500 : 400;
    lp_queue_opts o = {.lease_ms = lease};
    lp_queue *q = open_q("lease", &o);
    put_s(q, "x", 0);
    double t0 = now_s();
    uint64_t id1 = get_s(q, "x", 0);
    lp_queue_item it;
    cr_assert_eq(lp_queue_get(q, &it, 0), -ETIMEDOUT); /* not before the lease ends */
    cr_assert_lt(now_s() - t0, lease / 1000.0, "too slow to tell");
    cr_assert_eq(lp_queue_get(q, &it, 20000), 0);
    double dt = now_s() - t0;
    cr_assert_geq(dt, lease / 1000.0 * 0.9, "delivered again after %.3f s", dt);
    cr_assert_lt(dt, lease / 1000.0 + 5);
    cr_assert_str_eq(it.data.data, "x");
    cr_assert_eq(it.attempts, 2);
    cr_assert_eq(lp_queue_ack(q, id1), -ENOENT);
    /* a touched claim lives on */
    cr_assert_eq(lp_queue_touch(q, it.id, 60000), 0);
    lp_queue_item_free(&it);
    cr_assert_eq(lp_queue_get(q, &it, 0), -ETIMEDOUT);
    lp_queue_stats st;
    cr_assert_eq(lp_queue_stat(q, &st), 0);
    cr_assert_eq(st.inflight, 1);
    lp_queue_free(q);
}

Test(queue_redis, dead_holder)
{
    lp_queue *q = open_q("holder", NULL);
    put_s(q, "job", 0);
    int pf[2];
    cr_assert_eq(pipe2(pf, O_CLOEXEC), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        lp_queue_free(q);
        lp_queue *cq;
        lp_queue_item it;
        if (lp_queue_open(&cq, uri("holder"), NULL) != 0 || lp_queue_get(cq, &it, 5000) != 0)
            _exit(3);
        if (write(pf[1], "g", 1) != 1)
            _exit(4);
        for (;;)
            pause();
    }
    close(pf[1]);
    char c;
    cr_assert_eq(read(pf[0], &c, 1), 1);
    close(pf[0]);
    lp_queue_item it;
    cr_assert_eq(lp_queue_get(q, &it, 0), -ETIMEDOUT); /* the holder is alive */
    kill(pid, SIGKILL);
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    double t0 = now_s();
    cr_assert_eq(lp_queue_get(q, &it, 0), 0, "%s", lp_queue_errmsg());
    cr_assert_lt(now_s() - t0, 2.0);
    cr_assert_str_eq(it.data.data, "job");
    cr_assert_eq(it.attempts, 2);
    cr_assert_eq(lp_queue_ack(q, it.id), 0);
    lp_queue_item_free(&it);
    lp_queue_free(q);
}

Test(queue_redis, blocked_get_sees_holder_die)
{
    lp_queue *q = open_q("holder2", NULL);
    put_s(q, "job", 0);
    int pf[2];
    cr_assert_eq(pipe2(pf, O_CLOEXEC), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        lp_queue_free(q);
        lp_queue *cq;
        lp_queue_item it;
        if (lp_queue_open(&cq, uri("holder2"), NULL) != 0 || lp_queue_get(cq, &it, 5000) != 0)
            _exit(3);
        if (write(pf[1], "g", 1) != 1)
            _exit(4);
        for (;;)
            pause();
    }
    close(pf[1]);
    char c;
    cr_assert_eq(read(pf[0], &c, 1), 1);
    close(pf[0]);
    /* a blocked get notices the holder's death without a lease expiry (5 min) */
    int kp = fork();
    cr_assert_geq(kp, 0);
    if (kp == 0) {
        lp_queue_free(q);
        wait_blocked(1);
        kill(pid, SIGKILL);
        _exit(0);
    }
    lp_queue_item it;
    cr_assert_eq(lp_queue_get(q, &it, 20000), 0, "%s", lp_queue_errmsg());
    cr_assert_str_eq(it.data.data, "job");
    lp_queue_item_free(&it);
    reap(kp);
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    lp_queue_free(q);
}

Test(queue_redis, dead_letters)
{
    lp_queue_opts o = {.max_attempts = 2, .lease_ms = 60000};
    lp_queue *q = open_q("dl", &o);
    put_s(q, "bad", 7);
    put_s(q, "good", 0);
    uint64_t id = get_s(q, "bad", 0);
    cr_assert_eq(lp_queue_release(q, id, true), 0);
    id = get_s(q, "bad", 0);
    cr_assert_eq(lp_queue_release(q, id, true), 0);
    lp_queue_stats st;
    cr_assert_eq(lp_queue_stat(q, &st), 0);
    cr_assert_eq(st.dead, 1);
    cr_assert_eq(st.waiting, 1);
    lp_queue_item *items;
    size_t n;
    cr_assert_eq(lp_queue_dead(q, 10, &items, &n), 0);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(items[0].data.data, "bad");
    cr_assert_eq(items[0].attempts, 2);
    cr_assert_eq(items[0].priority, 7);
    lp_queue_items_free(items, n);
    id = get_s(q, "good", 0);
    cr_assert_eq(lp_queue_ack(q, id), 0);
    lp_queue_item it;
    cr_assert_eq(lp_queue_get(q, &it, 0), -ETIMEDOUT);
    lp_queue_free(q);

    /* a lost lease is a failed attempt too: with max_attempts 1 the item goes to the dead */
    lp_queue_opts o1 = {.max_attempts = 1, .lease_ms = 200};
    q = open_q("dl1", &o1);
    put_s(q, "slow", 0);
    id = get_s(q, "slow", 0);
    /* this get waits past the lease's end (it wakes for it) and finds nothing */
    cr_assert_eq(lp_queue_get(q, &it, 1500), -ETIMEDOUT);
    cr_assert_eq(lp_queue_stat(q, &st), 0);
    cr_assert_eq(st.dead, 1);
    cr_assert_eq(st.inflight, 0);
    cr_assert_eq(st.waiting, 0);
    cr_assert_eq(lp_queue_ack(q, id), -ENOENT);
    lp_queue_free(q);
}

Test(queue_redis, password)
{
    struct srv p = {.pass = "s3cr%t"};
    srv_start(&p);
    char what[64];
    lp_queue *q;
    int rc = lp_queue_open(&q, uri_at(p.port, ":s3cr%25t@", "pw"), NULL);
    cr_assert_eq(rc, 0, "%d %s", rc, lp_queue_errmsg());
    put_s(q, "secret", 0);
    get_s(q, "secret", 0);
    lp_queue_free(q);
    snprintf(what, sizeof what, "127.0.0.1:%d", p.port);
    rc = lp_queue_open(&q, uri_at(p.port, ":wrong@", "pw"), NULL);
    cr_assert_eq(rc, -EACCES);
    cr_assert(strstr(lp_queue_errmsg(), what), "%s", lp_queue_errmsg());
    cr_assert(strstr(lp_queue_errmsg(), "AUTH"), "%s", lp_queue_errmsg());
    rc = lp_queue_open(&q, uri_at(p.port, NULL, "pw"), NULL);
    cr_assert_eq(rc, -EACCES);
    cr_assert(strstr(lp_queue_errmsg(), "NOAUTH"), "%s", lp_queue_errmsg());
    srv_stop(&p);
}

Test(queue_redis, server_restart)
{
    lp_queue_opts o = {.lease_ms = under_valgrind() ? 3000 : 1000};
    lp_queue *q = open_q("rs", &o);
    for (int i = 0; i < 10; i++) {
        char s[8];
        snprintf(s, sizeof s, "r%d", i);
        put_s(q, s, 0);
    }
    for (int i = 0; i < 3; i++) {
        char s[8];
        snprintf(s, sizeof s, "r%d", i);
        cr_assert_eq(lp_queue_ack(q, get_s(q, s, 0)), 0);
    }
    get_s(q, "r3", 0); /* claimed, never acked */
    get_s(q, "r4", 0);
    srv_kill(&S, SIGKILL);
    lp_queue_item it;
    int rc = lp_queue_get(q, &it, 0);
    cr_assert(rc == -EIO || rc == -ECONNREFUSED, "rc %d", rc);
    cr_assert(strstr(lp_queue_errmsg(), "127.0.0.1"), "%s", lp_queue_errmsg());
    srv_start(&S);
    /* the old handle connects again */
    lp_queue_stats st;
    cr_assert_eq(lp_queue_stat(q, &st), 0, "%s", lp_queue_errmsg());
    cr_assert_eq(st.waiting + st.inflight, 7);
    lp_queue_free(q);
    q = open_q("rs", &o);
    bool seen[10] = {0};
    for (int i = 0; i < 7; i++) {
        rc = lp_queue_get(q, &it, 20000);
        cr_assert_eq(rc, 0, "%s", lp_queue_errmsg());
        int k = atoi(it.data.data + 1);
        cr_assert(k >= 3 && k < 10 && !seen[k], "%s", it.data.data);
        seen[k] = true;
        cr_assert_eq(lp_queue_ack(q, it.id), 0);
        lp_queue_item_free(&it);
    }
    cr_assert_eq(lp_queue_get(q, &it, 0), -ETIMEDOUT);
    lp_queue_free(q);
}

Test(queue_redis, connection_refused)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0); /* bound, never listening */
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    int port = ntohs(a.sin_port);
    lp_queue *q;
    cr_assert_eq(lp_queue_open(&q, uri_at(port, NULL, "x"), NULL), -ECONNREFUSED);
    char what[64];
    snprintf(what, sizeof what, "127.0.0.1:%d", port);
    cr_assert(strstr(lp_queue_errmsg(), what), "%s", lp_queue_errmsg());
    char **names;
    size_t n;
    cr_assert_eq(lp_queue_list(uri_at(port, NULL, ""), &names, &n), -ECONNREFUSED);
    cr_assert_eq(lp_queue_remove(uri_at(port, NULL, "x")), -ECONNREFUSED);
    close(fd);
}

Test(queue_redis, bad_uris)
{
    static const char *const bad[] = {"redis:", "redis:/x", "redis://", "redis:///q", "redis://h:0/q",
                                      "redis://h:70000/q", "redis://h:12x/q", "redis://h/", "redis://h/a{b}",
                                      "redis://h/a%zz", "redis://pass@h/q", "redis://[::1/q"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        lp_queue *q;
        cr_assert_eq(lp_queue_open(&q, bad[i], NULL), -EINVAL, "%s", bad[i]);
        cr_assert(strstr(lp_queue_errmsg(), bad[i]), "%s: %s", bad[i], lp_queue_errmsg());
    }
}

Test(queue_redis, list_remove_no_create)
{
    lp_queue *q;
    lp_queue_opts nc = {.no_create = true};
    cr_assert_eq(lp_queue_open(&q, uri("la"), &nc), -ENOENT);
    lp_queue *a = open_q("la", NULL), *b = open_q("lb%2Fx", NULL);
    put_s(a, "1", 0);
    cr_assert_eq(lp_queue_open(&q, uri("la"), &nc), 0);
    lp_queue_free(q);
    char **names;
    size_t n;
    cr_assert_eq(lp_queue_list(uri(""), &names, &n), 0, "%s", lp_queue_errmsg());
    cr_assert_eq(n, 2);
    bool la = false, lb = false;
    for (size_t i = 0; i < n; i++) {
        la |= strcmp(names[i], "la") == 0;
        lb |= strcmp(names[i], "lb/x") == 0;
    }
    cr_assert(la && lb);
    cr_assert_null(names[n]);
    lp_queue_names_free(names);
    cr_assert_eq(lp_queue_remove(uri("la")), 0);
    cr_assert_eq(lp_queue_remove(uri("la")), -ENOENT);
    cr_assert_eq(lp_queue_put(a, "2", 1, 0, 0), -ENOENT); /* a handle on a removed queue */
    cr_assert_eq(lp_queue_list(uri(""), &names, &n), 0);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(names[0], "lb/x");
    lp_queue_names_free(names);
    char *keys = rcmd(S.port, NULL, "EXISTS lpq:{la}:meta lpq:{la}:items lpq:{la}:ready lpq:{la}:attr");
    cr_assert(keys);
    cr_assert_str_eq(keys, ":0");
    lp_queue_free(a);
    free(keys);
    /* a getter blocked on a queue that is removed wakes with -ENOENT */
    int pf[2];
    cr_assert_eq(pipe2(pf, O_CLOEXEC), 0);
    pid_t pid = child_get(b, "lb%2Fx", 20000, pf[1]);
    close(pf[1]);
    wait_blocked(1);
    cr_assert_eq(lp_queue_remove(uri("lb%2Fx")), 0);
    char *out = read_all(pf[0], NULL);
    close(pf[0]);
    reap(pid);
    char want[16];
    snprintf(want, sizeof want, "%d:", -ENOENT);
    cr_assert_eq(strncmp(out, want, strlen(want)), 0, "%s", out);
    free(out);
    lp_queue_free(b);
}

static void *interrupter(void *arg)
{
    wait_blocked(1);
    cr_assert_eq(write(*(int *)arg, "x", 1), 1);
    return NULL;
}

Test(queue_redis, interrupt)
{
    lp_queue *q = open_q("intr", NULL);
    int pf[2];
    cr_assert_eq(pipe2(pf, O_CLOEXEC), 0);
    lp_set_wait_interrupt(pf[0]);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, interrupter, &pf[1]), 0);
    lp_queue_item it;
    cr_assert_eq(lp_queue_get(q, &it, 20000), -EINTR);
    pthread_join(t, NULL);
    lp_set_wait_interrupt(-1);
    put_s(q, "after", 0);
    get_s(q, "after", 1000);
    /* a putter waiting for room: the descriptor already readable */
    lp_queue_opts o = {.max_items = 1};
    lp_queue *b = open_q("intr-bound", &o);
    put_s(b, "full", 0);
    lp_set_wait_interrupt(pf[0]);
    double t0 = now_s();
    cr_assert_eq(lp_queue_put(b, "more", 4, 0, 20000), -EINTR);
    cr_assert_lt(now_s() - t0, 10.0);
    lp_set_wait_interrupt(-1);
    lp_queue_free(b);
    close(pf[0]);
    close(pf[1]);
    lp_queue_free(q);
}

/* 2 producers and 2 consumers (processes): every item exactly once. */
Test(queue_redis, producers_consumers)
{
    size_t per = test_count("LP_QUEUE_N", 200, 20);
    lp_queue *q = open_q("pc", NULL);
    pid_t prod[2], cons[2];
    char files[2][128];
    for (int i = 0; i < 2; i++) {
        snprintf(files[i], sizeof files[i], "%s/cons%d", S.dir, i);
        cons[i] = fork();
        cr_assert_geq(cons[i], 0);
        if (cons[i] == 0) {
            lp_queue_free(q);
            FILE *f = fopen(files[i], "w");
            lp_queue *cq;
            if (!f || lp_queue_open(&cq, uri("pc"), NULL) != 0)
                _exit(3);
            lp_queue_item it;
            int rc;
            while ((rc = lp_queue_get(cq, &it, 30000)) == 0) {
                fprintf(f, "%s\n", it.data.data);
                if (lp_queue_ack(cq, it.id) != 0)
                    _exit(4);
                lp_queue_item_free(&it);
            }
            lp_queue_free(cq);
            fclose(f);
            _exit(rc == LP_ECLOSED ? 0 : 5);
        }
    }
    for (int i = 0; i < 2; i++) {
        prod[i] = fork();
        cr_assert_geq(prod[i], 0);
        if (prod[i] == 0) {
            lp_queue_free(q);
            lp_queue *pq;
            if (lp_queue_open(&pq, uri("pc"), NULL) != 0)
                _exit(3);
            for (size_t k = 0; k < per; k++) {
                char s[32];
                int n = snprintf(s, sizeof s, "%d-%zu", i, k);
                if (lp_queue_put(pq, s, (size_t)n, 0, 10000) != 0)
                    _exit(4);
            }
            lp_queue_free(pq);
            _exit(0);
        }
    }
    for (int i = 0; i < 2; i++)
        reap(prod[i]);
    /* everything put: close when it has all been taken */
    lp_queue_stats st;
    double t0 = now_s();
    for (;;) {
        cr_assert_eq(lp_queue_stat(q, &st), 0);
        if (st.waiting == 0 && st.inflight == 0)
            break;
        cr_assert_lt(now_s() - t0, 60.0);
        nap(5);
    }
    cr_assert_eq(lp_queue_close(q), 0);
    for (int i = 0; i < 2; i++)
        reap(cons[i]);
    unsigned char *seen = calloc(2 * per, 1);
    size_t total = 0;
    for (int i = 0; i < 2; i++) {
        FILE *f = fopen(files[i], "r");
        cr_assert(f);
        int p;
        size_t k;
        while (fscanf(f, "%d-%zu\n", &p, &k) == 2) {
            cr_assert(p >= 0 && p < 2 && k < per);
            cr_assert_eq(seen[(size_t)p * per + k]++, 0, "%d-%zu twice", p, k);
            total++;
        }
        fclose(f);
    }
    cr_assert_eq(total, 2 * per);
    free(seen);
    lp_queue_free(q);
}

Test(queue_redis, no_fd_leak_cloexec)
{
    int before = count_fds();
    bool had[1024];
    for (int fd = 0; fd < 1024; fd++)
        had[fd] = fcntl(fd, F_GETFD) >= 0;
    lp_queue *q = open_q("fd", NULL);
    put_s(q, "a", 0);
    lp_queue_item it;
    get_s(q, "a", 0);
    cr_assert_eq(lp_queue_get(q, &it, 50), -ETIMEDOUT); /* a blocking connection too */
    for (int fd = 3; fd < 1024; fd++) {
        int fl = fcntl(fd, F_GETFD);
        if (fl >= 0 && !had[fd])
            cr_assert(fl & FD_CLOEXEC, "fd %d without FD_CLOEXEC", fd);
    }
    cr_assert_gt(count_fds(), before);
    lp_queue_free(q);
    cr_assert_eq(count_fds(), before);
    cr_assert_eq(count_fds(), fds_at_start);
}

struct thr_arg {
    lp_queue *q;
    int rc;
    char got[16];
};

static void *thr_get(void *p)
{
    struct thr_arg *a = p;
    lp_queue_item it;
    a->rc = lp_queue_get(a->q, &it, 20000);
    if (a->rc == 0) {
        snprintf(a->got, sizeof a->got, "%s", it.data.data);
        a->rc = lp_queue_ack(a->q, it.id);
        lp_queue_item_free(&it);
    }
    return NULL;
}

Test(queue_redis, threads_share_a_handle)
{
    lp_queue *q = open_q("thr", NULL);
    struct thr_arg a[2] = {{.q = q}, {.q = q}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, thr_get, &a[i]), 0);
    wait_blocked(2); /* both blocked: the handle still serves this thread */
    lp_queue_stats st;
    cr_assert_eq(lp_queue_stat(q, &st), 0);
    cr_assert_eq(st.waiting, 0);
    put_s(q, "one", 0);
    put_s(q, "two", 0);
    for (int i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
        cr_assert_eq(a[i].rc, 0);
    }
    cr_assert(strcmp(a[0].got, a[1].got) != 0);
    cr_assert(!strcmp(a[0].got, "one") || !strcmp(a[0].got, "two"));
    cr_assert(!strcmp(a[1].got, "one") || !strcmp(a[1].got, "two"));
    lp_queue_free(q);
}

/* Figures: puts/s and get+ack pairs/s from one process (printed).  The server fsyncs once a
 * second here (LP_QUEUE_FSYNC=always: at every write, as in the other tests; then the figures
 * are the disk's). */
Test(queue_redis, throughput)
{
    size_t n = test_count("LP_QUEUE_BENCH", 2000, 50);
    const char *fs = getenv("LP_QUEUE_FSYNC");
    char cmd[64];
    snprintf(cmd, sizeof cmd, "CONFIG SET appendfsync %s", fs && *fs ? fs : "everysec");
    char *r = rcmd(S.port, NULL, cmd);
    cr_assert(r);
    cr_assert_str_eq(r, "+OK");
    free(r);
    lp_queue *q = open_q("bench", NULL);
    char item[64];
    memset(item, 'x', sizeof item);
    double t0 = now_s();
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(lp_queue_put(q, item, sizeof item, 0, 0), 0);
    double t1 = now_s();
    lp_queue_item it = {0};
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(lp_queue_get(q, &it, 0), 0);
        cr_assert_eq(lp_queue_ack(q, it.id), 0);
        lp_queue_item_free(&it);
    }
    double t2 = now_s();
    lp_queue_item_free(&it);
    fprintf(stderr, "redis queue (appendfsync %s): %.0f puts/s, %.0f get+ack/s (%zu items of 64 bytes)\n",
            fs && *fs ? fs : "everysec", n / (t1 - t0), n / (t2 - t1), n);
    cr_assert_lt(t2 - t0, 60.0);
    lp_queue_free(q);
}

/* The server drops the connections (as after a network failure): the next calls connect again. */
Test(queue_redis, reconnect)
{
    lp_queue *q = open_q("rc", NULL);
    put_s(q, "a", 0);
    lp_queue_item it;
    cr_assert_eq(lp_queue_get(q, &it, 50), 0); /* a pooled blocking connection is made too */
    cr_assert_eq(lp_queue_ack(q, it.id), 0);
    lp_queue_item_free(&it);
    cr_assert_eq(lp_queue_get(q, &it, 50), -ETIMEDOUT);
    char *r = rcmd(S.port, NULL, "CLIENT KILL TYPE normal");
    cr_assert(r && r[0] == ':' && atoi(r + 1) >= 2, "%s", r ? r : "(null)");
    free(r);
    put_s(q, "b", 0);
    get_s(q, "b", 0);
    /* a big write into a connection the server closed: EPIPE, not a SIGPIPE that kills us */
    size_t big = test_count("LP_QUEUE_BIG", 4 << 20, 1 << 20);
    char *b = calloc(1, big);
    for (int round = 0; round < 3; round++) {
        r = rcmd(S.port, NULL, "CLIENT KILL TYPE normal");
        free(r);
        cr_assert_eq(lp_queue_put(q, b, big, 0, 0), 0, "%s", lp_queue_errmsg());
        cr_assert_eq(lp_queue_get(q, &it, 0), 0);
        cr_assert_eq(it.data.len, big);
        cr_assert_eq(lp_queue_ack(q, it.id), 0);
        lp_queue_item_free(&it);
    }
    free(b);
    r = rcmd(S.port, NULL, "CLIENT KILL TYPE normal");
    free(r);
    /* a blocking get whose pooled connection is gone */
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        lp_queue_free(q);
        lp_queue *pq;
        if (lp_queue_open(&pq, uri("rc"), NULL) != 0)
            _exit(3);
        wait_blocked(1);
        int rc = lp_queue_put(pq, "c", 1, 0, 0);
        lp_queue_free(pq);
        _exit(rc == 0 ? 0 : 4);
    }
    cr_assert_eq(lp_queue_get(q, &it, 20000), 0, "%s", lp_queue_errmsg());
    cr_assert_str_eq(it.data.data, "c");
    lp_queue_item_free(&it);
    reap(pid);
    lp_queue_free(q);
}

struct mt_arg {
    lp_queue *q;
    size_t got;
    unsigned char *seen;
    pthread_mutex_t *mu;
    int rc;
};

static void *mt_getter(void *p)
{
    struct mt_arg *a = p;
    lp_queue_item it;
    while ((a->rc = lp_queue_get(a->q, &it, 20000)) == 0) {
        size_t k = strtoul(it.data.data, NULL, 10);
        pthread_mutex_lock(a->mu);
        a->seen[k]++;
        pthread_mutex_unlock(a->mu);
        a->got++;
        a->rc = lp_queue_ack(a->q, it.id);
        lp_queue_item_free(&it);
        if (a->rc != 0)
            break;
    }
    return NULL;
}

/* Four threads getting from one handle while this one puts: every item exactly once. */
Test(queue_redis, threads_many_items)
{
    size_t n = test_count("LP_QUEUE_N", 400, 40);
    lp_queue *q = open_q("mt", NULL);
    unsigned char *seen = calloc(n, 1);
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    struct mt_arg a[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (struct mt_arg){.q = q, .seen = seen, .mu = &mu};
        cr_assert_eq(pthread_create(&t[i], NULL, mt_getter, &a[i]), 0);
    }
    for (size_t k = 0; k < n; k++) {
        char s[32];
        snprintf(s, sizeof s, "%zu", k);
        put_s(q, s, 0);
    }
    /* everything taken and acked, then close: the getters end with LP_ECLOSED */
    double t0 = now_s();
    for (;;) {
        lp_queue_stats st;
        cr_assert_eq(lp_queue_stat(q, &st), 0);
        if (st.waiting == 0 && st.inflight == 0)
            break;
        cr_assert_lt(now_s() - t0, 60.0);
        nap(5);
    }
    cr_assert_eq(lp_queue_close(q), 0);
    size_t total = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        cr_assert_eq(a[i].rc, LP_ECLOSED, "thread %d: %d", i, a[i].rc);
        total += a[i].got;
    }
    cr_assert_eq(total, n);
    for (size_t k = 0; k < n; k++)
        cr_assert_eq(seen[k], 1, "item %zu seen %d times", k, seen[k]);
    free(seen);
    lp_queue_free(q);
}
