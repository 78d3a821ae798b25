/* pshell — `queue work`: run a command for each item of a queue, N at a time, through a pool.
 *
 *   queue work NAME [-j N] [--drain] [--lease DUR] [--timeout DUR] [--retries N] CMD [ARG...]
 *
 * The command is a template as for `pool` (pool.c builds, runs and shows the jobs: sh_jobtmpl,
 * sh_job_submit, sh_job_show): the item replaces {} {.} {/} {//} {/.} in its words ({#} is the
 * job's number in this worker, {%} its slot), or is appended as the last word when there is
 * none; an item only ever becomes a word, never shell code.  A job that exits 0 acks its item;
 * one that fails or times out releases it as a failed attempt (the store moves it to the dead
 * letters after max_attempts = --retries deliveries); on Ctrl-C or SIGTERM the running jobs
 * are cancelled and their items released uncounted.
 *
 * Threads.  Waiting for new items and for job completions at the same time, without polling:
 *   - the getter thread claims items.  It waits (condition variable) until fewer than N claims
 *     are held, then blocks in lp_queue_get (on the one queue handle, which the main thread
 *     uses meanwhile: lp_queue_* may be called from any thread); each item it gets goes to the
 *     hand-off list and a byte to the wake pipe.  Its lp_set_wait_interrupt descriptor during
 *     lp_queue_get is the kick pipe: a byte there makes the get return -EINTR (to stop it, or
 *     with --drain to look at lp_queue_stat again when one of our jobs ended);
 *   - the main thread does everything else: it submits the handed-off items to the pool,
 *     drives the pool in lp_pool_next (with the wake pipe as its lp_set_wait_interrupt
 *     descriptor, so a new item or a stop request wakes it), shows each ended job's output,
 *     acks or releases its item, and renews (lp_queue_touch) the claims of running jobs every
 *     third of the lease.  The slot a job frees it fills itself when an item waits (lp_queue_get
 *     with timeout 0: no hand-off, two thread switches less per job), else it gives the slot
 *     back to the getter.  Shell state (variables, functions, PATH lookups) is only touched here.
 *     The interrupt descriptors are set only around those two waits: a store may give up
 *     waiting for a lock when it is readable (the file store does), and an ack must not;
 *   - pool.c's interrupt watcher thread turns Ctrl-C, a trapped signal or a caught SIGTERM
 *     into a stop request (flag, wake and kick).
 * With --drain the getter waits for items at most DRAIN_POLL_MS at a time: other workers'
 * items in flight may fail and come back, and only lp_queue_stat tells when they are done.
 *
 * Status: 0 when every job succeeded, else the number of failed jobs (at most 101), as pool
 * (which counts a job once, after its retries): here the items whose last allowed attempt
 * failed in this worker, which the release moved to the dead letters;
 * 255 for a usage error or when the queue cannot be used; 128+N after signal N (the shell dies
 * of an untrapped SIGINT/SIGTERM/SIGHUP/SIGQUIT once its jobs are stopped, as pool does). */
#include "libpipe.h"
#include "shell.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WORK_EUSAGE 255   /* usage or queue error, as pool */
#define WORK_MAX_JOBS 256 /* -j 0 */
#define WORK_MAX_STATUS 101
#define DRAIN_POLL_MS 100 /* --drain: how often an idle getter looks at the queue's counts */
#define DEFAULT_LEASE_MS 300000
#define DEFAULT_TRIES 3

typedef struct wopts {
    const char *name;
    int jobs;
    bool drain;
    long lease_ms, timeout_ms;
    int tries;
    int cmd; /* index of the command's first word */
} wopts;

/* one claimed item and its job (j first: the future's data is &j) */
typedef struct wjob {
    sh_job j;
    char *item;
    uint64_t id;
    unsigned attempts; /* deliveries of the item, this one included */
    struct wjob *next; /* hand-off list, then the held list */
} wjob;

typedef struct wrun {
    wopts o;
    sh_jobtmpl t;
    lp_queue *q; /* used by both threads (lp_queue_* may be called from any thread) */
    lp_pool *p;
    int wake[2], kick[2];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* under mu */
    wjob *hand, **hand_tail; /* got, not yet submitted */
    int claims;              /* claims held: being got, handed off, running */
    bool stop, getter_done, in_get;
    int gerr;       /* the getter's error (0, or -errno) */
    char *gerr_msg; /* and its message */
    /* main thread only */
    wjob *held; /* submitted, not ended */
    int running;
    uint64_t seq;
    int ndead; /* items whose last allowed attempt failed here */
} wrun;

static void werr(const char *fmt, const char *a, const char *b)
{
    fputs("pshell: queue: work: ", stderr);
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
}

static int online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (n > WORK_MAX_JOBS ? WORK_MAX_JOBS : (int)n) : 1;
}

/* NAME and the options, in any order before the command: 0 or -1 (reported) */
static int parse_opts(int argc, char **argv, wopts *o)
{
    *o = (wopts){.jobs = online_cpus(), .lease_ms = DEFAULT_LEASE_MS, .tries = DEFAULT_TRIES};
    int i = 1;
    bool dashdash = false;
    while (i < argc) {
        const char *a = argv[i];
        if (dashdash || a[0] != '-' || !a[1]) {
            if (o->name)
                break;
            o->name = a;
            i++;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            dashdash = true;
            i++;
            if (o->name)
                break;
            continue;
        }
        if (strcmp(a, "--drain") == 0) {
            o->drain = true;
            i++;
            continue;
        }
        static const char *const with_val[] = {"--jobs", "--lease", "--timeout", "--retries", NULL};
        const char *name = NULL, *val = NULL;
        char nb[16];
        if (a[1] == 'j') {
            name = "-j";
            if (a[2])
                val = a + 2;
        } else if (a[1] == '-') {
            const char *eq = strchr(a, '=');
            size_t l = eq ? (size_t)(eq - a) : strlen(a);
            for (int k = 0; with_val[k]; k++)
                if (strlen(with_val[k]) == l && strncmp(a, with_val[k], l) == 0) {
                    memcpy(nb, a, l);
                    nb[l] = 0;
                    name = nb;
                    if (eq)
                        val = eq + 1;
                }
        }
        if (!name) {
            werr("%s: unknown option%s", a, "");
            return -1;
        }
        if (!val) {
            if (i + 1 >= argc) {
                werr("%s: needs a value%s", name, "");
                return -1;
            }
            val = argv[++i];
        }
        i++;
        if (strcmp(name, "-j") == 0 || strcmp(name, "--jobs") == 0) {
            int n;
            if (sh_parse_int("queue: work", name, val, 0, 100000, &n) < 0)
                return -1;
            o->jobs = n == 0 ? WORK_MAX_JOBS : n;
        } else if (strcmp(name, "--retries") == 0) {
            if (sh_parse_int("queue: work", name, val, 0, 1000, &o->tries) < 0)
                return -1;
            if (o->tries == 0)
                o->tries = 1;
        } else {
            bool lease = strcmp(name, "--lease") == 0;
            long ms = sh_parse_duration(val);
            if (ms < 0 || ms > 2000000000L || (lease && ms == 0)) {
                werr("%s: '%s': invalid duration (examples: 1.5  2s  100ms  1m)", name, val);
                return -1;
            }
            if (lease)
                o->lease_ms = ms;
            else
                o->timeout_ms = ms;
        }
    }
    if (!o->name) {
        werr("%s%s", "usage: queue work NAME [-j N] [--drain] [--lease DUR] [--timeout DUR] "
                     "[--retries N] COMMAND [ARG...]", "");
        return -1;
    }
    if (i >= argc) {
        werr("%s: no command given%s", o->name, "");
        return -1;
    }
    o->cmd = i;
    return 0;
}

/* ---- the getter thread -------------------------------------------------------------------------- */
static void poke(int fd)
{
    (void)!write(fd, "", 1);
}

static void drain_fd(int fd)
{
    char b[64];
    while (read(fd, b, sizeof b) > 0)
        ;
}

/* the job of a claimed item (it is freed) */
static wjob *job_of_item(lp_queue_item *it)
{
    wjob *j = xcalloc(1, sizeof *j);
    j->item = xstrdup(it->data.data ? it->data.data : "");
    j->id = it->id;
    j->attempts = it->attempts;
    lp_queue_item_free(it);
    return j;
}

static void *getter_main(void *arg)
{
    wrun *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->stop && w->claims >= w->o.jobs) /* claim only for a free slot */
            pthread_cond_wait(&w->cv, &w->mu);
        if (w->stop)
            break;
        w->claims++;
        w->in_get = true;
        pthread_mutex_unlock(&w->mu);
        lp_queue_item it = {0};
        /* the kick interrupts the wait for an item, nothing else (see the top) */
        lp_set_wait_interrupt(w->kick[0]);
        int e = lp_queue_get(w->q, &it, w->o.drain ? DRAIN_POLL_MS : -1);
        lp_set_wait_interrupt(-1);
        lp_queue_stats st = {0};
        int se = 0;
        if (w->o.drain && (e == -ETIMEDOUT || e == -EINTR))
            se = lp_queue_stat(w->q, &st);
        char *msg = NULL;
        if ((e < 0 && e != -ETIMEDOUT && e != -EINTR && e != LP_ECLOSED) || se < 0)
            msg = xstrdup(lp_queue_errmsg());
        pthread_mutex_lock(&w->mu);
        w->in_get = false;
        drain_fd(w->kick[0]);
        if (e == 0) {
            if (w->stop) { /* too late: back, uncounted */
                lp_queue_release(w->q, it.id, false);
                lp_queue_item_free(&it);
                w->claims--;
                break;
            }
            wjob *j = job_of_item(&it);
            *w->hand_tail = j;
            w->hand_tail = &j->next;
            poke(w->wake[1]);
            continue;
        }
        lp_queue_item_free(&it);
        w->claims--;
        if (se < 0)
            e = se;
        if (e == -ETIMEDOUT || e == -EINTR) {
            /* --drain: done when nothing waits and nothing is in flight, ours included (an
             * item of ours still running is in flight; one that failed waits again) */
            if (w->o.drain && st.waiting == 0 && st.inflight == 0)
                break;
            continue;
        }
        if (e != LP_ECLOSED) {
            w->gerr = e;
            w->gerr_msg = msg;
            msg = NULL;
        }
        free(msg);
        break;
    }
    w->getter_done = true;
    poke(w->wake[1]);
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* ---- the main thread ------------------------------------------------------------------------------ */
static void on_intr(void *ctx) /* the watcher thread */
{
    wrun *w = ctx;
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    poke(w->wake[1]);
    poke(w->kick[1]);
}

static void claim_done(wrun *w)
{
    pthread_mutex_lock(&w->mu);
    w->claims--;
    pthread_cond_signal(&w->cv);
    if (w->o.drain && w->in_get)
        poke(w->kick[1]); /* look at the counts again now */
    pthread_mutex_unlock(&w->mu);
}

static void store_warn(wrun *w, const char *what, int e)
{
    const char *m = lp_queue_errmsg();
    fprintf(stderr, "pshell: queue: work: %s: %s: %s\n", w->o.name, what, *m ? m : lp_strerror(e));
}

static void unhold(wrun *w, wjob *j)
{
    for (wjob **pp = &w->held; *pp; pp = &(*pp)->next)
        if (*pp == j) {
            *pp = j->next;
            break;
        }
}

static void free_job(wjob *j)
{
    if (j->j.f)
        lp_future_release(j->j.f);
    free(j->item);
    free(j);
}

static bool start_job(wrun *w, wjob *j, bool stop);

/* A slot is free: take the next item at once on this thread when one waits (the getter's
 * hand-off costs two thread switches per job), else give the slot back to the getter. */
static void refill(wrun *w)
{
    pthread_mutex_lock(&w->mu);
    bool stop = w->stop || w->getter_done;
    pthread_mutex_unlock(&w->mu);
    if (!stop && !w->t.write_errno) {
        lp_queue_item it = {0};
        if (lp_queue_get(w->q, &it, 0) == 0) {
            start_job(w, job_of_item(&it), false);
            return;
        }
        lp_queue_item_free(&it);
    }
    claim_done(w);
}

/* a job ended: its output, then ack (success) or release as a failed attempt */
static void job_ended(wrun *w, wjob *j)
{
    int err = lp_future_error(j->j.f);
    sh_job_show(&j->j);
    int e;
    if (err == 0) {
        if ((e = lp_queue_ack(w->q, j->id)) < 0)
            store_warn(w, e == -ENOENT ? "ack (the lease had expired)" : "ack", e);
    } else if (err == -ECANCELED) {
        if ((e = lp_queue_release(w->q, j->id, false)) < 0 && e != -ENOENT)
            store_warn(w, "release", e);
    } else {
        if (j->attempts >= (unsigned)w->o.tries)
            w->ndead++; /* the release makes it a dead letter */
        if ((e = lp_queue_release(w->q, j->id, true)) < 0 && e != -ENOENT)
            store_warn(w, "release", e);
    }
    unhold(w, j);
    w->running--;
    free_job(j);
    refill(w);
}

static void renew(wrun *w)
{
    for (wjob *j = w->held; j; j = j->next) {
        int e = lp_queue_touch(w->q, j->id, 0);
        if (e == -ENOENT)
            werr("%s: lost the claim of item '%s' (its lease expired)", w->o.name, j->item);
        else if (e < 0)
            store_warn(w, "renew", e);
    }
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* submit what the getter handed off; false when stopping (the rest is released) */
static bool submit_handed(wrun *w, bool *gdone, bool *stop)
{
    pthread_mutex_lock(&w->mu);
    wjob *list = w->hand;
    w->hand = NULL;
    w->hand_tail = &w->hand;
    *gdone = w->getter_done;
    *stop = w->stop;
    pthread_mutex_unlock(&w->mu);
    while (list) {
        wjob *j = list;
        list = j->next;
        j->next = NULL;
        if (!start_job(w, j, *stop)) {
            pthread_mutex_lock(&w->mu);
            *stop = w->stop;
            pthread_mutex_unlock(&w->mu);
        }
    }
    return !*stop;
}

/* Start the job of a claimed item: true; false when stopping or it could not be submitted
 * (reported, and the worker stops): its claim is given back. */
static bool start_job(wrun *w, wjob *j, bool stop)
{
    int e = -ECANCELED;
    if (!stop) {
        j->j = (sh_job){.t = &w->t, .seq = ++w->seq, .args = &j->item};
        e = sh_job_submit(w->p, &j->j);
    }
    if (e == 0) {
        j->next = w->held;
        w->held = j;
        w->running++;
        return true;
    }
    if (e != -ECANCELED) {
        fprintf(stderr, "pshell: queue: work: cannot submit a job: %s\n", lp_strerror(e));
        on_intr(w);
    }
    lp_queue_release(w->q, j->id, false);
    j->j.f = NULL;
    free_job(j);
    claim_done(w);
    return false;
}

static int work_loop(wrun *w)
{
    int status = sh_interrupt_status(); /* drains the self-pipe: what is left there is news */
    int renew_ms = (int)(w->o.lease_ms / 3 > 0 ? w->o.lease_ms / 3 : 1);
    int64_t next_renew = now_ms() + renew_ms;
    while (!status) {
        drain_fd(w->wake[0]);
        bool gdone, stop;
        if (!submit_handed(w, &gdone, &stop))
            break;
        if (gdone && w->running == 0)
            break;
        int64_t now = now_ms();
        if (now >= next_renew) {
            renew(w);
            next_renew = now + renew_ms;
        }
        int tmo = w->held ? (int)(next_renew - now) : -1;
        lp_future *f = NULL;
        int e;
        if (w->running > 0) {
            lp_set_wait_interrupt(w->wake[0]); /* only there: not while acking (see getter_main) */
            e = lp_pool_next(w->p, tmo, &f);
            lp_set_wait_interrupt(-1);
        } else {
            struct pollfd pf = {.fd = w->wake[0], .events = POLLIN};
            e = poll(&pf, 1, tmo) < 0 && errno != EINTR ? -errno : -EINTR;
        }
        if ((status = sh_interrupt_status()) != 0)
            break;
        if (sh_jobs_fatal_sig()) {
            status = 128 + sh_jobs_fatal_sig();
            break;
        }
        if (e == 0) {
            job_ended(w, (wjob *)lp_future_data(f));
            if (w->t.write_errno)
                break;
        } else if (e != -EINTR && e != -ETIMEDOUT && e != -ECHILD) {
            fprintf(stderr, "pshell: queue: work: %s\n", lp_strerror(e));
            status = WORK_EUSAGE;
            break;
        }
    }
    return status;
}

/* stop the getter, stop what still runs, give back every claim not done */
static void work_finish(wrun *w, bool getter_on, pthread_t gt)
{
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    poke(w->kick[1]);
    if (getter_on)
        pthread_join(gt, NULL);
    bool gdone, stop;
    submit_handed(w, &gdone, &stop); /* stop is set: releases them */
    for (wjob *j = w->held; j; j = j->next)
        lp_future_cancel(j->j.f);
    lp_pool_shutdown(w->p, true, true);
    while (w->held) {
        wjob *j = w->held;
        if (lp_future_error(j->j.f) == -ECANCELED) { /* stopped: back, uncounted */
            unhold(w, j);
            w->running--;
            lp_queue_release(w->q, j->id, false);
            free_job(j);
            claim_done(w);
        } else {
            job_ended(w, j); /* it ended before the cancel: as usual */
        }
    }
}

static int work_run(wrun *w)
{
    lp_queue_opts qo = {.lease_ms = (int)w->o.lease_ms, .max_attempts = (unsigned)w->o.tries};
    if (sh_queue_open(w->o.name, &qo, &w->q) < 0)
        return WORK_EUSAGE;
    int status = WORK_EUSAGE;
    lp_pool_opts po = {.workers = w->o.jobs, .job_timeout_ms = (int)w->o.timeout_ms, .kill_grace_ms = 200};
    w->p = lp_pool_new(&po);
    if (!w->p) {
        fprintf(stderr, "pshell: queue: work: cannot create the pool: %s\n", strerror(errno));
        goto out;
    }
    if (pipe2(w->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
        fprintf(stderr, "pshell: queue: work: %s\n", strerror(errno));
        goto out;
    }
    if (pipe2(w->kick, O_CLOEXEC | O_NONBLOCK) < 0) {
        fprintf(stderr, "pshell: queue: work: %s\n", strerror(errno));
        goto out;
    }
    sh_flush();
    sh_jobs_signals_begin();
    sh_intr_watch *iw = sh_intr_watch_start(on_intr, w);
    pthread_t gt;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old); /* the shell's handlers run on this thread only */
    int ge = pthread_create(&gt, NULL, getter_main, w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (ge != 0) {
        fprintf(stderr, "pshell: queue: work: cannot start a thread: %s\n", strerror(ge));
        status = WORK_EUSAGE;
    } else {
        status = work_loop(w);
    }
    work_finish(w, ge == 0, gt);
    sh_intr_watch_stop(iw);
    lp_pool_free(w->p);
    w->p = NULL;
    sh_jobs_signals_end(); /* dies here of a caught SIGTERM... */
    if (!status && w->gerr) {
        werr("%s: %s", w->o.name, w->gerr_msg && *w->gerr_msg ? w->gerr_msg : lp_strerror(w->gerr));
        status = WORK_EUSAGE;
    }
    if (!status && w->t.write_errno) {
        if (w->t.write_errno == EPIPE)
            status = 128 + SIGPIPE;
        else {
            werr("write error: %s%s", strerror(w->t.write_errno), "");
            status = 1;
        }
    }
    if (!status)
        status = w->ndead > WORK_MAX_STATUS ? WORK_MAX_STATUS : w->ndead;
out:
    lp_pool_free(w->p);
    for (int k = 0; k < 2; k++) {
        if (w->wake[k] >= 0)
            close(w->wake[k]);
        if (w->kick[k] >= 0)
            close(w->kick[k]);
    }
    lp_queue_free(w->q);
    return status;
}

int sh_queue_work(int argc, char **argv)
{
    wrun w = {.wake = {-1, -1}, .kick = {-1, -1}};
    if (parse_opts(argc, argv, &w.o) < 0)
        return WORK_EUSAGE;
    w.t = (sh_jobtmpl){.who = "queue: work", .tmpl = argv + w.o.cmd, .ntmpl = argc - w.o.cmd, .ngroups = 1};
    if (sh_jobtmpl_check(&w.t) < 0)
        return WORK_EUSAGE;
    w.hand_tail = &w.hand;
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    int st = work_run(&w);
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
    sh_jobtmpl_done(&w.t);
    free(w.gerr_msg);
    return st;
}
