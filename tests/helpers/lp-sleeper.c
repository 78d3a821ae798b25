/* lp-sleeper SECONDS [--ignore-term] [--ready]
 *
 * Sleeps SECONDS (fractional allowed, e.g. 0.2) on CLOCK_MONOTONIC against an
 * absolute deadline, so signals that interrupt the sleep never shorten it.
 * --ignore-term  set SIGTERM to SIG_IGN first
 * --ready        print "ready\n" to stdout (unbuffered write) before sleeping
 * Exit 0; exit 2 on bad arguments. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static _Noreturn void usage(void)
{
    fputs("usage: lp-sleeper SECONDS [--ignore-term] [--ready]\n", stderr);
    exit(2);
}

static int parse_seconds(const char *s, double *out)
{
    char *end;
    /* Plain decimal only: no sign, whitespace, hex, inf or nan. */
    if (!((*s >= '0' && *s <= '9') || *s == '.') || s[strspn(s, "0123456789.eE+-")] != '\0')
        return -1;
    errno = 0;
    *out = strtod(s, &end);
    if (errno != 0 || *end != '\0' || end == s || !isfinite(*out) || *out < 0 || *out > 1e9)
        return -1;
    return 0;
}

static void sleep_seconds(double secs)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    time_t whole = (time_t)secs;
    long nsec = t.tv_nsec + (long)((secs - (double)whole) * 1e9);
    t.tv_sec += whole + nsec / 1000000000L;
    t.tv_nsec = nsec % 1000000000L;
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) == EINTR)
        ;
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
        const char *p = msg;
        size_t n = sizeof msg - 1;
        while (n > 0) {
            ssize_t w = write(1, p, n);
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                break; /* nobody is listening; sleep anyway */
            }
            p += w;
            n -= (size_t)w;
        }
    }
    sleep_seconds(secs);
    return 0;
}
