/* lp-forker SECONDS [--setsid] [--pidfile PATH] [--parent-exits]
 *
 * Forks a grandchild that keeps the inherited stdin/stdout/stderr open and
 * sleeps SECONDS (with --setsid it calls setsid() first; the pid is printed
 * only after that has happened). The parent prints "GRANDCHILD <pid>\n" to
 * stdout, writes "<pid>\n" to PATH if --pidfile is given (via PATH.tmp and
 * rename), then sleeps SECONDS too and exits 0 -- or, with --parent-exits,
 * exits 0 at once, leaving only the grandchild holding the pipes.
 * Exit 1 on a system error; exit 2 on bad arguments. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "helper.h"

static _Noreturn void usage(void)
{
    fputs("usage: lp-forker SECONDS [--setsid] [--pidfile PATH] [--parent-exits]\n", stderr);
    exit(2);
}

static _Noreturn void die(const char *what)
{
    fprintf(stderr, "lp-forker: %s: %s\n", what, strerror(errno));
    exit(1);
}

/* Writes "<pid>\n" to PATH.tmp and renames it to PATH; -1 on failure. */
static int write_pidfile(const char *path, pid_t pid)
{
    size_t len = strlen(path) + 5;
    char *tmp = malloc(len);
    int ok = 0;
    if (!tmp)
        return -1;
    snprintf(tmp, len, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (f) {
        fprintf(f, "%ld\n", (long)pid);
        ok = fclose(f) == 0 && rename(tmp, path) == 0;
        if (!ok)
            unlink(tmp);
    }
    if (!ok)
        fprintf(stderr, "lp-forker: pidfile %s: %s\n", path, strerror(errno));
    free(tmp);
    return ok ? 0 : -1;
}

int main(int argc, char **argv)
{
    double secs = -1;
    int use_setsid = 0, parent_exits = 0;
    const char *pidfile = NULL;
    int sync[2];
    char c;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--setsid") == 0)
            use_setsid = 1;
        else if (strcmp(argv[i], "--parent-exits") == 0)
            parent_exits = 1;
        else if (strcmp(argv[i], "--pidfile") == 0 && i + 1 < argc)
            pidfile = argv[++i];
        else if (secs < 0 && parse_seconds(argv[i], &secs) == 0)
            ;
        else
            usage();
    }
    if (secs < 0)
        usage();

    /* The grandchild reports over this pipe once it is set up (after setsid),
     * so whoever reads the pid can act on it at once. */
    if (pipe(sync) != 0)
        die("pipe");
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        close(sync[0]);
        if (use_setsid && setsid() < 0)
            die("setsid");
        c = 'x';
        (void)write_all(sync[1], &c, 1);
        close(sync[1]);
        sleep_for(secs);
        _exit(0);
    }
    close(sync[1]);
    (void)read_retry(sync[0], &c, 1);
    close(sync[0]);

    if (pidfile && write_pidfile(pidfile, pid) < 0) {
        kill(pid, SIGKILL);
        return 1;
    }
    printf("GRANDCHILD %ld\n", (long)pid);
    if (fflush(stdout) != 0)
        return 1;
    if (!parent_exits)
        sleep_for(secs);
    return 0;
}
