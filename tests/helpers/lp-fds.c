/* lp-fds
 *
 * Prints its open file descriptors (from /proc/self/fd, excluding the fd of
 * the directory being listed) in ascending order, separated by single spaces,
 * ending with a newline, e.g. "0 1 2\n". Exit 0; exit 1 on error; exit 2 on
 * bad arguments. */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "helper.h"

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc != 1) {
        fputs("usage: lp-fds\n", stderr);
        return 2;
    }
    DIR *d = opendir("/proc/self/fd");
    if (!d) {
        perror("lp-fds: /proc/self/fd");
        return 1;
    }
    int self = dirfd(d);
    int *fds = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        long fd;
        if (parse_int(e->d_name, 0, LONG_MAX, &fd) < 0 || fd == self)
            continue; /* ".", "..", or the listing's own fd */
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            int *p = realloc(fds, cap * sizeof *fds);
            if (!p) {
                perror("lp-fds: realloc");
                return 1;
            }
            fds = p;
        }
        fds[n++] = (int)fd;
    }
    closedir(d);
    qsort(fds, n, sizeof *fds, cmp_int);
    for (size_t i = 0; i < n; i++)
        printf(i ? " %d" : "%d", fds[i]);
    putchar('\n');
    free(fds);
    return flush_stdout_status();
}
