/* lp_proc_communicate / lp_proc_stream: deadlock-free feeding and draining, timeouts that
 * resume without loss, early-closing readers, binary data. */
#include "testutil.h"

#include <signal.h>

#define ARGV(...) ((char *const[]){__VA_ARGS__, NULL})

static bool pattern_ok(const lp_buf *b, size_t len, char base)
{
    if (b->len != len)
        return false;
    for (size_t i = 0; i < len; i++)
        if (b->data[i] != (char)(base + i % 26))
            return false;
    return len == 0 || b->data[len] == 0;
}

static char *size_arg(size_t n, char *buf)
{
    sprintf(buf, "%zu", n);
    return buf;
}

/* Under valgrind (CI sets LP_VALGRIND=1) the largest size of the matrix is 4 MiB instead of
 * 64 MiB: memcheck runs the byte-checking loops ~50x slower; every combination still runs. */
static size_t big(void)
{
    return under_valgrind() ? (size_t)4 << 20 : (size_t)64 << 20;
}

Test(communicate, deadlock_matrix, .timeout = 900)
{
    const size_t sizes[] = {0, 1, 4095, 65536, 1 << 20, big()};
    const size_t ns = sizeof sizes / sizeof sizes[0];
    size_t maxin = sizes[ns - 1];
    char *input = malloc(maxin);
    for (size_t i = 0; i < maxin; i++)
        input[i] = (char)(i * 7 + 3);
    int fds0 = count_fds();
    for (size_t a = 0; a < ns; a++)
        for (size_t b = 0; b < ns; b++)
            for (size_t c = 0; c < ns; c++) {
                char s1[32], s2[32], s3[32];
                lp_spawn_opts o = {.argv = ARGV((char *)helper("lp-mix"), size_arg(sizes[a], s1),
                                                size_arg(sizes[b], s2), size_arg(sizes[c], s3)),
                                   .in = LP_PIPE, .out = LP_PIPE, .err = LP_PIPE};
                lp_proc *p;
                cr_assert_eq(lp_spawn(&p, &o), 0);
                lp_buf out = {0}, err = {0};
                int rc = -1;
                int r = lp_proc_communicate(p, input, sizes[a], &out, &err, -1, &rc);
                cr_assert_eq(r, 0, "in=%zu out=%zu err=%zu: %s", sizes[a], sizes[b], sizes[c],
                             lp_strerror(r));
                cr_assert_eq(rc, 0, "in=%zu: child read a different number of bytes", sizes[a]);
                cr_assert(pattern_ok(&out, sizes[b], 'a'), "stdout differs (in=%zu out=%zu err=%zu, got %zu)",
                          sizes[a], sizes[b], sizes[c], out.len);
                cr_assert(pattern_ok(&err, sizes[c], 'A'), "stderr differs (in=%zu out=%zu err=%zu, got %zu)",
                          sizes[a], sizes[b], sizes[c], err.len);
                lp_buf_free(&out);
                lp_buf_free(&err);
                lp_proc_free(p);
            }
    free(input);
    int z;
    cr_assert_eq(count_fds(), fds0);
    cr_assert_eq(count_children(&z), 0);
}

Test(communicate, echo_is_byte_exact_with_nuls)
{
    size_t n = 3 << 20;
    char *input = malloc(n);
    for (size_t i = 0; i < n; i++)
        input[i] = (char)(i % 256); /* every byte value, NULs included */
    lp_spawn_opts o = {.argv = ARGV((char *)helper("lp-echo")), .in = LP_PIPE, .out = LP_PIPE};
    lp_proc *p;
    cr_assert_eq(lp_spawn(&p, &o), 0);
    lp_buf out = {0};
    int rc;
    cr_assert_eq(lp_proc_communicate(p, input, n, &out, NULL, -1, &rc), 0);
    cr_assert_eq(rc, 0);
    cr_assert_eq(out.len, n);
    cr_assert_eq(memcmp(out.data, input, n), 0);
    lp_buf_free(&out);
    lp_proc_free(p);
    free(input);
}

Test(communicate, child_reads_nothing_or_half)
{
    /* SIGPIPE is at its default here: a write to a closed pipe would kill this test */
    signal(SIGPIPE, SIG_DFL);
    size_t n = 16 << 20;
    char *input = calloc(1, n);
    lp_spawn_opts o = {.argv = ARGV((char *)helper("lp-exit"), "0"), .in = LP_PIPE};
    lp_proc *p;
    int rc;
    cr_assert_eq(lp_spawn(&p, &o), 0);
    cr_assert_eq(lp_proc_communicate(p, input, n, NULL, NULL, -1, &rc), 0);
    cr_assert_eq(rc, 0);
    lp_proc_free(p);

    lp_spawn_opts h = {.argv = ARGV((char *)helper("lp-reader"), "1M"), .in = LP_PIPE, .out = LP_PIPE};
    cr_assert_eq(lp_spawn(&p, &h), 0);
    lp_buf out = {0};
    cr_assert_eq(lp_proc_communicate(p, input, n, &out, NULL, -1, &rc), 0);
    cr_assert_eq(rc, 0);
    cr_assert_str_eq(out.data, "read 1048576\n");
    lp_buf_free(&out);
    lp_proc_free(p);
    free(input);
    sigset_t pend;
    sigpending(&pend);
    cr_assert(!sigismember(&pend, SIGPIPE), "a SIGPIPE was left pending");
}

Test(communicate, timeout_then_continue_loses_nothing)
{
    size_t n = 32 << 20;
    char *input = malloc(n);
    for (size_t i = 0; i < n; i++)
        input[i] = (char)(i * 13 + 1);
    char *copy = malloc(n);
    memcpy(copy, input, n);
    lp_spawn_opts o = {.argv = ARGV((char *)helper("lp-echo"), "64K"), .in = LP_PIPE, .out = LP_PIPE,
                       .err = LP_PIPE};
    lp_proc *p;
    cr_assert_eq(lp_spawn(&p, &o), 0);
    lp_buf out = {0}, err = {0};
    int rc, r, timeouts = 0;
    r = lp_proc_communicate(p, input, n, &out, &err, 1, &rc);
    /* the caller's input buffer need not outlive the call */
    memset(input, 0xEE, n);
    free(input);
    while (r == -ETIMEDOUT) {
        timeouts++;
        r = lp_proc_communicate(p, NULL, 0, &out, &err, 1, &rc);
    }
    cr_assert_eq(r, 0, "%s", lp_strerror(r));
    cr_assert_gt(timeouts, 0, "the 1 ms timeout never fired");
    cr_assert_eq(rc, 0);
    cr_assert_eq(out.len, n);
    cr_assert_eq(memcmp(out.data, copy, n), 0, "bytes lost or repeated across timeouts");
    cr_assert(pattern_ok(&err, n, 'A'));
    lp_buf_free(&out);
    lp_buf_free(&err);
    lp_proc_free(p);
    free(copy);
}

Test(communicate, timeout_keeps_partial_output)
{
    lp_spawn_opts o = {.argv = ARGV((char *)helper("lp-sleeper"), "0.5", "--ready"), .out = LP_PIPE};
    lp_proc *p;
    cr_assert_eq(lp_spawn(&p, &o), 0);
    lp_buf out = {0};
    int rc;
    double t0 = now_s();
    cr_assert_eq(lp_proc_communicate(p, NULL, 0, &out, NULL, 200, &rc), -ETIMEDOUT);
    cr_assert_geq(now_s() - t0, 0.199);
    cr_assert_str_eq(out.data, "ready\n");
    cr_assert_eq(lp_proc_communicate(p, NULL, 0, &out, NULL, -1, &rc), 0);
    cr_assert_str_eq(out.data, "ready\n");
    cr_assert_eq(rc, 0);
    lp_buf_free(&out);
    lp_proc_free(p);
}

Test(communicate, stderr_merged_into_stdout)
{
    lp_spawn_opts o = {.argv = ARGV((char *)helper("lp-writer"), "30", "20", "10"), .out = LP_PIPE,
                       .err = LP_STDOUT};
    lp_proc *p;
    cr_assert_eq(lp_spawn(&p, &o), 0);
    lp_buf out = {0}, err = {0};
    int rc;
    cr_assert_eq(lp_proc_communicate(p, NULL, 0, &out, &err, -1, &rc), 0);
    cr_assert_str_eq(out.data, "abcdefghijABCDEFGHIJklmnopqrstKLMNOPQRSTuvwxyzabcd");
    cr_assert_eq(err.len, 0);
    lp_buf_free(&out);
    lp_buf_free(&err);
    lp_proc_free(p);
}

struct lines {
    char got[8][64];
    int n[3];
    int total;
};

static int on_line(void *ctx, int stdio, const char *data, size_t len)
{
    struct lines *l = ctx;
    if (l->total < 8) {
        snprintf(l->got[l->total], sizeof l->got[0], "%d:%.*s", stdio, (int)len, data);
        l->total++;
    }
    l->n[stdio]++;
    return 0;
}

Test(communicate, stream_whole_lines)
{
    const char *in = "one\ntwo\n\nthree";
    lp_spawn_opts o = {.argv = ARGV((char *)helper("lp-echo")), .in = LP_PIPE, .out = LP_PIPE};
    lp_proc *p;
    cr_assert_eq(lp_spawn(&p, &o), 0);
    struct lines l = {0};
    int rc;
    cr_assert_eq(lp_proc_stream(p, in, strlen(in), on_line, &l, true, -1, &rc), 0);
    cr_assert_eq(rc, 0);
    cr_assert_eq(l.total, 4);
    cr_assert_str_eq(l.got[0], "1:one\n");
    cr_assert_str_eq(l.got[1], "1:two\n");
    cr_assert_str_eq(l.got[2], "1:\n");
    cr_assert_str_eq(l.got[3], "1:three");
    lp_proc_free(p);
}

static int count_bytes(void *ctx, int stdio, const char *data, size_t len)
{
    (void)data;
    ((size_t *)ctx)[stdio] += len;
    return ((size_t *)ctx)[stdio] > (size_t)(8 << 20) && stdio == 1 ? 42 : 0;
}

Test(communicate, stream_chunks_and_stop)
{
    lp_spawn_opts o = {.argv = ARGV((char *)helper("lp-writer"), "64M", "1M"), .out = LP_PIPE, .err = LP_PIPE};
    lp_proc *p;
    cr_assert_eq(lp_spawn(&p, &o), 0);
    size_t got[3] = {0};
    int rc;
    cr_assert_eq(lp_proc_stream(p, NULL, 0, count_bytes, got, false, -1, &rc), 42, "cb's stop value");
    cr_assert_gt(got[1], (size_t)8 << 20);
    cr_assert_lt(got[1], (size_t)64 << 20);
    cr_assert_eq(lp_proc_terminate(p, 1000, &rc), 0);
    lp_proc_free(p);
}

Test(communicate, pty_output)
{
    lp_spawn_opts o = {.argv = ARGV((char *)helper("lp-envcwd"), "NONE"), .pty = true};
    lp_proc *p;
    int r = lp_spawn(&p, &o);
    if (r == -ENOENT || r == -ENXIO || r == -EACCES)
        cr_skip_test("no pseudo-terminal available here: %s", lp_proc_errmsg(NULL));
    cr_assert_eq(r, 0);
    lp_buf out = {0};
    int rc;
    cr_assert_eq(lp_proc_communicate(p, NULL, 0, &out, NULL, 10000, &rc), 0);
    cr_assert_eq(rc, 0);
    cr_assert(strstr(out.data, "tty=1"), "got: %s", out.data);
    lp_buf_free(&out);
    lp_proc_free(p);
}

Test(communicate, buf_append)
{
    lp_buf b = {0};
    for (int i = 0; i < 3000; i++)
        cr_assert_eq(lp_buf_append(&b, "0123456789", 10), 0); /* crosses into a mapping */
    cr_assert_eq(b.len, 30000);
    cr_assert_eq(b.data[b.len], 0);
    cr_assert_eq(memcmp(b.data + 29990, "0123456789", 10), 0);
    lp_buf_free(&b);
    cr_assert_null(b.data);
    cr_assert_eq(b.len, 0);
    lp_buf_free(NULL);
}

Test(communicate, input_is_given_once)
{
    lp_spawn_opts o = {.argv = ARGV((char *)helper("lp-reader")), .in = LP_PIPE, .out = LP_PIPE};
    lp_proc *p;
    cr_assert_eq(lp_spawn(&p, &o), 0);
    lp_buf out = {0};
    int rc;
    cr_assert_eq(lp_proc_communicate(p, "abc", 3, &out, NULL, -1, &rc), 0);
    cr_assert_str_eq(out.data, "read 3\n");
    cr_assert_eq(lp_proc_communicate(p, "more", 4, &out, NULL, -1, &rc), -EINVAL);
    lp_buf_free(&out);
    lp_proc_free(p);

    lp_spawn_opts t = {.argv = ARGV((char *)helper("lp-exit"), "0"), .pty = true, .out = LP_PIPE};
    cr_assert_eq(lp_spawn(&p, &t), -EINVAL);
}

Test(communicate, pty_with_stderr_pipe)
{
    lp_spawn_opts o = {.argv = ARGV((char *)helper("lp-writer"), "7", "5"), .pty = true, .err = LP_PIPE};
    lp_proc *p;
    int r = lp_spawn(&p, &o);
    if (r == -ENOENT || r == -ENXIO || r == -EACCES)
        cr_skip_test("no pseudo-terminal available here: %s", lp_proc_errmsg(NULL));
    cr_assert_eq(r, 0);
    lp_buf out = {0}, err = {0};
    int rc;
    cr_assert_eq(lp_proc_communicate(p, NULL, 0, &out, &err, 10000, &rc), 0);
    cr_assert_eq(rc, 0);
    cr_assert_str_eq(out.data, "abcdefg", "the terminal's output");
    cr_assert_str_eq(err.data, "ABCDE", "stderr through its own pipe");
    lp_buf_free(&out);
    lp_buf_free(&err);
    lp_proc_free(p);
}
