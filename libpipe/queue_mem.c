/* The mem: queue store (placeholder until implemented). */
#include "queue.h"

#include <errno.h>

static int q_open(lp_queue **q, const char *uri, const char *rest, const lp_queue_opts *o)
{
    (void)q; (void)rest; (void)o;
    return lp__queue_seterr(-ENOSYS, "%s: store not implemented yet", uri);
}

const struct lp__queue_ops lp__queue_mem_ops = { .scheme = "mem", .open = q_open };
