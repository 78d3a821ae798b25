/* pshell — the shell's state and the functions its modules share (parse, expand, exec, vars,
 * builtins).  sh.h holds the contracts of the self-contained modules. */
#ifndef PSHELL_SHELL_H
#define PSHELL_SHELL_H

#include "ast.h"
#include "sh.h"

#include <stdbool.h>
#include <stddef.h>
#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

#include "libpipe.h"

/* ---- memory (exit with a message when out of memory) ----------------------------------------- */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t m);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);

/* ---- state ---------------------------------------------------------------------------------- */
enum ctl { CTL_NONE, CTL_BREAK, CTL_CONTINUE, CTL_RETURN, CTL_EXIT, CTL_INTR };

typedef struct shell {
    int status;        /* $? */
    pid_t pid;         /* $$ */
    pid_t lastbg;      /* $! (0: none) */
    char *arg0;        /* $0 */
    const char *name;  /* for messages: script name or "pshell" */
    bool interactive;
    bool in_child;     /* a forked subshell: exit leaves with _exit after flushing */
    /* set -o */
    bool errexit, nounset, xtrace, pipefail, noglob, noclobber, allexport, verbose, noexec, monitor;
    bool vi_mode, emacs_mode; /* set -o vi / emacs: readline's editing mode */
    /* control flow in progress */
    enum ctl ctl;
    int ctl_n;         /* break/continue levels left */
    int loop_depth, func_depth;
    int exit_status;   /* CTL_EXIT */
    int lineno;
    char *pipestatus;  /* the last pipeline's statuses */
    int errexit_off;   /* > 0 inside if/while conditions, && || left sides, ! */
    bool special_error; /* a special builtin reported an error (a script ends) */
    bool exit_warned;     /* interactive: the previous command was an exit refused for stopped jobs */
    bool exit_warned_now; /* ... and this one was */
} shell;
extern shell sh;

bool sh_is_name(const char *s);
bool sh_is_assignment(const char *w);

typedef struct strlist {
    char **v;
    int n, cap;
} strlist;

/* ---- vars.c --------------------------------------------------------------------------------- */
#define V_EXPORT 1
#define V_READONLY 2
const char *var_get(const char *name);           /* NULL: unset */
int var_flags(const char *name);                 /* -1: unset and no attributes */
int var_set(const char *name, const char *val, int add_flags); /* -1: read-only (reported) */
int var_unset(const char *name);                 /* -1: read-only (reported) */
void var_set_flags(const char *name, int flags); /* export/readonly, keeping the value */
char **var_environ(void);                        /* the environment for children (cached) */
void var_import(char **envp);
void var_print(int flags_filter, const char *prefix); /* set / export -p / readonly -p */
/* `local NAME`: saved now, restored when the innermost function returns */
void var_make_local(const char *name);
void locals_push(void);
void locals_pop(void);

/* positional parameters */
typedef struct posparams {
    char **v;
    int n;
} posparams;
extern posparams *pos;
void pos_set(int n, char **v); /* copies */
posparams *pos_push(int n, char **v);
void pos_pop(posparams *saved);

/* functions and aliases */
node *func_get(const char *name);
void func_set(const char *name, node *body);
void func_unset(const char *name);
const char *sh_alias_get(const char *name);
void alias_set(const char *name, const char *val);
int alias_unset(const char *name);
void alias_print(const char *name); /* NULL: all */
void alias_clear(void);
/* sorted names, for completion (appended to out) */
void sh_var_names(strlist *out);
void sh_func_names(strlist *out);
void sh_alias_names(strlist *out);
extern const char *const sh_builtin_names[];

/* ---- expand.c ------------------------------------------------------------------------------- */
void sl_push(strlist *l, char *s); /* takes ownership */
void sl_free(strlist *l);

/* Expand words to fields (tilde, parameters, $(...), $((...)), splitting, globbing, quote
 * removal).  0, or -1 after an expansion error (reported; $? set). */
int expand_words(char **words, int n, strlist *out);
/* One word without splitting or globbing (assignments, redirection targets, case words):
 * malloc'd, or NULL after an error. */
char *expand_str(const char *word);
/* A here-document body ($, `, \ only) */
char *expand_heredoc(const char *body);
/* A word as a pattern (quoted characters escaped for fnmatch) */
char *expand_pattern(const char *word);
/* Does a case pattern/word match? */
bool sh_match(const char *pattern, const char *s);
/* The captured output of a command substitution (trailing newlines removed) */
char *command_subst(const char *text, size_t len, bool *ok);
const char *ifs_value(void);

/* ---- exec.c --------------------------------------------------------------------------------- */
int exec_node(node *n, int flags);
#define EV_EXIT 1    /* the last thing this (sub)shell does: an external command may exec */
#define EV_BG 2      /* run asynchronously */
int sh_eval_string(const char *text, const char *where); /* eval, ., -c */
int sh_run_src(src *s, bool validate);                    /* run to the end of the source */
void sh_exit(int status) __attribute__((noreturn));       /* EXIT trap, flush, leave */
void sh_flush(void);
void sh_fd_init(void);                                   /* at start: descriptors 3..9 */
/* job control (exec.c) and the interactive shell (interactive.c) */
void sh_jobctl_init(void);      /* an interactive shell on a terminal: own group, the terminal */
void sh_note_interrupt(void);   /* Ctrl-C reached the shell: the running command list stops */
void sh_clear_interrupt(void);
int sh_signal_fd(void);         /* readable after a signal the shell handles (-1: none yet) */
void sh_drain_signal_fd(void);
void sh_notify_jobs(void);      /* before a prompt: "[1]+ Done ..." */
bool sh_stopped_jobs(void);
int sh_fg(int argc, char **argv);
int sh_bg(int argc, char **argv);
int sh_interactive_main(void);  /* the read-eval loop on a terminal; its exit status */
int bi_history(int argc, char **argv);
void sh_set_editing_mode(bool vi); /* readline: vi or emacs keys */
int sh_wait_jobs(int argc, char **argv);                  /* the wait builtin */
int sh_jobs(int argc, char **argv);
int sh_kill(int argc, char **argv);
int sh_trap(int argc, char **argv);
void sh_run_traps(void);
int sh_signum(const char *name);     /* "INT", "SIGINT", "2" -> 2; -1 unknown */
const char *sh_signame(int sig);
void sh_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Find an executable in PATH: malloc'd path or NULL */
char *path_search(const char *name);
/* this shell's executable, and argv to run a script without #! with it: [argv0, path, args] */
const char *sh_self_exe(void);
char **script_argv(char **argv, const char *path);
/* the whole content of a descriptor (malloc'd, NUL-terminated), or NULL with errno */
char *sh_read_fd(int fd, size_t *len);

/* for the pool builtin (pool.c): */
struct lp_spawn_opts;
/* In a forked child: run argv (a builtin, function or program, which is exec'ed) as the
 * child's last act, or with body != NULL run body with argv[0..argc-1] as $1...  Never returns. */
void sh_child_run(int argc, char **argv, node *body) __attribute__((noreturn));
/* spawn options for argv as an external program (environment, user descriptors, signals);
 * path from path_search; *owned as for a pipeline stage (free after the submit) */
void sh_job_spawn_opts(struct lp_spawn_opts *o, char **argv, const char *path, int pass[8],
                       char ***owned);
bool sh_is_builtin_or_func(const char *name);
/* after a wait returned -EINTR (and before waiting): 130 for a Ctrl-C in an interactive
 * shell, 128 + N for a trapped signal N that is pending, else 0 (the self-pipe is drained) */
int sh_interrupt_status(void);
int bi_pool(int argc, char **argv);
/* An option's integer value in lo..hi: 0, or -1 after "pshell: WHO: OPT: invalid number"
 * (pool.c; pool and queue work). */
int sh_parse_int(const char *who, const char *opt, const char *s, int lo, int hi, int *out);
/* Jobs made of a command template and items, shared by pool and `queue work` (pool.c).  A
 * template is the command words with replacement strings ({} {.} {/} {//} {/.} {#} {%}, {N}...
 * for input source N), or a body run with the items as $1...; items only ever become words. */
typedef struct sh_jobtmpl {
    const char *who;      /* messages read "pshell: WHO: ..." ("pool", "queue: work")           */
    char **tmpl;          /* the command words (none with a body)                               */
    int ntmpl;
    node *body;
    int ngroups;          /* items per job (input sources)                                      */
    bool has_repl, has_slot; /* set by sh_jobtmpl_check                                          */
    bool line_buffer;     /* output line by line as it comes (else whole, when the job ended)   */
    bool bar;             /* a progress bar is on stderr: clear its line before writing there    */
    int write_errno;      /* writing our stdout failed with this (later output is dropped)      */
    /* private to pool.c */
    int pass[8];
    sigset_t handled;
    char *cached_name, *cached_path;
} sh_jobtmpl;
typedef struct sh_job {
    sh_jobtmpl *t;
    uint64_t seq;         /* {#}: 1, 2, ...                                                      */
    char **args;          /* t->ngroups items                                                    */
    lp_future *f;         /* after sh_job_submit (its data is the sh_job)                         */
    size_t received;      /* --line-buffer: bytes of stdout                                      */
    bool done;
} sh_job;
/* Find the replacement strings of t's template (has_repl, has_slot): 0, or -1 when one names a
 * source past t->ngroups (reported). */
int sh_jobtmpl_check(sh_jobtmpl *t);
/* Free what t cached (not t). */
void sh_jobtmpl_done(sh_jobtmpl *t);
/* The words of job j (slot: its slot, 0 when not known), appended to out. */
void sh_job_words(const sh_job *j, int slot, strlist *out);
/* Submit j to p (a program: lp_pool_submit; a builtin, function, body, or words with {%}:
 * lp_pool_submit_call), stdin /dev/null, stdout and stderr captured.  j must live until its
 * future ended.  0 or lp_pool_submit's error. */
int sh_job_submit(lp_pool *p, sh_job *j);
/* An ended job: print its output (stdout, then stderr; nothing more with line_buffer) and what
 * went wrong ("pshell: frob: command not found", "pshell: WHO: timed out: CMD").  Nothing for a
 * cancelled job. */
void sh_job_show(sh_job *j);
/* While jobs run: SIGPIPE is ignored (a reader that went away gives EPIPE, not our death) and
 * SIGINT, SIGTERM, SIGHUP and SIGQUIT that would kill the shell are caught, so that every job
 * can be stopped first.  sh_jobs_signals_end puts the shell's actions back and then, if such a
 * signal came, the shell dies of it (call it once every job is gone). */
void sh_jobs_signals_begin(void);
void sh_jobs_signals_end(void);
int sh_jobs_fatal_sig(void); /* the caught signal, 0 if none */
/* A thread that waits (poll, no CPU) for the shell's self-pipe (Ctrl-C, trapped signals) and
 * the caught signals, then calls fn(ctx) once, on that thread.  NULL when it could not start. */
typedef struct sh_intr_watch sh_intr_watch;
sh_intr_watch *sh_intr_watch_start(void (*fn)(void *ctx), void *ctx);
void sh_intr_watch_stop(sh_intr_watch *w); /* NULL ok */
/* the match builtin (match.c): a PCRE2 line filter; `match -q PATTERN STRING...` sets MATCH_* */
int bi_match(int argc, char **argv);
/* The MATCH_* variables of the last match (match.c, also used by expect): those of the
 * previous match are unset, then MATCH_0..MATCH_n and MATCH_<name> are set from the captures
 * cap[i] (len[i] bytes; NULL: the group took no part and its variables stay unset). */
void sh_match_vars(const lp_regex *re, size_t ngroups, const char *const *cap, const size_t *len);
void sh_match_vars_clear(void);
/* The locale's character set is UTF-8 (LC_ALL, else LC_CTYPE, else LANG, the first set, names
 * UTF-8/utf8): patterns of match and expect are then compiled with LP_RE_UTF (match.c). */
bool sh_utf8_locale(void);
/* write(2) until all n bytes are written (EINTR retried): 0, or -1 with errno (exec.c). */
int sh_write_all(int fd, const char *p, size_t n);
/* coprocess dialogues (expect.c) */
int bi_spawn(int argc, char **argv);
int bi_send(int argc, char **argv);
int bi_expect(int argc, char **argv);
/* `pool OPTIONS { body; } ITEMS...`: pre are the words before the body, post those after */
int sh_pool_body(int npre, char **pre, node *body, int npost, char **post);
/* the queue builtin (queue.c; `queue work` in queue_work.c) */
struct lp_queue;
struct lp_queue_opts;
int bi_queue(int argc, char **argv);
int sh_queue_work(int argc, char **argv); /* argv[0] is "work" */
/* The local queue database, $XDG_STATE_HOME/pshell/queues.db (directory made 0700, file
 * 0600); malloc'd, or NULL after an error message. */
char *sh_queue_db_path(void);
/* The URI of a queue name: NAME with ':' as it is, else file:DB#NAME; malloc'd, or NULL after
 * an error message (bad name, database directory not creatable). */
char *sh_queue_uri(const char *name);
/* lp_queue_open of sh_queue_uri(name); on failure an error message naming the queue. */
int sh_queue_open(const char *name, const struct lp_queue_opts *o, struct lp_queue **q);
/* Local queue names, sorted, for completion; creates nothing (queue.c). */
void sh_queue_local_names(strlist *out);

/* ---- builtins.c ----------------------------------------------------------------------------- */
typedef int (*builtin_fn)(int argc, char **argv);
builtin_fn builtin_get(const char *name, bool *special);
int bi_getopts_reset(void);

#endif
