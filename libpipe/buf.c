/* Growable byte buffers.
 *
 * Small buffers live in malloc; from LP_BUF_MAP_MIN bytes of capacity on, a buffer is its own
 * anonymous mapping and grows with mremap(MREMAP_MAYMOVE): the kernel moves page-table
 * entries, never the bytes, so growth costs nothing proportional to the contents, and pages
 * not yet written take no memory.  Which allocator owns `data` follows from `cap` alone. */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define LP_BUF_MAP_MIN ((size_t)1 << 20)

static bool is_mapped(size_t cap)
{
    return cap >= LP_BUF_MAP_MIN;
}

void lp_buf_free(lp_buf *b)
{
    if (!b)
        return;
    if (b->data) {
        if (is_mapped(b->cap))
            munmap(b->data, b->cap);
        else
            free(b->data);
    }
    b->data = NULL;
    b->len = b->cap = 0;
}

int lp__buf_reserve(lp_buf *b, size_t spare)
{
    /* room for `spare` more bytes plus the terminating NUL */
    if (b->cap - b->len > spare && b->data)
        return 0;
    size_t need = b->len + spare + 1;
    if (need < spare)
        return -ENOMEM;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) {
        if (cap > SIZE_MAX / 2)
            return -ENOMEM;
        cap *= 2;
    }
    char *d;
    if (!is_mapped(cap)) {
        d = realloc(b->data, cap);
        if (!d)
            return -ENOMEM;
    } else if (is_mapped(b->cap)) {
        d = mremap(b->data, b->cap, cap, MREMAP_MAYMOVE);
        if (d == MAP_FAILED)
            return -ENOMEM;
    } else { /* crossing from malloc to a mapping: one copy of a < 1 MiB buffer */
        d = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (d == MAP_FAILED)
            return -ENOMEM;
        if (b->data) {
            memcpy(d, b->data, b->len + 1);
            free(b->data);
        }
    }
    if (!b->data)
        d[0] = 0;
    b->data = d;
    b->cap = cap;
    return 0;
}

int lp_buf_append(lp_buf *b, const void *data, size_t n)
{
    int r = lp__buf_reserve(b, n);
    if (r < 0)
        return r;
    memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = 0;
    return 0;
}
