/* lp-repl [-b BANNER] [-e] [-p PROMPT]
 *
 * A tiny read-eval-print loop for expect tests.  Prints BANNER and a newline first (with -b),
 * then repeatedly the prompt ("repl> " unless -p; no newline; on stderr with -e), reads a line
 * and answers on stdout:
 *   echo TEXT      -> TEXT
 *   add A B        -> A + B (decimal integers)
 *   slow MS TEXT   -> sleeps MS milliseconds, then TEXT
 *   spew SIZE      -> SIZE bytes of lp-writer's stdout pattern ('a' + i % 26), then a newline
 *   noprompt       -> stops printing prompts (no answer)
 *   prompt         -> prints prompts again (no answer)
 *   quit           -> exits 0 at once
 *   anything else  -> "error: unknown command 'LINE'"
 * Exit 0 at EOF or quit; 2 on bad arguments; 3 on a write error.  SIGPIPE keeps the inherited
 * disposition. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helper.h"

static _Noreturn void usage(void)
{
    fputs("usage: lp-repl [-b BANNER] [-e] [-p PROMPT]\n", stderr);
    exit(2);
}

static void out(int fd, const char *s, size_t n)
{
    if (write_all(fd, s, n) < 0)
        exit(3);
}

/* s and a newline in one write: a reader gets the whole line at once (atomic up to PIPE_BUF). */
static void line_out(const char *s)
{
    size_t n = strlen(s);
    char *b = malloc(n + 1);
    if (!b)
        exit(1);
    memcpy(b, s, n);
    b[n] = '\n';
    out(1, b, n + 1);
    free(b);
}

int main(int argc, char **argv)
{
    const char *banner = NULL, *prompt = "repl> ";
    int prompt_fd = 1;
    int opt;
    while ((opt = getopt(argc, argv, "b:ep:")) != -1) {
        switch (opt) {
        case 'b': banner = optarg; break;
        case 'e': prompt_fd = 2; break;
        case 'p': prompt = optarg; break;
        default: usage();
        }
    }
    if (optind != argc)
        usage();
    if (banner)
        line_out(banner);
    int prompting = 1;
    char *line = NULL;
    size_t cap = 0;
    for (;;) {
        if (prompting)
            out(prompt_fd, prompt, strlen(prompt));
        ssize_t n = getline(&line, &cap, stdin);
        if (n < 0)
            break;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = 0;
        long a, b;
        char text[64];
        uint64_t size;
        int used = 0;
        if (strncmp(line, "echo ", 5) == 0) {
            line_out(line + 5);
        } else if (sscanf(line, "add %ld %ld%n", &a, &b, &used) == 2 && line[used] == 0) {
            snprintf(text, sizeof text, "%ld", a + b);
            line_out(text);
        } else if (sscanf(line, "slow %ld %n", &a, &used) == 1 && used > 0 && a >= 0) {
            sleep_for((double)a / 1000);
            line_out(line + used);
        } else if (sscanf(line, "spew %63s%n", text, &used) == 1 && line[used] == 0 &&
                   parse_size(text, &size) == 0) {
            uint64_t pos = 0;
            if (write_pattern(1, 'a', &pos, size) < 0)
                return 3;
            out(1, "\n", 1);
        } else if (strcmp(line, "noprompt") == 0) {
            prompting = 0;
        } else if (strcmp(line, "prompt") == 0) {
            prompting = 1;
        } else if (strcmp(line, "quit") == 0) {
            break;
        } else {
            snprintf(text, sizeof text, "error: unknown command '%.30s'", line);
            line_out(text);
        }
    }
    free(line);
    return 0;
}
