/* Run `ls -l /` with its stdout on a pipe, read it, wait, print the status. */
#include <libpipe.h>
#include <stdio.h>
#include <unistd.h>

int main(void)
{
    char *const argv[] = {"ls", "-l", "/", NULL};
    lp_spawn_opts o = {.argv = argv, .out = LP_PIPE, .err = LP_DEVNULL};
    lp_proc *p;
    int rc, err = lp_spawn(&p, &o);
    if (err < 0) {
        fprintf(stderr, "%s\n", lp_proc_errmsg(NULL)); /* "exec 'ls': No such file ..." */
        return 1;
    }
    char buf[4096];
    ssize_t n;
    while ((n = read(lp_proc_fd(p, 1), buf, sizeof buf)) > 0)
        fwrite(buf, 1, (size_t)n, stdout);
    lp_proc_wait(p, -1, &rc); /* exit code, or -signal */
    printf("ls exited with %d\n", rc);
    lp_proc_free(p);
    return rc == 0 ? 0 : 1;
}
