/* pshell — `queue work`: run a command for each item of a queue through a pool (placeholder
 * until implemented). */
#include "libpipe.h"
#include "shell.h"

int sh_queue_work(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    sh_error("queue: work: not implemented yet");
    return 2;
}
