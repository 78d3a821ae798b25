/* pshell — the queue builtin: named job queues on libpipe's lp_queue.
 *
 *   queue put|new|get|len|stat|ls|rm|peek|dead|close ...   this file
 *   queue work ...                                          queue_work.c (sh_queue_work)
 *
 * A NAME without ':' is local: the queue NAME in the SQLite database
 * $XDG_STATE_HOME/pshell/queues.db (XDG_STATE_HOME default ~/.local/state), created with mode
 * 0600 in a directory of mode 0700.  A NAME with ':' is a queue URI (mem:, shm:NAME,
 * file:PATH[#QUEUE], redis://...) used as it is.
 *
 * Statuses: 0 done; 1 nothing (get/put timed out, no such queue, `new` of a queue that exists
 * with other settings); 2 usage or store error (a message names what was wrong); 3 the queue is
 * closed (get: and empty); 130 Ctrl-C (128+N: a trapped signal N) during a blocking get/put. */
#include "libpipe.h"
#include "shell.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define Q_NONE 1
#define Q_USAGE 2
#define Q_CLOSED 3

/* mkdir -p with mode 0700 for the directories it creates. */
static int make_dirs(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        int rc = mkdir(path, 0700);
        *p = '/';
        if (rc < 0 && errno != EEXIST)
            return -1;
    }
    if (mkdir(path, 0700) < 0 && errno != EEXIST)
        return -1;
    return 0;
}

/* $XDG_STATE_HOME/pshell (XDG_STATE_HOME when absolute, else ~/.local/state; the shell's
 * variables, so that `XDG_STATE_HOME=... queue ...` and `export` work): malloc'd */
static char *state_dir(void)
{
    const char *state = var_get("XDG_STATE_HOME");
    char *dir;
    if (state && state[0] == '/') {
        if (asprintf(&dir, "%s/pshell", state) < 0)
            return NULL;
    } else {
        const char *home = var_get("HOME");
        if (!home || !*home)
            home = "/";
        if (asprintf(&dir, "%s/.local/state/pshell", home) < 0)
            return NULL;
    }
    return dir;
}

char *sh_queue_db_path(void)
{
    char *dir = state_dir();
    if (!dir)
        return NULL;
    if (make_dirs(dir) < 0) {
        sh_error("queue: cannot create %s: %s", dir, strerror(errno));
        free(dir);
        return NULL;
    }
    char *db;
    if (asprintf(&db, "%s/queues.db", dir) < 0)
        db = NULL;
    free(dir);
    if (db) {
        /* Create the file 0600 before SQLite does (it would use the umask). */
        int fd = open(db, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) {
            sh_error("queue: cannot open %s: %s", db, strerror(errno));
            free(db);
            return NULL;
        }
        close(fd);
    }
    return db;
}

char *sh_queue_uri(const char *name)
{
    if (strchr(name, ':'))
        return strdup(name);
    if (!*name || strchr(name, '#') || strchr(name, '/')) {
        sh_error("queue: bad queue name '%s'", name);
        return NULL;
    }
    char *db = sh_queue_db_path();
    if (!db)
        return NULL;
    char *uri;
    if (asprintf(&uri, "file:%s#%s", db, name) < 0)
        uri = NULL;
    free(db);
    return uri;
}

int sh_queue_open(const char *name, const lp_queue_opts *o, lp_queue **q)
{
    char *uri = sh_queue_uri(name);
    if (!uri)
        return -EINVAL;
    int rc = lp_queue_open(q, uri, o);
    if (rc < 0) {
        const char *msg = lp_queue_errmsg();
        sh_error("queue: %s: %s", name, *msg ? msg : lp_strerror(rc));
    }
    free(uri);
    return rc;
}


/* ---- helpers ---------------------------------------------------------------------------------- */
static int usage(const char *what)
{
    sh_error("queue: usage: queue %s", what);
    return Q_USAGE;
}

/* A failed lp_queue_* call on `what` (a queue name): the store's text, else errno's. */
static int store_error(const char *what, int rc)
{
    const char *msg = lp_queue_errmsg();
    if (rc == LP_ECLOSED) {
        sh_error("queue: %s: the queue is closed", what);
        return Q_CLOSED;
    }
    sh_error("queue: %s: %s", what, msg && *msg ? msg : lp_strerror(rc));
    return Q_USAGE;
}

/* Open queue `name`: 0, or a status after a message (1: none and o->no_create; 2: else). */
static int open_q(const char *name, const lp_queue_opts *o, lp_queue **q)
{
    *q = NULL;
    char *uri = sh_queue_uri(name);
    if (!uri)
        return Q_USAGE;
    int rc = lp_queue_open(q, uri, o);
    free(uri);
    if (rc == 0)
        return 0;
    if (rc == -ENOENT && o && o->no_create) {
        sh_error("queue: %s: no such queue", name);
        return Q_NONE;
    }
    return store_error(name, rc);
}

static const lp_queue_opts existing = {.no_create = true};

/* Is argv[*i] option sopt ("-p": "-p VAL", "-pVAL") or lopt ("--max": "--max VAL",
 * "--max=VAL")?  Then *val is its value (NULL when it is missing) and *i moves past it. */
static bool opt_arg(int argc, char **argv, int *i, const char *sopt, const char *lopt,
                    const char **val)
{
    const char *a = argv[*i];
    size_t ll = lopt ? strlen(lopt) : 0;
    if (lopt && strncmp(a, lopt, ll) == 0 && a[ll] == '=') {
        *val = a + ll + 1;
        return true;
    }
    if ((lopt && strcmp(a, lopt) == 0) || (sopt && strcmp(a, sopt) == 0)) {
        *val = *i + 1 < argc ? argv[++*i] : NULL;
        return true;
    }
    if (sopt && strncmp(a, sopt, 2) == 0 && a[2] && a[1] != '-') {
        *val = a + 2;
        return true;
    }
    return false;
}

static int missing_value(const char *sub, const char *opt)
{
    sh_error("queue: %s: %s needs a value", sub, opt);
    return Q_USAGE;
}

static int bad_option(const char *sub, const char *opt)
{
    sh_error("queue: %s: unknown option '%s'", sub, opt);
    return Q_USAGE;
}

/* A duration in ms (capped at INT_MAX), or -1 after a message. */
static long duration(const char *sub, const char *s)
{
    long ms = sh_parse_duration(s);
    if (ms < 0) {
        sh_error("queue: %s: bad duration '%s'", sub, s);
        return -1;
    }
    return ms > INT_MAX ? INT_MAX : ms;
}

/* A count (decimal, >= 0), or false after a message. */
static bool count(const char *sub, const char *what, const char *s, size_t *n)
{
    char *e;
    errno = 0;
    unsigned long long v = strtoull(s, &e, 10);
    if (*s < '0' || *s > '9' || *e || errno || v > SIZE_MAX) {
        sh_error("queue: %s: bad %s '%s'", sub, what, s);
        return false;
    }
    *n = (size_t)v;
    return true;
}

static bool priority(const char *s, int *p)
{
    char *e;
    errno = 0;
    long v = strtol(s, &e, 10);
    if (!*s || *s == ' ' || *s == '\t' || *e || errno || v < INT_MIN || v > INT_MAX) {
        sh_error("queue: put: bad priority '%s'", s);
        return false;
    }
    *p = (int)v;
    return true;
}

static const char *order_name(lp_queue_order o)
{
    return o == LP_QUEUE_LIFO ? "lifo" : o == LP_QUEUE_PRIORITY ? "priority" : "fifo";
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A blocking put (it == NULL) or get, for at most ms (-1: no limit), woken by Ctrl-C or a
 * trapped signal: then -EINTR and *intr is the status (130, 128+N).  A wake-up with no such
 * news (a stale byte in the self-pipe) waits again for what is left of ms. */
static int wait_op(lp_queue *q, lp_queue_item *it, const char *data, size_t n, int prio, long ms,
                   int *intr)
{
    long long end = ms < 0 ? -1 : now_ms() + ms;
    for (;;) {
        long long left = ms < 0 ? -1 : end - now_ms();
        if (ms >= 0 && left < 0)
            left = 0;
        lp_set_wait_interrupt(sh_signal_fd());
        int rc = it ? lp_queue_get(q, it, (int)left) : lp_queue_put(q, data, n, prio, (int)left);
        lp_set_wait_interrupt(-1);
        if (rc != -EINTR)
            return rc;
        if ((*intr = sh_interrupt_status()) != 0)
            return rc;
    }
}

/* ---- put ---------------------------------------------------------------------------------------- */
/* One item: 0 or a status after a message. */
static int put_one(lp_queue *q, const char *name, const char *data, size_t n, int prio, long ms)
{
    int intr = 0;
    int rc = wait_op(q, NULL, data, n, prio, ms, &intr);
    if (rc == 0)
        return 0;
    if (rc == -EINTR)
        return intr;
    if (rc == -ETIMEDOUT) {
        sh_error("queue: %s: the queue is full (timed out)", name);
        return Q_NONE;
    }
    return store_error(name, rc);
}

/* Each line of the standard input (without its newline) is an item, put as soon as read. */
static int put_lines(lp_queue *q, const char *name, int prio, long ms)
{
    size_t cap = 4096, len = 0, scan = 0;
    char *buf = xmalloc(cap);
    int st = 0;
    bool eof = false;
    while (!st && !eof) {
        if (len == cap)
            buf = xrealloc(buf, cap *= 2);
        ssize_t r = read(0, buf + len, cap - len);
        if (r < 0 && errno == EINTR) {
            st = sh_interrupt_status();
            continue;
        }
        if (r < 0) {
            sh_error("queue: put: cannot read the standard input: %s", strerror(errno));
            st = Q_USAGE;
            break;
        }
        if (r == 0)
            eof = true;
        len += (size_t)r;
        size_t start = 0;
        for (char *nl; !st && (nl = memchr(buf + scan, '\n', len - scan)); scan = start) {
            st = put_one(q, name, buf + start, (size_t)(nl - buf) - start, prio, ms);
            start = (size_t)(nl - buf) + 1;
        }
        if (!st && eof && start < len) /* a last line without its newline */
            st = put_one(q, name, buf + start, len - start, prio, ms);
        memmove(buf, buf + start, len - start);
        len -= start;
        scan = len;
    }
    free(buf);
    return st;
}

static int q_put(int argc, char **argv)
{
    int prio = 0, i = 1;
    long ms = -1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
        const char *v;
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        }
        if (opt_arg(argc, argv, &i, "-p", NULL, &v)) {
            if (!v)
                return missing_value("put", argv[i]);
            if (!priority(v, &prio))
                return Q_USAGE;
        } else if (opt_arg(argc, argv, &i, "-t", "--timeout", &v)) {
            if (!v)
                return missing_value("put", argv[i]);
            if ((ms = duration("put", v)) < 0)
                return Q_USAGE;
        } else {
            return bad_option("put", argv[i]);
        }
    }
    if (i >= argc)
        return usage("put [-p PRIORITY] [--timeout DURATION] NAME [ITEM...]");
    const char *name = argv[i++];
    lp_queue *q;
    int st = open_q(name, NULL, &q);
    if (st)
        return st;
    if (i == argc)
        st = put_lines(q, name, prio, ms);
    for (; !st && i < argc; i++)
        st = put_one(q, name, argv[i], strlen(argv[i]), prio, ms);
    lp_queue_free(q);
    return st;
}

/* ---- new ---------------------------------------------------------------------------------------- */
static int q_new(int argc, char **argv)
{
    lp_queue_opts o = {0};
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
        const char *v;
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        }
        if (strcmp(argv[i], "--fifo") == 0) {
            o.order = LP_QUEUE_FIFO;
        } else if (strcmp(argv[i], "--lifo") == 0) {
            o.order = LP_QUEUE_LIFO;
        } else if (strcmp(argv[i], "--priority") == 0) {
            o.order = LP_QUEUE_PRIORITY;
        } else if (opt_arg(argc, argv, &i, NULL, "--max", &v)) {
            if (!v)
                return missing_value("new", argv[i]);
            if (!count("new", "bound", v, &o.max_items))
                return Q_USAGE;
        } else {
            return bad_option("new", argv[i]);
        }
    }
    if (argc - i != 1)
        return usage("new [--fifo|--lifo|--priority] [--max N] NAME");
    const char *name = argv[i];
    lp_queue *q;
    int st = open_q(name, &o, &q);
    if (st)
        return st;
    lp_queue_stats s;
    int rc = lp_queue_stat(q, &s);
    if (rc < 0) {
        st = store_error(name, rc);
    } else if (s.order != o.order) {
        sh_error("queue: new: %s exists as a %s queue (not %s)", name, order_name(s.order),
                 order_name(o.order));
        st = Q_NONE;
    } else if (s.max_items != o.max_items) {
        sh_error("queue: new: %s exists with max %zu (not %zu)", name, s.max_items, o.max_items);
        st = Q_NONE;
    }
    lp_queue_free(q);
    return st;
}

/* ---- get ---------------------------------------------------------------------------------------- */
static int q_get(int argc, char **argv)
{
    long ms = -1;
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
        const char *v;
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        }
        if (opt_arg(argc, argv, &i, "-t", "--timeout", &v)) {
            if (!v)
                return missing_value("get", argv[i]);
            if ((ms = duration("get", v)) < 0)
                return Q_USAGE;
        } else {
            return bad_option("get", argv[i]);
        }
    }
    if (argc - i != 1)
        return usage("get [--timeout DURATION] NAME");
    const char *name = argv[i];
    lp_queue *q;
    int st = open_q(name, NULL, &q);
    if (st)
        return st;
    lp_queue_item it = {0};
    int intr = 0;
    int rc = wait_op(q, &it, NULL, 0, 0, ms, &intr);
    if (rc == 0) {
        /* printed first, acknowledged after: an item that could not be written goes back */
        sh_flush();
        fwrite(it.data.data, 1, it.data.len, stdout);
        putchar('\n');
        if (fflush(stdout) != 0 || ferror(stdout)) {
            int e = errno;
            clearerr(stdout);
            lp_queue_release(q, it.id, false);
            sh_error("queue: get: %s: cannot write the item (put back): %s", name, strerror(e));
            st = Q_USAGE;
        } else if ((rc = lp_queue_ack(q, it.id)) < 0) {
            st = store_error(name, rc);
        }
    } else if (rc == -EINTR) {
        st = intr;
    } else if (rc == -ETIMEDOUT) {
        st = Q_NONE;
    } else if (rc == LP_ECLOSED) {
        st = Q_CLOSED;
    } else {
        st = store_error(name, rc);
    }
    lp_queue_item_free(&it);
    lp_queue_free(q);
    return st;
}

/* ---- len, stat, close ------------------------------------------------------------------------ */
static int q_info(int argc, char **argv)
{
    const char *sub = argv[0];
    if (argc != 2 || (argv[1][0] == '-' && argv[1][1]))
        return usage(strcmp(sub, "len") == 0    ? "len NAME"
                     : strcmp(sub, "stat") == 0 ? "stat NAME"
                                                : "close NAME");
    const char *name = argv[1];
    lp_queue *q;
    int st = open_q(name, &existing, &q);
    if (st)
        return st;
    int rc;
    if (strcmp(sub, "close") == 0) {
        rc = lp_queue_close(q);
    } else {
        lp_queue_stats s;
        rc = lp_queue_stat(q, &s);
        if (rc == 0 && strcmp(sub, "len") == 0)
            printf("%zu\n", s.waiting);
        else if (rc == 0)
            printf("waiting %zu\ninflight %zu\ndead %zu\norder %s\nmax %zu\nclosed %s\n",
                   s.waiting, s.inflight, s.dead, order_name(s.order), s.max_items,
                   s.closed ? "yes" : "no");
    }
    if (rc < 0)
        st = store_error(name, rc);
    lp_queue_free(q);
    return st;
}

/* ---- peek, dead --------------------------------------------------------------------------------- */
static int q_peek(int argc, char **argv)
{
    const char *sub = argv[0];
    bool dead = strcmp(sub, "dead") == 0;
    size_t max = 10;
    if (argc < 2 || argc > 3 || (argv[1][0] == '-' && argv[1][1]))
        return usage(dead ? "dead NAME [N]" : "peek NAME [N]");
    if (argc == 3 && !count(sub, "count", argv[2], &max))
        return Q_USAGE;
    const char *name = argv[1];
    lp_queue *q;
    int st = open_q(name, &existing, &q);
    if (st)
        return st;
    lp_queue_item *items;
    size_t n;
    int rc = dead ? lp_queue_dead(q, max, &items, &n) : lp_queue_peek(q, max, &items, &n);
    if (rc < 0) {
        st = store_error(name, rc);
    } else {
        for (size_t k = 0; k < n; k++) {
            fwrite(items[k].data.data, 1, items[k].data.len, stdout);
            putchar('\n');
        }
        lp_queue_items_free(items, n);
    }
    lp_queue_free(q);
    return st;
}

/* ---- ls, rm ------------------------------------------------------------------------------------- */
static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int q_ls(int argc, char **argv)
{
    if (argc > 2 || (argc == 2 && !strchr(argv[1], ':')))
        return usage("ls [URI]");
    char *uri = NULL;
    if (argc == 2) {
        uri = xstrdup(argv[1]);
    } else {
        char *db = sh_queue_db_path();
        if (!db)
            return Q_USAGE;
        if (asprintf(&uri, "file:%s", db) < 0)
            uri = NULL;
        free(db);
        if (!uri)
            return store_error("ls", -ENOMEM);
    }
    char **names;
    size_t n;
    int rc = lp_queue_list(uri, &names, &n);
    int st = 0;
    if (rc < 0) {
        st = store_error(argc == 2 ? argv[1] : "ls", rc);
    } else {
        qsort(names, n, sizeof *names, cmp_name);
        for (size_t k = 0; k < n; k++)
            printf("%s\n", names[k]);
        lp_queue_names_free(names);
    }
    free(uri);
    return st;
}

static int q_rm(int argc, char **argv)
{
    if (argc < 2)
        return usage("rm NAME...");
    int st = 0;
    for (int i = 1; i < argc; i++) {
        char *uri = sh_queue_uri(argv[i]);
        if (!uri) {
            st = Q_USAGE;
            continue;
        }
        int rc = lp_queue_remove(uri);
        free(uri);
        if (rc == -ENOENT) {
            sh_error("queue: %s: no such queue", argv[i]);
            if (st < Q_NONE)
                st = Q_NONE;
        } else if (rc < 0) {
            store_error(argv[i], rc);
            st = Q_USAGE;
        }
    }
    return st;
}

/* ---- the builtin -------------------------------------------------------------------------------- */
static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
} subcmds[] = {
    {"put", q_put},   {"new", q_new},   {"get", q_get},   {"len", q_info},
    {"stat", q_info}, {"close", q_info}, {"ls", q_ls},    {"rm", q_rm},
    {"peek", q_peek}, {"dead", q_peek}, {"work", sh_queue_work},
};

#define SUBCMDS "put|new|get|len|stat|ls|rm|peek|dead|close|work"

int bi_queue(int argc, char **argv)
{
    if (argc < 2)
        return usage(SUBCMDS " ...");
    for (size_t k = 0; k < sizeof subcmds / sizeof subcmds[0]; k++)
        if (strcmp(argv[1], subcmds[k].name) == 0)
            return subcmds[k].fn(argc - 1, argv + 1);
    sh_error("queue: unknown subcommand '%s' (expected " SUBCMDS ")", argv[1]);
    return Q_USAGE;
}

/* Local queue names for completion (interactive.c), sorted; none when there is no database yet
 * (nothing is created). */
void sh_queue_local_names(strlist *out);
void sh_queue_local_names(strlist *out)
{
    char *dir = state_dir(), *uri = NULL;
    if (!dir)
        return;
    if (asprintf(&uri, "file:%s/queues.db", dir) < 0)
        uri = NULL;
    free(dir);
    char **names;
    size_t n;
    if (uri && access(uri + 5, R_OK | W_OK) == 0 && lp_queue_list(uri, &names, &n) == 0) {
        qsort(names, n, sizeof *names, cmp_name);
        for (size_t k = 0; k < n; k++)
            sl_push(out, xstrdup(names[k]));
        lp_queue_names_free(names);
    }
    free(uri);
}
