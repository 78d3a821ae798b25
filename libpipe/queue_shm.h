/* The layout of a shm: queue's shared segment (/dev/shm/lpq.NAME), shared by queue_shm.c and
 * its unit test (which plays a process killed while it holds the lock).  Not installed.
 *
 * The segment: this header, the ring at ring_off (cap bytes), and for PRIORITY queues a binary
 * heap of heap_cap entries at heap_off.  The geometry fields are written once, before the
 * segment gets its name (queue_shm.c creates it unnamed and links it into place), and never
 * change.
 *
 * Records (FIFO, PRIORITY): [struct lpq_rec][len bytes][padding to 8] at ring positions
 * head..tail (positions grow for ever; the offset in the ring is pos % cap; a record's bytes
 * may wrap around the end, its 8-byte header never does).  A PRIORITY record has its arrival
 * number (uint64_t seq, the tie-break between equal priorities) between header and bytes; it
 * keeps it when it is moved to the tail to reclaim the holes that taken records leave before
 * it (queue_shm.c: rotate).  LIFO: a stack from offset 0 to tail,
 * each record [len bytes][padding to 8][struct lpq_rec], so the newest record's header is the
 * 8 bytes below tail.
 *
 * The commit of a put is the store to tail (FIFO: ftail), of a get the store to head (FIFO:
 * fhead), to tail (LIFO) or of LPQ_CONSUMED into the record's len (PRIORITY).  count, live_bytes, next_seq, the
 * PRIORITY heap and head advancing over consumed records are derived state: a process that finds the lock's owner
 * dead (EOWNERDEAD) rebuilds them from the records (queue_shm.c: repair).  FIFO queues use
 * their own two locks and fields instead (below); lock, head, tail, count are unused. */
#ifndef LIBPIPE_QUEUE_SHM_H
#define LIBPIPE_QUEUE_SHM_H

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>

#define LPQ_SHM_MAGIC 0x31515053514c504cULL /* "LPLQSPQ1" little-endian */
#define LPQ_SHM_VERSION 3u
#define LPQ_SHM_DIR "/dev/shm"
#define LPQ_SHM_PREFIX "lpq."
#define LPQ_NAME_MAX 200
#define LPQ_CONSUMED 0x80000000u /* PRIORITY: bit of lpq_rec.len: the record was taken */
#define LPQ_ITEM_MAX 0x7ffffff0u /* largest item (len must stay below LPQ_CONSUMED) */

struct lpq_rec {
    uint32_t len; /* bytes of the item (| LPQ_CONSUMED) */
    int32_t prio;
};

struct lpq_heap_ent {
    uint64_t seq; /* arrival order */
    uint64_t pos; /* ring position of the record */
    int32_t prio;
    uint32_t pad;
};

/* Bytes a record of n item bytes takes in the ring of a queue of that order. */
static inline uint64_t lpq_rec_size(uint32_t order, uint64_t n)
{
    return sizeof(struct lpq_rec) + (order == 2 /* LP_QUEUE_PRIORITY */ ? 8 : 0) +
           ((n + 7) & ~(uint64_t)7);
}

struct lpq_shm {
    /* geometry: fixed at creation */
    uint64_t magic;
    uint32_t version;
    uint32_t order;     /* lp_queue_order */
    uint64_t size;      /* bytes of the segment */
    uint64_t cap;       /* bytes of the ring, a multiple of 8 */
    uint64_t ring_off;  /* the ring's offset in the segment */
    uint64_t heap_off;  /* PRIORITY: the heap's offset, else 0 */
    uint64_t heap_cap;  /* PRIORITY: entries the heap holds */
    uint64_t max_items; /* bound, 0: none */

    _Atomic uint32_t closed;           /* set once by lp_queue_close: read by every put and
                                          get, so it lives in this read-mostly line           */

    /* The lock and the state every put and get changes share one cache line: a put and a get
     * on two cores then move one line between them, not two (measured: the layout with the
     * lock and the state on separate lines ran 2.2-4.9M msgs/s across cores). */
    alignas(64) pthread_mutex_t lock; /* process-shared, robust (40 bytes on glibc x86-64)  */
    _Atomic uint64_t head;             /* FIFO/PRIORITY: position of the oldest record        */
    _Atomic uint64_t tail;             /* position past the newest (LIFO: bytes in use)       */
    _Atomic uint64_t count;            /* items waiting                                        */

    /* changed under lock, rarely (sleepers register) or only by PRIORITY queues */
    alignas(64) uint64_t live_bytes;   /* PRIORITY: bytes of the records not taken            */
    uint64_t next_seq;                 /* PRIORITY: seq of the next put                       */
    uint32_t getters, putters;         /* registered sleepers (see queue_shm.c: waiting)      */
    uint32_t get_gen, put_gen;         /* bumped when the sleepers are woken and uncounted     */

    /* futex words, bumped to wake sleepers (LIFO, PRIORITY: under lock), each with the FIFO
     * sleepers of its side: generation, registration ticket and count in one word, changed
     * atomically (queue_shm.c: fifo_wake) */
    alignas(64) _Atomic uint32_t get_seq;
    _Atomic uint64_t fifo_getters;
    alignas(64) _Atomic uint32_t put_seq;
    _Atomic uint64_t fifo_putters;

    /* FIFO only: producers serialise on tail_lock, consumers on head_lock, each side's state on
     * its own lines.  The commit of a put is the store to ftail, of a get the store to fhead;
     * before it, the side writes what its position and then its counter will be (pend_*: in that
 * order, so that pend_pos equals the position only once pend_cnt is right), so a process
     * that finds the side's lock owner dead sets puts (gets) to pend_puts (pend_gets) when the
     * position equals pend_tail (pend_head): the commit happened.  Items waiting: puts - gets.
     * Each side reads the other's position only when its cached copy (head_seen, tail_seen: the
 * positions only grow, so a stale copy only understates the room or the items) says the ring
 * is full or empty.  Lock order: tail_lock before head_lock. */
    alignas(64) pthread_mutex_t tail_lock;
    _Atomic uint64_t ftail, puts, pend_tail, pend_puts;
    _Atomic uint64_t head_seen;        /* a value fhead had: the producers' cached copy      */
    alignas(64) pthread_mutex_t head_lock;
    _Atomic uint64_t fhead, gets, pend_head, pend_gets;
    _Atomic uint64_t tail_seen;        /* a value ftail had: the consumers' cached copy      */
};

#endif
