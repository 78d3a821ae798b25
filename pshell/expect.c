/* pshell — coprocess dialogues (pexpect's job) on libpipe's lp_expect:
 *
 *   spawn [-p|--pty] NAME CMD [ARG...]   start program CMD as coprocess NAME
 *   spawn -c [-t DUR] NAME                close its input, wait for it, forget it: its status
 *   spawn                                 list the coprocesses
 *   send [-l] [-e] [-t DUR] NAME STRING...   write the strings (-l: and a newline)
 *   expect [-t DUR] [-i] NAME PATTERN...  wait for one of the PCRE2 patterns
 *
 * A coprocess has stdin and stdout on pipes to the shell (stderr inherited) and leads a process
 * group of its own, or with --pty runs on a new pseudo-terminal (its stdin, stdout and stderr,
 * in a new session).  expect reads its stdout (the terminal's output with --pty).  Every
 * coprocess still running when the shell exits is killed (SIGKILL to its group); one whose
 * shell dies otherwise gets SIGKILL from the kernel (PDEATHSIG).
 *
 * expect's status is the index of the pattern that matched (0 for the first), 124 on timeout,
 * 125 when the output ended, 2 for a usage error, an unknown NAME or a bad pattern.  It sets
 * MATCH_0 (the match), MATCH_1... (groups that took part), MATCH_<name> (named groups) and
 * EXPECT_BEFORE (the output before the match; on timeout or end, all unconsumed output),
 * after unsetting the MATCH_* variables the previous match (of match or expect) set. */
#include "libpipe.h"
#include "shell.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define EX_USAGE 2
#define EX_TIMEOUT 124
#define EX_EOF 125

typedef struct coproc {
    struct coproc *next;
    char *name;
    lp_proc *p;
    struct lp_expect *e;
    bool pty;
    int out_stdio; /* what expect reads: 1, or 0 for a pty */
} coproc;

static coproc *coprocs;
static pid_t owner; /* the shell process that started them (not a forked subshell) */

static coproc *find(const char *name)
{
    for (coproc *c = coprocs; c; c = c->next)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

static coproc *lookup(const char *who, const char *name)
{
    coproc *c = find(name);
    if (!c)
        sh_error("%s: %s: no such coprocess", who, name);
    return c;
}

static void forget(coproc *c)
{
    for (coproc **pc = &coprocs; *pc; pc = &(*pc)->next)
        if (*pc == c) {
            *pc = c->next;
            break;
        }
    lp_expect_free(c->e);
    lp_proc_free(c->p);
    free(c->name);
    free(c);
}

/* at exit of the shell (not of a forked subshell): SIGKILL every coprocess's group, reap */
static void kill_all(void)
{
    if (getpid() != owner)
        return;
    while (coprocs) {
        if (!lp_proc_done(coprocs->p))
            lp_proc_kill_group(coprocs->p, SIGKILL);
        forget(coprocs);
    }
}

/* a duration option's value: milliseconds, or -2 after reporting a bad one */
static long duration(const char *who, const char *s)
{
    long ms = sh_parse_duration(s);
    if (ms < 0) {
        sh_error("%s: %s: invalid duration", who, s);
        return -2;
    }
    return ms;
}

/* Wait with the shell's self-pipe watched: a status for -EINTR (Ctrl-C, a trapped signal). */
static int intr_status(void)
{
    int st = sh_interrupt_status();
    return st ? st : 130;
}

/* ---- spawn ------------------------------------------------------------------------------------ */
static int list(void)
{
    for (coproc *c = coprocs; c; c = c->next)
        printf("%s %d %s%s\n", c->name, (int)lp_proc_pid(c->p),
               lp_proc_done(c->p) || lp_proc_wait(c->p, 0, NULL) == 0 ? "exited" : "running",
               c->pty ? " pty" : "");
    return 0;
}

static int close_coproc(int argc, char **argv, int i)
{
    long ms = -1;
    if (i < argc && strcmp(argv[i], "-t") == 0) {
        if (i + 1 >= argc) {
            sh_error("spawn: -t needs a duration");
            return EX_USAGE;
        }
        if ((ms = duration("spawn", argv[i + 1])) == -2)
            return EX_USAGE;
        i += 2;
    }
    if (argc - i != 1) {
        sh_error("spawn: usage: spawn -c [-t DURATION] NAME");
        return EX_USAGE;
    }
    coproc *c = lookup("spawn", argv[i]);
    if (!c)
        return EX_USAGE;
    lp_expect_free(c->e);
    c->e = NULL;
    int rc = 0, st, r;
    int tmo = ms > INT_MAX ? INT_MAX : (int)ms;
    if (c->pty) {
        lp_proc_close_fd(c->p, 0); /* the terminal hangs up (SIGHUP to its session) */
        lp_set_wait_interrupt(sh_signal_fd());
        r = lp_proc_wait(c->p, tmo, &rc);
        lp_set_wait_interrupt(-1);
    } else {
        /* EOF on its stdin; what it still writes is read and dropped (no SIGPIPE for a last
         * word), until it exits */
        lp_proc_close_fd(c->p, 0);
        r = lp_proc_communicate(c->p, NULL, 0, NULL, NULL, tmo, &rc);
    }
    if (r == -EINTR)
        return intr_status(); /* still there: spawn -c again, or it dies with the shell */
    if (r == -ETIMEDOUT) {
        lp_proc_kill_group(c->p, SIGKILL);
        lp_proc_wait(c->p, -1, &rc);
        st = EX_TIMEOUT;
    } else {
        st = r == 0 ? lp_rc_shell(rc) : 1;
    }
    forget(c);
    return st;
}

int bi_spawn(int argc, char **argv)
{
    bool pty = false;
    int i = 1;
    if (argc == 1)
        return list();
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        }
        if (strcmp(argv[i], "-p") == 0 || strcmp(argv[i], "--pty") == 0)
            pty = true;
        else if (strcmp(argv[i], "-c") == 0 && !pty)
            return close_coproc(argc, argv, i + 1);
        else {
            sh_error("spawn: %s: unknown option", argv[i]);
            return EX_USAGE;
        }
    }
    if (argc - i < 2) {
        sh_error("spawn: usage: spawn [-p|--pty] NAME COMMAND [ARG...]");
        return EX_USAGE;
    }
    const char *name = argv[i];
    if (!*name || strchr(name, '/')) {
        sh_error("spawn: '%s': not a valid coprocess name", name);
        return EX_USAGE;
    }
    if (find(name)) {
        sh_error("spawn: %s: already a coprocess (spawn -c %s first)", name, name);
        return EX_USAGE;
    }
    char **cmd = argv + i + 1;
    if (sh_is_builtin_or_func(cmd[0])) {
        sh_error("spawn: %s: a builtin or function cannot be a coprocess (run it in a shell: "
                 "spawn NAME %s -c '...')", cmd[0], sh_self_exe());
        return EX_USAGE;
    }
    char *path = path_search(cmd[0]);
    if (!path) {
        sh_error("spawn: %s: command not found", cmd[0]);
        return 127;
    }
    int pass[8];
    char **owned = NULL;
    lp_spawn_opts o = {0};
    sh_job_spawn_opts(&o, cmd, path, pass, &owned);
    if (pty) {
        o.pty = true;
    } else {
        o.in = LP_PIPE;
        o.out = LP_PIPE;
        o.pgroup = LP_PGROUP_NEW;
    }
    o.die_with_parent = true;
    lp_proc *p;
    sh_flush();
    int r = lp_spawn(&p, &o);
    free(owned);
    free(path);
    if (r < 0) {
        sh_error("spawn: %s", lp_proc_errmsg(NULL));
        return r == -ENOENT ? 127 : 126;
    }
    coproc *c = xcalloc(1, sizeof *c);
    c->name = xstrdup(name);
    c->p = p;
    c->pty = pty;
    c->out_stdio = pty ? 0 : 1;
    r = lp_expect_new(&c->e, p, c->out_stdio);
    if (r < 0) {
        sh_error("spawn: %s: %s", name, lp_strerror(r));
        lp_proc_free(p);
        free(c->name);
        free(c);
        return 1;
    }
    if (!owner) {
        owner = getpid();
        atexit(kill_all);
    }
    c->next = coprocs;
    coprocs = c;
    sh.lastbg = lp_proc_pid(p);
    return 0;
}

/* ---- send ------------------------------------------------------------------------------------- */
/* -e: \n \r \t \a \e \\ \0NNN \xHH decoded in place; the new length */
static size_t unescape(char *s)
{
    char *o = s, *start = s;
    for (; *s; s++) {
        if (*s != '\\' || !s[1]) {
            *o++ = *s;
            continue;
        }
        s++;
        switch (*s) {
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'a': *o++ = '\a'; break;
        case 'e': *o++ = 27; break;
        case '\\': *o++ = '\\'; break;
        case '0': {
            int v = 0, k = 0;
            while (k < 3 && s[1] >= '0' && s[1] <= '7')
                v = v * 8 + (*++s - '0'), k++;
            *o++ = (char)v;
            break;
        }
        case 'x': {
            int v = 0, k = 0;
            while (k < 2 && strchr("0123456789abcdefABCDEF", s[1]) && s[1]) {
                char h = *++s;
                v = v * 16 + (h <= '9' ? h - '0' : (h | 0x20) - 'a' + 10);
                k++;
            }
            if (k == 0) {
                *o++ = '\\';
                *o++ = 'x';
            } else
                *o++ = (char)v;
            break;
        }
        default: *o++ = '\\'; *o++ = *s;
        }
    }
    *o = 0;
    return (size_t)(o - start);
}

int bi_send(int argc, char **argv)
{
    bool line = false, esc = false;
    long ms = -1;
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (strcmp(a, "-t") == 0) {
            if (i + 1 >= argc) {
                sh_error("send: -t needs a duration");
                return EX_USAGE;
            }
            if ((ms = duration("send", argv[++i])) == -2)
                return EX_USAGE;
            continue;
        }
        for (const char *f = a + 1; *f; f++) {
            if (*f == 'l')
                line = true;
            else if (*f == 'e')
                esc = true;
            else {
                sh_error("send: %s: unknown option", a);
                return EX_USAGE;
            }
        }
    }
    if (i >= argc) {
        sh_error("send: usage: send [-l] [-e] [-t DURATION] NAME [STRING...]");
        return EX_USAGE;
    }
    coproc *c = lookup("send", argv[i]);
    if (!c)
        return EX_USAGE;
    /* the whole text in one write where the pipe allows: one line arrives at once */
    size_t n = 0, cap = 64;
    char *text = xmalloc(cap);
    for (int k = i + 1; k <= argc; k++) {
        char *piece = k < argc ? argv[k] : "\n";
        if (k == argc && !line)
            break;
        char *dup = NULL;
        size_t len = strlen(piece);
        if (esc && k < argc) {
            dup = xstrdup(piece);
            len = unescape(dup);
            piece = dup;
        }
        while (cap < n + len + 1)
            text = xrealloc(text, cap *= 2);
        memcpy(text + n, piece, len);
        n += len;
        free(dup);
    }
    lp_set_wait_interrupt(sh_signal_fd());
    int r = lp_proc_send(c->p, text, n, ms > INT_MAX ? INT_MAX : (int)ms);
    lp_set_wait_interrupt(-1);
    free(text);
    if (r == 0)
        return 0;
    if (r == -EINTR)
        return intr_status();
    if (r == -ETIMEDOUT) {
        sh_error("send: %s: timed out (part of the text may have been written)", c->name);
        return EX_TIMEOUT;
    }
    if (r == -EPIPE) {
        sh_error("send: %s: the coprocess no longer reads its input", c->name);
        return 1;
    }
    sh_error("send: %s: %s", c->name, lp_strerror(r));
    return 1;
}

/* ---- expect ----------------------------------------------------------------------------------- */
static void set_bytes(const char *name, const char *s, size_t n)
{
    char *v = xmalloc(n + 1);
    if (n)
        memcpy(v, s, n);
    v[n] = 0; /* a NUL in the output ends the value */
    var_set(name, v, 0);
    free(v);
}

int bi_expect(int argc, char **argv)
{
    long ms = -1;
    unsigned flags = 0;
    int i = 1;
    const char *deflt = var_get("EXPECT_TIMEOUT");
    if (deflt && *deflt && (ms = duration("expect: EXPECT_TIMEOUT", deflt)) == -2)
        return EX_USAGE;
    for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (strcmp(a, "-t") == 0) {
            if (i + 1 >= argc) {
                sh_error("expect: -t needs a duration");
                return EX_USAGE;
            }
            if ((ms = duration("expect", argv[++i])) == -2)
                return EX_USAGE;
        } else if (strcmp(a, "-i") == 0) {
            flags |= LP_RE_CASELESS;
        } else {
            sh_error("expect: %s: unknown option", a);
            return EX_USAGE;
        }
    }
    if (argc - i < 2) {
        sh_error("expect: usage: expect [-t DURATION] [-i] NAME PATTERN...");
        return EX_USAGE;
    }
    coproc *c = lookup("expect", argv[i]);
    if (!c)
        return EX_USAGE;
    if (!c->e) {
        sh_error("expect: %s: its output was closed", c->name);
        return EX_USAGE;
    }
    if (argc - i - 1 > 123) {
        sh_error("expect: at most 123 patterns (statuses 0..122)");
        return EX_USAGE;
    }
    if (sh_utf8_locale())
        flags |= LP_RE_UTF;
    size_t n = (size_t)(argc - i - 1);
    lp_regex **pats = xcalloc(n, sizeof *pats);
    int st = 0;
    for (size_t k = 0; k < n; k++) {
        char err[256];
        int r = lp_regex_new(&pats[k], argv[i + 1 + (int)k], flags, err, sizeof err);
        if (r < 0) {
            if (r == -EINVAL)
                sh_error("expect: bad pattern '%s': %s", argv[i + 1 + (int)k], err);
            else
                sh_error("expect: %s", lp_strerror(r));
            st = EX_USAGE;
            goto out;
        }
    }
    sh_flush();
    lp_set_wait_interrupt(sh_signal_fd());
    int k = lp_expect(c->e, pats, n, ms > INT_MAX ? INT_MAX : (int)ms);
    lp_set_wait_interrupt(-1);
    sh_match_vars_clear();
    size_t len;
    const char *b = lp_expect_before(c->e, &len);
    set_bytes("EXPECT_BEFORE", b, len);
    if (k >= 0) {
        size_t ng = lp_expect_groups(c->e);
        const char **cap = xcalloc(ng + 1, sizeof *cap);
        size_t *cl = xcalloc(ng + 1, sizeof *cl);
        for (size_t g = 0; g <= ng; g++)
            cap[g] = lp_expect_group(c->e, g, &cl[g]);
        sh_match_vars(pats[k], ng, cap, cl); /* the one place MATCH_* are set (match.c) */
        free(cap);
        free(cl);
        st = k;
    } else if (k == -ETIMEDOUT) {
        st = EX_TIMEOUT;
    } else if (k == LP_EEOF) {
        st = EX_EOF;
    } else if (k == -EINTR) {
        st = intr_status();
    } else {
        sh_error("expect: %s: %s", c->name, lp_strerror(k));
        st = 1;
    }
out:
    for (size_t j = 0; j < n; j++)
        lp_regex_free(pats[j]);
    free(pats);
    return st;
}
