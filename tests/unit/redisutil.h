/* A redis-server for the tests, started on a free loopback port in a temporary directory
 * (append-only file, fsynced always), stopped and removed at the end; it dies with the test
 * process.  When redis-server cannot be started the test fails (it never skips).  Used by
 * test_queue_redis and test_queue_contract. */
#ifndef LP_REDISUTIL_H
#define LP_REDISUTIL_H

#include "testutil.h"

#include <arpa/inet.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

struct srv {
    pid_t pid;
    int port;
    char dir[64];
    const char *pass;
};

static void nap(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* Send one inline command to the server at port (AUTH first when pass); the reply's text
 * (malloc'ed: a status/error line, or a bulk string's bytes), NULL when it cannot connect. */
static char *rcmd(int port, const char *pass, const char *cmd)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        close(fd);
        return NULL;
    }
    char out[1024];
    int n = pass ? snprintf(out, sizeof out, "AUTH %s\r\n%s\r\n", pass, cmd) : snprintf(out, sizeof out, "%s\r\n", cmd);
    cr_assert_eq(write(fd, out, (size_t)n), n);
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    int want_lines = pass ? 2 : 1;
    long bulk = -1;
    size_t body = 0;
    for (;;) {
        /* complete? */
        int lines = 0;
        size_t i, start = 0;
        for (i = 0; i + 1 < len; i++)
            if (buf[i] == '\r' && buf[i + 1] == '\n') {
                lines++;
                if (lines == want_lines) {
                    i += 2;
                    break;
                }
                start = i + 2;
            }
        if (lines == want_lines) {
            if (buf[start] == '$' && bulk < 0) {
                bulk = strtol(buf + start + 1, NULL, 10);
                body = i;
            }
            if (bulk < 0 || len >= body + (size_t)bulk) {
                char *res;
                if (bulk >= 0)
                    res = strndup(buf + body, (size_t)bulk);
                else
                    res = strndup(buf + start, i - 2 - start);
                free(buf);
                close(fd);
                return res;
            }
        }
        if (len + 4096 > cap)
            buf = realloc(buf, cap *= 2);
        ssize_t r = read(fd, buf + len, cap - len);
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    free(buf);
    close(fd);
    return NULL;
}

/* Whether the server answers (anything but LOADING). */
static bool srv_up(const struct srv *s)
{
    char *r = rcmd(s->port, s->pass, "PING");
    bool up = r && strncmp(r, "-LOADING", 8) != 0;
    free(r);
    return up;
}

static void srv_start(struct srv *s)
{
    if (!s->dir[0]) {
        snprintf(s->dir, sizeof s->dir, "/tmp/lpq-redis-XXXXXX");
        cr_assert(mkdtemp(s->dir));
        s->port = free_port();
    }
    char port[16], log[128];
    snprintf(port, sizeof port, "%d", s->port);
    snprintf(log, sizeof log, "%s/log", s->dir);
    const char *argv[20] = {"redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "",
                            "--appendonly", "yes", "--appendfsync", "always", "--dir", s->dir,
                            "--daemonize", "no", "--logfile", log};
    int argc = 17;
    if (s->pass) {
        argv[argc++] = "--requirepass";
        argv[argc++] = s->pass;
    }
    argv[argc] = NULL;
    pid_t parent = getpid();
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        /* a test that crashes does not leave its server behind */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(126);
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(null, 1);
        execvp(argv[0], (char **)argv);
        _exit(127);
    }
    s->pid = pid;
    double t0 = now_s();
    while (!srv_up(s)) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            s->pid = 0;
            cr_assert_fail("redis-server could not be started (exit status %d): is it installed?",
                           WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        }
        cr_assert_lt(now_s() - t0, 30.0, "redis-server on port %d does not answer", s->port);
        nap(5);
    }
}

static void srv_kill(struct srv *s, int sig)
{
    if (s->pid <= 0)
        return;
    kill(s->pid, sig);
    int st;
    cr_assert_eq(waitpid(s->pid, &st, 0), s->pid);
    s->pid = 0;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb; (void)flag; (void)f;
    remove(path);
    return 0;
}

static void srv_stop(struct srv *s)
{
    srv_kill(s, SIGTERM);
    if (s->dir[0])
        nftw(s->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    s->dir[0] = 0;
}

#endif
