/* capture_bench — the capture yardstick (DESIGN.md section 6): a child writes OUT bytes to
 * stdout and ERR bytes to stderr in alternating 64 KiB chunks; capture both, once, with one of
 * several mechanisms, and print the throughput and the peak memory of the capturing process.
 *
 *   capture_bench MODE WRITER [OUT ERR]
 *
 * WRITER is tests/helpers/lp-writer; OUT and ERR (default 512M and 128M; suffixes K, M, G are
 * powers of 1024) are passed to it with a chunk of 64K.  MODE:
 *   lp          lp_run() with .out = LP_PIPE, .err = LP_PIPE and default lp_run_opts
 *   poll        posix_spawn() with two pipes (default size) and a plain poll() loop that reads
 *               64 KiB at a time into a buffer on the stack and appends it to a buffer grown
 *               by realloc() to double its size when full
 *   poll_tuned  the same with both pipes set to 1 MiB (F_SETPIPE_SZ) and reads of up to 1 MiB
 *               straight into the spare space of the growing buffer (no second copy), whose
 *               contents start page-aligned (see struct gbuf): the anchor, the best a
 *               hand-written loop does
 *
 * The time runs from just before the spawn to just after the child was reaped.  Then the
 * captured byte counts and exit status are checked, and the pattern of lp-writer (stdout byte
 * i is 'a' + i % 26, stderr byte i 'A' + i % 26) is spot-checked at a few offsets.  Output,
 * one line:
 *
 *   MODE bytes=N secs=S mib_per_s=X peak_rss_mib=R rss_ratio=Q
 *
 * N is the captured stdout + stderr bytes, X = N / S in MiB/s, R this process's peak resident
 * set (VmHWM of /proc/self/status, read after the capture; the child's memory is separate)
 * and Q = R / N.  Any failure (spawn error, wrong count or byte, child not exiting 0) prints a
 * message and exits non-zero. */
#include "libpipe.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

extern char **environ;

#define CHUNK "64K"                   /* the writer's alternation chunk */
#define PLAIN_READ ((size_t)64 << 10) /* poll: bytes per read() */
#define TUNED_READ ((size_t)1 << 20)  /* poll_tuned: at most this many bytes per read() */
#define TUNED_PIPE (1 << 20)          /* poll_tuned: F_SETPIPE_SZ of both pipes */
#define TUNED_ALIGN ((size_t)4096)     /* poll_tuned: the captured bytes start page-aligned */
#define MIB (1024.0 * 1024.0)

static const char *mode = "capture_bench";

__attribute__((noreturn)) static void die(const char *what, const char *detail)
{
    fprintf(stderr, "capture_bench %s: %s: %s\n", mode, what, detail);
    exit(1);
}

__attribute__((noreturn)) static void usage(void)
{
    fprintf(stderr, "usage: capture_bench lp|poll|poll_tuned WRITER [OUT_BYTES ERR_BYTES]\n"
                    "       (sizes: N, NK, NM, NG; default 512M 128M)\n");
    exit(2);
}

/* A non-negative decimal size with an optional K/M/G suffix (as lp-writer reads it). */
static size_t parse_size(const char *s)
{
    char *end;
    if (*s < '0' || *s > '9')
        usage();
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    unsigned shift = 0;
    switch (*end) {
    case '\0': break;
    case 'K': case 'k': shift = 10; end++; break;
    case 'M': case 'm': shift = 20; end++; break;
    case 'G': case 'g': shift = 30; end++; break;
    default: usage();
    }
    if (errno || *end || v > (SIZE_MAX >> shift) / 4) /* out + err + slack must fit */
        usage();
    return (size_t)v << shift;
}

/* Peak resident set of this process in KiB (VmHWM), or -1. */
static long peak_rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "re");
    if (!f)
        return -1;
    char line[256];
    long kib = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

/* ---- the hand-written loops ------------------------------------------------------------------ */

/* A buffer grown by realloc to double its capacity, as a hand-written capture loop does.
 * With align > 1 (poll_tuned) the contents start at the first multiple of `align` in the
 * block, so reads straight into the spare space land at the same offset in a page as the
 * pipe's own pages: on this machine's AMD EPYC the kernel's copy to user space (rep movsb)
 * runs about 6x slower when the destination is 1-31 bytes past a page-aligned source, which
 * is exactly where glibc puts a large realloc'ed block (16 bytes into its mapping). */
struct gbuf {
    char *block; /* what realloc returned */
    char *data;  /* block + pad */
    size_t pad, len, cap;
};

static void gbuf_reserve(struct gbuf *b, size_t spare, size_t align)
{
    if (b->cap - b->len >= spare)
        return;
    size_t cap = b->cap ? b->cap : PLAIN_READ;
    while (cap - b->len < spare)
        cap *= 2;
    char *block = realloc(b->block, cap + align - 1);
    if (!block)
        die("realloc", strerror(errno));
    size_t pad = (align - (uintptr_t)block % align) % align;
    if (pad != b->pad) /* realloc moved the block to another alignment: rare, small blocks */
        memmove(block + pad, block + b->pad, b->len);
    b->block = block;
    b->data = block + pad;
    b->pad = pad;
    b->cap = cap;
}

/* Spawn `argv` with stdout and stderr on new pipes (of pipe_size bytes unless 0); the
 * parent's read ends in rfd[0] (stdout) and rfd[1] (stderr). */
static pid_t spawn_piped(char *const argv[], int pipe_size, int rfd[2])
{
    int p[2][2];
    for (int i = 0; i < 2; i++) {
        if (pipe2(p[i], O_CLOEXEC) < 0)
            die("pipe2", strerror(errno));
        errno = 0;
        if (pipe_size && fcntl(p[i][0], F_SETPIPE_SZ, pipe_size) < pipe_size)
            die("F_SETPIPE_SZ", errno ? strerror(errno) : "pipe smaller than asked");
    }
    posix_spawn_file_actions_t fa;
    int r = posix_spawn_file_actions_init(&fa);
    if (r == 0)
        r = posix_spawn_file_actions_adddup2(&fa, p[0][1], 1); /* dup2 clears FD_CLOEXEC */
    if (r == 0)
        r = posix_spawn_file_actions_adddup2(&fa, p[1][1], 2);
    if (r != 0)
        die("posix_spawn_file_actions", strerror(r));
    pid_t pid;
    r = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    if (r != 0)
        die("posix_spawn", strerror(r));
    posix_spawn_file_actions_destroy(&fa);
    for (int i = 0; i < 2; i++) {
        close(p[i][1]);
        rfd[i] = p[i][0];
    }
    return pid;
}

static int reap(pid_t pid)
{
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            die("waitpid", strerror(errno));
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    return WIFSIGNALED(st) ? -WTERMSIG(st) : -1;
}

/* poll() both pipes until EOF on both.  tuned: read up to TUNED_READ bytes straight into the
 * buffer's spare space; else read PLAIN_READ bytes into a stack buffer and append them. */
static int capture_poll(char *const argv[], bool tuned, struct gbuf buf[2])
{
    int rfd[2];
    pid_t pid = spawn_piped(argv, tuned ? TUNED_PIPE : 0, rfd);
    struct pollfd pf[2] = {{.fd = rfd[0], .events = POLLIN}, {.fd = rfd[1], .events = POLLIN}};
    int open_fds = 2;
    static char scratch[PLAIN_READ];
    while (open_fds > 0) {
        if (poll(pf, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            die("poll", strerror(errno));
        }
        for (int i = 0; i < 2; i++) {
            if (pf[i].fd < 0 || !(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            struct gbuf *b = &buf[i];
            ssize_t n;
            if (tuned) {
                gbuf_reserve(b, TUNED_READ, TUNED_ALIGN);
                n = read(pf[i].fd, b->data + b->len, TUNED_READ);
            } else {
                n = read(pf[i].fd, scratch, sizeof scratch);
            }
            if (n > 0) {
                if (!tuned) {
                    gbuf_reserve(b, (size_t)n, 1);
                    memcpy(b->data + b->len, scratch, (size_t)n);
                }
                b->len += (size_t)n;
            } else if (n == 0) {
                close(pf[i].fd);
                pf[i].fd = -1;
                open_fds--;
            } else if (errno != EINTR) {
                die("read", strerror(errno));
            }
        }
    }
    return reap(pid);
}

/* ---- checks ---------------------------------------------------------------------------------- */

/* The pattern of lp-writer at offset i of a stream starting with `base`. */
static void check_stream(const char *name, const char *data, size_t len, size_t want, char base)
{
    if (len != want) {
        char msg[128];
        snprintf(msg, sizeof msg, "%zu bytes captured, %zu expected", len, want);
        die(name, msg);
    }
    if (want == 0)
        return;
    if (!data)
        die(name, "no data");
    size_t at[24] = {0, 1, 25, 26, 65535, 65536, 65537, want / 3, want / 2, want - 26, want - 1};
    uint64_t x = 0x9e3779b97f4a7c15u ^ want;
    for (size_t k = 11; k < sizeof at / sizeof at[0]; k++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift64 */
        at[k] = (size_t)(x % want);
    }
    for (size_t k = 0; k < sizeof at / sizeof at[0]; k++) {
        size_t i = at[k];
        if (i >= want)
            continue;
        char exp = (char)(base + (char)(i % 26));
        if (data[i] != exp) {
            char msg[128];
            snprintf(msg, sizeof msg, "byte %zu is 0x%02x, expected '%c'", i,
                     (unsigned char)data[i], exp);
            die(name, msg);
        }
    }
}

static void check_rc(int rc)
{
    if (rc != 0) {
        char msg[64];
        snprintf(msg, sizeof msg, "rc %d", rc);
        die("writer", msg);
    }
}

int main(int argc, char **argv)
{
    if (argc != 3 && argc != 5)
        usage();
    mode = argv[1];
    enum { M_LP, M_POLL, M_TUNED } m;
    if (strcmp(mode, "lp") == 0)
        m = M_LP;
    else if (strcmp(mode, "poll") == 0)
        m = M_POLL;
    else if (strcmp(mode, "poll_tuned") == 0)
        m = M_TUNED;
    else
        usage();
    size_t want_out = argc == 5 ? parse_size(argv[3]) : (size_t)512 << 20;
    size_t want_err = argc == 5 ? parse_size(argv[4]) : (size_t)128 << 20;
    char out_arg[32], err_arg[32];
    snprintf(out_arg, sizeof out_arg, "%zu", want_out);
    snprintf(err_arg, sizeof err_arg, "%zu", want_err);
    char *child_argv[] = {argv[2], out_arg, err_arg, CHUNK, NULL};
    if (access(argv[2], X_OK) < 0)
        die(argv[2], strerror(errno));

    const char *out, *err;
    size_t out_len, err_len;
    lp_result res;
    struct gbuf buf[2] = {{NULL, NULL, 0, 0, 0}, {NULL, NULL, 0, 0, 0}};
    double t0, t1;
    if (m == M_LP) {
        lp_spawn_opts o = {.argv = child_argv, .in = LP_INHERIT, .out = LP_PIPE, .err = LP_PIPE};
        lp_run_opts ro = {0};
        t0 = now_s();
        int r = lp_run(&o, &ro, &res);
        t1 = now_s();
        if (r < 0) {
            const char *msg = lp_proc_errmsg(NULL);
            die("lp_run", *msg ? msg : lp_strerror(r));
        }
        check_rc(res.rc);
        out = res.out.data, out_len = res.out.len;
        err = res.err.data, err_len = res.err.len;
    } else {
        t0 = now_s();
        int rc = capture_poll(child_argv, m == M_TUNED, buf);
        t1 = now_s();
        check_rc(rc);
        out = buf[0].data, out_len = buf[0].len;
        err = buf[1].data, err_len = buf[1].len;
    }
    long hwm_kib = peak_rss_kib(); /* before the checks: they only read */
    if (hwm_kib < 0)
        die("/proc/self/status", "no VmHWM");
    check_stream("stdout", out, out_len, want_out, 'a');
    check_stream("stderr", err, err_len, want_err, 'A');

    size_t bytes = out_len + err_len;
    double secs = t1 - t0, rss = (double)hwm_kib * 1024.0;
    printf("%s bytes=%zu secs=%.3f mib_per_s=%.1f peak_rss_mib=%.1f rss_ratio=%.3f\n", mode, bytes,
           secs, (double)bytes / MIB / secs, rss / MIB, bytes ? rss / (double)bytes : 0.0);

    if (m == M_LP)
        lp_result_free(&res);
    free(buf[0].block);
    free(buf[1].block);
    return fflush(stdout) == 0 ? 0 : 1;
}
