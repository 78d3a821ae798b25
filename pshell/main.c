/* pshell — the shell's entry point.
 *
 * Until the language issue lands this runs simple commands only: one command per line, words
 * separated by blanks, with '...' and "..." quoting and \ escapes; `cd` and `exit` are built
 * in.  Every command runs through lp_spawn, so exec failures are reported, not guessed. */
#include "libpipe.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef HAVE_READLINE
#include <readline/history.h>
#include <readline/readline.h>
#endif

static int last_status;

static void usage(FILE *f)
{
    fprintf(f, "usage: pshell [-c COMMAND] [SCRIPT [ARGS...]]\n"
               "       pshell --help | --version\n");
}

/* Split a line into words in place; returns the count, or -1 on an unterminated quote. */
static int split_words(char *line, char **words, int max)
{
    int n = 0;
    char *r = line, *w = line;
    for (;;) {
        while (*r == ' ' || *r == '\t' || *r == '\n')
            r++;
        if (!*r || *r == '#')
            break;
        if (n == max - 1)
            return -2;
        words[n++] = w;
        while (*r && *r != ' ' && *r != '\t' && *r != '\n') {
            if (*r == '\'' || *r == '"') {
                char q = *r++;
                while (*r && *r != q) {
                    if (q == '"' && *r == '\\' && (r[1] == '"' || r[1] == '\\' || r[1] == '$'))
                        r++;
                    *w++ = *r++;
                }
                if (!*r)
                    return -1;
                r++;
            } else if (*r == '\\' && r[1]) {
                r++;
                *w++ = *r++;
            } else {
                *w++ = *r++;
            }
        }
        if (*r)
            r++;
        *w++ = 0;
    }
    words[n] = NULL;
    return n;
}

static int run_line(char *line, const char *where, long lineno, bool *quit)
{
    char *argv[256];
    int n = split_words(line, argv, 256);
    if (n == -1) {
        fprintf(stderr, "pshell: %s:%ld: syntax error: unterminated quoted string\n", where, lineno);
        return 2;
    }
    if (n == -2) {
        fprintf(stderr, "pshell: %s:%ld: too many words\n", where, lineno);
        return 2;
    }
    if (n == 0)
        return last_status;
    if (strcmp(argv[0], "exit") == 0) {
        *quit = true;
        return n > 1 ? atoi(argv[1]) & 255 : last_status;
    }
    if (strcmp(argv[0], "cd") == 0) {
        const char *dir = n > 1 ? argv[1] : getenv("HOME");
        if (!dir || chdir(dir) < 0) {
            fprintf(stderr, "pshell: cd: %s: %s\n", dir ? dir : "HOME not set", strerror(errno));
            return 1;
        }
        return 0;
    }
    lp_spawn_opts o = {.argv = argv};
    lp_proc *p;
    int err = lp_spawn(&p, &o);
    if (err == -ENOENT && !strchr(argv[0], '/')) {
        fprintf(stderr, "pshell: %s: command not found\n", argv[0]);
        return 127;
    }
    if (err < 0) {
        fprintf(stderr, "pshell: %s\n", lp_proc_errmsg(NULL));
        return err == -ENOENT ? 127 : 126;
    }
    int rc = 0;
    lp_proc_wait(p, -1, &rc);
    lp_proc_free(p);
    return lp_rc_shell(rc);
}

static int run_stream(FILE *f, const char *where)
{
    char *line = NULL;
    size_t cap = 0;
    long lineno = 0;
    bool quit = false;
    while (!quit && getline(&line, &cap, f) >= 0)
        last_status = run_line(line, where, ++lineno, &quit);
    free(line);
    return last_status;
}

#ifdef HAVE_READLINE
static int run_interactive(void)
{
    bool quit = false;
    long lineno = 0;
    char *line;
    while (!quit && (line = readline("pshell$ "))) {
        if (*line)
            add_history(line);
        last_status = run_line(line, "stdin", ++lineno, &quit);
        free(line);
    }
    if (!quit)
        putchar('\n');
    return last_status;
}
#endif

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("pshell %s (libpipe %s)\n", PACKAGE_VERSION, LIBPIPE_VERSION);
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "--help") == 0) {
        usage(stdout);
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "-c") == 0) {
        if (argc < 3) {
            fprintf(stderr, "pshell: -c: option requires an argument\n");
            usage(stderr);
            return 2;
        }
        char *cmds = strdup(argv[2]);
        FILE *f = fmemopen(cmds, strlen(cmds), "r");
        int st = f ? run_stream(f, "-c") : 2;
        if (f)
            fclose(f);
        free(cmds);
        return st;
    }
    if (argc > 1 && argv[1][0] == '-' && argv[1][1]) {
        fprintf(stderr, "pshell: %s: unknown option\n", argv[1]);
        usage(stderr);
        return 2;
    }
    if (argc > 1) {
        FILE *f = fopen(argv[1], "r");
        if (!f) {
            fprintf(stderr, "pshell: %s: %s\n", argv[1], strerror(errno));
            return 127;
        }
        int st = run_stream(f, argv[1]);
        fclose(f);
        return st;
    }
#ifdef HAVE_READLINE
    if (isatty(0))
        return run_interactive();
#endif
    return run_stream(stdin, "stdin");
}
