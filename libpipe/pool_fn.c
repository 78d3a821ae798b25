/* Function pools: pre-forked workers running a C function over framed messages. */
#include "pool.h"

#include <errno.h>

void lp__fn_start(lp_pool *p) { (void)p; }
lp_deadline lp__fn_deadline(lp_pool *p) { (void)p; return -1; }
void lp__fn_check(lp_pool *p) { (void)p; }
bool lp__fn_epipe(lp_pool *p) { (void)p; return false; }
void lp__fn_free(lp_pool *p) { (void)p; }
