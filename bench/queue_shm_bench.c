/* queue_shm_bench — the libpipe row of the queue yardstick: N messages of S bytes (default
 * 64) from a producer process to a consumer process through an lp_queue "shm:NAME".
 *
 *   queue_shm_bench [-n N] [-s S] [-r RING_BYTES] [-o fifo|lifo|priority] shm
 *
 * The parent creates the queue shm:lpq-bench-PID (FIFO unless -o, ring RING_BYTES, default the
 * library's 1 MiB), forks the consumer, which opens the queue by name, says it is ready on a
 * pipe and then takes N items with lp_queue_get (checking each one's length and sequence
 * number — LIFO: the sum of the sequence numbers at the end —, and freeing it); the parent, once the consumer is ready, starts the clock, puts the
 * N items with lp_queue_put (blocking while the ring is full), and stops the clock when the
 * consumer has exited (waitpid).  Puts and gets wait without a timeout (-1), as Python's
 * q.put(m) and q.get() do.  The queue is removed afterwards.  Python's counterpart is
 * bench/queue_mp.py.  Output, one line:
 *
 *   shm size=S n=N secs=T msgs_per_s=X
 *
 * (the mode is shm_lifo or shm_priority with -o: every item has priority 0, so a PRIORITY
 * queue hands them out in arrival order through its heap).
 * Any failure prints a message and exits non-zero. */
#include "libpipe.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

__attribute__((noreturn)) static void die(const char *what, const char *detail)
{
    fprintf(stderr, "queue_shm_bench: %s: %s\n", what, detail);
    exit(1);
}

__attribute__((noreturn)) static void usage(void)
{
    fprintf(stderr, "usage: queue_shm_bench [-n N] [-s SIZE] [-r RING_BYTES] "
                    "[-o fifo|lifo|priority] shm\n");
    exit(2);
}

static int consumer(const char *uri, long n, long size, int ready, bool lifo)
{
    lp_queue *q;
    int rc = lp_queue_open(&q, uri, &(lp_queue_opts){.no_create = true});
    if (rc < 0) {
        fprintf(stderr, "queue_shm_bench consumer: open: %s\n", lp_queue_errmsg());
        return 1;
    }
    if (write(ready, "r", 1) != 1)
        return 1;
    close(ready);
    uint64_t sum = 0;
    for (long i = 0; i < n; i++) {
        lp_queue_item it;
        rc = lp_queue_get(q, &it, -1);
        if (rc < 0) {
            fprintf(stderr, "queue_shm_bench consumer: get %ld: %s\n", i, lp_strerror(rc));
            return 1;
        }
        uint64_t seq;
        memcpy(&seq, it.data.data, sizeof seq);
        sum += seq;
        if ((long)it.data.len != size || (!lifo && seq != (uint64_t)i)) {
            fprintf(stderr, "queue_shm_bench consumer: item %ld: %zu bytes, seq %llu\n", i,
                    it.data.len, (unsigned long long)seq);
            return 1;
        }
        lp_queue_item_free(&it);
    }
    lp_queue_free(q);
    if (sum != (uint64_t)n * (uint64_t)(n - 1) / 2) {
        fprintf(stderr, "queue_shm_bench consumer: wrong items (sum of sequence numbers)\n");
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    long n = 1000000, size = 64, ring = 0;
    const char *m = NULL, *label = "shm";
    lp_queue_order order = LP_QUEUE_FIFO;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
            n = bench_count("queue_shm_bench", argv[++i], "-n", 1);
        else if (strcmp(argv[i], "-s") == 0 && i + 1 < argc)
            size = bench_count("queue_shm_bench", argv[++i], "-s", 8);
        else if (strcmp(argv[i], "-r") == 0 && i + 1 < argc)
            ring = bench_count("queue_shm_bench", argv[++i], "-r", 64);
        else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
            i++;
            if (strcmp(argv[i], "fifo") == 0)
                order = LP_QUEUE_FIFO, label = "shm";
            else if (strcmp(argv[i], "lifo") == 0)
                order = LP_QUEUE_LIFO, label = "shm_lifo";
            else if (strcmp(argv[i], "priority") == 0)
                order = LP_QUEUE_PRIORITY, label = "shm_priority";
            else
                usage();
        } else if (argv[i][0] == '-' || m)
            usage();
        else
            m = argv[i];
    }
    if (!m || strcmp(m, "shm") != 0)
        usage();

    char uri[64];
    snprintf(uri, sizeof uri, "shm:lpq-bench-%d", (int)getpid());
    lp_queue *q;
    int rc = lp_queue_open(&q, uri, &(lp_queue_opts){.order = order, .shm_bytes = (size_t)ring});
    if (rc < 0)
        die("lp_queue_open", lp_queue_errmsg());
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        die("pipe", strerror(errno));
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        die("fork", strerror(errno));
    if (pid == 0) {
        close(p[0]);
        _exit(consumer(uri, n, size, p[1], order == LP_QUEUE_LIFO));
    }
    close(p[1]);
    char c;
    if (read(p[0], &c, 1) != 1)
        die("consumer", "did not start");
    close(p[0]);

    char *msg = calloc(1, (size_t)size);
    if (!msg)
        die("calloc", strerror(errno));
    memset(msg + 8, 'm', (size_t)size - 8);
    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        uint64_t seq = (uint64_t)i;
        memcpy(msg, &seq, sizeof seq);
        rc = lp_queue_put(q, msg, (size_t)size, 0, -1);
        if (rc < 0)
            die("lp_queue_put", lp_strerror(rc));
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            die("waitpid", strerror(errno));
    double secs = now_s() - t0;
    free(msg);
    lp_queue_free(q);
    lp_queue_remove(uri);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        die("consumer", "failed");
    printf("%s size=%ld n=%ld secs=%.4f msgs_per_s=%.1f\n", label, size, n, secs,
           secs > 0 ? (double)n / secs : 0.0);
    return 0;
}
