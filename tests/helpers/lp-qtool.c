/* lp-qtool URI COMMAND [ARG...] -- one lp_queue user in its own process, for the queue tests.
 *
 *   put ITEM...         put each ITEM (waiting as long as needed), printing "put N" after the
 *                       N-th (0-based) is in
 *   produce FROM COUNT [SIZE]   put the 4-byte values FROM..FROM+COUNT-1 (native endianness;
 *                       COUNT 0: for ever), each followed by SIZE-4 bytes 'a' + (value + i) % 26
 *                       when SIZE > 4; after each put, prints its value as a line
 *                       ("acknowledged")
 *   get TIMEOUT_MS      prints "ready", then takes one item, acks it and prints it and a newline
 *   putwait ITEM TIMEOUT_MS   prints "ready", then puts ITEM waiting at most TIMEOUT_MS
 *   hold                takes one item without waiting, prints "held ATTEMPTS", then waits for
 *                       ever without acking it (the test kills it)
 *   consume             takes and acks items until the queue is closed, writing each item's
 *                       bytes to stdout as they come
 *
 * Exit 0; 3 on LP_ECLOSED; 4 on -ETIMEDOUT (quietly); 1 on another error (lp_queue_errmsg on
 * stderr);
 * 2 on bad arguments. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helper.h"
#include "libpipe.h"

static int fail(const char *what, int r)
{
    if (r == LP_ECLOSED || r == -ETIMEDOUT)
        return r == LP_ECLOSED ? 3 : 4;
    fprintf(stderr, "lp-qtool: %s: %d %s\n", what, r, lp_queue_errmsg());
    return 1;
}

static void say(const char *fmt, unsigned long long v)
{
    printf(fmt, v);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fputs("usage: lp-qtool URI put|produce|get|putwait|hold|consume [ARG...]\n", stderr);
        return 2;
    }
    const char *cmd = argv[2];
    lp_queue *q;
    int r = lp_queue_open(&q, argv[1], NULL);
    if (r < 0)
        return fail("open", r);
    lp_queue_item it;
    int st = 0;
    if (strcmp(cmd, "put") == 0) {
        for (int i = 3; i < argc && st == 0; i++) {
            if ((r = lp_queue_put(q, argv[i], strlen(argv[i]), 0, -1)) < 0)
                st = fail("put", r);
            else
                say("put %llu\n", (unsigned long long)(i - 3));
        }
    } else if (strcmp(cmd, "produce") == 0 && (argc == 5 || argc == 6)) {
        uint32_t from = (uint32_t)strtoul(argv[3], NULL, 10);
        uint32_t count = (uint32_t)strtoul(argv[4], NULL, 10);
        size_t size = argc == 6 ? strtoul(argv[5], NULL, 10) : 4;
        unsigned char *item = malloc(size < 4 ? 4 : size);
        if (!item)
            return 1;
        for (uint32_t i = 0; (count == 0 || i < count) && st == 0; i++) {
            uint32_t v = from + i;
            memcpy(item, &v, 4);
            for (size_t k = 4; k < size; k++)
                item[k] = (unsigned char)('a' + (v + k) % 26);
            if ((r = lp_queue_put(q, item, size < 4 ? 4 : size, 0, -1)) < 0)
                st = fail("put", r);
            else
                say("%llu\n", v);
        }
        free(item);
    } else if (strcmp(cmd, "get") == 0 && argc == 4) {
        say("ready\n", 0);
        if ((r = lp_queue_get(q, &it, atoi(argv[3]))) < 0 || (r = lp_queue_ack(q, it.id)) < 0) {
            st = fail("get", r);
        } else {
            fwrite(it.data.data, 1, it.data.len, stdout);
            putchar('\n');
        }
        lp_queue_item_free(&it);
    } else if (strcmp(cmd, "putwait") == 0 && argc == 5) {
        say("ready\n", 0);
        if ((r = lp_queue_put(q, argv[3], strlen(argv[3]), 0, atoi(argv[4]))) < 0)
            st = fail("put", r);
    } else if (strcmp(cmd, "hold") == 0 && argc == 3) {
        if ((r = lp_queue_get(q, &it, 0)) < 0)
            return fail("get", r);
        say("held %llu\n", it.attempts);
        for (;;)
            pause();
    } else if (strcmp(cmd, "consume") == 0 && argc == 3) {
        while ((r = lp_queue_get(q, &it, -1)) == 0) {
            if ((r = lp_queue_ack(q, it.id)) < 0) {
                st = fail("ack", r);
                break;
            }
            if (fwrite(it.data.data, 1, it.data.len, stdout) != it.data.len || fflush(stdout)) {
                st = 3;
                break;
            }
            lp_queue_item_free(&it);
        }
        lp_queue_item_free(&it);
        if (r != LP_ECLOSED && st == 0)
            st = fail("get", r);
    } else {
        fputs("lp-qtool: bad command or arguments\n", stderr);
        st = 2;
    }
    lp_queue_free(q);
    return st;
}
