/* Internals shared by the pool core (pool.c) and function pools (pool_fn.c).  Not installed. */
#ifndef LIBPIPE_POOL_H
#define LIBPIPE_POOL_H

#include "internal.h"

#include <pthread.h>

#define SLOT_ENV_MAX 32

enum lp__job_kind { LP__JOB_CMD, LP__JOB_CALL, LP__JOB_PIPE, LP__JOB_FN };
enum lp__job_state { LP__PENDING, LP__RUNNING, LP__DONE };

struct lp__fn_worker;

/* The exit of one process of a running job. */
struct lp__xwatch {
    lp_watch w;
    lp_future *f;
    lp_proc *proc;
};

struct lp_future {
    lp_pool *pool;
    lp_future *next;     /* pending queue, or the done queue of lp_pool_next */
    lp_future *all_next, *all_prev; /* every future of the pool, for lp_pool_free */
    lp_future *fin_next; /* attempts that ended in this turn of the loop (driver only) */
    lp_future *cb_next;  /* callbacks to run */
    uint64_t seq;
    enum lp__job_kind kind;
    enum lp__job_state state;
    bool hidden;     /* an lp_pool_map_fn batch: not returned by lp_pool_next */
    bool cancel_req; /* cancel asked while running */
    bool retry;      /* ended, to be run again in its slot */
    bool returned;   /* by lp_pool_next */
    int slot;        /* 1..workers */
    /* what to run */
    lp_spawn_opts o; /* deep copy: command jobs; call jobs: stdio, cwd, env_set */
    lp_run_opts r;
    char *input;     /* copy of r.input */
    char *slot_env;  /* command jobs: the env_set entry "LP_POOL_SLOT=n" (SLOT_ENV_MAX bytes) */
    int (*fn)(void *);
    void *arg;
    /* the running attempt (driver only) */
    lp_pipeline *tmpl; /* pipeline jobs: the stages, cloned for each attempt */
    lp_proc *proc;    /* command jobs: the child */
    lp_pipeline *pl;  /* call jobs (one function stage) and pipeline jobs */
    struct lp__comm comm;
    struct lp__comm_opts co;
    struct lp__xwatch xw1, *xw; /* exits to see: xw == &xw1 for one process */
    size_t nxw, xleft;
    bool comm_ended, exited, finished;
    bool fed;         /* given input: counted in pool->feeding */
    bool pdeath;      /* started by the pool's creating thread: PDEATHSIG */
    pid_t parent_pid;
    lp_deadline deadline;
    int phase;        /* 0 running, 1 SIGTERM sent (grace), 2 SIGKILL sent */
    int spill_fd[3];
    size_t stream_len[3];
    /* the result */
    lp_result res;
    int error;
    char errmsg[LP_ERRMSG_MAX];
    void *data;
    /* function pools */
    lp_buf task;      /* the task's bytes */
    bool crashed;     /* the worker died running it */
    struct lp__fn_map *map; /* lp_pool_map_fn batch: where results go */
    size_t map_first, map_n;
    struct lp__fn_worker *worker;
};

struct lp_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;   /* a job ended, the driver left, room in the pending queue */
    lp_pool_opts o;
    enum lp__job_kind kind; /* LP__JOB_CMD (command and call jobs) or LP__JOB_FN */
    int workers;
    size_t spill_bytes;
    char *spill_dir;
    pthread_t creator;
    pid_t pid;           /* ours (getpid once) */
    pthread_t thread;    /* own_thread: the pool's driving thread */
    pthread_t thread_id; /* what that thread sees as pthread_self(), once thread_up */
    bool has_thread, stop_thread, thread_up;
    int feeding;         /* running jobs given input: writes to pipes need the SIGPIPE guard */
    lp_loop loop;
    int wakefd;
    lp_watch w_wake;
    bool driving;
    pthread_t driver;
    bool shut, freeing;
    lp_future *pend_head, *pend_tail;
    size_t npending;
    lp_future *done_head, *done_tail;
    lp_future *cb_head, *cb_tail;
    lp_future *all_head;
    lp_future *fin_head;
    lp_future **slots;   /* command pools: the job running in each slot */
    int running;
    uint64_t nseq, ndone, nvisible, nreturned;
    /* function pools */
    lp_pool_fn fn;
    int (*init)(void *);
    struct lp__fn_worker *fw; /* workers[workers] */
};

LP_HIDDEN lp_future *lp__future_new(lp_pool *p, enum lp__job_kind kind);
LP_HIDDEN void lp__future_free(lp_future *f);
/* the pending queue and the list of attempts that ended (mu held) */
LP_HIDDEN void lp__pool_push_back(lp_pool *p, lp_future *f);
LP_HIDDEN void lp__pool_push_front(lp_pool *p, lp_future *f);
LP_HIDDEN lp_future *lp__pool_pop(lp_pool *p);
LP_HIDDEN bool lp__pool_unlink_pending(lp_pool *p, lp_future *f);
LP_HIDDEN void lp__pool_fin_push(lp_pool *p, lp_future *f);  /* driver, in loop callbacks */
LP_HIDDEN lp_future *lp__pool_fin_take(lp_pool *p);          /* all of them, oldest first */
LP_HIDDEN void lp__pool_wake(lp_pool *p);                    /* wake the driver (mu held) */
/* write(2) until all is written (EINTR retried): 0 or -errno */
LP_HIDDEN int lp__write_all(int fd, const char *d, size_t n);
/* The calling thread lives as long as the pool (its creator or its own thread): PDEATHSIG. */
LP_HIDDEN bool lp__pool_thread_lasts(lp_pool *p);
LP_HIDDEN int lp__pool_start_thread(lp_pool *p); /* with o->own_thread; 0 or -errno */
LP_HIDDEN int lp__pool_init(lp_pool *p, const lp_pool_opts *o, enum lp__job_kind kind);
LP_HIDDEN int lp__pool_enqueue(lp_pool *p, lp_future *f, lp_future **out);
LP_HIDDEN void lp__pool_job_done(lp_pool *p, lp_future *f);
LP_HIDDEN int lp__pool_drive(lp_pool *p, bool (*cond)(lp_pool *, void *), void *arg, lp_deadline d);

/* function pools (pool_fn.c), called by the driver with mu held */
LP_HIDDEN void lp__fn_start(lp_pool *p);           /* hand pending tasks to idle workers */
LP_HIDDEN lp_deadline lp__fn_deadline(lp_pool *p); /* the next task deadline, -1 none */
LP_HIDDEN void lp__fn_check(lp_pool *p);           /* deadlines, dead workers, finished tasks */
LP_HIDDEN bool lp__fn_has_room(lp_pool *p);        /* a worker could take a task now */
LP_HIDDEN void lp__fn_free(lp_pool *p);            /* stop and reap the workers */

#endif
