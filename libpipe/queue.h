/* Internals shared by the queue front end (queue.c) and its stores (queue_mem.c, queue_shm.c,
 * queue_sqlite.c, queue_redis.c).  Not installed.
 *
 * queue.c parses the URI, picks the store, and forwards every call through the store's
 * operations table; it does the argument checks common to all stores, so a store's function is
 * only called with q != NULL and valid pointers.  Timeouts reach the stores as deadlines
 * (lp__deadline: -1 forever, else CLOCK_MONOTONIC ns).  Stores report errors as negative errno
 * or LP_ECLOSED, and put their detail text with lp__queue_seterr (the thread's message). */
#ifndef LIBPIPE_QUEUE_H
#define LIBPIPE_QUEUE_H

#include "internal.h"

struct lp__queue_ops {
    const char *scheme; /* "mem", "shm", "file", "redis" */
    /* `rest` is the URI after "scheme:" (for redis the whole URI is also in `uri`).  o is never
     * NULL (zeroed defaults filled in: lease_ms, max_attempts, shm_bytes). */
    int (*open)(lp_queue **q, const char *uri, const char *rest, const lp_queue_opts *o);
    int (*put)(lp_queue *q, const void *data, size_t n, int priority, lp_deadline d);
    int (*get)(lp_queue *q, lp_queue_item *it, lp_deadline d);
    int (*ack)(lp_queue *q, uint64_t id);                 /* NULL: no-op store (mem, shm) */
    int (*release)(lp_queue *q, uint64_t id, bool failed);/* NULL: no-op store           */
    int (*touch)(lp_queue *q, uint64_t id, int lease_ms); /* NULL: no-op store           */
    int (*stat)(lp_queue *q, lp_queue_stats *s);
    /* dead = false: waiting items in get order; true: dead letters.  NULL dead: none. */
    int (*peek)(lp_queue *q, bool dead, size_t max, lp_queue_item **items, size_t *n);
    int (*close)(lp_queue *q);
    void (*free)(lp_queue *q);
    int (*remove)(const char *uri, const char *rest);
    int (*list)(const char *uri, const char *rest, char ***names, size_t *n);
};

/* Every store's queue struct begins with this header. */
struct lp_queue {
    const struct lp__queue_ops *ops;
};

LP_HIDDEN extern const struct lp__queue_ops lp__queue_mem_ops, lp__queue_shm_ops, lp__queue_file_ops,
    lp__queue_redis_ops;

/* Set the thread's lp_queue_errmsg text (printf format); returns err so a store can write
 * `return lp__queue_seterr(-EINVAL, "bad queue name '%s'", name);`. */
LP_HIDDEN int lp__queue_seterr(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Fill an item: copies n bytes into it->data.  0 or -ENOMEM. */
LP_HIDDEN int lp__queue_item_set(lp_queue_item *it, const void *data, size_t n, uint64_t id, int priority,
                       unsigned attempts);

/* Build a NULL-terminated names array from a list (helpers for ->list).  *names grows by one;
 * 0 or -ENOMEM. */
LP_HIDDEN int lp__queue_names_add(char ***names, size_t *n, const char *name);

/* The identity of this process as a lease holder: "HOSTNAME:PID:STARTTIME" (STARTTIME from
 * /proc/self/stat, so a reused pid is not mistaken for the holder).  Never NULL. */
LP_HIDDEN const char *lp__queue_holder(void);
/* Is a holder string (as made by lp__queue_holder) a process of this machine that is gone?
 * false when it is alive, of another machine, or unparseable. */
LP_HIDDEN bool lp__queue_holder_dead(const char *holder);

#endif
