/* pshell — placeholder main until the shell issues land. */
#include "libpipe.h"
#include <stdio.h>
#include <string.h>
int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("pshell %s (libpipe %s)\n", PACKAGE_VERSION, LIBPIPE_VERSION);
        return 0;
    }
    return 0;
}
