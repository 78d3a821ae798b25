/* Expect (lp_expect_new, lp_expect, lp_expect_group, lp_expect_before, lp_proc_send): scripted
 * dialogues with lp-repl over pipes and over a pty, several patterns and the index returned,
 * captures and named groups, output after a match kept for the next call, timeouts that leave
 * the dialogue usable, LP_EEOF, -EPIPE without SIGPIPE, megabytes before the prompt, EINTR
 * not extending a timeout, the wait-interrupt descriptor, bad arguments, nothing left behind.
 *
 * Ordering comes from the dialogue itself (each answer follows the line that asked for it, and
 * lp-repl writes a line in one write); a timeout is only asserted where the awaited text can
 * never come (prompting turned off), and other timeouts are hang guards. */
#include "testutil.h"

#include <signal.h>
#include <sys/time.h>

#define ARGV(...) ((char *const[]){__VA_ARGS__, NULL})
#define HANG_MS 30000 /* a hang guard, never expected to expire */

static lp_regex *re(const char *pat)
{
    lp_regex *r = NULL;
    char err[200];
    int e = lp_regex_new(&r, pat, 0, err, sizeof err);
    cr_assert_eq(e, 0, "lp_regex_new %s: %s", pat, err);
    return r;
}

struct dlg {
    lp_proc *p;
    struct lp_expect *e;
};

/* lp-repl with extra arguments, on pipes (stdout read; stderr too with err_pipe) or a pty. */
static struct dlg start(bool pty, int stdio, char *const *argv)
{
    lp_spawn_opts o = {.argv = argv, .pty = pty};
    if (!pty) {
        o.in = LP_PIPE;
        o.out = LP_PIPE;
        if (stdio == 2)
            o.err = LP_PIPE;
    }
    struct dlg d;
    int r = lp_spawn(&d.p, &o);
    cr_assert_eq(r, 0, "spawn: %s", lp_proc_errmsg(NULL));
    r = lp_expect_new(&d.e, d.p, stdio);
    cr_assert_eq(r, 0, "lp_expect_new: %s", lp_strerror(r));
    return d;
}

static void finish(struct dlg *d, int want_rc)
{
    lp_expect_free(d->e);
    lp_proc_close_fd(d->p, 0);
    int rc = -1;
    cr_assert_eq(lp_proc_wait(d->p, HANG_MS, &rc), 0);
    cr_assert_eq(rc, want_rc);
    lp_proc_free(d->p);
}

static void send_str(lp_proc *p, const char *s)
{
    int r = lp_proc_send(p, s, strlen(s), HANG_MS);
    cr_assert_eq(r, 0, "lp_proc_send %s: %s", s, lp_strerror(r));
}

/* Expect one pattern; assert it matched. */
static void expect1(struct lp_expect *e, const char *pat)
{
    lp_regex *r = re(pat);
    int k = lp_expect(e, &r, 1, HANG_MS);
    size_t n;
    const char *b = lp_expect_before(e, &n);
    cr_assert_eq(k, 0, "expect %s: %s (unconsumed: %.*s)", pat, lp_strerror(k), (int)n, b);
    lp_regex_free(r);
}

static void assert_group(struct lp_expect *e, size_t i, const char *want)
{
    size_t n = 99;
    const char *g = lp_expect_group(e, i, &n);
    if (!want) {
        cr_assert_null(g, "group %zu took part", i);
        cr_assert_eq(n, 0);
        return;
    }
    cr_assert(g, "group %zu missing", i);
    cr_assert_eq(n, strlen(want), "group %zu: '%.*s' != '%s'", i, (int)n, g, want);
    cr_assert(memcmp(g, want, n) == 0, "group %zu: '%.*s' != '%s'", i, (int)n, g, want);
}

static void assert_before(struct lp_expect *e, const char *want)
{
    size_t n = 99;
    const char *b = lp_expect_before(e, &n);
    cr_assert_eq(n, strlen(want), "before: '%.*s' != '%s'", (int)n, b, want);
    cr_assert(memcmp(b, want, n) == 0, "before: '%.*s' != '%s'", (int)n, b, want);
}

Test(expect, pipe_dialogue)
{
    int fds0 = count_fds();
    struct dlg d = start(false, 1, ARGV((char *)helper("lp-repl"), "-b", "hello there"));
    expect1(d.e, "repl> ");
    assert_before(d.e, "hello there\n");
    assert_group(d.e, 0, "repl> ");
    send_str(d.p, "echo one\n");
    expect1(d.e, "(\\w+)\\n");
    assert_group(d.e, 0, "one\n");
    assert_group(d.e, 1, "one");
    assert_before(d.e, "");
    expect1(d.e, "repl> ");
    send_str(d.p, "add 2 3\n");
    expect1(d.e, "(\\d+)\\nrepl> ");
    assert_group(d.e, 1, "5");
    send_str(d.p, "quit\n");
    finish(&d, 0);
    cr_assert_eq(count_fds(), fds0, "descriptors leaked");
    int z = 0;
    cr_assert_eq(count_children(&z), 0);
}

Test(expect, pty_dialogue)
{
    int fds0 = count_fds();
    struct dlg d = start(true, 0, ARGV((char *)helper("lp-repl")));
    expect1(d.e, "repl> ");
    send_str(d.p, "add 2 3\n");
    /* the terminal echoes the line ("add 2 3\r\n") before the answer, with CR LF */
    expect1(d.e, "(\\d+)\\r\\nrepl> ");
    assert_group(d.e, 1, "5");
    assert_before(d.e, "add 2 3\r\n");
    send_str(d.p, "echo on a terminal\n");
    expect1(d.e, "echo on a terminal\\r\\n");
    expect1(d.e, "^(.*)\\r\\n");
    assert_group(d.e, 1, "on a terminal");
    send_str(d.p, "quit\n");
    /* the child exits: the master reads EIO, reported as the end of the output */
    lp_regex *never = re("never");
    int k = lp_expect(d.e, &never, 1, HANG_MS);
    cr_assert_eq(k, LP_EEOF, "%s", lp_strerror(k));
    size_t n;
    const char *b = lp_expect_before(d.e, &n);
    cr_assert(n >= 4 && strstr(b, "quit"), "unconsumed at EOF: '%.*s'", (int)n, b);
    lp_regex_free(never);
    finish(&d, 0);
    cr_assert_eq(count_fds(), fds0, "descriptors leaked");
}

Test(expect, prompt_on_stderr)
{
    struct dlg d = start(false, 2, ARGV((char *)helper("lp-repl"), "-e", "-p", "ok? "));
    expect1(d.e, "ok\\? $");
    send_str(d.p, "quit\n");
    finish(&d, 0);
}

Test(expect, pattern_index)
{
    struct dlg d = start(false, 1, ARGV((char *)helper("lp-repl")));
    lp_regex *pats[] = {re("nomatch"), re("(\\d+)\\n"), re("repl> "), re("repl")};
    int k = lp_expect(d.e, pats, 4, HANG_MS);
    cr_assert_eq(k, 2, "'repl> ' and 'repl' start at the same byte: the lower index wins, got %d", k);
    send_str(d.p, "add 40 2\n");
    k = lp_expect(d.e, pats, 4, HANG_MS);
    cr_assert_eq(k, 1, "the earliest match wins, got %d", k);
    assert_group(d.e, 1, "42");
    cr_assert_eq(lp_expect_groups(d.e), 1);
    /* the prompt that followed is still there, matched by a later index: it starts earlier */
    lp_regex *late[] = {re("> "), re("repl")};
    k = lp_expect(d.e, late, 2, HANG_MS);
    cr_assert_eq(k, 1, "'repl' starts before '> ': got %d", k);
    assert_before(d.e, "");
    k = lp_expect(d.e, late, 2, HANG_MS);
    cr_assert_eq(k, 0, "got %d", k);
    send_str(d.p, "quit\n");
    for (size_t i = 0; i < 4; i++)
        lp_regex_free(pats[i]);
    lp_regex_free(late[0]);
    lp_regex_free(late[1]);
    finish(&d, 0);
}

Test(expect, named_groups)
{
    struct dlg d = start(false, 1, ARGV((char *)helper("lp-repl")));
    expect1(d.e, "repl> ");
    send_str(d.p, "add 40 2\n");
    lp_regex *r = re("(?<sum>\\d+)(x)?\\n");
    cr_assert_str_eq(lp_regex_group_name(r, 1), "sum");
    cr_assert_null(lp_regex_group_name(r, 2));
    int k = lp_expect(d.e, &r, 1, HANG_MS);
    cr_assert_eq(k, 0);
    cr_assert_eq(lp_expect_groups(d.e), 2);
    assert_group(d.e, 1, "42");
    assert_group(d.e, 2, NULL);                      /* did not take part */
    cr_assert_null(lp_expect_group(d.e, 3, NULL)); /* no such group */
    lp_regex_free(r);
    send_str(d.p, "quit\n");
    finish(&d, 0);
}

Test(expect, rest_kept_for_next_call)
{
    struct dlg d = start(false, 1, ARGV((char *)helper("lp-repl"), "-b", "one two three"));
    expect1(d.e, "one");
    assert_before(d.e, "");
    expect1(d.e, "three");
    assert_before(d.e, " two ");
    expect1(d.e, "repl> ");
    assert_before(d.e, "\n");
    send_str(d.p, "noprompt\n");
    /* one answer line is one write: "abc" matches and " def\n" is already read */
    send_str(d.p, "echo abc def\n");
    expect1(d.e, "abc");
    lp_regex *never = re("never");
    int k = lp_expect(d.e, &never, 1, 0);
    cr_assert_eq(k, -ETIMEDOUT, "%s", lp_strerror(k));
    assert_before(d.e, " def\n");
    cr_assert_null(lp_expect_group(d.e, 0, NULL));
    expect1(d.e, "def\\n");
    assert_before(d.e, " ");
    /* several answers in one send */
    send_str(d.p, "echo a\necho b\n");
    expect1(d.e, "a\\n");
    expect1(d.e, "b\\n");
    assert_before(d.e, "");
    lp_regex_free(never);
    send_str(d.p, "quit\n");
    finish(&d, 0);
}

Test(expect, timeout_then_continue)
{
    struct dlg d = start(false, 1, ARGV((char *)helper("lp-repl")));
    expect1(d.e, "repl> ");
    send_str(d.p, "noprompt\n");
    send_str(d.p, "echo x\n");
    expect1(d.e, "x\\n");
    lp_regex *prompt = re("repl> ");
    double t0 = now_s();
    int k = lp_expect(d.e, &prompt, 1, 300); /* prompting is off: it never comes */
    double dt = now_s() - t0;
    cr_assert_eq(k, -ETIMEDOUT, "%s", lp_strerror(k));
    cr_assert(dt >= 0.29 && dt < 10, "timed out after %.3f s, wanted 0.3", dt);
    assert_before(d.e, "");
    send_str(d.p, "prompt\n");
    send_str(d.p, "echo y\n");
    k = lp_expect(d.e, &prompt, 1, HANG_MS);
    cr_assert_eq(k, 0, "%s", lp_strerror(k));
    expect1(d.e, "y\\n");
    lp_regex_free(prompt);
    send_str(d.p, "quit\n");
    finish(&d, 0);
}

static void on_alarm(int sig)
{
    (void)sig;
}

Test(expect, eintr_does_not_extend_the_timeout)
{
    struct dlg d = start(false, 1, ARGV((char *)helper("lp-repl"), "-p", ""));
    struct sigaction sa = {.sa_handler = on_alarm}, old;
    sigaction(SIGALRM, &sa, &old); /* no SA_RESTART: poll returns EINTR every 20 ms */
    struct itimerval it = {{0, 20000}, {0, 20000}}, off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &it, NULL);
    lp_regex *never = re("never");
    double t0 = now_s();
    int k = lp_expect(d.e, &never, 1, 300);
    double dt = now_s() - t0;
    setitimer(ITIMER_REAL, &off, NULL);
    sigaction(SIGALRM, &old, NULL);
    cr_assert_eq(k, -ETIMEDOUT, "%s", lp_strerror(k));
    cr_assert(dt >= 0.29 && dt < 5, "timed out after %.3f s, wanted 0.3", dt);
    lp_regex_free(never);
    send_str(d.p, "quit\n");
    finish(&d, 0);
}

Test(expect, wait_interrupt_fd)
{
    struct dlg d = start(false, 1, ARGV((char *)helper("lp-repl"), "-p", ""));
    int pf[2];
    cr_assert_eq(pipe(pf), 0);
    cr_assert_eq(write(pf[1], "x", 1), 1);
    lp_set_wait_interrupt(pf[0]);
    lp_regex *never = re("never");
    int k = lp_expect(d.e, &never, 1, HANG_MS);
    lp_set_wait_interrupt(-1);
    cr_assert_eq(k, -EINTR, "%s", lp_strerror(k));
    close(pf[0]);
    close(pf[1]);
    lp_regex_free(never);
    send_str(d.p, "quit\n");
    finish(&d, 0);
}

Test(expect, eof_after_quit)
{
    struct dlg d = start(false, 1, ARGV((char *)helper("lp-repl"), "-b", "bye"));
    send_str(d.p, "quit\n");
    lp_regex *never = re("never");
    int k = lp_expect(d.e, &never, 1, HANG_MS);
    cr_assert_eq(k, LP_EEOF, "%s", lp_strerror(k));
    assert_before(d.e, "bye\nrepl> ");
    /* what is left still matches after the end, then the end again */
    expect1(d.e, "bye\\n");
    k = lp_expect(d.e, &never, 1, 0);
    cr_assert_eq(k, LP_EEOF, "%s", lp_strerror(k));
    assert_before(d.e, "repl> ");
    cr_assert_str_eq(lp_strerror(LP_EEOF), "end of output before a pattern matched");
    lp_regex_free(never);
    finish(&d, 0);
}

Test(expect, send_to_exited_child_epipe)
{
    struct dlg d = start(false, 1, ARGV((char *)helper("lp-repl")));
    send_str(d.p, "quit\n");
    int rc = -1;
    cr_assert_eq(lp_proc_wait(d.p, HANG_MS, &rc), 0);
    cr_assert_eq(rc, 0);
    int fd = lp_proc_fd(d.p, 0);
    int fl = fcntl(fd, F_GETFL);
    int r = lp_proc_send(d.p, "echo x\n", 7, HANG_MS);
    cr_assert_eq(r, -EPIPE, "%s", lp_strerror(r)); /* and we are still alive */
    sigset_t pending;
    sigpending(&pending);
    cr_assert_not(sigismember(&pending, SIGPIPE), "a SIGPIPE was left pending");
    cr_assert_eq(fcntl(fd, F_GETFL), fl, "the descriptor's flags were not restored");
    finish(&d, 0);
}

Test(expect, send_times_out_on_a_full_pipe)
{
    /* lp-sleeper never reads stdin: 1 MiB cannot fit a pipe */
    lp_spawn_opts o = {.argv = ARGV((char *)helper("lp-sleeper"), "60"), .in = LP_PIPE};
    lp_proc *p;
    cr_assert_eq(lp_spawn(&p, &o), 0);
    size_t n = (size_t)1 << 20;
    char *big = calloc(1, n);
    double t0 = now_s();
    int r = lp_proc_send(p, big, n, 200);
    double dt = now_s() - t0;
    cr_assert_eq(r, -ETIMEDOUT, "%s", lp_strerror(r));
    cr_assert(dt >= 0.19 && dt < 10, "%.3f s", dt);
    cr_assert_eq(fcntl(lp_proc_fd(p, 0), F_GETFL) & O_NONBLOCK, 0, "left non-blocking");
    free(big);
    lp_proc_free(p);
}

Test(expect, megabytes_before_the_prompt)
{
    size_t size = under_valgrind() ? (size_t)2 << 20 : (size_t)6 << 20;
    struct dlg d = start(false, 1, ARGV((char *)helper("lp-repl")));
    expect1(d.e, "^repl> ");
    char cmd[64];
    snprintf(cmd, sizeof cmd, "spew %zu\n", size);
    send_str(d.p, cmd);
    expect1(d.e, "\\nrepl> ");
    size_t n;
    const char *b = lp_expect_before(d.e, &n);
    cr_assert_eq(n, size);
    for (size_t i = 0; i < n; i++)
        if (b[i] != 'a' + (char)(i % 26))
            cr_assert_fail("byte %zu is '%c'", i, b[i]);
    send_str(d.p, "echo after\n");
    expect1(d.e, "^after\\n");
    send_str(d.p, "quit\n");
    finish(&d, 0);
}

Test(expect, bad_arguments)
{
    lp_spawn_opts o = {.argv = ARGV((char *)helper("lp-repl")), .in = LP_PIPE, .out = LP_PIPE};
    lp_proc *p;
    cr_assert_eq(lp_spawn(&p, &o), 0);
    struct lp_expect *e = (struct lp_expect *)1;
    cr_assert_eq(lp_expect_new(&e, p, 2), -EINVAL); /* stderr not a pipe */
    cr_assert_null(e);
    cr_assert_eq(lp_expect_new(&e, p, 0), -EINVAL); /* stdin pipe is not output */
    cr_assert_eq(lp_expect_new(&e, p, 3), -EINVAL);
    cr_assert_eq(lp_expect_new(&e, p, 1), 0);
    cr_assert_eq(lp_expect(e, NULL, 0, 0), -EINVAL);
    lp_regex *none[] = {NULL};
    cr_assert_eq(lp_expect(e, none, 1, 0), -EINVAL);
    lp_expect_free(e);
    lp_expect_free(NULL);
    lp_proc_close_fd(p, 0);
    cr_assert_eq(lp_proc_send(p, "x", 1, 0), -EINVAL); /* no stdin any more */
    lp_proc_free(p);
}
