/* The file: queue store: file:PATH[#QUEUE], an SQLite database in WAL mode holding any number of
 * named queues (QUEUE default "default"; PATH ends at the first '#', as a URI's path does, so a
 * queue name may hold '#').  See libpipe.h "Queues" for the contract.
 *
 * Tables (prefixed lpq_ so that they can share a database with other data):
 *   lpq_meta(k, v)          'claim': the last claim id handed out (claim ids are unique in the
 *                           database for ever, so a stale ack after a re-delivery fails)
 *   lpq_queues(name, ord, max_items, closed, created)   order and bound fixed at creation
 *   lpq_items(id, queue, priority, pkey, data, attempts, state, claim_id, holder, lease_until,
 *             died_at)
 *       id is the rowid: a new row gets one more than the largest, so id is the item's place in
 *       line, and an item that goes back to the queue keeps it.  pkey is the priority in a
 *       PRIORITY queue, else 0, so that one index (queue, state, pkey, id) serves every order
 *       (FIFO and PRIORITY: pkey, id; LIFO: pkey DESC, id DESC).  state: 0 ready; 1 claimed
 *       (claim_id, holder "HOST:PID:START" from lp__queue_holder, lease_until in CLOCK_REALTIME
 *       ms, comparable between processes); 2 dead (died_at, CLOCK_REALTIME ms, orders them).
 *
 * Every operation is one short BEGIN IMMEDIATE transaction (get = reclaim + pick + claim; ack =
 * one DELETE), on one connection per handle guarded by the handle's mutex (a handle may be
 * shared by threads), with its statements prepared once.  Reclaim, at each get, stat and peek,
 * and at a put that finds a bounded queue full: claims whose lease ended, or whose holder
 * lp__queue_holder_dead says is gone, go back to their place (or to the dead letters once
 * attempts >= max_attempts).
 *
 * Blocking without polling.  A get that finds nothing (or a put that finds the queue full)
 * waits in poll() for the first of:
 *   - a change to the database by any process: inotify on the database's directory, for writes
 *     to DB-wal (every commit in WAL mode appends frames to it with write(2)) and to DB itself
 *     (checkpoints).  Each waiting call makes its own inotify instance, only when it has to
 *     wait (threads sharing a handle do not take each other's events); the watch is made
 *     before an attempt and drained before each next one, so no commit can slip between an
 *     attempt and the wait.  The event comes when the writer writes its frames, before its
 *     commit is visible; the attempt's BEGIN IMMEDIATE waits for the writer's lock, so it sees
 *     the commit (a read-only look, which does not wait, could miss it and sleep on).  An
 *     attempt that finds nothing changes nothing, so it writes no frames and waiters do not
 *     wake each other.  Any commit wakes every waiter on the database (whatever the queue),
 *     which looks again: one short transaction.
 *   - the earliest lease_until among the queue's claimed items (the item then goes back);
 *   - the death of a claim holder on this machine: a pidfd (pidfd_open) per holder process, so
 *     a get wakes and reclaims the moment a worker is killed;
 *   - the deadline, and the thread's lp_set_wait_interrupt fd (-EINTR).
 * Where inotify or pidfds are unavailable (or LIBPIPE_NO_PIDFD=1) the wait is capped instead
 * (250 ms without inotify, 1 s while holders cannot be watched).
 */
#include "queue.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

#define BUSY_TIMEOUT_MS 30000
#define MAX_WATCH 16          /* holder processes watched with pidfds in one wait */
#define HOLDER_MAX 320

enum {
    S_BEGIN, S_COMMIT, S_ROLLBACK,
    S_QROW, S_QADD, S_LIVE,
    S_PUT,
    S_RECLAIM, S_HOLDERS,
    S_NEXT_FIFO, S_NEXT_LIFO, S_NEXT_PRIO,
    S_CLAIMID, S_CLAIM,
    S_ACK, S_RELEASE, S_TOUCH,
    S_STAT,
    S_PEEK_FIFO, S_PEEK_LIFO, S_PEEK_PRIO, S_PEEK_DEAD,
    S_CLOSE,
    S_N
};

static const char *const sql[S_N] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_QROW] = "SELECT ord, max_items, closed FROM lpq_queues WHERE name = ?1",
    [S_QADD] = "INSERT OR IGNORE INTO lpq_queues(name, ord, max_items, closed, created) "
               "VALUES(?1, ?2, ?3, 0, ?4)",
    [S_LIVE] = "SELECT count(*) FROM lpq_items WHERE queue = ?1 AND state < 2",
    [S_PUT] = "INSERT INTO lpq_items(queue, priority, pkey, data, attempts, state) "
              "VALUES(?1, ?2, ?4, ?3, 0, 0)",
    /* claimed items whose lease ended before ?2, or whose holder is ?3: back, or dead */
    [S_RECLAIM] = "UPDATE lpq_items SET state = CASE WHEN attempts >= ?4 THEN 2 ELSE 0 END, "
                  "died_at = CASE WHEN attempts >= ?4 THEN ?5 END, "
                  "claim_id = NULL, holder = NULL, lease_until = NULL "
                  "WHERE queue = ?1 AND state = 1 AND (lease_until <= ?2 OR holder = ?3)",
    [S_HOLDERS] = "SELECT holder, min(lease_until) FROM lpq_items WHERE queue = ?1 AND state = 1 "
                  "GROUP BY holder",
    [S_NEXT_FIFO] = "SELECT id, priority, attempts, data FROM lpq_items "
                    "WHERE queue = ?1 AND state = 0 ORDER BY pkey, id LIMIT 1",
    [S_NEXT_LIFO] = "SELECT id, priority, attempts, data FROM lpq_items "
                    "WHERE queue = ?1 AND state = 0 ORDER BY pkey DESC, id DESC LIMIT 1",
    [S_NEXT_PRIO] = "SELECT id, priority, attempts, data FROM lpq_items "
                    "WHERE queue = ?1 AND state = 0 ORDER BY pkey, id LIMIT 1",
    [S_CLAIMID] = "UPDATE lpq_meta SET v = v + 1 WHERE k = 'claim' RETURNING v",
    [S_CLAIM] = "UPDATE lpq_items SET state = 1, attempts = attempts + 1, claim_id = ?2, "
                "holder = ?3, lease_until = ?4 WHERE id = ?1",
    /* ack, release, touch: only a claim whose lease has not ended (?7 now), as the redis store:
     * an ended lease means the item may already be on its way to another worker */
    [S_ACK] = "DELETE FROM lpq_items WHERE claim_id = ?1 AND state = 1 AND queue = ?2 "
              "AND lease_until > ?7",
    /* ?3 failed, ?4 max_attempts, ?5 now (every expression sees the row before the update) */
    [S_RELEASE] = "UPDATE lpq_items SET "
                  "state = CASE WHEN ?3 AND attempts >= ?4 THEN 2 ELSE 0 END, "
                  "died_at = CASE WHEN ?3 AND attempts >= ?4 THEN ?5 END, "
                  "attempts = CASE WHEN ?3 THEN attempts ELSE max(attempts - 1, 0) END, "
                  "claim_id = NULL, holder = NULL, lease_until = NULL "
                  "WHERE claim_id = ?1 AND state = 1 AND queue = ?2 AND lease_until > ?7",
    [S_TOUCH] = "UPDATE lpq_items SET lease_until = ?3 WHERE claim_id = ?1 AND state = 1 AND queue = ?2 "
                "AND lease_until > ?7",
    [S_STAT] = "SELECT state, count(*) FROM lpq_items WHERE queue = ?1 GROUP BY state",
    [S_PEEK_FIFO] = "SELECT id, priority, attempts, data FROM lpq_items "
                    "WHERE queue = ?1 AND state = 0 ORDER BY pkey, id LIMIT ?2",
    [S_PEEK_LIFO] = "SELECT id, priority, attempts, data FROM lpq_items "
                    "WHERE queue = ?1 AND state = 0 ORDER BY pkey DESC, id DESC LIMIT ?2",
    [S_PEEK_PRIO] = "SELECT id, priority, attempts, data FROM lpq_items "
                    "WHERE queue = ?1 AND state = 0 ORDER BY pkey, id LIMIT ?2",
    [S_PEEK_DEAD] = "SELECT id, priority, attempts, data FROM lpq_items "
                    "WHERE queue = ?1 AND state = 2 ORDER BY died_at, id LIMIT ?2",
    [S_CLOSE] = "UPDATE lpq_queues SET closed = 1 WHERE name = ?1",
};

static const char schema[] =
    "BEGIN IMMEDIATE;"
    "CREATE TABLE IF NOT EXISTS lpq_meta(k TEXT PRIMARY KEY, v INTEGER NOT NULL);"
    "INSERT OR IGNORE INTO lpq_meta VALUES('claim', 0);"
    "INSERT OR IGNORE INTO lpq_meta VALUES('version', 1);"
    "CREATE TABLE IF NOT EXISTS lpq_queues(name TEXT PRIMARY KEY, ord INTEGER NOT NULL,"
    " max_items INTEGER NOT NULL, closed INTEGER NOT NULL DEFAULT 0, created INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS lpq_items(id INTEGER PRIMARY KEY, queue TEXT NOT NULL,"
    " priority INTEGER NOT NULL DEFAULT 0, pkey INTEGER NOT NULL DEFAULT 0, data BLOB NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
    " state INTEGER NOT NULL DEFAULT 0, claim_id INTEGER, holder TEXT, lease_until INTEGER,"
    " died_at INTEGER);"
    "CREATE INDEX IF NOT EXISTS lpq_items_order ON lpq_items(queue, state, pkey, id);"
    "CREATE UNIQUE INDEX IF NOT EXISTS lpq_items_claim ON lpq_items(claim_id)"
    " WHERE claim_id IS NOT NULL;";

struct fq {
    struct lp_queue base;
    pthread_mutex_t mu;
    sqlite3 *db;
    sqlite3_stmt *st[S_N];
    char *path;  /* the database file as given */
    char *dir;   /* its directory (for inotify) */
    char *file;  /* its file name */
    char *name;  /* the queue */
    lp_queue_order order;
    size_t max_items;
    int lease_ms;
    unsigned max_attempts;
    bool no_create;
    int64_t busy_start;
    pid_t holder_pid; /* holder was made in this process (a forked child makes its own) */
    char holder[HOLDER_MAX];
    size_t host_len;  /* length of the host part of holder */
};

/* What a waiter watches: the earliest lease end and the claim holders on this machine. */
struct waitinfo {
    int64_t lease_min; /* CLOCK_REALTIME ms, -1 none */
    int n;
    bool more;         /* holders left out (wait capped) */
    pid_t pid[MAX_WATCH];
    char holder[MAX_WATCH][HOLDER_MAX];
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- errors ---------------------------------------------------------------------------- */

/* SQLite's busy handler, called while another connection holds the write lock: it sleeps
 * 1, 2, 5... 100 ms, far longer than our transactions last (tens of microseconds), so workers
 * sharing a queue would mostly sleep.  Here: 50 us at first, growing to 5 ms, up to
 * BUSY_TIMEOUT_MS in all; the thread's lp_set_wait_interrupt fd ends it at once. */
static bool nap(long us) /* false: interrupted */
{
    struct timespec ts = {0, us * 1000};
    int fd = lp__wait_interrupt_fd();
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    return ppoll(&pf, fd >= 0 ? 1 : 0, &ts, NULL) <= 0;
}

static int busy_wait(void *arg, int n)
{
    int64_t *start = arg, now = lp__now_ns();
    if (n == 0)
        *start = now;
    if (now - *start > (int64_t)BUSY_TIMEOUT_MS * 1000000)
        return 0;
    return nap(n < 10 ? 50 : n < 20 ? 200 : n < 40 ? 1000 : 5000);
}

static int errno_of(sqlite3 *db, int rc)
{
    switch (rc & 0xff) {
    case SQLITE_NOMEM:
        return -ENOMEM;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return lp__wait_interrupted() ? -EINTR : -EBUSY;
    case SQLITE_PERM:
    case SQLITE_AUTH:
    case SQLITE_READONLY:
        return -EACCES;
    case SQLITE_TOOBIG:
        return -EMSGSIZE;
    case SQLITE_FULL:
        return -ENOSPC;
    case SQLITE_CANTOPEN: {
        int e = db ? sqlite3_system_errno(db) : 0;
        if (e == ENOENT || e == EACCES || e == EPERM || e == EISDIR || e == ENOTDIR || e == EROFS)
            return -e;
        return -EIO;
    }
    default:
        return -EIO;
    }
}

static int db_fail(sqlite3 *db, const char *path, int rc)
{
    return lp__queue_seterr(errno_of(db, rc), "file:%s: %s", path,
                            db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
}

static int q_fail(struct fq *q, int rc)
{
    return db_fail(q->db, q->path, rc);
}

/* ---- URI and connection ------------------------------------------------------------------- */

/* Split "PATH[#QUEUE]" (at the first '#': a queue name may hold '#'). */
static int parse_rest(const char *uri, const char *rest, char **path, char **name)
{
    const char *hash = strchr(rest, '#');
    size_t plen = hash ? (size_t)(hash - rest) : strlen(rest);
    const char *qn = hash ? hash + 1 : "default";
    if (plen == 0)
        return lp__queue_seterr(-EINVAL, "bad queue URI '%s': no database path (file:PATH[#QUEUE])",
                                uri);
    if (!*qn)
        return lp__queue_seterr(-EINVAL, "bad queue URI '%s': empty queue name after '#'", uri);
    *path = strndup(rest, plen);
    if (name)
        *name = strdup(qn);
    if (!*path || (name && !*name)) {
        free(*path);
        if (name)
            free(*name);
        return -ENOMEM;
    }
    return 0;
}

/* sqlite3_exec, again while SQLITE_BUSY comes back without the busy handler having waited
 * (switching a new database to WAL, or the first schema, while other processes do too). */
static int exec_retry(sqlite3 *db, const char *sqltext)
{
    int64_t t0 = lp__now_ns();
    for (;;) {
        if (!sqlite3_get_autocommit(db))
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        int rc = sqlite3_exec(db, sqltext, NULL, NULL, NULL);
        if ((rc & 0xff) != SQLITE_BUSY || lp__now_ns() - t0 > (int64_t)BUSY_TIMEOUT_MS * 1000000 ||
            !nap(1000))
            return rc;
    }
}

/* A connection to path in WAL mode.  create: make the file (mode 0600) if missing.
 * busy_start: the busy handler's memory, as long as the connection. */
static int db_open(sqlite3 **dbp, const char *path, bool create, int64_t *busy_start)
{
    *dbp = NULL;
    if (create) {
        /* Made here, not by SQLite, for its mode (SQLite gives -wal and -shm the same mode). */
        int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0)
            close(fd);
        /* other failures: SQLite's open below reports them in its words */
    }
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        int err = db_fail(db, path, rc);
        if (err == -EIO && access(path, F_OK) < 0 && errno == ENOENT)
            err = -ENOENT;
        sqlite3_close(db);
        return err;
    }
    sqlite3_extended_result_codes(db, 0);
    sqlite3_busy_handler(db, busy_wait, busy_start);
    /* No checkpoint when the last connection closes: it costs fsyncs and unlinks the WAL, and
     * pshell opens and closes a connection per `queue` command (a `queue get` went from ~0.5
     * to 4-8 ms).  Checkpoints still happen as commits grow the WAL (wal_autocheckpoint). */
    sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, (int *)NULL);
    /* WAL: readers never block the writer and the writer appends to DB-wal, which is what the
     * waiters watch.  synchronous=NORMAL: a commit is written (write(2)) to the WAL before it
     * returns but not fsync'ed, so everything committed survives kill -9 of any process (the
     * kernel has the data: the contract) but not a power loss or OS crash, which would need
     * synchronous=FULL and an fsync per put, get and ack. */
    rc = exec_retry(db, "PRAGMA journal_mode=WAL");
    if (rc == SQLITE_OK) /* after a big item, give the WAL's space back once checkpointed */
        rc = exec_retry(db, "PRAGMA synchronous=NORMAL; PRAGMA journal_size_limit=16777216");
    if (rc != SQLITE_OK) {
        int err = db_fail(db, path, rc);
        sqlite3_close(db);
        return err;
    }
    *dbp = db;
    return 0;
}

static sqlite3_stmt *stmt(struct fq *q, int i)
{
    if (!q->st[i]) {
        int rc = sqlite3_prepare_v3(q->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &q->st[i], NULL);
        if (rc != SQLITE_OK) {
            q_fail(q, rc);
            q->st[i] = NULL;
        }
    }
    return q->st[i];
}

/* Run a statement with no result rows (bound already); SQLITE_DONE -> SQLITE_OK. */
static int step_done(sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

static int begin(struct fq *q)
{
    sqlite3_stmt *s = stmt(q, S_BEGIN);
    if (!s)
        return -EIO;
    int rc = step_done(s);
    return rc == SQLITE_OK ? 0 : q_fail(q, rc);
}

static int commit(struct fq *q)
{
    sqlite3_stmt *s = stmt(q, S_COMMIT);
    int rc = s ? step_done(s) : SQLITE_ERROR;
    if (rc == SQLITE_OK)
        return 0;
    int err = s ? q_fail(q, rc) : -EIO;
    if (!sqlite3_get_autocommit(q->db))
        sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
    return err;
}

static void rollback(struct fq *q)
{
    if (!q->db || sqlite3_get_autocommit(q->db))
        return;
    sqlite3_stmt *s = stmt(q, S_ROLLBACK);
    if (!s || step_done(s) != SQLITE_OK)
        sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
}

static const char *holder_of(struct fq *q)
{
    pid_t me = getpid();
    if (q->holder_pid != me) {
        snprintf(q->holder, sizeof q->holder, "%s", lp__queue_holder());
        q->holder_pid = me;
        const char *c2 = strrchr(q->holder, ':');
        const char *c1 = c2;
        while (c1 && c1 > q->holder && *--c1 != ':')
            ;
        q->host_len = c1 ? (size_t)(c1 - q->holder) : 0;
    }
    return q->holder;
}

/* The pid of a holder of this machine, else 0. */
static pid_t local_pid(struct fq *q, const char *h)
{
    if (strncmp(h, q->holder, q->host_len) != 0 || h[q->host_len] != ':')
        return 0;
    char *end;
    long pid = strtol(h + q->host_len + 1, &end, 10);
    return *end == ':' && pid > 0 && pid <= INT_MAX ? (pid_t)pid : 0;
}

/* ---- the queue row -------------------------------------------------------------------- */

/* Read the queue's row: 1 found, 0 none, <0 error. */
static int queue_row(struct fq *q, lp_queue_order *order, size_t *max_items, bool *closed)
{
    sqlite3_stmt *s = stmt(q, S_QROW);
    if (!s)
        return -EIO;
    sqlite3_bind_text(s, 1, q->name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    int r = 0;
    if (rc == SQLITE_ROW) {
        int o = sqlite3_column_int(s, 0);
        if (order)
            *order = o >= 0 && o <= LP_QUEUE_PRIORITY ? (lp_queue_order)o : LP_QUEUE_FIFO;
        sqlite3_int64 m = sqlite3_column_int64(s, 1);
        if (max_items)
            *max_items = m > 0 ? (size_t)m : 0;
        if (closed)
            *closed = sqlite3_column_int(s, 2) != 0;
        r = 1;
    } else if (rc != SQLITE_DONE) {
        r = q_fail(q, rc);
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return r;
}

static int queue_add(struct fq *q)
{
    sqlite3_stmt *s = stmt(q, S_QADD);
    if (!s)
        return -EIO;
    sqlite3_bind_text(s, 1, q->name, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 2, (int)q->order);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)q->max_items);
    sqlite3_bind_int64(s, 4, now_ms());
    int rc = step_done(s);
    return rc == SQLITE_OK ? 0 : q_fail(q, rc);
}

/* ---- reclaim ----------------------------------------------------------------------------- */

/* Run S_RECLAIM for a lease end before `before` (0: none) or the holder h (NULL: none). */
static int reclaim_run(struct fq *q, int64_t before, const char *h)
{
    sqlite3_stmt *s = stmt(q, S_RECLAIM);
    if (!s)
        return -EIO;
    sqlite3_bind_text(s, 1, q->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, before);
    if (h)
        sqlite3_bind_text(s, 3, h, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(s, 3);
    sqlite3_bind_int64(s, 4, q->max_attempts);
    sqlite3_bind_int64(s, 5, now_ms());
    int rc = step_done(s);
    return rc == SQLITE_OK ? 0 : q_fail(q, rc);
}

/* Inside a write transaction: claimed items whose lease passed or whose holder is gone go back
 * to the queue (or are dead after max_attempts).  wi (may be NULL) gets what a waiter should
 * watch among the claims left. */
static int reclaim(struct fq *q, struct waitinfo *wi)
{
    int64_t now = now_ms();
    int r = reclaim_run(q, now, NULL);
    if (r < 0)
        return r;
    if (wi) {
        wi->lease_min = -1;
        wi->n = 0;
        wi->more = false;
    }
    sqlite3_stmt *s = stmt(q, S_HOLDERS);
    if (!s)
        return -EIO;
    const char *me = holder_of(q);
    char **dead = NULL; /* holders gone: reclaimed once the scan is over */
    size_t ndead = 0;
    sqlite3_bind_text(s, 1, q->name, -1, SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *h = (const char *)sqlite3_column_text(s, 0);
        sqlite3_int64 lease = sqlite3_column_int64(s, 1);
        if (h && strcmp(h, me) != 0 && lp__queue_holder_dead(h)) {
            char **nd = realloc(dead, (ndead + 1) * sizeof *nd);
            if (!nd || !(nd[ndead] = strdup(h))) {
                dead = nd ? nd : dead;
                r = -ENOMEM;
                break;
            }
            dead = nd;
            ndead++;
            continue;
        }
        if (!wi)
            continue;
        if (wi->lease_min < 0 || lease < wi->lease_min)
            wi->lease_min = lease;
        pid_t pid = h && strcmp(h, me) != 0 ? local_pid(q, h) : 0;
        if (pid > 0) {
            if (wi->n < MAX_WATCH && strlen(h) < HOLDER_MAX) {
                wi->pid[wi->n] = pid;
                snprintf(wi->holder[wi->n++], HOLDER_MAX, "%s", h);
            } else {
                wi->more = true;
            }
        }
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (r == 0 && rc != SQLITE_DONE)
        r = q_fail(q, rc);
    for (size_t i = 0; i < ndead; i++) {
        if (r == 0)
            r = reclaim_run(q, 0, dead[i]);
        free(dead[i]);
    }
    free(dead);
    return r;
}

/* ---- waiting ------------------------------------------------------------------------------ */

struct watch {
    int ifd;     /* inotify, -1 if none */
    bool tried;
};

static void watch_init(struct watch *w)
{
    w->ifd = -1;
    w->tried = false;
}

static void watch_start(struct fq *q, struct watch *w)
{
    if (w->tried)
        return;
    w->tried = true;
    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0)
        return;
    if (inotify_add_watch(fd, q->dir, IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE) < 0) {
        close(fd);
        return;
    }
    w->ifd = fd;
}

static void watch_end(struct watch *w)
{
    if (w->ifd >= 0)
        close(w->ifd);
    w->ifd = -1;
}

/* Read the pending events: whether one concerns the database. */
static bool watch_drain(struct fq *q, struct watch *w)
{
    if (w->ifd < 0)
        return true;
    bool hit = false;
    size_t blen = strlen(q->file);
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    for (;;) {
        ssize_t n = read(w->ifd, buf, sizeof buf);
        if (n <= 0)
            break;
        for (char *p = buf; p < buf + n;) {
            struct inotify_event *ev = (struct inotify_event *)p;
            if (ev->mask & IN_Q_OVERFLOW)
                hit = true;
            else if (ev->len && strncmp(ev->name, q->file, blen) == 0 &&
                     (ev->name[blen] == 0 || strcmp(ev->name + blen, "-wal") == 0))
                hit = true;
            p += sizeof *ev + ev->len;
        }
    }
    return hit;
}

/* Wait for a change (see the top of the file) or the deadline.  0 to look again, -EINTR. */
static int wait_change(struct fq *q, struct watch *w, const struct waitinfo *wi, lp_deadline d)
{
    int intr = lp__wait_interrupt_fd();
    struct pollfd pf[2 + MAX_WATCH];
    int npf = 0, iidx = -1, widx = -1, pfirst;
    if (intr >= 0) {
        pf[npf] = (struct pollfd){.fd = intr, .events = POLLIN};
        iidx = npf++;
    }
    if (w->ifd >= 0) {
        pf[npf] = (struct pollfd){.fd = w->ifd, .events = POLLIN};
        widx = npf++;
    }
    pfirst = npf;
    int cap = w->ifd >= 0 ? -1 : 250;
    bool again = false;
    bool pidfds = lp__pidfd_wanted();
    if (wi->n && !pidfds)
        cap = cap < 0 || cap > 1000 ? 1000 : cap;
    for (int i = 0; pidfds && i < wi->n; i++) {
        int fd = (int)syscall(SYS_pidfd_open, wi->pid[i], 0);
        if (fd < 0) {
            if (errno == ESRCH)
                again = true;  /* gone already */
            else
                cap = cap < 0 || cap > 1000 ? 1000 : cap;
            continue;
        }
        /* the pid may name another process by now: then the holder is gone */
        if (lp__queue_holder_dead(wi->holder[i])) {
            close(fd);
            again = true;
            continue;
        }
        pf[npf++] = (struct pollfd){.fd = fd, .events = POLLIN};
    }
    if (wi->more)
        cap = cap < 0 || cap > 1000 ? 1000 : cap;
    int r = 0;
    for (;;) {
        int t = lp__remaining_ms(d);
        if (t == 0 && d >= 0)
            break; /* the caller looks once more, then times out */
        if (again)
            break;
        if (wi->lease_min >= 0) {
            int64_t left = wi->lease_min - now_ms() + 1;
            if (left <= 0)
                break;
            if (t < 0 || left < t)
                t = left > INT_MAX ? INT_MAX : (int)left;
        }
        if (cap >= 0 && (t < 0 || t > cap))
            t = cap;
        int pr = poll(pf, (nfds_t)npf, t);
        if (pr < 0 && errno != EINTR) {
            r = lp__queue_seterr(-errno, "file:%s: poll: %s", q->path, strerror(errno));
            break;
        }
        if (pr <= 0) {
            if (pr == 0 && cap >= 0 && lp__remaining_ms(d) != 0)
                break; /* capped: look again */
            continue;  /* the deadline or a lease: checked above */
        }
        if (iidx >= 0 && pf[iidx].revents) {
            r = -EINTR;
            break;
        }
        bool wake = false;
        for (int i = pfirst; i < npf; i++)
            if (pf[i].revents)
                wake = true;
        if (widx >= 0 && pf[widx].revents && watch_drain(q, w))
            wake = true;
        if (wake)
            break;
    }
    for (int i = pfirst; i < npf; i++)
        close(pf[i].fd);
    return r;
}

/* ---- operations ----------------------------------------------------------------------------- */

static void q_free(lp_queue *qq)
{
    struct fq *q = (struct fq *)qq;
    if (!q)
        return;
    for (int i = 0; i < S_N; i++)
        sqlite3_finalize(q->st[i]);
    sqlite3_close_v2(q->db);
    pthread_mutex_destroy(&q->mu);
    free(q->path);
    free(q->dir);
    free(q->file);
    free(q->name);
    free(q);
}

static int q_open(lp_queue **qp, const char *uri, const char *rest, const lp_queue_opts *o)
{
    struct fq *q = calloc(1, sizeof *q);
    if (!q)
        return -ENOMEM;
    pthread_mutex_init(&q->mu, NULL);
    int r = parse_rest(uri, rest, &q->path, &q->name);
    if (r < 0) {
        q_free(&q->base);
        return r;
    }
    q->order = o->order;
    q->max_items = o->max_items;
    q->lease_ms = o->lease_ms;
    q->max_attempts = o->max_attempts;
    q->no_create = o->no_create;
    q->holder_pid = -1;
    r = db_open(&q->db, q->path, !o->no_create, &q->busy_start);
    if (r < 0)
        goto fail;
    /* What waiters watch: the directory of the file SQLite opened (absolute, symbolic links
     * resolved: DB-wal is made beside the real file), as it is now (a later chdir is harmless). */
    const char *real = sqlite3_db_filename(q->db, "main");
    if (!real || !*real)
        real = q->path;
    const char *slash = strrchr(real, '/');
    q->dir = slash ? (slash == real ? strdup("/") : strndup(real, (size_t)(slash - real)))
                   : strdup(".");
    q->file = strdup(slash ? slash + 1 : real);
    if (!q->dir || !q->file) {
        r = -ENOMEM;
        goto fail;
    }
    if (!o->no_create) {
        int rc = exec_retry(q->db, schema);
        if (rc == SQLITE_OK) {
            r = queue_add(q);
            if (r < 0)
                goto fail;
            rc = sqlite3_exec(q->db, "COMMIT", NULL, NULL, NULL);
        }
        if (rc != SQLITE_OK) {
            r = q_fail(q, rc);
            goto fail;
        }
    }
    r = queue_row(q, &q->order, &q->max_items, NULL);
    if (r == 0 || (r < 0 && o->no_create && strstr(lp_queue_errmsg(), "no such table")))
        r = lp__queue_seterr(-ENOENT, "file:%s: no queue '%s' in the database", q->path, q->name);
    if (r < 0)
        goto fail;
    *qp = &q->base;
    return 0;
fail:
    rollback(q);
    q_free(&q->base);
    return r;
}

/* One put attempt.  0 done, 1 full (wi filled), <0 error. */
static int put_once(struct fq *q, const void *data, size_t n, int priority, struct waitinfo *wi)
{
    int r = begin(q);
    if (r < 0)
        return r;
    lp_queue_order order;
    size_t max;
    bool closed;
    r = queue_row(q, &order, &max, &closed);
    if (r == 0) { /* removed meanwhile: made again, as a put to a missing Redis list would */
        if (q->no_create)
            r = lp__queue_seterr(-ENOENT, "file:%s: no queue '%s' in the database", q->path, q->name);
        else if ((r = queue_add(q)) == 0) {
            max = q->max_items;
            closed = false;
        }
    }
    if (r < 0)
        goto out;
    if (closed) {
        r = lp__queue_seterr(LP_ECLOSED, "file:%s#%s: the queue is closed", q->path, q->name);
        goto out;
    }
    if (max) {
        for (int pass = 0; pass < 2; pass++) {
            sqlite3_stmt *s = stmt(q, S_LIVE);
            if (!s) {
                r = -EIO;
                goto out;
            }
            sqlite3_bind_text(s, 1, q->name, -1, SQLITE_STATIC);
            int rc = sqlite3_step(s);
            sqlite3_int64 live = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
            sqlite3_reset(s);
            sqlite3_clear_bindings(s);
            if (rc != SQLITE_ROW) {
                r = q_fail(q, rc);
                goto out;
            }
            if ((size_t)live < max)
                break;
            if (pass == 1) {
                r = 1;
                goto out;
            }
            /* full: items that died (lease or holder gone, attempts used up) free room */
            if ((r = reclaim(q, wi)) < 0)
                goto out;
        }
    }
    sqlite3_stmt *s = stmt(q, S_PUT);
    if (!s) {
        r = -EIO;
        goto out;
    }
    sqlite3_bind_text(s, 1, q->name, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 2, priority);
    sqlite3_bind_blob64(s, 3, data, (sqlite3_uint64)n, SQLITE_STATIC);
    sqlite3_bind_int(s, 4, q->order == LP_QUEUE_PRIORITY ? priority : 0);
    int rc = step_done(s);
    if (rc != SQLITE_OK) {
        r = q_fail(q, rc);
        goto out;
    }
    return commit(q);
out:
    rollback(q);
    return r;
}

static int q_put(lp_queue *qq, const void *data, size_t n, int priority, lp_deadline d)
{
    struct fq *q = (struct fq *)qq;
    struct watch w;
    watch_init(&w);
    struct waitinfo wi;
    int r;
    for (;;) {
        pthread_mutex_lock(&q->mu);
        r = put_once(q, data, n, priority, &wi);
        pthread_mutex_unlock(&q->mu);
        if (r != 1)
            break;
        if (lp__remaining_ms(d) == 0) {
            r = lp__queue_seterr(-ETIMEDOUT, "file:%s#%s: the queue is full", q->path, q->name);
            break;
        }
        if (!w.tried) {
            watch_start(q, &w); /* then look again: a change before the watch is not missed */
            continue;
        }
        r = wait_change(q, &w, &wi, d);
        if (r < 0)
            break;
        watch_drain(q, &w);
    }
    watch_end(&w);
    return r;
}

static int next_stmt(lp_queue_order o)
{
    return o == LP_QUEUE_LIFO ? S_NEXT_LIFO : o == LP_QUEUE_PRIORITY ? S_NEXT_PRIO : S_NEXT_FIFO;
}

/* One get attempt.  0 got, 1 nothing (wi filled), LP_ECLOSED, <0 error. */
static int get_once(struct fq *q, lp_queue_item *it, struct waitinfo *wi)
{
    int r = begin(q);
    if (r < 0)
        return r;
    if ((r = reclaim(q, wi)) < 0)
        goto out;
    sqlite3_stmt *s = stmt(q, next_stmt(q->order));
    if (!s) {
        r = -EIO;
        goto out;
    }
    sqlite3_bind_text(s, 1, q->name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
        if (rc != SQLITE_DONE) {
            r = q_fail(q, rc);
            goto out;
        }
        bool closed = false;
        r = queue_row(q, NULL, NULL, &closed);
        if (r >= 0)
            r = closed ? lp__queue_seterr(LP_ECLOSED, "file:%s#%s: the queue is closed", q->path,
                                          q->name)
                       : 1;
        goto out;
    }
    sqlite3_int64 id = sqlite3_column_int64(s, 0);
    int prio = sqlite3_column_int(s, 1);
    sqlite3_int64 attempts = sqlite3_column_int64(s, 2) + 1;
    const void *blob = sqlite3_column_blob(s, 3);
    size_t len = (size_t)sqlite3_column_bytes(s, 3);
    r = lp__queue_item_set(it, blob ? blob : "", len, 0, prio,
                           attempts > UINT_MAX ? UINT_MAX : (unsigned)attempts);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (r < 0)
        goto out;
    s = stmt(q, S_CLAIMID);
    if (!s) {
        r = -EIO;
        goto out;
    }
    rc = sqlite3_step(s);
    sqlite3_int64 claim = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    if (rc == SQLITE_ROW)
        rc = sqlite3_step(s); /* to SQLITE_DONE: the UPDATE ... RETURNING completes */
    sqlite3_reset(s);
    if (rc != SQLITE_DONE || claim <= 0) {
        r = rc != SQLITE_DONE ? q_fail(q, rc)
                              : lp__queue_seterr(-EIO, "file:%s: no claim counter", q->path);
        goto out;
    }
    s = stmt(q, S_CLAIM);
    if (!s) {
        r = -EIO;
        goto out;
    }
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, claim);
    sqlite3_bind_text(s, 3, holder_of(q), -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, now_ms() + q->lease_ms);
    rc = step_done(s);
    if (rc != SQLITE_OK) {
        r = q_fail(q, rc);
        goto out;
    }
    if ((r = commit(q)) < 0)
        goto out;
    it->id = (uint64_t)claim;
    return 0;
out:
    rollback(q);
    if (r != 1 && r != 0)
        lp_queue_item_free(it);
    return r;
}

static int q_get(lp_queue *qq, lp_queue_item *it, lp_deadline d)
{
    struct fq *q = (struct fq *)qq;
    struct watch w;
    watch_init(&w);
    struct waitinfo wi;
    int r;
    for (;;) {
        pthread_mutex_lock(&q->mu);
        r = get_once(q, it, &wi);
        pthread_mutex_unlock(&q->mu);
        if (r != 1)
            break;
        if (lp__remaining_ms(d) == 0) {
            r = lp__queue_seterr(-ETIMEDOUT, "file:%s#%s: the queue is empty", q->path, q->name);
            break;
        }
        if (!w.tried) {
            watch_start(q, &w);
            continue;
        }
        r = wait_change(q, &w, &wi, d);
        if (r < 0)
            break;
        watch_drain(q, &w);
    }
    if (r != 0)
        lp_queue_item_free(it);
    watch_end(&w);
    return r;
}

/* ack, release, touch: one statement on the claim; -ENOENT when it matched nothing. */
static int claim_op(struct fq *q, int which, uint64_t id, bool failed, int lease_ms)
{
    pthread_mutex_lock(&q->mu);
    /* in BEGIN IMMEDIATE, as every write here: an autocommit write starts as a reader, and when
     * another commit comes first it fails with SQLITE_BUSY without waiting */
    int r = begin(q);
    if (r < 0)
        goto out;
    sqlite3_stmt *s = stmt(q, which);
    if (!s) {
        r = -EIO;
        goto out;
    }
    sqlite3_bind_int64(s, 1, (sqlite3_int64)id);
    sqlite3_bind_text(s, 2, q->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 7, now_ms());
    if (which == S_RELEASE) {
        sqlite3_bind_int(s, 3, failed);
        sqlite3_bind_int64(s, 4, q->max_attempts);
        sqlite3_bind_int64(s, 5, now_ms());
    } else if (which == S_TOUCH) {
        sqlite3_bind_int64(s, 3, now_ms() + (lease_ms ? lease_ms : q->lease_ms));
    }
    int rc = step_done(s);
    if (rc != SQLITE_OK)
        r = q_fail(q, rc);
    else if (sqlite3_changes(q->db) == 0)
        r = lp__queue_seterr(-ENOENT, "file:%s#%s: no claim %llu (acknowledged, released, or "
                             "its lease ended and the item went back)", q->path, q->name,
                             (unsigned long long)id);
    else
        r = 0;
    if (r == 0)
        r = commit(q);
out:
    rollback(q);
    pthread_mutex_unlock(&q->mu);
    return r;
}

static int q_ack(lp_queue *q, uint64_t id)
{
    return claim_op((struct fq *)q, S_ACK, id, false, 0);
}

static int q_release(lp_queue *q, uint64_t id, bool failed)
{
    return claim_op((struct fq *)q, S_RELEASE, id, failed, 0);
}

static int q_touch(lp_queue *q, uint64_t id, int lease_ms)
{
    return claim_op((struct fq *)q, S_TOUCH, id, false, lease_ms);
}

static int q_stat(lp_queue *qq, lp_queue_stats *st)
{
    struct fq *q = (struct fq *)qq;
    pthread_mutex_lock(&q->mu);
    int r = begin(q);
    if (r < 0)
        goto done;
    if ((r = reclaim(q, NULL)) < 0)
        goto out;
    sqlite3_stmt *s = stmt(q, S_STAT);
    if (!s) {
        r = -EIO;
        goto out;
    }
    sqlite3_bind_text(s, 1, q->name, -1, SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        size_t c = (size_t)sqlite3_column_int64(s, 1);
        switch (sqlite3_column_int(s, 0)) {
        case 0: st->waiting = c; break;
        case 1: st->inflight = c; break;
        case 2: st->dead = c; break;
        }
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_DONE) {
        r = q_fail(q, rc);
        goto out;
    }
    bool closed = false;
    st->max_items = q->max_items;
    st->order = q->order;
    if ((r = queue_row(q, NULL, NULL, &closed)) < 0)
        goto out;
    st->closed = closed;
    r = commit(q);
    goto done;
out:
    rollback(q);
done:
    pthread_mutex_unlock(&q->mu);
    return r;
}

static int q_peek(lp_queue *qq, bool dead, size_t max, lp_queue_item **items, size_t *n)
{
    struct fq *q = (struct fq *)qq;
    pthread_mutex_lock(&q->mu);
    lp_queue_item *v = NULL;
    size_t k = 0;
    int r = begin(q);
    if (r < 0)
        goto done;
    if ((r = reclaim(q, NULL)) < 0)
        goto out;
    sqlite3_stmt *s = stmt(q, dead ? S_PEEK_DEAD
                                   : q->order == LP_QUEUE_LIFO     ? S_PEEK_LIFO
                                   : q->order == LP_QUEUE_PRIORITY ? S_PEEK_PRIO
                                                                   : S_PEEK_FIFO);
    if (!s) {
        r = -EIO;
        goto out;
    }
    sqlite3_bind_text(s, 1, q->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, max > INT64_MAX ? INT64_MAX : (sqlite3_int64)max);
    int rc;
    size_t cap = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (k == cap) {
            size_t nc = cap ? cap * 2 : 16;
            lp_queue_item *nv = realloc(v, nc * sizeof *nv);
            if (!nv) {
                r = -ENOMEM;
                break;
            }
            v = nv;
            cap = nc;
        }
        v[k] = (lp_queue_item){0};
        const void *blob = sqlite3_column_blob(s, 3);
        sqlite3_int64 att = sqlite3_column_int64(s, 2);
        r = lp__queue_item_set(&v[k], blob ? blob : "", (size_t)sqlite3_column_bytes(s, 3), 0,
                               sqlite3_column_int(s, 1), att > UINT_MAX ? UINT_MAX : (unsigned)att);
        if (r < 0)
            break;
        k++;
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (r < 0)
        goto out;
    if (rc != SQLITE_DONE) {
        r = q_fail(q, rc);
        goto out;
    }
    r = commit(q);
    goto done;
out:
    rollback(q);
done:
    pthread_mutex_unlock(&q->mu);
    if (r < 0) {
        lp_queue_items_free(v, k);
        v = NULL;
        k = 0;
    }
    *items = v;
    *n = k;
    return r;
}

static int q_close(lp_queue *qq)
{
    struct fq *q = (struct fq *)qq;
    pthread_mutex_lock(&q->mu);
    int r = begin(q);
    sqlite3_stmt *s = r == 0 ? stmt(q, S_CLOSE) : NULL;
    if (r == 0 && !s)
        r = -EIO;
    if (r == 0) {
        sqlite3_bind_text(s, 1, q->name, -1, SQLITE_STATIC);
        int rc = step_done(s);
        r = rc == SQLITE_OK ? commit(q) : q_fail(q, rc);
    }
    rollback(q);
    pthread_mutex_unlock(&q->mu);
    return r;
}

/* A connection for remove and list: a missing file is -ENOENT (and is not created). */
static int side_open(sqlite3 **db, const char *path, int64_t *busy_start)
{
    struct stat sb;
    if (stat(path, &sb) < 0 && errno == ENOENT)
        return lp__queue_seterr(-ENOENT, "file:%s: no such database", path);
    return db_open(db, path, false, busy_start);
}

static bool no_tables(sqlite3 *db)
{
    return strstr(sqlite3_errmsg(db), "no such table") != NULL;
}

static int q_remove(const char *uri, const char *rest)
{
    char *path, *name;
    int r = parse_rest(uri, rest, &path, &name);
    if (r < 0)
        return r;
    sqlite3 *db;
    int64_t busy_start;
    if ((r = side_open(&db, path, &busy_start)) < 0)
        goto out;
    int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    sqlite3_stmt *s = NULL;
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db, "DELETE FROM lpq_queues WHERE name = ?1", -1, &s, NULL);
    int changed = 0;
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
        rc = sqlite3_step(s) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
        changed = sqlite3_changes(db);
        sqlite3_finalize(s);
        s = NULL;
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db, "DELETE FROM lpq_items WHERE queue = ?1", -1, &s, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
        rc = sqlite3_step(s) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
        changed += sqlite3_changes(db);
        sqlite3_finalize(s);
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        r = no_tables(db) ? -ENOENT : db_fail(db, path, rc);
        if (!sqlite3_get_autocommit(db))
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    } else if (!changed) {
        r = -ENOENT;
    }
    if (r == -ENOENT)
        lp__queue_seterr(-ENOENT, "file:%s: no queue '%s' in the database", path, name);
    sqlite3_close(db);
out:
    free(path);
    free(name);
    return r;
}

static int q_list(const char *uri, const char *rest, char ***names, size_t *n)
{
    char *path;
    /* file:PATH or file:PATH#ANYTHING: the queues of the database */
    int r = parse_rest(uri, rest, &path, NULL);
    if (r < 0)
        return r;
    sqlite3 *db;
    int64_t busy_start;
    if ((r = side_open(&db, path, &busy_start)) < 0) {
        if (r == -ENOENT) /* no database: no queues */
            r = 0;
        free(path);
        return r;
    }
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(db, "SELECT name FROM lpq_queues ORDER BY name", -1, &s, NULL);
    if (rc == SQLITE_OK) {
        while ((rc = sqlite3_step(s)) == SQLITE_ROW)
            if ((r = lp__queue_names_add(names, n, (const char *)sqlite3_column_text(s, 0))) < 0)
                break;
        if (rc == SQLITE_DONE)
            rc = SQLITE_OK;
        sqlite3_finalize(s);
    }
    if (r == 0 && rc != SQLITE_OK && !no_tables(db))
        r = db_fail(db, path, rc);
    sqlite3_close(db);
    free(path);
    return r;
}

const struct lp__queue_ops lp__queue_file_ops = {
    .scheme = "file",
    .open = q_open,
    .put = q_put,
    .get = q_get,
    .ack = q_ack,
    .release = q_release,
    .touch = q_touch,
    .stat = q_stat,
    .peek = q_peek,
    .close = q_close,
    .free = q_free,
    .remove = q_remove,
    .list = q_list,
};
