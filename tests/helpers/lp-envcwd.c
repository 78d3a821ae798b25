/* lp-envcwd [NAME...]
 *
 * Prints "cwd=<dir>", then "NAME=<value>" or "NAME unset" for each NAME (or
 * every environment entry if no NAME is given), then "umask=%04o",
 * "pgid_is_pid=0|1", "sid_is_pid=0|1" and "tty=0|1" (isatty(0)), one per
 * line. Exit 0; exit 1 on error. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "helper.h"

extern char **environ;

int main(int argc, char **argv)
{
    char *cwd = getcwd(NULL, 0);
    if (!cwd) {
        perror("lp-envcwd: getcwd");
        return 1;
    }
    printf("cwd=%s\n", cwd);
    free(cwd);

    if (argc > 1) {
        for (int i = 1; i < argc; i++) {
            const char *v = getenv(argv[i]);
            if (v)
                printf("%s=%s\n", argv[i], v);
            else
                printf("%s unset\n", argv[i]);
        }
    } else {
        for (char **e = environ; e && *e; e++)
            printf("%s\n", *e);
    }

    mode_t m = umask(0);
    umask(m);
    printf("umask=%04o\n", (unsigned)m);
    printf("pgid_is_pid=%d\n", getpgrp() == getpid());
    printf("sid_is_pid=%d\n", getsid(0) == getpid());
    printf("tty=%d\n", isatty(0) ? 1 : 0);
    return flush_stdout_status();
}
