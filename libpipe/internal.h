/* libpipe internals shared between modules.  Not installed. */
#ifndef LIBPIPE_INTERNAL_H
#define LIBPIPE_INTERNAL_H

#include "libpipe.h"

#include <stdarg.h>
#include <sys/resource.h>
#include <time.h>

#define LP_HIDDEN __attribute__((visibility("hidden")))
#define LP_ERRMSG_MAX 512

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
    char errmsg[LP_ERRMSG_MAX];
};

/* ---- monotonic deadlines (err.c) ---- */
typedef int64_t lp_deadline; /* CLOCK_MONOTONIC in ns; -1 = never */
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

#endif
