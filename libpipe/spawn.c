/* Process creation: the stdio plan, the fast clone(CLONE_VM|CLONE_VFORK) path, and reporting of
 * failures that happen in the child before exec.
 *
 * The child shares the parent's memory until it execs (vfork semantics), so no page of a large
 * parent is copied, whatever options are set.  It therefore runs only async-signal-safe system
 * calls, allocates nothing, and reports a failure by writing the errno and the failing step into
 * a struct in the parent's memory before _exit(127); the parent reads it when clone() returns,
 * which with CLONE_VFORK is after the child exec'ed or exited.  All signals are blocked around
 * clone() so no handler of the caller can run in the child; the child resets handled signals to
 * SIG_DFL before it restores the mask. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

extern char **environ;

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

#define NO_SAN __attribute__((no_sanitize("address", "undefined"), noinline))

enum step {
    STEP_NONE,
    STEP_SETSID,
    STEP_SETPGID,
    STEP_CTTY,
    STEP_TTY,
    STEP_PDEATHSIG,
    STEP_CHDIR,
    STEP_OPEN,   /* arg: stdio slot */
    STEP_FD,     /* arg: stdio slot */
    STEP_DUP,    /* arg: stdio slot */
    STEP_CLOEXEC,
    STEP_PASSFD, /* arg: index into pass_fds */
    STEP_EXEC,
    STEP_CGROUP,
    STEP_SUBREAPER,
};

struct child {
    const lp_spawn_opts *o;
    char *const *envp;
    const char *path;        /* PATH to search */
    int pipe_end[3];         /* child's end of LP_PIPE slots */
    int pty_slave;           /* -1 if no pty */
    bool set_mask_empty;
    sigset_t mask;           /* mask to restore before exec */
    pid_t ppid;
    uint64_t sig_check;      /* bit sig-1: look at this signal's disposition in the child   */
    uint64_t sig_default;    /* bit sig-1: set this signal to SIG_DFL whatever it was       */
    const char *cg_procs;    /* "<cgroup>/cgroup.procs" to join, or NULL */
    int report_fd;           /* write end of the error pipe, or -1 (see vm_shared)           */
    /* written by the child */
    int shared_probe;        /* set first thing: tells the parent the memory is shared       */
    int err;
    int step;
    int arg;
};

/* Whether clone(CLONE_VM) really shares memory with the child.  It does on Linux; under
 * valgrind (which turns it into a fork) it does not, and a failure written to our memory would
 * be lost.  Until the first spawn has shown which, and forever if it is not shared, the child
 * also reports a failure through a close-on-exec pipe (EOF there means exec succeeded). */
enum { VM_UNKNOWN, VM_SHARED, VM_COPIED };
static int vm_shared = VM_UNKNOWN;

/* The kernel's struct sigaction for rt_sigaction(2): used raw so that no sanitizer interceptor
 * or libc bookkeeping runs in the child. */
struct ksigaction {
    void *handler;
    unsigned long flags;
    void *restorer;
    unsigned long mask;
};

NO_SAN static void child_fail(struct child *c, int step, int arg)
{
    c->err = errno ? errno : EINVAL;
    c->step = step;
    c->arg = arg;
    if (c->report_fd >= 0) {
        int rec[3] = {c->err, c->step, c->arg};
        while (write(c->report_fd, rec, sizeof rec) < 0 && errno == EINTR)
            ;
    }
    _exit(127);
}

NO_SAN static void child_reset_signals(struct child *c)
{
    for (int sig = 1; sig < 65; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP || !(c->sig_check & (1ULL << (sig - 1))))
            continue;
        struct ksigaction old;
        if (syscall(SYS_rt_sigaction, sig, NULL, &old, 8) != 0)
            continue;
        bool reset = old.handler != (void *)SIG_DFL && old.handler != (void *)SIG_IGN;
        if (c->sig_default & (1ULL << (sig - 1)))
            reset = old.handler != (void *)SIG_DFL;
        if (old.handler == (void *)SIG_IGN && (sig == SIGPIPE || sig == SIGXFSZ))
            reset = !c->o->keep_sigpipe;
        if (reset) {
            struct ksigaction dfl = {(void *)SIG_DFL, 0, NULL, 0};
            syscall(SYS_rt_sigaction, sig, &dfl, NULL, 8);
        }
    }
}

/* Mark every descriptor >= lo close-on-exec, or close it.  close_range(2) where the kernel has
 * it (5.11); otherwise walk /proc/self/fd with getdents64 (no allocation), or as a last resort
 * every number below RLIMIT_NOFILE.  Safe in a vfork child. */
NO_SAN static int fds_from(int lo, bool close_them)
{
    if (syscall(SYS_close_range, (unsigned)lo, ~0U, close_them ? 0 : CLOSE_RANGE_CLOEXEC) == 0)
        return 0;
    int dfd = (int)syscall(SYS_open, "/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        char buf[1024] __attribute__((aligned(8)));
        long n;
        while ((n = syscall(SYS_getdents64, dfd, buf, sizeof buf)) > 0) {
            for (long off = 0; off < n;) {
                unsigned short reclen = *(unsigned short *)(buf + off + 16);
                const char *name = buf + off + 19;
                int fd = 0;
                bool num = *name != 0;
                for (const char *s = name; *s; s++) {
                    if (*s < '0' || *s > '9') {
                        num = false;
                        break;
                    }
                    fd = fd * 10 + (*s - '0');
                }
                if (num && fd >= lo && fd != dfd) {
                    if (close_them)
                        syscall(SYS_close, fd);
                    else
                        syscall(SYS_fcntl, fd, F_SETFD, FD_CLOEXEC);
                }
                off += reclen;
            }
        }
        syscall(SYS_close, dfd);
        return n < 0 ? -1 : 0;
    }
    struct rlimit rl;
    long max = 65536;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && (long)rl.rlim_cur < max)
        max = (long)rl.rlim_cur;
    for (long fd = lo; fd < max; fd++) {
        if (close_them)
            syscall(SYS_close, (int)fd);
        else
            syscall(SYS_fcntl, (int)fd, F_SETFD, FD_CLOEXEC);
    }
    return 0;
}

void lp__close_from(int lo)
{
    fds_from(lo, true);
}

/* Search PATH as execvp does (no /bin/sh fallback for ENOEXEC), with a stack buffer. */
NO_SAN static void child_exec(struct child *c)
{
    char *const *argv = c->o->argv;
    const char *file = c->o->exec_path ? c->o->exec_path : argv[0];
    bool slash = c->o->exec_path != NULL;
    size_t flen = 0;
    for (const char *s = file; *s; s++, flen++)
        slash |= *s == '/';
    if (slash || flen == 0) {
        errno = flen ? 0 : ENOENT;
        if (flen)
            execve(file, argv, c->envp);
        child_fail(c, STEP_EXEC, 0);
    }
    char buf[PATH_MAX];
    bool eacces = false;
    const char *p = c->path;
    for (;;) {
        const char *e = p;
        while (*e && *e != ':')
            e++;
        size_t dlen = (size_t)(e - p);
        if (dlen + 1 + flen + 1 <= sizeof buf) {
            size_t k = 0;
            if (dlen == 0)
                buf[k++] = '.';
            for (size_t i = 0; i < dlen; i++)
                buf[k++] = p[i];
            buf[k++] = '/';
            for (size_t i = 0; i <= flen; i++)
                buf[k++] = file[i];
            execve(buf, argv, c->envp);
            switch (errno) {
            case EACCES:
                eacces = true;
                break;
            case ENOENT: case ENOTDIR: case ESTALE: case ENODEV: case ETIMEDOUT: case ELOOP:
            case ENAMETOOLONG:
                break;
            default:
                child_fail(c, STEP_EXEC, 0);
            }
        }
        if (!*e)
            break;
        p = e + 1;
    }
    errno = eacces ? EACCES : ENOENT;
    child_fail(c, STEP_EXEC, 0);
}

NO_SAN static int child_main(void *arg)
{
    struct child *c = arg;
    const lp_spawn_opts *o = c->o;

    c->shared_probe = 1;
    child_reset_signals(c);

    if (o->new_session || o->pty) {
        if (setsid() < 0)
            child_fail(c, STEP_SETSID, 0);
    } else if (o->pgroup != LP_PGROUP_INHERIT) {
        if (setpgid(0, o->pgroup == LP_PGROUP_NEW ? 0 : o->pgroup) < 0)
            child_fail(c, STEP_SETPGID, 0);
    }
    if (c->cg_procs) { /* writing "0" moves the writer */
        int fd = open(c->cg_procs, O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, "0", 1) != 1)
            child_fail(c, STEP_CGROUP, 0);
        close(fd);
    }
    if (c->pty_slave >= 0 && ioctl(c->pty_slave, TIOCSCTTY, 0) < 0)
        child_fail(c, STEP_CTTY, 0);
    if (o->tty_foreground) {
        /* every signal is blocked here, so a background group may do this without SIGTTOU */
        pid_t pg = getpgid(0);
        if (ioctl(o->tty_fd, TIOCSPGRP, &pg) < 0)
            child_fail(c, STEP_TTY, 0);
    }
    if (o->child_subreaper && prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
        child_fail(c, STEP_SUBREAPER, 0);
    if (o->die_with_parent) {
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
            child_fail(c, STEP_PDEATHSIG, 0);
        if (getppid() != c->ppid)
            _exit(127);
    }
    if (o->set_umask)
        umask(o->umask);
    if (o->cwd && chdir(o->cwd) < 0)
        child_fail(c, STEP_CHDIR, 0);

    /* Sources of the three slots, all moved to numbers >= 3 so no dup2 clobbers another. */
    const lp_stdio *plan[3] = {&o->in, &o->out, &o->err};
    int src[3] = {-1, -1, -1};
    for (int i = 0; i < 3; i++) {
        bool opened = false;
        switch (plan[i]->kind) {
        case LP_STDIO_INHERIT:
            src[i] = c->pty_slave;
            break;
        case LP_STDIO_PIPE:
            src[i] = c->pipe_end[i];
            break;
        case LP_STDIO_DEVNULL:
            src[i] = open("/dev/null", O_RDWR | O_CLOEXEC);
            if (src[i] < 0)
                child_fail(c, STEP_OPEN, i);
            opened = true;
            break;
        case LP_STDIO_PATH:
            src[i] = open(plan[i]->path, plan[i]->flags | O_CLOEXEC, 0666);
            if (src[i] < 0)
                child_fail(c, STEP_OPEN, i);
            opened = true;
            break;
        case LP_STDIO_FD:
            src[i] = plan[i]->fd;
            if (fcntl(src[i], F_GETFD) < 0)
                child_fail(c, STEP_FD, i);
            break;
        case LP_STDIO_STDOUT:
            break;
        }
        if (src[i] >= 0 && src[i] < 3) {
            int moved = fcntl(src[i], F_DUPFD_CLOEXEC, 3);
            if (moved < 0)
                child_fail(c, STEP_DUP, i);
            if (opened)
                close(src[i]);
            src[i] = moved;
        }
    }
    for (int i = 0; i < 3; i++)
        if (src[i] >= 0 && dup2(src[i], i) < 0)
            child_fail(c, STEP_DUP, i);
    if (plan[2]->kind == LP_STDIO_STDOUT && dup2(1, 2) < 0)
        child_fail(c, STEP_DUP, 2);

    if (fds_from(3, false) < 0)
        child_fail(c, STEP_CLOEXEC, 0);
    for (size_t i = 0; i < o->n_pass_fds; i++)
        if (fcntl(o->pass_fds[i], F_SETFD, 0) < 0)
            child_fail(c, STEP_PASSFD, (int)i);

    if (c->set_mask_empty)
        sigemptyset(&c->mask);
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &c->mask, NULL, 8);

    child_exec(c);
    return 127;
}

/* ---- parent side ------------------------------------------------------------------------- */

static const char *slot_name(int i)
{
    return i == 0 ? "stdin" : i == 1 ? "stdout" : "stderr";
}

static const lp_stdio *slot_plan(const lp_spawn_opts *o, int i)
{
    return i == 0 ? &o->in : i == 1 ? &o->out : &o->err;
}

static void describe_failure(char *msg, const struct child *c, const lp_spawn_opts *o)
{
    const char *why = lp_strerror(-c->err);
    switch (c->step) {
    case STEP_SETSID:
        lp__set_errmsg(msg, "setsid: %s", why);
        break;
    case STEP_SETPGID:
        lp__set_errmsg(msg, "setpgid %d: %s", (int)o->pgroup, why);
        break;
    case STEP_CTTY:
        lp__set_errmsg(msg, "pty: controlling terminal: %s", why);
        break;
    case STEP_TTY:
        lp__set_errmsg(msg, "tty_foreground: fd %d: %s", o->tty_fd, why);
        break;
    case STEP_PDEATHSIG:
        lp__set_errmsg(msg, "die_with_parent: %s", why);
        break;
    case STEP_CHDIR:
        lp__set_errmsg(msg, "chdir '%s': %s", o->cwd, why);
        break;
    case STEP_OPEN: {
        const lp_stdio *s = slot_plan(o, c->arg);
        lp__set_errmsg(msg, "%s: open '%s': %s", slot_name(c->arg),
                       s->kind == LP_STDIO_PATH ? s->path : "/dev/null", why);
        break;
    }
    case STEP_FD: {
        const lp_stdio *s = slot_plan(o, c->arg);
        lp__set_errmsg(msg, "%s: fd %d: %s", slot_name(c->arg), s->fd, why);
        break;
    }
    case STEP_DUP:
        lp__set_errmsg(msg, "%s: dup: %s", slot_name(c->arg), why);
        break;
    case STEP_CLOEXEC:
        lp__set_errmsg(msg, "closing inherited descriptors: %s", why);
        break;
    case STEP_PASSFD:
        lp__set_errmsg(msg, "pass_fds: fd %d: %s", o->pass_fds[c->arg], why);
        break;
    case STEP_EXEC: {
        const char *prog = o->exec_path ? o->exec_path : o->argv[0];
        struct stat st;
        bool dir = c->err == EACCES && strchr(prog, '/') && stat(prog, &st) == 0 && S_ISDIR(st.st_mode);
        lp__set_errmsg(msg, "exec '%s': %s%s", prog, why, dir ? " (is a directory)" : "");
        break;
    }
    case STEP_SUBREAPER:
        lp__set_errmsg(msg, "child_subreaper: %s", why);
        break;
    case STEP_CGROUP:
        lp__set_errmsg(msg, "cgroup '%s': %s", o->cgroup, why);
        break;
    default:
        lp__set_errmsg(msg, "spawn '%s': %s", o->argv[0], why);
    }
}

static bool env_name_eq(const char *a, const char *b)
{
    /* a, b: "NAME=VALUE" or "NAME" */
    while (*a && *a != '=' && *a == *b)
        a++, b++;
    return (*a == '=' || !*a) && (*b == '=' || !*b);
}

/* environ + overrides; returns a malloc'ed array of borrowed strings (or NULL on ENOMEM). */
static char **env_merge(char *const *base, char *const *set)
{
    size_t nb = 0, ns = 0;
    while (base && base[nb])
        nb++;
    while (set[ns])
        ns++;
    char **env = malloc((nb + ns + 1) * sizeof *env);
    if (!env)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < nb; i++) {
        bool overridden = false;
        for (size_t j = 0; j < ns && !overridden; j++)
            overridden = env_name_eq(base[i], set[j]);
        if (!overridden)
            env[n++] = base[i];
    }
    for (size_t j = 0; j < ns; j++) {
        bool later = false; /* the last override of a name wins */
        for (size_t k = j + 1; k < ns && !later; k++)
            later = env_name_eq(set[j], set[k]);
        if (!later && strchr(set[j], '='))
            env[n++] = set[j];
    }
    env[n] = NULL;
    return env;
}

static const char *env_path(char *const *env)
{
    for (size_t i = 0; env && env[i]; i++)
        if (strncmp(env[i], "PATH=", 5) == 0)
            return env[i] + 5;
    return "/bin:/usr/bin";
}

static int open_pty(int *master, int *slave)
{
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0)
        return -errno;
    char name[128];
    if (grantpt(m) < 0 || unlockpt(m) < 0 || ptsname_r(m, name, sizeof name) != 0) {
        int e = errno;
        close(m);
        return -e;
    }
    int s = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (s < 0) {
        int e = errno;
        close(m);
        return -e;
    }
    struct winsize ws = {.ws_row = 24, .ws_col = 80};
    ioctl(m, TIOCSWINSZ, &ws);
    *master = m;
    *slave = s;
    return 0;
}

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

static int fail(char *msg, int err, const char *fmt, const char *arg)
{
    lp__set_errmsg(msg, fmt, arg, lp_strerror(err));
    return err;
}

int lp_spawn(lp_proc **out, const lp_spawn_opts *o)
{
    char *msg = lp__tls_errmsg();
    *out = NULL;
    msg[0] = 0;
    if (!o || !o->argv || !o->argv[0])
        return fail(msg, -EINVAL, "spawn: %s%s", "no argv: ");
    if (o->in.kind == LP_STDIO_STDOUT || o->out.kind == LP_STDIO_STDOUT)
        return fail(msg, -EINVAL, "spawn '%s': LP_STDOUT is only for stderr: %s", o->argv[0]);
    const lp_stdio *plan[3] = {&o->in, &o->out, &o->err};
    for (int i = 0; i < 3; i++)
        if (plan[i]->kind == LP_STDIO_PATH && !plan[i]->path)
            return fail(msg, -EINVAL, "spawn '%s': LP_PATH without a path: %s", o->argv[0]);
    if (o->pty && (o->in.kind == LP_STDIO_PIPE || o->out.kind == LP_STDIO_PIPE))
        return fail(msg, -EINVAL, "spawn '%s': with a pty, stdin/stdout pipes are its master: %s",
                    o->argv[0]);
    for (size_t i = 0; i < o->n_pass_fds; i++)
        if (!o->pass_fds || o->pass_fds[i] < 3)
            return fail(msg, -EINVAL, "spawn '%s': pass_fds must be >= 3: %s", o->argv[0]);

    lp_proc *p = calloc(1, sizeof *p);
    if (!p)
        return fail(msg, -ENOMEM, "spawn '%s': %s", o->argv[0]);
    p->fds[0] = p->fds[1] = p->fds[2] = -1;
    p->exitfd = -1;

    struct child c = {.o = o, .pipe_end = {-1, -1, -1}, .pty_slave = -1,
                      .ppid = o->die_with_parent ? getpid() : 0, .sig_check = ~0ULL, .set_mask_empty = o->reset_sigmask, .report_fd = -1};
    if (o->handled_signals) {
        /* only the caller's handlers (and SIGPIPE/SIGXFSZ, for keep_sigpipe) need a look */
        c.sig_check = (1ULL << (SIGPIPE - 1)) | (1ULL << (SIGXFSZ - 1));
        for (int sig = 1; sig < 65; sig++)
            if (sigismember(o->handled_signals, sig) == 1)
                c.sig_check |= 1ULL << (sig - 1);
    }
    if (o->sigdefault) {
        for (int sig = 1; sig < 65; sig++)
            if (sig != SIGKILL && sig != SIGSTOP && sigismember(o->sigdefault, sig) == 1)
                c.sig_default |= 1ULL << (sig - 1);
        c.sig_check |= c.sig_default;
    }
    int report_rd = -1;
    int vm = __atomic_load_n(&vm_shared, __ATOMIC_RELAXED);
    char **merged = NULL, *cg_procs = NULL;
    int err = 0;

    char *const *base = o->env ? o->env : environ;
    if (o->env_set) {
        merged = env_merge(base, o->env_set);
        if (!merged) {
            err = -ENOMEM;
            goto out_err;
        }
        c.envp = merged;
    } else {
        c.envp = base;
    }
    c.path = env_path(c.envp);
    if (o->cgroup) {
        size_t n = strlen(o->cgroup) + sizeof "/cgroup.procs";
        cg_procs = malloc(n);
        if (!cg_procs) {
            err = -ENOMEM;
            goto out_err;
        }
        snprintf(cg_procs, n, "%s/cgroup.procs", o->cgroup);
        c.cg_procs = cg_procs;
    }

    if (o->pty && (err = open_pty(&p->fds[0], &c.pty_slave)) < 0) {
        lp__set_errmsg(msg, "spawn '%s': pty: %s", o->argv[0], lp_strerror(err));
        goto out_err;
    }
    for (int i = 0; i < 3; i++) {
        if (plan[i]->kind != LP_STDIO_PIPE)
            continue;
        int pfd[2];
        if (pipe2(pfd, O_CLOEXEC) < 0) {
            err = -errno;
            lp__set_errmsg(msg, "spawn '%s': %s pipe: %s", o->argv[0], slot_name(i), lp_strerror(err));
            goto out_err;
        }
        p->fds[i] = i == 0 ? pfd[1] : pfd[0];
        c.pipe_end[i] = i == 0 ? pfd[0] : pfd[1];
    }

    if (vm != VM_SHARED) {
        int rp[2];
        if (pipe2(rp, O_CLOEXEC) < 0) {
            err = -errno;
            lp__set_errmsg(msg, "spawn '%s': pipe: %s", o->argv[0], lp_strerror(err));
            goto out_err;
        }
        report_rd = rp[0];
        c.report_fd = rp[1];
    }

    /* Block every signal so none of the caller's handlers runs in the child (which shares our
     * memory); the child restores this mask (or an empty one) just before exec. */
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &c.mask);

    /* The child's stack lives in this frame: we are suspended until it execs or exits. */
    char stack[32768] __attribute__((aligned(16)));
    char *top = stack + sizeof stack;
    int pidfd = -1;
    bool want_pidfd = lp__pidfd_wanted();
    clock_gettime(CLOCK_MONOTONIC, &p->t_start);
    int flags = CLONE_VM | CLONE_VFORK | SIGCHLD;
    pid_t pid = clone(child_main, top, flags | (want_pidfd ? CLONE_PIDFD : 0), &c, &pidfd);
    if (pid < 0 && want_pidfd && errno == EINVAL) { /* kernel without CLONE_PIDFD */
        want_pidfd = false;
        pid = clone(child_main, top, flags, &c, NULL);
    }
    int clone_errno = errno;
    pthread_sigmask(SIG_SETMASK, &c.mask, NULL);

    for (int i = 0; i < 3; i++)
        close_fd(&c.pipe_end[i]);
    close_fd(&c.pty_slave);
    close_fd(&c.report_fd);
    free(merged);
    merged = NULL;
    free(cg_procs);
    cg_procs = NULL;

    if (pid >= 0 && vm != VM_SHARED) {
        __atomic_store_n(&vm_shared, c.shared_probe ? VM_SHARED : VM_COPIED, __ATOMIC_RELAXED);
        if (!c.shared_probe) { /* the child's writes did not reach us: read the pipe */
            int rec[3];
            ssize_t n;
            while ((n = read(report_rd, rec, sizeof rec)) < 0 && errno == EINTR)
                ;
            if (n == (ssize_t)sizeof rec) {
                c.err = rec[0];
                c.step = rec[1];
                c.arg = rec[2];
            }
        }
    }
    close_fd(&report_rd);

    if (pid < 0) {
        err = -clone_errno;
        lp__set_errmsg(msg, "spawn '%s': clone: %s", o->argv[0], lp_strerror(err));
        goto out_err;
    }
    p->pid = pid;
    if (c.err) {
        /* The child has already exited (_exit(127)): reap it so nothing is left behind. */
        int st;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
        if (pidfd >= 0)
            close(pidfd);
        err = -c.err;
        describe_failure(msg, &c, o);
        goto out_err;
    }
    if (want_pidfd) {
        p->exitfd = pidfd;
        p->has_pidfd = true;
    } else {
        p->exitfd = lp__exitfd_fallback(pid);
        if (p->exitfd < 0) { /* cannot watch it: do not leave it running */
            err = p->exitfd;
            kill(pid, SIGKILL);
            int st;
            while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                ;
            lp__set_errmsg(msg, "spawn '%s': exit watcher: %s", o->argv[0], lp_strerror(err));
            goto out_err;
        }
    }
    p->own_group = o->new_session || o->pty || o->pgroup == LP_PGROUP_NEW;
    p->is_pty = o->pty;
    *out = p;
    return 0;

out_err:
    free(merged);
    free(cg_procs);
    close_fd(&report_rd);
    close_fd(&c.report_fd);
    for (int i = 0; i < 3; i++) {
        close_fd(&c.pipe_end[i]);
        close_fd(&p->fds[i]);
    }
    close_fd(&c.pty_slave);
    free(p);
    if (!msg[0])
        lp__set_errmsg(msg, "spawn '%s': %s", o->argv[0], lp_strerror(err));
    return err;
}

/* ---- deep copies of spawn options (pipelines, pools) ------------------------------------------------------------- */

static void strv_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

static char **strv_dup(char *const *v)
{
    if (!v)
        return NULL;
    size_t n = 0;
    while (v[n])
        n++;
    char **c = calloc(n + 1, sizeof *c);
    for (size_t i = 0; c && i < n; i++)
        if (!(c[i] = strdup(v[i]))) {
            strv_free(c);
            return NULL;
        }
    return c;
}

void lp__opts_free(lp_spawn_opts *o)
{
    strv_free((char **)o->argv);
    strv_free((char **)o->env);
    strv_free((char **)o->env_set);
    free((char *)o->cwd);
    free((char *)o->in.path);
    free((char *)o->out.path);
    free((char *)o->err.path);
    free((int *)o->pass_fds);
    free((char *)o->cgroup);
    free((char *)o->exec_path);
    free((sigset_t *)o->handled_signals);
    free((sigset_t *)o->sigdefault);
}

static sigset_t *sigset_dup(const sigset_t *set)
{
    sigset_t *d = set ? malloc(sizeof *d) : NULL;
    if (d)
        *d = *set;
    return d;
}

int lp__opts_copy(lp_spawn_opts *d, const lp_spawn_opts *s)
{
    *d = *s;
    d->argv = strv_dup(s->argv);
    d->env = strv_dup(s->env);
    d->env_set = strv_dup(s->env_set);
    d->cwd = s->cwd ? strdup(s->cwd) : NULL;
    d->in.path = s->in.path ? strdup(s->in.path) : NULL;
    d->out.path = s->out.path ? strdup(s->out.path) : NULL;
    d->err.path = s->err.path ? strdup(s->err.path) : NULL;
    d->cgroup = s->cgroup ? strdup(s->cgroup) : NULL;
    d->exec_path = s->exec_path ? strdup(s->exec_path) : NULL;
    d->handled_signals = sigset_dup(s->handled_signals);
    d->sigdefault = sigset_dup(s->sigdefault);
    d->pass_fds = NULL;
    if (s->n_pass_fds) {
        int *f = malloc(s->n_pass_fds * sizeof *f);
        if (f)
            memcpy(f, s->pass_fds, s->n_pass_fds * sizeof *f);
        d->pass_fds = f;
    }
    if ((s->argv && !d->argv) || (s->env && !d->env) || (s->env_set && !d->env_set) || (s->cwd && !d->cwd) ||
        (s->in.path && !d->in.path) || (s->out.path && !d->out.path) ||
        (s->err.path && !d->err.path) || (s->cgroup && !d->cgroup) || (s->exec_path && !d->exec_path) ||
        (s->handled_signals && !d->handled_signals) || (s->sigdefault && !d->sigdefault) ||
        (s->n_pass_fds && !d->pass_fds)) {
        lp__opts_free(d);
        return -ENOMEM;
    }
    return 0;
}
