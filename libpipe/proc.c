/* Process lifecycle: waiting with deadlines, signals, terminate-then-kill, reaping.
 *
 * A child is watched through one descriptor that becomes readable when it exits: its pidfd
 * (Linux >= 5.3), or, where pidfds are missing (or LIBPIPE_NO_PIDFD=1 is set), the read end
 * of a pipe whose write end a small waiter thread closes when waitid(WNOWAIT) reports the
 * exit.  That fallback is the only place that knows the difference.  No signal handler, no
 * SIGCHLD, no waitpid(-1): we reap exactly our own child, by pid, once it is known to be dead. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

bool lp__pidfd_wanted(void)
{
    const char *e = getenv("LIBPIPE_NO_PIDFD");
    return !(e && *e && strcmp(e, "0") != 0);
}

struct waiter {
    pid_t pid;
    int wfd;
};

static void *waiter_main(void *arg)
{
    struct waiter *w = arg;
    siginfo_t si;
    while (waitid(P_PID, (id_t)w->pid, &si, WEXITED | WNOWAIT) < 0 && errno == EINTR)
        ;
    close(w->wfd); /* EOF on the read end: the child is a zombie (or already reaped) */
    free(w);
    return NULL;
}

int lp__exitfd_fallback(pid_t pid)
{
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) < 0)
        return -errno;
    struct waiter *w = malloc(sizeof *w);
    if (!w) {
        close(pfd[0]);
        close(pfd[1]);
        return -ENOMEM;
    }
    w->pid = pid;
    w->wfd = pfd[1];
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* the waiter never runs the caller's handlers */
    pthread_t t;
    int r = pthread_create(&t, &attr, waiter_main, w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (r != 0) {
        close(pfd[0]);
        close(pfd[1]);
        free(w);
        return -r;
    }
    return pfd[0];
}

int lp__proc_reap(lp_proc *p, bool block)
{
    if (p->reaped)
        return 0;
    for (;;) {
        int st = 0;
        pid_t r = wait4(p->pid, &st, block ? 0 : WNOHANG, &p->ru);
        if (r == p->pid) {
            p->status = st;
            break;
        }
        if (r == 0)
            return -EAGAIN;
        if (errno == EINTR)
            continue;
        /* ECHILD: someone else reaped our child (a waitpid(-1) elsewhere in the program).
         * Its status is lost; report it as killed by SIGKILL rather than as a success. */
        p->status = SIGKILL;
        lp__set_errmsg(p->errmsg, "wait pid %d: %s", (int)p->pid, lp_strerror(-errno));
        break;
    }
    p->reaped = true;
    clock_gettime(CLOCK_MONOTONIC, &p->t_end);
    if (p->exitfd >= 0) {
        close(p->exitfd);
        p->exitfd = -1;
    }
    return 0;
}

lp_proc *lp__proc_ends(void)
{
    lp_proc *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->fds[0] = p->fds[1] = p->fds[2] = -1;
    p->exitfd = -1;
    p->reaped = true;
    return p;
}

lp_proc *lp__proc_adopt(pid_t pid, bool own_group)
{
    lp_proc *p = lp__proc_ends();
    if (!p)
        return NULL;
    p->reaped = false;
    p->pid = pid;
    p->own_group = own_group;
    clock_gettime(CLOCK_MONOTONIC, &p->t_start);
    int fd = lp__pidfd_wanted() ? (int)syscall(SYS_pidfd_open, pid, 0) : -1;
    if (fd >= 0) {
        p->exitfd = fd;
        p->has_pidfd = true;
    } else {
        p->exitfd = lp__exitfd_fallback(pid);
    }
    if (p->exitfd < 0) {
        free(p);
        return NULL;
    }
    return p;
}

static int status_rc(int st)
{
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    if (WIFSIGNALED(st))
        return -WTERMSIG(st);
    return -SIGKILL;
}

pid_t lp_proc_pid(const lp_proc *p)
{
    return p->pid;
}

int lp_proc_fd(const lp_proc *p, int stdio)
{
    if (stdio < 0 || stdio > 2)
        return -1;
    return p->fds[stdio];
}

void lp_proc_close_fd(lp_proc *p, int stdio)
{
    if (stdio >= 0 && stdio <= 2 && p->fds[stdio] >= 0) {
        close(p->fds[stdio]);
        p->fds[stdio] = -1;
    }
}

bool lp_proc_done(const lp_proc *p)
{
    return p->reaped;
}

static _Thread_local int wait_intr_fd = -1;

void lp_set_wait_interrupt(int fd)
{
    wait_intr_fd = fd;
}

int lp__wait_interrupt_fd(void)
{
    return wait_intr_fd;
}

bool lp__wait_interrupted(void)
{
    if (wait_intr_fd < 0)
        return false;
    struct pollfd p = {.fd = wait_intr_fd, .events = POLLIN};
    return poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR));
}

int lp_proc_wait(lp_proc *p, int timeout_ms, int *rc)
{
    if (!p->reaped && timeout_ms < 0 && wait_intr_fd < 0 && p->has_pidfd) {
        /* no deadline and nothing to watch: a blocking wait4 is the whole wait (one syscall
         * instead of poll + wait4: a shell's foreground command pays this on every spawn) */
        lp__proc_reap(p, true);
    }
    if (!p->reaped) {
        lp_deadline d = lp__deadline(timeout_ms);
        for (;;) {
            struct pollfd pf[2] = {{.fd = p->exitfd, .events = POLLIN}, {.fd = wait_intr_fd, .events = POLLIN}};
            int n = poll(pf, wait_intr_fd >= 0 ? 2 : 1, lp__remaining_ms(d));
            if (n > 0 && (pf[0].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)))
                break;
            if (n > 0)
                return -EINTR; /* the interrupt descriptor is readable */
            if (n < 0 && errno != EINTR) {
                int e = -errno;
                lp__set_errmsg(p->errmsg, "wait pid %d: %s", (int)p->pid, lp_strerror(e));
                return e;
            }
            if (n == 0 && lp__remaining_ms(d) == 0)
                return -ETIMEDOUT;
        }
        lp__proc_reap(p, true);
    }
    if (rc)
        *rc = status_rc(p->status);
    return 0;
}

int lp_proc_kill(lp_proc *p, int sig)
{
    if (p->reaped)
        return -ESRCH;
    /* Our child cannot be reaped by anyone but us, so its pid stays ours until we reap it; the
     * pidfd guards even against a stray waitpid(-1) elsewhere in the program. */
    int r = -1;
    if (p->has_pidfd)
        r = (int)syscall(SYS_pidfd_send_signal, p->exitfd, sig, NULL, 0);
    if (!p->has_pidfd || (r < 0 && errno == ENOSYS))
        r = kill(p->pid, sig);
    if (r < 0) {
        int e = -errno;
        lp__set_errmsg(p->errmsg, "kill pid %d: %s", (int)p->pid, lp_strerror(e));
        return e;
    }
    return 0;
}

int lp_proc_kill_group(lp_proc *p, int sig)
{
    if (!p->own_group)
        return lp_proc_kill(p, sig);
    /* While the leader is unreaped (even a zombie) its pid names the group and cannot be
     * reused; after that the group lives as long as any member does. */
    if (kill(-p->pid, sig) < 0) {
        int e = -errno;
        if (e == -ESRCH && !p->reaped)
            return 0; /* every member is already dead; the leader awaits reaping */
        lp__set_errmsg(p->errmsg, "kill group %d: %s", (int)p->pid, lp_strerror(e));
        return e;
    }
    return 0;
}

int lp_proc_terminate(lp_proc *p, int grace_ms, int *rc)
{
    if (!p->reaped) {
        lp_proc_kill_group(p, SIGTERM);
        if (lp_proc_wait(p, grace_ms < 0 ? 0 : grace_ms, NULL) == -ETIMEDOUT) {
            lp_proc_kill_group(p, SIGKILL);
            int r = lp_proc_wait(p, -1, NULL);
            if (r < 0)
                return r;
        }
    }
    return lp_proc_wait(p, 0, rc);
}

const char *lp_proc_errmsg(const lp_proc *p)
{
    return p ? p->errmsg : lp__tls_errmsg();
}

int lp_proc_usage(const lp_proc *p, lp_usage *u)
{
    if (!p->reaped)
        return -EAGAIN;
    u->user_s = (double)p->ru.ru_utime.tv_sec + (double)p->ru.ru_utime.tv_usec / 1e6;
    u->sys_s = (double)p->ru.ru_stime.tv_sec + (double)p->ru.ru_stime.tv_usec / 1e6;
    u->max_rss_kb = p->ru.ru_maxrss;
    u->wall_s = (double)(p->t_end.tv_sec - p->t_start.tv_sec) +
                (double)(p->t_end.tv_nsec - p->t_start.tv_nsec) / 1e9;
    u->core_dumped = WIFSIGNALED(p->status) && WCOREDUMP(p->status);
    return 0;
}

int lp_rc_shell(int rc)
{
    return rc < 0 ? 128 - rc : rc;
}

void lp_proc_free(lp_proc *p)
{
    if (!p)
        return;
    if (!p->reaped) {
        lp_proc_kill(p, SIGKILL);
        lp__proc_reap(p, true);
    }
    for (int i = 0; i < 3; i++) {
        lp_proc_close_fd(p, i);
        lp_buf_free(&p->pend[i]);
    }
    if (p->exitfd >= 0)
        close(p->exitfd);
    free(p->in_own);
    free(p);
}
