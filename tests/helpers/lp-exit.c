/* lp-exit [-p TEXT] CODE
 * lp-exit [-p TEXT] -s SIGNUM
 *
 * Exits with CODE (0..255), or raises SIGNUM on itself after resetting its
 * disposition to SIG_DFL and unblocking it (exit 99 if still alive after the
 * raise). With -p, first prints TEXT and a newline to stdout. Exit 2 on bad
 * arguments. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helper.h"

static _Noreturn void usage(void)
{
    fputs("usage: lp-exit [-p TEXT] CODE | lp-exit [-p TEXT] -s SIGNUM\n", stderr);
    exit(2);
}

/* With -p: TEXT and a newline on stdout, before exiting or raising. */
static void print_text(const char *text)
{
    if (text) {
        printf("%s\n", text);
        fflush(stdout);
    }
}

int main(int argc, char **argv)
{
    const char *text = NULL;
    long v = 0;
    int i = 1;

    if (i + 1 < argc && strcmp(argv[i], "-p") == 0) {
        text = argv[i + 1];
        i += 2;
    }
    if (argc - i == 1) {
        if (parse_int(argv[i], 0, 255, &v) < 0)
            usage();
        print_text(text);
        return (int)v;
    }
    if (argc - i != 2 || strcmp(argv[i], "-s") != 0 ||
        parse_int(argv[i + 1], 1, SIGRTMAX, &v) < 0)
        usage();
    print_text(text);
    int sig = (int)v;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    if (sig != SIGKILL && sig != SIGSTOP)
        signal(sig, SIG_DFL);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    raise(sig);
    return 99;
}
