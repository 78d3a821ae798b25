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
};
/* Enlarge the stdout/stderr pipes of p to 1 MiB (best effort): fewer, larger reads. */
LP_HIDDEN void lp__enlarge_out_pipes(lp_proc *p);
LP_HIDDEN int lp__communicate(lp_proc *p, const void *in, size_t in_len, lp_buf *out, lp_buf *err,
                              const struct lp__comm_opts *co, lp_deadline d, int *rc);

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
/* An lp_proc for a child made outside lp_spawn (fork), with its exit watcher; NULL + errno. */
LP_HIDDEN lp_proc *lp__proc_adopt(pid_t pid, bool own_group);
/* An lp_proc with no process (reaped from the start): a holder of ends for communicate. */
LP_HIDDEN lp_proc *lp__proc_ends(void);

#endif
