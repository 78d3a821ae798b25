/* lp-sleeper SECONDS [--ignore-term] [--ready]
 *
 * Sleeps SECONDS (fractional allowed, e.g. 0.2) on CLOCK_MONOTONIC against an
 * absolute deadline, so signals that interrupt the sleep never shorten it.
 * --ignore-term  set SIGTERM to SIG_IGN first
 * --ready        print "ready\n" to stdout (unbuffered write) before sleeping
 * Exit 0; exit 2 on bad arguments. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helper.h"

static _Noreturn void usage(void)
{
    fputs("usage: lp-sleeper SECONDS [--ignore-term] [--ready]\n", stderr);
    exit(2);
}

int main(int argc, char **argv)
{
    double secs = -1;
    int ignore_term = 0, ready = 0;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--ignore-term") == 0)
            ignore_term = 1;
        else if (strcmp(argv[i], "--ready") == 0)
            ready = 1;
        else if (secs < 0 && parse_seconds(argv[i], &secs) == 0)
            ;
        else
            usage();
    }
    if (secs < 0)
        usage();

    if (ignore_term)
        signal(SIGTERM, SIG_IGN);
    if (ready) {
        static const char msg[] = "ready\n";
        (void)write_all(1, msg, sizeof msg - 1); /* if nobody is listening, sleep anyway */
    }
    sleep_for(secs);
    return 0;
}
