/* libpipe internals shared between modules.  Not installed. */
#ifndef LIBPIPE_INTERNAL_H
#define LIBPIPE_INTERNAL_H

#include "libpipe.h"

#include <stdarg.h>
#include <sys/resource.h>
#include <time.h>

#define LP_HIDDEN __attribute__((visibility("hidden")))
#define LP_ERRMSG_MAX 512

typedef int64_t lp_deadline; /* CLOCK_MONOTONIC in ns; -1 = never */

/* ---- event loop (loop.c) ---- */
typedef struct lp_loop lp_loop;
typedef struct lp_watch lp_watch;
typedef void (*lp_watch_fn)(lp_loop *l, lp_watch *w, uint32_t events);
struct lp_watch {
    int fd;
    uint32_t events; /* EPOLLIN, EPOLLOUT, ... */
    lp_watch_fn fn;
    void *data;
    bool active;
};
struct lp_loop {
    int epfd;
    int active; /* watches registered */
    int stop;   /* set by a callback: 1 stop with 0, < 0 stop with that error */
};
LP_HIDDEN int lp__loop_init(lp_loop *l);
LP_HIDDEN void lp__loop_close(lp_loop *l);
LP_HIDDEN int lp__loop_add(lp_loop *l, lp_watch *w);
LP_HIDDEN int lp__loop_mod(lp_loop *l, lp_watch *w, uint32_t events);
LP_HIDDEN void lp__loop_del(lp_loop *l, lp_watch *w);
/* Run until no watch is active (0), a callback stops it, or the deadline passes (-ETIMEDOUT). */
LP_HIDDEN int lp__loop_run(lp_loop *l, int64_t deadline_ns);
/* Wait once (until an event or the deadline) and run the callbacks of what is ready.  The
 * number of events (0 on timeout) or -errno; EINTR counts as 0 events. */
LP_HIDDEN int lp__loop_once(lp_loop *l, int64_t deadline_ns);

struct lp_proc {
    pid_t pid;
    int exitfd;     /* pidfd, or the read end of the fallback waiter's pipe: readable at exit */
    bool has_pidfd; /* exitfd is a pidfd (pidfd_send_signal usable)                           */
    bool own_group; /* the child leads a process group lp_spawn created                      */
    bool reaped;
    int fds[3];     /* parent's ends of stdio pipes, -1 if none                                */
    int status;     /* raw wait status once reaped */
    struct rusage ru;
    struct timespec t_start, t_end;
    bool is_pty;    /* fds[0] is a pty master: read and written, never closed by communicate */
    /* communicate's state, kept across calls that time out */
    bool comm_started;
    bool eof[3];    /* stdout/stderr (or the pty) reached EOF */
    const char *in_ptr; /* input not yet written: borrowed during a call, owned (in_own) after */
    size_t in_left;
    char *in_own;
    lp_buf pend[3]; /* streaming: bytes read but not yet delivered (partial lines) */
    char errmsg[LP_ERRMSG_MAX];
};

/* ---- deep copies of spawn options (spawn.c) ---- */
/* *d = a copy of *s owning every string, list and set; 0 or -ENOMEM (then nothing is held). */
LP_HIDDEN int lp__opts_copy(lp_spawn_opts *d, const lp_spawn_opts *s);
LP_HIDDEN void lp__opts_free(lp_spawn_opts *o);
/* Close every descriptor >= lo (a forked child that will not exec). */
LP_HIDDEN void lp__close_from(int lo);

/* ---- buffers (buf.c) ---- */
/* Make room for `spare` more bytes (and the NUL) without changing len. 0 or -ENOMEM. */
LP_HIDDEN int lp__buf_reserve(lp_buf *b, size_t spare);

/* ---- communicate (communicate.c) ---- */
struct lp__comm_opts {
    size_t max_output; /* per stream, 0 = unlimited */
    bool *truncated;   /* set when output past max_output was dropped */
    lp_output_cb cb;   /* streaming instead of capture */
    void *ctx;
    bool lines;
    bool no_exit_watch; /* lp__comm_start: the caller watches the process's exit itself */
};
/* One child's pipes on an event loop: its own (lp__communicate) or a shared one (pools). */
struct lp__comm {
    lp_proc *p;
    lp_loop *loop;
    lp_watch w[3]; /* 0: stdin (or pty master), 1: stdout, 2: stderr */
    lp_watch w_exit;
    lp_buf *dst[3];
    const struct lp__comm_opts *co;
    bool epipe;  /* one of our writes hit EPIPE: a SIGPIPE may be pending for this thread */
    int cb_ret;  /* the output callback's non-zero return that stopped us */
    int err;     /* shared loop: the error that stopped us (-ENOMEM) */
    int live;    /* our watches on the loop */
    bool ended;
    /* shared loop: called once when every watch is gone (EOF on all pipes, exit seen) or the
     * callback/an error stopped it; not after lp__comm_stop.  May not free c: the loop may
     * still hold events for its watches until the current lp__loop_run/once returns. */
    void (*on_end)(struct lp__comm *c);
    void *data;
};
/* Put p's pipes (and exit, unless co->no_exit_watch) on loop l.  c->on_end and c->data are
 * kept; with on_end NULL the loop is stopped instead (the lp__communicate way). */
LP_HIDDEN int lp__comm_start(struct lp__comm *c, lp_loop *l, lp_proc *p, const void *in, size_t in_len,
                             lp_buf *out, lp_buf *err, const struct lp__comm_opts *co);
/* Read what the pipes hold now, without waiting. */
LP_HIDDEN void lp__comm_drain(struct lp__comm *c);
/* Take c's watches off its loop (idempotent); on_end is not called. */
LP_HIDDEN void lp__comm_stop(struct lp__comm *c);
/* SIGPIPE blocked in this thread around writes to children, and one we raised consumed. */
struct lp__sigpipe {
    sigset_t set, old;
    bool was_pending;
};
LP_HIDDEN void lp__sigpipe_block(struct lp__sigpipe *s);
LP_HIDDEN void lp__sigpipe_restore(struct lp__sigpipe *s, bool epipe);
/* Enlarge the stdout/stderr pipes of p to 1 MiB (best effort): fewer, larger reads. */
LP_HIDDEN void lp__enlarge_out_pipes(lp_proc *p);
LP_HIDDEN int lp__communicate(lp_proc *p, const void *in, size_t in_len, lp_buf *out, lp_buf *err,
                              const struct lp__comm_opts *co, lp_deadline d, int *rc);

/* ---- pipelines (pipeline.c): for pools that run one ---- */
LP_HIDDEN lp_proc *lp__pipeline_ends(lp_pipeline *pl);            /* fds: the pipeline's ends */
LP_HIDDEN lp_proc *lp__pipeline_stage(lp_pipeline *pl, size_t i); /* NULL before start */
LP_HIDDEN lp_pipeline *lp__pipeline_clone(const lp_pipeline *src); /* stages + options, unstarted */
LP_HIDDEN bool lp__pipeline_started(const lp_pipeline *pl);
LP_HIDDEN void lp__pipeline_stdin_pipe(lp_pipeline *pl); /* first stage's LP_INHERIT stdin -> LP_PIPE */

/* ---- monotonic deadlines (err.c) ---- */
LP_HIDDEN lp_deadline lp__deadline(int timeout_ms);
/* Milliseconds left for poll()/epoll_wait(): -1 for never, 0 when passed (rounded up). */
LP_HIDDEN int lp__remaining_ms(lp_deadline d);
LP_HIDDEN int64_t lp__now_ns(void);

/* ---- error detail (err.c) ---- */
LP_HIDDEN void lp__set_errmsg(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
LP_HIDDEN char *lp__tls_errmsg(void);

/* ---- process exit watching (proc.c): the one place that knows pidfd vs fallback ---- */
LP_HIDDEN bool lp__pidfd_wanted(void);
LP_HIDDEN int lp__exitfd_fallback(pid_t pid); /* fd that becomes readable when pid exits */
LP_HIDDEN int lp__proc_reap(lp_proc *p, bool block); /* 0 reaped, -EAGAIN still running */
LP_HIDDEN int lp__wait_interrupt_fd(void); /* lp_set_wait_interrupt's fd of this thread, or -1 */
/* Is the calling thread's lp_set_wait_interrupt descriptor readable now (poll, no wait)?
 * false when it has none. */
LP_HIDDEN bool lp__wait_interrupted(void);
/* An lp_proc for a child made outside lp_spawn (fork), with its exit watcher; NULL + errno. */
LP_HIDDEN lp_proc *lp__proc_adopt(pid_t pid, bool own_group);
/* An lp_proc with no process (reaped from the start): a holder of ends for communicate. */
LP_HIDDEN lp_proc *lp__proc_ends(void);

#endif
