/* pshell — the executor: AST -> libpipe calls.
 *
 * An external simple command is one lp_spawn; a pipeline is one lp_pipeline whose builtin,
 * function or compound stages are function stages (a forked child running the AST, as sh
 * runs them in subshells); $(...) is an lp_run (one external command) or an lp_pipeline with
 * a function stage, captured; ( ... ) and background lists are function stages too.  The shell
 * forks nothing by hand.  Redirections of commands run in the shell are applied to the shell's
 * descriptors and undone afterwards; the shell's own descriptors live at >= 10, close-on-exec. */
#include "libpipe.h"
#include "shell.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

shell sh;
static void hangup_stopped_jobs(void);

void sh_error(const char *fmt, ...)
{
    sh_flush();
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(stderr, "pshell: %s\n", buf);
}

void sh_flush(void)
{
    if (fflush(stdout) != 0)
        clearerr(stdout);
}

/* ---- command lookup (a cache of PATH searches, dropped when PATH changes) ------------------ */
#define HASH_N 128
static struct { char *name, *path; int script; } cmdhash[HASH_N];
static char *hash_path_value;

void hash_clear(void);
void hash_print(void);
void hash_clear(void)
{
    for (int i = 0; i < HASH_N; i++) {
        free(cmdhash[i].name);
        free(cmdhash[i].path);
        cmdhash[i].name = cmdhash[i].path = NULL;
    }
}

void hash_print(void)
{
    for (int i = 0; i < HASH_N; i++)
        if (cmdhash[i].path)
            printf("%s\n", cmdhash[i].path);
}

static void hash_check(void)
{
    const char *p = var_get("PATH");
    if (!p)
        p = "";
    if (hash_path_value && strcmp(hash_path_value, p) == 0)
        return;
    hash_clear();
    free(hash_path_value);
    hash_path_value = xstrdup(p);
}

static bool is_exec_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0;
}

/* search one PATH value, no cache */
static char *search_in(const char *name, const char *p)
{
    size_t nl = strlen(name);
    for (;;) {
        const char *e = strchrnul(p, ':');
        size_t dl = (size_t)(e - p);
        char *full = xmalloc(dl + nl + 3);
        if (dl == 0)
            strcpy(full, ".");
        else {
            memcpy(full, p, dl);
            full[dl] = 0;
        }
        strcat(full, "/");
        strcat(full, name);
        if (is_exec_file(full))
            return full;
        free(full);
        if (!*e)
            return NULL;
        p = e + 1;
    }
}

char *path_search(const char *name)
{
    if (strchr(name, '/'))
        return xstrdup(name);
    hash_check();
    size_t h = 5381;
    for (const char *c = name; *c; c++)
        h = h * 33 + (unsigned char)*c;
    h %= HASH_N;
    /* a remembered path is used as is (as sh's hash does; `hash -r` forgets) */
    if (cmdhash[h].name && strcmp(cmdhash[h].name, name) == 0)
        return xstrdup(cmdhash[h].path);
    char *full = search_in(name, hash_path_value);
    if (full) {
        free(cmdhash[h].name);
        free(cmdhash[h].path);
        cmdhash[h].name = xstrdup(name);
        cmdhash[h].path = xstrdup(full);
        cmdhash[h].script = -1;
    }
    return full;
}

/* A text file without "#!": execve fails with ENOEXEC and sh runs it itself.  Known before
 * the spawn, so pipeline stages, $(...) and timeout start it with this shell directly (a
 * failed exec would fail the whole pipeline).  Cached with the PATH search. */
static bool plain_script(const char *name, const char *path)
{
    int *cached = NULL;
    if (!strchr(name, '/')) {
        size_t h = 5381;
        for (const char *c = name; *c; c++)
            h = h * 33 + (unsigned char)*c;
        h %= HASH_N;
        if (cmdhash[h].name && strcmp(cmdhash[h].name, name) == 0 && strcmp(cmdhash[h].path, path) == 0) {
            if (cmdhash[h].script >= 0)
                return cmdhash[h].script;
            cached = &cmdhash[h].script;
        }
    }
    char b[4] = {0};
    if (access(path, X_OK) != 0)
        return false; /* the exec fails (126), as it should */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, b, sizeof b) : -1;
    if (fd >= 0)
        close(fd);
    bool script = n >= 0 && !(n >= 2 && b[0] == '#' && b[1] == '!') &&
                  !(n == 4 && memcmp(b, "\177ELF", 4) == 0);
    if (cached)
        *cached = script;
    return script;
}

/* the whole content of a descriptor (malloc'd, NUL-terminated), or NULL with errno */
char *sh_read_fd(int fd, size_t *len)
{
    size_t cap = 8192, n = 0;
    char *b = xmalloc(cap);
    for (;;) {
        if (n + 1 >= cap)
            b = xrealloc(b, cap *= 2);
        ssize_t r = read(fd, b + n, cap - n - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            free(b);
            errno = e;
            return NULL;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    b[n] = 0;
    *len = n;
    return b;
}

/* ---- descriptors: the user's 0..9, saved copies, and what children get ---------------------- */
/* Descriptors 3..9 belong to the user.  Those the user has not opened hold a close-on-exec
 * placeholder (/dev/null), so every descriptor the shell or libpipe opens (pidfds, pipes,
 * saved copies) lands at 10 or above and a user redirection can never clobber one. */
static unsigned userfds; /* bit k: fd k (3..9) is open for the user */
/* job control state used by base_opts (set up by sh_jobctl_init) */
static int tty_fd = -1;
static sigset_t jobsigs;
static bool stages_fg; /* the stages being added belong to a foreground job */
static sigset_t handled; /* signals with our handler: all a child must reset (lp_spawn hint) */
static int nullfd = -1;

void sh_fd_init(void)
{
    for (int k = 3; k < 10; k++)
        if (fcntl(k, F_GETFD) >= 0)
            userfds |= 1u << k;
    int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return;
    nullfd = fcntl(fd, F_DUPFD_CLOEXEC, 10);
    close(fd);
    for (int k = 3; k < 10 && nullfd >= 0; k++)
        if (!(userfds & (1u << k)))
            dup3(nullfd, k, O_CLOEXEC);
}

/* close a user descriptor (3..9 get their placeholder back) */
static void fd_close(int fd)
{
    if (fd >= 3 && fd < 10 && nullfd >= 0)
        dup3(nullfd, fd, O_CLOEXEC);
    else
        close(fd);
}

static bool fd_is_open(int fd)
{
    if (fd >= 3 && fd < 10)
        return userfds & (1u << fd);
    return fd >= 0 && fd < 3 && fcntl(fd, F_GETFD) >= 0;
}

static int pass_list(int *v)
{
    int n = 0;
    for (int k = 3; k < 10; k++)
        if (userfds & (1u << k))
            v[n++] = k;
    return n;
}

/* spawn options every external command shares: argv, the program, the environment, the
 * user's descriptors, the handled-signals hint */
static bool plain_script(const char *name, const char *path);
/* owned != NULL: a script without #! is started as `pshell script args` (needed where a
 * failed exec cannot be retried: pipeline stages, $(...), timeout); *owned is then an argv
 * allocated here, to free after the spawn.  A simple command passes NULL and retries on
 * ENOEXEC instead, which costs nothing when the file is a program. */
static void base_opts(lp_spawn_opts *o, char **argv, const char *path, int pass[8], char ***owned)
{
    if (owned)
        *owned = NULL;
    o->argv = argv;
    o->exec_path = path;
    if (owned && path && plain_script(argv[0], path)) {
        *owned = script_argv(argv, path);
        o->argv = *owned;
        o->exec_path = sh_self_exe();
    }
    o->env = var_environ();
    o->pass_fds = pass;
    o->n_pass_fds = (size_t)pass_list(pass);
    o->handled_signals = &handled;
    if (sh.monitor) {
        o->sigdefault = &jobsigs;
        o->tty_foreground = stages_fg && tty_fd >= 0;
        o->tty_fd = tty_fd;
    }
}

typedef struct undo {
    struct { int fd, saved; bool was_user; } v[32];
    int n;
} undo;

static void undo_redirs(undo *u)
{
    if (!u)
        return;
    sh_flush();
    for (int i = u->n - 1; i >= 0; i--) {
        int fd = u->v[i].fd;
        if (u->v[i].saved >= 0) {
            bool user = fd < 3 || u->v[i].was_user;
            dup3(u->v[i].saved, fd, user ? 0 : O_CLOEXEC);
            close(u->v[i].saved);
        } else
            fd_close(fd);
        if (fd >= 3 && fd < 10) {
            if (u->v[i].was_user)
                userfds |= 1u << fd;
            else
                userfds &= ~(1u << fd);
        }
    }
    u->n = 0;
}

static void save_fd(undo *u, int fd)
{
    if (!u)
        return;
    for (int i = 0; i < u->n; i++)
        if (u->v[i].fd == fd)
            return; /* the first saved copy is the one to restore */
    if (u->n == 32)
        return;
    int s = fcntl(fd, F_DUPFD_CLOEXEC, 10);
    u->v[u->n].fd = fd;
    u->v[u->n].saved = s;
    u->v[u->n].was_user = fd >= 3 && fd < 10 && (userfds & (1u << fd));
    u->n++;
}

static void mark_fd(int fd, bool open_)
{
    if (fd >= 3 && fd < 10) {
        if (open_)
            userfds |= 1u << fd;
        else
            userfds &= ~(1u << fd);
    }
}

int sh_write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* a descriptor holding `data` from its start (a memfd: any size, no writer needed) */
static int data_fd(const char *data, size_t n)
{
    int fd = memfd_create("pshell-heredoc", MFD_CLOEXEC);
    if (fd < 0) {
        char tmpl[] = "/tmp/pshell-hdXXXXXX";
        fd = mkostemp(tmpl, O_CLOEXEC);
        if (fd < 0)
            return -1;
        unlink(tmpl);
    }
    if (sh_write_all(fd, data, n) < 0) {
        close(fd);
        return -1;
    }
    lseek(fd, 0, SEEK_SET);
    return fd;
}

/* Apply redirections (u == NULL: permanently, for exec).  0, or 1 after a reported error (the
 * ones applied are undone). */
static int apply_redirs(redir *r, undo *u)
{
    sh_flush();
    for (; r; r = r->next) {
        int fd = r->fd;
        int nfd = -1;
        if (fd > 9) {
            sh_error("%d: bad file descriptor number (0 to 9)", fd);
            goto fail;
        }
        save_fd(u, fd); /* before anything can land on fd */
        if (r->op == R_HEREDOC) {
            char *body = r->hd_expand ? expand_heredoc(r->body) : xstrdup(r->body);
            if (!body)
                goto fail;
            nfd = data_fd(body, strlen(body));
            free(body);
            if (nfd < 0) {
                sh_error("here-document: %s", strerror(errno));
                goto fail;
            }
        } else {
            char *w = expand_str(r->word);
            if (!w)
                goto fail;
            if (r->op == R_DUPIN || r->op == R_DUPOUT) {
                if (strcmp(w, "-") == 0) {
                    free(w);
                    fd_close(fd);
                    mark_fd(fd, false);
                    continue;
                }
                char *end;
                long m = strtol(w, &end, 10);
                if (!*w || *end || m < 0 || m > INT_MAX) {
                    sh_error("%s: bad file descriptor number", w);
                    free(w);
                    goto fail;
                }
                free(w);
                if (m == fd)
                    continue;
                if (!fd_is_open((int)m)) {
                    sh_error("%ld: %s", m, strerror(EBADF));
                    goto fail;
                }
                if (dup2((int)m, fd) < 0) {
                    sh_error("%d: %s", fd, strerror(errno));
                    goto fail;
                }
                mark_fd(fd, true);
                continue;
            }
            int flags = O_CLOEXEC;
            switch (r->op) {
            case R_IN: flags |= O_RDONLY; break;
            case R_OUT:
                flags |= O_WRONLY | O_CREAT | O_TRUNC;
                if (sh.noclobber) {
                    struct stat st;
                    if (stat(w, &st) == 0 && S_ISREG(st.st_mode)) {
                        sh_error("%s: cannot overwrite existing file", w);
                        free(w);
                        goto fail;
                    }
                }
                break;
            case R_CLOBBER: flags |= O_WRONLY | O_CREAT | O_TRUNC; break;
            case R_APPEND: flags |= O_WRONLY | O_CREAT | O_APPEND; break;
            case R_RDWR: flags |= O_RDWR | O_CREAT; break;
            default: break;
            }
            nfd = open(w, flags, 0666);
            if (nfd < 0) {
                sh_error("%s: %s", w, strerror(errno));
                free(w);
                goto fail;
            }
            free(w);
        }
        if (nfd == fd) {
            /* opened right at the target (it was closed): keep it, not close-on-exec */
            fcntl(fd, F_SETFD, 0); /* it was closed: the restore closes it again */
        } else {
            if (dup2(nfd, fd) < 0) {
                sh_error("%d: %s", fd, strerror(errno));
                close(nfd);
                goto fail;
            }
            close(nfd);
        }
        mark_fd(fd, true);
    }
    return 0;
fail:
    undo_redirs(u);
    return 1;
}

/* ---- traps ----------------------------------------------------------------------------------- */
#define NSIG_SH 65
static char *traps[NSIG_SH];
static volatile sig_atomic_t pending_sig[NSIG_SH];
static volatile sig_atomic_t any_pending;
static bool in_trap;

static int sigpipe_fd[2] = {-1, -1}; /* self-pipe: a trapped signal interrupts `wait` */
static volatile sig_atomic_t interrupted; /* interactive: Ctrl-C reached the shell */


static void on_signal(int sig)
{
    if (sig > 0 && sig < NSIG_SH) {
        pending_sig[sig] = 1;
        any_pending = 1;
        if (sigpipe_fd[1] >= 0) {
            int e = errno;
            (void)!write(sigpipe_fd[1], "", 1);
            errno = e;
        }
    }
}

static void drain_sigpipe(void);
static void make_sigpipe(void)
{
    if (sigpipe_fd[0] < 0 && pipe2(sigpipe_fd, O_CLOEXEC | O_NONBLOCK) == 0) {
        /* above the user's descriptors */
        for (int k = 0; k < 2; k++) {
            int m = fcntl(sigpipe_fd[k], F_DUPFD_CLOEXEC, 10);
            if (m >= 0) {
                close(sigpipe_fd[k]);
                sigpipe_fd[k] = m;
                fcntl(m, F_SETFL, O_NONBLOCK);
            }
        }
    }
}

int sh_signal_fd(void)
{
    return sigpipe_fd[0];
}

void sh_drain_signal_fd(void)
{
    drain_sigpipe();
}

static void drain_sigpipe(void)
{
    char b[64];
    while (sigpipe_fd[0] >= 0 && read(sigpipe_fd[0], b, sizeof b) > 0)
        ;
}

static int first_pending(void)
{
    for (int s = 1; s < NSIG_SH; s++)
        if (pending_sig[s])
            return s;
    return 0;
}

static const struct { const char *name; int sig; } signames[] = {
    {"HUP", SIGHUP}, {"INT", SIGINT}, {"QUIT", SIGQUIT}, {"ILL", SIGILL}, {"TRAP", SIGTRAP},
    {"ABRT", SIGABRT}, {"BUS", SIGBUS}, {"FPE", SIGFPE}, {"KILL", SIGKILL}, {"USR1", SIGUSR1},
    {"SEGV", SIGSEGV}, {"USR2", SIGUSR2}, {"PIPE", SIGPIPE}, {"ALRM", SIGALRM}, {"TERM", SIGTERM},
    {"CHLD", SIGCHLD}, {"CONT", SIGCONT}, {"STOP", SIGSTOP}, {"TSTP", SIGTSTP}, {"TTIN", SIGTTIN},
    {"TTOU", SIGTTOU}, {"URG", SIGURG}, {"XCPU", SIGXCPU}, {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM},
    {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"IO", SIGIO}, {"PWR", SIGPWR}, {"SYS", SIGSYS},
    {NULL, 0},
};

int sh_signum(const char *name)
{
    if (isdigit((unsigned char)name[0])) {
        char *e;
        long v = strtol(name, &e, 10);
        return *e || v < 0 || v >= NSIG_SH ? -1 : (int)v;
    }
    if (strncasecmp(name, "SIG", 3) == 0)
        name += 3;
    if (strcasecmp(name, "EXIT") == 0)
        return 0;
    for (int i = 0; signames[i].name; i++)
        if (strcasecmp(name, signames[i].name) == 0)
            return signames[i].sig;
    return -1;
}

const char *sh_signame(int sig)
{
    if (sig == 0)
        return "EXIT";
    for (int i = 0; signames[i].name; i++)
        if (signames[i].sig == sig)
            return signames[i].name;
    return NULL;
}

static void run_trap_text(const char *text)
{
    int saved = sh.status;
    enum ctl c = sh.ctl;
    sh.ctl = CTL_NONE;
    in_trap = true;
    sh_eval_string(text, "trap");
    in_trap = false;
    if (sh.ctl == CTL_NONE)
        sh.ctl = c;
    sh.status = saved;
}

void sh_run_traps(void)
{
    if (!any_pending || in_trap)
        return;
    any_pending = 0;
    for (int s = 1; s < NSIG_SH; s++)
        if (pending_sig[s]) {
            pending_sig[s] = 0;
            if (traps[s] && traps[s][0])
                run_trap_text(traps[s]);
        }
}

/* a subshell keeps ignored signals ignored and resets the others (traps are not inherited) */
static void reset_traps_in_child(void)
{
    for (int s = 0; s < NSIG_SH; s++)
        if (traps[s] && traps[s][0]) {
            free(traps[s]);
            traps[s] = NULL;
            if (s > 0) {
                signal(s, SIG_DFL);
                sigdelset(&handled, s);
            }
        }
}

int sh_trap(int argc, char **argv)
{
    int i = 1;
    if (i < argc && strcmp(argv[i], "--") == 0)
        i++;
    if (i >= argc || strcmp(argv[i], "-p") == 0) {
        /* trap -p [SIG...]: the actions of those signals (all set ones by default) */
        bool want[NSIG_SH] = {0};
        bool all = i + 1 >= argc;
        for (int k = i + 1; k < argc; k++) {
            int sg = sh_signum(argv[k]);
            if (sg < 0) {
                sh_error("trap: %s: bad trap", argv[k]);
                return 1;
            }
            want[sg] = true;
        }
        for (int s = 0; s < NSIG_SH; s++)
            if (traps[s] && (all || want[s])) {
                printf("trap -- ");
                const char *t = traps[s];
                putchar('\'');
                for (; *t; t++) {
                    if (*t == '\'')
                        fputs("'\\''", stdout);
                    else
                        putchar(*t);
                }
                printf("' %s\n", sh_signame(s) ? sh_signame(s) : "?");
            }
        return 0;
    }
    const char *action = argv[i];
    bool reset = false;
    /* "trap N..." with a signal number first: reset those */
    if (sh_signum(action) >= 0 && isdigit((unsigned char)action[0])) {
        reset = true;
    } else
        i++;
    if (strcmp(action, "-") == 0)
        reset = true;
    int rc = 0;
    for (; i < argc; i++) {
        int s = sh_signum(argv[i]);
        if (s < 0 || s == SIGKILL || s == SIGSTOP) {
            sh_error("trap: %s: bad trap", argv[i]);
            sh.special_error = true;
            rc = 1;
            continue;
        }
        free(traps[s]);
        traps[s] = NULL;
        if (s > 0)
            sigdelset(&handled, s);
        if (reset) {
            if (s)
                signal(s, SIG_DFL);
            continue;
        }
        traps[s] = xstrdup(action);
        if (s == 0)
            continue;
        make_sigpipe();
        if (!action[0]) {
            signal(s, SIG_IGN);
        } else {
            sigaddset(&handled, s);
            struct sigaction sa = {0};
            sa.sa_handler = on_signal;
            sigemptyset(&sa.sa_mask);
            sigaction(s, &sa, NULL);
        }
    }
    return rc;
}

void sh_exit(int status)
{
    if (traps[0] && !in_trap) {
        char *t = traps[0];
        traps[0] = NULL;
        sh.status = status;
        sh.ctl = CTL_NONE;
        in_trap = true;
        sh_eval_string(t, "trap");
        in_trap = false;
        free(t);
        if (sh.ctl == CTL_EXIT)
            status = sh.exit_status;
    }
    sh_flush();
    if (sh.in_child)
        _exit(status & 255);
    if (sh.monitor)
        hangup_stopped_jobs();
    exit(status & 255);
}

/* ---- jobs (background lists) ----------------------------------------------------------------- */
typedef struct job {
    int id;
    lp_pipeline *pl;
    pid_t pid;      /* last stage */
    char *cmd;
    bool done;
    bool stopped;   /* job control: stopped by a signal (fg/bg continue it) */
    bool stop_reported; /* its Stopped notice was printed */
    int status;
    struct termios tmodes; /* the terminal modes it had when it stopped */
    bool has_tmodes;
    struct job *next;
} job;
static job *jobs;
static int next_job_id = 1;
static void node_text(node *n, char *buf, size_t cap);
static const char *job_state(const job *j, char *buf, size_t cap);
static void set_pipestatus(lp_pipeline *pl);

static int pl_status(lp_pipeline *pl, int rc)
{
    (void)pl;
    return lp_rc_shell(rc);
}

/* collect finished jobs without blocking (so no zombie lingers); with job control also see
 * a background job stopped by a signal (SIGTTIN, SIGSTOP) */
static void poll_jobs(void)
{
    for (job *j = jobs; j; j = j->next)
        if (!j->done) {
            int rc;
            if (lp_pipeline_wait(j->pl, 0, &rc) == 0) {
                j->done = true;
                j->stopped = false;
                j->status = pl_status(j->pl, rc);
            } else if (sh.monitor && !j->stopped && lp_pipeline_pgid(j->pl) > 0) {
                siginfo_t si;
                memset(&si, 0, sizeof si);
                if (waitid(P_PGID, (id_t)lp_pipeline_pgid(j->pl), &si, WSTOPPED | WNOHANG) == 0 &&
                    si.si_pid != 0) {
                    j->stopped = true;
                    j->stop_reported = false;
                }
            }
        }
}

static job *add_job(lp_pipeline *pl, const char *cmd)
{
    poll_jobs();
    /* forget jobs that are done and whose status nobody can ask for any more (keep 1000) */
    int n = 0;
    for (job **pj = &jobs; *pj;) {
        if (++n > 1000 && (*pj)->done) {
            job *d = *pj;
            *pj = d->next;
            lp_pipeline_free(d->pl);
            free(d->cmd);
            free(d);
            continue;
        }
        pj = &(*pj)->next;
    }
    job *j = xcalloc(1, sizeof *j);
    j->id = next_job_id++;
    j->pl = pl;
    j->pid = lp_pipeline_pid(pl, lp_pipeline_len(pl) - 1);
    j->cmd = xstrdup(cmd ? cmd : "");
    j->next = jobs;
    jobs = j;
    sh.lastbg = j->pid;
    return j;
}

static void free_job(job *j)
{
    for (job **pj = &jobs; *pj; pj = &(*pj)->next)
        if (*pj == j) {
            *pj = j->next;
            break;
        }
    lp_pipeline_free(j->pl);
    free(j->cmd);
    free(j);
}

/* wait for a job; a trapped signal interrupts: 128 + its number (the job stays) */
static int wait_job(job *j)
{
    if (!j->done) {
        int rc;
        drain_sigpipe();
        if (interrupted && sh.interactive)
            return 130;
        if (any_pending && first_pending())
            return 128 + first_pending();
        lp_set_wait_interrupt(sigpipe_fd[0]);
        int r = lp_pipeline_wait(j->pl, -1, &rc);
        lp_set_wait_interrupt(-1);
        if (r == -EINTR)
            return interrupted && sh.interactive ? 130 : 128 + first_pending();
        j->done = true;
        j->status = pl_status(j->pl, rc);
    }
    int st = j->status;
    free_job(j);
    return st;
}

static job *find_job(const char *spec)
{
    if (spec[0] == '%') {
        const char *s = spec + 1;
        if (!*s || strcmp(s, "%") == 0 || strcmp(s, "+") == 0)
            return jobs;
        if (strcmp(s, "-") == 0)
            return jobs ? jobs->next : NULL;
        if (isdigit((unsigned char)*s)) {
            int id = atoi(s);
            for (job *j = jobs; j; j = j->next)
                if (j->id == id)
                    return j;
            return NULL;
        }
        for (job *j = jobs; j; j = j->next)
            if (strncmp(j->cmd, s, strlen(s)) == 0)
                return j;
        return NULL;
    }
    char *e;
    long pid = strtol(spec, &e, 10);
    if (*e || pid <= 0)
        return NULL;
    for (job *j = jobs; j; j = j->next)
        if (j->pid == pid)
            return j;
    return NULL;
}

int sh_wait_jobs(int argc, char **argv)
{
    if (argc <= 1) {
        while (jobs) {
            int st = wait_job(jobs);
            if (st > 128 && (any_pending || (interrupted && sh.interactive)))
                return st; /* traps run after the builtin */
        }
        return 0;
    }
    int st = 127;
    for (int i = 1; i < argc; i++) {
        job *j = find_job(argv[i]);
        if (!j) {
            if (argv[i][0] == '%') {
                sh_error("wait: %s: no such job", argv[i]);
                st = 127;
            } else if (!isdigit((unsigned char)argv[i][0])) {
                sh_error("wait: %s: not a pid or valid job spec", argv[i]);
                st = 2;
            } else
                st = 127;
            continue;
        }
        st = wait_job(j);
        if (st > 128 && any_pending)
            return st;
    }
    return st;
}

int sh_jobs(int argc, char **argv)
{
    bool pids = argc > 1 && strcmp(argv[1], "-p") == 0;
    poll_jobs();
    /* oldest first */
    int n = 0;
    for (job *j = jobs; j; j = j->next)
        n++;
    job **v = xmalloc((size_t)(n + 1) * sizeof *v);
    int k = n;
    for (job *j = jobs; j; j = j->next)
        v[--k] = j;
    for (int i = 0; i < n; i++) {
        job *j = v[i];
        char b[32];
        if (pids)
            printf("%ld\n", (long)j->pid);
        else
            printf("[%d]%c  %-24s%s\n", j->id, i == n - 1 ? '+' : i == n - 2 ? '-' : ' ',
                   job_state(j, b, sizeof b), j->cmd);
    }
    /* reported Done jobs are forgotten, as in sh */
    for (int i = 0; i < n; i++)
        if (v[i]->done)
            free_job(v[i]);
    free(v);
    return 0;
}

int sh_kill(int argc, char **argv)
{
    int sig = SIGTERM, i = 1;
    if (i < argc && strcmp(argv[i], "-l") == 0) {
        if (i + 1 < argc) {
            for (int k = i + 1; k < argc; k++) {
                int s = atoi(argv[k]);
                if (s > 128)
                    s -= 128;
                const char *nm = sh_signame(s);
                if (!nm) {
                    sh_error("kill: %s: invalid signal number", argv[k]);
                    return 1;
                }
                printf("%s\n", nm);
            }
            return 0;
        }
        for (int k = 0; signames[k].name; k++)
            printf("%s\n", signames[k].name);
        return 0;
    }
    if (i < argc && strcmp(argv[i], "-s") == 0 && i + 1 < argc) {
        sig = sh_signum(argv[i + 1]);
        if (sig < 0) {
            sh_error("kill: %s: invalid signal", argv[i + 1]);
            return 2;
        }
        i += 2;
    } else if (i < argc && argv[i][0] == '-' && argv[i][1] && strcmp(argv[i], "--") != 0) {
        sig = sh_signum(argv[i] + 1);
        if (sig < 0) {
            sh_error("kill: %s: invalid signal", argv[i] + 1);
            return 2;
        }
        i++;
    }
    if (i < argc && strcmp(argv[i], "--") == 0)
        i++;
    if (i >= argc) {
        sh_error("kill: usage: kill [-s SIGNAL | -SIGNAL] PID|%%JOB...");
        return 2;
    }
    int rc = 0;
    for (; i < argc; i++) {
        if (argv[i][0] == '%') {
            job *j = find_job(argv[i]);
            if (!j) {
                sh_error("kill: %s: no such job", argv[i]);
                rc = 1;
                continue;
            }
            if (lp_pipeline_kill(j->pl, sig) < 0)
                rc = 1;
            continue;
        }
        char *e;
        long pid = strtol(argv[i], &e, 10);
        if (*e || !argv[i][0]) {
            sh_error("kill: %s: arguments must be process or job IDs", argv[i]);
            rc = 1;
            continue;
        }
        sh_flush();
        if (kill((pid_t)pid, sig) < 0) {
            sh_error("kill: %s: %s", argv[i], strerror(errno));
            rc = 1;
        }
    }
    return rc;
}

/* ---- job control (an interactive shell on a terminal) ---------------------------------------
 * Every foreground pipeline is a job in its own process group that owns the terminal while it
 * runs; a stop (Ctrl-Z) makes it a stopped job kept in the table; fg/bg continue it.  The shell
 * ignores SIGTSTP/SIGTTIN/SIGTTOU and its jobs get the defaults back (lp_spawn sigdefault). */
static pid_t shell_pgid;
static struct termios shell_tmodes;
static bool have_tmodes;

void sh_note_interrupt(void)
{
    interrupted = 1;
    if (sigpipe_fd[1] >= 0) { /* wakes a `wait` */
        int e = errno;
        (void)!write(sigpipe_fd[1], "", 1);
        errno = e;
    }
}

void sh_clear_interrupt(void)
{
    interrupted = 0;
}

void sh_jobctl_init(void)
{
    for (int fd = 0; fd < 3 && tty_fd < 0; fd++)
        if (isatty(fd))
            tty_fd = fcntl(fd, F_DUPFD_CLOEXEC, 10);
    if (tty_fd < 0)
        return;
    /* started in the background of another job-control shell: wait to be in the foreground */
    for (;;) {
        pid_t fg = tcgetpgrp(tty_fd);
        if (fg < 0 || fg == getpgrp())
            break;
        kill(-getpgrp(), SIGTTIN);
    }
    signal(SIGTSTP, SIG_IGN);
    signal(SIGTTIN, SIG_IGN);
    signal(SIGTTOU, SIG_IGN);
    if (getpgrp() != getpid())
        setpgid(0, 0);
    shell_pgid = getpgrp();
    tcsetpgrp(tty_fd, shell_pgid);
    have_tmodes = tcgetattr(tty_fd, &shell_tmodes) == 0;
    make_sigpipe(); /* Ctrl-C interrupts `wait` */
    sigemptyset(&jobsigs);
    sigaddset(&jobsigs, SIGINT);
    sigaddset(&jobsigs, SIGQUIT);
    sigaddset(&jobsigs, SIGTSTP);
    sigaddset(&jobsigs, SIGTTIN);
    sigaddset(&jobsigs, SIGTTOU);
    sh.monitor = true;
}

static const char *job_state(const job *j, char *buf, size_t cap)
{
    if (j->stopped)
        return "Stopped";
    if (!j->done)
        return "Running";
    if (j->status == 0)
        return "Done";
    if (j->status > 128 && sh_signame(j->status - 128)) {
        int sg = j->status - 128;
        snprintf(buf, cap, "%s", sg == SIGTERM ? "Terminated" : sg == SIGKILL ? "Killed"
                                 : sg == SIGINT ? "Interrupt" : sh_signame(sg));
        return buf;
    }
    snprintf(buf, cap, "Done(%d)", j->status);
    return buf;
}

static void print_job(const job *j, bool newline_first)
{
    char b[32];
    fprintf(stderr, "%s[%d]%c  %-24s%s\n", newline_first ? "\n" : "", j->id, j == jobs ? '+' : ' ',
            job_state(j, b, sizeof b), j->cmd);
}

/* the started foreground job pl: give it the terminal, wait for its end or its stop.  *kept:
 * it stopped and is now in the job table (the caller must not free pl). */
static int wait_fg(lp_pipeline *pl, const char *text, job *j, bool *kept)
{
    *kept = false;
    pid_t pg = lp_pipeline_pgid(pl);
    if (tty_fd >= 0 && pg > 0)
        tcsetpgrp(tty_fd, pg);
    int rc = 0;
    int r = lp_pipeline_wait_job(pl, &rc);
    if (tty_fd >= 0)
        tcsetpgrp(tty_fd, shell_pgid);
    if (r == LP_ESTOPPED) {
        if (!j)
            j = add_job(pl, text);
        j->stopped = true;
        j->stop_reported = true;
        if (have_tmodes) {
            j->has_tmodes = tcgetattr(tty_fd, &j->tmodes) == 0;
            tcsetattr(tty_fd, TCSADRAIN, &shell_tmodes);
        }
        print_job(j, true);
        *kept = true;
        return 128 + SIGTSTP;
    }
    if (r < 0)
        lp_pipeline_wait(pl, -1, &rc);
    if (have_tmodes) {
        /* a job that ended by itself (stty...) sets the shell's modes, as in bash; one killed by
         * a signal may have left them in any state: the shell's are put back */
        if (rc >= 0)
            tcgetattr(tty_fd, &shell_tmodes);
        else
            tcsetattr(tty_fd, TCSADRAIN, &shell_tmodes);
    }
    if (rc == -SIGINT) {
        interrupted = 1; /* like the shell itself got the Ctrl-C: the rest of the list stops */
        fputc('\n', stderr);
    } else if (rc == -SIGQUIT)
        fputs("Quit\n", stderr);
    set_pipestatus(pl);
    return lp_rc_shell(rc);
}

/* Start pl, our buffered output flushed first.  0, or the shell status of a start that failed
 * (127 for a missing program, else 126), reported with `who` ("" or "timeout: ") in front. */
static int start_pipeline(lp_pipeline *pl, const char *who)
{
    sh_flush();
    int r = lp_pipeline_start(pl);
    if (r < 0) {
        sh_error("%s%s", who, lp_pipeline_errmsg(pl));
        return r == -ENOENT ? 127 : 126;
    }
    return 0;
}

/* start pl as a job of its own and wait in the foreground; frees pl unless it stopped */
static int run_fg_job(lp_pipeline *pl, const char *text)
{
    int st = start_pipeline(pl, "");
    if (st) {
        lp_pipeline_free(pl);
        return st;
    }
    bool kept;
    st = wait_fg(pl, text, NULL, &kept);
    if (!kept)
        lp_pipeline_free(pl);
    return st;
}

static job *current_job(void)
{
    for (job *j = jobs; j; j = j->next)
        if (j->stopped)
            return j;
    for (job *j = jobs; j; j = j->next)
        if (!j->done)
            return j;
    return NULL;
}

/* the job fg/bg act on (named, or the current one), continued with SIGCONT; NULL: reported */
static job *continue_job(const char *name, int argc, char **argv)
{
    if (!sh.monitor) {
        sh_error("%s: no job control", name);
        return NULL;
    }
    job *j = argc > 1 ? find_job(argv[1]) : current_job();
    if (!j) {
        sh_error("%s: %s: no such job", name, argc > 1 ? argv[1] : "current");
        return NULL;
    }
    if (name[0] == 'f') {
        /* the terminal first (with the modes the job had), then the signal */
        fprintf(stderr, "%s\n", j->cmd);
        if (j->stopped && j->has_tmodes)
            tcsetattr(tty_fd, TCSADRAIN, &j->tmodes);
        pid_t pg = lp_pipeline_pgid(j->pl);
        if (pg > 0)
            tcsetpgrp(tty_fd, pg);
    }
    lp_pipeline_kill(j->pl, SIGCONT);
    j->stopped = false;
    return j;
}

int sh_fg(int argc, char **argv)
{
    job *j = continue_job("fg", argc, argv);
    if (!j)
        return 1;
    bool kept;
    int st = wait_fg(j->pl, j->cmd, j, &kept);
    if (!kept)
        free_job(j);
    return st;
}

int sh_bg(int argc, char **argv)
{
    job *j = continue_job("bg", argc, argv);
    if (!j)
        return 1;
    fprintf(stderr, "[%d] %s &\n", j->id, j->cmd);
    return 0;
}

bool sh_stopped_jobs(void)
{
    for (job *j = jobs; j; j = j->next)
        if (j->stopped)
            return true;
    return false;
}

/* before a prompt: report the jobs that ended, and forget them */
void sh_notify_jobs(void)
{
    poll_jobs();
    for (job *j = jobs, *nx; j; j = nx) {
        nx = j->next;
        if (j->done) {
            print_job(j, false);
            free_job(j);
        } else if (j->stopped && !j->stop_reported) {
            print_job(j, false);
            j->stop_reported = true;
        }
    }
}

/* leaving an interactive shell: stopped jobs would stay stopped forever */
static void hangup_stopped_jobs(void)
{
    for (job *j = jobs; j; j = j->next)
        if (j->stopped) {
            lp_pipeline_kill(j->pl, SIGHUP);
            lp_pipeline_kill(j->pl, SIGCONT);
        }
}

/* ---- running nodes in children --------------------------------------------------------------- */
typedef struct child_arg {
    node *n;          /* a node to run, or */
    char **argv;      /* an expanded command */
    int argc;
} child_arg;

static int run_argv(int argc, char **argv, char **assign_env, int flags);

/* a function stage: the forked child runs the node as a subshell and leaves */
static int child_main(void *arg)
{
    child_arg *c = arg;
    sh.in_child = true;
    if (sh.monitor) {
        /* a subshell of an interactive shell: no job control, default job signals */
        sh.monitor = false;
        int js[] = {SIGINT, SIGQUIT, SIGTSTP, SIGTTIN, SIGTTOU};
        for (size_t k = 0; k < sizeof js / sizeof js[0]; k++)
            signal(js[k], SIG_DFL);
    }
    sh.interactive = false;
    reset_traps_in_child();
    int st;
    if (c->n)
        st = exec_node(c->n, EV_EXIT);
    else
        st = run_argv(c->argc, c->argv, NULL, EV_EXIT);
    if (sh.ctl == CTL_EXIT)
        st = sh.exit_status;
    sh_exit(st);
}

/* ---- for the pool builtin (pool.c) ------------------------------------------------------------ */
/* The forked child of a pool job: runs argv (a builtin, a function or a program; a program is
 * exec'ed) or the node `body` with argv as its positional parameters.  Never returns. */
static bool is_builtin_or_func(const char *name);
void sh_child_run(int argc, char **argv, node *body)
{
    child_arg ca = {.argv = argv, .argc = argc};
    if (body) {
        pos_set(argc, argv);
        ca = (child_arg){.n = body};
    }
    child_main(&ca);
    _exit(127); /* not reached: child_main leaves */
}

void sh_job_spawn_opts(lp_spawn_opts *o, char **argv, const char *path, int pass[8], char ***owned)
{
    base_opts(o, argv, path, pass, owned);
    o->tty_foreground = false;
}

bool sh_is_builtin_or_func(const char *name)
{
    return !strchr(name, '/') && is_builtin_or_func(name);
}

int sh_interrupt_status(void)
{
    drain_sigpipe();
    if (interrupted && sh.interactive)
        return 130;
    if (any_pending && first_pending())
        return 128 + first_pending();
    return 0;
}

/* Is this simple command safe to expand in the parent and run as a program stage? */
static bool plain_external(node *n)
{
    if (n->t != N_CMD || n->redirs || n->cmd.nwords == 0)
        return false;
    for (int i = 0; i < n->cmd.nwords; i++)
        if (strchr(n->cmd.words[i], '`') || strstr(n->cmd.words[i], "$(") || strstr(n->cmd.words[i], "${"))
            return false;
    for (int i = 0; i < n->cmd.nassign; i++)
        if (strchr(n->cmd.assign[i], '`') || strstr(n->cmd.assign[i], "$(") || strstr(n->cmd.assign[i], "${"))
            return false;
    return true;
}

static bool is_builtin_or_func(const char *name)
{
    bool sp;
    return builtin_get(name, &sp) || func_get(name);
}

static void xtrace(char **assign, int na, char **argv, int argc)
{
    const char *ps4 = var_get("PS4");
    sh_flush();
    fputs(ps4 ? ps4 : "+ ", stderr);
    bool first = true;
    for (int i = 0; i < na; i++) {
        fprintf(stderr, "%s%s", first ? "" : " ", assign[i]);
        first = false;
    }
    for (int i = 0; i < argc; i++) {
        fprintf(stderr, "%s%s", first ? "" : " ", argv[i]);
        first = false;
    }
    fputc('\n', stderr);
}

/* env_set entries for prefix assignments, from "NAME=value" expanded strings */
static int spawn_error(const char *name, int r)
{
    if (r == -ENOENT) {
        if (strchr(name, '/'))
            sh_error("%s: No such file or directory", name);
        else
            sh_error("%s: command not found", name);
        return 127;
    }
    const char *d = lp_proc_errmsg(NULL);
    sh_error("%s: %s", name, r == -EACCES ? "Permission denied" : d && *d ? d : lp_strerror(r));
    return 126;
}

char **script_argv(char **argv, const char *path)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    char **nv = xmalloc((size_t)(argc + 2) * sizeof *nv);
    nv[0] = argv[0];
    nv[1] = (char *)path;
    for (int i = 1; i <= argc; i++)
        nv[i + 1] = argv[i];
    return nv;
}

const char *sh_self_exe(void)
{
    static char buf[PATH_MAX];
    if (!buf[0]) {
        ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
        if (n <= 0)
            strcpy(buf, "pshell");
        else
            buf[n] = 0;
    }
    return buf;
}

/* a command line for job listings */
static void argv_text(char **argv, char *buf, size_t cap)
{
    size_t k = 0;
    buf[0] = 0;
    for (int i = 0; argv[i] && k + 2 < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%s", i ? " " : "", argv[i]);
    if (k >= cap)
        buf[cap - 1] = 0;
}

/* Run an external program and wait (or exec it when this is the last act of a child). */
static int run_external(int argc, char **argv, char **assign_env, int flags)
{
    char *path = NULL;
    for (char **a = assign_env; a && *a; a++)
        if (strncmp(*a, "PATH=", 5) == 0 && !strchr(argv[0], '/'))
            path = search_in(argv[0], *a + 5);
    if (!path)
        path = path_search(argv[0]);
    if (!path) {
        sh_error("%s: command not found", argv[0]);
        return 127;
    }
    if ((flags & EV_EXIT) && sh.in_child && !traps[0]) {
        /* the subshell's last command: become it */
        sh_flush();
        char **env = var_environ();
        if (assign_env) {
            /* the environment with the assignments on top */
            int n = 0, m = 0;
            while (env[n])
                n++;
            while (assign_env[m])
                m++;
            char **e2 = xmalloc((size_t)(n + m + 1) * sizeof *e2);
            int k = 0;
            for (int i = 0; i < n; i++) {
                bool over = false;
                size_t l = strcspn(env[i], "=");
                for (int j = 0; j < m; j++)
                    if (strncmp(assign_env[j], env[i], l) == 0 && assign_env[j][l] == '=')
                        over = true;
                if (!over)
                    e2[k++] = env[i];
            }
            for (int j = 0; j < m; j++)
                e2[k++] = assign_env[j];
            e2[k] = NULL;
            env = e2;
        }
        execve(path, argv, env);
        int e = errno;
        if (e == ENOEXEC)
            execve(sh_self_exe(), script_argv(argv, path), env);
        if (e == ENOENT) {
            sh_error("%s: No such file or directory", argv[0]);
            _exit(127);
        }
        sh_error("%s: %s", argv[0], strerror(e));
        _exit(126);
    }
    int pass[8];
    lp_spawn_opts o = {0};
    if (sh.monitor && !sh.in_child) {
        /* job control: the command is a job of its own that owns the terminal */
        stages_fg = true;
        char **owned;
        base_opts(&o, argv, path, pass, &owned);
        stages_fg = false;
        o.env_set = assign_env;
        lp_pipeline *pl = lp_pipeline_new();
        int r = lp_pipeline_add(pl, &o);
        free(owned);
        free(path);
        if (r < 0) {
            lp_pipeline_free(pl);
            sh_error("%s: %s", argv[0], lp_strerror(r));
            return 126;
        }
        char text[256];
        argv_text(argv, text, sizeof text);
        return run_fg_job(pl, text);
    }
    base_opts(&o, argv, path, pass, NULL);
    o.env_set = assign_env;
    sh_flush();
    lp_proc *p;
    int r = lp_spawn(&p, &o);
    if (r == -ENOEXEC) {
        /* a script without #!: this shell runs it, as sh does */
        char **nv = script_argv(argv, path);
        o.argv = nv;
        o.exec_path = sh_self_exe();
        r = lp_spawn(&p, &o);
        free(nv);
    }
    if (r < 0) {
        int st = spawn_error(argv[0], r);
        free(path);
        return st;
    }
    free(path);
    int rc = 0;
    lp_proc_wait(p, -1, &rc);
    lp_proc_free(p);
    return lp_rc_shell(rc);
}

/* ---- simple commands ------------------------------------------------------------------------- */
/* Run a builtin: its output flushed (a write error is the builtin's failure, status 1, as in
 * dash: `echo x >&-`), and an error of a special builtin ends a non-interactive shell unless
 * it was run through `command`. */
static int run_builtin(builtin_fn b, bool special, int argc, char **argv, bool via_command)
{
    sh.special_error = false;
    int st = b(argc, argv);
    if (fflush(stdout) != 0) {
        int e = errno;
        clearerr(stdout);
        if (st == 0) {
            fprintf(stderr, "pshell: %s: write error: %s\n", argv[0], strerror(e));
            st = 1;
        }
    }
    if (special && sh.special_error && !via_command && !sh.interactive)
        sh_exit(2); /* as dash */
    sh.special_error = false;
    return st;
}

static int call_function(node *body, int argc, char **argv)
{
    posparams *saved = pos_push(argc - 1, argv + 1);
    locals_push();
    sh.func_depth++;
    int loops = sh.loop_depth;
    sh.loop_depth = 0;
    exec_node(body, 0);
    sh.loop_depth = loops;
    sh.func_depth--;
    if (sh.ctl == CTL_RETURN)
        sh.ctl = CTL_NONE;
    locals_pop();
    pos_pop(saved);
    return sh.status;
}

static int run_argv(int argc, char **argv, char **assign_env, int flags)
{
    bool special = false;
    if (!strchr(argv[0], '/')) {
        builtin_fn b = builtin_get(argv[0], &special);
        if (b && special)
            return run_builtin(b, true, argc, argv, false);
        node *f = func_get(argv[0]);
        if (f)
            return call_function(f, argc, argv);
        if (b)
            return run_builtin(b, false, argc, argv, false);
    }
    return run_external(argc, argv, assign_env, flags);
}

int exec_command_argv(int argc, char **argv, int flags);
/* `command NAME ARGS`: run skipping functions */
int exec_command_argv(int argc, char **argv, int flags)
{
    bool special;
    builtin_fn b = strchr(argv[0], '/') ? NULL : builtin_get(argv[0], &special);
    if (b)
        return run_builtin(b, special, argc, argv, true);
    return run_external(argc, argv, NULL, flags);
}

static int last_subst_status;

/* The words of a simple command.  After export, readonly and local, NAME=value arguments
 * expand as assignments do (no splitting, no globbing), as in current dash and bash. */
static int expand_command_words(node *n, strlist *args)
{
    char **w = n->cmd.words;
    int nw = n->cmd.nwords;
    if (nw > 1 && (strcmp(w[0], "export") == 0 || strcmp(w[0], "readonly") == 0 || strcmp(w[0], "local") == 0)) {
        sl_push(args, xstrdup(w[0]));
        for (int i = 1; i < nw; i++) {
            if (sh_is_assignment(w[i])) {
                char *v = expand_str(w[i]);
                if (!v)
                    return -1;
                sl_push(args, v);
            } else if (expand_words(&w[i], 1, args) < 0)
                return -1;
        }
        return 0;
    }
    return expand_words(w, nw, args);
}

static int exec_simple(node *n, int flags)
{
    sh.lineno = n->line;
    strlist args = {0};
    last_subst_status = 0;
    if (expand_command_words(n, &args) < 0) {
        sl_free(&args);
        return sh.status ? sh.status : 1;
    }
    int na = n->cmd.nassign;
    char **vals = na ? xcalloc((size_t)na + 1, sizeof *vals) : NULL; /* "NAME=value" */
    /* with a command, each assignment sees the ones before it (set for the expansion only) */
    bool temp = na > 1 && args.n > 0;
    bool now = args.n == 0; /* assignments only: each is done before the next expands */
    if (temp)
        locals_push();
    for (int i = 0; i < na; i++) {
        const char *a = n->cmd.assign[i];
        const char *eq = strchr(a, '=');
        char *v = expand_str(eq + 1);
        if (!v) {
            for (int k = 0; k < i; k++)
                free(vals[k]);
            free(vals);
            sl_free(&args);
            if (temp)
                locals_pop();
            return sh.status ? sh.status : 1;
        }
        size_t nl = (size_t)(eq - a);
        vals[i] = xmalloc(nl + strlen(v) + 2);
        memcpy(vals[i], a, nl + 1);
        strcpy(vals[i] + nl + 1, v);
        if (temp && i < na - 1) {
            vals[i][nl] = 0;
            var_make_local(vals[i]);
            var_set(vals[i], v, 0);
            vals[i][nl] = '=';
        }
        if (now) {
            vals[i][nl] = 0;
            int r = var_set(vals[i], v, 0);
            vals[i][nl] = '=';
            if (r < 0) {
                free(v);
                for (int k = 0; k <= i; k++)
                    free(vals[k]);
                free(vals);
                sl_free(&args);
                if (!sh.interactive)
                    sh_exit(2);
                return 1;
            }
        }
        free(v);
    }
    if (temp)
        locals_pop();
    if (sh.xtrace)
        xtrace(vals, na, args.v, args.n);
    int st;
    if (args.n == 0) {
        /* assignments (done above) and redirections only */
        st = last_subst_status;
        if (n->redirs) {
            undo u = {0};
            if (apply_redirs(n->redirs, &u))
                st = 1;
            undo_redirs(&u);
        }
        goto out;
    }
    const char *name = args.v[0];
    bool special = false;
    builtin_fn b = strchr(name, '/') ? NULL : builtin_get(name, &special);
    node *f = (b && special) || strchr(name, '/') ? NULL : func_get(name);
    undo u = {0};
    if (special && strcmp(name, "exec") == 0 && args.n == 1) {
        /* exec with redirections only: they stay */
        st = n->redirs && apply_redirs(n->redirs, NULL) ? 1 : 0;
        if (st && !sh.interactive)
            sh_exit(1);
        goto out;
    }
    if (n->redirs && apply_redirs(n->redirs, &u)) {
        st = 1;
        if (special && !sh.interactive) {
            /* an error of a special builtin ends a script (status 2, as dash) */
            for (int k = 0; k < na; k++)
                free(vals[k]);
            free(vals);
            sl_free(&args);
            sh_exit(2);
        }
        goto out;
    }
    if (b || f) {
        /* assignments: permanent for special builtins, temporary otherwise */
        struct { char *name; char *old; int flags; } *sv = NULL;
        if (na && !special) {
            sv = xcalloc((size_t)na, sizeof *sv);
            for (int i = 0; i < na; i++) {
                char *eq = strchr(vals[i], '=');
                *eq = 0;
                sv[i].name = xstrdup(vals[i]);
                const char *old = var_get(vals[i]);
                sv[i].old = old ? xstrdup(old) : NULL;
                sv[i].flags = var_flags(vals[i]);
                *eq = '=';
            }
        }
        bool ok = true;
        for (int i = 0; i < na; i++) {
            char *eq = strchr(vals[i], '=');
            *eq = 0;
            int vf = !special || strcmp(name, "exec") == 0 ? V_EXPORT : 0;
            if (var_set(vals[i], eq + 1, vf) < 0)
                ok = false;
            *eq = '=';
        }
        if (!ok) {
            st = 1;
            if (!sh.interactive)
                sh_exit(2); /* assignment to a read-only variable ends a script */
        } else if (f && !b) {
            st = call_function(f, args.n, args.v);
        } else if (f) {
            st = call_function(f, args.n, args.v);
        } else {
            st = run_builtin(b, special, args.n, args.v, false);
        }
        if (sv) {
            for (int i = 0; i < na; i++) {
                if (sv[i].flags < 0)
                    var_unset(sv[i].name);
                else {
                    var_set(sv[i].name, sv[i].old, 0);
                    if (!(sv[i].flags & V_EXPORT)) {
                        /* drop the temporary export: re-set without the flag */
                        char *old = sv[i].old ? xstrdup(sv[i].old) : NULL;
                        var_unset(sv[i].name);
                        if (old || sv[i].flags)
                            var_set(sv[i].name, old, sv[i].flags & ~V_EXPORT);
                        free(old);
                    }
                }
                free(sv[i].name);
                free(sv[i].old);
            }
            free(sv);
        }
    } else {
        if (na) {
            /* the assignments are in the child's environment only */
            st = run_external(args.n, args.v, vals, flags);
        } else
            st = run_external(args.n, args.v, NULL, flags);
    }
    undo_redirs(&u);
out:
    for (int k = 0; k < na; k++)
        free(vals[k]);
    free(vals);
    sl_free(&args);
    return st;
}

/* ---- pipelines ------------------------------------------------------------------------------- */
static void set_pipestatus(lp_pipeline *pl)
{
    size_t n = lp_pipeline_len(pl);
    char *s = xmalloc(n * 12 + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int rc = lp_pipeline_status(pl, i);
        k += (size_t)sprintf(s + k, "%s%d", i ? " " : "", rc == -EAGAIN ? 0 : lp_rc_shell(rc));
    }
    s[k] = 0;
    free(sh.pipestatus);
    sh.pipestatus = s;
}

/* Add node `c` as a stage: a program stage when it is a plain external command, else a function
 * stage running it in a child.  Returns 0 or a status after a reported error. */
static int add_stage(lp_pipeline *pl, node *c, child_arg *ca, const lp_spawn_opts *io)
{
    ca->n = c;
    if (plain_external(c)) {
        strlist args = {0};
        if (expand_words(c->cmd.words, c->cmd.nwords, &args) < 0) {
            sl_free(&args);
            return 1;
        }
        if (args.n == 0 || is_builtin_or_func(args.v[0])) {
            sl_free(&args);
            goto fn;
        }
        char *path = path_search(args.v[0]);
        if (!path) {
            sl_free(&args);
            goto fn; /* the child reports "command not found" */
        }
        strlist env = {0};
        for (int i = 0; i < c->cmd.nassign; i++) {
            const char *a = c->cmd.assign[i];
            const char *eq = strchr(a, '=');
            char *v = expand_str(eq + 1);
            if (!v)
                continue;
            size_t nl = (size_t)(eq - a);
            char *e = xmalloc(nl + strlen(v) + 2);
            memcpy(e, a, nl + 1);
            strcpy(e + nl + 1, v);
            free(v);
            sl_push(&env, e);
        }
        if (sh.xtrace)
            xtrace(env.v, env.n, args.v, args.n);
        int pass[8];
        lp_spawn_opts o = io ? *io : (lp_spawn_opts){0};
        char **owned;
        base_opts(&o, args.v, path, pass, &owned);
        o.env_set = env.n ? env.v : NULL;
        int r = lp_pipeline_add(pl, &o);
        free(owned);
        free(path);
        sl_free(&env);
        sl_free(&args);
        return r < 0 ? 1 : 0;
    }
fn:
    return lp_pipeline_add_fn_opts(pl, child_main, ca, io) < 0 ? 1 : 0;
}

static int exec_pipe(node *n, int flags)
{
    (void)flags;
    lp_pipeline *pl = lp_pipeline_new();
    if (!pl) {
        sh_error("pipeline: out of memory");
        return 2;
    }
    bool as_job = sh.monitor && !sh.in_child; /* job control: its own group, the terminal */
    if (!as_job)
        lp_pipeline_set_pgroup(pl, LP_PGROUP_INHERIT);
    lp_pipeline_set_pipefail(pl, sh.pipefail);
    child_arg *cas = xcalloc((size_t)n->pipe.n, sizeof *cas);
    int st = 0;
    stages_fg = as_job;
    for (int i = 0; i < n->pipe.n && !st; i++)
        st = add_stage(pl, n->pipe.v[i], &cas[i], NULL);
    stages_fg = false;
    bool kept = false;
    if (!st)
        st = start_pipeline(pl, "");
    if (!st) { /* started */
        if (as_job) {
            char text[256];
            node_text(n, text, sizeof text);
            st = wait_fg(pl, text, NULL, &kept);
        } else {
            int rc = 0;
            lp_pipeline_wait(pl, -1, &rc);
            st = lp_rc_shell(rc);
            set_pipestatus(pl);
        }
    }
    if (!kept)
        lp_pipeline_free(pl);
    free(cas);
    if (n->pipe.bang)
        st = !st;
    return st;
}

/* run a node in a child (subshell), optionally in the background */
static int exec_in_child(node *n, bool bg, const char *text)
{
    lp_pipeline *pl = lp_pipeline_new();
    bool as_job = sh.monitor && !sh.in_child; /* job control: a group of its own */
    if (!as_job)
        lp_pipeline_set_pgroup(pl, LP_PGROUP_INHERIT);
    child_arg ca = {.n = n};
    lp_spawn_opts io = {0};
    if (bg && !sh.monitor)
        io.in = LP_DEVNULL; /* POSIX: without job control, & reads /dev/null */
    int st;
    if (n->t == N_PIPE && bg) {
        child_arg *cas = xcalloc((size_t)n->pipe.n, sizeof *cas);
        st = 0;
        for (int i = 0; i < n->pipe.n && !st; i++)
            st = add_stage(pl, n->pipe.v[i], &cas[i], i == 0 ? &io : NULL);
        /* cas must outlive the children's start only: function stages fork at start */
        if (!st) {
            sh_flush();
            int r = lp_pipeline_start(pl);
            free(cas);
            if (r < 0) {
                sh_error("%s", lp_pipeline_errmsg(pl));
                lp_pipeline_free(pl);
                return 126;
            }
            job *j = add_job(pl, text);
            if (sh.interactive)
                fprintf(stderr, "[%d] %ld\n", j->id, (long)j->pid);
            return 0;
        }
        free(cas);
        lp_pipeline_free(pl);
        return st;
    }
    if (bg)
        st = add_stage(pl, n, &ca, &io);
    else
        st = lp_pipeline_add_fn_opts(pl, child_main, &ca, NULL) < 0 ? 1 : 0;
    if (st) {
        lp_pipeline_free(pl);
        return st;
    }
    st = start_pipeline(pl, "");
    if (st) {
        lp_pipeline_free(pl);
        return st;
    }
    if (bg) {
        job *j = add_job(pl, text);
        if (sh.interactive)
            fprintf(stderr, "[%d] %ld\n", j->id, (long)j->pid);
        return 0;
    }
    if (as_job) {
        bool kept;
        char t[256];
        node_text(n, t, sizeof t);
        int st2 = wait_fg(pl, t, NULL, &kept);
        if (!kept)
            lp_pipeline_free(pl);
        return st2;
    }
    int rc = 0;
    lp_pipeline_wait(pl, -1, &rc);
    lp_pipeline_free(pl);
    return lp_rc_shell(rc);
}

/* ---- command substitution ------------------------------------------------------------------- */
static int subst_depth;

char *command_subst(const char *text, size_t len, bool *ok)
{
    *ok = true;
    arena *a = arena_new();
    size_t end;
    node *n = parse_cmdsub(text, len, &end, a, sh.name, sh.lineno);
    if (!n) {
        arena_free(a);
        if (end != (size_t)-1) {
            /* empty $( ) */
            last_subst_status = 0;
            sh.status = 0;
            return xstrdup("");
        }
        *ok = false;
        sh.status = 2;
        return NULL;
    }
    lp_buf out = {0};
    int rc = 0;
    sh_flush();
    if (plain_external(n) && n->cmd.nassign == 0) {
        strlist args = {0};
        if (expand_words(n->cmd.words, n->cmd.nwords, &args) < 0) {
            sl_free(&args);
            arena_free(a);
            *ok = false;
            return NULL;
        }
        char *path = args.n && !is_builtin_or_func(args.v[0]) ? path_search(args.v[0]) : NULL;
        if (path) {
            int pass[8];
            lp_spawn_opts o = {0};
            char **owned;
            base_opts(&o, args.v, path, pass, &owned);
            o.out = LP_PIPE;
            lp_run_opts ro = {0};
            ro.contain = LP_CONTAIN_NONE;
            lp_result res;
            int r = lp_run(&o, &ro, &res);
            free(path);
            free(owned);
            if (r < 0 && r != LP_ECHECK) {
                rc = spawn_error(args.v[0], r);
                lp_result_free(&res);
                sl_free(&args);
                arena_free(a);
                last_subst_status = sh.status = rc;
                return xstrdup("");
            }
            rc = res.rc;
            out = res.out;
            res.out = (lp_buf){0};
            lp_result_free(&res);
            sl_free(&args);
            goto done;
        }
        sl_free(&args);
    }
    {
        lp_pipeline *pl = lp_pipeline_new();
        lp_pipeline_set_pgroup(pl, LP_PGROUP_INHERIT);
        child_arg ca = {.n = n};
        lp_spawn_opts io = {0};
        io.out = LP_PIPE;
        subst_depth++;
        lp_pipeline_add_fn_opts(pl, child_main, &ca, &io);
        int r = lp_pipeline_start(pl);
        if (r == 0) {
            lp_pipeline_communicate(pl, NULL, 0, &out, NULL, -1);
            lp_pipeline_wait(pl, -1, &rc);
        } else {
            sh_error("%s", lp_pipeline_errmsg(pl));
            rc = 2;
        }
        subst_depth--;
        lp_pipeline_free(pl);
    }
done:
    arena_free(a);
    last_subst_status = sh.status = lp_rc_shell(rc);
    size_t k = out.len;
    while (k > 0 && out.data[k - 1] == '\n')
        k--;
    char *s = xmalloc(k + 1);
    if (k)
        memcpy(s, out.data, k);
    s[k] = 0;
    lp_buf_free(&out);
    return s;
}

/* ---- timeout --------------------------------------------------------------------------------- */
long sh_parse_duration(const char *s)
{
    if (!s || !*s)
        return -1;
    char *e;
    errno = 0;
    double v = strtod(s, &e);
    if (e == s || errno || v < 0)
        return -1;
    double mult = 1000;
    if (strcmp(e, "ms") == 0)
        mult = 1;
    else if (strcmp(e, "s") == 0 || !*e)
        mult = 1000;
    else if (strcmp(e, "m") == 0)
        mult = 60000;
    else if (strcmp(e, "h") == 0)
        mult = 3600000;
    else if (strcmp(e, "d") == 0)
        mult = 86400000;
    else
        return -1;
    double ms = v * mult;
    if (ms > (double)INT_MAX)
        return INT_MAX;
    return (long)(ms + 0.5);
}

/* parse timeout's options: returns the index of the first command word, or -1 (reported) */
static int timeout_opts(int argc, char **argv, long *ms, long *kill_ms, int *sig, bool *preserve)
{
    int i = 1;
    *kill_ms = -1;
    *sig = SIGTERM;
    *preserve = false;
    while (i < argc && argv[i][0] == '-' && argv[i][1]) {
        const char *o = argv[i];
        if (strcmp(o, "--") == 0) {
            i++;
            break;
        }
        if (strcmp(o, "--preserve-status") == 0) {
            *preserve = true;
            i++;
            continue;
        }
        const char *val = NULL;
        char opt = 0;
        if (strcmp(o, "-k") == 0 || strcmp(o, "-s") == 0) {
            opt = o[1];
            if (i + 1 >= argc) {
                sh_error("timeout: option %s needs a value", o);
                return -1;
            }
            val = argv[i + 1];
            i += 2;
        } else if (strncmp(o, "--kill-after=", 13) == 0) {
            opt = 'k';
            val = o + 13;
            i++;
        } else if (strncmp(o, "--signal=", 9) == 0) {
            opt = 's';
            val = o + 9;
            i++;
        } else if ((o[1] == 'k' || o[1] == 's') && o[2]) {
            opt = o[1];
            val = o + 2;
            i++;
        } else {
            sh_error("timeout: %s: unknown option", o);
            return -1;
        }
        if (opt == 'k') {
            *kill_ms = sh_parse_duration(val);
            if (*kill_ms < 0) {
                sh_error("timeout: %s: invalid duration", val);
                return -1;
            }
        } else {
            *sig = sh_signum(val);
            if (*sig <= 0) {
                sh_error("timeout: %s: invalid signal", val);
                return -1;
            }
        }
    }
    if (i >= argc) {
        sh_error("timeout: usage: timeout [-k DURATION] [-s SIGNAL] DURATION COMMAND...");
        return -1;
    }
    *ms = sh_parse_duration(argv[i]);
    if (*ms < 0) {
        sh_error("timeout: %s: invalid duration", argv[i]);
        return -1;
    }
    return i + 1;
}

/* Start pl in a new process group, wait with the deadline, stop it as coreutils timeout does */
static int run_with_timeout(lp_pipeline *pl, long ms, long kill_ms, int sig, bool preserve)
{
    lp_pipeline_set_pgroup(pl, LP_PGROUP_NEW);
    int r = start_pipeline(pl, "timeout: ");
    if (r)
        return r;
    /* interactive: the timed job owns the terminal while it runs (Ctrl-C reaches it) */
    bool fg = sh.monitor && !sh.in_child && tty_fd >= 0;
    if (fg)
        tcsetpgrp(tty_fd, lp_pipeline_pgid(pl));
    int rc = 0, st;
    r = ms > 0 ? lp_pipeline_wait(pl, (int)ms, &rc) : lp_pipeline_wait(pl, -1, &rc);
    if (r != -ETIMEDOUT) {
        st = lp_rc_shell(rc);
    } else {
        lp_pipeline_kill(pl, sig);
        if (sig != SIGKILL)
            lp_pipeline_kill(pl, SIGCONT);
        r = lp_pipeline_wait(pl, kill_ms >= 0 ? (int)kill_ms : -1, &rc);
        if (r == -ETIMEDOUT) {
            lp_pipeline_kill(pl, SIGKILL);
            lp_pipeline_wait(pl, -1, &rc);
            st = 128 + SIGKILL;
        } else
            st = preserve ? lp_rc_shell(rc) : 124;
    }
    if (fg) {
        tcsetpgrp(tty_fd, shell_pgid);
        if (have_tmodes)
            tcsetattr(tty_fd, TCSADRAIN, &shell_tmodes);
    }
    return st;
}

int bi_timeout(int argc, char **argv);
int bi_timeout(int argc, char **argv)
{
    long ms, kill_ms;
    int sig;
    bool preserve;
    int i = timeout_opts(argc, argv, &ms, &kill_ms, &sig, &preserve);
    if (i < 0)
        return 125;
    if (i >= argc) {
        sh_error("timeout: no command given");
        return 125;
    }
    lp_pipeline *pl = lp_pipeline_new();
    child_arg ca = {.argv = argv + i, .argc = argc - i};
    int st;
    char *path = is_builtin_or_func(argv[i]) ? NULL : path_search(argv[i]);
    if (path) {
        int pass[8];
        lp_spawn_opts o = {0};
        char **owned;
        stages_fg = sh.monitor && !sh.in_child;
        base_opts(&o, argv + i, path, pass, &owned);
        stages_fg = false;
        lp_pipeline_add(pl, &o);
        free(owned);
        free(path);
    } else if (!is_builtin_or_func(argv[i])) {
        lp_pipeline_free(pl);
        sh_error("timeout: %s: command not found", argv[i]);
        return 127;
    } else
        lp_pipeline_add_fn(pl, child_main, &ca);
    st = run_with_timeout(pl, ms, kill_ms, sig, preserve);
    lp_pipeline_free(pl);
    return st;
}

static int exec_timeout_node(node *n)
{
    strlist args = {0};
    sl_push(&args, xstrdup("timeout"));
    if (expand_words(n->tmo.args, n->tmo.nargs, &args) < 0) {
        sl_free(&args);
        return 1;
    }
    long ms, kill_ms;
    int sig;
    bool preserve;
    int i = timeout_opts(args.n, args.v, &ms, &kill_ms, &sig, &preserve);
    if (i < 0 || i < args.n) {
        if (i >= 0)
            sh_error("timeout: %s: unexpected before the body", args.v[i]);
        sl_free(&args);
        return 125;
    }
    sl_free(&args);
    lp_pipeline *pl = lp_pipeline_new();
    child_arg ca = {.n = n->tmo.body};
    lp_pipeline_add_fn(pl, child_main, &ca);
    int st = run_with_timeout(pl, ms, kill_ms, sig, preserve);
    lp_pipeline_free(pl);
    return st;
}

/* pool OPTIONS { body; } ITEMS: the words on both sides expanded, the rest in pool.c */
static int exec_pool_node(node *n)
{
    strlist pre = {0}, post = {0};
    int st = 1;
    if (expand_words(n->tmo.args, n->tmo.nargs, &pre) == 0 &&
        expand_words(n->tmo.post, n->tmo.npost, &post) == 0)
        st = sh_pool_body(pre.n, pre.v, n->tmo.body, post.n, post.v);
    sl_free(&pre);
    sl_free(&post);
    return st;
}

/* ---- compound commands ------------------------------------------------------------------------ */
static int loop_ctl(void)
{
    /* 1: leave the loop, 0: go on */
    if (sh.ctl == CTL_BREAK) {
        if (--sh.ctl_n <= 0)
            sh.ctl = CTL_NONE;
        return 1;
    }
    if (sh.ctl == CTL_CONTINUE) {
        if (--sh.ctl_n <= 0) {
            sh.ctl = CTL_NONE;
            return 0;
        }
        return 1;
    }
    return sh.ctl != CTL_NONE;
}

static int exec_cond(node *c)
{
    sh.errexit_off++;
    int st = exec_node(c, 0);
    sh.errexit_off--;
    return st;
}

/* a command's text for `jobs` and the job notices (words as written; compound commands
 * abbreviated) */
static void node_text_at(node *n, char *buf, size_t cap, size_t *k)
{
    if (*k + 2 >= cap)
        return;
    switch (n->t) {
    case N_CMD:
        for (int i = 0; i < n->cmd.nassign && *k + 2 < cap; i++)
            *k += (size_t)snprintf(buf + *k, cap - *k, "%s%s", *k ? " " : "", n->cmd.assign[i]);
        for (int i = 0; i < n->cmd.nwords && *k + 2 < cap; i++)
            *k += (size_t)snprintf(buf + *k, cap - *k, "%s%s", *k ? " " : "", n->cmd.words[i]);
        break;
    case N_PIPE:
        for (int i = 0; i < n->pipe.n && *k + 4 < cap; i++) {
            if (i)
                *k += (size_t)snprintf(buf + *k, cap - *k, " |");
            node_text_at(n->pipe.v[i], buf, cap, k);
        }
        break;
    case N_AND:
    case N_OR:
        node_text_at(n->bin.l, buf, cap, k);
        if (*k + 4 < cap)
            *k += (size_t)snprintf(buf + *k, cap - *k, " %s", n->t == N_AND ? "&&" : "||");
        node_text_at(n->bin.r, buf, cap, k);
        break;
    case N_SUBSHELL:
        *k += (size_t)snprintf(buf + *k, cap - *k, "%s(", *k ? " " : "");
        if (*k + 2 < cap)
            node_text_at(n->sub, buf, cap, k);
        if (*k + 2 < cap)
            *k += (size_t)snprintf(buf + *k, cap - *k, " )");
        break;
    default: {
        static const char *const names[] = {[N_GROUP] = "{ ... }", [N_IF] = "if ...", [N_WHILE] = "while ...",
                                            [N_UNTIL] = "until ...", [N_FOR] = "for ...", [N_CASE] = "case ...",
                                            [N_LIST] = "...", [N_BG] = "...", [N_TIMEOUT] = "timeout ...", [N_POOL] = "pool ...",
                                            [N_FUNC] = "..."};
        const char *t = n->t < sizeof names / sizeof names[0] && names[n->t] ? names[n->t] : "...";
        *k += (size_t)snprintf(buf + *k, cap - *k, "%s%s", *k ? " " : "", t);
    }
    }
    if (*k >= cap)
        *k = cap - 1;
}

static void node_text(node *n, char *buf, size_t cap)
{
    size_t k = 0;
    buf[0] = 0;
    node_text_at(n, buf, cap, &k);
}

static int exec_body(node *n, int flags)
{
    switch (n->t) {
    case N_CMD:
        return exec_simple(n, flags);
    case N_PIPE:
        if (n->pipe.n == 1) {
            sh.errexit_off++;
            int st = exec_node(n->pipe.v[0], 0);
            sh.errexit_off--;
            return !st;
        }
        if (n->pipe.bang)
            sh.errexit_off++;
        {
            int st = exec_pipe(n, flags);
            if (n->pipe.bang)
                sh.errexit_off--;
            return st;
        }
    case N_AND:
    case N_OR: {
        int st = exec_cond(n->bin.l);
        if (sh.ctl)
            return st;
        if ((n->t == N_AND) == (st == 0))
            st = exec_node(n->bin.r, flags);
        return st;
    }
    case N_LIST: {
        int st = 0;
        for (int i = 0; i < n->list.n; i++) {
            st = exec_node(n->list.v[i], i == n->list.n - 1 ? flags : 0);
            if (sh.ctl)
                break;
        }
        return st;
    }
    case N_BG: {
        char text[256];
        node_text(n->sub, text, sizeof text);
        int st = exec_in_child(n->sub, true, text);
        return st == 0 ? 0 : st;
    }
    case N_SUBSHELL:
        return exec_in_child(n->sub, false, NULL);
    case N_GROUP:
        return exec_node(n->sub, flags);
    case N_IF: {
        int st = exec_cond(n->ifn.cond);
        if (sh.ctl)
            return st;
        if (st == 0)
            return n->ifn.then ? exec_node(n->ifn.then, flags) : 0;
        if (n->ifn.els)
            return exec_node(n->ifn.els, flags);
        return 0;
    }
    case N_WHILE:
    case N_UNTIL: {
        int st = 0;
        sh.loop_depth++;
        for (;;) {
            int c = exec_cond(n->loop.cond);
            if (sh.ctl) {
                if (loop_ctl())
                    break;
                continue;
            }
            if ((c == 0) != (n->t == N_WHILE))
                break;
            st = n->loop.body ? exec_node(n->loop.body, 0) : 0;
            if (sh.ctl && loop_ctl())
                break;
        }
        sh.loop_depth--;
        return st;
    }
    case N_FOR: {
        strlist items = {0};
        if (n->forn.has_in) {
            if (expand_words(n->forn.words, n->forn.nwords, &items) < 0) {
                sl_free(&items);
                return 1;
            }
        } else {
            for (int i = 0; i < pos->n; i++)
                sl_push(&items, xstrdup(pos->v[i]));
        }
        int st = 0;
        sh.loop_depth++;
        for (int i = 0; i < items.n; i++) {
            if (var_set(n->forn.var, items.v[i], 0) < 0) {
                st = 1;
                break;
            }
            st = n->forn.body ? exec_node(n->forn.body, 0) : 0;
            if (sh.ctl && loop_ctl())
                break;
        }
        sh.loop_depth--;
        sl_free(&items);
        return st;
    }
    case N_CASE: {
        char *w = expand_str(n->casen.word);
        if (!w)
            return 1;
        int st = 0;
        for (caseitem *ci = n->casen.items; ci; ci = ci->next) {
            bool hit = false;
            for (int k = 0; k < ci->npats && !hit; k++) {
                char *p = expand_pattern(ci->pats[k]);
                if (!p) {
                    free(w);
                    return 1;
                }
                hit = sh_match(p, w);
                free(p);
            }
            if (hit) {
                st = ci->body ? exec_node(ci->body, flags) : 0;
                break;
            }
        }
        free(w);
        return st;
    }
    case N_FUNC:
        func_set(n->func.name, n->func.body);
        return 0;
    case N_TIMEOUT:
        return exec_timeout_node(n);
    case N_POOL:
        return exec_pool_node(n);
    }
    return 0;
}

int exec_node(node *n, int flags)
{
    if (!n)
        return sh.status = 0;
    if (interrupted && sh.interactive) {
        /* Ctrl-C reached the shell (or killed the foreground job): drop the rest */
        sh.ctl = CTL_INTR;
        return sh.status = 130;
    }
    if (sh.noexec && !sh.interactive)
        return 0;
    int st;
    if (n->redirs && n->t != N_CMD && n->t != N_TIMEOUT) {
        undo u = {0};
        if (apply_redirs(n->redirs, &u)) {
            st = 1;
        } else {
            st = exec_body(n, flags & ~EV_EXIT);
            undo_redirs(&u);
        }
    } else
        st = exec_body(n, flags);
    if (sh.ctl == CTL_EXIT)
        return st;
    if (sh.ctl == CTL_INTR)
        st = 130; /* interrupted by Ctrl-C, whatever ran last */
    sh.status = st;
    if (n->t != N_PIPE || n->pipe.n == 1) {
        /* a command that is not a multi-stage pipeline is a pipeline of one */
        if (!sh.pipestatus)
            sh.pipestatus = xmalloc(12);
        else if (sh.pipestatus[0] && strlen(sh.pipestatus) < 11)
            ;
        else
            sh.pipestatus = xrealloc(sh.pipestatus, 12);
        snprintf(sh.pipestatus, 12, "%d", st);
    }
    if (any_pending)
        sh_run_traps();
    if (st != 0 && sh.errexit && sh.errexit_off == 0 && sh.ctl == CTL_NONE &&
        (n->t == N_CMD || n->t == N_PIPE || n->t == N_SUBSHELL || n->t == N_TIMEOUT || n->t == N_POOL) &&
        !(n->t == N_PIPE && n->pipe.bang))
        sh_exit(st);
    return st;
}

/* ---- running sources ------------------------------------------------------------------------- */
static arena **kept;
static size_t nkept;

static void keep_arena(arena *a)
{
    kept = xrealloc(kept, (nkept + 1) * sizeof *kept);
    kept[nkept++] = a;
}

int sh_run_src(src *s, bool validate)
{
    if (validate) {
        /* a whole script is parsed before anything of it runs: a syntax error runs nothing */
        arena *a = arena_new();
        node *n;
        int r;
        while ((r = parse_next(s, a, &n, true)) > 0)
            ;
        arena_free(a);
        if (r < 0)
            return -1;
        return 0;
    }
    int st = sh.status;
    for (;;) {
        arena *a = arena_new();
        node *n = NULL;
        size_t p0, p1;
        src_text(s, &p0);
        int r = parse_next(s, a, &n, false);
        if (sh.verbose) {
            const char *t = src_text(s, &p1);
            fwrite(t + p0, 1, p1 - p0, stderr);
        }
        if (r == 0) {
            arena_free(a);
            break;
        }
        if (r < 0) {
            arena_free(a);
            sh.status = st = 2;
            if (!sh.interactive)
                sh_exit(2);
            continue;
        }
        if (n) {
            st = exec_node(n, 0);
            if (ast_defines_function(n))
                keep_arena(a);
            else
                arena_free(a);
        } else {
            arena_free(a);
        }
        src_compact(s);
        if (sh.ctl == CTL_EXIT)
            sh_exit(sh.exit_status);
        if (sh.ctl != CTL_NONE)
            break; /* return, break or continue: for the caller (function, loop, dot) */
    }
    return st;
}

int sh_eval_string(const char *text, const char *where)
{
    src *s = src_new(where, text, strlen(text), NULL, NULL);
    int st = sh_run_src(s, false);
    src_free(s);
    return st;
}
