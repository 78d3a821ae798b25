/* lp_run: spawn, feed, capture, wait — with a timeout that really stops everything.
 *
 * Containment decides what "everything" is: the child's new process group (default), a
 * per-run cgroup v2 killed with cgroup.kill, or the group plus every descendant found by
 * walking parent links in /proc.  After the kill we reap the child and do not wait for EOF on
 * pipes a stray descendant may still hold, so lp_run returns on time. */
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ---- cgroup v2 ----------------------------------------------------------------------------- */

/* Path of a new cgroup under our own, created; 0 or -errno. */
static int cgroup_create(char *path, size_t size)
{
    static unsigned seq;
    char line[4096], mnt[2048] = "", self[2048] = "", root[2048] = "/";
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f)
        return -errno;
    while (fgets(line, sizeof line, f)) {
        /* id parent maj:min root mountpoint opts... - fstype source superopts */
        char *dash = strstr(line, " - ");
        if (!dash || strncmp(dash + 3, "cgroup2 ", 8) != 0)
            continue;
        if (sscanf(line, "%*s %*s %*s %2047s %2047s", root, mnt) == 2)
            break;
        mnt[0] = 0;
    }
    fclose(f);
    if (!mnt[0])
        return -ENOENT;
    f = fopen("/proc/self/cgroup", "re");
    if (!f)
        return -errno;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "0::", 3) == 0) {
            snprintf(self, sizeof self, "%.2000s", line + 3);
            self[strcspn(self, "\n")] = 0;
        }
    fclose(f);
    if (!self[0])
        return -ENOENT;
    /* our cgroup is given from the hierarchy's root; the mount may show a subtree of it */
    const char *rel = self;
    size_t rl = strlen(root);
    if (strcmp(root, "/") != 0 && strncmp(self, root, rl) == 0 && (!self[rl] || self[rl] == '/'))
        rel = self + rl;
    unsigned n = __atomic_fetch_add(&seq, 1, __ATOMIC_RELAXED);
    int len = snprintf(path, size, "%s%s/lp-run-%d-%u", mnt, strcmp(rel, "/") ? rel : "",
                       (int)getpid(), n);
    if (len < 0 || (size_t)len >= size)
        return -ENAMETOOLONG;
    if (mkdir(path, 0755) < 0)
        return -errno;
    return 0;
}

static int cgroup_write(const char *dir, const char *file, const char *val)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    int fd = open(p, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int r = write(fd, val, strlen(val)) < 0 ? -errno : 0;
    close(fd);
    return r;
}

/* Kill everything in the cgroup, wait (bounded) until it is empty, remove it. */
static void cgroup_destroy(const char *dir)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/cgroup.events", dir);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (cgroup_write(dir, "cgroup.kill", "1") < 0) { /* kernels before 5.14: kill each pid */
        snprintf(p, sizeof p, "%s/cgroup.procs", dir);
        FILE *f = fopen(p, "re");
        int pid;
        while (f && fscanf(f, "%d", &pid) == 1)
            kill(pid, SIGKILL);
        if (f)
            fclose(f);
    }
    lp_deadline d = lp__deadline(2000);
    while (fd >= 0) {
        char buf[256];
        ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
        if (n <= 0)
            break;
        buf[n] = 0;
        if (strstr(buf, "populated 0"))
            break;
        struct pollfd pf = {.fd = fd, .events = POLLPRI};
        if (lp__remaining_ms(d) == 0)
            break;
        poll(&pf, 1, lp__remaining_ms(d)); /* cgroup.events signals changes with POLLPRI */
    }
    if (fd >= 0)
        close(fd);
    rmdir(dir);
}

/* ---- descendants by parent links ------------------------------------------------------------ */

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

struct tree {
    int *pidfd; /* pidfds of descendants, so a later kill cannot hit a reused pid */
    size_t n;
};

/* Record every descendant of `root` (not root itself) found in /proc by parent links. */
static void tree_collect(pid_t root, struct tree *t)
{
    size_t cap = 1024, n = 0;
    pid_t(*pp)[2] = malloc(cap * sizeof *pp);
    DIR *d = opendir("/proc");
    if (!d || !pp) {
        if (d)
            closedir(d);
        free(pp);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        char path[300], buf[512];
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        ssize_t len = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (len <= 0)
            continue;
        buf[len] = 0;
        char *rp = strrchr(buf, ')');
        int ppid;
        if (!rp || sscanf(rp + 2, "%*c %d", &ppid) != 1)
            continue;
        if (n == cap) {
            pid_t(*np)[2] = realloc(pp, (cap *= 2) * sizeof *pp);
            if (!np)
                break;
            pp = np;
        }
        pp[n][0] = (pid_t)atoi(e->d_name);
        pp[n][1] = (pid_t)ppid;
        n++;
    }
    closedir(d);
    /* breadth-first from root over the parent links */
    pid_t *queue = malloc((n + 1) * sizeof *queue);
    int *fds = realloc(t->pidfd, (t->n + n + 1) * sizeof *fds);
    if (queue && fds) {
        t->pidfd = fds;
        size_t head = 0, tail = 0;
        queue[tail++] = root;
        while (head < tail) {
            pid_t parent = queue[head++];
            for (size_t i = 0; i < n; i++)
                if (pp[i][1] == parent && tail <= n) {
                    queue[tail++] = pp[i][0];
                    int fd = (int)syscall(SYS_pidfd_open, pp[i][0], 0);
                    if (fd >= 0)
                        t->pidfd[t->n++] = fd;
                    else if (errno == ENOSYS) /* no pidfds: kill now, while the link holds */
                        kill(pp[i][0], SIGKILL);
                }
        }
    } else if (fds) {
        t->pidfd = fds;
    }
    free(queue);
    free(pp);
}

static void tree_kill(struct tree *t, int sig)
{
    for (size_t i = 0; i < t->n; i++)
        syscall(SYS_pidfd_send_signal, t->pidfd[i], sig, NULL, 0);
}

static void tree_free(struct tree *t)
{
    for (size_t i = 0; i < t->n; i++)
        close(t->pidfd[i]);
    free(t->pidfd);
    t->pidfd = NULL;
    t->n = 0;
}

/* ---- lp_run ----------------------------------------------------------------------------------- */

void lp_result_free(lp_result *res)
{
    if (!res)
        return;
    lp_buf_free(&res->out);
    lp_buf_free(&res->err);
}

int lp_run(const lp_spawn_opts *o, const lp_run_opts *r, lp_result *res)
{
    static const lp_run_opts defaults;
    if (!r)
        r = &defaults;
    memset(res, 0, sizeof *res);
    if (!o)
        return -EINVAL;

    lp_spawn_opts so = *o;
    if (r->input && so.in.kind == LP_STDIO_INHERIT && !so.pty)
        so.in = LP_PIPE;
    enum lp_contain mode = r->contain;
    if (mode == LP_CONTAIN_SUBREAPER) { /* the tree walk, over a tree kept whole by the child */
        so.child_subreaper = true;
        mode = LP_CONTAIN_TREE;
    }
    if (mode != LP_CONTAIN_NONE && so.pgroup == LP_PGROUP_INHERIT && !so.new_session && !so.pty)
        so.pgroup = LP_PGROUP_NEW;

    char cg[4096] = "";
    if ((mode == LP_CONTAIN_CGROUP || mode == LP_CONTAIN_AUTO) && !so.cgroup) {
        int e = cgroup_create(cg, sizeof cg);
        if (e < 0 && mode == LP_CONTAIN_CGROUP) {
            lp__set_errmsg(lp__tls_errmsg(), "run '%s': cannot create a cgroup: %s",
                           o->argv && o->argv[0] ? o->argv[0] : "?", lp_strerror(e));
            return e;
        }
        if (e < 0) {
            cg[0] = 0;
            mode = LP_CONTAIN_TREE;
        } else {
            so.cgroup = cg;
        }
    }
    /* the cgroup a timeout kills: ours, or one the caller put the child in */
    const char *kill_cg = cg[0] ? cg : (mode == LP_CONTAIN_CGROUP || mode == LP_CONTAIN_AUTO) ? so.cgroup : NULL;

    lp_proc *p;
    int err = lp_spawn(&p, &so);
    if (err < 0) {
        if (cg[0])
            rmdir(cg);
        return err;
    }
    res->pid = p->pid;
    res->attempts = 1;
    lp__enlarge_out_pipes(p);

    struct lp__comm_opts co = {.max_output = r->max_output, .truncated = &res->truncated,
                               .cb = r->on_output, .ctx = r->ctx, .lines = r->lines};
    lp_buf *out = r->on_output ? NULL : &res->out, *errb = r->on_output ? NULL : &res->err;
    lp_deadline d = r->timeout_ms > 0 ? lp__deadline(r->timeout_ms) : -1;
    err = lp__communicate(p, r->input, r->input_len, out, errb, &co, d, NULL);

    if (err == -ETIMEDOUT) {
        res->timed_out = true;
        struct tree tree = {0};
        if (mode == LP_CONTAIN_TREE && !p->reaped) /* before anything exits and re-parents */
            tree_collect(p->pid, &tree);
        if (r->kill_grace_ms > 0) {
            tree_kill(&tree, SIGTERM);
            lp_proc_kill_group(p, SIGTERM);
            /* keep draining while it shuts down, so it is never blocked writing */
            int e2 = lp__communicate(p, NULL, 0, out, errb, &co, lp__deadline(r->kill_grace_ms), NULL);
            if (e2 != -ETIMEDOUT && e2 != 0)
                err = e2;
        }
        /* SIGKILL even if the child ended during the grace period: members of its group (or
         * tree, or cgroup) that ignored SIGTERM must not survive the run */
        if (mode == LP_CONTAIN_TREE && !p->reaped)
            tree_collect(p->pid, &tree); /* descendants started during the grace period */
        tree_kill(&tree, SIGKILL);
        tree_free(&tree);
        if (kill_cg)
            cgroup_write(kill_cg, "cgroup.kill", "1");
        if (mode != LP_CONTAIN_NONE || !p->reaped)
            lp_proc_kill_group(p, SIGKILL);
        lp_proc_wait(p, -1, NULL);
        /* whatever is already in the pipes, without waiting on a holder that escaped */
        lp__communicate(p, NULL, 0, out, errb, &co, lp__deadline(0), NULL);
        if (err == -ETIMEDOUT || err == 0)
            err = -ETIMEDOUT;
    } else if (err != 0) {
        /* an error, or the output callback's stop value: stop the child, report */
        lp_proc_kill_group(p, SIGKILL);
        lp_proc_wait(p, -1, NULL);
        if (p->errmsg[0])
            lp__set_errmsg(lp__tls_errmsg(), "%s", p->errmsg);
    }
    if (cg[0])
        cgroup_destroy(cg);

    lp_proc_wait(p, -1, &res->rc);
    lp_proc_usage(p, &res->usage);
    lp_proc_free(p);
    if (err == 0 && r->check && res->rc != 0)
        err = LP_ECHECK;
    return err;
}
