/* The queue API: URI parsing, the checks common to all stores, and dispatch to the store
 * (queue_mem.c, queue_shm.c, queue_sqlite.c, queue_redis.c).  See libpipe.h "Queues". */
#include "queue.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static _Thread_local char q_errmsg[LP_ERRMSG_MAX];

int lp__queue_seterr(int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(q_errmsg, sizeof q_errmsg, fmt, ap);
    va_end(ap);
    return err;
}

const char *lp_queue_errmsg(void)
{
    return q_errmsg;
}

static const struct lp__queue_ops *const stores[] = {
    &lp__queue_mem_ops, &lp__queue_shm_ops, &lp__queue_file_ops, &lp__queue_redis_ops,
};

/* The store of uri and the part after "scheme:". */
static const struct lp__queue_ops *store_of(const char *uri, const char **rest)
{
    if (!uri)
        return NULL;
    const char *colon = strchr(uri, ':');
    if (!colon)
        return NULL;
    size_t len = (size_t)(colon - uri);
    for (size_t i = 0; i < sizeof stores / sizeof stores[0]; i++)
        if (strlen(stores[i]->scheme) == len && memcmp(stores[i]->scheme, uri, len) == 0) {
            *rest = colon + 1;
            return stores[i];
        }
    return NULL;
}

static int bad_uri(const char *uri)
{
    return lp__queue_seterr(-EINVAL,
                            "bad queue URI '%s' (expected mem:, shm:NAME, file:PATH[#QUEUE] or "
                            "redis://[:PASSWORD@]HOST[:PORT]/NAME)",
                            uri ? uri : "(null)");
}

int lp_queue_open(lp_queue **q, const char *uri, const lp_queue_opts *o)
{
    q_errmsg[0] = 0;
    if (!q)
        return -EINVAL;
    *q = NULL;
    const char *rest;
    const struct lp__queue_ops *ops = store_of(uri, &rest);
    if (!ops)
        return bad_uri(uri);
    lp_queue_opts d = o ? *o : (lp_queue_opts){0};
    if ((unsigned)d.order > LP_QUEUE_PRIORITY)
        return lp__queue_seterr(-EINVAL, "bad queue order %d", (int)d.order);
    if (d.lease_ms < 0)
        return lp__queue_seterr(-EINVAL, "bad lease %d ms", d.lease_ms);
    if (d.lease_ms == 0)
        d.lease_ms = 300000;
    if (d.max_attempts == 0)
        d.max_attempts = 3;
    if (d.shm_bytes == 0)
        d.shm_bytes = (size_t)1 << 20;
    int rc = ops->open(q, uri, rest, &d);
    if (rc == 0)
        (*q)->ops = ops;
    else
        *q = NULL;
    return rc;
}

int lp_queue_put(lp_queue *q, const void *data, size_t n, int priority, int timeout_ms)
{
    q_errmsg[0] = 0;
    if (!q || (!data && n))
        return -EINVAL;
    return q->ops->put(q, n ? data : "", n, priority, lp__deadline(timeout_ms));
}

int lp_queue_get(lp_queue *q, lp_queue_item *it, int timeout_ms)
{
    q_errmsg[0] = 0;
    if (!q || !it)
        return -EINVAL;
    *it = (lp_queue_item){0};
    return q->ops->get(q, it, lp__deadline(timeout_ms));
}

int lp_queue_ack(lp_queue *q, uint64_t id)
{
    q_errmsg[0] = 0;
    if (!q)
        return -EINVAL;
    return q->ops->ack ? q->ops->ack(q, id) : 0;
}

int lp_queue_release(lp_queue *q, uint64_t id, bool failed)
{
    q_errmsg[0] = 0;
    if (!q)
        return -EINVAL;
    return q->ops->release ? q->ops->release(q, id, failed) : 0;
}

int lp_queue_touch(lp_queue *q, uint64_t id, int lease_ms)
{
    q_errmsg[0] = 0;
    if (!q || lease_ms < 0)
        return -EINVAL;
    return q->ops->touch ? q->ops->touch(q, id, lease_ms) : 0;
}

int lp_queue_stat(lp_queue *q, lp_queue_stats *s)
{
    q_errmsg[0] = 0;
    if (!q || !s)
        return -EINVAL;
    *s = (lp_queue_stats){0};
    return q->ops->stat(q, s);
}

int lp_queue_len(lp_queue *q, size_t *n)
{
    lp_queue_stats s;
    if (!n)
        return -EINVAL;
    int rc = lp_queue_stat(q, &s);
    *n = rc == 0 ? s.waiting : 0;
    return rc;
}

static int peek(lp_queue *q, bool dead, size_t max, lp_queue_item **items, size_t *n)
{
    q_errmsg[0] = 0;
    if (!q || !items || !n)
        return -EINVAL;
    *items = NULL;
    *n = 0;
    if (max == 0 || (dead && !q->ops->peek))
        return 0;
    return q->ops->peek(q, dead, max, items, n);
}

int lp_queue_peek(lp_queue *q, size_t max, lp_queue_item **items, size_t *n)
{
    return peek(q, false, max, items, n);
}

int lp_queue_dead(lp_queue *q, size_t max, lp_queue_item **items, size_t *n)
{
    return peek(q, true, max, items, n);
}

int lp_queue_close(lp_queue *q)
{
    q_errmsg[0] = 0;
    if (!q)
        return -EINVAL;
    return q->ops->close(q);
}

void lp_queue_free(lp_queue *q)
{
    if (q)
        q->ops->free(q);
}

int lp_queue_remove(const char *uri)
{
    q_errmsg[0] = 0;
    const char *rest;
    const struct lp__queue_ops *ops = store_of(uri, &rest);
    if (!ops)
        return bad_uri(uri);
    if (!ops->remove)
        return lp__queue_seterr(-EINVAL, "a %s: queue cannot be removed by name", ops->scheme);
    return ops->remove(uri, rest);
}

int lp_queue_list(const char *uri, char ***names, size_t *n)
{
    q_errmsg[0] = 0;
    if (!names || !n)
        return -EINVAL;
    *names = NULL;
    *n = 0;
    const char *rest;
    const struct lp__queue_ops *ops = store_of(uri, &rest);
    if (!ops)
        return bad_uri(uri);
    int rc = ops->list ? ops->list(uri, rest, names, n) : 0;
    if (rc == 0 && !*names)
        rc = lp__queue_names_add(names, n, NULL) ; /* an empty NULL-terminated array */
    if (rc < 0) {
        lp_queue_names_free(*names);
        *names = NULL;
        *n = 0;
    }
    return rc;
}

void lp_queue_names_free(char **names)
{
    if (!names)
        return;
    for (char **p = names; *p; p++)
        free(*p);
    free(names);
}

int lp__queue_names_add(char ***names, size_t *n, const char *name)
{
    char **nv = realloc(*names, (*n + 2) * sizeof *nv);
    if (!nv)
        return -ENOMEM;
    *names = nv;
    nv[*n] = NULL;
    if (!name)
        return 0;
    char *copy = strdup(name);
    if (!copy)
        return -ENOMEM;
    nv[(*n)++] = copy;
    nv[*n] = NULL;
    return 0;
}

void lp_queue_item_free(lp_queue_item *it)
{
    if (!it)
        return;
    lp_buf_free(&it->data);
    *it = (lp_queue_item){0};
}

void lp_queue_items_free(lp_queue_item *items, size_t n)
{
    for (size_t i = 0; items && i < n; i++)
        lp_buf_free(&items[i].data);
    free(items);
}

int lp__queue_item_set(lp_queue_item *it, const void *data, size_t n, uint64_t id, int priority,
                       unsigned attempts)
{
    it->data.len = 0;
    if (lp_buf_append(&it->data, data, n) < 0 || lp__buf_reserve(&it->data, 1) < 0)
        return -ENOMEM;
    it->data.data[n] = 0;
    it->id = id;
    it->priority = priority;
    it->attempts = attempts;
    return 0;
}

/* Start time of a process (field 22 of /proc/PID/stat, clock ticks since boot); 0 if gone. */
static unsigned long long start_time(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = 0;
    const char *p = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
    unsigned long long t = 0;
    if (!p || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X') /* a zombie is gone for our purposes */
        return 0;
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d "
                           "%*d %*d %llu", &t) != 1)
        t = 0;
    return t;
}

static void host_name(char *buf, size_t len)
{
    if (gethostname(buf, len) < 0)
        snprintf(buf, len, "localhost");
    buf[len - 1] = 0;
}

const char *lp__queue_holder(void)
{
    /* Not cached: a forked child is another holder. */
    static _Thread_local char id[320];
    char host[256];
    host_name(host, sizeof host);
    pid_t pid = getpid();
    snprintf(id, sizeof id, "%s:%d:%llu", host, (int)pid, start_time(pid));
    return id;
}

bool lp__queue_holder_dead(const char *holder)
{
    if (!holder)
        return false;
    const char *c2 = strrchr(holder, ':');
    if (!c2 || c2 == holder)
        return false;
    const char *c1 = c2 - 1;
    while (c1 > holder && *c1 != ':')
        c1--;
    if (*c1 != ':')
        return false;
    char host[256];
    host_name(host, sizeof host);
    if ((size_t)(c1 - holder) != strlen(host) || memcmp(holder, host, strlen(host)) != 0)
        return false;
    char *end;
    long pid = strtol(c1 + 1, &end, 10);
    if (end != c2 || pid <= 0)
        return false;
    unsigned long long want = strtoull(c2 + 1, &end, 10);
    if (*end)
        return false;
    unsigned long long now = start_time((pid_t)pid);
    return now == 0 || now != want; /* gone, or the pid now names another process */
}
