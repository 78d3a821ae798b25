/* Error codes, error detail strings and monotonic deadlines. */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

const char *lp_strerror(int err)
{
    static const char *const own[] = {
        [0] = "child exited with non-zero status",
        [1] = "stopped by a signal",
        [2] = "end of output before a pattern matched",
        [3] = "closed",
    };
    if (err == 0)
        return "Success";
    if (err <= LP_ECHECK && err > LP_ECHECK - (int)(sizeof own / sizeof own[0]))
        return own[LP_ECHECK - err];
    /* strerror() is not thread-safe for unknown codes; glibc's strerrordesc_np is. */
    const char *s = strerrordesc_np(err < 0 ? -err : err);
    return s ? s : "Unknown error";
}

void lp__set_errmsg(char *buf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, LP_ERRMSG_MAX, fmt, ap);
    va_end(ap);
}

char *lp__tls_errmsg(void)
{
    static _Thread_local char msg[LP_ERRMSG_MAX];
    return msg;
}

int64_t lp__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

lp_deadline lp__deadline(int timeout_ms)
{
    if (timeout_ms < 0)
        return -1;
    return lp__now_ns() + (int64_t)timeout_ms * 1000000;
}

int lp__remaining_ms(lp_deadline d)
{
    if (d < 0)
        return -1;
    int64_t left = d - lp__now_ns();
    if (left <= 0)
        return 0;
    int64_t ms = (left + 999999) / 1000000;
    return ms > 0x7fffffff ? 0x7fffffff : (int)ms;
}
