/* Placeholder until written. */
#include <criterion/criterion.h>
#include "libpipe.h"

Test(queue_shm, placeholder)
{
    lp_queue *q;
    cr_expect_eq(lp_queue_open(&q, "nosuch:", NULL), -22);
}
