/* lp-pty [-v] [-t SECONDS] [-c COLS] [-r ROWS] [-l TRANSCRIPT] -- PROGRAM [ARG...] <SCRIPT
 *
 * Runs PROGRAM on a new pseudo-terminal -- its controlling terminal and stdin, stdout, stderr;
 * in a new session; signals unblocked and at their defaults; TERM=xterm; COLS x ROWS, default
 * 80x24 -- and drives it with SCRIPT, one command per line (blank and # lines are skipped; the
 * argument is the rest of the line after one space):
 *   send TEXT               write TEXT; escapes \n \r \t \\ \e (ESC) \xHH (\x03 is Ctrl-C)
 *   expect REGEX            wait until the output not consumed yet matches REGEX (POSIX ERE,
 *                           REG_NEWLINE; the output without its NUL and CR bytes; \n \t \e \xHH
 *                           decoded first), then consume the output up to the end of the match
 *   expect-within MS REGEX  the same, with a deadline of MS milliseconds
 *   wait-for REGEX          the same as expect, but consume nothing
 *   wait-fg                 wait until a process group other than PROGRAM's owns the terminal
 *                           and (on Linux) its leader neither ignores nor catches SIGINT, SIGQUIT
 *                           and SIGTSTP: Ctrl-C, Ctrl-\ and Ctrl-Z would now reach the job
 *   wait-exit CODE          wait for PROGRAM to end: CODE is 0..255, sig:NAME, sig:N or any
 *   env NAME=VALUE          (before the other commands) set NAME for PROGRAM; ${VAR} expands
 * Waits time out after -t SECONDS (default 10). At the end of the script, a PROGRAM still running
 * gets SIGHUP (its process group and the terminal's), SIGKILL 2 s later. -l writes the output as
 * received to TRANSCRIPT; -v traces the script's commands on stderr.
 * Exit 0 if every command succeeded; 1 if one failed (why and the output not consumed, on
 * stderr); 2 on bad arguments or a bad script; 77 if no pseudo-terminal can be opened. */
#include <ctype.h>
#include <fcntl.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>

#include "helper.h"

enum kind { SEND, EXPECT, WAIT_FOR, WAIT_FG, WAIT_EXIT };
struct step {
    enum kind kind;
    long line, ms;      /* ms: the step's own deadline, or -1 for -t */
    char *src;          /* the line as written, from its command on */
    const char *arg;    /* in src: the argument */
    char *text;         /* the decoded text to send, or regex */
    size_t len;         /* of text */
    int want;           /* wait-exit: -1 any, 0..255 an exit status, 256 + N signal N */
    int compiled;       /* re is to be freed */
    regex_t re;
};

static struct step *steps;
static size_t nsteps;
static char *scriptline;
static char *out;               /* the output not consumed yet, NUL-terminated */
static size_t outlen, outcap;
static int bol = 1;             /* out begins at the beginning of a line */
static int master = -1, logfd = -1, master_eof, exited, status, verbose;
static pid_t pid = -1;
static long timeout_ms = 10000;

static const struct { const char *name; int sig; } signames[] = {
    {"HUP", SIGHUP}, {"INT", SIGINT}, {"QUIT", SIGQUIT}, {"ILL", SIGILL}, {"ABRT", SIGABRT},
    {"FPE", SIGFPE}, {"KILL", SIGKILL}, {"SEGV", SIGSEGV}, {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},
    {"TERM", SIGTERM}, {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"BUS", SIGBUS}, {"TRAP", SIGTRAP},
    {"TSTP", SIGTSTP}, {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU}, {"CONT", SIGCONT}, {"CHLD", SIGCHLD},
};

static long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void *xrealloc(void *p, size_t n)
{
    if ((p = realloc(p, n)) == NULL) {
        fputs("lp-pty: out of memory\n", stderr);
        exit(1);
    }
    return p;
}

/* Appends output without its NUL and CR bytes, keeping no more than the last MiB of it. */
static void append(const char *p, size_t n)
{
    if (outlen + n + 1 > outcap)
        out = xrealloc(out, outcap = (outlen + n + 1) * 2);
    for (size_t i = 0; i < n; i++)
        if (p[i] != '\0' && p[i] != '\r')
            out[outlen++] = p[i];
    out[outlen] = '\0';
    if (outlen > (1u << 20)) {
        size_t drop = outlen - (1u << 19);
        bol = out[drop - 1] == '\n';
        memmove(out, out + drop, (outlen -= drop) + 1);
    }
}

/* Waits up to ms (20 at most) for output and reads what has come; notices PROGRAM's end.
 * 1 if there was output. */
static int pump(long ms)
{
    struct pollfd p = {.fd = master, .events = POLLIN};
    char b[4096];
    int got = 0, r = poll(&p, master_eof ? 0 : 1, ms < 0 ? 0 : ms > 20 ? 20 : (int)ms);
    for (int k = 0; r > 0 && !master_eof && k < 64; k++) {
        ssize_t n = read(master, b, sizeof b);
        if (n > 0) {
            append(b, (size_t)n);
            if (logfd >= 0)
                (void)write_all(logfd, b, (size_t)n);
            got = 1;
        } else if (n == 0 || (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK))
            master_eof = 1; /* EIO: nothing has the terminal open any more */
        else if (errno != EINTR)
            break;
    }
    if (!exited && waitpid(pid, &status, WNOHANG) == pid)
        exited = 1;
    return got;
}

static void kill_groups(int sig)
{
    pid_t fg = tcgetpgrp(master);
    if (fg > 0 && fg != pid)
        kill(-fg, sig);
    if (kill(-pid, sig) < 0)
        kill(pid, sig);
}

/* Ends PROGRAM if it still runs, frees everything and exits with rc. */
static _Noreturn void finish(int rc)
{
    if (pid > 0 && !exited) {
        kill_groups(SIGHUP);
        for (long end = now_ms() + 2000; !exited && now_ms() < end;)
            pump(end - now_ms());
        if (!exited) {
            kill_groups(SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        }
    }
    for (size_t i = 0; i < nsteps; i++) {
        free(steps[i].src);
        free(steps[i].text);
        if (steps[i].compiled)
            regfree(&steps[i].re);
    }
    free(steps);
    free(scriptline);
    free(out);
    if (master >= 0)
        close(master);
    if (logfd >= 0)
        close(logfd);
    exit(rc);
}

/* Linux: 1 if process p ignores or catches SIGINT, SIGQUIT or SIGTSTP, as a shell's child can
 * until it sets them back to the default before its exec; 0 if not, or if that is unknown. */
static int holds_tty_signals(pid_t p)
{
    char path[64], line[256];
    unsigned long long m, mask = 0;
    snprintf(path, sizeof path, "/proc/%ld/status", (long)p);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "SigIgn: %llx", &m) == 1 || sscanf(line, "SigCgt: %llx", &m) == 1)
            mask |= m;
    fclose(f);
    return (int)((mask >> (SIGINT - 1) | mask >> (SIGQUIT - 1) | mask >> (SIGTSTP - 1)) & 1);
}

/* "exit status N" or "signal N (SIGNAME)" for code: 0..255 an exit status, 256 + N signal N. */
static const char *describe(char *b, size_t n, int code)
{
    const char *name = "?";
    for (size_t i = 0; i < sizeof signames / sizeof signames[0]; i++)
        if (signames[i].sig == code - 256)
            name = signames[i].name;
    if (code < 256)
        snprintf(b, n, "exit status %d", code);
    else
        snprintf(b, n, "signal %d (SIG%s)", code - 256, name);
    return b;
}

static int status_code(void)
{
    return WIFEXITED(status) ? WEXITSTATUS(status) : 256 + WTERMSIG(status);
}

/* Reports a failed step with the output not consumed yet (escaped), and exits 1. */
static _Noreturn void fail(const struct step *s, const char *fmt, ...)
{
    char st[64] = "still runs", b[48];
    size_t from = outlen > 2000 ? outlen - 2000 : 0;
    va_list ap;
    fprintf(stderr, "lp-pty: line %ld: ", s->line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    if (exited)
        snprintf(st, sizeof st, "ended with %s", describe(b, sizeof b, status_code()));
    fprintf(stderr, "\nlp-pty: the program %s; the output not consumed (%zu bytes%s, no CR)%s\n",
            st, outlen, from ? ", the last 2000" : "", outlen ? ":" : ".");
    for (size_t i = from; i < outlen; i++) {
        unsigned char c = (unsigned char)out[i];
        if (c == '\n' || c == '\\' || c == '\t' || c == 033)
            fputs(c == '\n' ? "\\n\n" : c == '\\' ? "\\\\" : c == '\t' ? "\\t" : "\\e", stderr);
        else if (c < 32 || c == 127)
            fprintf(stderr, "\\x%02x", c);
        else
            fputc(c, stderr);
    }
    fputs(outlen && out[outlen - 1] != '\n' ? "\n" : "", stderr);
    finish(1);
}

/* Runs one step of the script; returns if it succeeded. */
static void run(const struct step *s)
{
    long ms = s->ms >= 0 ? s->ms : timeout_ms, end = now_ms() + ms;
    const char *p = s->text;
    size_t left = s->len;
    int fresh = 1;
    regmatch_t m;
    char b1[48], b2[48];

    if (verbose)
        fprintf(stderr, "lp-pty: line %ld: %s\n", s->line, s->src);
    for (;;) {
        switch (s->kind) {
        case SEND: {
            if (exited)
                fail(s, "the program has ended: nothing to send to");
            ssize_t w = left ? write(master, p, left) : 0;
            if (w > 0)
                p += w, left -= (size_t)w;
            else if (w < 0 && errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
                fail(s, "cannot write to the terminal: %s", strerror(errno));
            if (left == 0)
                return;
            break;
        }
        case EXPECT:
        case WAIT_FOR:
            if (fresh && regexec(&s->re, out, 1, &m, bol ? 0 : REG_NOTBOL) == 0) {
                if (s->kind == EXPECT && m.rm_eo > 0) {
                    bol = out[m.rm_eo - 1] == '\n';
                    memmove(out, out + m.rm_eo, (outlen -= (size_t)m.rm_eo) + 1);
                }
                return;
            }
            if (exited && master_eof)
                fail(s, "the program ended before the output matched /%s/", s->arg);
            break;
        case WAIT_FG: {
            pid_t fg = tcgetpgrp(master);
            if (fg > 0 && fg != pid && !holds_tty_signals(fg))
                return;
            if (exited)
                fail(s, "the program ended before a job owned the terminal");
            if (fg < 0 && errno != EINTR)
                fail(s, "tcgetpgrp on the terminal: %s", strerror(errno));
            break;
        }
        case WAIT_EXIT:
            if (exited && (s->want < 0 || s->want == status_code()))
                return;
            if (exited)
                fail(s, "expected %s, got %s", describe(b1, sizeof b1, s->want),
                     describe(b2, sizeof b2, status_code()));
            break;
        }
        if (now_ms() >= end) {
            if (s->kind == EXPECT || s->kind == WAIT_FOR)
                fail(s, "timed out after %ld ms waiting for /%s/", ms, s->arg);
            fail(s, "timed out after %ld ms %s", ms, s->kind == SEND ? "writing to the terminal" :
                 s->kind == WAIT_FG ? "waiting for a job to own the terminal" :
                 "waiting for the program to end");
        }
        fresh = pump(end - now_ms());
    }
}

/* s with its escapes decoded: \n \r \t \e \xHH, and \\ if not for a regex -- for a regex, any
 * other backslash pair is left to regcomp. NULL on a bad escape; else *len bytes + NUL. */
static char *decode(const char *s, int regex, size_t *len)
{
    char *d = xrealloc(NULL, strlen(s) + 1), *p = d;
    for (; *s; s++) {
        int c = *s == '\\' ? (unsigned char)*++s : -1, v = 0, k = 0;
        if (c == -1)
            *p++ = *s;
        else if (c == 'n' || c == 'r' || c == 't' || c == 'e')
            *p++ = c == 'n' ? '\n' : c == 'r' ? '\r' : c == 't' ? '\t' : '\033';
        else if (c == 'x') {
            for (; k < 2 && isxdigit((unsigned char)s[1]); k++, s++)
                v = v * 16 + (isdigit((unsigned char)s[1]) ? s[1] - '0' : (s[1] | 32) - 'a' + 10);
            if (k == 0 || (regex && v == 0))
                goto bad;
            *p++ = (char)v;
        } else if (c == '\0')
            goto bad;
        else if (regex)
            *p++ = '\\', *p++ = (char)c;
        else if (c == '\\')
            *p++ = '\\';
        else
            goto bad;
    }
    *len = (size_t)(p - d);
    *p = '\0';
    return d;
bad:
    free(d);
    return NULL;
}

/* value with each ${NAME} replaced by the value of NAME in the environment, or by nothing. */
static char *expand(const char *value)
{
    size_t n = 0, cap = 64;
    char *r = xrealloc(NULL, cap);
    while (*value) {
        const char *add = value, *close = NULL;
        size_t k = 1;
        if (value[0] == '$' && value[1] == '{' && (close = strchr(value, '}')) != NULL) {
            char *name = strndup(value + 2, (size_t)(close - value - 2));
            add = name ? getenv(name) : NULL;
            k = add ? strlen(add) : 0;
            free(name);
        }
        if (n + k + 1 > cap)
            r = xrealloc(r, cap = (n + k + 1) * 2);
        memcpy(r + n, add ? add : "", k);
        n += k;
        value = close ? close + 1 : value + 1;
    }
    r[n] = '\0';
    return r;
}

static _Noreturn void bad_script(long line, const char *what, const char *detail)
{
    fprintf(stderr, "lp-pty: line %ld: %s%s\n", line, what, detail);
    finish(2);
}

/* Reads the script into steps; env lines take effect at once. */
static void parse_script(FILE *f)
{
    size_t cap = 0;
    ssize_t n;
    long v = 0;
    for (long line = 1; (n = getline(&scriptline, &cap, f)) >= 0; line++) {
        while (n > 0 && (scriptline[n - 1] == '\n' || scriptline[n - 1] == '\r'))
            scriptline[--n] = '\0';
        char *cmd = scriptline + strspn(scriptline, " \t"), *eq;
        if (*cmd == '\0' || *cmd == '#')
            continue;
        size_t w = strcspn(cmd, " \t");
        char *arg = cmd + w + (cmd[w] != '\0');
        cmd[w] = '\0';
        if (strcmp(cmd, "env") == 0) {
            if (nsteps > 0 || (eq = strchr(arg, '=')) == NULL || eq == arg)
                bad_script(line, "usage: env NAME=VALUE, before the other commands", "");
            *eq = '\0';
            char *value = expand(eq + 1);
            int r = setenv(arg, value, 1);
            free(value);
            if (r < 0)
                bad_script(line, "env: ", strerror(errno));
            continue;
        }
        steps = xrealloc(steps, (nsteps + 1) * sizeof *steps);
        struct step *s = memset(&steps[nsteps++], 0, sizeof *steps);
        s->line = line;
        s->ms = -1;
        cmd[w] = arg > cmd + w ? ' ' : '\0';
        if ((s->src = strdup(cmd)) == NULL)
            bad_script(line, "out of memory", "");
        s->arg = s->src + (arg - cmd);
        cmd[w] = '\0';
        if (strcmp(cmd, "send") == 0) {
            s->kind = SEND;
            if ((s->text = decode(s->arg, 0, &s->len)) == NULL)
                bad_script(line, "bad escape in: ", s->arg);
        } else if (strcmp(cmd, "expect") == 0 || strcmp(cmd, "expect-within") == 0 ||
                   strcmp(cmd, "wait-for") == 0) {
            s->kind = strcmp(cmd, "wait-for") == 0 ? WAIT_FOR : EXPECT;
            if (strcmp(cmd, "expect-within") == 0) {
                char *sp = strchr(arg, ' ');
                if (sp == NULL || (*sp = '\0', parse_int(arg, 1, 86400000, &v)) < 0)
                    bad_script(line, "usage: expect-within MS REGEX", "");
                s->ms = v;
                s->arg += sp + 1 - arg;
            }
            if ((s->text = decode(s->arg, 1, &s->len)) == NULL)
                bad_script(line, "bad escape in: ", s->arg);
            int e = regcomp(&s->re, s->text, REG_EXTENDED | REG_NEWLINE);
            if (e != 0) {
                char msg[256];
                regerror(e, &s->re, msg, sizeof msg);
                bad_script(line, "bad regex: ", msg);
            }
            s->compiled = 1;
        } else if (strcmp(cmd, "wait-fg") == 0 && *arg == '\0') {
            s->kind = WAIT_FG;
        } else if (strcmp(cmd, "wait-exit") == 0) {
            s->kind = WAIT_EXIT;
            s->want = strcmp(arg, "any") == 0 ? -1 : -2;
            if (parse_int(arg, 0, 255, &v) == 0)
                s->want = (int)v;
            else if (strncmp(arg, "sig:", 4) == 0 && parse_int(arg + 4, 1, 255, &v) == 0)
                s->want = 256 + (int)v;
            for (size_t i = 0; i < sizeof signames / sizeof signames[0]; i++)
                if (strncmp(arg, "sig:", 4) == 0 && strcmp(arg + 4, signames[i].name) == 0)
                    s->want = 256 + signames[i].sig;
            if (s->want == -2)
                bad_script(line, "usage: wait-exit 0..255|sig:NAME|sig:N|any", "");
        } else
            bad_script(line, "unknown command: ", s->src);
    }
    if (ferror(f))
        bad_script(0, "cannot read the script: ", strerror(errno));
}

/* Starts argv on a new pseudo-terminal; exits 77 if none can be opened. */
static void spawn(char **argv, long cols, long rows)
{
    struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
    const char *what = "posix_openpt", *name = NULL;
    int slave = -1;
    if ((master = posix_openpt(O_RDWR | O_NOCTTY)) >= 0 &&
        (what = "grantpt", grantpt(master) == 0) && (what = "unlockpt", unlockpt(master) == 0) &&
        (what = "ptsname", (name = ptsname(master)) != NULL))
        slave = open(what = name, O_RDWR | O_NOCTTY);
    if (slave < 0) {
        fprintf(stderr, "lp-pty: cannot open a pseudo-terminal: %s: %s\n", what, strerror(errno));
        finish(77);
    }
    if (ioctl(slave, TIOCSWINSZ, &ws) < 0 || fcntl(master, F_SETFD, FD_CLOEXEC) < 0 ||
        fcntl(master, F_SETFL, O_NONBLOCK) < 0 || (pid = fork()) < 0) {
        fprintf(stderr, "lp-pty: setting up %s: %s\n", name, strerror(errno));
        finish(1);
    }
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        for (int sig = 1; sig < 65; sig++)
            signal(sig, SIG_DFL); /* fails harmlessly for KILL, STOP and numbers out of range */
        if (setsid() < 0 || ioctl(slave, TIOCSCTTY, 0) < 0) {
            fprintf(stderr, "lp-pty: cannot make %s the controlling terminal: %s\n", name,
                    strerror(errno));
            _exit(126);
        }
        dup2(slave, 0), dup2(slave, 1), dup2(slave, 2);
        if (slave > 2)
            close(slave);
        execvp(argv[0], argv);
        fprintf(stderr, "lp-pty: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(slave);
}

static _Noreturn void usage(void)
{
    fputs("usage: lp-pty [-v] [-t SECONDS] [-c COLS] [-r ROWS] [-l TRANSCRIPT] -- PROGRAM "
          "[ARG...] <SCRIPT\n", stderr);
    exit(2);
}

int main(int argc, char **argv)
{
    long cols = 80, rows = 24;
    double secs;
    int opt;
    while ((opt = getopt(argc, argv, "+vt:c:r:l:")) != -1) {
        if (opt == 'v')
            verbose = 1;
        else if (opt == 't' && parse_seconds(optarg, &secs) == 0 && secs <= 86400)
            timeout_ms = (long)(secs * 1000);
        else if (opt == 'c' && parse_int(optarg, 1, 9999, &cols) == 0)
            ;
        else if (opt == 'r' && parse_int(optarg, 1, 9999, &rows) == 0)
            ;
        else if (opt == 'l' && logfd < 0) {
            if ((logfd = open(optarg, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
                fprintf(stderr, "lp-pty: %s: %s\n", optarg, strerror(errno));
                return 2;
            }
        } else
            usage();
    }
    if (optind >= argc)
        usage();
    setenv("TERM", "xterm", 1);
    out = xrealloc(NULL, outcap = 4096);
    out[0] = '\0';
    parse_script(stdin);
    spawn(argv + optind, cols, rows);
    for (size_t i = 0; i < nsteps; i++)
        run(&steps[i]);
    finish(0);
}
