/* lp_spawn: stdio plan, environment, cwd, groups, exec failures, descriptor hygiene. */
#include "testutil.h"

#include <pthread.h>
#include <signal.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define ARGV(...) ((char *const[]){__VA_ARGS__, NULL})

/* Descriptors the child lists, minus those at or above our RLIMIT_NOFILE: we cannot own such
 * descriptors, but valgrind keeps its own there and lets them reach untraced children. */
static char *child_fds(lp_spawn_opts *o)
{
    int rc;
    char *s = spawn_capture(o, &rc), *out = calloc(1, strlen(s) + 1), *save = NULL;
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    for (char *t = strtok_r(s, " \n", &save); t; t = strtok_r(NULL, " \n", &save))
        if (strtoul(t, NULL, 10) < rl.rlim_cur)
            sprintf(out + strlen(out), "%s%s", *out ? " " : "", t);
    free(s);
    return out;
}


Test(spawn, exit_code_and_signal)
{
    int rc;
    lp_spawn_opts o = {.argv = ARGV((char *)helper("lp-exit"), "7")};
    lp_proc *p;
    cr_assert_eq(lp_spawn(&p, &o), 0);
    cr_assert_gt(lp_proc_pid(p), 0);
    cr_assert_eq(lp_proc_fd(p, 0), -1);
    cr_assert_eq(lp_proc_fd(p, 1), -1);
    cr_assert_eq(lp_proc_wait(p, -1, &rc), 0);
    cr_assert_eq(rc, 7);
    cr_assert(lp_proc_done(p));
    lp_proc_free(p);

    o.argv = ARGV((char *)helper("lp-exit"), "-s", "9");
    cr_assert_eq(lp_spawn(&p, &o), 0);
    cr_assert_eq(lp_proc_wait(p, -1, &rc), 0);
    cr_assert_eq(rc, -9);
    cr_assert_eq(lp_rc_shell(rc), 137);
    cr_assert_eq(lp_rc_shell(3), 3);
    lp_proc_free(p);
}

static void expect_fail(lp_spawn_opts *o, int err, const char *needle)
{
    lp_proc *p = (lp_proc *)0x1;
    int r = lp_spawn(&p, o);
    cr_assert_eq(r, err, "expected %s, got %d (%s)", lp_strerror(err), r, lp_strerror(r));
    cr_assert_null(p);
    const char *m = lp_proc_errmsg(NULL);
    cr_assert(strstr(m, needle), "errmsg '%s' lacks '%s'", m, needle);
    int z;
    cr_assert_eq(count_children(&z), 0, "a child was left behind");
}

Test(spawn, missing_program_in_path)
{
    lp_spawn_opts o = {.argv = ARGV("lp-no-such-program-xyz")};
    expect_fail(&o, -ENOENT, "exec 'lp-no-such-program-xyz': No such file or directory");
}

Test(spawn, missing_program_absolute)
{
    lp_spawn_opts o = {.argv = ARGV("/nonexistent/frob")};
    expect_fail(&o, -ENOENT, "exec '/nonexistent/frob'");
}

Test(spawn, directory_as_program)
{
    lp_spawn_opts o = {.argv = ARGV("/tmp")};
    expect_fail(&o, -EACCES, "is a directory");
}

Test(spawn, not_executable)
{
    char path[] = "/tmp/lp-noexec-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, "#!/bin/sh\nexit 0\n", 17), 17);
    close(fd);
    chmod(path, 0644);
    lp_spawn_opts o = {.argv = ARGV(path)};
    expect_fail(&o, -EACCES, "Permission denied");
    unlink(path);
}

Test(spawn, no_shebang_is_enoexec)
{
    char path[] = "/tmp/lp-noexec-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, "exit 0\n", 7), 7);
    close(fd);
    chmod(path, 0755);
    lp_spawn_opts o = {.argv = ARGV(path)};
    expect_fail(&o, -ENOEXEC, "Exec format error");
    unlink(path);
}

Test(spawn, bad_cwd)
{
    lp_spawn_opts o = {.argv = ARGV((char *)helper("lp-exit"), "0"), .cwd = "/nonexistent/dir"};
    expect_fail(&o, -ENOENT, "chdir '/nonexistent/dir'");
}

Test(spawn, bad_path_redirect)
{
    lp_spawn_opts o = {.argv = ARGV((char *)helper("lp-exit"), "0"),
                       .out = LP_PATH("/nonexistent/dir/out.txt", O_WRONLY | O_CREAT | O_TRUNC)};
    expect_fail(&o, -ENOENT, "stdout: open '/nonexistent/dir/out.txt'");
}

Test(spawn, bad_fd_redirect)
{
    lp_spawn_opts o = {.argv = ARGV((char *)helper("lp-exit"), "0"), .err = LP_FD(987)};
    expect_fail(&o, -EBADF, "stderr: fd 987");
}

Test(spawn, bad_pass_fd)
{
    int fds[] = {986};
    lp_spawn_opts o = {.argv = ARGV((char *)helper("lp-exit"), "0"), .pass_fds = fds, .n_pass_fds = 1};
    expect_fail(&o, -EBADF, "pass_fds: fd 986");
    int low[] = {1};
    o.pass_fds = low;
    expect_fail(&o, -EINVAL, "pass_fds");
}

Test(spawn, invalid_options)
{
    lp_spawn_opts o = {0};
    expect_fail(&o, -EINVAL, "argv");
    o.argv = ARGV("x");
    o.in = LP_STDOUT;
    expect_fail(&o, -EINVAL, "LP_STDOUT");
}

Test(spawn, child_gets_only_stdio_and_pass_fds)
{
    /* a descriptor without O_CLOEXEC must not reach the child */
    int leak = dup(2);
    cr_assert_geq(leak, 3);
    int keep = open("/dev/null", O_RDONLY); /* no O_CLOEXEC either */
    cr_assert_geq(keep, 3);
    lp_spawn_opts o = {.argv = ARGV((char *)helper("lp-fds"))};
    char *s = child_fds(&o);
    cr_assert_str_eq(s, "0 1 2");
    free(s);

    int pass[] = {keep};
    o.pass_fds = pass;
    o.n_pass_fds = 1;
    s = child_fds(&o);
    char want[64];
    snprintf(want, sizeof want, "0 1 2 %d", keep);
    cr_assert_str_eq(s, want);
    free(s);
    close(leak);
    close(keep);
}

static volatile int stop_leaker;

static void *leaker(void *arg)
{
    (void)arg;
    while (!stop_leaker) {
        int p[2];
        if (pipe(p) == 0) { /* deliberately without O_CLOEXEC */
            close(p[0]);
            close(p[1]);
        }
        sched_yield();
    }
    return NULL;
}

static void *spawner(void *arg)
{
    int *bad = arg;
    for (int i = 0; i < 150; i++) {
        lp_spawn_opts o = {.argv = ARGV((char *)helper("lp-fds"))};
        char *s = child_fds(&o);
        if (strcmp(s, "0 1 2") != 0)
            (*bad)++;
        free(s);
    }
    return NULL;
}

Test(spawn, no_fd_leak_with_concurrent_threads, .timeout = 120)
{
    pthread_t lt, st[3];
    int bad[3] = {0};
    stop_leaker = 0;
    pthread_create(&lt, NULL, leaker, NULL);
    for (int i = 0; i < 3; i++)
        pthread_create(&st[i], NULL, spawner, &bad[i]);
    for (int i = 0; i < 3; i++)
        pthread_join(st[i], NULL);
    stop_leaker = 1;
    pthread_join(lt, NULL);
    cr_assert_eq(bad[0] + bad[1] + bad[2], 0, "children saw foreign descriptors");
}

Test(spawn, env_inherit_set_unset_and_full)
{
    setenv("LP_T_A", "one", 1);
    setenv("LP_T_B", "two", 1);
    int rc;
    lp_spawn_opts o = {.argv = ARGV((char *)helper("lp-envcwd"), "LP_T_A", "LP_T_B", "LP_T_C"),
                       .env_set = ARGV("LP_T_A=uno", "LP_T_B", "LP_T_C=tres=3", "LP_T_C=drei")};
    char *s = spawn_capture(&o, &rc);
    cr_assert(strstr(s, "LP_T_A=uno\nLP_T_B unset\nLP_T_C=drei\n"), "got: %s", s);
    free(s);

    o.env_set = NULL;
    o.env = ARGV("LP_T_C=only");
    s = spawn_capture(&o, &rc);
    cr_assert(strstr(s, "LP_T_A unset\nLP_T_B unset\nLP_T_C=only\n"), "got: %s", s);
    free(s);
}

Test(spawn, path_search_uses_child_path)
{
    char pathvar[4200];
    snprintf(pathvar, sizeof pathvar, "PATH=/nonexistent:%s", helper(""));
    int rc;
    lp_spawn_opts o = {.argv = ARGV("lp-exit", "-p", "found", "5"), .env_set = ARGV(pathvar)};
    char *s = spawn_capture(&o, &rc);
    cr_assert_str_eq(s, "found\n");
    cr_assert_eq(rc, 5);
    free(s);
}

Test(spawn, cwd_umask_groups)
{
    int rc;
    lp_spawn_opts o = {.argv = ARGV((char *)helper("lp-envcwd"), "NONE"), .cwd = "/tmp",
                       .set_umask = true, .umask = 027};
    char *s = spawn_capture(&o, &rc);
    cr_assert(strstr(s, "cwd=/tmp\n"), "got: %s", s);
    cr_assert(strstr(s, "umask=0027\n"), "got: %s", s);
    cr_assert(strstr(s, "pgid_is_pid=0\n"), "got: %s", s);
    cr_assert(strstr(s, "sid_is_pid=0\n"), "got: %s", s);
    free(s);

    o.pgroup = LP_PGROUP_NEW;
    s = spawn_capture(&o, &rc);
    cr_assert(strstr(s, "pgid_is_pid=1\nsid_is_pid=0\n"), "got: %s", s);
    free(s);

    o.pgroup = 0;
    o.new_session = true;
    s = spawn_capture(&o, &rc);
    cr_assert(strstr(s, "pgid_is_pid=1\nsid_is_pid=1\n"), "got: %s", s);
    free(s);
}

Test(spawn, join_existing_group)
{
    lp_spawn_opts lo = {.argv = ARGV((char *)helper("lp-sleeper"), "10"), .pgroup = LP_PGROUP_NEW};
    lp_proc *leader;
    cr_assert_eq(lp_spawn(&leader, &lo), 0);
    lp_spawn_opts o = {.argv = ARGV((char *)helper("lp-sleeper"), "10"), .pgroup = lp_proc_pid(leader)};
    lp_proc *member;
    cr_assert_eq(lp_spawn(&member, &o), 0, "%s", lp_proc_errmsg(NULL));
    cr_assert_eq(getpgid(lp_proc_pid(member)), lp_proc_pid(leader));
    int rc;
    cr_assert_eq(lp_proc_terminate(leader, 1000, &rc), 0); /* TERM reaches the whole group */
    cr_assert_eq(rc, -SIGTERM);
    cr_assert_eq(lp_proc_wait(member, 5000, &rc), 0);
    cr_assert_eq(rc, -SIGTERM);
    lp_proc_free(member);
    lp_proc_free(leader);
}

Test(spawn, stdio_path_devnull_fd_and_merge)
{
    char path[] = "/tmp/lp-out-XXXXXX";
    int tfd = mkstemp(path);
    cr_assert_geq(tfd, 0);
    close(tfd);
    int rc;
    lp_proc *p;
    lp_spawn_opts o = {.argv = ARGV((char *)helper("lp-writer"), "100", "50", "10"),
                       .out = LP_PATH(path, O_WRONLY | O_TRUNC), .err = LP_DEVNULL};
    cr_assert_eq(lp_spawn(&p, &o), 0);
    cr_assert_eq(lp_proc_wait(p, -1, &rc), 0);
    cr_assert_eq(rc, 0);
    lp_proc_free(p);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_size, 100);

    /* stdin from a file, stdout into an existing pipe of ours, stderr merged into stdout */
    int pfd[2];
    cr_assert_eq(pipe2(pfd, O_CLOEXEC), 0);
    lp_spawn_opts e = {.argv = ARGV((char *)helper("lp-echo"), "10"), .in = LP_PATH(path, O_RDONLY),
                       .out = LP_FD(pfd[1]), .err = LP_STDOUT};
    cr_assert_eq(lp_spawn(&p, &e), 0, "%s", lp_proc_errmsg(NULL));
    close(pfd[1]);
    size_t len;
    char *s = read_all(pfd[0], &len);
    cr_assert_eq(len, 200);
    cr_assert_eq(lp_proc_wait(p, -1, &rc), 0);
    cr_assert_eq(rc, 0);
    lp_proc_free(p);
    free(s);
    close(pfd[0]);
    unlink(path);
}

Test(spawn, swapped_low_fds)
{
    /* out = our fd 2 and err = our fd 1: the plan must not clobber one with the other */
    int saved1 = dup(1), saved2 = dup(2);
    int p1[2], p2[2];
    cr_assert_eq(pipe(p1), 0);
    cr_assert_eq(pipe(p2), 0);
    dup2(p1[1], 1);
    dup2(p2[1], 2);
    close(p1[1]);
    close(p2[1]);
    lp_spawn_opts o = {.argv = ARGV((char *)helper("lp-writer"), "3", "5"), .out = LP_FD(2), .err = LP_FD(1)};
    lp_proc *p;
    int r = lp_spawn(&p, &o);
    dup2(saved1, 1);
    dup2(saved2, 2);
    close(saved1);
    close(saved2);
    cr_assert_eq(r, 0);
    int rc;
    lp_proc_wait(p, -1, &rc);
    lp_proc_free(p);
    size_t l1, l2;
    char *s1 = read_all(p1[0], &l1), *s2 = read_all(p2[0], &l2);
    cr_assert_eq(l1, 5); /* stderr of the child went to our fd 1 */
    cr_assert_eq(l2, 3);
    cr_assert_str_eq(s1, "ABCDE");
    cr_assert_str_eq(s2, "abc");
    free(s1);
    free(s2);
    close(p1[0]);
    close(p2[0]);
}

Test(spawn, sigpipe_default_in_child_even_if_parent_ignores)
{
    signal(SIGPIPE, SIG_IGN);
    lp_spawn_opts o = {.argv = ARGV((char *)helper("lp-writer"), "10M", "0"), .out = LP_PIPE};
    lp_proc *p;
    int rc;
    cr_assert_eq(lp_spawn(&p, &o), 0);
    lp_proc_close_fd(p, 1);
    cr_assert_eq(lp_proc_wait(p, -1, &rc), 0);
    cr_assert_eq(rc, -SIGPIPE);
    lp_proc_free(p);

    o.keep_sigpipe = true;
    cr_assert_eq(lp_spawn(&p, &o), 0);
    lp_proc_close_fd(p, 1);
    cr_assert_eq(lp_proc_wait(p, -1, &rc), 0);
    cr_assert_eq(rc, 3); /* EPIPE seen by the writer, which exits 3 */
    lp_proc_free(p);

    /* the handled_signals hint (an empty set: no handlers) still resets an ignored SIGPIPE */
    sigset_t none;
    sigemptyset(&none);
    o.keep_sigpipe = false;
    o.handled_signals = &none;
    cr_assert_eq(lp_spawn(&p, &o), 0);
    lp_proc_close_fd(p, 1);
    cr_assert_eq(lp_proc_wait(p, -1, &rc), 0);
    cr_assert_eq(rc, -SIGPIPE);
    lp_proc_free(p);
}

static void on_usr1(int sig)
{
    (void)sig;
}

Test(spawn, handlers_reset_in_child)
{
    struct sigaction sa = {.sa_handler = on_usr1};
    sigaction(SIGUSR1, &sa, NULL);
    lp_spawn_opts o = {.argv = ARGV((char *)helper("lp-sleeper"), "10")};
    lp_proc *p;
    int rc;
    cr_assert_eq(lp_spawn(&p, &o), 0);
    /* a caught signal does not survive exec anyway; SIGUSR1 at its default kills it */
    cr_assert_eq(lp_proc_kill(p, SIGUSR1), 0);
    cr_assert_eq(lp_proc_wait(p, 5000, &rc), 0);
    cr_assert_eq(rc, -SIGUSR1);
    lp_proc_free(p);
}

Test(spawn, pty)
{
    lp_spawn_opts o = {.argv = ARGV((char *)helper("lp-envcwd"), "NONE"), .pty = true};
    lp_proc *p;
    int r = lp_spawn(&p, &o);
    if (r == -ENOENT || r == -ENXIO || r == -EACCES)
        cr_skip_test("no pseudo-terminal available here: %s", lp_proc_errmsg(NULL));
    cr_assert_eq(r, 0, "%s", lp_proc_errmsg(NULL));
    int m = lp_proc_fd(p, 0);
    cr_assert_geq(m, 0);
    char buf[4096];
    size_t len = 0;
    for (;;) { /* the master reads EIO once the slave side is closed */
        ssize_t n = read(m, buf + len, sizeof buf - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    buf[len] = 0;
    int rc;
    cr_assert_eq(lp_proc_wait(p, -1, &rc), 0);
    cr_assert_eq(rc, 0);
    cr_assert(strstr(buf, "tty=1"), "got: %s", buf);
    cr_assert(strstr(buf, "sid_is_pid=1"), "got: %s", buf);
    lp_proc_free(p);
}

Test(spawn, does_not_reap_foreign_children)
{
    pid_t other = fork();
    if (other == 0) {
        execl(helper("lp-exit"), "lp-exit", "42", (char *)NULL);
        _exit(1);
    }
    lp_spawn_opts o = {.argv = ARGV((char *)helper("lp-exit"), "0")};
    for (int i = 0; i < 20; i++) {
        lp_proc *p;
        cr_assert_eq(lp_spawn(&p, &o), 0);
        cr_assert_eq(lp_proc_wait(p, -1, NULL), 0);
        lp_proc_free(p);
    }
    int st;
    cr_assert_eq(waitpid(other, &st, 0), other);
    cr_assert_eq(WEXITSTATUS(st), 42);
}
