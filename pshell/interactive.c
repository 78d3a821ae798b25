/* pshell — the interactive shell: GNU readline (editing, PS1/PS2 with expansions), persistent
 * shared history, completion, ~/.pshellrc, Ctrl-C / Ctrl-D, and job notices before prompts.
 * Job control itself (process groups, the terminal, fg/bg) lives with the executor (exec.c). */
#include "shell.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef HAVE_READLINE
#include <readline/history.h>
#include <readline/readline.h>

/* ---- Ctrl-C at the prompt: the line is dropped, a new prompt comes ---------------------------- */
static volatile sig_atomic_t got_sigint;
static bool line_interrupted; /* Ctrl-C while a line was being read */

static void on_sigint(int sig)
{
    (void)sig;
    got_sigint = 1;
    sh_note_interrupt();
}

/* readline's input: a Ctrl-C ends the line at once, empty.  The signal handler also writes to
 * the shell's self-pipe, so a Ctrl-C that comes just before the read is not missed.  The tty is
 * read through a descriptor of its own opened O_NONBLOCK (children keep the blocking one): a
 * Ctrl-C flushes the terminal's input queue, and a blocking read started after poll said
 * "readable" would then wait for ever. */
static int tty_in = -1;

static int pshell_getc(FILE *f)
{
    int fd = tty_in >= 0 ? tty_in : fileno(f);
    for (;;) {
        if (got_sigint) {
            got_sigint = 0;
            sh_drain_signal_fd();
            line_interrupted = true;
            rl_replace_line("", 0);
            rl_point = rl_end = 0;
            return '\n';
        }
        struct pollfd pf[2] = {{.fd = fd, .events = POLLIN}, {.fd = sh_signal_fd(), .events = POLLIN}};
        if (poll(pf, pf[1].fd >= 0 ? 2 : 1, -1) < 0 && errno != EINTR)
            return EOF;
        if (!(pf[0].revents & (POLLIN | POLLHUP | POLLERR)))
            continue; /* a signal: the loop looks at the flag */
        unsigned char c;
        ssize_t n = read(fd, &c, 1);
        if (n == 1)
            return c;
        if (n == 0)
            return EOF;
        if (errno != EINTR && errno != EAGAIN)
            return EOF;
    }
}

void sh_set_editing_mode(bool vi)
{
    rl_variable_bind("editing-mode", vi ? "vi" : "emacs");
}

/* ---- history ------------------------------------------------------------------------------- */
static char *histfile;

static void mkdirs(const char *path)
{
    char *p = xstrdup(path);
    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = 0;
            mkdir(p, 0700);
            *s = '/';
        }
    mkdir(p, 0700);
    free(p);
}

static int hist_size(void)
{
    const char *v = var_get("HISTSIZE");
    int n = v && *v ? atoi(v) : 1000;
    return n > 0 ? n : 1000;
}

static void history_init(void)
{
    using_history();
    const char *f = var_get("PSHELL_HISTFILE");
    if (f && *f)
        histfile = xstrdup(f);
    else {
        const char *state = var_get("XDG_STATE_HOME");
        const char *home = var_get("HOME");
        char *dir;
        if (state && *state) {
            dir = xmalloc(strlen(state) + 16);
            sprintf(dir, "%s/pshell", state);
        } else if (home && *home) {
            dir = xmalloc(strlen(home) + 32);
            sprintf(dir, "%s/.local/state/pshell", home);
        } else
            return;
        mkdirs(dir);
        histfile = xmalloc(strlen(dir) + 16);
        sprintf(histfile, "%s/history", dir);
        free(dir);
    }
    stifle_history(hist_size());
    /* create it private before anything is written */
    int fd = open(histfile, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd >= 0)
        close(fd);
    read_history(histfile);
}

/* one entered line: kept unless blank, space-prefixed or the same as the previous one; appended
 * to the file at once, so concurrent sessions share it */
static void history_add(const char *line)
{
    if (!*line || line[0] == ' ' || line[0] == '\t')
        return;
    HIST_ENTRY *last = history_length > 0 ? history_get(history_base + history_length - 1) : NULL;
    if (last && strcmp(last->line, line) == 0)
        return;
    add_history(line);
    if (histfile) {
        append_history(1, histfile);
        /* keep the file bounded: trim now and then (every 64 additions) */
        static int n;
        if (++n % 64 == 0)
            history_truncate_file(histfile, hist_size());
    }
}

int bi_history(int argc, char **argv);
int bi_history(int argc, char **argv)
{
    int i = 1;
    if (i < argc && strcmp(argv[i], "-c") == 0) {
        clear_history();
        if (histfile) {
            int fd = open(histfile, O_WRONLY | O_TRUNC | O_CLOEXEC);
            if (fd >= 0)
                close(fd);
        }
        return 0;
    }
    int n = history_length;
    if (i < argc) {
        char *e;
        long v = strtol(argv[i], &e, 10);
        if (*e || v < 0) {
            sh_error("history: %s: numeric argument required", argv[i]);
            return 2;
        }
        if (v < n)
            n = (int)v;
    }
    for (int k = history_length - n; k < history_length; k++) {
        HIST_ENTRY *h = history_get(history_base + k);
        if (h)
            printf("%5d  %s\n", history_base + k, h->line);
    }
    return 0;
}

/* ---- completion ---------------------------------------------------------------------------- */
static const char *const keywords[] = {"if", "then", "else", "elif", "fi", "do", "done", "case",
                                       "esac", "while", "until", "for", "in", NULL};

/* the commands of PATH, cached until PATH changes */
static char **path_cmds;
static size_t npath_cmds;
static char *path_cmds_for;

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void load_path_cmds(void)
{
    const char *path = var_get("PATH");
    if (!path)
        path = "";
    if (path_cmds_for && strcmp(path_cmds_for, path) == 0)
        return;
    for (size_t i = 0; i < npath_cmds; i++)
        free(path_cmds[i]);
    free(path_cmds);
    path_cmds = NULL;
    npath_cmds = 0;
    free(path_cmds_for);
    path_cmds_for = xstrdup(path);
    size_t cap = 0;
    for (const char *p = path;;) {
        const char *e = strchrnul(p, ':');
        char *dir = xmalloc((size_t)(e - p) + 2);
        memcpy(dir, p, (size_t)(e - p));
        dir[e - p] = 0;
        if (!*dir)
            strcpy(dir, ".");
        DIR *d = opendir(dir);
        if (d) {
            int dfd = dirfd(d);
            struct dirent *de;
            while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                    continue;
                struct stat st;
                if (fstatat(dfd, de->d_name, &st, 0) != 0 || !S_ISREG(st.st_mode) || !(st.st_mode & 0111))
                    continue;
                if (npath_cmds == cap) {
                    cap = cap ? cap * 2 : 256;
                    path_cmds = xrealloc(path_cmds, cap * sizeof *path_cmds);
                }
                path_cmds[npath_cmds++] = xstrdup(de->d_name);
            }
            closedir(d);
        }
        free(dir);
        if (!*e)
            break;
        p = e + 1;
    }
    if (npath_cmds)
        qsort(path_cmds, npath_cmds, sizeof *path_cmds, cmp_str);
}

/* candidates for the current word, collected once per completion */
static strlist cands;
static size_t cand_i;

static void cand_add(const char *s, const char *prefix)
{
    if (strncmp(s, prefix, strlen(prefix)) != 0)
        return;
    for (int i = 0; i < cands.n; i++)
        if (strcmp(cands.v[i], s) == 0)
            return;
    sl_push(&cands, xstrdup(s));
}

static char *cand_next(const char *text, int state)
{
    (void)text;
    if (!state)
        cand_i = 0;
    if ((int)cand_i < cands.n)
        return xstrdup(cands.v[cand_i++]);
    return NULL;
}

/* is the word at `start` in command position? */
static bool command_position(int start)
{
    int i = start - 1;
    while (i >= 0 && (rl_line_buffer[i] == ' ' || rl_line_buffer[i] == '\t'))
        i--;
    if (i < 0)
        return true;
    char c = rl_line_buffer[i];
    if (c == ';' || c == '|' || c == '&' || c == '(' || c == '{' || c == '`' || c == '\n')
        return true;
    /* after a keyword that starts a command */
    int e = i;
    while (i >= 0 && rl_line_buffer[i] != ' ' && rl_line_buffer[i] != '\t' && rl_line_buffer[i] != ';')
        i--;
    size_t len = (size_t)(e - i);
    static const char *const starters[] = {"then", "else", "elif", "do", "if", "while", "until", "!", NULL};
    for (int k = 0; starters[k]; k++)
        if (strlen(starters[k]) == len && strncmp(rl_line_buffer + i + 1, starters[k], len) == 0)
            return true;
    return false;
}

/* the command word of the line (for option completion of pshell's builtins) */
static void first_word(char *buf, size_t cap)
{
    const char *p = rl_line_buffer;
    while (*p == ' ' || *p == '\t')
        p++;
    size_t k = 0;
    while (*p && *p != ' ' && *p != '\t' && k + 1 < cap)
        buf[k++] = *p++;
    buf[k] = 0;
}

static const struct { const char *cmd; const char *opts; } builtin_opts[] = {
    {"timeout", "-k -s --preserve-status --kill-after= --signal="},
    {"set", "-e -u -x -v -f -n -a -C -m -o +e +u +x +v +f +o"},
    {"read", "-r -p"},
    {"cd", "-L -P"},
    {"pwd", "-L -P"},
    {"export", "-p"},
    {"readonly", "-p"},
    {"unset", "-f -v"},
    {"command", "-v -V -p"},
    {"umask", "-S"},
    {"kill", "-l -s"},
    {"jobs", "-p"},
    {"trap", "-p"},
    {"history", "-c"},
    {"hash", "-r"},
    {"unalias", "-a"},
    {NULL, NULL},
};

extern const char *const sh_builtin_names[];
void sh_func_names(strlist *out);
void sh_var_names(strlist *out);
void sh_alias_names(strlist *out);

/* `queue SUBCMD [OPTIONS] NAME`: is the word at start (text) a queue NAME?  That is, the command
 * is queue, and between its subcommand and this word only options and their values (every
 * operand of rm is a name). */
void sh_queue_local_names(strlist *out); /* queue.c */
static bool queue_name_position(const char *text, int start)
{
    static const char *const subs[] = {"put", "new", "get", "len", "stat", "close", "peek",
                                       "dead", "rm", "work", NULL};
    static const char *const valued[] = {"-p", "-t", "--timeout", "--max", "-j", "--lease",
                                         "--retries", NULL};
    if (text[0] == '-')
        return false;
    int b = start;
    while (b > 0 && !strchr(";|&(){}`\n", rl_line_buffer[b - 1]))
        b--;
    char *line = xmalloc((size_t)(start - b) + 1);
    memcpy(line, rl_line_buffer + b, (size_t)(start - b));
    line[start - b] = 0;
    strlist w = {0};
    for (char *t = strtok(line, " \t"); t; t = strtok(NULL, " \t"))
        sl_push(&w, xstrdup(t));
    free(line);
    bool ok = w.n >= 2 && strcmp(w.v[0], "queue") == 0;
    int k = 0;
    while (ok && subs[k] && strcmp(subs[k], w.v[1]) != 0)
        k++;
    ok = ok && subs[k];
    for (int i = 2; ok && i < w.n; i++) {
        bool takes = false;
        for (int j = 0; valued[j]; j++)
            takes = takes || strcmp(w.v[i], valued[j]) == 0;
        if (takes)
            i++;
        else if (w.v[i][0] != '-' && strcmp(w.v[1], "rm") != 0)
            ok = false; /* the name came before */
    }
    sl_free(&w);
    return ok;
}

static char **complete(const char *text, int start, int end)
{
    (void)end;
    sl_free(&cands);
    rl_attempted_completion_over = 0;
    if (text[0] == '$') {
        /* variable names */
        strlist names = {0};
        sh_var_names(&names);
        const char *pre = text[1] == '{' ? text + 2 : text + 1;
        for (int i = 0; i < names.n; i++) {
            char *c = xmalloc(strlen(names.v[i]) + 3);
            sprintf(c, "%s%s", text[1] == '{' ? "${" : "$", names.v[i]);
            if (strncmp(names.v[i], pre, strlen(pre)) == 0)
                sl_push(&cands, c);
            else
                free(c);
        }
        sl_free(&names);
        rl_attempted_completion_over = 1;
        rl_completion_suppress_append = text[1] == '{';
        return cands.n ? rl_completion_matches(text, cand_next) : NULL;
    }
    if (text[0] == '-' && !command_position(start)) {
        char cmd[64];
        first_word(cmd, sizeof cmd);
        for (int i = 0; builtin_opts[i].cmd; i++)
            if (strcmp(builtin_opts[i].cmd, cmd) == 0) {
                char *o = xstrdup(builtin_opts[i].opts);
                for (char *t = strtok(o, " "); t; t = strtok(NULL, " "))
                    cand_add(t, text);
                free(o);
                rl_attempted_completion_over = 1;
                return cands.n ? rl_completion_matches(text, cand_next) : NULL;
            }
    }
    if (!command_position(start) && queue_name_position(text, start)) {
        strlist names = {0};
        sh_queue_local_names(&names);
        for (int i = 0; i < names.n; i++)
            cand_add(names.v[i], text);
        sl_free(&names);
        if (cands.n) {
            rl_attempted_completion_over = 1;
            return rl_completion_matches(text, cand_next);
        }
    }
    if (command_position(start) && !strchr(text, '/')) {
        for (int i = 0; keywords[i]; i++)
            cand_add(keywords[i], text);
        for (int i = 0; sh_builtin_names[i]; i++)
            cand_add(sh_builtin_names[i], text);
        strlist more = {0};
        sh_func_names(&more);
        sh_alias_names(&more);
        for (int i = 0; i < more.n; i++)
            cand_add(more.v[i], text);
        sl_free(&more);
        load_path_cmds();
        size_t tl = strlen(text);
        for (size_t i = 0; i < npath_cmds; i++)
            if (strncmp(path_cmds[i], text, tl) == 0)
                cand_add(path_cmds[i], text);
        if (cands.n) {
            rl_attempted_completion_over = 1;
            return rl_completion_matches(text, cand_next);
        }
    }
    return NULL; /* readline's filename completion, quoted by quote_filename */
}

/* a file name as one shell word: special characters get a backslash */
static char *quote_filename(char *text, int match_type, char *qp)
{
    (void)match_type;
    (void)qp;
    char *r = xmalloc(strlen(text) * 2 + 1);
    size_t k = 0;
    for (const char *s = text; *s; s++) {
        if (strchr(" \t\n\"\\'`$><=;|&(){}[]*?!#~^", *s) && !(*s == '~' && s == text))
            r[k++] = '\\';
        r[k++] = *s;
    }
    r[k] = 0;
    return r;
}

static char *dequote_filename(char *text, int quote_char)
{
    char *r = xmalloc(strlen(text) + 1);
    size_t k = 0;
    for (const char *s = text; *s; s++) {
        if (*s == '\\' && s[1] && quote_char != '\'')
            s++;
        r[k++] = *s;
    }
    r[k] = 0;
    return r;
}

/* is text[index] quoted by a backslash? (so "my\ dir" is one word) */
static int char_is_quoted(char *text, int index)
{
    int n = 0;
    for (int i = index - 1; i >= 0 && text[i] == '\\'; i--)
        n++;
    return n % 2;
}

/* ---- prompts and the loop ------------------------------------------------------------------ */
static bool rl_first = true;
static char *prompt_text(const char *var, const char *dflt)
{
    const char *ps = var_get(var);
    if (!ps)
        ps = dflt;
    /* the prompt is expanded like a double-quoted word: $VAR, $(cmd), $((...)) */
    bool saved_u = sh.nounset;
    int saved_status = sh.status;
    sh.nounset = false;
    char *q = xmalloc(strlen(ps) * 2 + 3);
    size_t k = 0;
    q[k++] = '"';
    for (const char *c = ps; *c; c++) {
        if (*c == '"')
            q[k++] = '\\';
        q[k++] = *c;
    }
    q[k++] = '"';
    q[k] = 0;
    char *r = expand_str(q);
    free(q);
    sh.nounset = saved_u;
    sh.status = saved_status;
    return r ? r : xstrdup(ps);
}

static int more_readline(src *s, void *ctx)
{
    (void)ctx;
    if (line_interrupted)
        return 0; /* Ctrl-C in a continuation line: the command is dropped */
    if (rl_first)
        sh_notify_jobs();
    char *ps = prompt_text(rl_first ? "PS1" : "PS2", rl_first ? "$ " : "> ");
    rl_first = false;
    sh_flush();
    char *line = readline(ps);
    free(ps);
    if (!line)
        return 0;
    if (line_interrupted) {
        free(line);
        return 0;
    }
    history_add(line);
    src_append(s, line, strlen(line));
    src_append(s, "\n", 1);
    free(line);
    return 1;
}

static void source_rc(void)
{
    const char *env = var_get("ENV");
    const char *home = var_get("HOME");
    char *path = NULL;
    if (env && *env)
        path = expand_str(env);
    else if (home && *home) {
        path = xmalloc(strlen(home) + 16);
        sprintf(path, "%s/.pshellrc", home);
    }
    if (path && access(path, R_OK) == 0) {
        char *argv[] = {".", path, NULL};
        bool saved = sh.interactive;
        builtin_fn dot = builtin_get(".", &(bool){false});
        dot(2, argv);
        sh.interactive = saved;
        sh.ctl = CTL_NONE;
    }
    free(path);
}

int sh_interactive_main(void)
{
    sh.interactive = true;
    sh_jobctl_init();
    struct sigaction sa = {0};
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL); /* no SA_RESTART: the read is interrupted, the hook runs */
    signal(SIGQUIT, SIG_IGN);
    rl_catch_signals = 0;
    rl_getc_function = pshell_getc;
    {
        /* a non-blocking descriptor of our own on the terminal (see pshell_getc) */
        int nb = open("/proc/self/fd/0", O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (nb >= 0) {
            tty_in = fcntl(nb, F_DUPFD_CLOEXEC, 10);
            close(nb);
        }
    }
    rl_readline_name = "pshell";
    sh.emacs_mode = rl_editing_mode == 1; /* readline: 1 emacs, 0 vi (an ~/.inputrc may say vi) */
    rl_attempted_completion_function = complete;
    rl_filename_quoting_function = quote_filename;
    rl_filename_dequoting_function = dequote_filename;
    rl_char_is_quoted_p = char_is_quoted;
    rl_completer_quote_characters = "'\"";
    rl_filename_quote_characters = " \t\n\"\\'`$><=;|&(){}[]*?!#^";
    rl_completer_word_break_characters = " \t\n\"'><=;|&(";
    history_init();
    source_rc();
    src *s = src_new("stdin", "", 0, more_readline, NULL);
    int warned_at = -1, ncmd = 0;
    for (;;) {
        rl_first = true;
        line_interrupted = false;
        arena *a = arena_new();
        node *n = NULL;
        int r = parse_next(s, a, &n, false);
        if (line_interrupted) {
            /* Ctrl-C: drop what was typed */
            arena_free(a);
            src_discard(s);
            sh.status = 130;
            sh_clear_interrupt();
            continue;
        }
        if (r == 0) {
            arena_free(a);
            /* Ctrl-D on an empty line: leave, but warn once about stopped jobs */
            if (sh_stopped_jobs() && warned_at != ncmd) {
                fprintf(stderr, "\nThere are stopped jobs.\n");
                warned_at = ncmd;
                src_discard(s);
                continue;
            }
            break;
        }
        ncmd++;
        if (r < 0) {
            sh.status = 2;
            src_discard(s);
        } else if (n) {
            sh.exit_warned = warned_at == ncmd - 1;
            exec_node(n, 0); /* a Ctrl-C since the line was read cancels it */
            if (sh.exit_warned_now)
                warned_at = ncmd;
            sh.exit_warned_now = false;
            if (ast_defines_function(n))
                a = NULL; /* the functions keep their bodies (a few per session) */
        }
        arena_free(a);
        src_compact(s);
        sh.ctl = CTL_NONE;
        sh_clear_interrupt();
    }
    src_free(s);
    fputs("exit\n", stderr);
    return sh.status;
}

#else /* no readline: read lines plainly */
void sh_set_editing_mode(bool vi)
{
    (void)vi;
}

int sh_interactive_main(void)
{
    sh.interactive = true;
    sh_jobctl_init();
    return -1; /* the caller reads stdin as a script */
}

int bi_history(int argc, char **argv);
int bi_history(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    sh_error("history: not available (built without readline)");
    return 1;
}
#endif
