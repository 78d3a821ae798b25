/* libpipe — subprocesses, pipelines, pools and queues for C.
 *
 * The one public header.  Conventions (see doc/libpipe.3):
 *  - every function that can fail returns 0 on success or a negative errno value
 *    (-ENOENT, -ETIMEDOUT, ...); lp_strerror() names it;
 *  - option structs are valid when zero-initialised;
 *  - timeouts are `int timeout_ms`: -1 waits forever, 0 polls; internally every wait is a
 *    deadline on CLOCK_MONOTONIC, so EINTR never extends a timeout;
 *  - every descriptor the library creates is O_CLOEXEC; the library installs no signal
 *    handler, never reaps children it did not start and never calls exit().
 */
#ifndef LIBPIPE_H
#define LIBPIPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LIBPIPE_VERSION "0.1.0"

/* ---------------------------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------------------------- */

/* Library-specific error codes, negative like errno values and outside errno's range. */
#define LP_ECHECK (-4096) /* lp_run with .check: the child exited non-zero (result still filled) */
#define LP_ESTOPPED (-4097) /* lp_pipeline_wait_job: a stage was stopped by a signal */
/* LP_EEOF (-4098): see lp_expect; LP_ECLOSED (-4099): see channels and queues */

/* Text for a code returned by any lp_ function (negative errno or LP_E*).  Never NULL. */
const char *lp_strerror(int err);

/* ---------------------------------------------------------------------------------------------
 * Stdio plan of a child
 * ------------------------------------------------------------------------------------------- */

enum lp_stdio_kind {
    LP_STDIO_INHERIT = 0, /* the child shares the parent's descriptor (default)            */
    LP_STDIO_PIPE,        /* a new pipe; the parent's end is lp_proc_fd()                  */
    LP_STDIO_DEVNULL,     /* /dev/null                                                     */
    LP_STDIO_STDOUT,      /* stderr only: the same file as the child's stdout              */
    LP_STDIO_FD,          /* an existing descriptor of the parent (dup'ed, not consumed)    */
    LP_STDIO_PATH,        /* a file opened in the child (after cwd), open(2) flags and 0666  */
};

typedef struct lp_stdio {
    enum lp_stdio_kind kind;
    int fd;           /* LP_STDIO_FD */
    const char *path; /* LP_STDIO_PATH */
    int flags;        /* LP_STDIO_PATH: O_RDONLY, O_WRONLY|O_CREAT|O_TRUNC, ... */
} lp_stdio;

/* Compound literals: usable both in initialisers and in assignments. */
#define LP_INHERIT ((lp_stdio){.kind = LP_STDIO_INHERIT, .fd = -1, .path = NULL, .flags = 0})
#define LP_PIPE ((lp_stdio){.kind = LP_STDIO_PIPE, .fd = -1, .path = NULL, .flags = 0})
#define LP_DEVNULL ((lp_stdio){.kind = LP_STDIO_DEVNULL, .fd = -1, .path = NULL, .flags = 0})
#define LP_STDOUT ((lp_stdio){.kind = LP_STDIO_STDOUT, .fd = -1, .path = NULL, .flags = 0})
#define LP_FD(n) ((lp_stdio){.kind = LP_STDIO_FD, .fd = (n), .path = NULL, .flags = 0})
#define LP_PATH(p, fl) ((lp_stdio){.kind = LP_STDIO_PATH, .fd = -1, .path = (p), .flags = (fl)})

/* Values of lp_spawn_opts.pgroup besides "join group N" (N > 0). */
#define LP_PGROUP_INHERIT 0 /* stay in the caller's process group (default)             */
#define LP_PGROUP_NEW (-1)  /* the child leads a new process group (setpgid(0, 0))       */

typedef struct lp_spawn_opts {
    char *const *argv;    /* argv[0] is searched in PATH when it has no '/'; NULL-terminated */
    char *const *env;     /* NULL: inherit the caller's environ; else the full environment  */
    char *const *env_set; /* NULL-terminated "NAME=VALUE" overrides applied on top of env;
                             a bare "NAME" removes NAME                                    */
    const char *cwd;      /* working directory of the child (NULL: the caller's)            */
    lp_stdio in, out, err;
    const int *pass_fds;  /* extra descriptors (>= 3) the child keeps, at the same numbers  */
    size_t n_pass_fds;
    pid_t pgroup;         /* LP_PGROUP_INHERIT, LP_PGROUP_NEW, or a group id to join        */
    bool new_session;     /* setsid() in the child (implies a new process group)            */
    bool die_with_parent; /* SIGKILL the child when the spawning thread exits (PDEATHSIG)   */
    bool set_umask;       /* apply `umask` in the child                                     */
    mode_t umask;
    bool pty;             /* run on a new pseudo-terminal: its controlling tty, session
                             leader; stdio slots left LP_INHERIT use the terminal, and the
                             parent's end (read and write) is lp_proc_fd(p, 0)             */
    bool reset_sigmask;   /* the child starts with no signal blocked (default: caller's mask) */
    bool keep_sigpipe;    /* keep an ignored SIGPIPE ignored in the child (default: SIG_DFL) */
    const char *cgroup;   /* a cgroup v2 directory the child joins before exec (NULL: ours)  */
    bool child_subreaper; /* the child becomes a subreaper (PR_SET_CHILD_SUBREAPER, kept across
                             exec): orphans among its descendants re-parent to it, not to init */
    const char *exec_path; /* the file to execute, as is (no PATH search); NULL: argv[0]    */
    const sigset_t *handled_signals; /* a promise: no signal outside this set has a handler in
                             the caller, so the child resets just these to SIG_DFL instead of
                             asking the kernel about all 64 (a shell passes its trapped
                             signals; saves ~60 syscalls per spawn).  NULL: check them all */
    const sigset_t *sigdefault; /* set these to SIG_DFL in the child, even when the caller
                             ignores them (posix_spawn's SETSIGDEF): an interactive shell that
                             ignores SIGINT, SIGTSTP, SIGTTOU... gives its jobs the defaults */
    bool tty_foreground;  /* the child's process group becomes the foreground group of the
                             terminal `tty_fd` (tcsetpgrp) before exec: job control */
    int tty_fd;
} lp_spawn_opts;

/* ---------------------------------------------------------------------------------------------
 * Processes
 * ------------------------------------------------------------------------------------------- */

typedef struct lp_proc lp_proc;

/* Start a child.  0 and *out set, or a negative errno with *out = NULL: the child's errno when
 * it could not be started (-ENOENT for a missing program, -EACCES, a bad cwd or LP_PATH, ...);
 * nothing is left running and no zombie remains.  lp_proc_errmsg(NULL) then gives the detail
 * naming the thing that failed ("exec 'frob': No such file or directory"). */
int lp_spawn(lp_proc **out, const lp_spawn_opts *o);

/* Process id of the child (still valid after it was reaped, for messages). */
pid_t lp_proc_pid(const lp_proc *p);

/* The parent's end of the child's stdio pipe 0, 1 or 2, or -1 when that slot is not a pipe
 * (for a pty child, 0 is the terminal's master side, read and write). */
int lp_proc_fd(const lp_proc *p, int stdio);

/* Close the parent's end of stdio slot `stdio` (e.g. to send EOF on stdin).  Idempotent. */
void lp_proc_close_fd(lp_proc *p, int stdio);

/* Wait for the child to exit and reap it.  0 and *rc (may be NULL) set to the exit code, or
 * minus the signal number that killed it (Python's convention); -ETIMEDOUT while it runs. */
int lp_proc_wait(lp_proc *p, int timeout_ms, int *rc);
/* For the calling thread: every blocking wait (lp_proc_wait, lp_pipeline_wait, and the waits
 * inside them) also watches `fd` and returns -EINTR, with nothing reaped, as soon as it is
 * readable (the library does not read it).  A shell's self-pipe written by a signal handler
 * makes `wait` interruptible by trapped signals.  -1 (the default) turns it off. */
void lp_set_wait_interrupt(int fd);

/* Send `sig` to the child (not once reaped: then -ESRCH).  Uses its pidfd: no pid reuse race. */
int lp_proc_kill(lp_proc *p, int sig);

/* Send `sig` to the child's process group when the child leads one it was given by
 * lp_spawn (LP_PGROUP_NEW, new_session, pty), else to the child alone. */
int lp_proc_kill_group(lp_proc *p, int sig);

/* SIGTERM, wait up to grace_ms, then SIGKILL, and reap.  When the child leads its own process
 * group the signals go to the whole group.  *rc as for lp_proc_wait. */
int lp_proc_terminate(lp_proc *p, int grace_ms, int *rc);

/* true once the child has been reaped (lp_proc_wait returned 0). */
bool lp_proc_done(const lp_proc *p);

/* Detail of the last failure on p ("exec 'frob': No such file or directory"); "" if none.
 * With p == NULL: the detail of the calling thread's last failed lp_spawn. */
const char *lp_proc_errmsg(const lp_proc *p);

/* Resource usage and wall time of a reaped child. */
typedef struct lp_usage {
    double user_s, sys_s; /* CPU seconds */
    long max_rss_kb;      /* peak resident set */
    double wall_s;        /* from spawn to reap */
    bool core_dumped;
} lp_usage;
int lp_proc_usage(const lp_proc *p, lp_usage *u); /* -EAGAIN while not reaped */

/* Shell convention for an rc: the exit code, or 128 + signal number. */
int lp_rc_shell(int rc);

/* Kill (SIGKILL) a child still running, reap it, close the parent's ends, free p.  NULL ok. */
void lp_proc_free(lp_proc *p);

/* ---------------------------------------------------------------------------------------------
 * Byte buffers
 * ------------------------------------------------------------------------------------------- */

/* A growable byte buffer; zero-initialise it.  `data` is NUL-terminated past `len` (when not
 * NULL), so text output can be used as a string; binary data may contain NULs.  Buffers the
 * library fills grow without copying their contents once large (mremap), and only the pages
 * written count towards memory use. */
typedef struct lp_buf {
    char *data;
    size_t len, cap;
} lp_buf;

/* Release the storage of b (not b itself) and zero it.  NULL ok. */
void lp_buf_free(lp_buf *b);

/* Append n bytes to b.  0 or -ENOMEM. */
int lp_buf_append(lp_buf *b, const void *data, size_t n);

/* ---------------------------------------------------------------------------------------------
 * Communicate: feed stdin and drain stdout/stderr without deadlock
 * ------------------------------------------------------------------------------------------- */

/* Write `in` to the child's stdin (then close it) while draining stdout/stderr into out/err
 * (either may be NULL to discard).  0 when the child has exited and all pipes reached EOF, with
 * *rc (may be NULL) as for lp_proc_wait.  -ETIMEDOUT: everything read so far is in out/err;
 * call again (in == NULL) to continue: the unwritten rest of the first call's input is still
 * fed, nothing is lost or duplicated.  A child that exits or closes stdin without reading all
 * input is not an error: the rest is dropped (no SIGPIPE reaches the caller, no -EPIPE).
 * Slots that are not pipes are ignored; a child on a pty is read through lp_proc_fd(p, 0). */
int lp_proc_communicate(lp_proc *p, const void *in, size_t in_len, lp_buf *out, lp_buf *err,
                        int timeout_ms, int *rc);

/* Streaming variant: output is handed to `cb` as it arrives instead of being kept: `stdio` is
 * 1 or 2; with `lines`, only whole lines (with their '\n') are delivered, and a last line
 * without one at EOF.  A non-zero return from cb stops communicating: that value is returned
 * (the child keeps running; lp_proc_terminate or lp_proc_free stop it).  Timeouts and the
 * continuation rule are those of lp_proc_communicate. */
typedef int (*lp_output_cb)(void *ctx, int stdio, const char *data, size_t len);
int lp_proc_stream(lp_proc *p, const void *in, size_t in_len, lp_output_cb cb, void *ctx,
                   bool lines, int timeout_ms, int *rc);

/* ---------------------------------------------------------------------------------------------
 * Run: spawn, communicate, wait — in one call
 * ------------------------------------------------------------------------------------------- */

/* How lp_run makes sure nothing the child started outlives a timeout. */
enum lp_contain {
    LP_CONTAIN_PGROUP = 0, /* (default) the child leads a new process group; a timeout signals
                              the group: the child and every descendant that did not leave it */
    LP_CONTAIN_NONE,       /* groups as the spawn options say; a timeout signals the child
                              (its group when the options made it a group leader) */
    LP_CONTAIN_CGROUP,     /* a new cgroup v2 under the caller's own; a timeout uses
                              cgroup.kill: every descendant, also those that called setsid;
                              the cgroup is killed and removed at the end of every run.  An
                              error from lp_run (-EACCES, -EPERM, -EROFS, -ENOENT) when the
                              tree is not writable.  With lp_spawn_opts.cgroup set, that cgroup
                              is used (killed on timeout, never removed) */
    LP_CONTAIN_TREE,       /* process group, and on timeout also every descendant found by
                              walking parent links in /proc first (catches setsid'ed
                              grandchildren whose parent chain to the child is intact) */
    LP_CONTAIN_AUTO,       /* LP_CONTAIN_CGROUP where possible, else LP_CONTAIN_TREE */
    LP_CONTAIN_SUBREAPER,  /* opt-in: LP_CONTAIN_TREE with the child made a subreaper, so
                              descendants whose parent exited stay below the child and are
                              found too (also after setsid).  The child then inherits orphans
                              (zombies until it exits); a descendant that outlives the child
                              itself is beyond it: only the cgroup mode catches that */
};

typedef struct lp_run_opts {
    const void *input;    /* fed to stdin (implies a stdin pipe when `in` is LP_INHERIT)     */
    size_t input_len;
    int timeout_ms;       /* 0: no timeout (lp_run never polls), else as everywhere            */
    int kill_grace_ms;    /* on timeout: SIGTERM, then SIGKILL after this (0: SIGKILL at once) */
    bool check;           /* a non-zero exit returns LP_ECHECK (the result is still filled)    */
    size_t max_output;    /* per stream cap on kept bytes (0: unlimited); the rest is drained
                             and discarded, `truncated` set                                    */
    enum lp_contain contain;
    lp_output_cb on_output; /* if set, output is streamed to it and not kept in out/err       */
    void *ctx;
    bool lines;           /* with on_output: deliver whole lines                              */
} lp_run_opts;

typedef struct lp_result {
    int rc;               /* exit code, or minus the signal number                            */
    bool timed_out;
    bool truncated;
    lp_buf out, err;      /* captured when the spawn options say LP_PIPE (and no on_output)   */
    lp_usage usage;       /* CPU, max RSS, wall time of the child                             */
    pid_t pid;
    int attempts;         /* pools: attempts made (retries + 1 at most); lp_run: 1            */
} lp_result;

/* Spawn `o`, feed input, capture, wait.  0; LP_ECHECK (with .check); -ETIMEDOUT (timed_out
 * set, partial output kept, the child and its process group/cgroup killed and reaped); or the
 * lp_spawn error (lp_proc_errmsg(NULL) names it).  Returns on time even when a grandchild keeps
 * the pipes open.  `r` may be NULL for defaults.  Free res with lp_result_free in every case. */
int lp_run(const lp_spawn_opts *o, const lp_run_opts *r, lp_result *res);
void lp_result_free(lp_result *res);

/* ---------------------------------------------------------------------------------------------
 * Pipelines: a | b | c
 * ------------------------------------------------------------------------------------------- */

typedef struct lp_pipeline lp_pipeline;

/* A new, empty pipeline (NULL only when out of memory). */
lp_pipeline *lp_pipeline_new(void);

/* Options; set before lp_pipeline_start. */
void lp_pipeline_set_pipefail(lp_pipeline *pl, bool on);   /* rc: last non-zero stage (bash)  */
void lp_pipeline_set_sigpipe_ok(lp_pipeline *pl, bool on); /* a stage killed by SIGPIPE counts
                                                              as success in the pipeline's rc */
/* Process group of all stages: LP_PGROUP_NEW (default: the first stage leads a new group),
 * LP_PGROUP_INHERIT (the caller's), or an existing group to join (a shell's job). */
void lp_pipeline_set_pgroup(lp_pipeline *pl, pid_t pgroup);

/* Append a stage.  argv/env/env_set/cwd/umask/err... per stage; the options are copied (strings
 * included).  The first stage's `in` and the last stage's `out` are the pipeline's ends (LP_PIPE
 * there gives lp_pipeline_fd 0 / 1); between stages the library connects pipes and ignores
 * in/out.  A stage's `err`: LP_PIPE sends it to the pipeline's one captured stderr
 * (lp_pipeline_fd 2), LP_STDOUT into the next stage (like `|&`), or a file/fd/LP_DEVNULL.
 * `pgroup`, `new_session` and `pty` of stages are ignored (see lp_pipeline_set_pgroup).
 * 0, -EINVAL (no argv), -EBUSY (already started), -ENOMEM. */
int lp_pipeline_add(lp_pipeline *pl, const lp_spawn_opts *stage);

/* Append a stage that runs fn(arg) in its own forked child, reading fd 0 and writing fd 1; its
 * return value (& 255) is the stage's exit code.  stdio buffers are flushed before the fork and
 * after fn; the child leaves with _exit (no atexit handlers run twice).  Descriptors of the
 * pipeline other than its own stdio are closed in the child. */
int lp_pipeline_add_fn(lp_pipeline *pl, int (*fn)(void *arg), void *arg);
/* lp_pipeline_add_fn with the stage's stdio taken from o->in, o->out and o->err (the other
 * fields are ignored): as for a program stage, `in` of the first stage and `out` of the last
 * are the pipeline's ends (LP_PIPE, LP_FD, LP_DEVNULL or LP_INHERIT), and `err` may be LP_PIPE,
 * LP_FD, LP_DEVNULL, LP_STDOUT or LP_INHERIT.  -EINVAL for LP_PATH (open the file yourself). */
int lp_pipeline_add_fn_opts(lp_pipeline *pl, int (*fn)(void *arg), void *arg, const lp_spawn_opts *o);

/* Start every stage, connected by pipes, in one process group.  The parent keeps no inner pipe
 * end, so EOF and SIGPIPE propagate as in a shell.  If a stage fails to start, the stages
 * already started are killed and reaped and the error (its errno) is returned; the detail names
 * the stage and program: lp_pipeline_errmsg.  0 or -errno. */
int lp_pipeline_start(lp_pipeline *pl);

/* The parent's end of the pipeline's stdin (0), stdout (1) or captured stderr (2), or -1. */
int lp_pipeline_fd(const lp_pipeline *pl, int stdio);
/* Close that end (e.g. EOF to the first stage after writing it yourself).  Idempotent. */
void lp_pipeline_close_fd(lp_pipeline *pl, int stdio);

/* lp_proc_communicate for the pipeline's ends: feeds `in` to the first stage, drains the last
 * stage's stdout and the captured stderr, until EOF on both; then waits for every stage within
 * the same deadline.  -ETIMEDOUT keeps what was read; call again to continue. */
int lp_pipeline_communicate(lp_pipeline *pl, const void *in, size_t n, lp_buf *out, lp_buf *err,
                            int timeout_ms);

/* Wait for every stage.  0 and *rc: the last stage's rc, or with pipefail the last non-zero
 * one (0 if none); with sigpipe_ok, -SIGPIPE counts as 0.  -ETIMEDOUT while a stage runs. */
/* lp_pipeline_wait for a job-control shell: blocks until every stage has ended (0 and *rc, as
 * lp_pipeline_wait), or until a stage is stopped by a signal (SIGTSTP, SIGSTOP, SIGTTIN...):
 * then LP_ESTOPPED, nothing reaped, the pipeline still running; continue it with
 * lp_pipeline_kill(pl, SIGCONT) and wait again.  Only for a pipeline in its own process group
 * (the default LP_PGROUP_NEW), else -EINVAL. */
int lp_pipeline_wait_job(lp_pipeline *pl, int *rc);
/* The process group of the started pipeline (0 when it is the caller's). */
pid_t lp_pipeline_pgid(const lp_pipeline *pl);
int lp_pipeline_wait(lp_pipeline *pl, int timeout_ms, int *rc);

/* Number of stages; one stage's rc (exit code or -signal; -EAGAIN before it was reaped); its
 * pid; its usage (lp_proc_usage).  pshell's $pipestatus reads lp_pipeline_status. */
size_t lp_pipeline_len(const lp_pipeline *pl);
int lp_pipeline_status(const lp_pipeline *pl, size_t stage);
pid_t lp_pipeline_pid(const lp_pipeline *pl, size_t stage);
int lp_pipeline_usage(const lp_pipeline *pl, size_t stage, lp_usage *u);

/* Signal the pipeline: its whole process group when lp_pipeline_start created it and a stage
 * still runs (every stage and what they started); else each running stage (a group that was
 * joined may hold other processes).  0, or -ESRCH when nothing runs. */
int lp_pipeline_kill(lp_pipeline *pl, int sig);

/* Detail of the last failure ("stage 2 (frob): exec 'frob': No such file or directory"). */
const char *lp_pipeline_errmsg(const lp_pipeline *pl);

/* One call, like lp_run: start (stdin made a pipe when r->input is set and the first stage's
 * `in` is LP_INHERIT), feed, capture the last stage's stdout / the captured stderr when those
 * are LP_PIPE, wait.  On timeout: SIGTERM to the group, keep draining for kill_grace_ms, SIGKILL,
 * reap every stage, -ETIMEDOUT with partial output.  res->rc is the pipeline's rc; res->usage
 * and res->pid are the last stage's.  `contain` other than LP_CONTAIN_NONE means the group
 * (always used by pipelines).  LP_ECHECK with r->check.  r may be NULL. */
int lp_pipeline_run(lp_pipeline *pl, const lp_run_opts *r, lp_result *res);

/* Kill stages still running (lp_pipeline_kill SIGKILL), reap them, close every end, free.
 * After a failed lp_pipeline_start, wait/communicate/run return that error; only free remains. */
void lp_pipeline_free(lp_pipeline *pl);

/* ---------------------------------------------------------------------------------------------
 * Worker pools: bounded parallelism with futures
 *
 * A pool runs jobs, at most `workers` at a time, and hands back an lp_future per job.  Command
 * pools run each job as a child process (lp_pool_submit, lp_pool_submit_call); function pools
 * (lp_pool_new_fn) run a C function in pre-forked worker processes.  A pool is driven by one
 * event loop, run by whichever thread waits on it (lp_future_wait, lp_pool_next,
 * lp_pool_shutdown, or a blocking lp_pool_submit); the next job starts the moment one ends, and
 * an idle wait costs no CPU.  Every lp_pool_* and lp_future_* function may be called from any
 * thread at any time (the pool is internally locked).  The pool owns its futures: they stay
 * valid until lp_pool_free (or lp_future_release).  A thread that drives the pool honours its
 * lp_set_wait_interrupt descriptor: lp_future_wait, lp_pool_next, lp_pool_shutdown and a
 * blocked lp_pool_submit return -EINTR when it is readable (the jobs go on running).
 * ------------------------------------------------------------------------------------------- */

typedef struct lp_pool lp_pool;
typedef struct lp_future lp_future;

/* Called once per job when it ends (after its last attempt), on the thread driving the pool,
 * with the pool unlocked: it may submit, wait for others... (not lp_pool_free). */
typedef void (*lp_future_cb)(lp_future *f, void *ctx);

typedef struct lp_pool_opts {
    int workers;            /* jobs running at once (0: the number of online CPUs)             */
    size_t max_pending;     /* jobs submitted but not started; lp_pool_submit blocks while that
                               many wait (0: no bound)                                          */
    int job_timeout_ms;     /* per attempt, for jobs whose lp_run_opts has no timeout (0: none);
                               function pools: per task, the worker is killed and replaced      */
    int retries;            /* extra attempts for a job that exited non-zero, timed out, or
                               (function pools) whose worker died                              */
    int kill_grace_ms;      /* timeout or cancel of a running job: SIGTERM to its process group,
                               SIGKILL after this (0: SIGKILL at once)                          */
    size_t spill_bytes;     /* captured output of a job kept in memory up to this many bytes per
                               stream, then moved to an unlinked temporary file that the result's
                               lp_buf maps (0: 4 MiB; SIZE_MAX: never spill)                    */
    const char *spill_dir;  /* directory of spill files (NULL: $TMPDIR, else /tmp)              */
    bool own_thread;        /* a thread of the pool drives it all the time: jobs start and end,
                               callbacks run (on that thread) without anyone waiting            */
    lp_future_cb on_success; /* rc == 0                                                         */
    lp_future_cb on_error;   /* rc != 0, timed out, failed to start, crashed, cancelled          */
    void *cb_ctx;
    /* function pools only */
    unsigned max_tasks_per_worker; /* a worker exits and is replaced after this many (0: never) */
    void *init_arg;         /* passed to the initializer of lp_pool_new_fn                      */
} lp_pool_opts;

/* A command pool.  NULL (errno set) when out of memory or descriptors. */
lp_pool *lp_pool_new(const lp_pool_opts *o);

/* Queue a command job: `job` as for lp_spawn and `r` as for lp_run (NULL: defaults; its
 * timeout_ms, else the pool's job_timeout_ms, applies per attempt).  Both are copied: the
 * caller's may go at once.  Output is captured for stdio slots that are LP_PIPE; unless the
 * job asks otherwise it runs in a process group of its own (a timeout stops all of it), and it
 * is killed with the pool's process (PDEATHSIG; Linux ties it to the thread that starts the
 * job, so only jobs started by the thread that created the pool get it — a job started while
 * another thread drives the pool is not killed when that thread exits).  The environment variable LP_POOL_SLOT is set
 * in the job to its slot number (1..workers, GNU parallel's {%}).  Blocks while max_pending
 * jobs wait.  0 and *f (may be NULL), -EINVAL (no argv), -EPIPE after lp_pool_shutdown,
 * -ENOMEM.  A job that cannot be started completes with that error (lp_future_error). */
int lp_pool_submit(lp_pool *p, const lp_spawn_opts *job, const lp_run_opts *r, lp_future **f);

/* Queue a job that runs fn(arg) in a forked child of the caller (a shell runs a function or a
 * block this way); its return value & 255 is the rc.  Only o->in, o->out, o->err, o->cwd and
 * o->env_set of `o` (NULL: all LP_INHERIT) are used.  As lp_pool_submit otherwise. */
int lp_pool_submit_call(lp_pool *p, int (*fn)(void *arg), void *arg, const lp_spawn_opts *o,
                        const lp_run_opts *r, lp_future **f);

/* Queue a pipeline job: `pl` (built with lp_pipeline_add..., not started) is copied, stages and
 * options, and each attempt starts a fresh copy; the caller keeps pl (free it at will).  Its
 * ends as for lp_pipeline_run: the last stage's LP_PIPE stdout and the captured stderr are
 * the result's out/err; r->input feeds the first stage.  rc is the pipeline's (pipefail and
 * sigpipe_ok as set on pl), usage and pid the last stage's; a timeout or cancel signals the
 * pipeline's process group.  -EBUSY if pl was started.  As lp_pool_submit otherwise. */
int lp_pool_submit_pipeline(lp_pool *p, const lp_pipeline *pl, const lp_run_opts *r, lp_future **f);

/* Wait until the job ended (0) or timeout_ms passed (-ETIMEDOUT); drives the pool meanwhile. */
int lp_future_wait(lp_future *f, int timeout_ms);

/* The result of an ended job (NULL while it runs or waits): rc (exit code, minus the signal,
 * or the function's return), timed_out, captured out/err, usage, pid of the last attempt, and
 * `attempts`, the number of attempts made (0 for a job cancelled before it started). */
const lp_result *lp_future_result(const lp_future *f);

/* 0 when the job succeeded, else a negative code: LP_ECHECK (ran, rc != 0), -ETIMEDOUT,
 * -ECANCELED, -EOWNERDEAD (function pool: the worker died; see lp_future_errmsg), or the error
 * that kept it from starting (-ENOENT...).  -EAGAIN while not ended. */
int lp_future_error(const lp_future *f);

/* What went wrong, in words ("exec 'frob': No such file or directory", "worker killed by
 * signal 11 (Segmentation fault)", "timed out after 500 ms"); "" when nothing did. */
const char *lp_future_errmsg(const lp_future *f);

/* Submission number (1, 2, ...) and the slot the last attempt ran in (1..workers; 0 if none). */
uint64_t lp_future_seq(const lp_future *f);
int lp_future_slot(const lp_future *f);

/* The ctx pointer is the caller's: set it at will (NULL initially). */
void lp_future_set_data(lp_future *f, void *data);
void *lp_future_data(const lp_future *f);

/* Cancel a job.  Pending: it never runs (0).  Running: its process group is stopped as on a
 * timeout (SIGTERM, then SIGKILL after kill_grace_ms) and no retry follows (0).  Either way it
 * ends with lp_future_error -ECANCELED and the output read so far.  -EALREADY once ended. */
int lp_future_cancel(lp_future *f);

/* as_completed: the next ended job not yet returned by lp_pool_next, in the order they ended.
 * 0 and *f; -ETIMEDOUT; -ECHILD when no job is left that could end (all returned). */
int lp_pool_next(lp_pool *p, int timeout_ms, lp_future **f);

/* Stop accepting jobs (later submits: -EPIPE).  cancel_pending: jobs not started are cancelled.
 * wait: drive the pool until every job has ended.  0. */
int lp_pool_shutdown(lp_pool *p, bool wait, bool cancel_pending);

/* Counts: jobs waiting to start, running, ended. */
void lp_pool_stats(const lp_pool *p, size_t *pending, size_t *running, size_t *done);

/* Free an ended future and its result now rather than at lp_pool_free (a long-running pool
 * keeps memory bounded this way); f is invalid afterwards.  0, or -EBUSY when it has not ended
 * or its callback has not run yet. */
int lp_future_release(lp_future *f);

/* Cancel what is pending, kill (SIGKILL) what runs, reap everything, free the pool and all its
 * futures.  NULL ok. */
void lp_pool_free(lp_pool *p);

/* ---- function pools ------------------------------------------------------------------------ */

/* The task function: reads n bytes at `in`, appends its result to `out`, returns an rc (0 is
 * success).  It runs in a worker process: it may keep state between tasks. */
typedef int (*lp_pool_fn)(const void *in, size_t n, lp_buf *out);

/* A function pool: `workers` processes are forked now (and re-forked when one dies or reaches
 * max_tasks_per_worker), each calling initializer(o->init_arg) once (NULL: none; a non-zero
 * return fails the worker's tasks, like a crash) and then fn for each task.  Arguments and
 * results travel as bytes over a socketpair per worker.  Create the pool before starting
 * threads that hold locks: workers are forked from the caller.  Workers die with the pool's
 * process.  NULL and errno on failure. */
lp_pool *lp_pool_new_fn(const lp_pool_opts *o, lp_pool_fn fn, int (*initializer)(void *arg));

/* Queue one task (the bytes are copied).  The result's `out` holds what fn appended, rc its
 * return value; a worker that crashed gives rc = minus the signal and lp_future_error
 * -EOWNERDEAD.  As lp_pool_submit otherwise. */
int lp_pool_submit_fn(lp_pool *p, const void *in, size_t n, lp_future **f);

/* Run fn over n inputs and wait: out[i] gets fn's output for in[i] (the caller frees each with
 * lp_buf_free) and rc[i] (may be NULL) its rc, in input order.  `batch` items travel per
 * message (0: chosen from n and workers, like multiprocessing's chunksize; 1: one per message).
 * A crash fails only the item being run (rc = minus the signal); the other items of its batch
 * run again on the replacement worker.  0, or -EINVAL / -ENOMEM / -EPIPE. */
int lp_pool_map_fn(lp_pool *p, const lp_buf *in, size_t n, size_t batch, lp_buf *out, int *rc);

/* ---------------------------------------------------------------------------------------------
 * Regular expressions: PCRE2, JIT-compiled
 * ------------------------------------------------------------------------------------------- */

typedef struct lp_regex lp_regex;

#define LP_RE_CASELESS 0x1u  /* case-insensitive (grep -i)                                     */
#define LP_RE_UTF 0x2u       /* pattern and subject are UTF-8: ., \w, classes and case folding
                                work on characters (PCRE2_UTF|PCRE2_UCP); bytes that are not
                                valid UTF-8 never match a character and are never an error   */
#define LP_RE_MULTILINE 0x4u /* ^ and $ also match at newlines inside the subject             */

/* Compile `pattern` (NUL-terminated) with LP_RE_* flags; JIT-compiled where the CPU allows.
 * 0 and *out, -EINVAL for a bad pattern (err, when not NULL, receives PCRE2's message with the
 * offset: "missing closing parenthesis at offset 4"), or -ENOMEM. */
int lp_regex_new(lp_regex **out, const char *pattern, unsigned flags, char *err, size_t errlen);

/* One captured group: bytes [start, end) of the subject; both SIZE_MAX when it did not take
 * part in the match. */
typedef struct lp_regmatch {
    size_t start, end;
} lp_regmatch;

/* Search subject[0, len) from offset `from` (lookbehind may see before it).  1: matched, m[0]
 * is the whole match and m[i] group i, for i < nm (groups past lp_regex_groups are unset);
 * 0: no match; -ENOMEM.  An object is used by one thread at a time (it keeps its match
 * buffers). */
int lp_regex_match(lp_regex *re, const char *subject, size_t len, size_t from, lp_regmatch *m, size_t nm);

/* Number of capture groups (not counting group 0). */
size_t lp_regex_groups(const lp_regex *re);
/* Name of group i (1-based), or NULL when it has none. */
const char *lp_regex_group_name(const lp_regex *re, size_t i);

void lp_regex_free(lp_regex *re); /* NULL ok */

/* ---------------------------------------------------------------------------------------------
 * Expect: wait for patterns in a running child's output (pexpect's job)
 * ------------------------------------------------------------------------------------------- */

#define LP_EEOF (-4098) /* lp_expect: the output ended before any pattern matched */

/* The expect state of one child output.  A struct tag, not a typedef: lp_expect is the
 * function below (C has one namespace for both). */
struct lp_expect;

/* Read the output of p through lp_proc_fd(p, stdio): 1 (stdout pipe), 2 (stderr pipe) or 0
 * (the master of a pty child).  p must outlive e; e never closes the descriptor.  0, -EINVAL
 * (no such pipe), -ENOMEM. */
int lp_expect_new(struct lp_expect **out, lp_proc *p, int stdio);

/* Wait until one of the n patterns matches the output not yet consumed; returns its index
 * (>= 0).  The earliest match in the output wins, and of matches starting at the same byte
 * the lowest index.  The output up to the end of the match is consumed; what follows stays
 * for the next call.  -ETIMEDOUT: nothing consumed (the output read so far is kept);
 * LP_EEOF: the output ended (EOF, or EIO on a pty whose child has gone) with no match,
 * nothing consumed; or -errno.  Reading never blocks past the deadline. */
int lp_expect(struct lp_expect *e, lp_regex *const *pats, size_t n, int timeout_ms);

/* Patterns run over the unconsumed output alone (^ anchors at its first byte).  While the
 * calling thread's lp_set_wait_interrupt descriptor is readable, lp_expect and lp_proc_send
 * return -EINTR (lp_expect: nothing consumed, as for -ETIMEDOUT).  -EINVAL for no patterns;
 * -EBADF when the descriptor was closed (lp_proc_close_fd). */

/* After lp_expect returned k >= 0: capture i (0: the whole match) of pats[k], or NULL when the
 * group did not take part; *len (may be NULL) its length.  Valid until the next call on e.
 * Not NUL-terminated (the output may hold NULs): use *len. */
const char *lp_expect_group(const struct lp_expect *e, size_t i, size_t *len);
/* After lp_expect: the consumed output before the match (k >= 0), or everything unconsumed
 * (-ETIMEDOUT, LP_EEOF).  Valid until the next call on e. */
const char *lp_expect_before(const struct lp_expect *e, size_t *len);
/* After lp_expect returned k >= 0: lp_regex_groups(pats[k]); else 0. */
size_t lp_expect_groups(const struct lp_expect *e);

void lp_expect_free(struct lp_expect *e); /* NULL ok */

/* Write all n bytes to the child's stdin pipe (or its pty), waiting at most timeout_ms.  0;
 * -ETIMEDOUT (part was written); -EPIPE when the child no longer reads (no SIGPIPE reaches the
 * caller); -EINVAL when p has no stdin pipe or pty. */
int lp_proc_send(lp_proc *p, const void *data, size_t n, int timeout_ms);

/* ---------------------------------------------------------------------------------------------
 * Channels: whole messages over a socketpair or a pipe pair (multiprocessing's Pipe)
 *
 * A channel carries framed messages: each lp_chan_send is received by exactly one lp_chan_recv,
 * whole.  A message is never seen half: a sender killed (or timing out) part way through a
 * frame leaves the reader with nothing of it (the reader gets LP_ECLOSED at the peer's end).
 * A channel is used by one thread at a time per direction (one sender, one receiver).
 * ------------------------------------------------------------------------------------------- */

#define LP_ECLOSED (-4099) /* lp_chan_recv: the peer closed; lp_queue_get: the queue was closed
                              and is empty; lp_queue_put: the queue was closed */

typedef struct lp_chan lp_chan;

/* Two connected ends (an AF_UNIX socketpair, both O_CLOEXEC): what one sends the other
 * receives.  To hand an end to a child, pass lp_chan_fd(end) to it (e.g. with
 * lp_spawn_opts.pass_fds or as its stdin) and rebuild it there with lp_chan_open.  0 or -errno. */
int lp_chan_pair(lp_chan **a, lp_chan **b);

/* A channel over existing descriptors: read from rfd, write to wfd (the same descriptor for a
 * socket; -1 for a direction not used).  The channel owns them (lp_chan_free closes them).
 * 0, -EINVAL, -ENOMEM. */
int lp_chan_open(lp_chan **c, int rfd, int wfd);

/* Send one message of n bytes (n may be 0; at most LP_CHAN_MAX).  Waits at most timeout_ms
 * for room.  0: the whole message was handed to the kernel.  -ETIMEDOUT: if no byte of it was
 * written, nothing was sent; if part was, the rest is kept in the channel and written first by
 * the next lp_chan_send / lp_chan_flush (the reader sees the message only once whole).  -EPIPE
 * when the peer closed (never SIGPIPE); -EMSGSIZE; -EINTR (lp_set_wait_interrupt). */
#define LP_CHAN_MAX ((size_t)1 << 31)
int lp_chan_send(lp_chan *c, const void *data, size_t n, int timeout_ms);

/* Write what an earlier timed-out lp_chan_send left unsent.  0 when nothing remains;
 * -ETIMEDOUT, -EPIPE, -EINTR. */
int lp_chan_flush(lp_chan *c, int timeout_ms);

/* Bytes of a message that an lp_chan_send which failed with -ETIMEDOUT/-EINTR kept to send
 * later: non-zero means that message will be delivered (by the next send or flush); 0 after
 * such a failure means nothing of it was sent.  NULL: 0. */
size_t lp_chan_pending(const lp_chan *c);

/* Receive one whole message into *out (replacing its contents; out->data NUL-terminated past
 * out->len).  0; -ETIMEDOUT (part of a message may have been read: it is kept for the next
 * call, nothing is lost); LP_ECLOSED when the peer closed (a partial message at that point is
 * discarded); -EPROTO for a malformed frame; -EINTR (lp_set_wait_interrupt); -ENOMEM. */
int lp_chan_recv(lp_chan *c, lp_buf *out, int timeout_ms);

/* The descriptor to read (which = 0) or write (which = 1), -1 if none; for poll/epoll. */
int lp_chan_fd(const lp_chan *c, int which);

/* Close the channel's descriptors and free it.  NULL ok. */
void lp_chan_free(lp_chan *c);

/* ---------------------------------------------------------------------------------------------
 * Queues: one API over four stores, chosen by a URI
 *
 *   mem:                    in this process, thread-safe (each lp_queue_open of "mem:" is a
 *                           new queue; share the lp_queue * between threads)
 *   shm:NAME                across processes on one machine: a ring in POSIX shared memory
 *                           (/dev/shm/lpq.NAME), robust process-shared locking (a process
 *                           killed while holding the lock never wedges the others)
 *   file:PATH[#QUEUE]       durable, processes on one machine: an SQLite database in WAL mode
 *                           holding any number of named queues (QUEUE default "default")
 *   redis://[:PASSWORD@]HOST[:PORT]/NAME   durable, many machines (hiredis)
 *
 * Every lp_queue_* function may be called from any thread at any time.  Items are bytes (may
 * hold NULs).  Order is fixed when a queue is created: FIFO (default), LIFO, or PRIORITY
 * (lowest priority value first, like Python's PriorityQueue; equal priorities FIFO).
 *
 * Delivery.  mem: and shm: remove an item when lp_queue_get returns it (id 0; ack/release are
 * no-ops that return 0).  file: and redis: deliver at least once: lp_queue_get claims the item
 * under a lease of lease_ms and gives its id; lp_queue_ack completes it; lp_queue_release
 * puts it back (failed = true counts a failed attempt).  An item whose lease expired, or whose
 * holder was a process on this machine that no longer exists, goes back to the queue by itself
 * (checked by every get and stat).  An item that has been delivered max_attempts times and
 * fails (release with failed, or a lost lease) moves to the dead-letter list instead.
 *
 * Interrupts.  While the calling thread's lp_set_wait_interrupt descriptor is readable, any
 * lp_queue_* call that has to wait returns -EINTR: a get or put waiting for an item or room,
 * and also (file:) an ack, release or touch waiting for another process's write lock, or
 * (redis:) a reconnect.  Set that descriptor only around the waits you want to interrupt, or
 * retry an -EINTR ack/release (nothing was done).
 * ------------------------------------------------------------------------------------------- */

typedef struct lp_queue lp_queue;

typedef enum lp_queue_order { LP_QUEUE_FIFO = 0, LP_QUEUE_LIFO, LP_QUEUE_PRIORITY } lp_queue_order;

typedef struct lp_queue_opts {
    lp_queue_order order; /* when the queue is created; an existing queue keeps its own      */
    size_t max_items;     /* bound, when the queue is created: lp_queue_put waits while this
                             many wait (0: none; shm: the ring's size bounds it too)            */
    size_t shm_bytes;     /* shm: size of the ring when created (0: 1 MiB)                       */
    int lease_ms;         /* file/redis: lease of a claimed item (0: 300000, 5 min)              */
    unsigned max_attempts; /* file/redis: deliveries before a failed item is dead (0: 3)        */
    bool no_create;       /* fail with -ENOENT instead of creating the queue                    */
} lp_queue_opts;

/* An item handed out by lp_queue_get / lp_queue_peek / lp_queue_dead. */
typedef struct lp_queue_item {
    lp_buf data;          /* the bytes put (NUL-terminated past data.len)                        */
    uint64_t id;          /* file/redis: the claim, for ack/release (0 for mem/shm)              */
    int priority;
    unsigned attempts;    /* get: deliveries so far, this one included (mem/shm: 1); peek and
                             dead: deliveries so far (a waiting mem/shm item: 0)                */
} lp_queue_item;

/* Release the storage of an item (not the struct).  NULL ok. */
void lp_queue_item_free(lp_queue_item *it);

/* Open (creating unless o->no_create) the queue named by uri; o may be NULL.  0; -EINVAL (bad
 * URI: lp_queue_errmsg says why), -ENOENT, -EACCES, -ECONNREFUSED (redis), -ENOMEM, -EIO. */
int lp_queue_open(lp_queue **q, const char *uri, const lp_queue_opts *o);

/* Add an item (priority used by PRIORITY queues).  Waits at most timeout_ms while the queue
 * is full.  0; -ETIMEDOUT (full), LP_ECLOSED, -EMSGSIZE (larger than a shm ring can hold),
 * -EINTR (lp_set_wait_interrupt), -EIO. */
int lp_queue_put(lp_queue *q, const void *data, size_t n, int priority, int timeout_ms);

/* Take the next item into *it (free it with lp_queue_item_free).  Waits at most timeout_ms for
 * one.  0; -ETIMEDOUT (empty); LP_ECLOSED: the queue was closed and nothing is left (getters
 * blocked at the close wake with it); -EINTR; -EIO. */
int lp_queue_get(lp_queue *q, lp_queue_item *it, int timeout_ms);

/* file/redis: complete a claimed item (it is gone for good).  0; -ENOENT when the claim is no
 * longer held (lease expired and the item went back or to another worker). */
int lp_queue_ack(lp_queue *q, uint64_t id);
/* file/redis: give a claimed item back.  failed: the delivery was a failed attempt (the item
 * goes to the dead-letter list when it has had max_attempts deliveries, else back to the
 * queue); !failed: the delivery is given back uncounted (attempts goes down by one), e.g. a
 * worker stopping.  Either way it is at once available to gets.  0; -ENOENT as for ack. */
int lp_queue_release(lp_queue *q, uint64_t id, bool failed);
/* file/redis: extend a claim to lease_ms from now (0: the queue's lease).  0; -ENOENT. */
int lp_queue_touch(lp_queue *q, uint64_t id, int lease_ms);

typedef struct lp_queue_stats {
    size_t waiting;   /* items that a get could take now                                          */
    size_t inflight;  /* claimed, not yet acked (file/redis)                                      */
    size_t dead;      /* dead letters (file/redis)                                                */
    size_t max_items; /* the bound, 0 if none                                                     */
    lp_queue_order order;
    bool closed;
} lp_queue_stats;

int lp_queue_stat(lp_queue *q, lp_queue_stats *s);
/* Items waiting (lp_queue_stat's waiting).  0 or -errno. */
int lp_queue_len(lp_queue *q, size_t *n);

/* Copy up to max waiting items (dead letters for lp_queue_dead), in the order gets would take
 * them, into a new array *items of *n (free each item, then the array, with
 * lp_queue_items_free).  Nothing is claimed.  0 or -errno. */
int lp_queue_peek(lp_queue *q, size_t max, lp_queue_item **items, size_t *n);
int lp_queue_dead(lp_queue *q, size_t max, lp_queue_item **items, size_t *n);
void lp_queue_items_free(lp_queue_item *items, size_t n);

/* Close the queue for everyone using it: puts fail with LP_ECLOSED, gets return what is left
 * and then LP_ECLOSED; blocked getters and putters wake.  0 or -errno. */
int lp_queue_close(lp_queue *q);

/* Detach from the queue (the queue itself stays).  NULL ok. */
void lp_queue_free(lp_queue *q);

/* Delete the queue named by uri and everything in it (shm: unlinks it; file: drops that queue
 * from the database; redis: deletes its keys).  0; -ENOENT when there is none. */
int lp_queue_remove(const char *uri);

/* Names of the queues in the store of uri (file:PATH: every queue in the database;
 * redis://HOST:PORT/: every lp queue on the server; shm: those under /dev/shm), as a
 * NULL-terminated array of strings in *names (free with lp_queue_names_free).  0 or -errno. */
int lp_queue_list(const char *uri, char ***names, size_t *n);
void lp_queue_names_free(char **names);

/* The message of this thread's last failed lp_queue_* call, naming what was wrong (the bad
 * part of a URI, the store's own error text such as SQLite's or Redis's), or "" when it set
 * none.  Valid until this thread's next lp_queue_* call. */
const char *lp_queue_errmsg(void);

#ifdef __cplusplus
}
#endif
#endif /* LIBPIPE_H */
